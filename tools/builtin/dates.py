"""`dates`: calendar arithmetic on YYYY-MM-DD dates."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from lagent.actions import tool_api

from agentlab.tools.base import AgentlabAction


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
