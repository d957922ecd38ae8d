"""What a model turn did, and what a whole episode did: one step type and the one classifier that makes it.

Every consumer of model output reads a :class:`Step`: the agent (``agent.stream`` yields them), the demo and the
terminal chat (they render them), and every eval suite (``cases.jsonl`` keeps them, in the field layout of
:meth:`Step.to_case`). :func:`classify` is the only place a model output becomes a step: it parses the output once
under Lagent's strict rules and once under the tolerant rules, and records both verdicts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Sequence

from agentlab.runtime import protocol


@dataclass
class Step:
    """One model turn and what came of it.

    kind: 'call' (a tool call that ran or is to run), 'finish' (a final answer), 'format_error' (no action found),
    'args_error' (unusable arguments, an unknown tool, or arguments the tool's schema refused), 'give_up' (the agent
    ran out of turns). error: 'invalid_json' | 'no_action' | 'invalid_arguments' | 'tool_error' | 'unknown_tool'.
    """
    index: int
    kind: str
    raw_output: str                       # the model's text, cut at the protocol's stop words
    thought: str = ''
    tool: str | None = None
    arguments: dict | None = None
    observation: str | None = None        # what was fed back after ``Response:`` (None when nothing was)
    error: str | None = None
    recoveries: list[str] = field(default_factory=list)   # tolerant-parse rules that fired
    answer: str | None = None
    strict: bool = False                  # parses under Lagent's strict rules (a JSON call, or a finish)
    tolerant: bool = False                # parses under the tolerant rules
    strict_call: dict | None = None       # the call as Lagent's strict parser reads it ({"name", "arguments"})
    prompt_tokens: int = 0
    completion_tokens: int = 0
    generation_seconds: float = 0.0
    finish_reason: str = ''
    tool_seconds: float = 0.0
    runtime_seconds: float = 0.0          # agentlab's own work in this step (templating, parsing, bookkeeping)
    feedback: str | None = field(default=None, repr=False)   # what the runtime tells the model if it cannot run

    def to_case(self) -> dict:
        """The step as ``cases.jsonl`` keeps it (``steps_detail``; docs/results-schema.md)."""
        return {'output': self.raw_output, 'kind': self.kind, 'strict': self.strict, 'tolerant': self.tolerant,
                'name': self.tool, 'arguments': self.arguments, 'recoveries': list(self.recoveries),
                'answer': self.answer, 'observation': self.observation, 'error': self.error,
                'strict_call': self.strict_call, 'prompt_tokens': self.prompt_tokens,
                'completion_tokens': self.completion_tokens, 'seconds': self.generation_seconds,
                'finish_reason': self.finish_reason}

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop('feedback')
        return d


TraceStep = Step      # the name the public API has always used


def classify(output: str, mode: protocol.ParseMode, gen=None, index: int = 0) -> Step:
    """The step a model output stands for, parsed in ``mode`` (noting whether it also parses strictly and
    tolerantly). Nothing runs here: :func:`agentlab.runtime.episode.act` runs a call."""
    strict, tolerant = protocol.parse_both(output)
    parsed = strict if mode == 'strict' else tolerant
    step = Step(index, 'call', output, thought=parsed.thought, recoveries=list(parsed.recoveries),
                strict=strict.ok, tolerant=tolerant.ok)
    if strict.ok and strict.kind == 'call':
        step.strict_call = {'name': strict.name, 'arguments': strict.arguments}
    if parsed.kind == 'finish':
        step.kind, step.answer = 'finish', parsed.answer
    elif parsed.kind == 'none':
        step.kind, step.error, step.feedback = 'format_error', 'no_action', protocol.NO_ACTION_MESSAGE
    elif parsed.arguments is None:
        step.kind, step.tool, step.error, step.feedback = 'args_error', parsed.name, 'invalid_json', parsed.error
    else:
        step.tool, step.arguments = parsed.name, dict(parsed.arguments)
    if gen is not None:
        step.prompt_tokens, step.completion_tokens = gen.prompt_tokens, gen.completion_tokens
        step.generation_seconds, step.finish_reason = gen.seconds, gen.finish_reason
    return step


def transcript(steps: Sequence[Step]) -> str:
    """The model's side of an episode as one readable text (outputs, with the observations fed back)."""
    parts = []
    for s in steps:
        parts.append(s.raw_output.rstrip())
        if s.observation is not None and s.kind != 'finish':
            parts.append(protocol.render_response(s.observation).rstrip('\n'))
    return '\n'.join(parts)


def usage(steps: Sequence[Step]) -> dict:
    return {'steps': len(steps), 'prompt_tokens': sum(s.prompt_tokens for s in steps),
            'completion_tokens': sum(s.completion_tokens for s in steps),
            'generation_seconds': round(sum(s.generation_seconds for s in steps), 4)}


@dataclass
class Trace:
    """One agent episode: the query, every step, the final answer, and the messages as the model saw them."""
    query: str
    model: str
    tools: list[str]
    steps: list[Step] = field(default_factory=list)
    final_answer: str | None = None
    status: str = 'running'        # 'finished' | 'max_turns' | 'error'
    messages: list[dict] = field(default_factory=list)
    generation: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d['steps'] = [s.to_dict() for s in self.steps]
        return d

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)
