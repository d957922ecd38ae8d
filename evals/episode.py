"""Episodes and the scheduler that batches them.

An episode is one evaluation case run as a generator: it yields the chat messages it needs a model turn for,
receives the backend's Generation, and finally returns its case record (``StopIteration.value``). The scheduler
keeps up to ``workers`` episodes in flight and sends all their pending turns to the backend as one batch: one
batched forward pass for the in-process transformers backend, concurrent requests for an endpoint. Multi-step
episodes join the next batch with their next turn, so a batch is always full while cases remain.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Generator, Iterable, Sequence

from agentlab import protocol
from agentlab.llms import Backend, Generation, GenerationConfig

Messages = list[dict]
Episode = Generator[Messages, Generation, dict]


@dataclass
class StepRecord:
    """One model turn of an episode, as cases.jsonl keeps it."""
    output: str                          # the raw model output (cut at the protocol's stop words)
    kind: str                            # 'call' | 'finish' | 'format_error' | 'args_error'
    strict: bool                         # parses under Lagent's strict rules (call with JSON arguments, or finish)
    tolerant: bool                       # parses under the tolerant rules
    name: str | None = None
    arguments: dict | None = None
    recoveries: list[str] = field(default_factory=list)
    answer: str | None = None
    observation: str | None = None
    error: str | None = None
    strict_call: dict | None = None      # the call as Lagent's strict parser reads it ({"name", "arguments"})
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    finish_reason: str = ''

    def to_dict(self) -> dict:
        return asdict(self)


def parse_step(output: str, mode: protocol.ParseMode, gen: Generation | None = None) -> StepRecord:
    """Parse one model output in ``mode``, noting whether it also parses strictly and tolerantly."""
    strict = protocol.parse(output, 'strict')
    tolerant = protocol.parse(output, 'tolerant')
    parsed = strict if mode == 'strict' else tolerant
    rec = StepRecord(output, 'call', strict.ok, tolerant.ok, recoveries=list(parsed.recoveries))
    if strict.ok and strict.kind == 'call':
        rec.strict_call = {'name': strict.name, 'arguments': strict.arguments}
    if parsed.kind == 'finish':
        rec.kind, rec.answer = 'finish', parsed.answer
    elif parsed.kind == 'none':
        rec.kind, rec.error = 'format_error', 'no_action'
    elif parsed.arguments is None:
        rec.kind, rec.name, rec.error = 'args_error', parsed.name, 'invalid_json'
    else:
        rec.name, rec.arguments = parsed.name, dict(parsed.arguments)
    if gen is not None:
        rec.prompt_tokens, rec.completion_tokens = gen.prompt_tokens, gen.completion_tokens
        rec.seconds, rec.finish_reason = gen.seconds, gen.finish_reason
    return rec


def transcript(steps: Sequence[StepRecord]) -> str:
    """The model's side of an episode as one readable text (outputs, with the observations fed back)."""
    parts = []
    for s in steps:
        parts.append(s.output.rstrip())
        if s.observation is not None and s.kind != 'finish':
            parts.append(protocol.render_response(s.observation).rstrip('\n'))
    return '\n'.join(parts)


def usage(steps: Sequence[StepRecord]) -> dict:
    return {'steps': len(steps), 'prompt_tokens': sum(s.prompt_tokens for s in steps),
            'completion_tokens': sum(s.completion_tokens for s in steps),
            'generation_seconds': round(sum(s.seconds for s in steps), 4)}


def drive(backend: Backend, config: GenerationConfig | None, jobs: Iterable[tuple], workers: int,
          on_done: Callable[[Any, dict], None]) -> dict:
    """Run episodes with up to ``workers`` in flight, one batched backend call per round.

    ``jobs`` yields ``(key, episode)``, run with ``config``, or ``(key, episode, config)`` with the job's own config:
    the runner feeds the cases of every suite through one scheduler, so a short suite's cases fill the batches a
    multi-step suite leaves half empty. Turns whose configs differ only in max_new_tokens share one backend call
    (each row keeps its own budget through ``limits``); other differences get a call each.
    ``on_done(key, record)`` is called as each case finishes (the runner appends it to cases.jsonl at once).
    Returns timing totals: wall seconds, backend calls, model turns, completion tokens.
    """
    workers = max(1, int(workers))
    pending = iter(jobs)
    active: list[list[Any]] = []          # [key, generator, messages waiting for a turn, config]
    stats = {'seconds': 0.0, 'batches': 0, 'turns': 0, 'completion_tokens': 0}
    started = time.perf_counter()

    def admit() -> bool:
        for job in pending:
            key, gen = job[0], job[1]
            job_config = job[2] if len(job) > 2 else config
            try:
                messages = next(gen)
            except StopIteration as stop:      # an episode that needed no model turn
                on_done(key, stop.value)
                continue
            active.append([key, gen, messages, job_config])
            return True
        return False

    while True:
        while len(active) < workers and admit():
            pass
        if not active:
            break
        groups: dict[GenerationConfig, list[list[Any]]] = {}
        for item in active:
            groups.setdefault(replace(item[3], max_new_tokens=0), []).append(item)
        still = []
        for items in groups.values():
            budgets = [item[3].max_new_tokens for item in items]
            shared = replace(items[0][3], max_new_tokens=max(budgets))
            messages = [item[2] for item in items]
            if len(set(budgets)) > 1:
                outs = backend.generate(messages, shared, limits=budgets)
            else:
                outs = backend.generate(messages, shared)
            stats['batches'] += 1
            stats['turns'] += len(outs)
            for item, out in zip(items, outs):
                stats['completion_tokens'] += out.completion_tokens
                try:
                    item[2] = item[1].send(out)
                    still.append(item)
                except StopIteration as stop:
                    on_done(item[0], stop.value)
        active = still
    stats['seconds'] = time.perf_counter() - started
    return stats
