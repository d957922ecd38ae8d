"""agentlab convert: Agent-FLAN (and alpaca, openai, sharegpt) into XTuner conversation JSONL, nothing lost.

The fixtures in tests/fixtures/convert reproduce Agent-FLAN's schema and its quirks (Agent-FLAN/data/*.jsonl as the hub
download lays it out); expected outputs below are written out by hand from the rules in issue 4, turn by turn.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentlab.runtime import protocol
from agentlab.datasets_conv.convert import formats, writer
from agentlab.datasets_conv.convert import run_convert
from agentlab.datasets_conv.convert.formats import RowError, convert_record
from agentlab.errors import AgentlabError
from conftest import FIXTURES, run_cli

CONVERT = FIXTURES / 'convert'
AGENT_FLAN = CONVERT / 'Agent-FLAN'           # the hub layout: the splits are in Agent-FLAN/data/
DATA = AGENT_FLAN / 'data'
WEATHER = {'name': 'get_weather', 'description': 'Current weather of a city.',
           'parameters': {'type': 'object', 'properties': {'city': {'type': 'string', 'description': 'city name'},
                          'unit': {'type': 'string', 'enum': ['c', 'f']}}, 'required': ['city']}}


# --- helpers --------------------------------------------------------------------------------------------------

def P(system: str, input: str, output: str, loss: bool = True) -> dict:
    """One expected XTuner turn pair."""
    return {'system': system, 'input': input, 'output': output, 'output_with_loss': loss}


def read_jsonl(path: Path) -> list:
    # split('\n'), not splitlines(): the latter also breaks at U+0085 and U+2028, which JSON strings may hold raw.
    return [json.loads(line) for line in path.read_text(encoding='utf-8').split('\n') if line]


def conversations(out: Path, split: str = 'train') -> list[list[dict]]:
    return [row['conversation'] for row in read_jsonl(out / f'{split}.jsonl')]


def fixture_rows(folder: Path) -> dict[str, dict]:
    """Every parseable row of the fixture files, by id (a test-side reader, independent of the converter's)."""
    rows = {}
    for path in folder.iterdir():
        if path.name in ('stats.json', 'rejects.jsonl'):
            continue
        raw = gzip.decompress(path.read_bytes()) if path.suffix == '.gz' else path.read_bytes()
        for line in raw.decode('utf-8-sig', 'replace').splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and 'id' in row:
                rows[row['id']] = row
    return rows


def convert_row(fmt: str, row) -> formats.Converted:
    return convert_record(fmt, json.dumps(row, ensure_ascii=False).encode('utf-8'))


def reject_of(fmt: str, row) -> RowError:
    with pytest.raises(RowError) as err:
        convert_row(fmt, row)
    return err.value


def check_invariants(out: Path) -> dict:
    """What stats.json promises, checked against the files themselves. Returns the stats."""
    stats = json.loads((out / 'stats.json').read_text(encoding='utf-8'))
    assert stats['rows_read'] == stats['converted'] + stats['rejected']
    assert sum(stats['rejected_by_reason'].values()) == stats['rejected']
    assert len(read_jsonl(out / 'rejects.jsonl')) == stats['rejected']
    trained = masked = rows = 0
    for name, split in stats['splits'].items():
        convs = conversations(out, name)
        assert len(convs) == split['rows'], name
        t = sum(p['output_with_loss'] for c in convs for p in c)
        m = sum(not p['output_with_loss'] for c in convs for p in c)
        assert (t, m) == (split['turns_trained'], split['turns_masked']), name
        for conv in convs:     # every written row teaches something, and every turn has the four fields
            assert any(p['output_with_loss'] for p in conv)
            assert all(list(p) == ['system', 'input', 'output', 'output_with_loss'] for p in conv)
            assert all(isinstance(p['output_with_loss'], bool) for p in conv)
        trained, masked, rows = trained + t, masked + m, rows + len(convs)
    assert rows == stats['converted']
    assert (trained, masked) == (stats['turns']['trained'], stats['turns']['masked'])
    for key in ('rows_read', 'converted', 'rejected'):
        assert sum(f[key] for f in stats['files']) == stats[key]
        assert sum(s[key] for s in stats['source_splits'].values()) == stats[key]
    assert not list(out.glob('.convert-tmp-*')), 'a temporary folder was left behind'
    return stats


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


# --- the fixtures really have the quirks they claim -----------------------------------------------------------

def test_fixtures_reproduce_agent_flan_quirks():
    react = (DATA / 'agent_instruct_react.jsonl').read_bytes()
    assert react.startswith(b'\xef\xbb\xbf'), 'UTF-8 BOM'
    assert b'\r\n' in react and b'\r\n\r\n' in react and b'\r\n   \t\r\n' in react, 'CRLF, blank lines'
    assert '北京'.encode() in react
    assert gzip.decompress((DATA / 'toolbench_tflan_cot_30p.jsonl.gz').read_bytes()).count(b'\n') == 2
    bad = (DATA / 'toolbench_instruct_j1s1_3k.jsonl').read_bytes()
    with pytest.raises(UnicodeDecodeError):
        bad.decode('utf-8')
    assert (DATA / 'stats.json').exists() and (DATA / 'rejects.jsonl').exists(), 'decoys from an earlier convert'
    # Agent-FLAN's schema: id + conversation of role/content/loss; tool results are user turns.
    rows = fixture_rows(DATA)
    assert all(set(t) <= {'role', 'content', 'loss'} for r in rows.values() if isinstance(r.get('conversation'), list)
               for t in r['conversation'] if isinstance(t, dict))
    assert any(t['content'].startswith('Response:') and t['role'] == 'user' for t in rows['react-0']['conversation'])


# --- Agent-FLAN end to end: every fixture row, turn by turn ----------------------------------------------------

def expected_agent_flan() -> dict[str, list[dict]]:
    """The expected pairs for each convertible fixture row, derived by hand from the issue's rules."""
    rows = fixture_rows(DATA)

    def c(rid: str) -> list[str]:
        return [t['content'] for t in rows[rid]['conversation']]

    r0, r1, r2 = c('react-0'), c('react-1'), c('react-2')
    tf, ok, neg = c('tflan-0'), c('j1s1-ok'), c('neg-0')
    roles, join, mid, edges, between = c('tb-roles'), c('tb-join'), c('tb-midsystem'), c('tb-edges'), \
        c('tb-system-between')
    g0, g1 = c('gz-0'), c('gz-1')
    return {
        # the last turn has no loss key: trained
        'react-0': [P(r0[0], r0[1], r0[2]), P('', r0[3], r0[4])],
        # loss "true" and null: trained (Chinese text kept as is)
        'react-1': [P(r1[0], r1[1], r1[2]), P('', r1[3], r1[4])],
        # loss 0 masks, 1 trains
        'react-2': [P(r2[0], r2[1], r2[2], False), P('', r2[3], r2[4], True)],
        'tflan-0': [P('', tf[0], tf[1]), P('', tf[2], tf[3], False), P('', tf[4], tf[5])],
        'j1s1-ok': [P('', ok[0], ok[1])],
        'neg-0': [P(neg[0], neg[1], neg[2])],
        # tool / function / observation / environment are user-side input
        'tb-roles': [P(roles[0], roles[1], roles[2]), P('', roles[3], roles[4]), P('', roles[5], roles[6]),
                     P('', roles[7], roles[8]), P('', roles[9], roles[10])],
        # consecutive user-side turns joined with "\n"
        'tb-join': [P(join[0], join[1] + '\n' + join[2], join[3]), P('', join[4] + '\n' + join[5], join[6])],
        # a system turn mid-conversation stays with the pair after it
        'tb-midsystem': [P(mid[0], mid[1], mid[2]), P(mid[3], mid[4], mid[5])],
        # leading assistant, trailing user and trailing system dropped; the system after the leading assistant
        # still applies to the first pair
        'tb-edges': [P(edges[1], edges[2], edges[3])],
        # a system turn between two user turns belongs to the pair they form
        'tb-system-between': [P(between[1], between[0] + '\n' + between[2], between[3])],
        'gz-0': [P(g0[0], g0[1], g0[2])],
        'gz-1': [P(g1[0], g1[1], g1[2])],
    }


# Files are read in name order, lines in order; these are the rows that convert.
AGENT_FLAN_ORDER = ['react-0', 'react-1', 'react-2', 'tflan-0', 'j1s1-ok', 'neg-0', 'tb-roles', 'tb-join',
                    'tb-midsystem', 'tb-edges', 'tb-system-between', 'gz-0', 'gz-1']


@pytest.fixture(scope='module')
def agent_flan_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('agent-flan') / 'out'
    run_convert('agent-flan', [str(AGENT_FLAN)], out, quiet=True)
    return out


def test_agent_flan_rows_turn_by_turn(agent_flan_out):
    expected = expected_agent_flan()
    got = conversations(agent_flan_out)
    assert len(got) == len(AGENT_FLAN_ORDER)
    for rid, conv in zip(AGENT_FLAN_ORDER, got):
        want = expected[rid]
        assert len(conv) == len(want), rid
        for i, (g, w) in enumerate(zip(conv, want)):
            assert g == w, f'{rid} pair {i}'


def test_agent_flan_rules_spelled_out(agent_flan_out):
    """The same rules as literal text, so nobody has to trust the index arithmetic above."""
    by_id = dict(zip(AGENT_FLAN_ORDER, conversations(agent_flan_out)))
    assert by_id['tb-join'][0]['input'] == 'Find papers on InternLM2.\nOnly the technical report, please.'
    assert by_id['tb-join'][1]['input'] == ('Response:Title: InternLM2 Technical Report\n\n'
                                            'Response:Published: 2024-03-26\n')
    assert by_id['tb-midsystem'][1]['system'] == 'From now on answer in French.'
    assert by_id['tb-edges'] == [P(by_id['tb-edges'][0]['system'], 'Is it raining in London?',
                                   'Thought: I cannot know without the tool, but I will answer.\n'
                                   'Final Answer: Probably.')]
    assert by_id['tb-edges'][0]['system'].startswith('You are a assistant who can utilize external tools.')
    assert by_id['tb-system-between'] == [P('Be brief.', 'Give me a number.\nBetween 1 and 10.',
                                            'Thought: Easy.\nFinal Answer: 7')]
    assert by_id['react-1'][0]['input'] == '北京今天天气怎么样？'
    assert [p['output_with_loss'] for p in by_id['react-2']] == [False, True]


def test_agent_flan_stats(agent_flan_out):
    stats = check_invariants(agent_flan_out)
    assert (stats['rows_read'], stats['converted'], stats['rejected']) == (28, 13, 15)
    assert stats['rejected_by_reason'] == {
        'invalid_json': 1, 'invalid_loss': 1, 'invalid_utf8': 1, 'missing_field': 1, 'no_trainable_turn': 3,
        'non_string_content': 2, 'not_a_list': 1, 'not_an_object': 3, 'unknown_role': 2}
    assert stats['turns'] == {'trained': 22, 'masked': 2}
    assert stats['dropped_turns'] == {'assistant_before_first_user': 1, 'user_after_last_assistant': 1,
                                      'system_after_last_assistant': 1}
    assert stats['splits'] == {'train': {'rows': 13, 'turns_trained': 22, 'turns_masked': 2}}
    assert stats['blank_lines'] == 3
    assert sorted(stats['source_splits']) == ['agent_instruct_react', 'agent_instruct_tflan',
                                              'toolbench_instruct_j1s1_3k', 'toolbench_negative',
                                              'toolbench_react_10p', 'toolbench_tflan_cot_30p']
    assert stats['source_splits']['toolbench_instruct_j1s1_3k'] == {'rows_read': 13, 'converted': 1, 'rejected': 12}
    assert not (agent_flan_out / 'val.jsonl').exists()


def test_agent_flan_rejects_name_file_line_reason_and_keep_the_row_verbatim(agent_flan_out):
    rejects = read_jsonl(agent_flan_out / 'rejects.jsonl')
    got = [(Path(r['file']).name, r['line'], r['reason'], r['field']) for r in rejects]
    tflan, j1s1 = 'agent_instruct_tflan.jsonl', 'toolbench_instruct_j1s1_3k.jsonl'
    assert got == [
        (tflan, 2, 'no_trainable_turn', 'conversation'),         # every assistant turn masked
        (tflan, 3, 'no_trainable_turn', 'conversation'),         # no assistant turn
        (tflan, 4, 'no_trainable_turn', 'conversation'),         # only an assistant turn before the first user
        (j1s1, 1, 'invalid_json', ''),
        (j1s1, 2, 'missing_field', 'conversation'),
        (j1s1, 3, 'not_a_list', 'conversation'),
        (j1s1, 4, 'non_string_content', 'conversation[0].content'),
        (j1s1, 5, 'non_string_content', 'conversation[1].content'),
        (j1s1, 6, 'unknown_role', 'conversation[2].role'),
        (j1s1, 7, 'not_an_object', ''),
        (j1s1, 8, 'not_an_object', 'conversation[0]'),
        (j1s1, 9, 'invalid_loss', 'conversation[1].loss'),
        (j1s1, 10, 'invalid_utf8', ''),
        (j1s1, 11, 'unknown_role', 'conversation[0].role'),
        (j1s1, 13, 'not_an_object', ''),
    ]
    assert 'critic' in rejects[8]['message']
    # Verbatim: the row text is the file's line exactly (undecodable bytes shown as \xNN).
    lines = {name: (DATA / name).read_bytes().split(b'\n') for name in (tflan, j1s1)}
    for r in rejects:
        raw = lines[Path(r['file']).name][r['line'] - 1]
        assert r['row'] == raw.decode('utf-8', 'backslashreplace'), r
        assert r['split'] == Path(r['file']).name.removesuffix('.jsonl')
    assert r'caf\xe9' in rejects[12]['row']


# --- Agent-FLAN rules, one row at a time ----------------------------------------------------------------------

def _two_turns(loss_first, *, key: str = 'loss') -> dict:
    first = {'role': 'assistant', 'content': 'a1'}
    if key:
        first[key] = loss_first
    return {'id': 'x', 'conversation': [{'role': 'user', 'content': 'q1'}, first,
                                        {'role': 'user', 'content': 'q2'},
                                        {'role': 'assistant', 'content': 'a2', 'loss': True}]}


@pytest.mark.parametrize('value,trained', [
    (True, True), ('true', True), (1, True), ('True', True),
    (False, False), ('false', False), (0, False), ('FALSE', False),
    (None, True),                       # null: trained (Agent-FLAN's maintainers; XTuner's openai_map_fn masks it)
])
def test_loss_values(value, trained):
    pairs = convert_row('agent-flan', _two_turns(value)).pairs
    assert pairs[0]['output_with_loss'] is trained and pairs[1]['output_with_loss'] is True


def test_missing_loss_is_trained():
    assert convert_row('agent-flan', _two_turns(None, key='')).pairs[0]['output_with_loss'] is True


@pytest.mark.parametrize('value', ['maybe', 'yes', '', 2, -1, 1.0, 0.5, [], {}, [True]])
def test_invalid_loss_rejects_the_row(value):
    err = reject_of('agent-flan', _two_turns(value))
    assert (err.reason, err.field) == ('invalid_loss', 'conversation[1].loss')


def test_loss_on_user_turns_is_ignored():
    row = {'conversation': [{'role': 'user', 'content': 'q', 'loss': 'anything'},
                            {'role': 'assistant', 'content': 'a'}]}
    assert convert_row('agent-flan', row).pairs == [P('', 'q', 'a')]


@pytest.mark.parametrize('role', ['tool', 'function', 'observation', 'environment', 'user'])
def test_user_side_roles(role):
    row = {'conversation': [{'role': 'user', 'content': 'q'}, {'role': 'assistant', 'content': 'call'},
                            {'role': role, 'content': 'Response:42\n'}, {'role': 'assistant', 'content': 'done'}]}
    assert convert_row('agent-flan', row).pairs == [P('', 'q', 'call'), P('', 'Response:42\n', 'done')]


@pytest.mark.parametrize('role', ['critic', 'Assistant', 'bot', 'human', '', ['user'], 5, {'role': 'user'}])
def test_any_other_role_rejects_the_row_naming_it(role):
    row = {'conversation': [{'role': 'user', 'content': 'q'}, {'role': role, 'content': 'x'},
                            {'role': 'assistant', 'content': 'a'}]}
    err = reject_of('agent-flan', row)
    assert (err.reason, err.field) == ('unknown_role', 'conversation[1].role')
    assert json.dumps(role, ensure_ascii=False) in err.message


def test_missing_role():
    err = reject_of('agent-flan', {'conversation': [{'content': 'q'}, {'role': 'assistant', 'content': 'a'}]})
    assert (err.reason, err.field) == ('unknown_role', 'conversation[0].role') and 'no "role"' in err.message


def test_user_side_turns_are_joined_with_newline_never_glued():
    row = {'conversation': [{'role': 'user', 'content': 'Find it.'}, {'role': 'tool', 'content': 'Response:A'},
                            {'role': 'observation', 'content': 'Response:B'}, {'role': 'assistant', 'content': 'ok'}]}
    assert convert_row('agent-flan', row).pairs[0]['input'] == 'Find it.\nResponse:A\nResponse:B'


def test_system_turns_apply_to_the_pair_that_follows():
    row = {'conversation': [
        {'role': 'system', 'content': 'S1'}, {'role': 'system', 'content': 'S2'},   # two in a row: joined
        {'role': 'user', 'content': 'q1'}, {'role': 'assistant', 'content': 'a1'},
        {'role': 'user', 'content': 'q2'}, {'role': 'assistant', 'content': 'a2'},
        {'role': 'system', 'content': 'S3'},                                          # mid-conversation: stays
        {'role': 'user', 'content': 'q3'}, {'role': 'assistant', 'content': 'a3'}]}
    assert convert_row('agent-flan', row).pairs == [P('S1\nS2', 'q1', 'a1'), P('', 'q2', 'a2'), P('S3', 'q3', 'a3')]


def test_turns_that_cannot_be_pairs_are_dropped_and_counted():
    row = {'conversation': [
        {'role': 'assistant', 'content': 'hello'}, {'role': 'assistant', 'content': 'anyone?'},
        {'role': 'user', 'content': 'q'}, {'role': 'assistant', 'content': 'a'},
        {'role': 'user', 'content': 'thanks'}, {'role': 'tool', 'content': 'Response:late'},
        {'role': 'system', 'content': 'bye'}]}
    conv = convert_row('agent-flan', row)
    assert conv.pairs == [P('', 'q', 'a')]
    assert dict(conv.dropped) == {'assistant_before_first_user': 2, 'user_after_last_assistant': 2,
                                  'system_after_last_assistant': 1}


def test_assistant_after_assistant_keeps_both_with_an_empty_input():
    row = {'conversation': [{'role': 'user', 'content': 'q'}, {'role': 'assistant', 'content': 'a'},
                            {'role': 'assistant', 'content': 'b', 'loss': False}]}
    assert convert_row('agent-flan', row).pairs == [P('', 'q', 'a'), P('', '', 'b', False)]


@pytest.mark.parametrize('conversation,why', [
    ([], 'no assistant turn'),
    ([{'role': 'system', 'content': 's'}, {'role': 'user', 'content': 'q'}], 'no assistant turn'),
    ([{'role': 'assistant', 'content': 'a'}, {'role': 'user', 'content': 'q'}], 'no assistant turn'),
    ([{'role': 'user', 'content': 'q'}, {'role': 'assistant', 'content': 'a', 'loss': False}], 'loss false'),
])
def test_no_trainable_turn(conversation, why):
    err = reject_of('agent-flan', {'conversation': conversation})
    assert err.reason == 'no_trainable_turn' and why in err.message and 'no trainable turn' in err.message


@pytest.mark.parametrize('row,reason,field', [
    ({'id': 1}, 'missing_field', 'conversation'),
    ({'conversation': 'user: hi'}, 'not_a_list', 'conversation'),
    ({'conversation': None}, 'not_a_list', 'conversation'),
    ({'conversation': [{'role': 'user', 'content': ['q']}]}, 'non_string_content', 'conversation[0].content'),
    ({'conversation': [{'role': 'user', 'content': {'text': 'q'}}]}, 'non_string_content',
     'conversation[0].content'),
    ({'conversation': [{'role': 'user'}]}, 'non_string_content', 'conversation[0].content'),
    ({'conversation': [None]}, 'not_an_object', 'conversation[0]'),
    ([{'role': 'user', 'content': 'q'}], 'not_an_object', ''),
    (3, 'not_an_object', ''),
])
def test_malformed_rows(row, reason, field):
    err = reject_of('agent-flan', row)
    assert (err.reason, err.field) == (reason, field)
    assert '\n' not in str(err)


def test_json_level_rejects():
    for data, reason in [(b'{"conversation": [', 'invalid_json'), (b'{"a": NaN', 'invalid_json'),
                         (b'caf\xe9', 'invalid_utf8'), (b'[' * 100_000, 'invalid_json'),
                         (b'{"conversation": [{"role": "user", "content": "\\ud800"}, '
                          b'{"role": "assistant", "content": "a"}]}', None)]:
        if reason is None:           # a lone surrogate escape parses, but cannot be written as UTF-8
            conv = convert_record('agent-flan', data)
            with pytest.raises(RowError) as err:
                formats.encode_pairs(conv.pairs)
            assert err.value.reason == 'invalid_text'
            continue
        with pytest.raises(RowError) as err:
            convert_record('agent-flan', data)
        assert err.value.reason == reason, data[:40]


def test_stdlib_json_decides_what_orjson_refuses():
    """orjson is stricter than JSON as Python writes it (NaN); such a row still converts."""
    data = b'{"id": "n", "score": NaN, "conversation": [{"role": "user", "content": "q"}, ' \
           b'{"role": "assistant", "content": "a"}]}'
    assert convert_record('agent-flan', data).pairs == [P('', 'q', 'a')]


def test_split_key_is_the_id_or_the_content():
    assert convert_row('agent-flan', {**_two_turns(True), 'id': 'r1'}).key == 'id:r1'
    assert convert_row('agent-flan', {**_two_turns(True), 'id': 7}).key == 'id:7'
    no_id, other = _two_turns(True), _two_turns(False)
    del no_id['id'], other['id']
    key = convert_row('agent-flan', no_id).key
    assert key.startswith('sha1:') and key == convert_row('agent-flan', no_id).key        # same content, same key
    assert key != convert_row('agent-flan', other).key


# --- reading: encodings, line ends, sizes, compression, arrays ------------------------------------------------

def test_very_long_turns_survive_intact(tmp_path):
    long_text = ('长' * 700_000) + ' tail ' + ('x' * 2_500_000)         # ~4.6 MB, several read buffers
    row = {'id': 'long', 'conversation': [{'role': 'user', 'content': long_text},
                                          {'role': 'assistant', 'content': long_text[::-1]}]}
    (tmp_path / 'long.jsonl').write_text(json.dumps(row, ensure_ascii=False) + '\n', encoding='utf-8')
    run_convert('agent-flan', [tmp_path / 'long.jsonl'], tmp_path / 'out', quiet=True)
    assert conversations(tmp_path / 'out') == [[P('', long_text, long_text[::-1])]]


def test_last_line_without_newline_and_bom_with_crlf(tmp_path):
    rows = [{'id': str(i), 'conversation': [{'role': 'user', 'content': f'q{i}'},
                                            {'role': 'assistant', 'content': f'a{i}'}]} for i in range(3)]
    data = b'\xef\xbb\xbf' + b'\r\n'.join(json.dumps(r).encode() for r in rows)          # no final line end
    (tmp_path / 'x.jsonl').write_bytes(data)
    stats = run_convert('agent-flan', [tmp_path / 'x.jsonl'], tmp_path / 'out', quiet=True)
    assert stats['converted'] == 3
    assert conversations(tmp_path / 'out') == [[P('', f'q{i}', f'a{i}')] for i in range(3)]


def test_truncated_gzip_keeps_what_was_readable(tmp_path):
    rows = b''.join(json.dumps({'id': str(i), 'conversation': [
        {'role': 'user', 'content': 'q' * 2000 + str(i)}, {'role': 'assistant', 'content': 'a'}]}).encode() + b'\n'
        for i in range(200))
    packed = gzip.compress(rows)
    (tmp_path / 'cut.jsonl.gz').write_bytes(packed[:len(packed) // 2])
    stats = run_convert('agent-flan', [tmp_path / 'cut.jsonl.gz'], tmp_path / 'out', quiet=True)
    assert stats['rejected_by_reason'] == {'unreadable_file': 1}
    assert 0 < stats['converted'] < 200
    check_invariants(tmp_path / 'out')


def test_json_array_files_stream_with_line_numbers(tmp_path):
    rows = [{'instruction': f'i{i}', 'output': f'o{i}'} for i in range(3)]
    text = '\ufeff[\n' + ',\n'.join(json.dumps(r) for r in rows[:2]) + ',\n  {"instruction": 1, "output": "x"},\n' \
        + json.dumps(rows[2]) + '\n]\n'
    (tmp_path / 'a.json').write_text(text, encoding='utf-8')
    stats = run_convert('alpaca', [tmp_path / 'a.json'], tmp_path / 'out', quiet=True)
    assert (stats['converted'], stats['rejected']) == (3, 1)
    (reject,) = read_jsonl(tmp_path / 'out' / 'rejects.jsonl')
    assert reject['line'] == 4 and reject['row'] == '{"instruction": 1, "output": "x"}'


# --- other formats ----------------------------------------------------------------------------------------------

def test_alpaca_fixtures(tmp_path):
    stats = run_convert('alpaca', [CONVERT / 'alpaca'], tmp_path, quiet=True)
    check_invariants(tmp_path)
    assert (stats['rows_read'], stats['converted'], stats['rejected']) == (9, 5, 4)
    assert conversations(tmp_path) == [
        # recipes.jsonl (read first: name order)
        [P('You are a friendly recipe assistant.', 'How do I make a basic vinaigrette?',
           'Whisk 3 parts olive oil with 1 part vinegar, a pinch of salt and a little mustard.')],
        [P('', 'Scale this recipe\n2 eggs, 100 g flour -> for 3 people (written for 2)', '3 eggs, 150 g flour.')],
        # roleplay.json: a JSON array, Chinese; an empty input adds nothing; history entries become trained pairs
        [P('', '娘娘，御花园的梅花开了，要不要去看看？', '好啊，披上那件素色的斗篷，咱们悄悄去，别惊动了旁人。')],
        [P('现在你要扮演宫中的一位娘娘，说话温婉含蓄。', '你是谁？\n请用一句话回答。', '我是这宫里最会看梅花的人。')],
        [P('', '今天累吗？', '有些累，不过见了梅花便好了。'), P('', '那今晚呢？', '今晚点一盏灯，读一卷书。')],
    ]
    got = [(Path(r['file']).name, r['line'], r['reason'], r['field']) for r in read_jsonl(tmp_path / 'rejects.jsonl')]
    assert got == [('recipes.jsonl', 3, 'invalid_json', ''), ('recipes.jsonl', 4, 'not_an_object', ''),
                   ('roleplay.json', 24, 'missing_field', 'output'),           # the line its element starts on
                   ('roleplay.json', 27, 'non_string_content', 'instruction')]


def test_openai_fixtures_render_the_react_protocol(tmp_path):
    stats = run_convert('openai', [CONVERT / 'openai'], tmp_path, quiet=True)
    check_invariants(tmp_path)
    tools_prompt = protocol.render_system([{'type': 'function', 'function': WEATHER}])
    assert tools_prompt == protocol.render_system([WEATHER])
    action = protocol.render_action
    assert conversations(tmp_path) == [
        # the row's own system message first, then the ReAct prompt with the tool descriptions (ending "Begin!")
        [P('You are a helpful assistant.\n' + tools_prompt, 'Weather in Paris?',
           action('', 'get_weather', {'city': 'Paris', 'unit': 'c'})),
         P('', 'Response:{"temp": 21}\n', 'Thought: \nFinal Answer: It is 21°C in Paris.')],
        # parallel calls become one ReAct step each; replies matched by tool_call_id, not by order
        [P(tools_prompt, 'Compare Oslo and Rome.',
           action('I will check both cities.', 'get_weather', {'city': 'Oslo'})),
         P('', 'Response:{"temp": -2}\n', action('', 'get_weather', {'city': 'Rome'})),
         P('', 'Response:{"temp": 18}\n', 'Thought: \nFinal Answer: Rome is 20 degrees warmer.')],
        # no tools: plain chat; content parts joined; OpenAI's weight 0 masks a turn
        [P('', 'Hello, who are you?', 'An assistant.', False), P('', 'Nice.', 'Thank you!')],
        # text that already follows the protocol is kept as it is
        [P(tools_prompt, 'Hi', 'Thought: A greeting.\nFinal Answer: Hello!')],
    ]
    assert stats['rejected_by_reason'] == {'invalid_tool_call': 1, 'missing_tools': 1, 'unknown_role': 1}
    for conv in conversations(tmp_path):     # every assistant turn speaks the runtime's protocol
        for pair in conv:
            if pair['system'].endswith('Begin!') or pair['output'].startswith('Thought:'):
                assert protocol.parse(pair['output'], 'strict').ok, pair['output']


def test_sharegpt_fixtures_render_the_react_protocol(tmp_path):
    stats = run_convert('sharegpt', [CONVERT / 'sharegpt'], tmp_path, quiet=True)
    check_invariants(tmp_path)
    tools_prompt = protocol.render_system([WEATHER])
    action = protocol.render_action
    assert conversations(tmp_path) == [
        [P('You are a weather bot.\n' + tools_prompt, 'Weather in Paris?',
           action('', 'get_weather', {'city': 'Paris'})),
         P('', 'Response:{"temp": 21}\n', 'Thought: \nFinal Answer: It is 21°C in Paris.')],
        [P(tools_prompt, 'Compare Oslo and Rome.', action('', 'get_weather', {'city': 'Oslo'})),
         P('', 'Response:{"temp": -2}\n', action('', 'get_weather', {'city': 'Rome'})),
         P('', 'Response:{"temp": 18}\n', 'Thought: \nFinal Answer: Rome is 20 degrees warmer.')],
        [P('Answer in one word.', 'What is the capital of France?', 'Paris.'), P('', 'And of Italy?', 'Rome.')],
    ]
    assert stats['rejected_by_reason'] == {'non_string_content': 1, 'unknown_role': 1}
    assert 'bot' in read_jsonl(tmp_path / 'rejects.jsonl')[0]['message']


@pytest.mark.parametrize('fmt,row,reason', [
    ('openai', {'messages': [{'role': 'user', 'content': 'q'}, {'role': 'assistant', 'content': 'a',
                                                                   'weight': 2}]}, 'invalid_loss'),
    ('openai', {'messages': 'hi'}, 'not_a_list'),
    ('openai', {'tools': 'not json', 'messages': []}, 'invalid_tools'),
    ('openai', {'tools': [{'type': 'function', 'function': {'name': 'f', 'parameters': {'required': 5}}}],
                'messages': [{'role': 'user', 'content': 'q'}, {'role': 'assistant', 'content': 'a'}]},
     'invalid_tools'),
    ('openai', {'tools': [WEATHER], 'messages': [{'role': 'user', 'content': 'q'}, {
        'role': 'assistant', 'tool_calls': [{'function': {'arguments': '{}'}}]}]}, 'invalid_tool_call'),
    ('openai', {'tools': [WEATHER], 'messages': [{'role': 'user', 'content': 'q'}, {
        'role': 'assistant', 'tool_calls': [{'function': {'name': 'f', 'arguments': '[1]'}}]}]}, 'invalid_tool_call'),
    ('sharegpt', {'tools': [WEATHER], 'conversations': [{'from': 'human', 'value': 'q'},
                                                        {'from': 'function_call', 'value': 'f(x)'}]},
     'invalid_tool_call'),
    ('sharegpt', {'conversations': [{'from': 'human', 'value': 'q'},
                                    {'from': 'function_call', 'value': '{"name": "f"}'}]}, 'missing_tools'),
    ('sharegpt', {'conversations': [{'value': 'q'}]}, 'unknown_role'),
    ('alpaca', {'output': 'o'}, 'missing_field'),
    ('alpaca', {'instruction': 'i', 'output': 'o', 'history': [['only a question']]}, 'not_a_list'),
    ('alpaca', {'instruction': 'i', 'output': 'o', 'system': 3}, 'non_string_content'),
])
def test_other_format_rejects(fmt, row, reason):
    assert reject_of(fmt, row).reason == reason


def test_openai_tool_reply_without_call_and_legacy_function_call():
    row = {'functions': [WEATHER], 'messages': [
        {'role': 'user', 'content': 'q'},
        {'role': 'assistant', 'content': None, 'function_call': {'name': 'get_weather', 'arguments': '{"city": "X"}'}},
        {'role': 'function', 'name': 'get_weather', 'content': 'sunny'},
        {'role': 'tool', 'content': 'late reply'},
        {'role': 'assistant', 'content': 'Sunny.'}]}
    pairs = convert_row('openai', row).pairs
    assert [p['input'] for p in pairs] == ['q', 'Response:sunny\n\nResponse:late reply\n']
    assert pairs[0]['output'] == protocol.render_action('', 'get_weather', {'city': 'X'})


# --- the output folder: split, determinism, re-runs ------------------------------------------------------------

def test_val_fraction_is_pinned():
    """The split hash must never change silently: it would move users' rows between train and val."""
    assert writer.val_fraction('id:react-0', 0) == 0.15850932460665482
    assert writer.val_fraction('id:react-0', 1) == 0.06725642814327502


def _many_rows(n: int, start: int = 0) -> list[bytes]:
    return [json.dumps({'id': f'r{i}', 'conversation': [{'role': 'user', 'content': f'q{i}'},
                                                        {'role': 'assistant', 'content': f'a{i}'}]}).encode()
            for i in range(start, start + n)]


def _split_of_each(out: Path) -> dict[str, str]:
    result = {}
    for split in ('train', 'val'):
        if (out / f'{split}.jsonl').exists():
            for conv in conversations(out, split):
                result[conv[0]['input']] = split
    return result


def test_split_is_stable_by_id_and_seed(tmp_path):
    rows = _many_rows(2000)
    (tmp_path / 'a.jsonl').write_bytes(b'\n'.join(rows) + b'\n')
    run_convert('agent-flan', [tmp_path / 'a.jsonl'], tmp_path / 'o1', val_ratio=0.1, seed=3, quiet=True)
    first = _split_of_each(tmp_path / 'o1')
    n_val = sum(v == 'val' for v in first.values())
    assert 140 <= n_val <= 260, n_val                      # 10% of 2000, well inside 4 standard deviations
    stats = check_invariants(tmp_path / 'o1')
    assert stats['splits']['val']['rows'] == n_val
    # Other order, other files, extra rows: every row keeps its split.
    (tmp_path / 'b').mkdir()
    (tmp_path / 'b' / 'one.jsonl').write_bytes(b'\n'.join(reversed(rows[:1000])) + b'\n')
    (tmp_path / 'b' / 'two.jsonl').write_bytes(b'\n'.join(rows[1000:] + _many_rows(500, 5000)) + b'\n')
    run_convert('agent-flan', [tmp_path / 'b'], tmp_path / 'o2', val_ratio=0.1, seed=3, quiet=True)
    second = _split_of_each(tmp_path / 'o2')
    assert {k: second[k] for k in first} == first
    # Another seed: another split.
    run_convert('agent-flan', [tmp_path / 'a.jsonl'], tmp_path / 'o3', val_ratio=0.1, seed=4, quiet=True)
    assert _split_of_each(tmp_path / 'o3') != first


def test_rows_without_id_split_by_content_so_duplicates_stay_together(tmp_path):
    rows = [json.dumps({'instruction': f'i{i % 50}', 'output': 'o'}).encode() for i in range(400)]
    (tmp_path / 'a.jsonl').write_bytes(b'\n'.join(rows) + b'\n')
    run_convert('alpaca', [tmp_path / 'a.jsonl'], tmp_path / 'out', val_ratio=0.3, quiet=True)
    val = {c[0]['input'] for c in conversations(tmp_path / 'out', 'val')}
    train = {c[0]['input'] for c in conversations(tmp_path / 'out', 'train')}
    assert val and train and not val & train


def test_same_input_same_bytes(tmp_path):
    run_convert('agent-flan', [AGENT_FLAN], tmp_path / 'a', val_ratio=0.4, seed=1, quiet=True)
    run_convert('agent-flan', [AGENT_FLAN], tmp_path / 'b', val_ratio=0.4, seed=1, quiet=True)
    assert snapshot(tmp_path / 'a') == snapshot(tmp_path / 'b')
    assert (tmp_path / 'a' / 'val.jsonl').stat().st_size > 0


def test_rerun_replaces_the_whole_output_set(tmp_path):
    out = tmp_path / 'out'
    run_convert('agent-flan', [AGENT_FLAN], out, val_ratio=0.4, out_format='hf', quiet=True)
    assert (out / 'val.jsonl').exists() and (out / 'hf').is_dir()
    (out / 'notes.txt').write_text('mine')                        # not ours: never touched
    run_convert('agent-flan', [AGENT_FLAN], out, quiet=True)
    assert not (out / 'val.jsonl').exists() and not (out / 'hf').exists()
    assert (out / 'notes.txt').read_text() == 'mine'
    assert check_invariants(out)['outputs'] == ['train.jsonl', 'rejects.jsonl', 'stats.json']


def test_failure_leaves_the_previous_output_untouched(tmp_path, monkeypatch):
    out = tmp_path / 'out'
    run_convert('agent-flan', [AGENT_FLAN], out, quiet=True)
    before = snapshot(out)
    # --on-error fail on a bad row
    with pytest.raises(AgentlabError):
        run_convert('agent-flan', [AGENT_FLAN], out, val_ratio=0.5, on_error='fail', quiet=True)
    assert snapshot(out) == before and not list(out.glob('.convert-tmp-*'))
    # a crash (or Ctrl-C) in the middle of the input
    calls = {'n': 0}
    real = formats.encode_pairs

    def crash_on_fifth(pairs):
        calls['n'] += 1
        if calls['n'] == 5:
            raise KeyboardInterrupt
        return real(pairs)

    monkeypatch.setattr('agentlab.datasets_conv.convert.encode_pairs', crash_on_fifth)
    with pytest.raises(KeyboardInterrupt):
        run_convert('agent-flan', [AGENT_FLAN], out, val_ratio=0.5, quiet=True)
    assert snapshot(out) == before and not list(out.glob('.convert-tmp-*'))


def test_leftovers_of_a_killed_run_are_cleaned_but_a_live_one_is_not(tmp_path):
    out = tmp_path / 'out'
    dead, live = out / '.convert-tmp-dead', out / '.convert-tmp-live'
    for folder, pid in ((dead, 2 ** 22 + 12345), (live, os.getpid())):     # the first pid cannot exist
        folder.mkdir(parents=True)
        (folder / 'pid').write_text(str(pid))
        (folder / 'train.jsonl').write_text('partial')
    run_convert('agent-flan', [AGENT_FLAN], out, quiet=True)
    assert not dead.exists() and live.exists()


def test_out_folder_cannot_be_a_source_folder(tmp_path):
    shutil.copytree(DATA, tmp_path / 'data')
    with pytest.raises(AgentlabError, match='also a source folder'):
        run_convert('agent-flan', [tmp_path / 'data'], tmp_path / 'data', quiet=True)


@pytest.mark.parametrize('kwargs,message', [
    ({'fmt': 'agentflan'}, 'unknown format'),
    ({'val_ratio': 1.0}, '--val-ratio'),
    ({'val_ratio': -0.1}, '--val-ratio'),
    ({'on_error': 'ignore'}, '--on-error'),
    ({'out_format': 'parquet'}, '--format'),
    ({'splits': ['nope']}, 'split(s) not found: nope'),
    ({'sources': ['/nonexistent/x.jsonl']}, 'source not found'),
])
def test_bad_options_are_one_line_errors(tmp_path, kwargs, message):
    args = {'fmt': 'agent-flan', 'sources': [AGENT_FLAN], 'out': tmp_path / 'out', 'quiet': True, **kwargs}
    with pytest.raises(AgentlabError, match=message.replace('(', r'\(').replace(')', r'\)')) as err:
        run_convert(**args)
    assert '\n' not in str(err.value)


# --- --format hf ---------------------------------------------------------------------------------------------------

def test_hf_folder_holds_the_same_data_as_messages(tmp_path):
    import datasets
    run_convert('agent-flan', [AGENT_FLAN], tmp_path, val_ratio=0.4, seed=2, out_format='hf', quiet=True)
    dd = datasets.load_from_disk(str(tmp_path / 'hf'))
    assert sorted(dd) == ['train', 'val']
    for split in ('train', 'val'):
        convs = conversations(tmp_path, split)
        assert len(dd[split]) == len(convs)
        for conv, row in zip(convs, dd[split]):
            messages = row['messages']
            # explicit booleans everywhere (a null would mask the turn in XTuner's openai_map_fn) ...
            assert all(isinstance(m['loss'], bool) for m in messages)
            # ... one user message per pair (openai_map_fn would glue consecutive ones with nothing between) ...
            assert sum(m['role'] == 'user' for m in messages) == len(conv)
            assert not any(a['role'] == b['role'] == 'user' for a, b in zip(messages, messages[1:]))
            # ... and, read back the way openai_map_fn reads messages, the very same pairs.
            pairs, system = [], ''
            for m in messages:
                if m['role'] == 'system':
                    system = m['content']
                elif m['role'] == 'user':
                    user = m['content']
                else:
                    pairs.append(P(system, user, m['content'], m['loss']))
                    system = ''
            assert pairs == conv


def test_hf_with_no_converted_rows_still_loads(tmp_path):
    import datasets
    (tmp_path / 'in').mkdir()
    (tmp_path / 'in' / 'x.jsonl').write_text('{"conversation": []}\n')
    run_convert('agent-flan', [tmp_path / 'in'], tmp_path / 'out', val_ratio=0.5, out_format='hf', quiet=True)
    dd = datasets.load_from_disk(str(tmp_path / 'out' / 'hf'))
    assert (len(dd['train']), len(dd['val'])) == (0, 0)


_XTUNER_ROUND_TRIP = r'''
import importlib.util, json, os, sys
import datasets
folder = sys.argv[1]
# xtuner's openai_map_fn, loaded from its file: importing the xtuner package would pull torch for nothing.
pkg = importlib.util.find_spec('xtuner').submodule_search_locations[0]
path = os.path.join(pkg, 'dataset', 'map_fns', 'dataset_map_fns', 'openai_map_fn.py')
spec = importlib.util.spec_from_file_location('openai_map_fn', path)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
dd = datasets.load_from_disk(folder)
splits = {name: [mod.openai_map_fn({'messages': list(row['messages'])})['conversation'] for row in dd[name]]
          for name in dd}
# The two pitfalls of the tutorial route, on the raw Agent-FLAN-style turns:
raw = {'messages': [{'role': 'user', 'content': 'Find it.'}, {'role': 'user', 'content': 'Response:A'},
                    {'role': 'assistant', 'content': 'ok', 'loss': None}]}
print('AGENTLAB_RESULT ' + json.dumps({'splits': splits, 'raw': mod.openai_map_fn(raw)['conversation']}))
'''


@pytest.mark.engines
def test_xtuner_openai_map_fn_reads_the_hf_folder_back_exactly(tmp_path):
    """In the train environment (XTuner 0.2.0): the hf folder through XTuner's own openai_map_fn gives exactly the
    pairs of train.jsonl / val.jsonl, while the raw turns hit both pitfalls the README names."""
    from agentlab.engines import envs
    if envs.state(envs.engine('train'), check_imports=False).status != 'ok':
        pytest.skip('the train environment is not built (agentlab setup --engines train)')
    run_convert('agent-flan', [AGENT_FLAN], tmp_path, val_ratio=0.4, seed=2, out_format='hf', quiet=True)
    out = envs.run_in_env('train', ['-c', _XTUNER_ROUND_TRIP, str(tmp_path / 'hf')], log=None, setup=False)
    result = json.loads(next(ln for ln in out.splitlines() if ln.startswith('AGENTLAB_RESULT ')).split(' ', 1)[1])
    assert result['splits'] == {'train': conversations(tmp_path, 'train'), 'val': conversations(tmp_path, 'val')}
    assert result['raw'] == [P('', 'Find it.Response:A', 'ok', False)]          # glued, and null -> masked
    ours = convert_row('agent-flan', {'conversation': [
        {'role': 'user', 'content': 'Find it.'}, {'role': 'user', 'content': 'Response:A'},
        {'role': 'assistant', 'content': 'ok', 'loss': None}]}).pairs
    assert ours == [P('', 'Find it.\nResponse:A', 'ok', True)]


# --- the command line, end to end ----------------------------------------------------------------------------------

def test_cli_end_to_end(tmp_path):
    out = tmp_path / 'xtuner'
    res = run_cli('convert', 'agent-flan', str(AGENT_FLAN), '--out', str(out), '--val-ratio', '0.3', '--seed', '5',
                  '--format', 'hf')
    assert res.returncode == 0, res.stderr
    assert 'converted 13 of 28 rows' in res.stdout and 'rejected 15' in res.stdout
    assert 'dropped turns: 1 assistant_before_first_user' in res.stdout
    stats = check_invariants(out)
    assert stats['outputs'] == ['train.jsonl', 'val.jsonl', 'rejects.jsonl', 'stats.json', 'hf']
    assert (out / 'hf' / 'dataset_dict.json').exists()
    # the same run in-process gives the same bytes
    run_convert('agent-flan', [str(AGENT_FLAN)], tmp_path / 'again', val_ratio=0.3, seed=5, quiet=True)
    for name in ('train.jsonl', 'val.jsonl', 'rejects.jsonl'):
        assert (out / name).read_bytes() == (tmp_path / 'again' / name).read_bytes()


def test_cli_splits_and_files(tmp_path):
    res = run_cli('convert', 'agent-flan', str(DATA), '--out', str(tmp_path / 'a'),
                  '--splits', 'toolbench_negative,agent_instruct_react')
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / 'a' / 'stats.json').read_text())['rows_read'] == 4
    res = run_cli('convert', 'openai', str(CONVERT / 'openai' / 'tools.jsonl'),
                  str(DATA / 'toolbench_negative.jsonl'), '--out', str(tmp_path / 'b'))
    assert res.returncode == 0, res.stderr
    stats = check_invariants(tmp_path / 'b')
    assert (stats['rows_read'], stats['converted']) == (8, 4)       # the Agent-FLAN row is not openai: rejected


def test_cli_on_error_fail_is_one_line_naming_file_line_and_reason(tmp_path):
    out = tmp_path / 'out'
    res = run_cli('convert', 'agent-flan', str(DATA / 'toolbench_instruct_j1s1_3k.jsonl'), '--out', str(out),
                  '--on-error', 'fail')
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith('agentlab: error: ')
    assert 'toolbench_instruct_j1s1_3k.jsonl:1: invalid JSON' in lines[0] and '[invalid_json]' in lines[0]
    assert not out.exists() or not any(out.iterdir())
    bad_role = tmp_path / 'role.jsonl'
    bad_role.write_text('{"conversation": [{"role": "user", "content": "q"}, {"role": "critic", "content": "x"}]}\n'
                        '{"conversation": [}\n')
    res = run_cli('convert', 'agent-flan', str(bad_role), '--out', str(out), '--on-error', 'fail')
    assert res.returncode == 1
    assert f'{bad_role}:1: conversation[1].role: unknown role "critic" [unknown_role]' in res.stderr


@pytest.mark.parametrize('args,message', [
    (['convert', 'yaml', 'x', '--out', 'o'], 'unknown format'),
    (['convert', 'agent-flan', '/nonexistent', '--out', 'o'], 'source not found'),
    (['convert', 'agent-flan', str(DATA), '--out', 'o', '--val-ratio', '2'], '--val-ratio'),
    (['convert', 'agent-flan', str(DATA), '--out', 'o', '--splits', 'nope'], 'split(s) not found'),
])
def test_cli_bad_arguments(tmp_path, args, message):
    res = run_cli(*args, cwd=tmp_path)
    assert res.returncode == 1 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_cli_warns_when_nothing_converts(tmp_path):
    res = run_cli('convert', 'alpaca', str(AGENT_FLAN), '--out', str(tmp_path / 'o'))
    assert res.returncode == 0
    assert 'no row was converted (most rejected as missing_field)' in res.stderr


# --- property: any input at all --------------------------------------------------------------------------------------

_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                   max_size=4), max_leaves=12)


