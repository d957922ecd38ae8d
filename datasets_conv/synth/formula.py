"""Formulas that give catalog functions real results (``"compute": {"area": "0.5 * base * height"}``).

A math or physics tool in the catalog is not run anywhere, but its answer is knowable: a conversation whose
``Response:`` says the gcd of 12 and 18 is 5 would teach a model to copy nonsense into its final answer. So a
catalog entry may give a formula over its arguments, evaluated here.

The evaluator walks a Python expression's AST and allows only arithmetic, comparisons, literals, names bound to the
call's values, indexing and calls to the whitelisted pure functions below (no attributes, no comprehensions, no
``eval``), with caps on exponents and factorials, so a user's schema file cannot make it run code or hang.
"""

from __future__ import annotations

import ast
import math
import operator
import statistics
from functools import lru_cache
from typing import Any, Mapping


class FormulaError(ValueError):
    pass


def _isprime(n: int) -> bool:
    n = int(n)
    if n < 2:
        return False
    if n > 10**12:
        raise FormulaError('number too large for a primality check')
    return all(n % d for d in range(2, math.isqrt(n) + 1))


def _primefactors(n: int) -> list[int]:
    n, out, d = int(n), [], 2
    if n > 10**12 or n < 2:
        raise FormulaError('factorize needs 2 <= n <= 10**12')
    while d * d <= n:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    return out + ([n] if n > 1 else [])


def _fib(count: int, zero: bool = True) -> list[int]:
    if not 0 <= count <= 500:
        raise FormulaError('fib count must be 0..500')
    a, b = (0, 1) if zero else (1, 1)
    out = []
    for _ in range(count):
        out.append(a)
        a, b = b, a + b
    return out


def _quadratic(a: float, b: float, c: float) -> list[float]:
    if a == 0:
        raise FormulaError('not a quadratic')
    disc = b * b - 4 * a * c
    if disc < 0:
        return []
    if disc == 0:
        return [-b / (2 * a)]
    r = math.sqrt(disc)
    return sorted([(-b - r) / (2 * a), (-b + r) / (2 * a)])


def _factorial(n: int) -> int:
    if not 0 <= int(n) <= 1000:
        raise FormulaError('factorial argument must be 0..1000')
    return math.factorial(int(n))


def _det(m: list[list[float]]) -> float:
    n = len(m)
    if n == 0 or any(len(row) != n for row in m) or n > 6:
        raise FormulaError('determinant needs a square matrix up to 6x6')
    if n == 1:
        return m[0][0]
    return sum((-1) ** j * m[0][j] * _det([row[:j] + row[j + 1:] for row in m[1:]]) for j in range(n))


def _matmul(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    if not a or not b or any(len(r) != len(b) for r in a):
        raise FormulaError('matrix shapes do not match')
    return [[sum(x * y for x, y in zip(row, col)) for col in zip(*b)] for row in a]


def _to_base(n: int, base: int) -> str:
    if not 2 <= base <= 36 or n < 0:
        raise FormulaError('base must be 2..36 and n >= 0')
    digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'
    out = ''
    while True:
        n, r = divmod(n, base)
        out = digits[r] + out
        if n == 0:
            return out


def _solve2(e1: list[float], e2: list[float]) -> list[float]:
    (a1, b1, c1), (a2, b2, c2) = e1, e2
    det = a1 * b2 - a2 * b1
    if det == 0:
        raise FormulaError('no unique solution')
    return [(c1 * b2 - c2 * b1) / det, (a1 * c2 - a2 * c1) / det]


def _polyval(coefficients: list[float], x: float) -> float:
    value = 0.0
    for c in coefficients:
        value = value * x + c
    return value


def _add_days(date: str, days: int) -> str:
    import datetime as dt
    return (dt.date.fromisoformat(str(date)) + dt.timedelta(days=int(days))).isoformat()


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


FUNCTIONS = {
    'sqrt': math.sqrt, 'sin': math.sin, 'cos': math.cos, 'tan': math.tan, 'asin': math.asin, 'acos': math.acos,
    'atan': math.atan, 'atan2': math.atan2, 'degrees': math.degrees, 'radians': math.radians, 'log': math.log,
    'log10': math.log10, 'log2': math.log2, 'exp': math.exp, 'abs': abs, 'round': round, 'floor': math.floor,
    'ceil': math.ceil, 'hypot': math.hypot, 'dist': math.dist, 'factorial': _factorial, 'comb': math.comb,
    'perm': math.perm,
    'gcd': lambda *xs: math.gcd(*(xs[0] if len(xs) == 1 and isinstance(xs[0], list) else xs)),
    'lcm': lambda *xs: math.lcm(*(xs[0] if len(xs) == 1 and isinstance(xs[0], list) else xs)),
    'min': min, 'max': max, 'sum': sum, 'len': len, 'sorted': sorted, 'int': int, 'float': float,
    'mean': statistics.mean, 'median': statistics.median, 'stdev': statistics.stdev, 'pstdev': statistics.pstdev,
    'variance': statistics.variance, 'mode': statistics.mode,
    'isprime': _isprime, 'primefactors': _primefactors, 'fib': _fib, 'quadratic_roots': _quadratic,
    'det': _det, 'matmul': _matmul, 'to_base': _to_base, 'solve2': _solve2, 'polyval': _polyval,
    'haversine': _haversine, 'add_days': _add_days, 'upper': str.upper, 'lower': str.lower,
    'reverse': lambda s: s[::-1],
    'wordcount': lambda s: len(str(s).split()), 'charcount': lambda s: len(str(s)),
    'count': lambda s, sub: str(s).count(str(sub)), 'title': str.title,
    'reverse_words': lambda s: ' '.join(reversed(str(s).split())),
    'dna_complement': lambda s: str(s).translate(str.maketrans('ACGTacgt', 'TGCAtgca')),
}
CONSTANTS = {'pi': math.pi, 'e': math.e, 'True': True, 'False': False, 'g': 9.80665, 'c': 299_792_458.0,
             'G': 6.674e-11, 'R': 8.314, 'NA': 6.02214076e23, 'k_e': 8.9875517923e9}
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_CMPOPS = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
           ast.Eq: operator.eq, ast.NotEq: operator.ne}


