"""agentlab's built-in tools, each a Lagent action. Deterministic tools (calculator, python, dates, units) return
their real results, so the data engine's observations and the evaluator's expected answers come from them."""

from __future__ import annotations

import ast
import datetime as dt
import math
import operator
import os
import re
from pathlib import Path
from typing import Annotated, Literal

from lagent.actions import tool_api

from agentlab.tools.base import AgentlabAction
from agentlab.tools.sandbox import Limits, run_python

# --- Calculator ----------------------------------------------------------------------------------------------

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCS = {'sqrt': math.sqrt, 'sin': math.sin, 'cos': math.cos, 'tan': math.tan, 'asin': math.asin,
          'acos': math.acos, 'atan': math.atan, 'log': math.log, 'log10': math.log10, 'log2': math.log2,
          'exp': math.exp, 'abs': abs, 'round': round, 'floor': math.floor, 'ceil': math.ceil,
          'factorial': math.factorial, 'gcd': math.gcd, 'min': min, 'max': max, 'pow': pow}
_CONSTS = {'pi': math.pi, 'e': math.e, 'tau': math.tau}


class CalculatorError(ValueError):
    pass


def safe_eval(expression: str) -> int | float:
    """Evaluate arithmetic without Python's eval: numbers, + - * / // % **, parentheses, math functions."""
    if len(expression) > 500:
        raise CalculatorError('expression too long (max 500 characters)')
    text = expression.replace('^', '**').replace('×', '*').replace('÷', '/').strip()
    try:
        tree = ast.parse(text, mode='eval')
    except SyntaxError:
        raise CalculatorError(f'cannot parse expression: {expression}') from None

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value,
                                                                                                       bool):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow) and (abs(right) > 1000 or abs(left) > 1e6 and abs(right) > 10):
                raise CalculatorError('exponent too large')
            if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
                raise CalculatorError('division by zero')
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](ev(node.operand))
        if isinstance(node, ast.Name) and node.id in _CONSTS:
            return _CONSTS[node.id]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS \
                and not node.keywords:
            args = [ev(a) for a in node.args]
            if node.func.id == 'factorial' and (not args or args[0] > 1000):
                raise CalculatorError('factorial argument too large (max 1000)')
            try:
                return _FUNCS[node.func.id](*args)
            except (TypeError, ValueError) as exc:
                raise CalculatorError(f'{node.func.id}: {exc}') from None
        raise CalculatorError(f'unsupported syntax in expression: {ast.dump(node)[:60]}')

    value = ev(tree)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise CalculatorError('result is not a finite number')
        if value.is_integer() and abs(value) < 1e15:
            return int(value)
        return round(value, 10)
    return value


class Calculator(AgentlabAction):
    """A calculator for arithmetic expressions."""

    @tool_api
    def run(self, expression: Annotated[str, 'arithmetic expression, e.g. (3+4)*2 or sqrt(2)/3']) -> dict:
        """Evaluate an arithmetic expression (+ - * / // % ** and math functions such as sqrt, log, sin).

        Args:
            expression (str): arithmetic expression, e.g. (3+4)*2 or sqrt(2)/3
        """
        return {'expression': expression, 'result': safe_eval(expression)}


# --- Python interpreter (sandboxed) ---------------------------------------------------------------------------

class SandboxedPython(AgentlabAction):
    """A Python interpreter; the code runs in an isolated sandbox process. Print results, or define solution()."""

    tool_name = 'PythonInterpreter'

    def __init__(self, limits: Limits = Limits(), **kwargs):
        super().__init__(**kwargs)
        self.limits = limits

    @tool_api
    def run(self, command: Annotated[str, 'Python code; print the result or define solution() returning it']
            ) -> str:
        """Run Python code in a sandbox and return what it printed (and solution()'s value if it defines one).

        Args:
            command (str): Python code; print the result or define solution() returning it
        """
        epilogue = "\nif callable(globals().get('solution')):\n    print(solution())\n"
        res = run_python(command + epilogue, self.limits)
        out = res.stdout.rstrip('\n')
        if res.truncated:
            out += '\n[output truncated]'
        if res.exit_code != 0 or res.timed_out:
            tail = '\n'.join(res.stderr.strip().splitlines()[-6:])
            raise RuntimeError((out + '\n' if out else '') + (tail or f'exit code {res.exit_code}'))
        return out


# --- arXiv search (the real `arxiv` client) -------------------------------------------------------------------