def _mostly(good, bad=_JSON):
    """Usually (14 in 15) a well-formed value, else anything at all: rows must convert often, and break every way."""
    return st.integers(0, 14).flatmap(lambda n: bad if n == 0 else good)


_TEXT = _mostly(st.text(max_size=12))


def _exchanges(system, user_side, assistant):
    """Conversations built the usual way (an optional system turn, user-side turns, an assistant turn, repeated),
    flattened: the shape most rows have, so most generated rows convert."""
    exchange = st.tuples(st.lists(system, max_size=1), st.lists(user_side, min_size=1, max_size=2), assistant)
    return st.lists(exchange, min_size=1, max_size=3).map(lambda ex: [t for s, u, a in ex for t in (*s, *u, a)])


_LOSS = _mostly(st.sampled_from([True, False, 'true', 'false', 0, 1, None]),
                st.sampled_from(['x', 2.5, [], 'TRUE']))
_AF_TURN = st.fixed_dictionaries(
    {'role': _mostly(st.sampled_from(['system', 'user', 'assistant', 'tool', 'function', 'observation',
                                      'environment']), st.sampled_from(['critic', 'human', '']) | _JSON),
     'content': _TEXT}, optional={'loss': _LOSS})
_AF_CONV = _exchanges(
    st.fixed_dictionaries({'role': st.just('system'), 'content': _TEXT}),
    st.fixed_dictionaries({'role': st.sampled_from(['user', 'tool', 'function', 'observation', 'environment']),
                           'content': _TEXT}),
    st.fixed_dictionaries({'role': st.just('assistant'), 'content': _TEXT}, optional={'loss': _LOSS}))