@lru_cache(maxsize=2048)
def parse(expr: str) -> ast.Expression:
    if len(expr) > 400:
        raise FormulaError('formula too long')
    try:
        return ast.parse(expr, mode='eval')
    except SyntaxError:
        raise FormulaError(f'cannot parse formula {expr!r}') from None


def names_in(expr: str) -> set[str]:
    """Argument names a formula reads (for catalog checks)."""
    tree = parse(expr)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called
            and n.id not in CONSTANTS}


_ALLOWED_NODES = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.List, ast.Tuple, ast.BinOp, ast.UnaryOp,
                  ast.Compare, ast.BoolOp, ast.IfExp, ast.Subscript, ast.Call, ast.operator, ast.unaryop, ast.cmpop,
                  ast.boolop)


def check(expr: str) -> None:
    """Raise FormulaError unless ``expr`` uses only what :func:`evaluate` allows (checked when a catalog loads)."""
    for node in ast.walk(parse(expr)):
        if not isinstance(node, _ALLOWED_NODES):
            raise FormulaError(f'not allowed in a formula: {type(node).__name__}')
        if isinstance(node, ast.Call) and (not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS
                                           or node.keywords):
            raise FormulaError(f'unknown function in formula {expr!r}')


def evaluate(expr: str, env: Mapping[str, Any]) -> Any:
    """Evaluate a catalog formula over ``env`` (argument and slot values)."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            raise FormulaError(f'unknown name {node.id!r}')
        if isinstance(node, (ast.List, ast.Tuple)):
            return [ev(x) for x in node.elts]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = ev(node.left), ev(node.right)
            # Integer powers can take unbounded time (2 ** 10 ** 9); float powers just overflow, which is caught.
            if isinstance(node.op, ast.Pow) and isinstance(left, int) and isinstance(right, int) \
                    and abs(right) > 1000:
                raise FormulaError('exponent too large')
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
            value = ev(node.operand)
            return -value if isinstance(node.op, ast.USub) else (not value if isinstance(node.op, ast.Not)
                                                                  else value)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMPOPS:
            return _CMPOPS[type(node.ops[0])](ev(node.left), ev(node.comparators[0]))
        if isinstance(node, ast.BoolOp):
            values = [ev(v) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.IfExp):
            return ev(node.body) if ev(node.test) else ev(node.orelse)
        if isinstance(node, ast.Subscript):
            return ev(node.value)[ev(node.slice)]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS \
                and not node.keywords:
            return FUNCTIONS[node.func.id](*[ev(a) for a in node.args])
        raise FormulaError(f'not allowed in a formula: {type(node).__name__}')

    try:
        return ev(parse(expr))
    except FormulaError:
        raise
    except (ArithmeticError, ValueError, TypeError, IndexError, KeyError, statistics.StatisticsError) as exc:
        raise FormulaError(f'{expr}: {exc}') from None


def tidy_number(value: Any) -> Any:
    """Round computed floats the way a tool would report them (4 decimals), recursively."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FormulaError('result is not finite')
        return round(value, 4)
    if isinstance(value, list):
        return [tidy_number(v) for v in value]
    return value
