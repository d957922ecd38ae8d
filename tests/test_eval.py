"""Evaluation: BFCL suites scored by BFCL's official checker, held-out ReAct tasks, Agent-FLAN next actions, metrics,
resumable runs, the results.json contract, agreement with `bfcl evaluate`, compare reports, and a real run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from agentlab.runtime import protocol
from agentlab.errors import AgentlabError
from agentlab.evals.suites import bfcl_official
from agentlab.evals.suites.bfcl import BFCLSuite, NEUTRAL_OBSERVATION, python_name, tool_description
from agentlab.evals.metrics import mcnemar_exact, mcnemar_p, rate, wilson
from agentlab.evals.runner import read_cases, run_eval
from agentlab.runtime.backends import Generation, ReplayBackend

from conftest import FIXTURES, run_cli


# --- helpers --------------------------------------------------------------------------------------------------

def call_text(name: str, args: dict) -> str:
    return protocol.render_action('I will call the tool.', name, args)


def gold_calls(category: str, case_id: str) -> list[tuple[str, dict]]:
    """The first allowed value of every parameter in BFCL's possible answer ("" = may be omitted: omitted)."""
    _, answers = bfcl_official.load_category(category)
    calls = []
    for gt in answers[case_id]['ground_truth']:
        (name, params), = gt.items()
        args = {}
        for p, values in params.items():
            chosen = next((v for v in values if v != ''), None)
            if chosen is not None:
                args[p] = chosen
        calls.append((name, args))
    return calls


class ScriptBackend:
    """Deterministic: the output depends only on the conversation (its user request and how many turns it has),
    so the result of a run never depends on batching or order; ``fail_after`` simulates a crash."""

    name = 'script'

    def __init__(self, script, fail_after: int | None = None):
        self.script = script            # (user request, turn index) -> output text
        self.fail_after = fail_after
        self.calls = 0
        self.batches: list[int] = []
        self.limits: list = []

    def generate(self, batch, config, limits=None):
        self.batches.append(len(batch))
        self.limits.append(limits)
        out = []
        for messages in batch:
            if self.fail_after is not None and self.calls >= self.fail_after:
                raise KeyboardInterrupt
            self.calls += 1
            user = next(m['content'] for m in messages if m['role'] == 'user')
            turn = sum(1 for m in messages if m['role'] == 'assistant')
            text = self.script(user, turn)
            out.append(Generation(text, 100, len(text.split()), 0.01, 'stop'))
        return out


def bfcl_script(suites, wrong_every: int = 3):
    """Gold calls for the suites' cases, with every `wrong_every`-th case answered with a changed value or prose;
    irrelevance cases alternate between abstaining and calling. ``suites``: BFCLSuite objects or {category: n}."""
    if isinstance(suites, dict):
        items = []
        for cat, n in suites.items():
            suite = BFCLSuite(cat)
            suite._cases = suite.cases()[:n]
            items.append(suite)
        suites = items
    table = {}
    for suite in suites:
        cat = suite.category
        for i, case in enumerate(suite.cases()):
            user = case['question'][0][-1]['content']
            if cat in ('irrelevance', 'live_irrelevance'):
                fn = case['function'][0]
                outs = [call_text(fn['name'], {}) if i % 2 else protocol.render_finish('No tool fits.', 'I cannot.')]
            else:
                calls = gold_calls(cat, case['id'])
                outs = [call_text(n_, a) for n_, a in calls] + [protocol.render_finish('Done.', 'done')]
                if i % wrong_every == wrong_every - 1:
                    name, args = calls[0]
                    bad = dict(args)
                    key = next(iter(bad), None)
                    if key is not None:
                        bad[key] = 'definitely wrong' if not isinstance(bad[key], str) else bad[key] + ' zzz'
                        outs[0] = call_text(name, bad)
                    else:
                        outs[0] = 'I think the answer is 42.'
            table[user] = outs
    return lambda user, turn: table.get(user, ['Sorry.'])[min(turn, len(table.get(user, ['Sorry.'])) - 1)]


def run_cases(suite, case, outputs):
    gen = suite.episode(case)
    prompts = [next(gen)]
    i = 0
    try:
        while True:
            prompts.append(gen.send(Generation(outputs[i], 5, 5, 0.0)))
            i += 1
    except StopIteration as stop:
        return stop.value, prompts


# --- metrics --------------------------------------------------------------------------------------------------

