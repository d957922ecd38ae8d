"""What every backend is: ``generate(batch, config, limits)`` returns one Generation per chat conversation, cut at
the protocol's stop words so a model can never write a tool's result itself."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Iterable, Protocol, Sequence

from agentlab.runtime import protocol

Messages = list[dict]


@dataclass(frozen=True)
class GenerationConfig:
    max_new_tokens: int = 256
    temperature: float = 0.0           # 0 = greedy
    top_p: float = 1.0
    stop: tuple[str, ...] = protocol.STOP_WORDS
    seed: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Generation:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    finish_reason: str = ''            # 'stop' | 'length' | 'stop_word'


@dataclass(frozen=True)
class Constraint:
    """What a constrained continuation may write: one of ``options`` (kind 'choice'), or one JSON value that
    matches ``schema`` (kind 'json', written compactly as protocol.render_arguments does). Engines that take one
    (transformers through xgrammar, llama.cpp through its GBNF grammars) implement ``continue_text``."""
    kind: str                                  # 'choice' | 'json'
    options: tuple[str, ...] = ()
    schema: dict | None = None

    def key(self) -> str:
        import json
        return json.dumps([self.kind, list(self.options), self.schema], sort_keys=True)


def cut_at_stop(text: str, stop: Iterable[str]) -> tuple[str, bool]:
    """Text up to the earliest stop word, and whether one was found."""
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut], cut != len(text)


def row_configs(config: GenerationConfig, limits: Sequence[int] | None, n: int) -> list[GenerationConfig]:
    """One config per row: ``config`` with each row's own max_new_tokens where ``limits`` gives them."""
    if limits is None:
        return [config] * n
    if len(limits) != n:
        raise ValueError(f'{len(limits)} token limits for {n} conversations')
    return [replace(config, max_new_tokens=int(k)) for k in limits]


class Continuing(Protocol):
    """A backend that can go on from a partly written assistant turn: the prompt is ``messages`` rendered with the
    generation prompt, then ``prefix``; the text returned is only what follows it, optionally constrained."""

    def continue_text(self, messages: Messages, prefix: str, config: GenerationConfig,
                      constraint: Constraint | None = None) -> Generation: ...


class Backend(Protocol):
    """``generate(batch, config, limits)``: one Generation per conversation. ``limits``, when given, is each row's
    own max_new_tokens (at most config.max_new_tokens): an eval run batches the turns of suites whose token budgets
    differ, and every row must end exactly where it would have ended alone."""
    name: str

    def generate(self, batch: Sequence[Messages], config: GenerationConfig,
                 limits: Sequence[int] | None = None) -> list[Generation]: ...