class ArxivSearchTool(AgentlabAction):
    """Search arXiv for papers."""

    tool_name = 'ArxivSearch'

    def __init__(self, top_k: int = 3, max_chars: int = 300, endpoint: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.top_k, self.max_chars = top_k, max_chars
        # The real client's endpoint, configurable so tests can point it at a local server speaking arXiv's API.
        self.endpoint = endpoint or os.environ.get('AGENTLAB_ARXIV_URL')

    @tool_api(explode_return=True)
    def get_arxiv_article_information(self, query: Annotated[str, 'the content of search query']) -> dict:
        """Run Arxiv search and get the article meta information.

        Args:
            query (str): the content of search query

        Returns:
            dict: article information
                * content (str): a list of 3 arxiv search papers
        """
        import arxiv
        client = arxiv.Client(page_size=self.top_k, delay_seconds=0.0, num_retries=1)
        if self.endpoint:
            client.query_url_format = self.endpoint.rstrip('?') + '?{}'
        papers = []
        for r in client.results(arxiv.Search(query=query, max_results=self.top_k)):
            papers.append(f'Published: {r.published.date()}\nTitle: {r.title}\n'
                          f'Authors: {", ".join(a.name for a in r.authors)}\n'
                          f'Summary: {r.summary[:self.max_chars]}')
        return {'content': '\n\n'.join(papers) if papers else 'No good Arxiv Search Result was found'}


# --- Knowledge base (BM25 over a local folder) ----------------------------------------------------------------

_TOKEN = re.compile(r'[\w]+', re.UNICODE)


def _tokens(text: str) -> list[str]:
    toks = [t.lower() for t in _TOKEN.findall(text)]
    # CJK text has no spaces: index single characters as well so Chinese queries match.
    return toks + [ch for t in toks for ch in t if '\u4e00' <= ch <= '\u9fff']


class KnowledgeBase(AgentlabAction):
    """Search a local folder of documents (.md, .txt) and return the most relevant passages."""

    def __init__(self, folder: str | os.PathLike | None = None, chunk_chars: int = 600, **kwargs):
        super().__init__(**kwargs)
        from agentlab.paths import configs_dir
        self.folder = Path(folder or os.environ.get('AGENTLAB_KB_DIR') or configs_dir() / 'knowledge')
        self.chunk_chars = chunk_chars
        self._index = None

    def _build(self):
        from rank_bm25 import BM25Okapi
        chunks: list[tuple[str, str]] = []
        for path in sorted(self.folder.rglob('*')):
            if path.suffix.lower() not in ('.md', '.txt') or not path.is_file():
                continue
            text = path.read_text(encoding='utf-8', errors='replace')
            for para in re.split(r'\n\s*\n', text):
                para = para.strip()
                while para:
                    chunks.append((path.relative_to(self.folder).as_posix(), para[:self.chunk_chars]))
                    para = para[self.chunk_chars:]
        if not chunks:
            raise FileNotFoundError(f'no .md or .txt documents under {self.folder}')
        tokenized = [_tokens(c) for _, c in chunks]
        self._index = (BM25Okapi(tokenized), chunks, [set(t) for t in tokenized])

    @tool_api
    def search(self, query: Annotated[str, 'what to look for'],
               top_k: Annotated[int, 'number of passages to return (1-5)'] = 2) -> dict:
        """Search the local knowledge base and return the most relevant passages with their source files.

        Args:
            query (str): what to look for
            top_k (int): number of passages to return (1-5)
        """
        if self._index is None:
            self._build()
        bm25, chunks, token_sets = self._index
        q = _tokens(query)
        scores = bm25.get_scores(q)
        # BM25's idf is 0 for a term in half of a tiny corpus, so "matches" means sharing a query token.
        matching = [i for i in range(len(chunks)) if token_sets[i].intersection(q)]
        best = sorted(matching, key=lambda i: -scores[i])[:max(1, min(int(top_k), 5))]
        hits = [{'source': chunks[i][0], 'text': chunks[i][1]} for i in best]
        return {'results': hits} if hits else {'results': [], 'note': 'no matching passage'}

    schemas = {'search': {'top_k': {'minimum': 1, 'maximum': 5}}}


# --- Dates ----------------------------------------------------------------------------------------------------

def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f'dates must be YYYY-MM-DD, got {text!r}') from None


