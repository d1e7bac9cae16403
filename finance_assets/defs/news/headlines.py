"""Headline helpers: de-duplication, the trading day a headline can move, daily sentiment.

Conventions
-----------
* ``published_utc`` is a tz-aware pandas Timestamp column (any zone is converted to UTC; naive
  timestamps are rejected because their zone is a guess).
* A trading day is a ``datetime.date`` of an exchange session (default NYSE, ``XNYS``).
* ``daily_sentiment`` returns rows (indexed by trading day) only for days that have at least one
  headline; each row's decayed score looks back over the 7 calendar days ending on that day.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import pandas as pd

from finance_assets.defs.news import sentiment
from finance_assets.defs.news.headline_sources import HEADLINE_COLUMNS
from finance_assets.lib import market_calendar

DECAY_WINDOW_DAYS = 7
_PUNCTUATION = re.compile(r"[^\w\s]|_")
_WHITESPACE = re.compile(r"\s+")
_CALENDAR_PADDING = pd.Timedelta(days=30)  # enough to reach the next session after long closures


def normalize_title(title: object) -> str:
    """Title folded for duplicate detection: Unicode-compatible, lower case, punctuation and
    whitespace collapsed to single spaces ("Apple beats!  " == "apple beats")."""
    if not isinstance(title, str):
        return ""
    folded = unicodedata.normalize("NFKC", title).casefold()
    return _WHITESPACE.sub(" ", _PUNCTUATION.sub(" ", folded)).strip()


def dedupe_headlines(df: pd.DataFrame) -> pd.DataFrame:
    """Drop repeated headlines per ticker, keeping the earliest published copy.

    Two rows of the same ticker are duplicates when they share a URL (surrounding whitespace
    ignored) or a normalized title (see ``normalize_title``). Missing/blank URLs or titles never
    match each other. The same story under two tickers is kept once per ticker. Returns the kept
    rows, all original columns, ordered by ``published_utc`` (ties keep input order), new index.
    """
    _require_columns(df, HEADLINE_COLUMNS)
    ordered, url_key, title_key = _by_publication(df)
    repeated_url = (url_key != "") & ordered.assign(_k=url_key).duplicated(["ticker", "_k"])
    repeated_title = (title_key != "") & ordered.assign(_k=title_key).duplicated(["ticker", "_k"])
    kept = ordered.loc[~(repeated_url | repeated_title)].drop(columns="_published")
    return kept.reset_index(drop=True)


def in_window(published_utc: pd.Series, months: Sequence[str], lead_days: int) -> pd.Series:
    """Headlines that can fall on a trading day of `months`: from `lead_days` before the first month (a weekend
    story counts for its first session) to the end of the last: every row ``dedupe_by_month`` reads. Filtering
    before the de-duplication keeps a routine title from years ago from hiding this month's."""
    start = pd.Timestamp(min(months), tz="America/New_York") - pd.Timedelta(days=lead_days)
    end = pd.Timestamp(max(months), tz="America/New_York") + pd.offsets.MonthBegin(1)
    published = pd.to_datetime(published_utc, utc=True)
    return (published >= start) & (published < end)


def dedupe_by_month(raw: pd.DataFrame, months: Sequence[str], lead_days: int) -> tuple[list[pd.DataFrame], int]:
    """Each month's headlines, as ``dedupe_headlines`` and ``assign_trading_day`` give them month by month.

    For every month key of ``months`` (in order; '2025-03-01'), the rows published from ``lead_days``
    before the month's first day (New York) to the end of the month are de-duplicated on their own
    (``dedupe_headlines``: a copy outside the window never hides one inside it), given their trading day
    (column ``date``) and kept when that day falls in the month. Returns (one frame per month that keeps
    rows, ordered by ``published_utc`` like ``dedupe_headlines``; rows dropped as duplicates).

    Same rows as calling those two functions on each month's window, but the sort, the keys and the
    trading days are computed once for all months: a 10-year backfill has ~126 months per ticker, and
    the per-month calls were most of a `headlines` run.
    """
    _require_columns(raw, HEADLINE_COLUMNS)
    if raw.empty:
        return [], 0
    ordered, url_key, title_key = (part.reset_index(drop=True) for part in _by_publication(raw))
    present = int(ordered["_published"].notna().sum())  # NaT sorts last: never in a window
    instants = _utc_nanos(ordered["_published"].iloc[:present])
    # duplicate keys per ticker, as integer codes (blank keys never match: code -1)
    url_codes = _key_codes(ordered["ticker"], url_key)
    title_codes = _key_codes(ordered["ticker"], title_key)
    days = assign_trading_day(ordered["_published"].iloc[:present]).to_numpy(dtype=object)
    day_months = np.array([f"{d.year:04d}-{d.month:02d}-01" for d in days], dtype=object)
    frames, duplicates = [], 0
    for month in months:
        first = pd.Timestamp(month, tz="America/New_York")
        start = (first - pd.Timedelta(days=lead_days)).value
        end = (first + pd.offsets.MonthBegin(1)).value
        lo, hi = np.searchsorted(instants, [start, end], side="left")
        if lo == hi:
            continue
        kept = _first_copies(url_codes[lo:hi]) & _first_copies(title_codes[lo:hi])
        duplicates += int((~kept).sum())
        rows = np.flatnonzero(kept & (day_months[lo:hi] == month)) + lo
        if len(rows) == 0:
            continue
        frame = ordered.iloc[rows].drop(columns="_published")
        frame["date"] = days[rows]
        frames.append(frame.reset_index(drop=True))
    return frames, duplicates


