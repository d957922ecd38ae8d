"""The ReAct agent: agentlab's runtime over Lagent's action system, one episode at a time.

Not `lagent.agents.ReAct`: that feeds tool results back as system turns, while Agent-FLAN's data (and so every model
agentlab tunes) sees them as user turns beginning ``Response:``. The episode itself is
:class:`agentlab.runtime.episode.ReactEpisode`, the same one the evals run; every turn is rendered through
`agentlab.runtime.protocol`, so what the runtime sends is byte-identical to what the training data renders.

    from agentlab import Agent
    agent = Agent.from_spec('smollm2-135m', tools='calculator,dates')
    trace = agent.run('What is 17 * 23?')
    print(trace.final_answer)
    for step in agent.stream('How many days from 2024-01-01 to 2024-03-01?'):
        print(step.kind, step.tool, step.observation)
"""

from __future__ import annotations

import time
from typing import Iterator, Mapping, Sequence

from agentlab.runtime import protocol
from agentlab.runtime.backends import Backend, BackendOptions, GenerationConfig, make_backend
from agentlab.runtime.episode import ReactEpisode, act
from agentlab.runtime.trace import Step, Trace, TraceStep
from agentlab.tools import ToolBox

__all__ = ['Agent', 'Trace', 'TraceStep', 'Step']


class Agent:
    def __init__(self, backend: Backend, tools: ToolBox | None = None, max_turns: int = 4,
                 parse_mode: protocol.ParseMode = 'tolerant', lang: protocol.Lang = 'en',
                 generation: GenerationConfig = GenerationConfig()):
        self.backend = backend
        self.tools = tools if tools is not None else ToolBox.from_spec(None)
        self.max_turns = max_turns
        self.parse_mode = parse_mode
        self.lang = lang
        self.generation = generation
        self.last_trace: Trace | None = None

    @classmethod
    def from_spec(cls, model: str, tools: str | Sequence[str] | None = None,
                  backend_options: BackendOptions | None = None, **kwargs) -> 'Agent':
        return cls(make_backend(model, backend_options), ToolBox.from_spec(tools), **kwargs)

    def initial_messages(self, query: str, history: Sequence[Mapping[str, str]] = ()) -> list[dict]:
        return protocol.render_messages(self.tools.descriptions(), query, [], lang=self.lang, history=history)

    def run(self, query: str, history: Sequence[Mapping[str, str]] = ()) -> Trace:
        """The whole episode; the same loop as :meth:`stream`, run to its end."""
        for _ in self.stream(query, history):
            pass
        assert self.last_trace is not None
        return self.last_trace

    def stream(self, query: str, history: Sequence[Mapping[str, str]] = ()) -> Iterator[Step]:
        """Yield each step as it completes; the finished Trace is then in ``self.last_trace``."""
        started = time.perf_counter()
        messages = self.initial_messages(query, history)
        trace = Trace(query, getattr(self.backend, 'name', '?'), self.tools.names(), messages=messages,
                      generation=self.generation.to_dict())
        self.last_trace = trace
        episode = ReactEpisode(messages, lambda step: act(step, self.tools), self.max_turns, self.parse_mode)
        turns = episode.turns()
        request = next(turns)
        while request is not None:
            t0 = time.perf_counter()
            gen = self.backend.generate([request], self.generation)[0]
            try:
                request = turns.send(gen)
            except StopIteration:
                request = None
            step = episode.steps[-1]
            # Everything but the model's forward passes and the tool: templating, tokenizing, decoding, parsing.
            step.runtime_seconds = max(0.0, time.perf_counter() - t0 - gen.seconds - step.tool_seconds)
            trace.steps.append(step)
            yield step
        if episode.final_answer is not None:
            trace.final_answer, trace.status = episode.final_answer, 'finished'
        else:
            trace.status = 'max_turns'
            trace.final_answer = protocol.DEFAULT_GIVE_UP
            give_up = Step(len(trace.steps), 'give_up', '', answer=protocol.DEFAULT_GIVE_UP)
            trace.steps.append(give_up)
            yield give_up
        trace.seconds = time.perf_counter() - started
