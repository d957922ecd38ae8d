"""The llama.cpp engine against the transformers engine, on the same BFCL cases (`agentlab perf --only gguf`).

Both sides are real `agentlab eval` runs (the same runner, scheduler, prompts, parser and official checker) of the
same weights: the HF folder on the transformers engine at its best batching (all ``workers`` cases in one batched
forward pass, float32, the eval default), and GGUF exports of that folder (llama.cpp's converter) on the llama.cpp
engine (one slot per core, one thread each); the transformers engine gets as many threads as there are slots, so
both use the same cores. Reported per quant: cases per second and the ratio to transformers,
file size, the share of cases whose verdict (correct or not) is the same, and the share of identical outputs.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

SUITES = 'bfcl:simple_python,bfcl:multiple,bfcl:irrelevance'


def _cases(folder: Path) -> dict:
    return {(c['suite'], c['id']): c for c in map(json.loads, (folder / 'cases.jsonl').open())}


def gguf_engine_speed(limit: int = 8, quants: tuple[str, ...] = ('f16', 'q8_0', 'q4_k_m'), workers: int = 16,
                      model: str = 'smollm2-135m', suites: str = SUITES, keep: str | None = None,
                      slots: int | None = None):
    from agentlab.evals.runner import run_eval
    from agentlab.export import run_export
    from agentlab.models import parse_model_spec
    from agentlab.perf import BenchResult
    from agentlab.runtime.backends import BackendOptions

    folder = parse_model_spec(model).local_path()
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix='agentlab-perf-gguf-'))
    root.mkdir(parents=True, exist_ok=True)
    quiet = lambda _m: None   # noqa: E731

    def timed_eval(name: str, spec: str, options: BackendOptions) -> tuple[float, dict]:
        out = root / name
        start = time.perf_counter()
        run_eval(spec, suites, limit=limit, workers=workers, out=out, backend_options=options, progress=False,
                 log=quiet)
        return time.perf_counter() - start, _cases(out)

    from agentlab.runtime.backends.llamacpp import default_slots
    cores = slots or default_slots()        # both engines get the same cores: threads here, one-thread slots there
    hf_seconds, hf_cases = timed_eval('transformers', str(folder), BackendOptions(engine='transformers', threads=cores))
    n = len(hf_cases)
    detail: dict = {'cases': n, 'suites': suites, 'workers': workers, 'model': model, 'cores_each': cores,
                    'transformers_seconds': round(hf_seconds, 1), 'cpu_cores': len(os.sched_getaffinity(0))}
    for quant in quants:
        path = root / f'model-{quant}.gguf'
        manifest = run_export(str(folder), 'gguf', quant, path, log=quiet)
        seconds, cases = timed_eval(f'llamacpp-{quant}', str(path), BackendOptions(engine='llamacpp', threads=1,
                                                                                       slots=slots))
        same_verdict = sum(hf_cases[k]['verdict']['correct'] == cases[k]['verdict']['correct'] for k in hf_cases)
        same_output = sum(hf_cases[k]['outputs'] == cases[k]['outputs'] for k in hf_cases)
        ratio = hf_seconds / seconds
        detail[quant] = {'seconds': round(seconds, 1), 'speedup': round(ratio, 2),
                         'mib': round(manifest['bytes'] / 2**20, 1), 'same_verdict': f'{same_verdict}/{n}',
                         'identical_outputs': f'{same_output}/{n}'}
    headline = 'q8_0' if 'q8_0' in quants else quants[0]
    ratio = detail[headline]['speedup']
    return BenchResult(f'llama.cpp engine vs transformers (bfcl cases, {headline})', 'cases/s',
                       round(n / detail[headline]['seconds'], 4), round(n / hf_seconds, 4), ratio, '>= 3x',
                       ratio >= 3, detail)