def test_wilson_and_mcnemar_against_known_values():
    lo, hi = wilson(8, 10)      # R: prop.test(8, 10, correct=FALSE)$conf.int
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and round(hi, 4) == 0.2775
    lo, hi = wilson(50, 100)
    assert (round(lo, 4), round(hi, 4)) == (0.4038, 0.5962)
    assert wilson(0, 0) is None and rate(0, 0)['value'] is None
    assert rate(3, 4) == {'value': 0.75, 'k': 3, 'n': 4, 'ci95': [0.300642, 0.954413], 'higher_is_better': True}
    # Exact McNemar: 10 newly broken vs 2 fixed -> 2 * P[Bin(12, .5) <= 2] = 2 * 79 / 4096.
    assert math.isclose(mcnemar_p(10, 2), 158 / 4096)
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(5, 5) == 1.0
    assert math.isclose(mcnemar_p(0, 6), 2 / 64)
    res = mcnemar_exact([True, True, False, False, True], [True, False, True, True, True])
    assert (res['broken'], res['fixed'], res['n_paired']) == (1, 2, 5) and res['p_value'] == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact([True], [True, False])


# --- BFCL suites ------------------------------------------------------------------------------------------------

def _case_with(category: str, types: set[str]) -> dict:
    for case in BFCLSuite(category).cases():
        props = {p['type'] for f in case['function'] for p in f['parameters']['properties'].values()}
        if types <= props:
            return case
    raise AssertionError(f'no {category} case with {types}')


def test_bfcl_functions_become_tools_with_types_mapped_and_dotted_names_whole():
    words = {'integer': 'NUMBER', 'float': 'FLOAT', 'dict': 'OBJECT', 'tuple': 'Array', 'string': 'STRING',
             'boolean': 'BOOLEAN', 'array': 'Array', 'any': 'STRING'}
    seen = set()
    for case in BFCLSuite('simple_python').cases():
        for fn in case['function']:
            desc = tool_description(fn)
            assert desc['name'] == fn['name'] and desc['description'].endswith('Python 3 syntax.')
            assert desc['required'] == fn['parameters'].get('required', [])
            for p in desc['parameters']:
                src = fn['parameters']['properties'][p['name']]
                assert p['type'] == words[src['type']]
                seen.add(src['type'])
                if src['type'] == 'tuple':
                    assert 'tuple' in p['description']
                for key in ('items', 'properties', 'enum', 'default'):
                    assert p.get(key) == src.get(key)
    assert {'integer', 'float', 'dict', 'tuple', 'any', 'array', 'boolean', 'string'} <= seen
    # Dotted names stay whole in the prompt and in what the checker sees.
    suite = BFCLSuite('parallel')
    case = next(c for c in suite.cases() if any('.' in f['name'] for f in c['function']))
    system = suite.episode(case).send(None)[0]['content']
    dotted = next(f['name'] for f in case['function'] if '.' in f['name'])
    assert f"'{dotted}'" in system and protocol.parse(call_text(dotted, {}), 'strict').name == dotted
    assert python_name('math.factorial') and not python_name('get-weather') and not python_name('class')


def test_official_checker_verdicts_for_right_and_wrong_calls():
    suite = BFCLSuite('simple_python')
    case = suite.cases()[0]           # calculate_triangle_area(base=10, height=5, unit optional)
    right, _ = run_cases(suite, case, [call_text('calculate_triangle_area', {'base': 10, 'height': 5})])
    assert right['verdict']['official'] and right['verdict']['tool_name'] and right['steps'] == 1
    assert right['export'] == '[calculate_triangle_area(base=10, height=5)]'
    wrong_value, _ = run_cases(suite, case, [call_text('calculate_triangle_area', {'base': 10, 'height': 6})])
    assert not wrong_value['verdict']['official']
    assert wrong_value['verdict']['checker']['error_type'] == 'value_error:others'
    missing, _ = run_cases(suite, case, [call_text('calculate_triangle_area', {'base': 10})])
    assert missing['verdict']['checker']['error_type'] == 'simple_function_checker:missing_required'
    wrong_type, _ = run_cases(suite, case, [call_text('calculate_triangle_area', {'base': '10', 'height': 5})])
    assert wrong_type['verdict']['checker']['error_type'].startswith('type_error')
    other_fn, _ = run_cases(suite, case, [call_text('triangle_area', {'base': 10, 'height': 5})])
    assert not other_fn['verdict']['official'] and other_fn['verdict']['hallucinated_tool']
    prose, _ = run_cases(suite, case, ['The area is 25 square units.'])
    assert not prose['verdict']['official'] and not prose['verdict']['strict_parse'] and prose['parsed_calls'] == []
    # Tolerant parsing recovers a Python-dict argument; the strict figure does not count it.
    loose, _ = run_cases(suite, case, ["Thought: go\nAction: calculate_triangle_area\nAction Input: {'base': 10, "
                                       "'height': 5}"])
    assert loose['verdict']['official'] and not loose['verdict']['official_strict']
    assert loose['verdict']['tolerant_parse'] and not loose['verdict']['strict_parse']
    # A single-call category stops after the first call.
    two, prompts = run_cases(suite, case, [call_text('calculate_triangle_area', {'base': 10, 'height': 5}),
                                           protocol.render_finish('done', '25')])
    assert two['steps'] == 1 and len(prompts) == 1


