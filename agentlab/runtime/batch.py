"""The scheduler that batches episodes: many ReAct episodes in flight, their pending turns sent to the backend as
one batch per round.

An episode is a generator (:class:`agentlab.runtime.episode.ReactEpisode` wrapped by a suite): it yields the chat
messages it needs a model turn for, receives the backend's Generation, and finally returns its record
(``StopIteration.value``). The scheduler keeps up to ``workers`` episodes in flight and sends all their pending turns
to the backend as one batch: one batched forward pass for the in-process transformers backend, concurrent requests
for an endpoint. Multi-step episodes join the next batch with their next turn, so a batch is always full while
cases remain.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable, Generator, Iterable

from agentlab.runtime.backends.base import Backend, Generation, GenerationConfig

Messages = list[dict]
Episode = Generator[Messages, Generation, dict]


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
