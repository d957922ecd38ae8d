"""The tool catalog of the data engine: what a tool looks like to the model, how to ask for it, how to fake or run it.

Sources of tools (``agentlab synth --tools``, comma-separated):

* ``builtin``: agentlab's runtime tools, exactly as the runtime describes them (``ToolBox``). The local deterministic
  ones (calculator, python, dates, units, knowledge) are really called, so observations are their real outputs.
* ``catalog``: the function schemas in ``datasets_conv/catalog/*.json`` (one file per domain), each with value
  generators, request phrasings, a result shape and, for arithmetic, a formula whose value is the result
  (:mod:`agentlab.datasets_conv.synth.formula`).
* ``package.module:Class``: any Lagent action; its tool_api descriptions give the schema.
* ``path/to/schema.json``: a catalog-format domain file, or plain function schemas (OpenAI or BFCL style:
  ``{"name", "description", "parameters"}``, a list of them, or ``{"functions"|"tools": [...]}``).

Tools without authored phrasings get values inferred from their schema (names, types, enums, bounds) and generic
request phrasings built from their descriptions.

Catalog domain file::

    {"domain": "geometry", "functions": [{
        "name": "geometry.rectangle_area",
        "description": "Compute the area of a rectangle.",
        "parameters": {"type": "object", "properties": {...}, "required": [...]},   # JSON schema
        "values":   {"length": "int:1..100", ...},           # a generator per parameter (and per extra slot)
        "requests": ["What is the area of a {length} by {width} rectangle[ in {unit}]?", ...],   # >= 3
        "requests_zh": [...],                                # optional Chinese phrasings
        "result":   {"area": "float:1..10000"},              # plausible result shape ("=param" copies an argument)
        "compute":  {"area": "length * width"},              # optional: real results (a formula over the values)
        "answer":   "The rectangle's area is {area}.",       # optional final-answer phrasing
        "order": [["min", "max"]], "distinct": [["origin", "destination"]], "overlaps": ["other.function"]}]}

Value specs, templates and the ``[optional segment]`` rule are described in :mod:`agentlab.datasets_conv.synth.values`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping

from agentlab.datasets_conv.synth import formula
from agentlab.datasets_conv.synth import values as V
from agentlab.datasets_conv.synth.functions import Function, RequestForm, Unusable, purpose_of
from agentlab.datasets_conv.synth.schemas import NAME_RE, check_parameters, infer_values, validation_schema
from agentlab.errors import AgentlabError

RESERVED_FILES = ('_pools.json', '_builtin.json', '_general.json')


def catalog_dir() -> Path:
    return Path(str(resources.files('agentlab.datasets_conv') / 'catalog'))


# --- loading --------------------------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def _read_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise AgentlabError(f'no such file: {path}') from None
    except json.JSONDecodeError as exc:
        raise AgentlabError(f'{path}: not valid JSON ({exc.msg} at line {exc.lineno})') from None


def pools() -> dict[str, list]:
    return _read_json(str(catalog_dir() / '_pools.json'))


def general_bank() -> dict:
    """Requests that need no tool, with their answers (negative split)."""
    return _read_json(str(catalog_dir() / '_general.json'))


def _compile_forms(raw_forms: Any, name: str, lang: str, pool: Mapping[str, list]) -> list[RequestForm]:
    forms = []
    for item in raw_forms or []:
        if isinstance(item, str):
            forms.append(RequestForm(V.compile_template(item)))
        elif isinstance(item, dict) and isinstance(item.get('text'), str):
            forms.append(RequestForm(V.compile_template(item['text']),
                                     {k: V.compile_template(str(t), segments=False)
                                      for k, t in (item.get('args') or {}).items()},
                                     {k: V.compile_gen(s, pool) for k, s in (item.get('values') or {}).items()}))
        else:
            raise AgentlabError(f'{name}: each {lang} request is a string or {{"text": ..., "args": ...}}')
    return forms


def _compile_result(spec: Any, name: str, pool: Mapping[str, list]) -> dict[str, Any] | None:
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise AgentlabError(f'{name}: result must be an object of field -> value spec')
    out: dict[str, Any] = {}
    for key, s in spec.items():
        if isinstance(s, str) and s.startswith('='):
            out[key] = ('copy', tuple(s[1:].split('.')))
        elif isinstance(s, dict) and 'by' in s:
            # A fact that depends on the argument (an element's atomic number): looked up, not drawn.
            if not isinstance(s.get('map'), dict):
                raise AgentlabError(f'{name}: result {key!r} needs "by" and a "map" of argument value -> result')
            out[key] = ('map', str(s['by']), dict(s['map']),
                        V.compile_gen(s['else'], pool) if 'else' in s else None)
        else:
            out[key] = V.compile_gen(s, pool)
    return out


def _as_list(x: Any) -> list:
    return [x] if isinstance(x, str) else list(x or [])


def function_from_entry(entry: Mapping[str, Any], domain: str, source: str = 'catalog',
                        display: dict | None = None, schema: dict | None = None,
                        call: Callable[[dict], str] | None = None, strict: bool = True) -> Function:
    """Build a Function from a catalog entry (raises AgentlabError with a one-line reason when it is malformed)."""
    name = entry.get('name')
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise AgentlabError(f'{domain}: bad function name {name!r} (letters, digits, _ and dots)')
    description = entry.get('description', display.get('description') if display else '')
    if not isinstance(description, str) or not description.strip():
        raise AgentlabError(f'{name}: no description')
    if schema is None:
        params = entry.get('parameters')
        problems = check_parameters(name, params, strict)
        if problems:
            raise AgentlabError(problems[0])
        schema = validation_schema(params)
        display = {'name': name, 'description': description, 'parameters': params}
    pool = pools()
    inferred = infer_values(schema, pool)
    authored_values = {k: V.compile_gen(s, pool) for k, s in (entry.get('values') or {}).items()}
    missing = [p for p in schema.get('properties', {}) if p not in authored_values and p not in inferred]
    if missing:
        raise AgentlabError(f'{name}: no value generator for {", ".join(missing)}')
    requests = {'en': _compile_forms(entry.get('requests'), name, 'en', pool),
                'zh': _compile_forms(entry.get('requests_zh'), name, 'zh', pool)}
    authored = bool(requests['en'])
    purpose = {'en': entry.get('purpose') or purpose_of(description)}
    if entry.get('purpose_zh'):
        purpose['zh'] = entry['purpose_zh']
    fn = Function(
        name=name, domain=domain, description=description, display=display or {}, schema=schema,
        values={**inferred, **authored_values}, requests=requests,
        result=_compile_result(entry.get('result'), name, pool),
        compute={k: str(t) for k, t in (entry.get('compute') or {}).items()},
        answers={'en': [V.compile_template(t) for t in _as_list(entry.get('answer'))],
                 'zh': [V.compile_template(t) for t in _as_list(entry.get('answer_zh'))]},
        purpose=purpose,
        order=[tuple(p) for p in entry.get('order', [])], distinct=[tuple(p) for p in entry.get('distinct', [])],
        overlaps=tuple(entry.get('overlaps', [])), call=call, source=source, authored=authored,
        general=bool(entry.get('general', False)))
    if not authored:
        fn.requests['en'] = generic_requests(fn, 'en')
        fn.requests['zh'] = generic_requests(fn, 'zh')
    problems = check_function(fn)
    if problems:
        raise AgentlabError(problems[0])
    return fn


def check_function(fn: Function) -> list[str]:
    """Consistency of phrasings with the schema: every required value is stated, every slot has a generator."""
    problems = []
    params = fn.params
    for lang, forms in fn.requests.items():
        for form in forms:
            gens = {**fn.values, **form.values}
            stated = form.template.names(required_only=True) | set(form.args)
            for r in fn.required:
                if r not in stated:
                    problems.append(f'{fn.name}: {lang} request {form.template.text!r} does not state {r!r}')
            slots = form.template.names() | {s.name for t in form.args.values()
                                             for s in t.parts if isinstance(s, V.Slot)}
            for s in slots:
                if s not in gens:
                    problems.append(f'{fn.name}: {lang} request slot {{{s}}} has no value generator')
            for s in form.template.names(optional_only=True):
                if s in params and s in fn.required:
                    problems.append(f'{fn.name}: required {s!r} inside an [optional segment]')
            for a in form.args:
                if a not in params:
                    problems.append(f'{fn.name}: derived argument {a!r} is not a parameter')
    for key, expr in fn.compute.items():
        try:
            formula.check(expr)
            unknown = formula.names_in(expr) - set(fn.values) - set(params)
        except formula.FormulaError as exc:
            problems.append(f'{fn.name}: compute {key!r}: {exc}')
            continue
        if unknown:
            problems.append(f'{fn.name}: compute {key!r} reads unknown {", ".join(sorted(unknown))}')
    return problems


def load_domain_file(path: Path, source: str = 'catalog') -> list[Function]:
    data = _read_json(str(path))
    if not isinstance(data, dict) or not isinstance(data.get('functions'), list):
        raise AgentlabError(f'{path}: a catalog file is {{"domain": NAME, "functions": [...]}}')
    domain = str(data.get('domain') or path.stem)
    return [function_from_entry(e, domain, source) for e in data['functions']]


@lru_cache(maxsize=1)
def load_catalog() -> tuple[Function, ...]:
    """Every function of the repository's catalog (cached: it is read-only)."""
    out: list[Function] = []
    files = sorted(p for p in catalog_dir().glob('*.json') if p.name not in RESERVED_FILES)
    if not files:
        raise AgentlabError(f'no catalog files in {catalog_dir()}')
    for path in files:
        out += load_domain_file(path)
    return tuple(out)


