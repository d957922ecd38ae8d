"""The tool catalog of the data engine: what a tool looks like to the model, how to ask for it, how to fake or run it.

Sources of tools (``agentlab synth --tools``, comma-separated):

* ``builtin``: agentlab's runtime tools, exactly as the runtime describes them (``ToolBox``). The local deterministic
  ones (calculator, python, dates, units, knowledge) are really called, so observations are their real outputs.
* ``catalog``: the function schemas in ``datasets_conv/catalog/*.json`` (one file per domain), each with value
  generators, request phrasings, a result shape and, for arithmetic, a formula whose value is the result
  (:mod:`agentlab.datasets_conv.formula`).
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

Value specs, templates and the ``[optional segment]`` rule are described in :mod:`agentlab.datasets_conv.values`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping

import jsonschema

from agentlab.errors import AgentlabError
from agentlab.datasets_conv import formula
from agentlab.datasets_conv import values as V

NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$')
JSON_TYPES = ('string', 'integer', 'number', 'boolean', 'array', 'object')
# BFCL and other Python-flavoured schemas use these type words; validation needs JSON schema's.
_TYPE_ALIASES = {'dict': 'object', 'float': 'number', 'int': 'integer', 'str': 'string', 'bool': 'boolean',
                 'list': 'array', 'tuple': 'array'}
RESERVED_FILES = ('_pools.json', '_builtin.json', '_general.json')
OPTIONAL_RATE = 0.45      # how often an optional parameter a phrasing can mention is set

# The verbs that open an imperative description ("Get the weather..."); other descriptions get "get" in front.
_VERBS = frozenset('''sum multiply divide subtract factorize simplify integrate differentiate approximate
suggest project report submit extract temporarily pay invite balance explain write compress back adjust tell place
reply save lock take activate water fit choose give describe download print watch buy sell draft review
add analyze apply archive assess book calculate cancel check classify compare compute convert
count create decode delete detect determine draw encode estimate evaluate fetch filter find forecast format generate
get identify list locate log look lookup make measure merge normalize parse plan play post predict rank rate read
recommend record register remove rename reserve resize retrieve return reverse run schedule score search send set
share show simulate solve sort split subscribe summarize track transfer translate update upload validate verify
pause resume start stop mute unmute open close turn move copy order rent request reset transcribe tokenize hash
round scale rotate'''.split())


def catalog_dir() -> Path:
    return Path(str(resources.files('agentlab.datasets_conv') / 'catalog'))


@dataclass
class RequestForm:
    """One request phrasing: its template, arguments derived from values, and values local to it."""
    template: V.Template
    args: dict[str, V.Template] = field(default_factory=dict)
    values: dict[str, V.Gen] = field(default_factory=dict)


@dataclass
class Draw:
    """One concrete request for a function: the text a user says and the arguments the call must carry."""
    function: 'Function'
    text: str
    arguments: dict[str, Any]
    values: dict[str, V.Val]


@dataclass
class Function:
    name: str
    domain: str
    description: str
    display: dict                          # what the system prompt shows (render_system's input)
    schema: dict                           # JSON schema the arguments must validate against
    values: dict[str, V.Gen]
    requests: dict[str, list[RequestForm]]     # by language
    result: dict[str, Any] | None = None       # field -> generator, or ('copy', path)
    compute: dict[str, str] = field(default_factory=dict)     # result field -> formula over the values
    answers: dict[str, list[V.Template]] = field(default_factory=dict)
    purpose: dict[str, str] = field(default_factory=dict)       # "get the weather for a city" (thoughts, negatives)
    order: list[tuple[str, str]] = field(default_factory=list)
    distinct: list[tuple[str, str]] = field(default_factory=list)
    overlaps: tuple[str, ...] = ()
    call: Callable[[dict], str] | None = None  # a real, local, deterministic tool: args -> observation text
    source: str = 'catalog'                    # builtin | catalog | action | schema
    general: bool = False                      # can compute almost anything (calculator, Python): never "unavailable"
    authored: bool = True                      # phrasings written by a person (else generic)
    _validator: Any = None

    @property
    def required(self) -> list[str]:
        return list(self.schema.get('required') or [])

    @property
    def params(self) -> dict[str, dict]:
        return self.schema.get('properties') or {}

    def languages(self) -> set[str]:
        return {lang for lang, forms in self.requests.items() if forms}

    def validate(self, arguments: Mapping[str, Any]) -> str | None:
        """None when the arguments fit the schema, else the first problem."""
        if self._validator is None:
            self._validator = jsonschema.Draft7Validator(self.schema)
        err = next(iter(self._validator.iter_errors(dict(arguments))), None)
        return None if err is None else f'{self.name}: {err.message}'

    # --- drawing requests ---

    def draw(self, rng: V.Rng, lang: str = 'en', form: RequestForm | None = None,
             optional_rate: float = OPTIONAL_RATE) -> Draw:
        forms = self.requests.get(lang) or []
        if form is None:
            if not forms:
                raise AgentlabError(f'{self.name} has no {lang} request phrasings')
            form = rng.choice(forms)
        gens = {**self.values, **form.values}
        params = self.params
        optional = sorted(n for n in form.template.names(optional_only=True) if n in params)
        chosen = {n for n in optional if rng.random() < optional_rate}
        needed = (form.template.names(required_only=True) | chosen
                  | {s.name for t in form.args.values() for s in t.parts if isinstance(s, V.Slot)})
        drawn = {n: gens[n](rng) for n in sorted(needed)}
        self._constrain(drawn, gens, rng)
        args: dict[str, Any] = {}
        for pname, pschema in params.items():
            if pname in form.args:
                text = form.args[pname].render_raw({k: v.value for k, v in drawn.items()})
                args[pname] = _typed(text, pschema)
            elif pname in drawn and (pname in self.required or pname in chosen
                                     or pname in form.template.names(required_only=True)):
                args[pname] = drawn[pname].value
        text = form.template.render(drawn, chosen, rng, lang)
        return Draw(self, text, args, drawn)

    def _constrain(self, drawn: dict[str, V.Val], gens: Mapping[str, V.Gen], rng: V.Rng) -> None:
        for a, b in self.distinct:
            if a in drawn and b in drawn:
                for _ in range(20):
                    if drawn[a].value != drawn[b].value:
                        break
                    drawn[b] = gens[b](rng)
        for a, b in self.order:
            if a in drawn and b in drawn and drawn[a].value > drawn[b].value:
                drawn[a], drawn[b] = drawn[b], drawn[a]

    # --- results ---

    def fake_result(self, draw: Draw, rng: V.Rng) -> Any:
        """A plausible result from the declared result shape (and real arithmetic where a formula is given)."""
        out: dict[str, Any] = {}
        env = {**{k: v.value for k, v in draw.values.items()}, **draw.arguments}
        for pname, p in self.params.items():     # formulas read unset optional parameters at their defaults
            if pname not in env and 'default' in p:
                env[pname] = p['default']
        for key, spec in (self.result or {}).items():
            if isinstance(spec, tuple) and spec[0] == 'copy':
                value: Any = env
                for part in spec[1]:
                    value = value.get(part) if isinstance(value, dict) else None
                if value is not None:
                    out[key] = value
            elif isinstance(spec, tuple) and spec[0] == 'map':
                _, by, table, fallback = spec
                found = table.get(str(env.get(by)))
                if found is not None:
                    out[key] = found
                elif fallback is not None:
                    out[key] = fallback(rng).value
            else:
                out[key] = spec(rng).value
        for key, expr in self.compute.items():
            try:
                out[key] = formula.tidy_number(formula.evaluate(expr, env))
            except formula.FormulaError as exc:
                raise Unusable(f'{self.name}: {exc}') from None
        return out if out else {'status': 'ok'}


class Unusable(Exception):
    """A drawn request the tool cannot serve (a formula's domain error): draw another."""


def _typed(text: str, pschema: Mapping[str, Any]) -> Any:
    kind = pschema.get('type')
    kinds = kind if isinstance(kind, list) else [kind]
    if 'string' in kinds:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise AgentlabError(f'derived argument {text!r} is not a {kind}') from None


# --- schemas --------------------------------------------------------------------------------------------------

def normalize_schema(schema: Any) -> Any:
    """A Python-flavoured (BFCL-style) parameter schema as standard JSON schema, for validation."""
    if isinstance(schema, list):
        return [normalize_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == 'type' and isinstance(value, str):
            if value == 'any':
                continue
            out[key] = _TYPE_ALIASES.get(value, value)
        elif key == 'properties' and isinstance(value, dict):
            out[key] = {k: normalize_schema(v) for k, v in value.items()}
        elif key in ('items', 'additionalProperties'):
            out[key] = normalize_schema(value)
        else:
            out[key] = value
    if out.get('type') == 'number':
        out['type'] = ['number', 'integer']      # 5 is a fine float; Python and BFCL agree
    return out


def _check_parameters(name: str, params: Any, strict: bool) -> list[str]:
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


def _validation_schema(params: dict) -> dict:
    schema = normalize_schema(params)
    schema['type'] = 'object'
    schema.setdefault('properties', {})
    schema.setdefault('required', [])
    schema['additionalProperties'] = False     # an invented argument is an error, as in the runtime
    return schema


# --- purposes -------------------------------------------------------------------------------------------------

def purpose_of(description: str) -> str:
    """'Get the weather for a city. Returns ...' -> 'get the weather for a city' (for thoughts and replies)."""
    first = re.split(r'(?<=[.!?])\s', description.strip(), maxsplit=1)[0].rstrip('.!? ')
    first = re.sub(r'\s*\([^)]*\)', '', first).strip()
    # A clause is enough for a thought: "evaluate a polynomial at a point, given its coefficients..." -> cut.
    first = re.split(r',|;| - | given | based on | using ', first, maxsplit=1)[0].strip()
    first = re.sub(r'(\s+(for|with|of|to|from|by|in|on|at|and|or|the|a|an))+$', '', first)
    if not first:
        return 'do this'
    word = first.split()[0]
    lowered = word.lower() if not word.isupper() else word
    rest = first[len(word):]
    if lowered in ('return', 'returns', 'gets', 'retrieves', 'fetches'):
        return 'get' + rest
    if lowered.endswith('s') and lowered[:-1] in _VERBS:     # "Calculates the ..." -> "calculate the ..."
        return lowered[:-1] + rest
    if lowered in _VERBS or not _looks_nominal(word):
        return lowered + rest
    return 'get ' + (first[0].lower() + first[1:] if not word.isupper() else first)


# Words that open a noun phrase ("The day of the week...", "Current weather...", "Number of days..."): such a
# description gets "get" in front. Any other first word is taken for an imperative verb ("Renew a loan...").
_NOMINAL = frozenset('''the a an this that these those current latest today daily weekly monthly yearly annual total
number list amount information info details data name names all some each every one two several my your its their
whether how what which who when where why basic simple detailed full short long new old real live recent top best
average mean median maximum minimum estimated'''.split())


def _looks_nominal(word: str) -> bool:
    w = word.lower()
    return (w in _NOMINAL or word.isupper() or (word[:1].isupper() and not word[1:].islower())
            or w.endswith(('tion', 'sion', 'ment', 'ness', 'ity', 'ance', 'ence', "'s")))


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
        problems = _check_parameters(name, params, strict)
        if problems:
            raise AgentlabError(problems[0])
        schema = _validation_schema(params)
        display = {'name': name, 'description': description, 'parameters': params}
    pool = pools()
    inferred = infer_values(schema)
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


def infer_values(schema: Mapping[str, Any]) -> dict[str, V.Gen]:
    pool = pools()
    return {name: V.compile_gen(_infer(name, p if isinstance(p, dict) else {}), pool)
            for name, p in (schema.get('properties') or {}).items()}


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

