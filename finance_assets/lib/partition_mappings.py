"""Helpers that turn a run's partition keys (one key or a single-run range) into what assets need."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
from dagster._core.errors import DagsterInvalidPropertyError

from finance_assets.lib.partitions import TICKER, tickers_of_run


def run_tickers(context: dg.AssetExecutionContext) -> list[str]:
    """The tickers this month-partitioned run processes: its tickers tag, else every registered one (an
    asset invoked directly, with no run, processes every registered one)."""
    try:
        tags = context.run.tags
    except DagsterInvalidPropertyError:
        tags = {}
    return tickers_of_run(tags, context.instance.get_dynamic_partitions(TICKER))


def ticker_month_grid(context: dg.AssetExecutionContext) -> tuple[list[str], list[str]]:
    """(tickers, month starts) covered by this run: the run's tickers x its month partitions."""
    return run_tickers(context), sorted(context.partition_keys)


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