_AF_ROW = st.fixed_dictionaries({'conversation': _mostly(_AF_CONV | st.lists(_AF_TURN, max_size=7))},
                                optional={'id': _mostly(st.text(max_size=6) | st.integers())})
_CALL = st.fixed_dictionaries({'name': _mostly(st.sampled_from(['get_weather', 'f.g'])),
                               'arguments': _mostly(st.dictionaries(st.text(max_size=4), _JSON, max_size=3))})
_OA_TOOL_CALLS = st.lists(st.builds(
    lambda cid, call: {'id': cid, 'type': 'function',
                       'function': {'name': call['name'], 'arguments': json.dumps(call['arguments'])}},
    st.sampled_from(['c0', 'c1']), _CALL), min_size=1, max_size=2)
_OA_ASSISTANT = st.fixed_dictionaries({'role': st.just('assistant'), 'content': _TEXT},
                                      optional={'weight': _mostly(st.sampled_from([0, 1])),
                                                'tool_calls': _mostly(_OA_TOOL_CALLS)})
_OA_USER_SIDE = st.fixed_dictionaries({'role': _mostly(st.sampled_from(['user', 'tool'])), 'content': _TEXT},
                                      optional={'tool_call_id': st.sampled_from(['c0', 'c1'])})
_OA_ROW = st.fixed_dictionaries(
    {'messages': _mostly(_exchanges(st.fixed_dictionaries({'role': st.sampled_from(['system', 'developer']),
                                                           'content': _TEXT}), _OA_USER_SIDE, _OA_ASSISTANT))},
    optional={'tools': _mostly(st.just([{'type': 'function', 'function': WEATHER}]))})
