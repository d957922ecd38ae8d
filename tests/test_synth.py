"""`agentlab synth`: Agent-FLAN-format rows that parse, validate, convert and stay byte-identical per seed; real tool
outputs; the negative and tflan recipes; users' own tools; the benchmark staying unseen (no shared 8-word run)."""

import hashlib
import json
import re
import sys
from collections import Counter
from importlib.util import find_spec
from pathlib import Path

import pytest

from agentlab.runtime import protocol
from agentlab.datasets_conv.synth import catalog as C
from agentlab.datasets_conv.synth import functions as F
from agentlab.datasets_conv.synth import schemas as SC
from agentlab.datasets_conv import synth as S
from agentlab.datasets_conv.synth import generator as G
from agentlab.errors import AgentlabError
from conftest import run_cli

ROWS = 3000
SPLIT_FILES = ('react.jsonl', 'tflan.jsonl', 'negative.jsonl')
_NAMES = {'en': re.compile(r'should be one of \[(\[.*?\])\]'), 'zh': re.compile(r'必须从 \[(\[.*?\])\] 选择')}


@pytest.fixture(scope='module')
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('synth') / 'data'
    S.run_synth(out, rows=ROWS, seed=0, progress=False)
    return out


def read_rows(folder: Path) -> dict[str, list[dict]]:
    return {name.split('.')[0]: [json.loads(line) for line in (folder / name).read_text('utf-8').splitlines()]
            for name in SPLIT_FILES}


@pytest.fixture(scope='module')
def rows(dataset) -> dict[str, list[dict]]:
    return read_rows(dataset)


@pytest.fixture(scope='module')
def tools() -> dict[str, F.Function]:
    return {f.name: f for f in C.load_tools('builtin,catalog')}


def offered_names(system: str) -> list[str]:
    import ast
    m = _NAMES['en'].search(system) or _NAMES['zh'].search(system)
    assert m, system[-400:]
    return ast.literal_eval(m.group(1))


# --- shape ------------------------------------------------------------------------------------------------------

