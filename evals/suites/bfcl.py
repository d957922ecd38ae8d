"""`bfcl:CATEGORY` suites: BFCL's cases run as ReAct episodes, scored only by BFCL's official checker.

* Data: the `bfcl-eval` package's own files (BFCL v4), via `agentlab.evals.suites.bfcl_official.load_category`.
* Each case's functions are offered as tools through agentlab's ReAct protocol. Names stay whole (dots included:
  `math.factorial` is the tool name). BFCL's types are mapped to the type words Lagent's protocol uses
  (integer -> NUMBER, float -> FLOAT, dict -> OBJECT, array -> Array, boolean -> BOOLEAN, string -> STRING;
  tuple -> Array with "(a tuple, written as a JSON array)"; any -> STRING, which is how BFCL's checker reads it);
  nested `items`/`properties`, `enum` and `default` are kept as BFCL wrote them, and each description gets BFCL's
  own language hint ("Note that the provided function is in Python 3 syntax."). A BFCL system message stays a
  system turn after the protocol's.
* Single-call categories (simple_python, multiple, live_simple, live_multiple, irrelevance, live_irrelevance,
  live_relevance) get one model turn: its first call is the answer. Multi-call categories (parallel,
  parallel_multiple, live_parallel, live_parallel_multiple) continue after each parsed call with a neutral
  observation, until a Final Answer, an unparseable turn, or MULTI_CALL_MAX_STEPS turns.
* Arguments arrive as JSON; before scoring, a list given for a `tuple` parameter becomes a tuple (what a Python
  call would pass) and values JSON cannot carry (a tolerant parse of a Python literal may produce sets or bytes)
  become JSON values. Scoring is BFCL's `ast_checker`, called as BFCL's own eval runner calls it.
* Irrelevance categories: the official figure uses BFCL's semantics (correct = no function call that BFCL's
  decoder would read from the exported output; unparseable text counts as correct), next to a strict abstention
  rate (a Final Answer without any call attempt; unparseable output is counted separately, not as abstention).
"""

from __future__ import annotations

import hashlib
import json
import keyword
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agentlab.errors import AgentlabError
from agentlab.evals.metrics import rate_of
from agentlab.evals.suites import bfcl_official
from agentlab.runtime import protocol
from agentlab.runtime.backends.base import GenerationConfig
from agentlab.runtime.episode import ReactEpisode
from agentlab.runtime.trace import Step, transcript, usage

SINGLE_CALL = ('simple_python', 'multiple', 'live_simple', 'live_multiple')
MULTI_CALL = ('parallel', 'parallel_multiple', 'live_parallel', 'live_parallel_multiple')
IRRELEVANCE = ('irrelevance', 'live_irrelevance')
RELEVANCE = ('live_relevance',)
CATEGORIES = SINGLE_CALL + MULTI_CALL + IRRELEVANCE + RELEVANCE
ALIASES = {'simple': 'simple_python'}

MAX_NEW_TOKENS = 192
MULTI_CALL_MAX_STEPS = 5
NEUTRAL_OBSERVATION = 'The call was recorded.'
LANGUAGE_HINT = ' Note that the provided function is in Python 3 syntax.'   # BFCL's own hint for Python cases


def resolve_category(name: str) -> str:
    name = ALIASES.get(name, name)
    if name not in CATEGORIES:
        raise AgentlabError(f'unsupported BFCL category {name!r}; choose from {", ".join(CATEGORIES)}')
    return name


# --- functions as tools -----------------------------------------------------------------------------------------

def tool_description(function: dict) -> dict:
    """The Lagent-style description of one BFCL function (what the system prompt lists), with BFCL's language
    hint; types, enums, defaults and nested schemas as the protocol renders every tool."""
    return protocol.tool_description(function, LANGUAGE_HINT)


def initial_messages(case: dict) -> list[dict]:
    """System prompt with the case's functions, the case's own earlier turns (system or chat), then the request."""
    turn = [dict(m) for m in case['question'][0]]
    if not turn or turn[-1].get('role') != 'user':
        raise AgentlabError(f'BFCL case {case["id"]} does not end with a user message')
    tools = [tool_description(f) for f in case['function']]
    history = [{'role': m['role'], 'content': m['content']} for m in turn[:-1]]
    return protocol.render_messages(tools, turn[-1]['content'], [], history=history)


# --- values ---------------------------------------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _apply_types(value: Any, schema: dict) -> Any:
    btype = schema.get('type')
    if btype in ('tuple', 'array') and isinstance(value, list):
        items = schema.get('items') or {}
        inner = [_apply_types(v, items) for v in value] if isinstance(items, dict) else value
        return tuple(inner) if btype == 'tuple' else inner
    return value


