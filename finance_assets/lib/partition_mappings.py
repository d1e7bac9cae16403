"""Helpers that turn a run's partition keys (one key or a single-run range) into what assets need."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from finance_assets.lib.partitions import MONTH, TICKER


def ticker_month_grid(context: dg.AssetExecutionContext) -> tuple[list[str], list[str]]:
    """(tickers, month starts) covered by this run; a range run is a rectangle of the two."""
    tickers, months = set(), set()
    partitions_def = context.assets_def.partitions_def
    for key in context.partition_keys:
        dims = partitions_def.get_partition_key_from_str(key).keys_by_dimension
        tickers.add(dims[TICKER])
        months.add(dims[MONTH])
    return sorted(tickers), sorted(months)


def month_bounds(months: list[str]) -> tuple[dt.date, dt.date]:
    """[first month start, day after the last month) for a list of month keys."""
    start = dt.date.fromisoformat(min(months))
    last = pd.Timestamp(max(months)) + pd.offsets.MonthBegin(1)
    return start, last.date()


def in_months(dates: pd.Series, months: list[str]) -> pd.Series:
    return pd.to_datetime(dates).dt.strftime("%Y-%m-01").isin(months)


def md_preview(frame: pd.DataFrame, rows: int = 8) -> dg.MetadataValue:
    if frame.empty:
        return dg.MetadataValue.md("_no rows_")
    return dg.MetadataValue.md(frame.head(rows).to_markdown(index=False, floatfmt=".4g"))
