"""`agentlab analyse`: call/no-call confusion, checker error types and tool choice by position, from cases.jsonl."""

import json

from agentlab.evals.analysis import analyse_run, format_report
from agentlab.evals.suites.bfcl import BFCLSuite
from conftest import run_cli


def _record(suite, case, picked, correct, error_type=''):
    calls = [{'name': picked, 'arguments': {}}] if picked else []
    answer = suite._answers.get(case['id'])
    expected = next(iter(answer['ground_truth'][0])) if answer else None
    return {'suite': suite.name, 'id': case['id'], 'parsed_calls': calls,
            'verdict': {'correct': correct, 'called': bool(calls), 'tool_name': picked == expected if picked else False,
                        'checker': {'valid': correct, 'error_type': error_type}}}


def test_confusion_errors_and_positions(tmp_path):
    multiple, irrelevance = BFCLSuite('multiple'), BFCLSuite('irrelevance')
    three = [c for c in multiple.cases() if len(c['function']) == 3][:3]
    rows = []
    for i, case in enumerate(three):
        names = [f['name'] for f in case['function']]
        expected = next(iter(multiple._answers[case['id']]['ground_truth'][0]))
        wrong = next(n for n in names if n != expected)
        picked = [expected, wrong, None][i]
        rows.append(_record(multiple, case, picked, i == 0, '' if i == 0 else
                            ['', 'multiple_function_checker:wrong_func_name', 'multiple_function_checker:wrong_count'][i]))
    irr = irrelevance.cases()[:2]
    rows.append(_record(irrelevance, irr[0], None, True))
    rows.append({**_record(irrelevance, irr[1], None, False, 'irrelevance_error:decoder_success'),
                 'parsed_calls': [{'name': 'not.offered', 'arguments': {}}],
                 'verdict': {'correct': False, 'called': True, 'tool_name': None,
                             'checker': {'valid': False, 'error_type': 'irrelevance_error:decoder_success'}}})
    (tmp_path / 'cases.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))
    report = analyse_run(tmp_path)
    m = report['bfcl:multiple']
    assert m['confusion'] == {'call->call': 2, 'call->no_call': 1}
    assert m['error_types'] == {'multiple_function_checker:wrong_func_name': 1,
                                'multiple_function_checker:wrong_count': 1}
    assert sum(c['n'] for c in m['tool_choice_by_position'].values()) == 3
    assert sum(c['right_tool'] for c in m['tool_choice_by_position'].values()) == 1
    wrong_case = three[1]
    names = [f['name'] for f in wrong_case['function']]
    expected = next(iter(multiple._answers[wrong_case['id']]['ground_truth'][0]))
    assert m['wrong_pick_position'] == {str(names.index(next(n for n in names if n != expected))): 1}
    assert report['bfcl:irrelevance']['confusion'] == {'no_call->call': 1, 'no_call->no_call': 1}
    assert json.loads((tmp_path / 'analysis.json').read_text()) == report
    assert 'call->no_call 1' in format_report(report)
    proc = run_cli('analyse', str(tmp_path), timeout=120)
    assert proc.returncode == 0 and 'bfcl:multiple (3 cases)' in proc.stdout
    empty = tmp_path / 'empty'
    empty.mkdir()
    proc = run_cli('analyse', str(empty), timeout=120)
    assert proc.returncode != 0 and 'has no cases' in proc.stderr
