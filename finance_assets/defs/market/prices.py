"""Daily price parsers for the provider formats, and validation of what they return.

Every parser returns the same frame (`PRICE_COLUMNS`): date, open, high, low, close, adj_close,
volume, dividend, split_ratio. `close` is split-adjusted (what Yahoo and Stooq serve) and
`adj_close` is split- and dividend-adjusted. Garbage raises `PriceFormatError` with the reason, so
a provider that returns an error page or nonsense is skipped rather than stored.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from finance_assets.defs.market.schemas import PARSED_PRICE_COLUMNS

PRICE_COLUMNS = PARSED_PRICE_COLUMNS  # the stored `prices` table (schemas.PRICES) without ticker and source


class PriceFormatError(ValueError):
    pass


def _finish(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    for col, default in (("adj_close", None), ("dividend", 0.0), ("split_ratio", 1.0)):
        if col not in frame.columns:
            frame[col] = frame["close"] if default is None else default
    frame = frame[PRICE_COLUMNS].copy()
    frame["date"] = pd.to_datetime(frame["date"], cache=False).dt.normalize()  # no cache: 5 ms on a datetime column
    for col in ("open", "high", "low", "close", "adj_close", "dividend", "split_ratio"):
        if frame[col].dtype != "float64":
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["volume"] = pd.to_numeric(frame["volume"], errors="coerce").fillna(0).astype("int64")
    # Providers pad non-trading rows with nulls (Yahoo) or repeat dates: drop and dedupe (on datetime64, before
    # the days become date objects: hashing and sorting those cost more than the rest of this function)
    frame = frame.dropna(subset=["open", "high", "low", "close"])
    frame = frame.drop_duplicates(subset=["date"], keep="last").sort_values("date").reset_index(drop=True)
    frame["date"] = frame["date"].dt.date
    frame["adj_close"] = frame["adj_close"].fillna(frame["close"])
    return frame


QUOTE_FIELDS = ("open", "high", "low", "close", "volume")


def _session_days(stamps, tz: str) -> pd.DatetimeIndex:
    """Epoch seconds -> the exchange's calendar day (naive)."""
    return pd.to_datetime(stamps, unit="s", utc=True).tz_convert(tz).normalize().tz_localize(None)


def _floats(values, n: int) -> np.ndarray:
    """A JSON array of numbers and nulls as float64 (null -> NaN), without going through object arrays;
    an absent array is all NaN."""
    if values is None:
        return np.full(n, np.nan)
    try:
        return np.array(values, dtype="float64")
    except (TypeError, ValueError):  # strings or other garbage: coerced (to NaN) like the rest of the parsers
        return pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").to_numpy(dtype="float64")


def _on_days(records: dict | None, dates: pd.DatetimeIndex, tz: str, value, default: float) -> np.ndarray:
    """Yahoo's `events` (dividends or splits keyed by id, each with an epoch `date`) as a column over `dates`:
    `value(event)` on the event's session day, `default` elsewhere; an event on a day without a bar is
    dropped, and of two events on one day the later in the document wins."""
    if not records:
        return np.full(len(dates), default)
    events = list(records.values())
    by_day = pd.Series([value(ev) for ev in events], index=_session_days([ev["date"] for ev in events], tz))
    by_day = by_day[~by_day.index.duplicated(keep="last")]
    return by_day.reindex(dates).fillna(default).to_numpy(dtype="float64")


def parse_yahoo_chart(payload: bytes | str | dict) -> pd.DataFrame:
    """Yahoo v8 chart JSON (`chart.result[0]` with timestamp, indicators.quote/adjclose, events)."""
    data = json.loads(payload) if isinstance(payload, (bytes, str)) else payload
    try:
        chart = data["chart"]
        if chart.get("error"):
            raise PriceFormatError(f"Yahoo chart error: {chart['error']}")
        result = chart["result"][0]
        tz = result.get("meta", {}).get("exchangeTimezoneName", "America/New_York")
        stamps = result.get("timestamp") or []
        quote = result["indicators"]["quote"][0]
    except (KeyError, IndexError, TypeError) as exc:
        raise PriceFormatError(f"not a Yahoo chart document: missing {exc}") from None
    dates = _session_days(stamps, tz)
    frame = pd.DataFrame({"date": dates, **{c: _floats(quote.get(c), len(stamps)) for c in QUOTE_FIELDS}})
    adj = result["indicators"].get("adjclose")
    if adj:
        frame["adj_close"] = _floats(adj[0].get("adjclose"), len(stamps))
    events = result.get("events") or {}
    frame["dividend"] = _on_days(events.get("dividends"), dates, tz, lambda ev: float(ev["amount"]), 0.0)
    frame["split_ratio"] = _on_days(
        events.get("splits"), dates, tz, lambda ev: float(ev["numerator"]) / float(ev["denominator"]), 1.0
    )
    return _finish(frame, "yahoo")


