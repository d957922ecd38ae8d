"""Whether a final answer holds the expected value (numbers within rounding, dates in any common spelling, text)."""

from __future__ import annotations

import calendar
import re
from typing import Any


_NUMBER = re.compile(r'-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|-?\.\d+')
_MONTHS = [calendar.month_name[i] for i in range(1, 13)]


def numbers_in(text: str) -> list[tuple[float, int]]:
    """(value, decimals written) for each number in a text; thousands separators allowed."""
    out = []
    for m in _NUMBER.finditer(text or ''):
        token = m.group(0).replace(',', '')
        try:
            value = float(token)
        except ValueError:
            continue
        decimals = len(token.split('.')[1].split('e')[0].split('E')[0]) if '.' in token else 0
        out.append((value, decimals))
    return out


def date_forms(iso: str) -> list[str]:
    import datetime as dt
    d = dt.date.fromisoformat(iso)
    month = _MONTHS[d.month - 1]
    return [iso, f'{month} {d.day}, {d.year}', f'{d.day} {month} {d.year}', f'{month} {d.day} {d.year}']


def _norm(text: str) -> str:
    return re.sub(r'\s+', ' ', (text or '').lower()).strip()


def answer_matches(answer: str | None, expected: Any, check: str) -> bool:
    """Whether a final answer holds the expected value.

    number: a number in the answer equals the expected one; a non-integer may be rounded to the decimals written,
    within 1% (8.05 and 8.0467 both match 8.04672; 8 matches 8.04672; 3 does not match 3.14159).
    date: the ISO date or a spelled-out form (March 26, 2024 / 26 March 2024). text: a case-insensitive substring.
    """
    if answer is None:
        return False
    if check == 'number':
        e = float(expected)
        for x, decimals in numbers_in(answer):
            if e.is_integer() and abs(e) < 1e15:
                if x == e:
                    return True
                continue
            if abs(x - e) <= max(0.5 * 10 ** -decimals, 1e-9) + 1e-12 and abs(x - e) <= 0.01 * abs(e) + 1e-12:
                return True
        return False
    if check == 'date':
        norm = _norm(answer)
        return any(_norm(f) in norm for f in date_forms(str(expected)))
    return _norm(str(expected)) in _norm(answer)
