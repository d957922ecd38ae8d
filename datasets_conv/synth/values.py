"""Value generators, the natural ways people state values, and the request-template mini-language of the data engine.

A tool catalog says, per parameter, how to draw a value (``"int:1..100"``, ``"pool:city"``, ``["metric", "imperial"]``,
``{"list": "pool:city", "min": 2, "max": 3}``...). Drawing gives a :class:`Val`: the JSON value the tool call must carry
plus what a user would say for it. Saying varies on purpose (digits or words, ``12,000``, ``March 5, 2024`` for
``2024-03-05``, ``Paris, Rome and Oslo`` for a list, ``kilometres`` for the enum value ``km``) so a model learns to
*extract* values into the schema's type rather than copy characters.

Templates are plain text with ``{param}`` slots, ``{param.field}`` for a field of an object value, ``{flag?yes|no}``
for a boolean, and ``[optional segments]`` that appear only when the optional parameter inside them is set. The same
``{param}`` syntax fills tool arguments derived from values (``{"expression": "{a}*{b}"}``),
where the raw value is written instead of its spoken form.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from agentlab.errors import AgentlabError

Rng = random.Random

# --- Values ---------------------------------------------------------------------------------------------------


@dataclass
class Val:
    """A drawn value: the JSON value for the tool call, its kind (how to say it), explicit phrasings if any."""
    value: Any
    kind: str                                   # int | float | str | date | time | bool | list | object
    says: tuple[str, ...] = ()                  # English phrasings (an enum value's natural names)
    says_zh: tuple[str, ...] = ()
    items: list['Val'] = field(default_factory=list)          # list elements
    fields: dict[str, 'Val'] = field(default_factory=dict)    # object fields
    style: str = ''                             # 'json': always say a list in brackets


Gen = Callable[[Rng], Val]

_RANGE = re.compile(r'^(-?\d+(?:\.\d+)?)\.\.(-?\d+(?:\.\d+)?)(?:/(\d+(?:\.\d+)?))?(?::(\d))?$')
_DATE_RANGE = re.compile(r'^(\d{4})\.\.(\d{4})$')

# Generators that need more than a pool: they build values from pieces (a plausible e-mail from a person's name).
_FIRST = ('anna', 'ben', 'chloe', 'david', 'emma', 'felix', 'grace', 'hugo', 'iris', 'jack', 'lena', 'marco', 'nina',
          'omar', 'priya', 'quinn', 'rosa', 'sam', 'tara', 'victor', 'wei', 'yuki', 'zoe', 'li', 'ahmed', 'sofia')
_LAST = ('lee', 'smith', 'garcia', 'chen', 'muller', 'rossi', 'kim', 'novak', 'silva', 'patel', 'brown', 'wang',
         'dubois', 'tanaka', 'okafor', 'larsen', 'cohen', 'martin', 'ivanova', 'nguyen')
_DOMAINS = ('example.com', 'mail.example.org', 'corp.example.net', 'example.co.uk')


def _email(rng: Rng) -> Val:
    return Val(f'{rng.choice(_FIRST)}.{rng.choice(_LAST)}@{rng.choice(_DOMAINS)}', 'str')


def _phone(rng: Rng) -> Val:
    return Val(f'+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}', 'str')


def _url(rng: Rng) -> Val:
    words = ('news', 'shop', 'blog', 'docs', 'status', 'weather', 'travel', 'recipes', 'library', 'music')
    return Val(f'https://{rng.choice(words)}.example.com/{rng.choice(words)}/{rng.randint(1, 999)}', 'str')


def _time(rng: Rng) -> Val:
    return Val(f'{rng.randint(6, 22):02d}:{rng.choice((0, 0, 15, 30, 30, 45)):02d}', 'time')


def _ident(prefix: str) -> Gen:
    def gen(rng: Rng) -> Val:
        return Val(f'{prefix}{rng.randint(10000, 99999)}', 'str')
    return gen


def _date(lo: int, hi: int, kind: str) -> Gen:
    first, last = dt.date(lo, 1, 1).toordinal(), dt.date(hi, 12, 31).toordinal()

    def gen(rng: Rng) -> Val:
        return Val(dt.date.fromordinal(rng.randint(first, last)).isoformat(), kind)
    return gen


def _number(text: str) -> int | float:
    return float(text) if '.' in text else int(text)


def _scalar_gen(spec: str, pools: Mapping[str, list]) -> Gen:
    head, _, rest = spec.partition(':')
    if head == 'int':
        m = _RANGE.match(rest)
        if not m or m.group(4):
            raise AgentlabError(f'bad value spec {spec!r}: want int:LO..HI or int:LO..HI/STEP')
        lo, hi, step = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
        if lo > hi:
            raise AgentlabError(f'bad value spec {spec!r}: LO > HI')
        return lambda rng: Val(rng.randrange(lo, hi + 1, step) if step > 1 else rng.randint(lo, hi), 'int')
    if head == 'float':
        m = _RANGE.match(rest)
        if not m or m.group(3):
            raise AgentlabError(f'bad value spec {spec!r}: want float:LO..HI or float:LO..HI:DECIMALS')
        lo, hi, dec = float(m.group(1)), float(m.group(2)), int(m.group(4) or 1)
        return lambda rng: Val(round(rng.uniform(lo, hi), dec), 'float')
    if head == 'pool':
        if rest not in pools:
            raise AgentlabError(f'bad value spec {spec!r}: no pool {rest!r} (known: {", ".join(sorted(pools))})')
        return _pick_gen(pools[rest], spec)
    if head == 'date':
        if rest in ('', 'iso'):
            return _date(2015, 2027, 'date' if rest == '' else 'str')
        m = _DATE_RANGE.match(rest)
        if not m:
            raise AgentlabError(f'bad value spec {spec!r}: want date, date:iso or date:YYYY..YYYY')
        return _date(int(m.group(1)), int(m.group(2)), 'date')
    if head == 'id':
        return _ident(rest)
    simple = {'time': _time, 'email': _email, 'phone': _phone, 'url': _url,
              'bool': lambda rng: Val(rng.random() < 0.5, 'bool')}
    if head in simple and not rest:
        return simple[head]
    raise AgentlabError(f'bad value spec {spec!r}: want int:, float:, pool:, date, time, bool, email, phone, url, '
                        f'id:PREFIX, a JSON list to pick from, {{"list": ...}} or {{"object": ...}}')


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return 'bool'
    if isinstance(value, int):
        return 'int'
    if isinstance(value, float):
        return 'float'
    if isinstance(value, list):
        return 'list'
    if isinstance(value, dict):
        return 'object'
    return 'str'


def _literal_val(item: Any) -> Val:
    if isinstance(item, dict) and 'value' in item:
        says = item.get('say') or ()
        says_zh = item.get('say_zh') or ()
        return Val(item['value'], _kind_of(item['value']), tuple([says] if isinstance(says, str) else says),
                   tuple([says_zh] if isinstance(says_zh, str) else says_zh))
    return Val(item, _kind_of(item))


def _pick_gen(options: Sequence[Any], where: str) -> Gen:
    if not options:
        raise AgentlabError(f'bad value spec {where!r}: nothing to pick from')
    vals = [_literal_val(o) for o in options]
    return lambda rng: _copy(rng.choice(vals))


def _copy(v: Val) -> Val:
    return Val(v.value, v.kind, v.says, v.says_zh)


def compile_gen(spec: Any, pools: Mapping[str, list]) -> Gen:
    """Turn a value spec from a catalog into a generator (raises AgentlabError on a bad spec)."""
    if isinstance(spec, str):
        return _scalar_gen(spec, pools)
    if isinstance(spec, list):
        return _pick_gen(spec, json.dumps(spec)[:60])
    if isinstance(spec, dict) and 'list' in spec:
        item = compile_gen(spec['list'], pools)
        lo, hi = int(spec.get('min', 2)), int(spec.get('max', 4))
        style = str(spec.get('style', ''))

        def gen_list(rng: Rng) -> Val:
            n = rng.randint(lo, hi)
            items: list[Val] = []
            seen: set[str] = set()
            for _ in range(n * 6):          # lists of distinct values: "Paris, Paris" is not a request
                if len(items) == n:
                    break
                v = item(rng)
                key = json.dumps(v.value, sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    items.append(v)
            return Val([v.value for v in items], 'list', items=items, style=style)
        return gen_list
    if isinstance(spec, dict) and 'object' in spec:
        gens = {k: compile_gen(v, pools) for k, v in spec['object'].items()}

        def gen_object(rng: Rng) -> Val:
            fields = {k: g(rng) for k, g in gens.items()}
            return Val({k: v.value for k, v in fields.items()}, 'object', fields=fields)
        return gen_object
    if isinstance(spec, dict) and 'format' in spec and 'list' not in spec and 'object' not in spec:
        # A composed string (a paper listing, an address line): a template over its own generators.
        tpl = compile_template(str(spec['format']), segments=False)
        gens = {k: compile_gen(v, pools) for k, v in (spec.get('values') or {}).items()}
        missing = tpl.names() - set(gens)
        if missing:
            raise AgentlabError(f'format spec {spec["format"]!r}: no generator for {", ".join(sorted(missing))}')

        def gen_format(rng: Rng) -> Val:
            return Val(tpl.render_raw({k: gens[k](rng).value for k in sorted(gens)}), 'str')
        return gen_format
    if isinstance(spec, (int, float, bool)):
        return lambda rng: Val(spec, _kind_of(spec))
    raise AgentlabError(f'bad value spec {json.dumps(spec)[:80]}')


# --- Saying values --------------------------------------------------------------------------------------------

_WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve',
          'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen', 'twenty')
_TENS = {30: 'thirty', 40: 'forty', 50: 'fifty', 60: 'sixty', 70: 'seventy', 80: 'eighty', 90: 'ninety',
         100: 'one hundred'}
_ZH_DIGITS = '零一二三四五六七八九十'
_MONTHS = ('January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October',
           'November', 'December')


def _say_int(n: int, rng: Rng, lang: str) -> str:
    if lang == 'zh':
        if 0 <= n <= 10 and rng.random() < 0.25:
            return _ZH_DIGITS[n]
        return str(n)
    r = rng.random()
    if 0 <= n <= 20 and r < 0.2:
        return _WORDS[n]
    if n in _TENS and r < 0.15:
        return _TENS[n]
    if abs(n) >= 10000 and r < 0.45:
        return f'{n:,}'
    return str(n)


def _say_float(x: float, rng: Rng) -> str:
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x)) if rng.random() < 0.6 else f'{x:.1f}'
    text = repr(x)
    if 'e' in text:                      # 5.97e+24 -> "5.97e24", as people write it
        return text.replace('e+', 'e')
    if abs(x) >= 10000 and rng.random() < 0.4:
        whole, _, frac = text.partition('.')
        text = f'{int(whole):,}.{frac}'
    return text


def _say_date(iso: str, rng: Rng, lang: str) -> str:
    d = dt.date.fromisoformat(iso)
    if lang == 'zh':
        return f'{d.year}年{d.month}月{d.day}日' if rng.random() < 0.6 else iso
    r = rng.random()
    if r < 0.35:
        return iso
    if r < 0.7:
        return f'{_MONTHS[d.month - 1]} {d.day}, {d.year}'
    if r < 0.9:
        return f'{d.day} {_MONTHS[d.month - 1]} {d.year}'
    return f'{_MONTHS[d.month - 1][:3]} {d.day} {d.year}'


def _say_time(hhmm: str, rng: Rng, lang: str) -> str:
    h, m = (int(x) for x in hhmm.split(':'))
    if lang == 'zh':
        return hhmm if rng.random() < 0.6 else f'{h}点{m:02d}分' if m else f'{h}点'
    if rng.random() < 0.5:
        return hhmm
    suffix = 'AM' if h < 12 else 'PM'
    h12 = h % 12 or 12
    return f'{h12}:{m:02d} {suffix}' if m else f'{h12} {suffix}'


def join_words(parts: Sequence[str], lang: str, rng: Rng | None = None) -> str:
    parts = list(parts)
    if lang == 'zh':
        return '、'.join(parts[:-1]) + ('和' if len(parts) > 1 else '') + parts[-1] if parts else ''
    if len(parts) <= 1:
        return ''.join(parts)
    return ', '.join(parts[:-1]) + ' and ' + parts[-1]


def say(v: Val, rng: Rng, lang: str = 'en') -> str:
    """How a user would state this value."""
    says = v.says_zh if lang == 'zh' and v.says_zh else v.says
    if says:
        return rng.choice(says)
    if v.kind == 'int' and isinstance(v.value, int):
        return _say_int(v.value, rng, lang)
    if v.kind == 'float' and isinstance(v.value, (int, float)):
        return _say_float(float(v.value), rng)
    if v.kind == 'date':
        return _say_date(v.value, rng, lang)
    if v.kind == 'time':
        return _say_time(v.value, rng, lang)
    if v.kind == 'bool':
        return ('是' if v.value else '否') if lang == 'zh' else ('yes' if v.value else 'no')
    if v.kind == 'list':
        items = v.items or [_literal_val(x) for x in v.value]
        nested = any(i.kind in ('list', 'object') for i in items)
        numeric = all(i.kind in ('int', 'float') for i in items)
        if nested or v.style == 'json' or numeric and rng.random() < 0.35:
            return json.dumps(v.value, ensure_ascii=False)
        # Numbers inside a list stay digits: "3, seven and 12" would be a riddle, not a request.
        spoken = [str(i.value) if i.kind in ('int', 'float') and not i.says else say(i, rng, lang) for i in items]
        return join_words(spoken, lang, rng)
    if v.kind == 'object':
        fields = v.fields or {k: _literal_val(x) for k, x in v.value.items()}
        sep = '，' if lang == 'zh' else ', '
        return sep.join(f'{k.replace("_", " ")} {say(f, rng, lang)}' for k, f in fields.items())
    return str(v.value)


def raw(value: Any) -> str:
    """A value as written inside a derived argument ("{a}*{b}" -> "12*7")."""
    if isinstance(value, bool):
        return 'True' if value else 'False'
    if isinstance(value, list):
        return ', '.join(raw(x) for x in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


# --- Templates ------------------------------------------------------------------------------------------------

_SLOT = re.compile(r'\{([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)(?:\?([^|{}]*)\|([^{}]*))?\}')
_SEGMENT = re.compile(r'\[([^\[\]]*)\]')


@dataclass(frozen=True)
class Slot:
    path: tuple[str, ...]          # ('address', 'city')
    yes: str | None = None         # boolean phrasing
    no: str | None = None

    @property
    def name(self) -> str:
        return self.path[0]


Part = str | Slot


@dataclass(frozen=True)
class Template:
    """A parsed template: top-level parts, and optional segments (each a list of parts)."""
    text: str
    parts: tuple[Part | tuple[Part, ...], ...]

    def names(self, optional_only: bool = False, required_only: bool = False) -> set[str]:
        out: set[str] = set()
        for p in self.parts:
            if isinstance(p, Slot) and not optional_only:
                out.add(p.name)
            elif isinstance(p, tuple) and not required_only:
                out.update(s.name for s in p if isinstance(s, Slot))
        return out

    def render(self, values: Mapping[str, Val], chosen: set[str] | None, rng: Rng, lang: str = 'en') -> str:
        """Fill the slots with spoken values. A segment appears iff every slot in it is in ``chosen``
        (``chosen=None``: all segments whose values exist)."""
        spoken: dict[tuple[str, ...], str] = {}     # one phrasing per value within one request

        def fill(part: Part) -> str:
            if isinstance(part, str):
                return part
            v = _lookup(values, part.path)
            if part.yes is not None:
                return part.yes if v.value else part.no or ''
            if part.path not in spoken:
                spoken[part.path] = say(v, rng, lang)
            return spoken[part.path]

        # Values go in as placeholders so that tidying the spaces a dropped segment leaves behind never touches
        # a value: "Où est la bibliothèque ?" must reach the request exactly as it reaches the arguments.
        said: list[str] = []

        def hold(part: Part) -> str:
            if isinstance(part, str):
                return part
            said.append(fill(part))
            return f'\x00{len(said) - 1}\x00'

        out = []
        for p in self.parts:
            if isinstance(p, tuple):
                names = {s.name for s in p if isinstance(s, Slot)}
                wanted = names <= set(values) if chosen is None else names <= chosen
                if names and wanted:
                    out.append(''.join(hold(x) for x in p))
            else:
                out.append(hold(p))
        skeleton = tidy(''.join(out), lang)
        return re.sub('\x00(\\d+)\x00', lambda m: said[int(m.group(1))], skeleton)

    def render_raw(self, values: Mapping[str, Any]) -> str:
        """Fill the slots with raw values (derived arguments, computed expressions)."""
        out = []
        for p in self.parts:
            if isinstance(p, tuple):
                raise AgentlabError(f'optional segments are not allowed here: {self.text!r}')
            if isinstance(p, str):
                out.append(p)
                continue
            value = values[p.name]
            for key in p.path[1:]:
                value = value[key]
            if p.yes is not None:
                out.append(p.yes if value else p.no or '')
            else:
                out.append(raw(value))
        return ''.join(out)


def _lookup(values: Mapping[str, Val], path: tuple[str, ...]) -> Val:
    v = values[path[0]]
    for key in path[1:]:
        if key in v.fields:
            v = v.fields[key]
        elif isinstance(v.value, dict) and key in v.value:      # an object picked whole from a list
            v = _literal_val(v.value[key])
        else:
            raise AgentlabError(f'value {path[0]!r} has no field {key!r}')
    return v


def _parts(text: str) -> list[Part]:
    """Split text into literals and slots; ``{{`` and ``}}`` are literal braces (JSON in derived arguments)."""
    parts: list[Part] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith('{{', i) or text.startswith('}}', i):
            literal.append(text[i])
            i += 2
            continue
        if text[i] == '{':
            m = _SLOT.match(text, i)
            if not m:
                raise AgentlabError(f'bad template slot in {text!r} (write literal braces as {{{{ and }}}})')
            if literal:
                parts.append(''.join(literal))
                literal = []
            parts.append(Slot(tuple(m.group(1).split('.')), m.group(2), m.group(3)))
            i = m.end()
            continue
        if text[i] == '}':
            raise AgentlabError(f'unmatched }} in template {text!r}')
        literal.append(text[i])
        i += 1
    if literal:
        parts.append(''.join(literal))
    return parts


_TEMPLATE_CACHE: dict[tuple[str, bool], Template] = {}


def compile_template(text: str, segments: bool = True) -> Template:
    """Parse a template (cached: catalogs repeat phrasings). ``segments=False`` for derived arguments, whose
    brackets are JSON lists, not optional segments."""
    cached = _TEMPLATE_CACHE.get((text, segments))
    if cached is not None:
        return cached
    if not isinstance(text, str) or not text.strip():
        raise AgentlabError(f'empty template: {text!r}')
    parts: list[Part | tuple[Part, ...]] = []
    pos = 0
    if segments:
        for m in _SEGMENT.finditer(text):
            parts += _parts(text[pos:m.start()])
            parts.append(tuple(_parts(m.group(1))))
            pos = m.end()
    parts += _parts(text[pos:])
    if segments and any(isinstance(p, str) and ('[' in p or ']' in p) for p in parts):
        raise AgentlabError(f'unbalanced [optional segment] in template {text!r}')
    tpl = Template(text, tuple(parts))
    _TEMPLATE_CACHE[(text, segments)] = tpl
    return tpl


_SPACES = re.compile(r'[ \t]{2,}')
_SPACE_PUNCT = re.compile(r' +([,.?!;:])')


def tidy(text: str, lang: str = 'en') -> str:
    """Collapse the spaces and stray punctuation spacing that dropped optional segments leave behind."""
    text = _SPACE_PUNCT.sub(r'\1', _SPACES.sub(' ', text)).strip()
    if lang == 'en' and text and text[0].islower():
        text = text[0].upper() + text[1:]
    return text


def number_text(x: Any) -> str:
    """A number as an answer states it (a computed 12.5000000001 reads 12.5)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, float):
        if math.isfinite(x) and x.is_integer() and abs(x) < 1e15:
            return str(int(x)) if abs(x) >= 1e6 else repr(x)
        return f'{x:.6g}' if abs(x) >= 1e6 or (x != 0 and abs(x) < 1e-3) else str(round(x, 4))
    return str(x)
