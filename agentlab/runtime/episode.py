"""The ReAct episode, written once.

An episode is a generator: it yields the chat messages it needs a model turn for, receives the backend's
:class:`~agentlab.runtime.backends.Generation`, classifies it (:func:`~agentlab.runtime.trace.classify`), acts on it
(runs the tool, or tells the model what was wrong with its step) and feeds the observation back as a ``Response:``
user turn, until the model finishes, a ``stop`` rule says so, or ``max_steps`` turns have been taken.

Who drives it decides how generation happens: :class:`~agentlab.runtime.agent.Agent` (``run`` and ``stream``) sends
one turn at a time; the eval scheduler (:func:`agentlab.runtime.batch.drive`) keeps many episodes in flight and
batches their turns; the react suite and BFCL's multi-call categories wrap it with their own ``act`` and ``stop``.
Nothing here knows which model answers.
"""

from __future__ import annotations

import time
from typing import Callable, Generator

from agentlab.runtime import protocol
from agentlab.runtime.trace import Step, classify

Messages = list[dict]


def finished(step: Step) -> bool:
    """The default stop rule: the model wrote a Final Answer."""
    return step.kind == 'finish'


def act(step: Step, tools) -> None:
    """Carry out a classified step with ``tools`` (a ToolBox): run its call (the arguments are validated against
    the tool's schema first, and a tool never raises), or tell the model what was wrong with its output."""
    if step.kind in ('format_error', 'args_error'):
        step.observation = step.feedback
        return
    result = tools.call(step.tool, step.arguments)
    step.tool_seconds = result.seconds
    step.observation = result.text
    if not result.ok:
        step.error = result.error
        if result.error in ('invalid_arguments', 'unknown_tool'):
            step.kind = 'args_error'


class ReactEpisode:
    """One episode over ``messages`` (the system prompt, history and request; extended in place as it runs).

    ``act(step)`` carries a step out (sets its observation); None means the caller only records what the model
    wrote. ``stop(step)`` ends the episode right after a step is classified, before it is acted on."""

    def __init__(self, messages: Messages, act: Callable[[Step], None] | None, max_steps: int,
                 parse_mode: protocol.ParseMode = 'tolerant', stop: Callable[[Step], bool] = finished):
        if max_steps < 1:
            raise ValueError('an episode needs at least one turn')
        self.messages = messages
        self.act = act
        self.max_steps = max_steps
        self.parse_mode = parse_mode
        self.stop = stop
        self.steps: list[Step] = []

    def turns(self) -> Generator[Messages, object, list[Step]]:
        for turn in range(self.max_steps):
            gen = yield [dict(m) for m in self.messages]
            started = time.perf_counter()
            step = classify(gen.text, self.parse_mode, gen, index=turn)
            self.steps.append(step)
            self.messages.append({'role': 'assistant', 'content': gen.text.rstrip()})
            if self.stop(step):
                step.runtime_seconds = time.perf_counter() - started
                break
            if self.act is not None:
                self.act(step)
            self.messages.append({'role': 'user', 'content': protocol.render_response(step.observation or '')})
            # Everything but the model's forward passes and the tool: parsing, validation, rendering.
            step.runtime_seconds = max(0.0, time.perf_counter() - started - step.tool_seconds)
        return self.steps

    @property
    def final_answer(self) -> str | None:
        last = self.steps[-1] if self.steps else None
        return last.answer if last is not None and last.kind == 'finish' else None
