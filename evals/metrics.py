"""Rates with 95% Wilson score intervals, and McNemar's exact test for paired before/after verdicts.

Standard library only, so a report can be recomputed anywhere. Known values (tests check them):
Wilson 8/10 -> [0.4902, 0.9433] (R: prop.test(8, 10, correct=FALSE)); McNemar exact with 10 vs 2 discordant pairs
-> p = 158/4096 = 0.0386 (two-sided binomial test of 2 successes in 12 at p=0.5).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

Z95 = 1.959963984540054   # the 0.975 quantile of the standard normal


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for k successes in n trials (None when n == 0)."""
    if n <= 0:
        return None
    if not 0 <= k <= n:
        raise ValueError(f'k={k} is outside 0..n={n}')
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(k: int, n: int, higher_is_better: bool = True) -> dict:
    """A rate as results.json stores it: value, k, n, its 95% Wilson interval (value and interval null at n=0), and
    which way is better (declared by the suite that defines the metric; `compare` marks changes by it)."""
    ci = wilson(k, n)
    return {'value': (k / n) if n else None, 'k': int(k), 'n': int(n),
            'ci95': [round(ci[0], 6), round(ci[1], 6)] if ci else None, 'higher_is_better': higher_is_better}


def rate_of(flags: Iterable[bool | None], higher_is_better: bool = True) -> dict:
    """The rate of True among the non-None flags (None = not applicable to that case)."""
    values = [bool(f) for f in flags if f is not None]
    return rate(sum(values), len(values), higher_is_better)


def mcnemar_exact(before: Sequence[bool], after: Sequence[bool]) -> dict:
    """McNemar's exact (binomial) test on paired verdicts.

    b = cases right before and wrong after (newly broken), c = wrong before and right after (fixed).
    Two-sided p = min(1, 2 * P[X <= min(b, c)]) for X ~ Binomial(b + c, 1/2); p = 1 when nothing changed.
    """
    if len(before) != len(after):
        raise ValueError('paired verdicts must have the same length')
    b = sum(1 for x, y in zip(before, after) if x and not y)
    c = sum(1 for x, y in zip(before, after) if y and not x)
    return {'broken': b, 'fixed': c, 'n_paired': len(before), 'p_value': mcnemar_p(b, c)}


def mcnemar_p(b: int, c: int) -> float:
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)