def test_tuple_and_float_parameters_are_scored_as_bfcl_scores_python_calls():
    suite = BFCLSuite('simple_python')
    case = _case_with('simple_python', {'tuple'})
    (name, args), = gold_calls('simple_python', case['id'])
    result, _ = run_cases(suite, case, [call_text(name, args)])     # JSON has no tuples: a list arrives
    assert result['verdict']['official'], result['verdict']['checker']
    tuple_param = next(p for p, s in case['function'][0]['parameters']['properties'].items() if s['type'] == 'tuple')
    assert f'{tuple_param}=(' in result['export']                    # exported as a Python tuple
    case = _case_with('simple_python', {'float'})
    (name, args), = gold_calls('simple_python', case['id'])
    float_param = next(p for p, s in case['function'][0]['parameters']['properties'].items()
                       if s['type'] == 'float' and p in args)
    if float(args[float_param]).is_integer():                          # BFCL lets Python pass an int for a float
        args = dict(args, **{float_param: int(args[float_param])})
    result, _ = run_cases(suite, case, [call_text(name, args)])
    assert result['verdict']['official'], result['verdict']['checker']


def test_irrelevance_official_figure_and_strict_abstention():
    suite = BFCLSuite('irrelevance')
    case = suite.cases()[0]
    fn = case['function'][0]['name']
    abstain, _ = run_cases(suite, case, [protocol.render_finish('No tool computes this.', 'I cannot do that.')])
    assert abstain['verdict']['official'] and abstain['verdict']['abstained'] and not abstain['verdict']['unparseable']
    prose, _ = run_cases(suite, case, ['I am not sure what you mean.'])
    # BFCL's semantics: no decodable call counts as correct; strict abstention counts it as unparseable instead.
    assert prose['verdict']['official'] and not prose['verdict']['abstained'] and prose['verdict']['unparseable']
    bad_json, _ = run_cases(suite, case, [f'Thought: x\nAction: {fn}\nAction Input: not json at all ((('])
    assert bad_json['verdict']['official'] and bad_json['verdict']['unparseable'] and bad_json['export'] == ''
    called, _ = run_cases(suite, case, [call_text(fn, {})])
    assert not called['verdict']['official'] and called['verdict']['called'] and not called['verdict']['abstained']
    odd_name, _ = run_cases(suite, case, [call_text('get-weather', {'city': 'Paris'})])
    assert odd_name['verdict']['official'] and odd_name['verdict']['hallucinated_tool']   # BFCL cannot decode it
    m = suite.metrics([abstain, prose, bad_json, called, odd_name])
    assert m['irrelevance_official']['k'] == 4 and m['abstention_strict']['k'] == 1 and m['unparseable']['k'] == 2


def test_multi_call_categories_continue_with_a_neutral_observation():
    suite = BFCLSuite('parallel')
    case = suite.cases()[0]
    calls = gold_calls('parallel', case['id'])
    outs = [call_text(n, a) for n, a in calls] + [protocol.render_finish('All played.', 'done')]
    result, prompts = run_cases(suite, case, outs)
    assert result['verdict']['official'] and result['steps'] == len(calls) + 1
    assert prompts[1][-1] == {'role': 'user', 'content': protocol.render_response(NEUTRAL_OBSERVATION)}
    assert [c['name'] for c in result['parsed_calls']] == [n for n, _ in calls]
    one, _ = run_cases(suite, case, outs[:1] + outs[-1:])
    assert not one['verdict']['official'] and one['verdict']['checker']['error_type'].endswith('wrong_count')
    assert not one['verdict']['tool_name']


# --- the runner: results.json, cases.jsonl, resume ----------------------------------------------------------------

SUITES = 'bfcl:simple_python,bfcl:irrelevance,bfcl:parallel'


def _script():
    return bfcl_script({'simple_python': 6, 'irrelevance': 4, 'parallel': 3})


