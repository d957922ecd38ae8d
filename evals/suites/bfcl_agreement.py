"""BFCL's own `bfcl evaluate` as an independent scorer of an `agentlab eval` run.

The parsed calls of every `bfcl:*` case in DIR/cases.jsonl are exported as BFCL result files, in the Python call
syntax BFCL's prompt-mode models answer in (`[math.factorial(number=5)]`; a case without a call exports the empty
string, which BFCL decodes as no call), under a prompt-mode model name BFCL knows (EXPORT_MODEL, whose handler uses
BFCL's default Python-syntax decoder). BFCL's full install in the `bfcl` engine environment then runs
`bfcl evaluate --partial-eval` on them, unshimmed, with its own decoder and checker; its score files list every case
it failed. agentlab's per-case verdicts must be the same: the same number right, and the same cases failed.

    agentlab eval --model smollm2-135m --suite bfcl:simple_python --limit 20 --out runs/base --bfcl-evaluate
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from agentlab.errors import AgentlabError

EXPORT_MODEL = 'Qwen/Qwen3-0.6B'            # prompt mode (not -FC); QwenHandler decodes with BFCL's default decoder
EXPORT_DIR = EXPORT_MODEL.replace('/', '_')
AGREEMENT = 'bfcl_agreement.json'


def _group(category: str) -> str:
    return 'live' if category.startswith('live_') else 'non_live'


def _sort_key(case_id: str) -> tuple[str, int]:
    stem, _, index = case_id.rpartition('_')
    return stem, int(index.split('-')[0]) if index.split('-')[0].isdigit() else 0


def export(cases: list[dict], root: Path) -> dict[str, Path]:
    """Write BFCL result files for the bfcl suites' cases under root/result; returns {category: file}."""
    by_cat: dict[str, list[dict]] = {}
    for row in cases:
        suite = row.get('suite', '')
        if suite.startswith('bfcl:'):
            by_cat.setdefault(suite.split(':', 1)[1], {})[row['id']] = row
    files = {}
    for cat, rows in by_cat.items():
        folder = root / 'result' / EXPORT_DIR / _group(cat)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f'BFCL_v4_{cat}_result.json'
        with open(path, 'w', encoding='utf-8') as fh:
            for case_id in sorted(rows, key=_sort_key):
                row = rows[case_id]
                fh.write(json.dumps({'id': case_id, 'result': row.get('export', ''),
                                     'input_token_count': row.get('prompt_tokens', 0),
                                     'output_token_count': row.get('completion_tokens', 0),
                                     'latency': row.get('generation_seconds', 0.0)}, ensure_ascii=False) + '\n')
        files[cat] = path
    return files


def read_scores(root: Path, category: str) -> dict:
    path = root / 'score' / EXPORT_DIR / _group(category) / f'BFCL_v4_{category}_score.json'
    if not path.is_file():
        raise AgentlabError(f'bfcl evaluate wrote no score file for {category} ({path})')
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    header, failures = lines[0], lines[1:]
    return {'accuracy': header['accuracy'], 'correct': header['correct_count'], 'total': header['total_count'],
            'failed_ids': sorted(f['id'] for f in failures),
            'error_types': {f['id']: f.get('error_type', '') for f in failures}}


def run_bfcl_evaluate(root: Path, categories: list[str], log=print) -> str:
    from agentlab.engines import envs
    args = ['-m', 'bfcl_eval', 'evaluate', '--model', EXPORT_MODEL, '--test-category', ','.join(categories),
            '--partial-eval']
    return envs.run_in_env('bfcl', args, cwd=root, extra_env={'BFCL_PROJECT_ROOT': str(root)},
                           log=None, on_line=(lambda line: None))