class DateCalculator(AgentlabAction):
    """Date arithmetic on calendar dates (YYYY-MM-DD)."""

    @tool_api
    def days_between(self, start: Annotated[str, 'first date, YYYY-MM-DD'],
                     end: Annotated[str, 'second date, YYYY-MM-DD']) -> dict:
        """Number of days from start to end (negative if end is earlier).

        Args:
            start (str): first date, YYYY-MM-DD
            end (str): second date, YYYY-MM-DD
        """
        return {'days': (_date(end) - _date(start)).days}

    @tool_api
    def add_days(self, date: Annotated[str, 'a date, YYYY-MM-DD'],
                 days: Annotated[int, 'days to add (negative to go back)']) -> dict:
        """The date a number of days after (or before) a date.

        Args:
            date (str): a date, YYYY-MM-DD
            days (int): days to add (negative to go back)
        """
        result = _date(date) + dt.timedelta(days=int(days))
        return {'date': result.isoformat(), 'weekday': result.strftime('%A')}

    @tool_api
    def weekday(self, date: Annotated[str, 'a date, YYYY-MM-DD']) -> dict:
        """The day of the week of a date.

        Args:
            date (str): a date, YYYY-MM-DD
        """
        return {'weekday': _date(date).strftime('%A')}


# --- Units ----------------------------------------------------------------------------------------------------

# Factor to the base unit of each dimension.
_UNITS: dict[str, tuple[str, float]] = {
    'mm': ('length', 0.001), 'cm': ('length', 0.01), 'm': ('length', 1.0), 'km': ('length', 1000.0),
    'in': ('length', 0.0254), 'ft': ('length', 0.3048), 'yd': ('length', 0.9144), 'mi': ('length', 1609.344),
    'mg': ('mass', 1e-6), 'g': ('mass', 0.001), 'kg': ('mass', 1.0), 't': ('mass', 1000.0),
    'oz': ('mass', 0.028349523125), 'lb': ('mass', 0.45359237),
    'ml': ('volume', 0.001), 'l': ('volume', 1.0), 'gal': ('volume', 3.785411784), 'cup': ('volume', 0.2365882365),
    's': ('time', 1.0), 'min': ('time', 60.0), 'h': ('time', 3600.0), 'day': ('time', 86400.0),
    'week': ('time', 604800.0),
    'm/s': ('speed', 1.0), 'km/h': ('speed', 1 / 3.6), 'mph': ('speed', 0.44704), 'kn': ('speed', 0.514444),
    'c': ('temperature', 1.0), 'f': ('temperature', 1.0), 'k': ('temperature', 1.0),
}
UnitName = Literal['mm', 'cm', 'm', 'km', 'in', 'ft', 'yd', 'mi', 'mg', 'g', 'kg', 't', 'oz', 'lb', 'ml', 'l',
                   'gal', 'cup', 's', 'min', 'h', 'day', 'week', 'm/s', 'km/h', 'mph', 'kn', 'c', 'f', 'k']


def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    a, b = from_unit.lower(), to_unit.lower()
    if a not in _UNITS or b not in _UNITS:
        raise ValueError(f'unknown unit {a if a not in _UNITS else b!r}')
    if _UNITS[a][0] != _UNITS[b][0]:
        raise ValueError(f'cannot convert {_UNITS[a][0]} ({a}) to {_UNITS[b][0]} ({b})')
    if _UNITS[a][0] == 'temperature':
        kelvin = {'c': lambda v: v + 273.15, 'f': lambda v: (v - 32) * 5 / 9 + 273.15, 'k': lambda v: v}[a](value)
        out = {'c': lambda k: k - 273.15, 'f': lambda k: (k - 273.15) * 9 / 5 + 32, 'k': lambda k: k}[b](kelvin)
    else:
        out = value * _UNITS[a][1] / _UNITS[b][1]
    return round(out, 6)


class UnitConverter(AgentlabAction):
    """Convert a quantity between units of length, mass, volume, time, speed or temperature."""

    @tool_api
    def run(self, value: Annotated[float, 'the quantity to convert'],
            from_unit: Annotated[UnitName, 'unit of the value, e.g. km, lb, f'],
            to_unit: Annotated[UnitName, 'unit to convert to, e.g. mi, kg, c']) -> dict:
        """Convert a quantity between units of length, mass, volume, time, speed or temperature.

        Args:
            value (float): the quantity to convert
            from_unit (str): unit of the value, e.g. km, lb, f
            to_unit (str): unit to convert to, e.g. mi, kg, c
        """
        return {'value': convert_units(float(value), from_unit, to_unit), 'unit': to_unit}


BUILTIN_ACTIONS: dict[str, type[AgentlabAction]] = {
    'calculator': Calculator, 'python': SandboxedPython, 'arxiv': ArxivSearchTool, 'knowledge': KnowledgeBase,
    'dates': DateCalculator, 'units': UnitConverter,
}
DEFAULT_TOOLS = ('calculator', 'python', 'dates', 'units', 'knowledge', 'arxiv')