def test_results_contract(tmp_path):
    backend = ScriptBackend(_script())
    res = run_eval('scripted', SUITES, limit=6, workers=4, out=tmp_path, backend=backend, progress=False,
                   log=lambda _m: None)
    saved = json.loads((tmp_path / 'results.json').read_text())
    assert saved == json.loads(json.dumps(res))
    assert saved['schema'] == 'agentlab.eval/1' and {'versions', 'git', 'model', 'backend'} <= set(saved)
    assert saved['versions']['bfcl-eval'] and 'sha' in saved['git']
    s = saved['suites']['bfcl:simple_python']
    assert s['n'] == 6 and s['n_available'] == 400 and s['limit'] == 6 and s['primary_metric'] == 'ast_accuracy'
    for key in ('strict_parse', 'tolerant_parse', 'tool_name_accuracy', 'hallucinated_tool', 'ast_accuracy'):
        r = s['metrics'][key]
        assert set(r) == {'value', 'k', 'n', 'ci95', 'higher_is_better'} and r['ci95'][0] <= r['value'] <= r['ci95'][1]
        assert r['higher_is_better'] is (key != 'hallucinated_tool')
    assert s['metrics']['ast_accuracy']['k'] == 4          # every third case was answered wrongly
    assert {'max_new_tokens', 'max_steps', 'dtype', 'parse_mode'} <= set(s['settings'])
    assert s['data']['file_sha256'] and s['data']['answers_sha256'] and s['mean_steps'] == 1
    assert s['tokens_per_s'] and s['cases_per_s']
    irr = saved['suites']['bfcl:irrelevance']['metrics']
    assert {'irrelevance_official', 'abstention_strict', 'unparseable'} <= set(irr)
    assert saved['suites']['bfcl:parallel']['settings']['max_steps'] > 1
    rows = read_cases(tmp_path / 'cases.jsonl')
    assert len(rows) == 3 * 6
    for row in rows:
        assert {'suite', 'id', 'raw_output', 'parsed_calls', 'verdict'} <= set(row)
        assert all(set(c) == {'name', 'arguments'} for c in row['parsed_calls'])
    assert max(backend.batches) == 4                          # batched: up to `workers` turns per call


def test_suites_with_different_budgets_share_batches_and_score_as_alone(tmp_path):
    """One scheduler for every suite: a 64-token suite's turns ride in the same backend calls as the 192-token
    multi-turn suite's (each row with its own budget), and every suite scores exactly as when run alone."""
    def suites():
        return [BFCLSuite('simple_python', max_new_tokens=64), BFCLSuite('parallel')]
    together = ScriptBackend(_script())
    both = run_eval('scripted', suites(), limit=3, workers=6, out=tmp_path / 'both', backend=together,
                    progress=False, log=lambda _m: None)
    assert [64, 64, 64] == sorted(together.limits[0])[:3] and max(together.limits[0]) == 192
    assert together.batches[0] == 6 and both['this_run']['batches'] == len(together.batches)
    for suite in suites():
        alone = run_eval('scripted', [suite], limit=3, workers=6, out=tmp_path / suite.category,
                         backend=ScriptBackend(_script()), progress=False, log=lambda _m: None)
        assert alone['suites'][suite.name]['metrics'] == both['suites'][suite.name]['metrics']


def test_resume_after_interrupt_gives_the_same_results(tmp_path):
    whole_backend = ScriptBackend(_script())
    whole = run_eval('scripted', SUITES, limit=6, workers=3, out=tmp_path / 'whole', backend=whole_backend,
                     progress=False, log=lambda _m: None)
    out = tmp_path / 'resumed'
    with pytest.raises(KeyboardInterrupt):
        run_eval('scripted', SUITES, limit=6, workers=3, out=out, backend=ScriptBackend(_script(), fail_after=8),
                 progress=False, log=lambda _m: None)
    partial = read_cases(out / 'cases.jsonl')
    assert 0 < len(partial) < 18
    with open(out / 'cases.jsonl', 'a') as fh:       # a line torn by the crash
        fh.write('{"suite": "bfcl:parallel", "id": "parall')
    second = ScriptBackend(_script())
    resumed = run_eval('scripted', SUITES, limit=6, workers=3, out=out, backend=second, progress=False,
                       log=lambda _m: None)
    rows = read_cases(out / 'cases.jsonl')
    assert len(rows) == 18 and len({(r['suite'], r['id']) for r in rows}) == 18
    assert 0 < second.calls < whole_backend.calls            # finished cases were not generated again
    for name in whole['suites']:
        assert resumed['suites'][name]['metrics'] == whole['suites'][name]['metrics']
        assert resumed['suites'][name]['case_ids_sha256'] == whole['suites'][name]['case_ids_sha256']
    # Nothing left to do: a third run generates nothing and reports the same.
    third = ScriptBackend(_script())
    again = run_eval('scripted', SUITES, limit=6, workers=3, out=out, backend=third, progress=False,
                     log=lambda _m: None)
    assert third.calls == 0 and again['suites']['bfcl:simple_python']['metrics'] == \
        whole['suites']['bfcl:simple_python']['metrics']


