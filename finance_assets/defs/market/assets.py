"""Market data assets: daily prices (ticker x month) and technical indicators."""

import dagster as dg
import pandas as pd

from finance_assets.defs.market import indicators
from finance_assets.defs.market.prices import ohlc_violations
from finance_assets.defs.market.source import PriceSource
from finance_assets.lib.partition_mappings import in_months, md_preview, month_bounds, ticker_month_grid
from finance_assets.lib.partitions import MONTH, TICKER, ticker_month_partitions
from finance_assets.lib.run_metadata import attach_metadata

GROUP = "market"

# Months of earlier prices a technicals partition reads. 24 months (~500 sessions) makes the EMA/RSI
# seed's influence < 1e-15, so partition-by-partition equals whole-history computation.
TECHNICALS_LOOKBACK_MONTHS = 24


@dg.asset(
    group_name=GROUP,
    partitions_def=ticker_month_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    required_resource_keys={"prices_source"},
    code_version="1",
    description="Daily bars: split-adjusted OHLC, split+dividend adjusted close, volume, events and "
    "the provider each row came from. One request per ticker covers the run's whole date range.",
)
def prices(context: dg.AssetExecutionContext) -> pd.DataFrame:
    source: PriceSource = context.resources.prices_source
    tickers, months = ticker_month_grid(context)
    start, end = month_bounds(months)
    frames = []
    for ticker in tickers:
        bars = source.daily_bars(ticker, start, end)
        bars.insert(0, "ticker", ticker)
        frames.append(bars)
    out = pd.concat(frames, ignore_index=True)
    attach_metadata(
        context,
        {
            "sources": dg.MetadataValue.json(out["source"].value_counts().to_dict()),
            "splits": int((out["split_ratio"] != 1.0).sum()),
            "dividends": int((out["dividend"] > 0).sum()),
            "preview": md_preview(out.tail(5)),
            "http": source.http_stats(),
        },
    )
    return out


@dg.asset(
    group_name=GROUP,
    partitions_def=ticker_month_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    code_version="1",
    ins={
        "prices": dg.AssetIn(
            partition_mapping=dg.MultiPartitionMapping(
                {
                    TICKER: dg.DimensionPartitionMapping(TICKER, dg.IdentityPartitionMapping()),
                    MONTH: dg.DimensionPartitionMapping(
                        MONTH,
                        dg.TimeWindowPartitionMapping(
                            start_offset=-TECHNICALS_LOOKBACK_MONTHS,
                            end_offset=0,
                            allow_nonexistent_upstream_partitions=True,
                        ),
                    ),
                }
            )
        )
    },
    description="SMA 20/50/200, EMA 12/26, MACD 12/26/9, RSI 14, Bollinger 20/2, ATR 14, returns and "
    "20-day realized volatility, defined exactly as TA-Lib (on the split+dividend adjusted series).",
)
def technicals(context: dg.AssetExecutionContext, prices: pd.DataFrame) -> pd.DataFrame:
    tickers, months = ticker_month_grid(context)
    frames = []
    for ticker in tickers:
        history = prices[prices["ticker"] == ticker].sort_values("date")
        if history.empty:
            continue
        tech = indicators.compute_technicals(history.reset_index(drop=True))
        tech.insert(0, "ticker", ticker)
        frames.append(tech[in_months(tech["date"], months)])
    out = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["ticker", "date", *indicators.TECHNICAL_COLUMNS])
    )
    attach_metadata(context, {"preview": md_preview(out.tail(5))})
    return out


def missing_sessions(prices: pd.DataFrame, now: pd.Timestamp | None = None) -> dict[str, list[str]]:
    """Per ticker, XNYS sessions inside the covered months (up to the last close) with no bar."""
    import exchange_calendars as xcals

    if prices.empty:
        return {}
    cal = xcals.get_calendar("XNYS")
    now = now or pd.Timestamp.now(tz="UTC")
    dates = pd.to_datetime(prices["date"])
    first = dates.min().to_period("M").start_time
    last = min(
        dates.max().to_period("M").end_time.normalize(),
        now.tz_convert("America/New_York").normalize().tz_localize(None),
    )
    closes = cal.schedule.loc[first:last, "close"]
    sessions = closes[closes <= now].index
    missing = {}
    for ticker, group in prices.assign(_d=dates).groupby("ticker"):
        months = set(group["_d"].dt.to_period("M"))
        expected = {s for s in sessions if s.to_period("M") in months}
        gaps = sorted(expected - set(group["_d"]))
        if gaps:
            missing[ticker] = [str(g.date()) for g in gaps]
    return missing


@dg.asset_check(
    asset=prices,
    partitions_def=ticker_month_partitions,
    description="Every exchange session (XNYS calendar) of the month up to the last close has a "
    "bar; holidays and weekends are simply absent. Warns, listing the missing days.",
)
def prices_cover_every_session(prices: pd.DataFrame) -> dg.AssetCheckResult:
    missing = missing_sessions(prices)
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "missing_sessions": dg.MetadataValue.json(missing),
            "missing_count": sum(len(v) for v in missing.values()),
        },
    )


@dg.asset_check(
    asset=prices,
    partitions_def=ticker_month_partitions,
    blocking=True,
    description="low <= open, close <= high; volume >= 0; prices > 0; one row per date.",
)
def prices_are_sane(prices: pd.DataFrame) -> dg.AssetCheckResult:
    if prices.empty:
        return dg.AssetCheckResult(passed=True, metadata={"rows": 0})
    bad_ohlc = len(ohlc_violations(prices))
    non_positive = int((prices[["open", "high", "low", "close", "adj_close"]] <= 0).any(axis=1).sum())
    negative_volume = int((prices["volume"] < 0).sum())
    duplicates = int(prices.duplicated(subset=["ticker", "date"]).sum())
    return dg.AssetCheckResult(
        passed=bad_ohlc == non_positive == negative_volume == duplicates == 0,
        metadata={
            "ohlc_violations": bad_ohlc,
            "non_positive_prices": non_positive,
            "negative_volume": negative_volume,
            "duplicate_dates": duplicates,
        },
    )