def check_agreement(out: str | Path, keep: bool = False, log=print) -> dict:
    """Export DIR's bfcl cases, score them with `bfcl evaluate` in the bfcl environment, and compare per case.
    Writes DIR/bfcl_agreement.json, adds a `bfcl_evaluate` entry to each bfcl suite in results.json, and returns
    the report; report["agree"] is False when any verdict differs."""
    from agentlab.evals.results import CASES, RESULTS, latest, read_cases
    from agentlab.provenance import write_json_atomic
    out = Path(out)
    rows = [r for r in read_cases(out / CASES) if str(r.get('suite', '')).startswith('bfcl:')]
    if not rows:
        raise AgentlabError(f'{out / CASES} has no bfcl cases to check')
    results_path = out / RESULTS
    results = json.loads(results_path.read_text()) if results_path.is_file() else {'suites': {}}
    # Only the cases the last run reported on (a smaller --limit may leave extra ones in cases.jsonl).
    by_suite: dict[str, list[dict]] = {}
    for r in rows:
        by_suite.setdefault(r['suite'], []).append(r)
    chosen = []
    for suite, srows in by_suite.items():
        last = latest(srows)
        n = results.get('suites', {}).get(suite, {}).get('n')
        if n is not None and n < len(last):
            limit = results['suites'][suite].get('limit')
            from agentlab.evals.suites.bfcl import BFCLSuite
            wanted = {c['id'] for c in BFCLSuite(suite.split(':', 1)[1]).cases()[:limit]}
            last = [r for r in last if r['id'] in wanted]
        chosen += last
    root = Path(tempfile.mkdtemp(prefix='agentlab-bfcl-'))
    try:
        files = export(chosen, root)
        log(f'bfcl evaluate: scoring {len(chosen)} exported cases ({", ".join(files)}) in the bfcl environment')
        run_bfcl_evaluate(root, sorted(files), log=log)
        report: dict = {'model_name': EXPORT_MODEL, 'suites': {}, 'agree': True}
        for cat in sorted(files):
            ours = {r['id']: bool(r['verdict']['official']) for r in chosen if r['suite'] == f'bfcl:{cat}'}
            theirs = read_scores(root, cat)
            bfcl_failed = set(theirs['failed_ids'])
            our_failed = {i for i, ok in ours.items() if not ok}
            differ = sorted(bfcl_failed ^ our_failed, key=_sort_key)
            entry = {'n': len(ours), 'agentlab_correct': len(ours) - len(our_failed),
                     'bfcl_correct': theirs['correct'], 'bfcl_total': theirs['total'],
                     'bfcl_accuracy': theirs['accuracy'], 'per_case_agreement': len(ours) - len(differ),
                     'disagreements': [{'id': i, 'agentlab': i not in our_failed, 'bfcl': i not in bfcl_failed,
                                        'bfcl_error_type': theirs['error_types'].get(i)} for i in differ],
                     'agree': not differ and theirs['total'] == len(ours)}
            report['suites'][f'bfcl:{cat}'] = entry
            report['agree'] &= entry['agree']
            if f'bfcl:{cat}' in results.get('suites', {}):
                results['suites'][f'bfcl:{cat}']['bfcl_evaluate'] = {k: v for k, v in entry.items()
                                                                     if k != 'disagreements'} | {
                    'disagreeing_ids': [d['id'] for d in entry['disagreements']]}
        (out / AGREEMENT).write_text(json.dumps(report, indent=1))
        if results_path.is_file():
            write_json_atomic(results_path, results)
        if keep:
            report['bfcl_root'] = str(root)
        return report
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def summary_lines(report: dict) -> list[str]:
    lines = []
    for suite, e in report['suites'].items():
        lines.append(f'{suite}: agentlab {e["agentlab_correct"]}/{e["n"]}, bfcl evaluate {e["bfcl_correct"]}/'
                     f'{e["bfcl_total"]}; per-case agreement {e["per_case_agreement"]}/{e["n"]}'
                     + ('' if e['agree'] else f' (differ: {", ".join(d["id"] for d in e["disagreements"][:5])})'))
    return lines