def normalise_call(name: str, arguments: dict, functions: list[dict]) -> dict:
    """{name: arguments} as BFCL's checker expects, with tuple parameters as tuples."""
    args = _jsonable(arguments)
    fn = next((f for f in functions if f['name'] == name), None)
    if fn:
        props = (fn.get('parameters') or {}).get('properties') or {}
        args = {k: _apply_types(v, props[k]) if k in props else v for k, v in args.items()}
    return {name: args}


def python_name(name: str) -> bool:
    """Whether a tool name can be written as a Python call (so BFCL's decoder can read it)."""
    parts = name.split('.')
    return bool(name) and all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)


def to_python(calls: list[dict]) -> str:
    """Calls ([{name: {arg: value}}]) in the Python call syntax BFCL's prompt-mode decoder reads: `[f(a=1), g()]`.
    Keys that cannot be Python keyword arguments go in a `**{...}` mapping. No calls -> the empty string (which
    BFCL decodes as no call)."""
    rendered = []
    for call in calls:
        (name, args), = call.items()
        if not python_name(name):
            # Not expressible as a Python call: written so that BFCL's decoder fails on the whole output, as it
            # would on the model's own text.
            return f'<undecodable tool name {name!r}>'
        plain = [f'{k}={v!r}' for k, v in args.items() if k.isidentifier() and not keyword.iskeyword(k)]
        odd = {k: v for k, v in args.items() if not (k.isidentifier() and not keyword.iskeyword(k))}
        if odd:
            plain.append(f'**{odd!r}')
        rendered.append(f'{name}({", ".join(plain)})')
    return f'[{", ".join(rendered)}]' if rendered else ''


# --- the suite ------------------------------------------------------------------------------------------------

def _record_call(step: Step) -> None:
    """BFCL's functions are never run: a multi-call episode hears the same neutral observation after each call."""
    step.observation = NEUTRAL_OBSERVATION