_SG_ROW = st.fixed_dictionaries(
    {'conversations': _mostly(_exchanges(
        st.fixed_dictionaries({'from': st.just('system'), 'value': _TEXT}),
        st.fixed_dictionaries({'from': _mostly(st.sampled_from(['human', 'observation'])), 'value': _TEXT}),
        st.one_of(st.fixed_dictionaries({'from': st.just('gpt'), 'value': _TEXT}),
                  st.fixed_dictionaries({'from': st.just('function_call'),
                                         'value': _mostly(_CALL.map(json.dumps)
                                                          | st.lists(_CALL, max_size=2).map(json.dumps))}))))},
    optional={'tools': _mostly(st.just(json.dumps([WEATHER]))), 'system': _TEXT})
_ALPACA_ROW = st.fixed_dictionaries({'instruction': _TEXT, 'output': _TEXT},
                                    optional={'input': _TEXT, 'system': _TEXT,
                                              'history': _mostly(st.lists(st.lists(_TEXT, min_size=2, max_size=2),
                                                                          max_size=2))})
_LINE = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b'\n', b'')),
    st.text(max_size=40).map(lambda t: t.replace('\n', '').encode('utf-8', 'surrogatepass')),
    _JSON.map(lambda v: json.dumps(v).encode()),
    *[row.map(lambda r: json.dumps(r, ensure_ascii=False).encode('utf-8', 'surrogatepass'))
      for row in (_AF_ROW, _OA_ROW, _SG_ROW, _ALPACA_ROW)])