@lru_cache(maxsize=1)
def load_builtin() -> tuple[Function, ...]:
    """The runtime's built-in tools, as the runtime describes them, with authored phrasings."""
    from agentlab.paths import configs_dir
    from agentlab.tools.base import functions_of
    from agentlab.tools.builtin import BUILTIN_ACTIONS, KnowledgeBase

    phrasing = {e['name']: e for e in _read_json(str(catalog_dir() / '_builtin.json'))['functions']}
    out = []
    for key, cls in BUILTIN_ACTIONS.items():
        # The default knowledge folder, not $AGENTLAB_KB_DIR: the requests are written for its documents.
        action = KnowledgeBase(folder=configs_dir() / 'knowledge') if cls is KnowledgeBase else cls()
        for tf in functions_of(action):
            entry = phrasing.get(tf.name)
            if entry is None:
                raise AgentlabError(f'built-in tool {tf.name} has no phrasings in catalog/_builtin.json')
            call = _real_call(tf) if entry.get('local', True) else None
            out.append(function_from_entry(entry, 'builtin', 'builtin', display=tf.description,
                                           schema=tf.schema, call=call, strict=False))
    return tuple(out)


def _real_call(tf) -> Callable[[dict], str]:
    cache: dict[str, str] = {}     # the sandboxed interpreter costs a process per call: same code, same output

    def call(arguments: dict) -> str:
        key = json.dumps(arguments, sort_keys=True)
        if key not in cache:
            res = tf(arguments)
            if not res.ok:
                raise Unusable(f'{tf.name}: {res.text}')
            cache[key] = res.text
        return cache[key]
    return call


