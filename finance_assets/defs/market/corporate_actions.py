"""Corporate actions as data: splits, reverse splits and cash dividends per ticker, read from the
providers' own event fields (Yahoo chart `events.splits` / `events.dividends`, Alpha Vantage's split
coefficient and dividend amount), with the day each became known.

The `corporate_actions` asset stores this table per ticker as of the clock; its data version is a
hash of the rows, so it changes exactly when an action appears, changes or disappears. Automation
re-fetches every stored month of that ticker's prices when it changes (a split or dividend rescales
all earlier adjusted prices), and technicals, the panel and the report follow their inputs, so after
any action every derived figure equals a fresh build as of the same day (docs/operations.md).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from finance_assets.defs.market.schemas import CORPORATE_ACTIONS

KINDS = ("split", "reverse_split", "cash_dividend")
NEW_YORK = "America/New_York"
# A provider lists an event from its ex-date on (Yahoo stamps it at that session's 09:30 open): the
# conservative known-at, and the same whichever day the table was built (so replays equal fresh builds).
KNOWN_AT_TIME = pd.Timedelta(hours=9, minutes=30)


def actions_from_bars(ticker: str, bars: pd.DataFrame, source: str) -> pd.DataFrame:
    """The splits (split_ratio != 1) and cash dividends (dividend > 0) in parsed daily bars."""
    if bars.empty:
        return empty_actions()
    ratio = bars["split_ratio"].to_numpy(dtype=np.float64)
    dividend = bars["dividend"].to_numpy(dtype=np.float64)
    # converted for the event rows only (a few), not for ten years of days
    dates = pd.to_datetime(bars["date"][(ratio != 1.0) | (dividend > 0)]).dt.normalize().reindex(bars.index)
    splits = pd.DataFrame(
        {
            "ex_date": dates[ratio != 1.0].to_numpy(),
            "kind": np.where(ratio[ratio != 1.0] > 1.0, "split", "reverse_split"),
            "ratio": ratio[ratio != 1.0],
            "amount": np.nan,
        }
    )
    dividends = pd.DataFrame(
        {
            "ex_date": dates[dividend > 0].to_numpy(),
            "kind": "cash_dividend",
            "ratio": np.nan,
            "amount": dividend[dividend > 0],
        }
    )
    frames = [f for f in (splits, dividends) if len(f)]
    if not frames:
        return empty_actions()
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "ticker", ticker)
    out["source"] = source
    out["known_at"] = (pd.DatetimeIndex(out["ex_date"]) + KNOWN_AT_TIME).tz_localize(NEW_YORK).tz_convert("UTC")
    return normalized(out)


def empty_actions() -> pd.DataFrame:
    return CORPORATE_ACTIONS.empty()


def normalized(actions: pd.DataFrame) -> pd.DataFrame:
    """Typed columns in a fixed row order (ticker, ex_date, kind): the same actions give the same bytes."""
    out = actions.reindex(columns=CORPORATE_ACTIONS.names).copy()
    out["ex_date"] = pd.to_datetime(out["ex_date"]).astype("datetime64[ns]")
    out["known_at"] = pd.to_datetime(out["known_at"], utc=True).astype("datetime64[ns, UTC]")
    for column in ("ratio", "amount"):
        out[column] = out[column].astype("float64")
    return out.sort_values(["ticker", "ex_date", "kind"], ignore_index=True)


def actions_version(actions: pd.DataFrame) -> str:
    """A hash of the rows: equal tables give equal versions (the asset's Dagster data version)."""
    return _hash_text(_csv_text(normalized(actions)))


def _csv_text(rows: pd.DataFrame) -> str:
    """Normalized rows as the CSV text their version hashes: floats to 12 significant digits, timestamps
    as 'YYYY-MM-DDTHH:MM:SS' (formatted by numpy: what `date_format` gives, without a strftime per value)."""
    out = rows.copy(deep=False)
    for column in ("ex_date", "known_at"):
        values = out[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_localize(None)  # the UTC wall time, as date_format writes it
        seconds = values.to_numpy(dtype="datetime64[ns]").astype("datetime64[s]")
        out[column] = np.where(values.isna().to_numpy(), "", np.datetime_as_string(seconds, unit="s")).astype(object)
    return out.to_csv(index=False, float_format="%.12g")


def _hash_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def combined_version(versions: dict[str, str]) -> str:
    """One version for several tickers' tables (a range run): changes when any of them changes."""
    text = ";".join(f"{ticker}={version}" for ticker, version in sorted(versions.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def split_factor_after(dates: pd.Series, actions: pd.DataFrame) -> np.ndarray:
    """Per date, the product of the ratios of splits with a later ex-date: as traded = split-adjusted x this."""
    splits = actions[actions["kind"].isin(("split", "reverse_split"))]
    day = pd.to_datetime(dates).to_numpy(dtype="datetime64[ns]")
    factor = np.ones(len(day))
    for ex_date, ratio in zip(pd.to_datetime(splits["ex_date"]).to_numpy(dtype="datetime64[ns]"), splits["ratio"]):
        factor = np.where(day < ex_date, factor * ratio, factor)
    return factor


def versions_by_ticker(table: pd.DataFrame, tickers) -> dict[str, str]:
    """Each ticker's actions_version over its rows of the stored table (no rows: the empty table's).

    The table is normalized and written as CSV once, and each ticker's lines are hashed under the header:
    what `actions_version` of its rows alone gives (a CSV row's text depends on that row only), in one
    pass instead of one frame per ticker (6,000 tickers took minutes one by one)."""
    tickers = list(tickers)
    empty = actions_version(empty_actions())
    if table is None or table.empty or "ticker" not in table.columns:
        return dict.fromkeys(tickers, empty)
    rows = normalized(table[table["ticker"].isin(set(tickers))])
    if rows.empty:
        return dict.fromkeys(tickers, empty)
    header, *lines = _csv_text(rows).split("\n")
    if lines[-1:] != [""] or len(lines) != len(rows) + 1:  # a value holding a line break: hash ticker by ticker
        groups = {ticker: group for ticker, group in table.groupby("ticker", sort=False)}
        return {ticker: actions_version(groups.get(ticker, empty_actions())) for ticker in tickers}
    # normalized rows are sorted by ticker: each ticker's lines are one contiguous run
    names = rows["ticker"].to_numpy()
    starts = np.flatnonzero(np.r_[True, names[1:] != names[:-1]])
    ends = np.r_[starts[1:], len(names)]
    found = {names[start]: _hash_text("\n".join([header, *lines[start:end], ""])) for start, end in zip(starts, ends)}
    return {ticker: found.get(ticker, empty) for ticker in tickers}
