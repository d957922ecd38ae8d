"""Tool discovery: built-ins by short name, the `agentlab.tools` entry-point group, or `package.module:Class`."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Iterable, Mapping

from lagent.actions import BaseAction

from agentlab.errors import AgentlabError
from agentlab.tools.base import ToolFunction, ToolResult, functions_of
from agentlab.tools.builtin import BUILTIN_ACTIONS, DEFAULT_TOOLS

ENTRY_POINT_GROUP = 'agentlab.tools'


def _entry_point_actions() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> list[str]:
    """Every name `--tools` accepts without a module path."""
    return list(BUILTIN_ACTIONS) + sorted(_entry_point_actions())


def load_action(ref: str) -> BaseAction:
    """Instantiate one action from a built-in name, an entry-point name, or `package.module:Class`."""
    ref = ref.strip()
    if ref in BUILTIN_ACTIONS:
        return BUILTIN_ACTIONS[ref]()
    eps = _entry_point_actions()
    if ref in eps:
        obj = eps[ref].load()
    elif ':' in ref:
        module, _, attr = ref.partition(':')
        try:
            obj = getattr(importlib.import_module(module), attr)
        except ImportError as exc:
            raise AgentlabError(f'cannot import tool module {module!r}: {exc}') from None
        except AttributeError:
            raise AgentlabError(f'module {module!r} has no {attr!r}') from None
    else:
        raise AgentlabError(f'unknown tool {ref!r}; built-in: {", ".join(available())}, or package.module:Class')
    action = obj() if isinstance(obj, type) else obj
    if not isinstance(action, BaseAction):
        raise AgentlabError(f'{ref} is not a Lagent action (lagent.actions.BaseAction)')
    return action


class ToolBox:
    """The functions offered to a model in one episode, by name; calls are validated and never raise."""

    def __init__(self, actions: Iterable[BaseAction | str] = ()):
        self.functions: dict[str, ToolFunction] = {}
        for a in actions:
            for fn in functions_of(load_action(a) if isinstance(a, str) else a):
                if fn.name in self.functions:
                    raise AgentlabError(f'two tools are both named {fn.name!r}')
                self.functions[fn.name] = fn

    @classmethod
    def from_spec(cls, spec: str | Iterable[str] | None) -> 'ToolBox':
        if spec is None:
            return cls(DEFAULT_TOOLS)
        names = [s for s in (spec.split(',') if isinstance(spec, str) else spec) if s.strip()]
        return cls(names)

    def descriptions(self) -> list[dict]:
        return [fn.description for fn in self.functions.values()]

    def names(self) -> list[str]:
        return list(self.functions)

    def call(self, name: str, arguments: Mapping) -> ToolResult:
        fn = self.functions.get(name)
        if fn is None:
            return ToolResult(False, f'{name} is not a valid tool, try one of {self.names()}.', 'unknown_tool')
        return fn(arguments)
