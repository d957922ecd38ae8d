"""Performance benchmarks (`agentlab perf`), each run side by side with its baseline and reported as a ratio.

Benchmarks are measured, not asserted by timed tests: a busy machine changes seconds, not the code's behaviour.
:data:`BENCHMARKS` maps a name to ``"module:function"``, imported only when that benchmark runs (they load models,
the demo and the training engine).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass

BENCHMARKS: dict[str, str] = {
    'runtime': 'agentlab.perf.runtime:runtime_overhead',
    'convert': 'agentlab.perf.convert:convert_throughput',
    'eval': 'agentlab.perf.eval:eval_throughput',
    'demo': 'agentlab.perf.demo:demo_time_to_first_step',
    'synth': 'agentlab.perf.synth:synth_throughput',
    'train': 'agentlab.perf.train:training_throughput',
    'gguf': 'agentlab.perf.gguf:gguf_engine_speed',
    'serve': 'agentlab.perf.serve:serve_load',
}


@dataclass
class BenchResult:
    name: str
    metric: str
    value: float
    baseline: float
    ratio: float
    target: str
    passed: bool
    detail: dict

    def to_dict(self) -> dict:
        return asdict(self)


def benchmark(name: str):
    """The function of benchmark ``name``, imported now."""
    module, _, fn = BENCHMARKS[name].partition(':')
    return getattr(importlib.import_module(module), fn)


def run_all(names: list[str] | None = None) -> list[BenchResult]:
    return [benchmark(n)() for n in (names or list(BENCHMARKS))]


def format_table(results: list[BenchResult]) -> str:
    lines = ['| benchmark | metric | value | baseline | ratio | target | met |', '|---|---|---|---|---|---|---|']
    for r in results:
        lines.append(f'| {r.name} | {r.metric} | {r.value} | {r.baseline} | {r.ratio} | {r.target} | '
                     f'{"yes" if r.passed else "no"} |')
    return '\n'.join(lines)


def to_json(results: list[BenchResult]) -> str:
    return json.dumps([r.to_dict() for r in results], indent=1)
