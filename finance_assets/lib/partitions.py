"""Partition scheme (reasoning and measurements in docs/operations.md, "Partition scheme").

- Daily-bar assets (prices, technicals, sentiment): ticker x month. 500 tickers x 10 years = 60,000
  partitions per asset (Dagster's guidance: <= 100,000), and a two-year backfill of one ticker is 24
  partitions (~1 s of Dagster bookkeeping) instead of ~500 daily ones (~21 s).
- SEC assets (filings, xbrl_facts, fundamentals): ticker. One companyfacts/submissions document holds
  a company's whole history, so there is nothing to gain from a date dimension.
- market_panel: month (all tickers); portfolio_report: one partition per weekday (~2,600 in 10 years).

Every time dimension starts at HISTORY_START (FINANCE_ASSETS_HISTORY_START; unset: 2025-01 in demo mode,
where `finance-assets demo` starts its backfill, so the demo fills every partition; 2016-01 in live mode).
"""

from __future__ import annotations

import dagster as dg

from finance_assets.lib.config import HISTORY_START

TICKER = "ticker"
MONTH = "month"

ticker_partitions = dg.DynamicPartitionsDefinition(name=TICKER)

# end_offset=1 keeps the open (current) month addressable; it is refreshed as sessions close.
month_partitions = dg.MonthlyPartitionsDefinition(start_date=HISTORY_START, end_offset=1, timezone="America/New_York")

ticker_month_partitions = dg.MultiPartitionsDefinition({TICKER: ticker_partitions, MONTH: month_partitions})

# One report per weekday, for completed days only (exchange holidays value at the last close).
report_day_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 * * 1-5",
    fmt="%Y-%m-%d",
    start=HISTORY_START,
    timezone="America/New_York",
)


def per_ticker_asset(**kwargs):
    """`@dg.asset` for an asset partitioned by ticker; a backfill of any number of tickers is one run
    (one provider request per ticker, not one run per partition)."""
    return dg.asset(partitions_def=ticker_partitions, backfill_policy=dg.BackfillPolicy.single_run(), **kwargs)


def per_ticker_month_asset(**kwargs):
    """`@dg.asset` for a daily-bar asset partitioned ticker x month; a backfill of any rectangle of
    tickers and months is one run."""
    return dg.asset(partitions_def=ticker_month_partitions, backfill_policy=dg.BackfillPolicy.single_run(), **kwargs)