def test_resume_refuses_other_settings_or_model(tmp_path):
    run_eval('scripted', 'bfcl:simple_python', limit=2, workers=2, out=tmp_path, backend=ScriptBackend(_script()),
             progress=False, log=lambda _m: None)
    suite = BFCLSuite('simple_python', max_new_tokens=64)
    with pytest.raises(AgentlabError, match='other generation settings'):
        run_eval('scripted', [suite], limit=2, workers=2, out=tmp_path, backend=ScriptBackend(_script()),
                 progress=False, log=lambda _m: None)
    with pytest.raises(AgentlabError, match='holds a run of model'):
        run_eval('another', 'bfcl:simple_python', limit=2, workers=2, out=tmp_path,
                 backend=ScriptBackend(_script()), progress=False, log=lambda _m: None)


def test_resume_refuses_cases_of_other_weights_at_the_same_path(tmp_path):
    """A model retrained in place keeps its path; its eval must not resume the cases the old weights wrote."""
    model = tmp_path / 'merged'
    model.mkdir()
    (model / 'config.json').write_text('{}')
    (model / 'model.safetensors').write_bytes(b'old weights')
    out = tmp_path / 'eval'
    first = run_eval(str(model), 'bfcl:simple_python', limit=2, workers=2, out=out, backend=ScriptBackend(_script()),
                     progress=False, log=lambda _m: None)
    assert json.loads((out / 'run.json').read_text())['model_sha256'] == first['model']['sha256']
    (model / 'model.safetensors').write_bytes(b'new weights')
    with pytest.raises(AgentlabError, match='other weights at .*merged.*the model changed since'):
        run_eval(str(model), 'bfcl:simple_python', limit=2, workers=2, out=out, backend=ScriptBackend(_script()),
                 progress=False, log=lambda _m: None)


@pytest.mark.engines
@pytest.mark.slow
def test_per_case_verdicts_agree_with_bfcl_evaluate(tmp_path):
    """BFCL's own `bfcl evaluate` (bfcl environment, unshimmed) scores the exported calls like agentlab does."""
    from agentlab.evals.suites.bfcl_agreement import check_agreement
    suites = []
    for cat in ('simple_python', 'multiple', 'parallel', 'parallel_multiple', 'irrelevance', 'live_simple'):
        suite = BFCLSuite(cat)
        suite._cases = suite.cases()[:8]
        suites.append(suite)
    tuple_case = _case_with('simple_python', {'tuple'})
    if tuple_case not in suites[0]._cases:
        suites[0]._cases.insert(0, tuple_case)
    run_eval('scripted', suites, workers=8, out=tmp_path, backend=ScriptBackend(bfcl_script(suites)),
             progress=False, log=lambda _m: None)
    report = check_agreement(tmp_path)
    for name, entry in report['suites'].items():
        assert entry['agree'], (name, entry['disagreements'])
        assert entry['bfcl_total'] == entry['n'] == len(next(s for s in suites if s.name == name).cases())
    right = sum(e['agentlab_correct'] for e in report['suites'].values())
    total = sum(e['n'] for e in report['suites'].values())
    assert 0 < right < total                 # both right and wrong verdicts were compared
    assert report['agree'] and json.loads((tmp_path / 'results.json').read_text())['suites'][
        'bfcl:simple_python']['bfcl_evaluate']['agree']
    tuple_row = next(r for r in read_cases(tmp_path / 'cases.jsonl') if r['id'] == tuple_case['id'])
    assert tuple_row['verdict']['official'] and '=(' in tuple_row['export']


# --- react:builtin ----------------------------------------------------------------------------------------------

def test_react_task_file_meets_the_bar_and_is_held_out():
    from agentlab.evals.suites import react as react_tasks
    tasks = react_tasks.load_tasks()
    assert len(tasks) >= 100 and len({t['id'] for t in tasks}) == len(tasks)
    from agentlab.evals.suites.react.data import KB_DIR, TOOLS
    for tool in TOOLS:
        assert sum(tool in t['tools'] for t in tasks) >= 15, tool
    assert sum(t['multi_step'] for t in tasks) >= 0.2 * len(tasks)
    # The suite never reads the data engine: its code imports nothing of datasets_conv.
    for path in Path(react_tasks.__file__).parent.glob('*.py'):
        code = path.read_text().split('"""', 2)[2] if path.read_text().startswith('"""') else path.read_text()
        assert 'datasets_conv' not in code.replace('`datasets_conv/synth`', ''), path
    # Held-out resources, not the default knowledge folder the data engine may draw from.
    assert KB_DIR.name == 'react_kb' and not any('Aurora' in t['question'] for t in tasks)


