"""The runtime's own cost per step (render, parse, validate, bookkeeping) against the model's generation time."""

from __future__ import annotations

import statistics
import time

from agentlab.perf import BenchResult

RUNTIME_QUESTIONS = [
    'What is 17 * 23?',
    'How many days are there from 2024-01-01 to 2024-03-01?',
    'Convert 10 km to miles.',
    'What weekday was 2000-01-01?',
    'How many people does meeting room Aurora seat?',
    'Compute the sum of the squares of 1 to 10 with Python.',
]


def runtime_overhead(model: str = 'smollm2-135m', max_new_tokens: int = 96, max_turns: int = 2) -> BenchResult:
    """agentlab's own work per step (render, parse, validate, bookkeeping; tool execution excluded) as a fraction
    of the model's generation time. Side by side: the real model, then a replay backend returning the same outputs
    (which isolates the runtime's cost from generation)."""
    from agentlab.runtime.agent import Agent
    from agentlab.runtime.backends import GenerationConfig, ReplayBackend, make_backend
    from agentlab.tools import ToolBox

    tools = ToolBox.from_spec('calculator,dates,units,knowledge,python')
    gen = GenerationConfig(max_new_tokens=max_new_tokens)
    real = Agent(make_backend(model), tools, max_turns=max_turns, generation=gen)
    steps = []
    for q in RUNTIME_QUESTIONS:
        steps += [s for s in real.run(q).steps if s.kind != 'give_up']
    gen_s = sum(s.generation_seconds for s in steps)
    runtime_s = sum(s.runtime_seconds for s in steps)
    # Replay the recorded outputs through the same loop: everything but the model, many times for a stable mean.
    outputs = [s.raw_output for s in steps]
    replay = Agent(ReplayBackend(outputs), tools, max_turns=max_turns, generation=gen)
    per_step = []
    for _ in range(20):
        start = time.perf_counter()
        n = 0
        tool_s = 0.0
        for q in RUNTIME_QUESTIONS:
            tr = replay.run(q)
            n += len([s for s in tr.steps if s.kind != 'give_up'])
            tool_s += sum(s.tool_seconds for s in tr.steps)
        per_step.append((time.perf_counter() - start - tool_s) / max(1, n))
    replay_step = statistics.median(per_step)
    mean_gen = gen_s / max(1, len(steps))
    ratio = max(runtime_s / max(1, len(steps)), replay_step) / mean_gen
    return BenchResult('runtime overhead per step', 'runtime s / generation s', round(ratio, 5),
                       round(mean_gen, 3), round(ratio, 5), '< 0.02', ratio < 0.02,
                       {'steps': len(steps), 'mean_generation_s': round(mean_gen, 3),
                        'mean_runtime_s_in_loop': round(runtime_s / max(1, len(steps)), 6),
                        'replay_runtime_s_per_step': round(replay_step, 6),
                        'generated_tokens': sum(s.completion_tokens for s in steps),
                        'model': model, 'max_new_tokens': max_new_tokens})
