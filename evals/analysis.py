"""Why a run fails, per BFCL suite, from its cases.jsonl: what to fix next (`agentlab analyse RUN_DIR`).

* call / no-call confusion: every case of an AST category needs a call, no irrelevance case may have one; the four
  counts say whether a model is trigger-happy or shy, independent of argument errors;
* the official checker's error types of the failed cases (`simple_function_checker:wrong_func_name`,
  `value_error:string`, `simple_function_checker:missing_required`, `irrelevance_error:decoder_success`, ...);
* tool choice by position in multi-tool categories: accuracy by where the right tool sits in the offered list, and
  where the wrong picks sit (a model that picks the first tool, or the last, shows here); picks of a name that was
  not offered at all are counted apart.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from agentlab.errors import AgentlabError
from agentlab.evals.results import latest, read_cases


def _suite_of(name: str):
    from agentlab.evals.suite import parse_suites
    return parse_suites(name)[0]


def analyse_suite(suite_name: str, records: list[dict]) -> dict:
    from agentlab.evals.suites.bfcl import IRRELEVANCE, RELEVANCE, BFCLSuite
    suite = _suite_of(suite_name)
    if not isinstance(suite, BFCLSuite):
        return {}
    should_call = suite.category not in IRRELEVANCE
    confusion = Counter()
    errors = Counter()
    by_position: dict[int, Counter] = defaultdict(Counter)
    wrong_pick_position = Counter()
    for r in records:
        v = r['verdict']
        called = bool(v.get('called', r.get('parsed_calls')))
        confusion[('call' if should_call else 'no_call') + '->' + ('call' if called else 'no_call')] += 1
        if not v['correct']:
            errors[(v.get('checker') or {}).get('error_type') or 'unknown'] += 1
        offered = [f['name'] for f in suite.functions_by_id.get(r['id'], [])]
        if suite.category in IRRELEVANCE + RELEVANCE or len(offered) < 2 or suite.multi_call:
            continue
        expected = next(iter(suite._answers[r['id']]['ground_truth'][0]))
        pos = offered.index(expected) if expected in offered else -1
        by_position[pos]['n'] += 1
        by_position[pos]['right_tool'] += bool(v.get('tool_name'))
        picked = (r.get('parsed_calls') or [{}])[0].get('name')
        if picked and picked != expected:
            wrong_pick_position[offered.index(picked) if picked in offered else 'not offered'] += 1
    out = {'n': len(records), 'confusion': dict(sorted(confusion.items())),
           'error_types': dict(errors.most_common())}
    if by_position:
        out['tool_choice_by_position'] = {str(p): {'n': c['n'], 'right_tool': c['right_tool']}
                                          for p, c in sorted(by_position.items())}
        out['wrong_pick_position'] = {str(k): n for k, n in sorted(wrong_pick_position.items(), key=str)}
    return out


def analyse_run(run_dir: str | Path) -> dict:
    run_dir = Path(run_dir)
    cases = latest(read_cases(run_dir / 'cases.jsonl'))
    if not cases:
        raise AgentlabError(f'{run_dir}/cases.jsonl has no cases (run agentlab eval --out {run_dir} first)')
    by_suite: dict[str, list[dict]] = defaultdict(list)
    for c in cases:
        by_suite[c['suite']].append(c)
    report = {s: a for s, rows in by_suite.items() if (a := analyse_suite(s, rows))}
    (run_dir / 'analysis.json').write_text(json.dumps(report, indent=1) + '\n')
    return report


def format_report(report: dict) -> str:
    lines = []
    for suite, a in report.items():
        lines.append(f'## {suite} ({a["n"]} cases)')
        lines.append('call/no-call (expected->model): ' + ', '.join(f'{k} {v}' for k, v in a['confusion'].items()))
        if a['error_types']:
            lines.append('errors: ' + ', '.join(f'{k} {v}' for k, v in a['error_types'].items()))
        if 'tool_choice_by_position' in a:
            lines.append('right tool by its position: ' + ', '.join(
                f'{p}: {c["right_tool"]}/{c["n"]}' for p, c in a['tool_choice_by_position'].items()))
            lines.append('wrong picks at position: ' + ', '.join(f'{k}: {v}' for k, v in
                                                                  a['wrong_pick_position'].items()))
        lines.append('')
    return '\n'.join(lines)
