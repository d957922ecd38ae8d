"""The ReAct agent: agentlab's own loop over Lagent's action system.

Not `lagent.agents.ReAct`: that feeds tool results back as system turns, while Agent-FLAN's data (and so every model
agentlab tunes) sees them as user turns beginning ``Response:``. The loop here renders every turn through
`agentlab.protocol`, so what the runtime sends is byte-identical to what the training data renders.

    from agentlab import Agent
    agent = Agent.from_spec('smollm2-135m', tools='calculator,dates')
    trace = agent.run('What is 17 * 23?')
    print(trace.final_answer)
    for step in agent.stream('How many days from 2024-01-01 to 2024-03-01?'):
        print(step.kind, step.tool, step.observation)
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Iterator, Mapping, Sequence

from agentlab import protocol
from agentlab.llms import Backend, BackendOptions, GenerationConfig, make_backend
from agentlab.tools import ToolBox


@dataclass
class TraceStep:
    """One model turn and what came of it."""
    index: int
    kind: str                      # 'call' | 'finish' | 'format_error' | 'args_error' | 'give_up'
    raw_output: str
    thought: str = ''
    tool: str | None = None
    arguments: dict | None = None
    observation: str | None = None
    error: str | None = None       # 'invalid_json' | 'no_action' | 'invalid_arguments' | 'tool_error' | 'unknown_tool'
    recoveries: list[str] = field(default_factory=list)
    answer: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    generation_seconds: float = 0.0
    tool_seconds: float = 0.0
    runtime_seconds: float = 0.0   # agentlab's own work in this step (templating, tokenizing, parsing, bookkeeping)


@dataclass
class Trace:
    query: str
    model: str
    tools: list[str]
    steps: list[TraceStep] = field(default_factory=list)
    final_answer: str | None = None
    status: str = 'running'        # 'finished' | 'max_turns' | 'error'
    messages: list[dict] = field(default_factory=list)
    generation: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)


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

    @classmethod
    def from_spec(cls, model: str, tools: str | Sequence[str] | None = None,
                  backend_options: BackendOptions | None = None, **kwargs) -> 'Agent':
        return cls(make_backend(model, backend_options), ToolBox.from_spec(tools), **kwargs)

    def initial_messages(self, query: str, history: Sequence[Mapping[str, str]] = ()) -> list[dict]:
        return protocol.render_messages(self.tools.descriptions(), query, [], lang=self.lang, history=history)

    def run(self, query: str, history: Sequence[Mapping[str, str]] = ()) -> Trace:
        trace = None
        for item in self._loop(query, history):
            if isinstance(item, Trace):
                trace = item
        assert trace is not None
        return trace

    def stream(self, query: str, history: Sequence[Mapping[str, str]] = ()) -> Iterator[TraceStep]:
        """Yield each step as it completes; the finished Trace is then in ``self.last_trace``."""
        for item in self._loop(query, history):
            if isinstance(item, Trace):
                self.last_trace = item
            else:
                yield item

    def _loop(self, query: str, history: Sequence[Mapping[str, str]]) -> Iterator[TraceStep | Trace]:
        started = time.perf_counter()
        messages = self.initial_messages(query, history)
        trace = Trace(query, getattr(self.backend, 'name', '?'), self.tools.names(), messages=messages,
                      generation=self.generation.to_dict())
        for turn in range(self.max_turns):
            t0 = time.perf_counter()
            gen = self.backend.generate([messages], self.generation)[0]
            step = self._step(turn, gen.text)
            step.prompt_tokens, step.completion_tokens = gen.prompt_tokens, gen.completion_tokens
            step.generation_seconds = gen.seconds
            messages.append({'role': 'assistant', 'content': gen.text.rstrip()})
            if step.kind == 'finish':
                trace.final_answer = step.answer
                trace.status = 'finished'
            else:
                messages.append({'role': 'user', 'content': protocol.render_response(step.observation or '')})
            # Everything but the model's forward passes and the tool: templating, tokenizing, decoding, parsing.
            step.runtime_seconds = max(0.0, time.perf_counter() - t0 - gen.seconds - step.tool_seconds)
            trace.steps.append(step)
            yield step
            if step.kind == 'finish':
                break
        else:
            trace.status = 'max_turns'
            trace.final_answer = protocol.DEFAULT_GIVE_UP
            give_up = TraceStep(len(trace.steps), 'give_up', '', answer=protocol.DEFAULT_GIVE_UP)
            trace.steps.append(give_up)
            yield give_up
        trace.seconds = time.perf_counter() - started
        yield trace

    def _step(self, index: int, text: str) -> TraceStep:
        parsed = protocol.parse(text, self.parse_mode)
        step = TraceStep(index, 'call', text, thought=parsed.thought, recoveries=list(parsed.recoveries))
        if parsed.kind == 'finish':
            step.kind, step.answer = 'finish', parsed.answer
        elif parsed.kind == 'none':
            step.kind, step.error, step.observation = 'format_error', 'no_action', protocol.NO_ACTION_MESSAGE
        elif parsed.arguments is None:
            step.kind, step.tool, step.error = 'args_error', parsed.name, 'invalid_json'
            step.observation = parsed.error
        else:
            step.tool, step.arguments = parsed.name, parsed.arguments
            result = self.tools.call(parsed.name, parsed.arguments)
            step.tool_seconds = result.seconds
            step.observation = result.text
            if not result.ok:
                step.error = result.error
                if result.error in ('invalid_arguments', 'unknown_tool'):
                    step.kind = 'args_error'
        return step
