"""`agentlab quickstart`: the main job, one command from nothing to evidence, on the embedded model.

The stages that exist today run for real: engine environments, the embedded model, and the base model driven
through the ReAct runtime with the built-in tools (the "before" picture: how often its output follows the protocol).
The remaining stages of the pipeline (synth -> convert -> train -> eval before/after -> compare) are added by their
own commands as they land; until then quickstart says so instead of pretending.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console

from agentlab import protocol

BASELINE_QUESTIONS = [
    'What is 17 * 23?',
    'How many days are there from 2024-01-01 to 2024-03-01?',
    'Convert 10 km to miles.',
    'What weekday was 2000-01-01?',
    'How many people does meeting room Aurora seat?',
    'Use Python to compute the sum of the squares of 1 to 10.',
]
PENDING_STAGES = ('synth', 'convert', 'train', 'eval (before/after on BFCL)', 'compare')


def run_quickstart(out: Path, quick: bool, engines: str = 'train,bench,bfcl') -> Path:
    from agentlab import envs
    from agentlab.agent import Agent
    from agentlab.llms import GenerationConfig
    from agentlab.model_pull import pull

    console = Console()
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    t = time.perf_counter()
    console.rule('1. engine environments')
    for eng in envs.parse_engine_list(engines):
        envs.ensure(eng)
        console.print(f'[green]ok[/] {eng.name}: {envs.env_path(eng)}')
    timings['setup'] = time.perf_counter() - t

    t = time.perf_counter()
    console.rule('2. embedded model')
    path = pull('smollm2-135m')
    console.print(f'[green]ok[/] smollm2-135m: {path}')
    timings['pull'] = time.perf_counter() - t

    t = time.perf_counter()
    console.rule('3. base model in the ReAct runtime (before tuning)')
    questions = BASELINE_QUESTIONS[:3] if quick else BASELINE_QUESTIONS
    agent = Agent.from_spec('smollm2-135m', tools='calculator,dates,units,knowledge,python', max_turns=2,
                            parse_mode='strict', generation=GenerationConfig(max_new_tokens=128))
    steps, finished, called = 0, 0, 0
    with open(out / 'base_traces.jsonl', 'w') as fh:
        for q in questions:
            trace = agent.run(q)
            fh.write(trace.to_json() + '\n')
            model_steps = [s for s in trace.steps if s.kind != 'give_up']
            steps += len(model_steps)
            called += sum(1 for s in model_steps if s.kind == 'call' and not s.error)
            finished += trace.status == 'finished'
            console.print(f'[bold]{q}[/]\n  -> {trace.status}: {trace.final_answer!r} '
                          f'({", ".join(s.kind for s in model_steps)})', highlight=False)
    strict_ok = sum(1 for line in (out / 'base_traces.jsonl').read_text().splitlines()
                    for s in json.loads(line)['steps'] if s['kind'] in ('call', 'finish'))
    timings['baseline'] = time.perf_counter() - t
    summary = {'model': 'smollm2-135m', 'questions': len(questions), 'model_steps': steps,
               'strict_protocol_steps': strict_ok, 'successful_tool_calls': called, 'finished_episodes': finished,
               'give_up_answer': protocol.DEFAULT_GIVE_UP, 'seconds': {k: round(v, 1) for k, v in timings.items()},
               'pending_stages': list(PENDING_STAGES)}
    (out / 'summary.json').write_text(json.dumps(summary, indent=1))
    console.rule('result')
    console.print(f'base model: {strict_ok}/{steps} model turns followed the ReAct protocol, {called} tool calls '
                  f'succeeded, {finished}/{len(questions)} episodes finished.')
    console.print(f'traces: {out / "base_traces.jsonl"}; summary: {out / "summary.json"}')
    console.print('[yellow]not yet part of quickstart:[/] ' + ', '.join(PENDING_STAGES)
                  + ' (their commands are still being built)')
    return out