def test_files_schema_and_split_mix(dataset, rows):
    assert sorted(p.name for p in dataset.iterdir()) == sorted([*SPLIT_FILES, 'stats.json'])
    stats = json.loads((dataset / 'stats.json').read_text('utf-8'))
    assert stats['rows'] == ROWS and stats['duplicates_removed'] >= 0
    assert {k: len(v) for k, v in rows.items()} == stats['splits'] == S.split_counts(ROWS)
    ids = set()
    for split, items in rows.items():
        for row in items:
            assert set(row) == {'id', 'conversation'} and row['id'].startswith(f'synth-0-{split}-')
            ids.add(row['id'])
            turns = row['conversation']
            assert all(set(t) == {'role', 'content', 'loss'} and isinstance(t['loss'], bool) for t in turns)
            assert turns[0]['role'] == 'system' and turns[-1]['role'] == 'assistant'
            assert [t['role'] for t in turns[1:]] == ['user', 'assistant'] * ((len(turns) - 1) // 2)
            assert not any(t['loss'] for t in turns if t['role'] != 'assistant')
    assert len(ids) == ROWS


def test_no_duplicate_conversations(rows):
    keys = [hashlib.sha1(json.dumps(r['conversation']).encode()).hexdigest() for v in rows.values() for r in v]
    assert len(keys) == len(set(keys))


def test_stats_cover_splits_tools_domains_and_argument_types(dataset, tools):
    stats = json.loads((dataset / 'stats.json').read_text('utf-8'))
    assert set(stats['kinds']['negative']) == {'no_tool', 'unavailable', 'twin', 'ask_missing'}
    assert {'single', 'multi', 'chain'} <= set(stats['kinds']['react'])
    assert {'decompose_call', 'continue_single', 'decompose_unavailable'} <= set(stats['kinds']['tflan'])
    assert stats['functions']['available'] == len(tools)
    assert stats['functions']['called'] >= 0.9 * len(tools)
    assert len(stats['domains']) >= 21 and all(d['functions'] >= 8 for d in stats['domains'].values())
    for kind in ('string', 'integer', 'number', 'boolean', 'enum', 'array', 'object', 'array[object]'):
        assert stats['argument_types'].get(kind, 0) > 0, kind
    assert {'tool', 'formula', 'shape'} <= set(stats['observations'])
    assert set(stats['offered_tools']) == {str(n) for n in range(1, 9)}
    assert stats['calls_per_conversation']['2'] > 0


# --- every row teaches the protocol correctly ---------------------------------------------------------------------

def is_masked(row: dict, tools) -> bool:
    """A row whose offered tools were renamed at random (synth.masking): its names are not the catalog's."""
    return not all(n in tools for n in offered_names(row['conversation'][0]['content']))


def test_every_row_parses_strictly_and_every_action_validates(rows, tools):
    calls = 0
    for split, items in rows.items():
        for row in items:
            turns = row['conversation']
            offered = offered_names(turns[0]['content'])
            if is_masked(row, tools):
                continue                      # checked against their renamed descriptions below
            for i, t in enumerate(turns):
                if t['role'] != 'assistant' or protocol.THOUGHT not in t['content']:
                    continue
                parsed = protocol.parse(t['content'], 'strict')
                assert parsed.ok, t['content']
                if parsed.kind == 'call':
                    calls += 1
                    assert parsed.name in offered, (parsed.name, offered)
                    assert tools[parsed.name].validate(parsed.arguments) is None
                    assert protocol.render_action(parsed.thought, parsed.name, parsed.arguments) == t['content']
                    if i + 1 < len(turns):     # a tflan row may end on the step it teaches
                        nxt = turns[i + 1]['content']
                        assert nxt.startswith(protocol.RESPONSE) and nxt.endswith('\n')
            last = protocol.parse(turns[-1]['content'], 'strict')
            assert last.ok and turns[-1]['loss']
    assert calls > ROWS * 0.45          # the masked third of react rows is counted by the masking test


def test_system_prompts_are_the_runtime_rendering(rows, tools):
    """The system prompt is render_system over the offered tools' own descriptions (the runtime's bytes); catalog
    tools may be written in BFCL's type words (dict/float), which render_system accepts as well."""
    for items in rows.values():
        for row in items:
            if is_masked(row, tools):
                continue
            system = row['conversation'][0]['content']
            lang = 'zh' if '你是一个可以调用外部工具的助手' in system else 'en'
            fns = [tools[n] for n in offered_names(system)]
            plain = protocol.render_system([f.display for f in fns], lang)
            dialect = protocol.render_system([SC.bfcl_dialect(f.display) if f.source != 'builtin' else f.display
                                              for f in fns], lang)
            assert system in (plain, dialect)


def test_a_third_of_react_and_negative_rows_have_random_names_and_stay_consistent(dataset, rows, tools):
    """Masked rows: the system prompt is the runtime's rendering of the renamed descriptions, every call names an
    offered (renamed) tool with that tool's renamed parameters (all required ones given), and no catalog name of an
    offered tool is left anywhere in the row."""
    stats = json.loads((dataset / 'stats.json').read_text('utf-8'))
    calls = 0
    for split in ('react', 'tflan', 'negative'):
        masked = [r for r in rows[split] if is_masked(r, tools)]
        assert len(masked) == stats['masked_names'][split]
        if split == 'tflan':
            assert not masked
            continue
        assert 0.25 < len(masked) / len(rows[split]) < 0.42, (split, len(masked), len(rows[split]))
        for row in masked:
            turns = row['conversation']
            start, end, descs = protocol.find_tool_list(turns[0]['content'])
            lang = 'zh' if '你是一个可以调用外部工具的助手' in turns[0]['content'] else 'en'
            assert turns[0]['content'] == protocol.render_system(descs, lang)
            by_name = {d['name']: d for d in descs}
            assert not set(by_name) & set(tools)
            for t in turns[1:]:
                if t['role'] != 'assistant':
                    continue
                parsed = protocol.parse(t['content'], 'strict')
                assert parsed.ok, t['content']
                if parsed.kind == 'call':
                    calls += 1
                    d = by_name[parsed.name]
                    assert set(parsed.arguments) <= {p['name'] for p in d['parameters']}
                    assert set(d['required']) <= set(parsed.arguments)
    assert calls > 300


def test_builtin_tools_are_described_exactly_as_the_runtime_does(tools):
    from agentlab.tools import ToolBox
    box = ToolBox.from_spec('calculator,dates,units')
    ours = [tools[n].display for n in box.names()]
    assert protocol.render_system(ours) == protocol.render_system(box.descriptions())


def test_local_tools_report_their_real_output(rows):
    from agentlab.tools import ToolBox
    box = ToolBox.from_spec('calculator,dates,units,python')
    checked = Counter()
    for items in rows.values():
        for row in items:
            turns = row['conversation']
            for i, t in enumerate(turns):
                parsed = protocol.parse(t['content'], 'strict') if t['role'] == 'assistant' else None
                if parsed and parsed.kind == 'call' and parsed.name in box.functions and checked[parsed.name] < 15 \
                        and i + 1 < len(turns):
                    result = box.call(parsed.name, parsed.arguments)
                    assert turns[i + 1]['content'] == protocol.render_response(result.text)
                    checked[parsed.name] += 1
    assert {'Calculator', 'DateCalculator.days_between', 'UnitConverter', 'PythonInterpreter'} <= set(checked)


def test_react_trains_every_step_and_tflan_masks_context(rows):
    for row in rows['react']:
        assert all(t['loss'] for t in row['conversation'] if t['role'] == 'assistant')
    masked = [row for row in rows['tflan'] if any(t['role'] == 'assistant' and not t['loss']
                                                  for t in row['conversation'])]
    assert len(masked) > len(rows['tflan']) * 0.1
    for row in masked:
        assert row['conversation'][-1]['loss']
    decomposed = [row for row in rows['tflan'] if '\n\n' in row['conversation'][1]['content']]
    assert len(decomposed) > len(rows['tflan']) * 0.4
    answers = Counter(t['content'].split('\n')[0][:12] for row in decomposed for t in row['conversation']
                      if t['role'] == 'assistant')
    assert any(a.startswith('{') for a in answers)          # the JSON arguments asked for on their own


def test_negative_rows_answer_without_actions(rows):
    kinds = Counter()
    for row in rows['negative']:
        turns = row['conversation']
        first = protocol.parse(turns[2]['content'], 'strict')
        assert first.kind == 'finish'
        if len(turns) == 3:
            kinds['direct'] += 1
        else:
            kinds['asked_then_called'] += 1
            assert protocol.parse(turns[4]['content'], 'strict').kind == 'call'
    assert kinds['direct'] > kinds['asked_then_called'] > 0


def test_unavailable_requests_offer_nothing_that_could_serve_them():
    """The tool asked for, tools declared to overlap it, and general tools (a calculator, Python) are never offered
    in a row that answers "no tool can do this"."""
    import random
    engine = G.Synthesizer(C.load_tools('builtin,catalog'))
    rng = random.Random(4)
    seen = 0
    for _ in range(400):
        try:
            sample = engine.unavailable(rng, 'en')
        except G.Retry:
            continue
        seen += 1
        offered = {f.name for f in sample.offered}
        assert sample.asked.name not in offered
        assert not offered & set(sample.asked.overlaps)
        assert not offered & {'Calculator', 'PythonInterpreter'}
        assert not any(sample.asked.name in f.overlaps for f in sample.offered)
    assert seen > 350


def test_twins_repeat_a_positive_request_without_its_tool():
    """Hammer's twins: the request of a one-call react row, offered the same distractors minus the tool it called
    (or one tool of its domain when it had none), answered without a call; about TWIN_SHARE of the negatives."""
    engine = G.Synthesizer(C.load_tools('builtin,catalog'))
    samples, _ = S.generate(engine, 1000, seed=3)
    positives: dict[str, list] = {}      # a request text can recur (with other tools offered)
    for s in samples['react']:
        if s.kind == 'single':
            positives.setdefault(s.turns[1]['content'], []).append(s)
    twins = [s for s in samples['negative'] if s.kind == 'twin']
    assert abs(len(twins) / len(samples['negative']) - G.TWIN_SHARE) < 0.08
    near_domain = 0
    for twin in twins:
        called = twin.asked
        assert protocol.parse(twin.turns[-1]['content'], 'strict').kind == 'finish' and twin.turns[-1]['loss']
        # the very request of a positive row that called the tool the twin takes away
        candidates = [p for p in positives[twin.turns[1]['content']] if p.calls[0].function is called]
        assert candidates
        if twin.masked:
            continue
        offered = {f.name for f in twin.offered}
        assert called.name not in offered and not offered & set(called.overlaps)
        assert not offered & {'Calculator', 'PythonInterpreter'}
        if len(twin.offered) == 1 and twin.offered[0].domain == called.domain and not any(
                offered <= {f.name for f in p.offered} for p in candidates):
            near_domain += 1
        else:
            assert any(offered <= {f.name for f in p.offered} for p in candidates)
    assert near_domain > 0


def test_offered_sets_vary_and_the_target_is_among_distractors(rows):
    sizes = Counter()
    positions = Counter()
    for row in rows['react']:
        names = offered_names(row['conversation'][0]['content'])
        sizes[len(names)] += 1
        called = protocol.parse(row['conversation'][2]['content']).name
        positions[names.index(called) if len(names) > 2 else -1] += 1
    assert sizes[1] > 0 and sizes[4] > 0 and max(sizes) >= 7
    assert positions[0] and positions[1] and positions[2]


def test_lengths_fit_the_embedded_models_training_window(dataset, rows):
    stats = json.loads((dataset / 'stats.json').read_text('utf-8'))
    assert stats['length']['all']['share_under_900_tokens_est'] >= 0.75
    assert stats['length']['all']['max_tokens_est'] <= G.LARGE_SET_MAX_TOKENS
    tokenizer = Path.home() / '.cache' / 'agentlab' / 'models' / 'smollm2-135m' / 'tokenizer.json'
    if tokenizer.is_file():      # the estimate against the real tokenizer, where the model has been pulled
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(str(tokenizer))
        sample = [r for items in rows.values() for r in items[:150]]
        real = sorted(sum(len(tok.encode(t['content']).ids) + G.TURN_OVERHEAD for t in r['conversation'])
                      for r in sample)
        assert real[len(real) * 3 // 4] < 1000
        assert sum(n < 1024 for n in real) / len(real) > 0.85


def test_every_row_converts_without_a_reject(dataset, tmp_path):
    from agentlab.datasets_conv.convert import run_convert
    stats = run_convert('agent-flan', [dataset], tmp_path / 'xtuner', quiet=True)
    assert stats['rows_read'] == ROWS and stats['converted'] == ROWS and stats['rejected'] == 0
    first = json.loads((tmp_path / 'xtuner' / 'train.jsonl').read_text('utf-8').splitlines()[0])
    assert first['conversation'][0]['system'].startswith('You are a assistant') or \
        first['conversation'][0]['system'].startswith('你是')


# --- determinism ---------------------------------------------------------------------------------------------------

def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_different_seed_different_data(tmp_path):
    S.run_synth(tmp_path / 'a', rows=300, seed=5, progress=False)
    S.run_synth(tmp_path / 'b', rows=300, seed=5, progress=False)
    S.run_synth(tmp_path / 'c', rows=300, seed=6, progress=False)
    assert _bytes(tmp_path / 'a') == _bytes(tmp_path / 'b')
    a, c = read_rows(tmp_path / 'a'), read_rows(tmp_path / 'c')
    convs_a = {json.dumps(r['conversation']) for v in a.values() for r in v}
    convs_c = {json.dumps(r['conversation']) for v in c.values() for r in v}
    assert len(convs_a & convs_c) < 10


def test_duplicates_are_removed_and_reported(tmp_path, monkeypatch, capsys):
    """A tool set too small for the rows asked gives fewer rows and a warning, never repeated rows."""
    engine = G.Synthesizer(C.load_tools('builtin'))
    fixed = engine.no_tool(__import__('random').Random(0), 'en')
    for builder in ('react', 'tflan', 'negative'):
        monkeypatch.setattr(G.Synthesizer, builder, lambda self, rng: G.Sample(fixed.split, fixed.kind, fixed.lang,
                                                                            [dict(t) for t in fixed.turns],
                                                                            [], fixed.offered))
    stats = S.run_synth(tmp_path / 'out', rows=50, seed=0, tools='builtin', progress=False)
    assert stats['rows'] == 1 and stats['duplicates_removed'] > 50
    assert 'only 1 unique conversations' in capsys.readouterr().err


# --- languages and users' own tools --------------------------------------------------------------------------------

def test_chinese_and_both(tmp_path):
    zh = S.run_synth(tmp_path / 'zh', rows=150, seed=1, lang='zh', progress=False)
    assert zh['languages'] == {'zh': 150}
    rows = read_rows(tmp_path / 'zh')
    for row in rows['react']:
        assert row['conversation'][0]['content'].startswith('你是一个可以调用外部工具的助手')
        assert re.search(r'[\u4e00-\u9fff]', row['conversation'][1]['content'])
    both = S.run_synth(tmp_path / 'both', rows=200, seed=1, lang='both', progress=False)
    assert set(both['languages']) == {'en', 'zh'} and min(both['languages'].values()) > 50


USER_TOOLS = '''
from lagent.actions import BaseAction, tool_api


class ShippingQuote(BaseAction):
    """Quote parcel shipping."""

    @tool_api(explode_return=True)
    def run(self, weight_kg: float, destination: str, express: bool = False) -> dict:
        """Quote the price of shipping a parcel to a country.

        Args:
            weight_kg (float): parcel weight in kg
            destination (str): destination country
            express (bool): express delivery

        Returns:
            dict: the quote
                * price (float): price in USD
                * days (int): delivery days
        """
        return {'price': 12.5, 'days': 3}


class Library(BaseAction):
    """A small library catalogue."""

    @tool_api
    def find_book(self, title: str, year: int = 2000) -> dict:
        """Find a book by its title.

        Args:
            title (str): words of the title
            year (int): publication year
        """
        return {}

    @tool_api
    def renew_loan(self, loan_id: str, weeks: int) -> dict:
        """Renew a loan for some weeks.

        Args:
            loan_id (str): the loan's id
            weeks (int): how many weeks
        """
        return {}
'''

BFCL_STYLE = [{'name': 'pets.adopt_match', 'description': 'Match an adopter with shelter animals.',
               'parameters': {'type': 'dict', 'properties': {
                   'species': {'type': 'string', 'enum': ['dog', 'cat', 'rabbit'], 'description': 'Species wanted.'},
                   'max_age_years': {'type': 'integer', 'description': 'Oldest acceptable age.'},
                   'weight_kg': {'type': 'float', 'description': 'Preferred weight.'},
                   'traits': {'type': 'array', 'items': {'type': 'string'}, 'description': 'Desired traits.'},
                   'contact': {'type': 'dict', 'description': 'Adopter contact.', 'properties': {
                       'name': {'type': 'string'}, 'email': {'type': 'string'}}}},
                   'required': ['species', 'max_age_years', 'contact']}},
              {'type': 'function', 'function': {'name': 'get_time_in_city', 'description': 'Current time in a city.',
                                                'parameters': {'type': 'object', 'properties': {
                                                    'city': {'type': 'string', 'description': 'the city'}},
                                                    'required': ['city']}}}]


def test_users_own_lagent_actions_and_schema_files(tmp_path, monkeypatch):
    (tmp_path / 'mytools.py').write_text(USER_TOOLS, encoding='utf-8')
    monkeypatch.syspath_prepend(str(tmp_path))
    schema = tmp_path / 'schemas.json'
    schema.write_text(json.dumps(BFCL_STYLE), encoding='utf-8')
    spec = f'mytools:ShippingQuote,mytools:Library,{schema}'
    stats = S.run_synth(tmp_path / 'out', rows=300, seed=2, tools=spec, progress=False)
    names = {'ShippingQuote', 'Library.find_book', 'Library.renew_loan', 'pets.adopt_match', 'get_time_in_city'}
    assert set(stats['functions']['calls']) == names
    tools = {f.name: f for f in C.load_tools(spec)}
    for items in read_rows(tmp_path / 'out').values():
        for row in items:
            if is_masked(row, tools):
                continue
            for t in row['conversation']:
                parsed = protocol.parse(t['content'], 'strict') if t['role'] == 'assistant' else None
                if parsed and parsed.kind == 'call':
                    assert tools[parsed.name].validate(parsed.arguments) is None
                    if parsed.name == 'pets.adopt_match':
                        assert isinstance(parsed.arguments['contact'], dict)
                        assert isinstance(parsed.arguments['max_age_years'], int)
    assert tools['ShippingQuote'].result is not None           # the tool_api's declared returns give the shape


def test_catalog_format_schema_file(tmp_path):
    entry = {'domain': 'bakery', 'functions': [{
        'name': 'bakery.order_cake', 'description': 'Order a cake for pickup.',
        'parameters': {'type': 'object', 'properties': {
            'flavor': {'type': 'string', 'enum': ['chocolate', 'vanilla', 'lemon'], 'description': 'Cake flavor.'},
            'servings': {'type': 'integer', 'description': 'Number of servings.'}}, 'required': ['flavor', 'servings']},
        'values': {'flavor': ['chocolate', 'vanilla', 'lemon'], 'servings': 'int:4..40'},
        'requests': ['Order a {flavor} cake for {servings} people.', 'I need a {flavor} cake that serves {servings}.',
                     'Can you get a {servings}-serving {flavor} cake?'],
        'result': {'order_id': 'id:CAKE-'}, 'answer': 'Your cake order is {order_id}.'}]}
    path = tmp_path / 'bakery.json'
    path.write_text(json.dumps(entry), encoding='utf-8')
    S.run_synth(tmp_path / 'out', rows=60, seed=0, tools=f'builtin,{path}', progress=False)
    text = (tmp_path / 'out' / 'react.jsonl').read_text('utf-8')
    assert 'bakery.order_cake' in text and 'Your cake order is CAKE-' in text


@pytest.mark.parametrize('kwargs,message', [
    ({'tools': 'nonsense'}, 'unknown tool source'),
    ({'tools': 'missing.json'}, 'no such file'),
    ({'tools': 'no_such_module_xyz:Tool'}, 'cannot import tool module'),
    ({'lang': 'fr'}, '--lang must be one of'),
    ({'rows': 0}, '--rows must be at least 1'),
])
def test_bad_input_is_a_one_line_error(tmp_path, kwargs, message):
    with pytest.raises(AgentlabError) as err:
        S.run_synth(tmp_path / 'out', **{'rows': 10, **kwargs}, progress=False)
    assert message in str(err.value) and '\n' not in str(err.value)


def test_cli_synth_with_progress_bar(tmp_path):
    res = run_cli('synth', '--out', str(tmp_path / 'out'), '--rows', '40', '--seed', '3', timeout=300)
    assert res.returncode == 0, res.stderr
    assert 'wrote 40 conversations' in res.stdout
    assert 'synth' in res.stderr and 'row' in res.stderr          # tqdm's bar
    bad = run_cli('synth', '--out', str(tmp_path / 'bad'), '--lang', 'xx', timeout=300)
    assert bad.returncode == 1 and bad.stderr.strip().startswith('agentlab: error: --lang must be one of')


# --- the benchmark stays unseen ----------------------------------------------------------------------------------

def _words(text: str) -> list[str]:
    return re.findall(r'[a-z0-9]+', text.lower())


@pytest.mark.skipif(find_spec('bfcl_eval') is None, reason='bfcl-eval is not installed')
def test_no_request_shares_an_8_word_run_with_a_bfcl_question(rows):
    from agentlab.evals.suites.bfcl_official import data_dir
    grams: set[str] = set()

    def collect(node):
        if isinstance(node, list):
            for x in node:
                collect(x)
        elif isinstance(node, dict) and node.get('role') == 'user' and isinstance(node.get('content'), str):
            w = _words(node['content'])
            grams.update(' '.join(w[i:i + 8]) for i in range(len(w) - 7))

    for path in sorted(data_dir().glob('BFCL_v4_*.json')):
        for line in path.read_text('utf-8').splitlines():
            try:
                case = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(case, dict):
                collect(case.get('question'))
    assert len(grams) > 50_000
    shared = []
    for items in rows.values():
        for row in items:
            for t in row['conversation'][1:]:
                if t['role'] == 'user' and not t['content'].startswith(protocol.RESPONSE):
                    w = _words(t['content'])
                    shared += [' '.join(w[i:i + 8]) for i in range(len(w) - 7) if ' '.join(w[i:i + 8]) in grams]
    assert not shared, shared[:5]


def test_generator_never_reads_the_benchmark():
    """The honesty checks above read BFCL; the engine itself must not (the benchmark stays unseen)."""
    for module in (S, C, sys.modules['agentlab.datasets_conv.synth.values'], sys.modules['agentlab.datasets_conv.synth.phrases'],
                   sys.modules['agentlab.datasets_conv.synth.formula']):
        source = Path(module.__file__).read_text('utf-8')
        assert 'bfcl_eval' not in source and 'bfcl_official' not in source, module.__name__
