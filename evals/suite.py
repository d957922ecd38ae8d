"""What the eval runner needs of a suite (:class:`Suite`), and the registry of suite kinds, resolved on use.

A suite spec is ``KIND:ARG`` (``bfcl:simple_python``, ``react:builtin``, ``agentflan:FILE``). :data:`SUITES` maps each
kind to ``"module:Class"``; the class is imported only when a spec names it, the way lm-evaluation-harness registers
its models. A new suite is a class with the members below plus one line here (docs/evaluation.md: add a suite).
Each metric a suite reports declares its direction where the suite defines it (``rate_of(..., higher_is_better=)``).
"""

from __future__ import annotations

import importlib
from typing import Any, Generator, Protocol, Sequence

from agentlab.errors import AgentlabError
from agentlab.runtime.backends.base import Generation, GenerationConfig

SUITES: dict[str, str] = {
    'bfcl': 'agentlab.evals.suites.bfcl:BFCLSuite',
    'react': 'agentlab.evals.suites.react.suite:ReactSuite',
    'agentflan': 'agentlab.evals.suites.agentflan:AgentFlanSuite',
}


class Suite(Protocol):
    """One evaluation suite: its cases, how each runs as an episode, and how its records become metrics."""
    name: str                 # 'bfcl:simple_python': the suite's key in results.json and cases.jsonl
    kind: str                 # 'bfcl' | 'react' | 'agentflan'
    primary_metric: str       # the headline metric's name

    def cases(self) -> Sequence[dict]: ...                 # every case, each with an 'id'

    def prompt_size(self, case: dict) -> int: ...          # a cheap size, so similar prompts share a batch

    def generation(self) -> GenerationConfig: ...          # the suite's generation settings (greedy, token budget)

    def settings(self) -> dict: ...                        # what a resumed run must match (max_steps included)

    def data_info(self) -> dict: ...                       # where the cases came from, with hashes

    def episode(self, case: dict) -> Generator[list[dict], Generation, dict]: ...   # yields turns, returns a record

    def metrics(self, records: list[dict]) -> dict[str, Any]: ...                # name -> rate (metrics.rate)


def make_suite(spec: str, parse_mode: str = 'tolerant') -> Suite:
    """The suite a spec names, its class imported now."""
    kind, _, arg = spec.strip().partition(':')
    if kind not in SUITES or not arg:
        raise AgentlabError(f'unknown suite {spec.strip()!r}; use bfcl:CATEGORY, react:builtin or agentflan:FILE')
    module, _, cls = SUITES[kind].partition(':')
    return getattr(importlib.import_module(module), cls)(arg, parse_mode=parse_mode)


def parse_suites(spec: str | Sequence[str], parse_mode: str = 'tolerant') -> list[Suite]:
    """Suite objects for `bfcl:CAT,react:builtin,agentflan:FILE`."""
    items = [s.strip() for s in (spec.split(',') if isinstance(spec, str) else spec) if s and s.strip()]
    if not items:
        raise AgentlabError('no suite given; e.g. --suite bfcl:simple_python,react:builtin')
    suites = [make_suite(item, parse_mode) for item in items]
    names = [s.name for s in suites]
    if len(set(names)) != len(names):
        raise AgentlabError(f'a suite is named twice: {", ".join(names)}')
    return suites