def test_react_expected_answers_are_what_the_real_tools_return():
    from agentlab.evals.suites import react as react_tasks
    stored = {t['id']: t for t in react_tasks.load_tasks()}
    rebuilt = {t['id']: t for t in react_tasks.build_tasks()}
    assert stored.keys() == rebuilt.keys()
    for tid, task in stored.items():
        assert rebuilt[tid]['expected'] == task['expected'], tid
        assert [c['observation'] for c in rebuilt[tid]['plan']] == [c['observation'] for c in task['plan']], tid


def test_answer_matching_rules():
    from agentlab.evals.suites.react import answer_matches
    assert answer_matches('It is 391.', 391, 'number') and not answer_matches('It is 390.', 391, 'number')
    assert answer_matches('About 6.21 miles', 6.213712, 'number')
    assert answer_matches('6.213712 mi', 6.213712, 'number') and not answer_matches('6.3', 6.213712, 'number')
    assert answer_matches('8 km', 8.04672, 'number') and not answer_matches('3', 3.14159, 'number')
    assert answer_matches('The total is 56,700 euros', 56700, 'number')
    assert answer_matches('It was published on March 26, 2024.', '2024-03-26', 'date')
    assert answer_matches('2024-03-26', '2024-03-26', 'date') and not answer_matches('2024-03-27', '2024-03-26', 'date')
    assert answer_matches('the first author is ashish vaswani', 'Ashish Vaswani', 'text')
    assert not answer_matches(None, 1, 'number')


def test_react_episode_is_the_runtime_agent_and_scores_success(tmp_path):
    from agentlab.runtime.agent import Agent
    from agentlab.evals.suites.react import ReactSuite, make_toolbox
    suite = ReactSuite()
    task = next(t for t in suite.cases() if t['id'] == 'multi-01')
    outs = [call_text(c['name'], c['arguments']) for c in task['plan']]
    outs.append(protocol.render_finish('Done.', f'There are {task["expected"]} hours.'))
    result, prompts = run_cases(suite, task, outs)
    v = result['verdict']
    assert v['task_success'] and v['exec_success'] and v['tool_name'] and not v['hallucinated_tool']
    assert result['steps'] == 3
    # The same outputs through agentlab's runtime agent send byte-identical conversations.
    replay = ReplayBackend(outs, cycle=False)
    agent = Agent(replay, make_toolbox(), max_turns=suite.max_steps, generation=suite.generation())
    trace = agent.run(task['question'])
    assert trace.final_answer == result['verdict']['final_answer']
    assert replay.prompts == prompts
    # Prose never finishes; a wrong number is not a success; an unknown tool is a hallucination.
    prose, _ = run_cases(suite, task, ['I think it is many hours.'] * suite.max_steps)
    assert not prose['verdict']['task_success'] and not prose['verdict']['finished']
    assert prose['steps'] == suite.max_steps and not prose['verdict']['exec_success']
    wrong, _ = run_cases(suite, task, [call_text('HourCounter', {'a': 1}), protocol.render_finish('x', '1441')])
    assert not wrong['verdict']['task_success'] and wrong['verdict']['hallucinated_tool']


def test_react_suite_through_the_runner_with_real_tools(tmp_path):
    from agentlab.evals.suites.react import load_tasks
    tasks = load_tasks()[:7]                       # round-robin order: every tool, and a multi-step task
    table = {}
    for i, t in enumerate(tasks):
        outs = [call_text(c['name'], c['arguments']) for c in t['plan']]
        answer = str(t['expected']) if i != 3 else 'no idea'
        table[t['question']] = outs + [protocol.render_finish('Done.', f'The answer is {answer}.')]
    script = lambda user, turn: table[user][min(turn, len(table[user]) - 1)]
    res = run_eval('scripted', 'react:builtin', limit=7, workers=4, out=tmp_path, backend=ScriptBackend(script),
                   progress=False, log=lambda _m: None)
    m = res['suites']['react:builtin']['metrics']
    assert m['task_success']['k'] == 6 and m['exec_success']['k'] == 7 and m['tool_name_accuracy']['k'] == 7
    assert m['hallucinated_tool']['k'] == 0 and m['strict_parse']['k'] == 7 and m['task_success_multi_step']['n'] == 1
    rows = {r['id']: r for r in read_cases(tmp_path / 'cases.jsonl')}
    arxiv = next(r for r in rows.values() if 'arxiv' in r['tools'])
    assert 'Published:' in arxiv['steps_detail'][0]['observation']      # the real client read the local stand-in


# --- agentflan:FILE ---------------------------------------------------------------------------------------------