def _by_publication(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """The rows by publication instant (column `_published`; stable, unknown instants last) and their two
    duplicate keys: the URL without surrounding whitespace and the normalized title ('' for a blank one)."""
    ordered = df.assign(_published=_as_utc(df["published_utc"]))
    ordered = ordered.sort_values("_published", kind="stable", na_position="last")
    url_key = ordered["url"].where(ordered["url"].notna(), "").astype(str).str.strip()
    return ordered, url_key, ordered["title"].map(normalize_title)


def _key_codes(tickers: pd.Series, keys: pd.Series) -> np.ndarray:
    """Integer code per (ticker, key); -1 for a blank key."""
    codes, _ = pd.factorize(pd.MultiIndex.from_arrays([tickers.astype(str), keys]))
    return np.where(keys.to_numpy(dtype=object) != "", codes, -1)


def _first_copies(codes: np.ndarray) -> np.ndarray:
    """True where a code occurs for the first time in `codes` (and for every blank, -1)."""
    first = np.zeros(len(codes), dtype=bool)
    _, positions = np.unique(codes, return_index=True)
    first[positions] = True
    return first | (codes == -1)


def assign_trading_day(published_utc: pd.Series, calendar_name: str = "XNYS") -> pd.Series:
    """Trading day each headline can first affect (Series of ``datetime.date``, same index).

    A headline published before a session's close (16:00 New York, or the calendar's early close
    such as 13:00 on the day after Thanksgiving) counts for that session, including pre-market
    hours; one published at or after the close, or on a weekend/holiday, counts for the next
    session. Closes come from ``exchange_calendars`` as UTC instants, so DST is handled. Missing
    timestamps give ``None``.
    """
    instants = _as_utc(published_utc)
    result = pd.Series([None] * len(instants), index=published_utc.index, dtype=object)
    present = instants.notna()
    if not present.any():
        return result.rename("trading_day")
    closes = _session_closes(instants[present].min(), instants[present].max(), calendar_name)
    positions = np.searchsorted(_utc_nanos(closes), _utc_nanos(instants[present]), side="right")
    sessions = closes.index[positions]  # first session whose close is strictly later
    result[present] = [session.date() for session in sessions]
    return result.rename("trading_day")


def _session_closes(first: pd.Timestamp, last: pd.Timestamp, calendar_name: str) -> pd.Series:
    """Session -> close (UTC) from the day before ``first`` to past the session after ``last``."""
    start = (first - pd.Timedelta(days=1)).tz_convert(None).normalize()
    end = (last + _CALENDAR_PADDING).tz_convert(None).normalize()
    closes = _utc_closes(market_calendar.covering(calendar_name, start, end))
    if closes.empty or closes.iloc[-1] <= last:
        raise ValueError(f"{calendar_name} has no session closing after {last}")
    return closes


@functools.lru_cache(maxsize=8)
def _utc_closes(calendar: market_calendar.ExchangeCalendar) -> pd.Series:
    """Every session's close (UTC) of one of the process's calendars (lib/market_calendar.py), converted once.
    A session's close does not depend on the range the calendar covers. Callers must not modify the result."""
    return calendar.closes.dt.tz_convert("UTC")


def _utc_nanos(instants: pd.Series) -> np.ndarray:
    """UTC instants as int64 nanoseconds, whatever the Series' datetime resolution."""
    return instants.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]").to_numpy(dtype=np.int64)