def _rows_in(data: bytes) -> int:
    """Non-blank lines: the definition of a row (a line that is only whitespace is not one)."""
    lines = data.split(b'\n')
    lines[0] = lines[0].removeprefix(b'\xef\xbb\xbf')
    return sum(1 for ln in lines if ln.strip())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_LINE, max_size=8), crlf=st.booleans(), val_ratio=st.sampled_from([0.0, 0.5]))
def test_any_lines_convert_or_reject_and_nothing_is_lost(tmp_path_factory, lines, crlf, val_ratio):
    data = (b'\r\n' if crlf else b'\n').join(lines)
    folder = tmp_path_factory.mktemp('prop')
    (folder / 'in.jsonl').write_bytes(data)
    for fmt in ('agent-flan', 'alpaca', 'openai', 'sharegpt'):
        out = folder / fmt
        stats = run_convert(fmt, [folder / 'in.jsonl'], out, val_ratio=val_ratio, quiet=True)   # never raises
        assert stats['rows_read'] == _rows_in(data)
        check_invariants(out)


# --- the benchmark itself runs (numbers are measured by `agentlab perf`, not asserted here) ----------------------

def test_convert_benchmark_runs_on_a_small_corpus():
    from agentlab import perf
    from agentlab.perf import convert as perf_convert
    result = perf_convert.convert_throughput(rows=300, repeats=1, with_hf=False)
    d = result.detail
    assert d['converter']['rows'] == d['tutorial']['rows'] == d['raw_parse_dump']['rows'] == 300
    assert d['converter']['converted'] >= 295          # the corpus is valid Agent-FLAN (a few all-masked rows)
    assert all(d[k]['peak_rss_mib'] > 0 and d[k]['rows_per_s'] > 0 for k in ('converter', 'tutorial',
                                                                                'raw_parse_dump'))
    assert 'convert' in perf.BENCHMARKS


def test_benchmark_child_peak_rss_is_its_own_not_the_parents():
    """`agentlab perf` loads a model before it runs the convert benchmark; Linux's rusage maxrss would carry that
    parent's peak into every child. The child's own VmHWM must not see a 600 MiB parent."""
    from agentlab.perf import convert as perf_convert
    ballast = bytearray(600 * 2**20)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    report = perf_convert._measure('import json, time; t = time.perf_counter(); time.sleep(0.01); '
                           'print(json.dumps({"rows": 1, "seconds": time.perf_counter() - t}))')
    assert len(ballast) and 1 < report['peak_rss_mib'] < 200
