"""Partition scheme (reasoning and measurements in docs/operations.md, "Partition scheme").

- Daily-bar assets (prices, technicals, headlines, sentiment): month. A run processes every registered
  ticker for its months at once, or the tickers its run tag `finance_assets/tickers` names (how one ticker
  is added or rebuilt without recomputing the others). 10 years = 132 partitions per asset, whatever the
  number of tickers (ticker x month was 792,000 at 6,000 tickers; Dagster's guidance is <= 100,000).
  Which tickers a month holds, and with which corporate actions, is recorded per (ticker, month) in the
  warehouse's coverage tables (lib/coverage.py); the market sync fills the gaps.
- SEC assets and corporate_actions: ticker (6,000 partitions at the whole SEC universe). One
  companyfacts/submissions document holds a company's whole history, so a date dimension gains nothing.
- market_panel: month, like the daily bars (a run's tickers, stored by ticker, coverage recorded); fx_rates:
  month; portfolio_report: one partition per weekday (~2,700 in 10 years).

Every time dimension starts at HISTORY_START (FINANCE_ASSETS_HISTORY_START; unset: 2025-01 in demo mode,
where `finance-assets demo` starts its backfill, so the demo fills every partition; 2016-01 in live mode).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.lib import weekday_offsets
from finance_assets.lib.config import HISTORY_START
from finance_assets.lib.tickers import normalize_ticker

TICKER = "ticker"
MONTH = "month"
# A run tag naming the tickers a month-partitioned run processes (comma separated); absent: every
# registered ticker. Set by `finance-assets backfill --tickers`, the market sync, or a UI launch.
TICKERS_TAG = "finance_assets/tickers"
# Definition metadata of an asset stored by ticker inside month partitions (the IO manager reads it).
ROWS_BY_TICKER = "finance_assets/rows_by_ticker"
# A run tag of a ticker-targeted panel run whose tickers the report does not read (none is held, none is the
# benchmark): REPORT_UNREAD. The report's automation ignores panel months rewritten only by such runs
# (lib/automation.py): those rows cannot change a report day.
REPORT_READS_TAG = "finance_assets/report_reads"
REPORT_UNREAD = "no"

ticker_partitions = dg.DynamicPartitionsDefinition(name=TICKER)

# end_offset=1 keeps the open (current) month addressable; it is refreshed as sessions close.
month_partitions = dg.MonthlyPartitionsDefinition(start_date=HISTORY_START, end_offset=1, timezone="America/New_York")

# One report per weekday, for completed days only (exchange holidays value at the last close). Its history
# mapping's offset (~3,100 weekdays) is counted in constant time in every process that imports this module
# (lib/weekday_offsets.py) instead of Dagster's walk of one cron step per weekday.
report_day_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule=weekday_offsets.WEEKDAY_MIDNIGHTS,
    fmt="%Y-%m-%d",
    start=HISTORY_START,
    timezone="America/New_York",
)
weekday_offsets.install()


class RunTickersError(ValueError):
    pass


def tickers_of_run(tags: Mapping[str, str], registered: Iterable[str]) -> list[str]:
    """The tickers a month-partitioned run processes: its `finance_assets/tickers` tag, else every
    registered ticker (sorted: a run's rows never depend on registration order)."""
    registered = set(registered)
    value = (tags or {}).get(TICKERS_TAG, "").strip()
    if not value:
        return sorted(registered)
    named = []
    for raw in value.split(","):
        if raw.strip():
            try:
                named.append(normalize_ticker(raw))
            except ValueError as err:
                raise RunTickersError(f"run tag {TICKERS_TAG}: {err}") from None
    unknown = sorted(set(named) - registered)
    if unknown:
        raise RunTickersError(
            f"run tag {TICKERS_TAG}: not registered: {', '.join(unknown)} (run `finance-assets register` first)"
        )
    return sorted(set(named))


def tickers_tag(tickers: Iterable[str]) -> dict[str, str]:
    return {TICKERS_TAG: ",".join(sorted(tickers))}


def run_tags(
    start_key: str | None,
    end_key: str | None,
    tickers: Iterable[str] | None = None,
    report_reads: bool | None = None,
) -> dict[str, str]:
    """A run's tags: its partition range (none: unpartitioned) and, for a month run of some tickers, them;
    `report_reads=False` marks a targeted run none of whose tickers the report reads (REPORT_READS_TAG)."""
    tags = {}
    if start_key is not None:
        tags = {ASSET_PARTITION_RANGE_START_TAG: start_key, ASSET_PARTITION_RANGE_END_TAG: end_key}
    if tickers is not None:
        tags.update(tickers_tag(tickers))
        if report_reads is False:
            tags[REPORT_READS_TAG] = REPORT_UNREAD
    return tags


def per_ticker_asset(**kwargs):
    """`@dg.asset` for an asset partitioned by ticker; a backfill of any number of tickers is one run
    (one provider request per ticker, not one run per partition)."""
    return dg.asset(partitions_def=ticker_partitions, backfill_policy=dg.BackfillPolicy.single_run(), **kwargs)


def per_month_asset(**kwargs):
    """`@dg.asset` for a daily-bar asset: month partitions, each run processing the run's tickers
    (tickers_of_run) and stored by ticker; a backfill of any month range is one run."""
    metadata = {**kwargs.pop("metadata", {}), ROWS_BY_TICKER: True}
    return dg.asset(
        partitions_def=month_partitions, backfill_policy=dg.BackfillPolicy.single_run(), metadata=metadata, **kwargs
    )


def per_ticker_check(asset: dg.AssetsDefinition, description: str, **kwargs):
    """`@dg.asset_check` of a ticker-partitioned asset, over the run's ticker partitions."""
    return dg.asset_check(asset=asset, partitions_def=ticker_partitions, description=description, **kwargs)


def per_month_check(asset: dg.AssetsDefinition, description: str, **kwargs):
    """`@dg.asset_check` of a month-partitioned asset, over the run's month partitions."""
    return dg.asset_check(asset=asset, partitions_def=month_partitions, description=description, **kwargs)