@dataclass
class BFCLSuite:
    category: str
    parse_mode: protocol.ParseMode = 'tolerant'
    max_new_tokens: int = MAX_NEW_TOKENS
    kind: str = 'bfcl'
    _cases: list[dict] = field(default_factory=list, repr=False)
    _answers: dict[str, dict] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.category = resolve_category(self.category)
        self._cases, self._answers = bfcl_official.load_category(self.category)
        self.functions_by_id = {c['id']: c['function'] for c in self._cases}

    @property
    def name(self) -> str:
        return f'bfcl:{self.category}'

    @property
    def multi_call(self) -> bool:
        return self.category in MULTI_CALL

    @property
    def max_steps(self) -> int:
        return MULTI_CALL_MAX_STEPS if self.multi_call else 1

    def generation(self) -> GenerationConfig:
        return GenerationConfig(max_new_tokens=self.max_new_tokens)

    def settings(self) -> dict:
        return {'max_new_tokens': self.max_new_tokens, 'max_steps': self.max_steps, 'parse_mode': self.parse_mode,
                'temperature': 0.0, 'stop': list(protocol.STOP_WORDS),
                'continue_after_call': self.multi_call,
                'observation': NEUTRAL_OBSERVATION if self.multi_call else None}

    def data_info(self) -> dict:
        root = bfcl_official.data_dir()
        info = {'source': 'bfcl-eval', 'version': _dist_version('bfcl-eval')}
        for key, path in (('file', root / f'BFCL_v4_{self.category}.json'),
                          ('answers', root / 'possible_answer' / f'BFCL_v4_{self.category}.json')):
            if path.is_file():
                info[key] = path.name if key == 'file' else f'possible_answer/{path.name}'
                info[key + '_sha256'] = hashlib.sha256(path.read_bytes()).hexdigest()
        return info

    def cases(self) -> list[dict]:
        return self._cases

    def prompt_size(self, case: dict) -> int:
        return len(json.dumps(case['function'])) + len(json.dumps(case['question']))

    # -- running -------------------------------------------------------------------------------------------
    def episode(self, case: dict):
        """The runtime's ReAct episode, with BFCL's rules: a single-call category takes the first turn as the
        answer; a multi-call one records each parsed call (the function is never run: a neutral observation goes
        back) and continues until the model writes anything but a call."""
        offered = [f['name'] for f in case['function']]
        if self.multi_call:
            episode = ReactEpisode(initial_messages(case), _record_call, self.max_steps, self.parse_mode,
                                   stop=lambda step: step.kind != 'call')
        else:
            episode = ReactEpisode(initial_messages(case), None, 1, self.parse_mode, stop=lambda step: True)
        steps = yield from episode.turns()
        return self.score(case['id'], steps, offered)

    # -- scoring (BFCL's checker only) ---------------------------------------------------------------------
    def _calls(self, steps: list[Step], strict: bool) -> list[dict]:
        calls = []
        for s in steps:
            if strict:
                if s.strict_call is None:
                    break                      # under Lagent's strict rules the episode would have ended here
                calls.append(dict(s.strict_call))
            elif s.kind == 'call':
                calls.append({'name': s.tool, 'arguments': s.arguments})
        return calls

    def check(self, case_id: str, calls: list[dict]) -> dict:
        """BFCL's official verdict for these calls ([{"name", "arguments"}])."""
        functions = self.functions_by_id[case_id]
        model_output = [normalise_call(c['name'], c['arguments'], functions) for c in calls]
        decodable = all(python_name(next(iter(c))) for c in model_output)
        if self.category in IRRELEVANCE + RELEVANCE:
            # BFCL's relevance runner: the output holds a function call when its decoder reads one or more calls
            # from it (an output it cannot decode holds none).
            contains_call = decodable and bool(model_output)
            valid = not contains_call if self.category in IRRELEVANCE else contains_call
            return {'valid': valid, 'error': [] if valid else ['function call' if contains_call else 'no call'],
                    'error_type': '' if valid else ('irrelevance_error:decoder_success' if contains_call
                                                    else 'relevance_error:decoder_failed')}
        if not decodable:
            # BFCL's decoder cannot read a call whose name is not a Python name: the whole output fails to decode.
            return {'valid': False, 'error': ['a call name is not a Python name'],
                    'error_type': 'ast_decoder:decoder_failed'}
        answer = self._answers[case_id]['ground_truth']
        try:
            result = bfcl_official.check(functions, model_output, answer, self.category)
        except Exception as exc:   # the checker may raise on shapes it does not expect; BFCL would crash
            return {'valid': False, 'error': [f'checker raised {type(exc).__name__}: {exc}'],
                    'error_type': 'checker_exception'}
        return {'valid': bool(result.get('valid')), 'error': result.get('error', []),
                'error_type': result.get('error_type', '')}

    def score(self, case_id: str, steps: list[Step], offered: list[str]) -> dict:
        calls = self._calls(steps, strict=False)
        strict_calls = self._calls(steps, strict=True)
        official = self.check(case_id, calls)
        official_strict = self.check(case_id, strict_calls)
        names = [c['name'] for c in calls]
        verdict: dict[str, Any] = {
            'correct': official['valid'],
            'official': official['valid'], 'checker': official,
            'official_strict': official_strict['valid'],
            'strict_parse': all(s.strict for s in steps), 'tolerant_parse': all(s.tolerant for s in steps),
            'hallucinated_tool': any(n not in offered for n in names),
            'tool_name': None,
            'called': bool(calls),
        }
        if self.category in IRRELEVANCE:
            first = steps[0] if steps else None
            verdict['abstained'] = bool(first and first.kind == 'finish')
            verdict['unparseable'] = bool(first and first.kind in ('format_error', 'args_error'))
        elif self.category not in RELEVANCE:
            expected = [next(iter(g)) for g in self._answers[case_id]['ground_truth']]
            verdict['tool_name'] = (names[:1] == expected[:1]) if not self.multi_call else \
                Counter(names) == Counter(expected)
        record = {'id': case_id, 'raw_output': transcript(steps), 'outputs': [s.raw_output for s in steps],
                  'parsed_calls': calls, 'verdict': verdict, 'steps_detail': [s.to_case() for s in steps]}
        record.update(usage(steps))
        record['export'] = to_python([normalise_call(c['name'], c['arguments'], self.functions_by_id[case_id])
                                      for c in calls])
        return record

    def metrics(self, records: list[dict]) -> dict:
        v = [r['verdict'] for r in records]
        m = {'strict_parse': rate_of(x['strict_parse'] for x in v),
             'tolerant_parse': rate_of(x['tolerant_parse'] for x in v),
             'tool_name_accuracy': rate_of(x['tool_name'] for x in v),
             'hallucinated_tool': rate_of((x['hallucinated_tool'] for x in v), higher_is_better=False)}
        if self.category in IRRELEVANCE:
            m['irrelevance_official'] = rate_of(x['official'] for x in v)
            m['irrelevance_official_strict_parse'] = rate_of(x['official_strict'] for x in v)
            m['abstention_strict'] = rate_of(x['abstained'] for x in v)
            m['unparseable'] = rate_of((x['unparseable'] for x in v), higher_is_better=False)
            m['called_a_tool'] = rate_of((x['called'] for x in v), higher_is_better=False)
        elif self.category in RELEVANCE:
            m['relevance_official'] = rate_of(x['official'] for x in v)
        else:
            m['ast_accuracy'] = rate_of(x['official'] for x in v)
            m['ast_accuracy_strict_parse'] = rate_of(x['official_strict'] for x in v)
            m['called_a_tool'] = rate_of(x.get('called', False) for x in v)    # the other side of abstention
        return m

    @property
    def primary_metric(self) -> str:
        if self.category in IRRELEVANCE:
            return 'irrelevance_official'
        if self.category in RELEVANCE:
            return 'relevance_official'
        return 'ast_accuracy'


def _dist_version(dist: str) -> str | None:
    from importlib import metadata
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