def parse_stooq_csv(text: str) -> pd.DataFrame:
    """Stooq download CSV (Date,Open,High,Low,Close,Volume) or its bulk <TICKER>,<PER>,<DATE>,... files."""
    stripped = text.lstrip()
    if (
        not stripped
        or stripped.startswith(("No data", "Exceeded"))
        or (stripped.startswith("<") and not stripped.startswith("<TICKER>"))
    ):
        raise PriceFormatError(f"Stooq returned no data: {stripped[:60]!r}")
    raw = pd.read_csv(io.StringIO(text))
    cols = {c.strip("<>").lower(): c for c in raw.columns}
    if "date" not in cols or "close" not in cols:
        raise PriceFormatError(f"not a Stooq CSV: columns {list(raw.columns)}")
    dates = raw[cols["date"]].astype(str)
    fmt = "%Y%m%d" if dates.str.fullmatch(r"\d{8}").all() else "%Y-%m-%d"
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(dates, format=fmt),
            **{c: raw[cols[c]] for c in ("open", "high", "low", "close")},
            "volume": raw[cols["volume"]] if "volume" in cols else raw.get(cols.get("vol", ""), 0),
        }
    )
    if "vol" in cols and "volume" not in cols:
        frame["volume"] = raw[cols["vol"]]
    return _finish(frame, "stooq")  # Stooq is already split and dividend adjusted: adj_close = close


def parse_price_csv(text: str) -> pd.DataFrame:
    """Yahoo/yfinance CSV exports: Date,Open,High,Low,Close[,Adj Close],Volume (any case)."""
    raw = pd.read_csv(io.StringIO(text))
    cols = {c.strip().lower().replace(" ", "_"): c for c in raw.columns}
    if "date" not in cols or "close" not in cols:
        raise PriceFormatError(f"not a price CSV: columns {list(raw.columns)}")
    frame = pd.DataFrame({c: raw[cols[c]] for c in ("date", "open", "high", "low", "close", "volume")})
    for alias in ("adj_close", "adjclose"):
        if alias in cols:
            frame["adj_close"] = raw[cols[alias]]
    frame["date"] = pd.to_datetime(frame["date"], utc=True).dt.tz_localize(None).dt.normalize()
    return _finish(frame, "csv")


def parse_alphavantage_daily(payload: bytes | str | dict) -> pd.DataFrame:
    """Alpha Vantage TIME_SERIES_DAILY_ADJUSTED JSON: raw OHLC, adjusted close, dividend, split coefficient."""
    data = json.loads(payload) if isinstance(payload, (bytes, str)) else payload
    for key in ("Error Message", "Note", "Information"):
        if key in data:
            raise PriceFormatError(f"Alpha Vantage: {str(data[key])[:120]}")
    series = data.get("Time Series (Daily)")
    if not isinstance(series, dict):
        raise PriceFormatError("not an Alpha Vantage daily document")
    rows = []
    for day, v in series.items():
        rows.append(
            {
                "date": day,
                "open": v.get("1. open"),
                "high": v.get("2. high"),
                "low": v.get("3. low"),
                "close": v.get("4. close"),
                "adj_close": v.get("5. adjusted close"),
                "volume": v.get("6. volume"),
                "dividend": v.get("7. dividend amount", 0.0),
                "split_ratio": v.get("8. split coefficient", 1.0),
            }
        )
    frame = _finish(pd.DataFrame(rows), "alphavantage")
    # AV's close is as traded: split-adjust it so `close` means the same for every provider.
    factor = frame["split_ratio"][::-1].cumprod()[::-1].shift(-1, fill_value=1.0)
    for col in ("open", "high", "low", "close"):
        frame[col] = frame[col] / factor
    frame["volume"] = (frame["volume"] * factor).round().astype("int64")
    return frame


def validate_prices(frame: pd.DataFrame) -> list[str]:
    """Reasons a price frame is unusable (empty list = fine). Used to reject a provider's answer."""
    problems = []
    if frame.empty:
        return ["no rows"]
    prices = frame[["open", "high", "low", "close", "adj_close"]].to_numpy()
    if not np.isfinite(prices).all():
        problems.append("non-finite prices")
    if (prices <= 0).any():
        problems.append(f"{int((prices <= 0).any(axis=1).sum())} rows with a non-positive price")
    if (frame["volume"] < 0).any():
        problems.append("negative volume")
    if frame["date"].duplicated().any():
        problems.append("duplicate dates")
    return problems


def ohlc_violations(frame: pd.DataFrame, tolerance: float = 1e-6) -> pd.DataFrame:
    """Rows where low > min(open, close) or high < max(open, close) (beyond a rounding tolerance)."""
    lo = frame["low"] > frame[["open", "close"]].min(axis=1) * (1 + tolerance)
    hi = frame["high"] < frame[["open", "close"]].max(axis=1) * (1 - tolerance)
    return frame[lo | hi | (frame["low"] > frame["high"])]