def _xtuner_rows() -> list[dict]:
    """tests/fixtures/agent_flan_react.jsonl folded into XTuner pairs (system+user -> assistant)."""
    rows = []
    for line in (FIXTURES / 'agent_flan_react.jsonl').read_text().splitlines():
        conv = json.loads(line)['conversation']
        pairs, system, user = [], [], []
        for m in conv:
            if m['role'] == 'system':
                system.append(m['content'])
            elif m['role'] == 'user':
                user.append(m['content'])
            else:
                pairs.append({'system': '\n'.join(system), 'input': '\n'.join(user), 'output': m['content'],
                              'output_with_loss': m.get('loss') is not False})
                system, user = [], []
        rows.append({'conversation': pairs})
    return rows


def test_agentflan_next_action_accuracy(tmp_path):
    from agentlab.evals.suites.agentflan import AgentFlanSuite
    path = tmp_path / 'val.jsonl'
    path.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in _xtuner_rows()))
    suite = AgentFlanSuite(str(path))
    cases = suite.cases()
    assert len(cases) == 6 and cases[0]['id'] == '1:0' and cases[0]['offered'] == [
        'get_weather', 'ArxivSearch.get_arxiv_article_information']
    first, second = cases[0], cases[1]
    assert first['messages'][0]['role'] == 'system' and first['messages'][-1]['role'] == 'user'
    assert second['messages'][-1]['content'].startswith('Response:')
    ref = protocol.parse(first['reference'], 'strict')
    right, _ = run_cases(suite, first, [call_text(ref.name, {k: (float(v) if isinstance(v, int) else v)
                                                             for k, v in ref.arguments.items()})])
    assert right['verdict']['next_action'] and right['verdict']['tool_name'] and right['verdict']['arguments']
    wrong, _ = run_cases(suite, first, [call_text(ref.name, {'city': 'Rome'})])
    assert not wrong['verdict']['next_action'] and wrong['verdict']['tool_name']
    made_up, _ = run_cases(suite, first, [call_text('web_search', {'q': 'Paris'})])
    assert made_up['verdict']['hallucinated_tool'] and not made_up['verdict']['tool_name']
    finish, _ = run_cases(suite, second, [protocol.render_finish('ok', 'It is 21°C.')])
    assert finish['verdict']['next_action'] and finish['verdict']['tool_name'] is None
    m = suite.metrics([right, wrong, made_up, finish])
    assert m['next_action_accuracy']['k'] == 2 and m['tool_name_accuracy']['n'] == 3
    assert m['finish_accuracy'] == rate(1, 1) | {}


# --- compare ----------------------------------------------------------------------------------------------------

def test_change_marks_follow_the_direction_each_suite_declares():
    from agentlab.evals.compare import change_mark
    from agentlab.evals.suites.bfcl import BFCLSuite
    assert change_mark(True, 0.3, 0.001) == ' (better)'
    assert change_mark(True, -0.3, 0.001) == ' (worse)'
    assert change_mark(True, 0.3, 0.2) == ''               # not significant: no verdict
    # on irrelevance every call is wrong: the suite declares more calls worse (the report once called +90 pts of
    # calls better)
    m = BFCLSuite('irrelevance').metrics([])
    assert m['irrelevance_official']['higher_is_better'] and not m['called_a_tool']['higher_is_better']
    assert change_mark(m['called_a_tool']['higher_is_better'], 0.9, 0.001) == ' (worse)'
    assert change_mark(m['hallucinated_tool']['higher_is_better'], -0.2, 0.01) == ' (better)'


