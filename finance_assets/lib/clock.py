"""The one clock: FINANCE_ASSETS_AS_OF (or the CLI's --as-of) is "now" for every process.

Sources, the planner, automation evaluation, sensors and the demo read their "now" from
`Settings.now()`, which is the as-of instant when one is set and the machine clock otherwise. A build
as of T uses nothing known after T (docs/operations.md, "Clock, corporate actions and replay").

Accepted forms: YYYY-MM-DD (the end of that day, 23:59 New York: after the close and the evening
filings), YYYY-MM-DDTHH:MM[:SS] (New York time) or any of these with an offset (Z, +02:00).
Stored normalized as an ISO UTC string so settings stay hashable and comparable.
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

NEW_YORK = "America/New_York"
ACCEPTED = "expected an ISO timestamp YYYY-MM-DD[THH:MM] (New York time unless an offset such as Z or +02:00 is given)"
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_as_of(raw: str) -> str:
    """The as-of instant as an ISO UTC string ('' for unset); ValueError(ACCEPTED) when malformed."""
    text = (raw or "").strip()
    if not text:
        return ""
    if _DATE_ONLY.fullmatch(text):
        text += "T23:59"
    try:
        stamp = pd.Timestamp(dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")))
    except ValueError:
        raise ValueError(ACCEPTED) from None
    if not 1990 <= stamp.year <= 2200:
        raise ValueError(ACCEPTED)
    stamp = stamp.tz_localize(NEW_YORK) if stamp.tzinfo is None else stamp
    return stamp.tz_convert("UTC").isoformat()


def now(as_of: str = "") -> dt.datetime:
    """The clock: the as-of instant (any accepted form) or, when unset, the machine's UTC now."""
    if not as_of:
        return dt.datetime.now(dt.UTC)
    return pd.Timestamp(parse_as_of(as_of)).to_pydatetime()


def today_new_york(as_of: str = "") -> dt.date:
    return pd.Timestamp(now(as_of)).tz_convert(NEW_YORK).date()