def daily_sentiment(headlines: pd.DataFrame, decay_halflife_days: float = 2.0) -> pd.DataFrame:
    """Per-trading-day sentiment from per-headline scores.

    Input: columns ``trading_day`` (date or Timestamp) and ``score`` in [-1, 1]; other columns are
    ignored, rows with a missing day or score are dropped. Output: indexed by ``trading_day``
    (``datetime.date``, sorted), one row per trading day that has headlines, with columns
    ``headline_count``, ``mean_score``, ``positive_count`` / ``negative_count`` /
    ``neutral_count`` (``sentiment.label`` with its calibrated neutral band) and
    ``decayed_7d_score``: the weighted mean of every headline score whose trading day lies in the
    7 calendar days ending on the row's day (the day included), each weighted
    0.5 ** (age_days / decay_halflife_days), age in calendar days. Days without headlines get no
    row (there is nothing to average); a row's decayed score still includes the headlines of up
    to 6 days before it.
    """
    _require_columns(headlines, ("trading_day", "score"))
    if not decay_halflife_days > 0:
        raise ValueError("decay_halflife_days must be positive")
    days = pd.to_datetime(headlines["trading_day"]).dt.tz_localize(None).dt.normalize()
    scores = pd.to_numeric(headlines["score"], errors="coerce")
    valid = days.notna() & scores.notna()
    frame = pd.DataFrame({"day": days[valid], "score": scores[valid].astype(np.float64)})
    if frame.empty:
        return _empty_daily()
    codes = sentiment.labels_from_scores(frame["score"].to_numpy())
    frame["positive_count"], frame["negative_count"] = codes == 1, codes == 0
    frame["neutral_count"] = codes == 2

    per_day = frame.groupby("day").agg(
        headline_count=("score", "size"),
        mean_score=("score", "mean"),
        score_sum=("score", "sum"),
        positive_count=("positive_count", "sum"),
        negative_count=("negative_count", "sum"),
        neutral_count=("neutral_count", "sum"),
    )
    per_day["decayed_7d_score"] = _decayed_mean(per_day, decay_halflife_days)
    out = per_day.drop(columns="score_sum")
    out.index = pd.Index(out.index.date, name="trading_day")
    return out


def _decayed_mean(per_day: pd.DataFrame, halflife_days: float) -> np.ndarray:
    """Exponentially decayed mean over the trailing window, on a gap-free calendar-day grid."""
    calendar_days = pd.date_range(per_day.index.min(), per_day.index.max(), freq="D")
    sums = per_day["score_sum"].reindex(calendar_days, fill_value=0.0).to_numpy()
    counts = per_day["headline_count"].reindex(calendar_days, fill_value=0).to_numpy(np.float64)
    weighted_sum, weight_total = np.zeros_like(sums), np.zeros_like(sums)
    for age in range(min(DECAY_WINDOW_DAYS, sums.size)):  # headlines spanning fewer days than the window
        weight = 0.5 ** (age / halflife_days)
        weighted_sum[age:] += weight * sums[: sums.size - age]
        weight_total[age:] += weight * counts[: counts.size - age]
    decayed = pd.Series(weighted_sum / np.where(weight_total > 0, weight_total, np.nan), index=calendar_days)
    return decayed.reindex(per_day.index).to_numpy()


def _empty_daily() -> pd.DataFrame:
    columns = {
        "headline_count": pd.Series(dtype=np.int64),
        "mean_score": pd.Series(dtype=np.float64),
        "positive_count": pd.Series(dtype=np.int64),
        "negative_count": pd.Series(dtype=np.int64),
        "neutral_count": pd.Series(dtype=np.int64),
        "decayed_7d_score": pd.Series(dtype=np.float64),
    }
    return pd.DataFrame(columns, index=pd.Index([], dtype=object, name="trading_day"))


def _as_utc(values: pd.Series) -> pd.Series:
    instants = pd.to_datetime(values)
    if instants.dt.tz is None:
        raise ValueError("published_utc must be tz-aware (UTC); got naive timestamps")
    return instants.dt.tz_convert("UTC")


def _require_columns(df: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}; have {list(df.columns)}")


__all__ = [
    "assign_trading_day",
    "daily_sentiment",
    "dedupe_by_month",
    "dedupe_headlines",
    "normalize_title",
]
