"""Exchange calendars (sessions and closes), built once per process.

Building a calendar costs 0.5-0.9 s (exchange_calendars evaluates its holiday rules over the whole range),
and the fundamentals, the headlines' trading days and the prices' session check each built their own: ~2 s
in every Dask worker of a run. `covering` hands out exchange_calendars' default calendar (twenty years back
to a year ahead; cached by exchange_calendars, so the demo source shares it) whenever it covers the dates
asked, and otherwise one calendar from EDGAR's first electronic filings (or the earliest date asked) through
the year after the latest, kept for the process. A session's open and close do not depend on the range the
calendar was built over, so a wider calendar gives the same answers.
"""

from __future__ import annotations

import functools

import exchange_calendars
import pandas as pd
from exchange_calendars import ExchangeCalendar

NYSE = "XNYS"
EARLIEST = pd.Timestamp("1993-01-04")  # EDGAR's first electronic filings


def covering(name: str = NYSE, first: pd.Timestamp | None = None, last: pd.Timestamp | None = None) -> ExchangeCalendar:
    """`name`'s calendar with every session from `first` to `last` (dates or naive timestamps; None: the
    default calendar's bound)."""
    default = exchange_calendars.get_calendar(name)
    first = None if first is None else pd.Timestamp(first).normalize()
    last = None if last is None else pd.Timestamp(last).normalize()
    if (first is None or first >= default.first_session) and (last is None or last <= default.last_session):
        return default
    start = EARLIEST if first is None else min(EARLIEST, first)
    end_year = None if last is None or last <= default.last_session else last.year + 1
    return _built(name, start, end_year)


@functools.cache
def _built(name: str, start: pd.Timestamp, end_year: int | None) -> ExchangeCalendar:
    end = None if end_year is None else pd.Timestamp(end_year, 12, 31)
    return exchange_calendars.get_calendar(name, start=start, end=end)