def test_compare_report_with_deltas_pvalues_examples_and_warnings(tmp_path):
    from agentlab.evals.compare import compare_runs
    before = bfcl_script({'simple_python': 12}, wrong_every=2)      # half wrong
    after = bfcl_script({'simple_python': 12}, wrong_every=6)       # a sixth wrong
    run_eval('m', 'bfcl:simple_python', limit=12, workers=4, out=tmp_path / 'a', backend=ScriptBackend(before),
             progress=False, log=lambda _m: None)
    run_eval('m', 'bfcl:simple_python', limit=12, workers=4, out=tmp_path / 'b', backend=ScriptBackend(after),
             progress=False, log=lambda _m: None)
    data = compare_runs([tmp_path / 'a', tmp_path / 'b'], tmp_path / 'cmp')
    ast = data['suites']['bfcl:simple_python']['ast_accuracy']
    assert ast['runs'][0]['k'] == 6 and ast['runs'][1]['k'] == 10
    assert math.isclose(ast['delta'][0], 4 / 12)
    assert ast['mcnemar'][0]['fixed'] == 4 and ast['mcnemar'][0]['broken'] == 0
    assert math.isclose(ast['mcnemar'][0]['p_value'], mcnemar_p(0, 4))
    report = (tmp_path / 'cmp' / 'report.md').read_text()
    assert '## bfcl:simple_python' in report and '+33.3 pts' in report and 'Fixed in run 1' in report
    assert 'Newly broken' not in report and not data['warnings']
    png = (tmp_path / 'cmp' / 'chart.png').read_bytes()
    assert png.startswith(b'\x89PNG') and len(png) > 2000
    # A run may join an eval folder and a bench folder: general ability sits beside tool-call success.
    for name, k in (('bench-a', 1), ('bench-b', 2)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / 'results.json').write_text(json.dumps({'model': {'spec': 'm'}, 'suites': {'bench:arc_e': {
            'kind': 'bench', 'n': 2, 'metrics': {'accuracy': rate(k, 2)}, 'settings': {'max_out_len': 64}}}}))
        (folder / 'cases.jsonl').write_text(''.join(json.dumps({'suite': 'bench:arc_e', 'id': f'ARC-e/{i}',
                                                                'raw_output': 'A', 'verdict': {'correct': i < k}})
                                                    + '\n' for i in range(2)))
    joined = compare_runs([f'{tmp_path / "a"}+{tmp_path / "bench-a"}', f'{tmp_path / "b"}+{tmp_path / "bench-b"}'],
                          tmp_path / 'cmp3')
    acc = joined['suites']['bench:arc_e']['accuracy']
    assert acc['mcnemar'][0]['fixed'] == 1 and 'bfcl:simple_python' in joined['suites'] and not joined['warnings']
    assert '## bench:arc_e' in (tmp_path / 'cmp3' / 'report.md').read_text()
    # Different settings and case sets are called out.
    res = json.loads((tmp_path / 'b' / 'results.json').read_text())
    res['suites']['bfcl:simple_python']['settings']['max_new_tokens'] = 64
    res['suites']['bfcl:simple_python']['settings']['dtype'] = 'bfloat16'
    res['suites']['bfcl:simple_python']['case_ids_sha256'] = 'x'
    (tmp_path / 'b' / 'results.json').write_text(json.dumps(res))
    warned = compare_runs([tmp_path / 'a', tmp_path / 'b'], tmp_path / 'cmp2')['warnings']
    text = ' '.join(warned)
    assert 'dtype differs' in text and 'max_new_tokens' in text and 'case sets differ' in text


# --- the command line, with the real embedded model ----------------------------------------------------------------

@pytest.mark.slow
def test_cli_eval_real_model_end_to_end(tmp_path, embedded_model):
    out = tmp_path / 'run'
    args = ['eval', '--model', 'smollm2-135m', '--suite', 'bfcl:simple_python,react:builtin', '--limit', '1',
            '--workers', '2', '--out', str(out)]
    proc = run_cli(*args, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads((out / 'results.json').read_text())
    assert res['model']['sha256'] and res['backend']['dtype'] == 'float32' and res['backend']['batch_size'] == 2
    for name in ('bfcl:simple_python', 'react:builtin'):
        s = res['suites'][name]
        assert s['n'] == 1 and s['tokens_per_s'] > 0 and s['settings']['dtype'] == 'float32'
        assert 0 <= s['metrics']['strict_parse']['value'] <= 1
    rows = read_cases(out / 'cases.jsonl')
    assert len(rows) == 2 and all(r['raw_output'] for r in rows)
    assert all(r['steps'] >= 1 and r['completion_tokens'] > 0 for r in rows)
    # Re-running finishes at once from cases.jsonl, without loading the model, and reports the same.
    again = run_cli(*args, timeout=600)
    assert again.returncode == 0 and again.stdout.count('already in') == 2
    assert 'Loading weights' not in again.stderr
    res2 = json.loads((out / 'results.json').read_text())
    for name in ('bfcl:simple_python', 'react:builtin'):
        assert res2['suites'][name]['metrics'] == res['suites'][name]['metrics']


def test_cli_errors_are_one_line(tmp_path):
    proc = run_cli('eval', '--suite', 'bfcl:nonsense', '--out', str(tmp_path), timeout=120)
    assert proc.returncode == 1 and 'unsupported BFCL category' in proc.stderr and 'Traceback' not in proc.stderr
    proc = run_cli('compare', str(tmp_path), '--out', str(tmp_path / 'c'), timeout=120)
    assert proc.returncode == 1 and 'at least two' in proc.stderr


@pytest.mark.slow
def test_prefill_and_decode_split_bounds_what_batching_can_buy(embedded_model):
    from agentlab.perf.eval import prefill_and_decode
    split = prefill_and_decode(cases=2, batch_sizes=(1, 4), decode_steps=2)
    assert split['mean_prompt_tokens'] > 100 and split['prefill_seconds_per_case'] > 0
    assert set(split['decode_seconds_per_step']) == {1, 4}
    assert split['best_ratio_at_batch'][1] == 1.0                      # batch 1 is the one-at-a-time loop
    assert split['best_ratio_at_batch'][4] <= split['ceiling_ratio']   # prefill is never shared
