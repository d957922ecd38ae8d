"""Throughput of `agentlab eval` against a one-case-at-a-time generate loop (`agentlab perf --only eval`).

Both sides use the same loaded model, the same cases (the first N of bfcl:simple_python), the same prompts and the
same generation settings; the only difference is how the cases reach the model. The baseline is the loop a user
would write: for each case, render its messages, `backend.generate([messages])`, parse. agentlab's side is the
evaluator's scheduler (`evals.episode.drive`) with `workers` cases in flight, one batched forward pass per round.
Greedy outputs of a batched and an unbatched pass can differ in rare near-ties (padding changes the arithmetic a
little), so the share of identical outputs is reported too.
"""

from __future__ import annotations

import time


def eval_throughput(cases: int = 24, workers: int = 16, model: str = 'smollm2-135m'):
    from agentlab.evals.bfcl_suite import BFCLSuite
    from agentlab.evals.episode import drive
    from agentlab.evals.perf import BenchResult
    from agentlab.llms import make_backend

    suite = BFCLSuite('simple_python')
    chosen = suite.cases()[:cases]
    backend = make_backend(model)
    config = suite.generation()

    # Warm-up (first-call allocations), not timed.
    backend.generate([next(suite.episode(chosen[0]))], config)

    start = time.perf_counter()
    single = {}
    for case in chosen:
        messages = next(suite.episode(case))
        single[case['id']] = backend.generate([messages], config)[0].text
    baseline_s = time.perf_counter() - start

    backend.batch_size = workers
    batched: dict[str, str] = {}
    ordered = sorted(chosen, key=suite.prompt_size)
    start = time.perf_counter()
    drive(backend, config, ((c['id'], suite.episode(c)) for c in ordered), workers,
          lambda cid, rec: batched.__setitem__(cid, rec['outputs'][0]))
    agentlab_s = time.perf_counter() - start

    base_rate, ours = cases / baseline_s, cases / agentlab_s
    ratio = ours / base_rate
    same = sum(single[c] == batched.get(c) for c in single)
    return BenchResult('eval throughput (bfcl:simple_python)', 'cases/s', round(ours, 4), round(base_rate, 4),
                       round(ratio, 2), '>= 5x', ratio >= 5,
                       {'cases': cases, 'workers': workers, 'agentlab_seconds': round(agentlab_s, 1),
                        'one_at_a_time_seconds': round(baseline_s, 1), 'identical_outputs': f'{same}/{cases}',
                        'max_new_tokens': config.max_new_tokens, 'model': model,
                        'threads': _threads()})


def _threads() -> int | None:
    try:
        import torch
        return torch.get_num_threads()
    except ImportError:
        return None
