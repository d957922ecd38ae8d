"""What a quickstart run does (:class:`Plan`); light on purpose: `agentlab --help` quotes it."""

from __future__ import annotations

from dataclasses import dataclass

MODEL = 'smollm2-135m'
EVAL_SUITES = 'bfcl:simple_python,bfcl:multiple,bfcl:irrelevance,react:builtin'


@dataclass(frozen=True)
class Plan:
    """What a quickstart run does. --quick is the same pipeline, smaller."""
    synth_rows: int
    train_iters: int
    max_length: int
    eval_limit: int | None          # cases per suite; None = every case of every suite
    bench_limit: int
    val_ratio: float = 0.03
    seed: int = 0

    @classmethod
    def default(cls, quick: bool) -> 'Plan':
        # --quick is sized by measurement on the 2-core CPU (README): 3 cases per suite and 16 iterations took
        # 14.2 minutes, mostly generation (react:builtin is 4-5 turns a case); 2 cases and 10 iterations 11.5, and 10.2
        # once every suite shared one eval scheduler. With the base eval beside training, 10 iterations took 4.8
        # minutes and 40 (the first size whose tuned model calls tools: simple_python 2/2) 6.1.
        # The default's 200 iterations, also by measurement: on BFCL's full multiple category 100 iterations scored
        # 34/200 and 200 scored 60/200 (README); the first 20 cases could not tell them apart (6 vs 7).
        if quick:
            return cls(synth_rows=300, train_iters=40, max_length=512, eval_limit=3, bench_limit=5)
        return cls(synth_rows=3000, train_iters=200, max_length=1024, eval_limit=20, bench_limit=20)
