"""`agentlab eval`: run suites against a model and write DIR/results.json and DIR/cases.jsonl.

    from agentlab.evals.runner import run_eval
    results = run_eval('smollm2-135m', 'bfcl:simple_python,react:builtin', limit=20, workers=8, out='runs/base')

* Suites: `bfcl:CATEGORY`, `react:builtin` (or `react:FILE.jsonl`), `agentflan:FILE.jsonl`, resolved through the
  registry in agentlab.evals.suite.
* One scheduler for every suite (agentlab.runtime.batch.drive): each case is a ReAct episode; up to ``workers`` are
  in flight and their pending turns go to the backend as one batch.
* Resumable: a re-run with the same --out skips the cases already in cases.jsonl (a line torn by a crash is
  dropped) and ends with the same results.json as an uninterrupted run. A re-run with another model, other weights
  at the same path or other generation settings is refused rather than mixed in.
* What is written: agentlab.evals.results and docs/results-schema.md.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from agentlab.errors import AgentlabError
from agentlab.evals.results import (CASES, RESULTS, RUN, SCHEMA, CaseLog, latest, pct, read_cases,
                                    suite_summary)
from agentlab.evals.suite import Suite, parse_suites
from agentlab.provenance import git_info, model_hash, versions, write_json_atomic

DEFAULT_WORKERS = 8


def select_cases(suite: Suite, limit: int | None) -> list[dict]:
    cases = suite.cases()
    return list(cases[:limit]) if limit else list(cases)


# --- provenance -----------------------------------------------------------------------------------------------

def model_info(model: str, backend) -> dict:
    from agentlab.models import parse_model_spec
    try:
        spec = parse_model_spec(model)
    except AgentlabError:
        return {'spec': model, 'kind': 'custom', 'label': getattr(backend, 'name', model), 'sha256': None}
    info = {'spec': model, 'kind': spec.kind, 'label': spec.label, 'sha256': None}
    if spec.kind != 'endpoint':
        path = spec.local_path(fetch=False)
        info['path'] = str(path)
        if path.exists():                  # a folder, or a GGUF file (hashed as itself)
            info['sha256'] = model_hash(path)
    else:
        info['base_url'] = spec.base_url
    return info


def backend_info(backend, workers: int) -> dict:
    info = {'class': type(backend).__name__, 'workers': workers}
    for attr in ('device', 'dtype', 'batch_size', 'concurrency', 'api'):
        if hasattr(backend, attr):
            info[attr] = getattr(backend, attr)
    info.setdefault('dtype', 'endpoint-defined' if info['class'] == 'OpenAIBackend' else None)
    try:
        import torch
        info['torch_threads'] = torch.get_num_threads()
    except ImportError:
        pass
    return info


# --- the run --------------------------------------------------------------------------------------------------

def _settings_key(suite, dtype) -> dict:
    s = dict(suite.settings())
    s['dtype'] = dtype
    return s



def run_eval(model: str, suites: str | Sequence, limit: int | None = None, workers: int = DEFAULT_WORKERS,
             out: str | Path = 'runs/eval', backend=None, parse_mode: str = 'tolerant',
             backend_options=None, progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """Run every suite, resuming from DIR/cases.jsonl; write and return results.json's content."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(suites, str) or all(isinstance(s, str) for s in suites):
        suite_objs = parse_suites(suites, parse_mode)
    else:
        suite_objs = list(suites)
    if limit is not None and limit <= 0:
        raise AgentlabError('--limit must be a positive number of cases')
    started = time.time()
    opts = None
    if backend is None:
        from agentlab.runtime.backends import BackendOptions
        from agentlab.models import parse_model_spec
        opts = backend_options or BackendOptions()
        opts.batch_size = max(opts.batch_size, workers)
        opts.concurrency = max(opts.concurrency, workers)
        dtype = 'endpoint-defined' if parse_model_spec(model).kind == 'endpoint' else opts.dtype
    else:
        dtype = getattr(backend, 'dtype', None)
    holder = {'backend': backend}

    def get_backend():
        """The model is loaded only when some case still needs a turn (a finished run re-reports at once)."""
        if holder['backend'] is None:
            from agentlab.runtime.backends import make_backend
            holder['backend'] = make_backend(model, opts)
        b = holder['backend']
        if hasattr(b, 'batch_size'):        # one batched call carries up to `workers` turns
            b.batch_size = max(1, workers)
        if hasattr(b, 'concurrency'):
            b.concurrency = max(1, workers)
        results['backend'] = backend_info(b, workers)
        return b

    run_path = out / RUN
    # The weights' hash, not only the model's name: a folder retrained in place (same path) must not resume cases
    # its previous weights wrote.
    info = model_info(model, backend)
    run_meta = {'model': model, 'model_sha256': info['sha256'],
                'suites': {s.name: _settings_key(s, dtype) for s in suite_objs}}
    if run_path.is_file():
        previous = json.loads(run_path.read_text())
        if previous.get('model') != model:
            raise AgentlabError(f'{out} holds a run of model {previous.get("model")!r}, not {model!r}; '
                                'use another --out')
        if 'model_sha256' in previous and previous['model_sha256'] != info['sha256']:
            raise AgentlabError(f'{out} holds cases of other weights at {model} (sha256 '
                                f'{str(previous.get("model_sha256"))[:12]}, now {str(info["sha256"])[:12]}): the model '
                                'changed since; use another --out or delete that folder')
        previous['model_sha256'] = info['sha256']
        for name, settings in run_meta['suites'].items():
            old = previous.get('suites', {}).get(name)
            if old is not None and old != settings:
                raise AgentlabError(f'{out} holds cases of {name} made with other generation settings '
                                    f'({_diff(old, settings)}); use another --out')
        previous.setdefault('suites', {}).update(run_meta['suites'])
        run_meta = previous
    run_path.write_text(json.dumps(run_meta, indent=1))

    cases_path = out / CASES
    done = {(r.get('suite'), r.get('id')) for r in read_cases(cases_path)}
    log_file = CaseLog(cases_path)
    results_path = out / RESULTS
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results.update({'schema': SCHEMA, 'model': info, 'versions': versions(), 'git': git_info(),
                    'command': ' '.join(sys.argv) if sys.argv and 'agentlab' in sys.argv[0] else None})
    results.setdefault('suites', {})
    if backend is not None:
        get_backend()
    try:
        todo: list[tuple] = []                    # (suite, case) still to run, over every suite
        chosen_ids = {}
        for suite in suite_objs:
            chosen = select_cases(suite, limit)
            chosen_ids[suite.name] = {c['id'] for c in chosen}
            left = [c for c in chosen if (suite.name, c['id']) not in done]
            if len(left) < len(chosen):
                log(f'{suite.name}: {len(chosen) - len(left)} of {len(chosen)} cases already in {cases_path}, '
                    f'running {len(left)}')
            todo += [(suite, c) for c in left]
        # One scheduler for every suite: multi-turn episodes start first (their later turns then share batches with
        # single-turn cases instead of running alone at the end), and similar prompt lengths share a batch.
        turns = {s.name: int(s.settings().get('max_steps') or 1) for s in suite_objs}
        todo.sort(key=lambda sc: (-turns[sc[0].name], sc[0].prompt_size(sc[1])))
        bar = _progress(len(todo), ', '.join(s.name for s in suite_objs)) if progress and todo else None
        left_per_suite = {s.name: sum(1 for t in todo if t[0] is s) for s in suite_objs}

        def finished(key: tuple, record: dict) -> None:
            suite_name, case_id = key
            log_file.write({'suite': suite_name, **record, 'id': case_id})
            if bar is not None:
                bar.update(1)

        from agentlab.runtime.batch import drive
        jobs = (((suite.name, c['id']), suite.episode(c), suite.generation()) for suite, c in todo)
        stats = drive(get_backend() if todo else None, None, jobs, workers, finished)
        if bar is not None:
            bar.close()
        rows = read_cases(cases_path)
        for suite in suite_objs:
            records = latest(r for r in rows if r.get('suite') == suite.name and r.get('id') in chosen_ids[suite.name])
            summary = suite_summary(suite, records, limit, len(suite.cases()), dtype)
            summary['this_run'] = {'cases': left_per_suite[suite.name]}
            results['suites'][suite.name] = summary
            primary = summary['metrics'].get(summary['primary_metric'], {})
            log(f'{suite.name}: n={summary["n"]} {summary["primary_metric"]}={pct(primary)} '
                f'strict_parse={pct(summary["metrics"]["strict_parse"])} '
                f'tolerant_parse={pct(summary["metrics"]["tolerant_parse"])}'
                + (f' ({summary["tokens_per_s"]} tokens/s)' if summary['tokens_per_s'] else ''))
        results['this_run'] = {'cases': len(todo), 'wall_seconds': round(stats['seconds'], 3),
                               'batches': stats['batches'], 'turns': stats['turns']}
        results['seconds'] = round(time.time() - started, 2)
        results['created'] = datetime.now(timezone.utc).isoformat(timespec='seconds')
        write_json_atomic(results_path, results)
    finally:
        log_file.close()
    return results


def _diff(old: dict, new: dict) -> str:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ', '.join(f'{k}: {old.get(k)!r} -> {new.get(k)!r}' for k in keys[:3])


def _progress(total: int, desc: str):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit='case', file=sys.stderr, dynamic_ncols=True, mininterval=2.0)
