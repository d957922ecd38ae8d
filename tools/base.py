"""Tools are Lagent 0.2.4 actions (BaseAction + tool_api); this module adds what the runtime needs on top:
a JSON schema per callable function, validation of the model's arguments against it before anything runs, and a
uniform result (observation text or error) that never raises.

A Lagent action is either a single tool (a ``run`` method; its name is the action's name) or a toolkit (several
``@tool_api`` methods, called as ``Action.method``). Either way agentlab sees a flat list of functions whose names
stay whole (dots included), as Agent-FLAN's data writes them.
"""

from __future__ import annotations

import inspect
import json
import time
import typing
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import jsonschema
from lagent.actions import BaseAction
from lagent.schema import ActionStatusCode

# Lagent's type words -> JSON schema types.
_JSON_TYPES = {'STRING': 'string', 'NUMBER': 'integer', 'FLOAT': 'number', 'BOOLEAN': 'boolean',
               'Array': 'array', 'OBJECT': 'object'}


class AgentlabAction(BaseAction):
    """Base for agentlab's built-in actions.

    ``tool_name`` lets a class keep the public name models are trained on (``ArxivSearch``) while its Python class
    name differs: Lagent registers every action class globally by name and already owns ``ArxivSearch`` and
    ``PythonInterpreter``. ``schemas`` may refine an API's JSON schema (enums, bounds) beyond what Lagent's
    docstring parser infers.
    """

    tool_name: str | None = None
    schemas: dict[str, dict] = {}

    def __init__(self, **kwargs):
        desc = dict(self.__tool_description__)
        if self.tool_name:
            desc['name'] = self.tool_name
        super().__init__(description=desc, **kwargs)


@dataclass
class ToolResult:
    ok: bool
    text: str                    # what goes back to the model after "Response:"
    error: str | None = None     # 'invalid_arguments' | 'tool_error' | 'unknown_tool'
    seconds: float = 0.0
    value: Any = None


@dataclass
class ToolFunction:
    """One callable function of an action, as offered to a model."""
    name: str                    # full name, e.g. 'ArxivSearch.get_arxiv_article_information'
    api: str                     # Lagent api name ('run' for single tools)
    action: BaseAction
    description: dict            # Lagent-style description (what the system prompt shows)
    schema: dict                 # JSON schema of the arguments object

    def validate(self, arguments: Any) -> str | None:
        """None when valid, else a one-line reason the model can act on."""
        if not isinstance(arguments, Mapping):
            return f'arguments must be a JSON object, got {type(arguments).__name__}'
        errors = sorted(jsonschema.Draft7Validator(self.schema).iter_errors(dict(arguments)),
                        key=lambda e: list(e.path))
        if not errors:
            return None
        err = errors[0]
        where = '.'.join(str(p) for p in err.path)
        return f'invalid arguments for {self.name}: {where + ": " if where else ""}{err.message}'

    def __call__(self, arguments: Mapping[str, Any]) -> ToolResult:
        start = time.perf_counter()
        problem = self.validate(arguments)
        if problem:
            return ToolResult(False, problem, 'invalid_arguments', time.perf_counter() - start)
        try:
            ret = self.action(json.dumps(dict(arguments), ensure_ascii=False), self.api)
        except Exception as exc:   # a tool must never crash the agent
            return ToolResult(False, f'{type(exc).__name__}: {exc}', 'tool_error', time.perf_counter() - start)
        seconds = time.perf_counter() - start
        if ret.state != ActionStatusCode.SUCCESS:
            return ToolResult(False, str(ret.errmsg or 'tool failed'), 'tool_error', seconds)
        return ToolResult(True, ret.format_result(), None, seconds, value=ret.result)


def _param_schema(param: dict) -> dict:
    schema: dict[str, Any] = {'type': _JSON_TYPES.get(param.get('type', 'STRING'), 'string')}
    if schema['type'] == 'number':
        schema['type'] = ['number', 'integer']
    for key in ('enum', 'items', 'properties', 'minimum', 'maximum'):
        if key in param:
            schema[key] = param[key]
    if param.get('description'):
        schema['description'] = param['description']
    return schema


def _signature_types(method: Callable) -> dict[str, dict]:
    """Sharper types from the Python signature than Lagent's docstring parser gives (Literal -> enum, list[x])."""
    out: dict[str, dict] = {}
    try:
        hints = typing.get_type_hints(method, include_extras=True)
    except Exception:
        return out
    for name, hint in hints.items():
        if name == 'return':
            continue
        if typing.get_origin(hint) is typing.Annotated:
            hint = typing.get_args(hint)[0]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is typing.Union and type(None) in args:
            hint = next(a for a in args if a is not type(None))
            origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is typing.Literal:
            out[name] = {'enum': list(args)}
        elif origin in (list, tuple) and args and args[0] in (str, int, float):
            out[name] = {'items': {'type': {str: 'string', int: 'integer', float: 'number'}[args[0]]}}
        elif hint is float:
            out[name] = {'type': ['number', 'integer']}
    return out


def functions_of(action: BaseAction) -> list[ToolFunction]:
    """Flatten a Lagent action into the functions a model can call."""
    desc = action.description
    apis = desc['api_list'] if action.is_toolkit else [desc]
    out = []
    for api in apis:
        api_name = api['name'] if action.is_toolkit else 'run'
        full = f'{action.name}.{api["name"]}' if action.is_toolkit else action.name
        d = dict(api)
        d['name'] = full
        method = getattr(action, api_name)
        sharper = _signature_types(inspect.unwrap(method))
        props = {}
        for p in d.get('parameters', []):
            props[p['name']] = _param_schema(p) | sharper.get(p['name'], {})
        schema = {'type': 'object', 'properties': props, 'required': list(d.get('required', [])),
                  'additionalProperties': False}
        overrides = getattr(action, 'schemas', {}).get(api_name)
        if overrides:
            for pname, extra in overrides.items():
                schema['properties'].setdefault(pname, {}).update(extra)
        out.append(ToolFunction(full, api_name, action, d, schema))
    return out
