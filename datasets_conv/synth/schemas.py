"""Function schemas as the data engine reads them: BFCL/Python-flavoured type words normalised to JSON schema, the
catalog's own rules, the BFCL dialect of a schema, and value generators inferred from a schema."""

from __future__ import annotations

import re
from typing import Any, Mapping

import jsonschema

from agentlab.datasets_conv.synth import values as V
from agentlab.runtime import protocol

NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$')
JSON_TYPES = ('string', 'integer', 'number', 'boolean', 'array', 'object')
# BFCL and other Python-flavoured schemas use Python type words; validation maps them to JSON schema's
# (protocol.json_schema, shared with the serve client's OpenAI tools).


# --- schemas --------------------------------------------------------------------------------------------------

def normalize_schema(schema: Any) -> Any:
    """A Python-flavoured (BFCL-style) parameter schema as standard JSON schema, for validation."""
    return protocol.json_schema(schema, widen_numbers=True)


def check_parameters(name: str, params: Any, strict: bool) -> list[str]:
    """Problems with a function's parameters schema (strict: the repository catalog's own rules)."""
    problems = []
    if not isinstance(params, dict) or params.get('type') not in ('object', 'dict'):
        return [f'{name}: parameters must be a JSON schema object ({{"type": "object", "properties": ...}})']
    props = params.get('properties') or {}
    if not isinstance(props, dict):
        return [f'{name}: parameters.properties must be an object']
    required = params.get('required') or []
    for r in required:
        if r not in props:
            problems.append(f'{name}: required parameter {r!r} is not in properties')
    try:
        jsonschema.Draft7Validator.check_schema(normalize_schema(params))
    except jsonschema.SchemaError as exc:
        problems.append(f'{name}: invalid JSON schema: {exc.message}')
    if not strict:
        return problems
    for pname, p in props.items():
        where = f'{name}.{pname}'
        if not NAME_RE.match(pname) or '.' in pname:
            problems.append(f'{where}: parameter names are identifiers')
        if p.get('type') not in JSON_TYPES:
            problems.append(f'{where}: type must be one of {", ".join(JSON_TYPES)}')
        if not str(p.get('description', '')).strip():
            problems.append(f'{where}: no description')
        if p.get('type') == 'array' and 'items' not in p:
            problems.append(f'{where}: array without items')
        if 'default' in p:
            if pname in required:
                problems.append(f'{where}: a required parameter has a default')
            elif list(jsonschema.Draft7Validator(normalize_schema(p)).iter_errors(p['default'])):
                problems.append(f'{where}: default {p["default"]!r} does not fit its own schema')
    return problems


def validation_schema(params: dict) -> dict:
    schema = normalize_schema(params)
    schema['type'] = 'object'
    schema.setdefault('properties', {})
    schema.setdefault('required', [])
    schema['additionalProperties'] = False     # an invented argument is an error, as in the runtime
    return schema


def bfcl_dialect(display: Mapping[str, Any]) -> dict:
    """The same function schema in the Python-flavoured type words BFCL writes ('dict', 'float'): both dialects
    appear in the wild, and tool_description passes nested item and property types through unchanged."""
    def walk(s: Any) -> Any:
        if isinstance(s, list):
            return [walk(x) for x in s]
        if not isinstance(s, dict):
            return s
        out = {}
        for k, v in s.items():
            if k == 'type' and isinstance(v, str):
                out[k] = {'object': 'dict', 'number': 'float'}.get(v, v)
            elif k == 'properties' and isinstance(v, dict):
                out[k] = {pk: walk(pv) for pk, pv in v.items()}
            elif k == 'items':
                out[k] = walk(v)
            else:
                out[k] = v
        return out
    if not isinstance(display.get('parameters'), dict):
        return dict(display)
    return {**display, 'parameters': walk(display['parameters'])}


# --- inferred values and generic phrasings (tools nobody wrote phrasings for) ---------------------------------

_STRING_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (('email',), 'email'), (('phone',), 'phone'), (('url', 'link', 'website'), 'url'),
    (('date', 'day', 'birthday', 'deadline'), 'date:iso'), (('time',), 'time'),
    (('city', 'location', 'place', 'destination', 'origin'), 'pool:city'), (('country',), 'pool:country'),
    (('language', 'lang'), 'pool:language'), (('currency',), 'pool:currency_code'),
    (('company', 'organization', 'organisation'), 'pool:company'), (('ticker', 'symbol', 'stock'), 'pool:ticker'),
    (('author', 'name', 'person', 'user', 'recipient', 'contact', 'player'), 'pool:person'),
    (('title', 'book'), 'pool:book'), (('movie', 'film'), 'pool:movie'), (('food', 'dish', 'recipe'), 'pool:dish'),
    (('team',), 'pool:team'), (('id',), 'id:ID-'), (('code', 'command', 'expression'), 'pool:expression'),
    (('message', 'text', 'content', 'body', 'note', 'comment'), 'pool:sentence'),
    (('query', 'keyword', 'topic', 'search', 'subject', 'term'), 'pool:topic'),
)


def _string_spec(name: str, desc: str) -> str:
    words = set(re.findall(r'[a-z]+', name.lower()))
    for keys, spec in _STRING_HINTS:
        if words.intersection(keys):
            return spec
    low = desc.lower()
    if 'yyyy-mm-dd' in low:
        return 'date:iso'
    return 'pool:topic'


def _infer(name: str, schema: Mapping[str, Any]) -> Any:
    if 'enum' in schema and schema['enum']:
        return list(schema['enum'])
    kind = schema.get('type')
    kind = next((k for k in kind if k != 'null'), 'string') if isinstance(kind, list) else kind
    desc = str(schema.get('description', ''))
    lname = name.lower()
    if kind == 'integer':
        lo, hi = 1, 100
        if 'year' in lname:
            lo, hi = 1990, 2030
        elif any(w in lname for w in ('count', 'num', 'limit', 'top', 'max', 'size', 'page')):
            lo, hi = 1, 10
        lo = int(schema.get('minimum', lo))
        hi = int(schema.get('maximum', max(hi, lo)))
        return f'int:{lo}..{hi}'
    if kind == 'number':
        lo, hi = float(schema.get('minimum', 0.5)), float(schema.get('maximum', 100.0))
        return f'float:{lo}..{hi}:2' if 'price' in lname or 'amount' in lname else f'float:{lo}..{hi}:1'
    if kind == 'boolean':
        return 'bool'
    if kind == 'array':
        items = schema.get('items') if isinstance(schema.get('items'), dict) else {'type': 'string'}
        return {'list': _infer(name.rstrip('s'), items), 'min': 2, 'max': 3}
    if kind == 'object':
        props = schema.get('properties') or {}
        if not props:
            return [{'value': {'key': 'value'}, 'say': ['key set to value']}]
        return {'object': {k: _infer(k, v if isinstance(v, dict) else {}) for k, v in props.items()}}
    return _string_spec(name, desc)


def infer_values(schema: Mapping[str, Any], pool: Mapping[str, list]) -> dict[str, V.Gen]:
    """A value generator for every parameter of ``schema``, from its names, types, enums and bounds."""
    return {name: V.compile_gen(_infer(name, p if isinstance(p, dict) else {}), pool)
            for name, p in (schema.get('properties') or {}).items()}
