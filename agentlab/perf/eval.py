"""Throughput of `agentlab eval` against a one-case-at-a-time generate loop (`agentlab perf --only eval`).

Both sides use the same loaded model, the same cases (the first N of bfcl:simple_python), the same prompts and the
same generation settings; the only difference is how the cases reach the model. The baseline is the loop a user
would write: for each case, render its messages, `backend.generate([messages])`, parse. agentlab's side is the
evaluator's scheduler (`evals.episode.drive`) with `workers` cases in flight, one batched forward pass per round.
Greedy outputs of a batched and an unbatched pass can differ in rare near-ties (padding changes the arithmetic a
little), so the share of identical outputs is reported too.
"""

from __future__ import annotations

import json
import time


def eval_throughput(cases: int = 24, workers: int = 16, model: str = 'smollm2-135m'):
    from agentlab.evals.suites.bfcl import BFCLSuite
    from agentlab.runtime.batch import drive
    from agentlab.perf import BenchResult
    from agentlab.runtime.backends import make_backend

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


def prefill_and_decode(cases: int = 16, batch_sizes: tuple[int, ...] = (1, 16, 64), decode_steps: int = 32,
                       model: str = 'smollm2-135m') -> dict:
    """Where eval time goes: reading a case's prompt (prefill) vs writing each new token (decode) at batch sizes.

    Batching shares decode steps between rows but not prefill: every prompt's tokens still go through the model
    once. So with P = prefill seconds per case, d_b = seconds per decode step at batch b and T new tokens per case,
    batched eval can reach at most (P + T*d_1) / (P + T*d_b/b) times the one-at-a-time loop, and never more than
    (P + T*d_1) / P however large the batch. Decode steps are timed after a short prompt. `python -m
    agentlab.evals.eval_speed` prints these figures.
    """
    import torch
    from agentlab.evals.suites.bfcl import BFCLSuite
    from agentlab.runtime.backends import make_backend

    suite = BFCLSuite('simple_python')
    backend = make_backend(model)
    tok, net = backend.tokenizer, backend.model
    prompts = [backend.render(next(suite.episode(c))) for c in suite.cases()[:cases]]
    encoded = [tok(p, return_tensors='pt', add_special_tokens=False) for p in prompts]
    new_tokens = suite.generation().max_new_tokens
    with torch.no_grad():
        net(**encoded[0], logits_to_keep=1)                       # warm-up
        start = time.perf_counter()
        for enc in encoded:
            net(**enc, logits_to_keep=1)                          # what generate() does first for a prompt
        prefill = (time.perf_counter() - start) / cases
        short = tok(['Write a long story about the sea.'], return_tensors='pt')
        decode = {}
        for b in batch_sizes:
            enc = {k: v.repeat(b, 1) for k, v in short.items()}
            timed = []
            for steps in (1, decode_steps + 1):
                start = time.perf_counter()
                net.generate(**enc, max_new_tokens=steps, min_new_tokens=steps, do_sample=False,
                             pad_token_id=tok.pad_token_id)
                timed.append(time.perf_counter() - start)
            decode[b] = (timed[1] - timed[0]) / decode_steps
    alone = prefill + new_tokens * decode[min(batch_sizes)]
    return {'model': model, 'threads': _threads(), 'cases': cases,
            'mean_prompt_tokens': round(sum(e['input_ids'].shape[1] for e in encoded) / cases, 1),
            'new_tokens_per_case': new_tokens, 'prefill_seconds_per_case': round(prefill, 3),
            'decode_seconds_per_step': {b: round(d, 4) for b, d in decode.items()},
            'best_ratio_at_batch': {b: round(alone / (prefill + new_tokens * d / b), 2) for b, d in decode.items()},
            'ceiling_ratio': round(alone / prefill, 2)}


def _threads() -> int | None:
    try:
        import torch
        return torch.get_num_threads()
    except ImportError:
        return None


if __name__ == '__main__':
    print(json.dumps(prefill_and_decode(), indent=1))