def load_action_functions(ref: str) -> list[Function]:
    """A user's Lagent action (package.module:Class): its tool_api descriptions give the schema."""
    from agentlab.tools.base import functions_of
    from agentlab.tools.registry import load_action
    out = []
    for tf in functions_of(load_action(ref)):
        result = {r['name']: r for r in tf.description.get('return_data', []) or []}
        entry = {'name': tf.name, 'result': {k: _result_spec(v) for k, v in result.items()} or None}
        out.append(function_from_entry(entry, ref, 'action', display=tf.description, schema=tf.schema,
                                       strict=False))
    return out


def _result_spec(field_desc: Mapping[str, Any]) -> Any:
    kind = str(field_desc.get('type', 'STRING')).upper()
    return {'NUMBER': 'int:1..1000', 'FLOAT': 'float:0..1000:2', 'BOOLEAN': 'bool'}.get(kind, 'pool:phrase')


def load_schema_file(path: Path) -> list[Function]:
    """A catalog-format domain file, or plain function schemas (OpenAI / BFCL style)."""
    data = _read_json(str(path))
    if isinstance(data, dict) and isinstance(data.get('functions'), list) and data['functions'] \
            and isinstance(data['functions'][0], dict) and 'requests' in data['functions'][0]:
        return load_domain_file(path, source='schema')
    if isinstance(data, dict):
        data = data.get('functions') or data.get('tools') or [data]
    if not isinstance(data, list) or not data:
        raise AgentlabError(f'{path}: expected function schemas ({{"name", "description", "parameters"}})')
    out = []
    for spec in data:
        if isinstance(spec, dict) and spec.get('type') == 'function' and isinstance(spec.get('function'), dict):
            spec = spec['function']
        if not isinstance(spec, dict) or 'name' not in spec:
            raise AgentlabError(f'{path}: every tool needs a "name"')
        out.append(function_from_entry(spec, path.stem, 'schema', strict=False))
    return out


