"""What the data engine knows about one tool (:class:`Function`): its schema, value generators, request phrasings
and result shape, and how it draws a concrete request (:class:`Draw`) and a plausible result."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import jsonschema

from agentlab.datasets_conv.synth import formula
from agentlab.datasets_conv.synth import values as V
from agentlab.errors import AgentlabError

OPTIONAL_RATE = 0.45      # how often an optional parameter a phrasing can mention is set


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