def load_tools(spec: str) -> list[Function]:
    """The functions named by ``--tools`` (comma-separated sources); names must be unique."""
    out: list[Function] = []
    for part in [p.strip() for p in spec.split(',') if p.strip()]:
        if part == 'builtin':
            out += load_builtin()
        elif part == 'catalog':
            out += load_catalog()
        elif part.endswith('.json'):
            out += load_schema_file(Path(part))
        elif ':' in part:
            out += load_action_functions(part)
        else:
            raise AgentlabError(f'unknown tool source {part!r}: use builtin, catalog, package.module:Class or '
                                f'a schema .json file')
    if not out:
        raise AgentlabError('no tools: --tools needs at least one source (builtin, catalog, MODULE:CLASS, FILE.json)')
    seen: set[str] = set()
    for fn in out:
        if fn.name in seen:
            raise AgentlabError(f'two tools are both named {fn.name!r}')
        seen.add(fn.name)
    return out


_GENERIC_EN = (
    'Please {purpose}{with_values}.',
    'Can you {purpose}? {values_sentence}',
    'I need to {purpose}{with_values}.',
    'Use these values to {purpose}: {values_list}.',
)
_GENERIC_ZH = (
    '请帮我{purpose}，{values_zh}。',
    '帮我{purpose}：{values_zh}。',
    '我想{purpose}，参数是：{values_zh}。',
)


def generic_requests(fn: Function, lang: str) -> list[RequestForm]:
    """Phrasings for a tool nobody wrote phrasings for, built from its description and parameter names."""
    params = fn.params
    required = [p for p in params if p in fn.required]
    optional = [p for p in params if p not in fn.required][:2]

    def label(p: str) -> str:
        return p.replace('_', ' ')

    forms = []
    for tpl in (_GENERIC_ZH if lang == 'zh' else _GENERIC_EN):
        pairs = [f'{label(p)} {{{p}}}' for p in required]
        # The separator sits inside the optional segment, so a dropped segment leaves no stray comma.
        opt = [f'[{", " if pairs or i else " "}{label(p)} {{{p}}}]' for i, p in enumerate(optional)]
        if lang == 'zh':
            req_zh = '，'.join(f'{p} 为 {{{p}}}' for p in required)
            opt_zh = ''.join(f'[{"，" if required or i else ""}{p} 为 {{{p}}}]' for i, p in enumerate(optional))
            text = tpl.format(purpose=fn.purpose.get('zh', fn.purpose['en']), values_zh=(req_zh + opt_zh) or '谢谢')
        else:
            with_values = (' with ' + ', '.join(pairs) + ''.join(opt)) if pairs or opt else ''
            sentence = ('Use ' + ', '.join(pairs) + ''.join(opt) + '.') if pairs or opt else ''
            values_list = ', '.join(pairs) + ''.join(opt)
            if not (pairs or opt) and '{values_list}' in tpl:
                continue
            text = tpl.format(purpose=fn.purpose['en'], with_values=with_values, values_sentence=sentence,
                              values_list=values_list)
        forms.append(RequestForm(V.compile_template(text)))
    return forms
