"""Market data assets: corporate actions (per ticker), daily prices and technical indicators (month partitions
holding every ticker a run processed)."""

import datetime as dt

import dagster as dg
import pandas as pd

from finance_assets.defs.market import corporate_actions as actions
from finance_assets.defs.market import indicator_chart, indicators, schemas
from finance_assets.defs.market.prices import PRICE_COLUMNS, ohlc_violations
from finance_assets.defs.market.source import PriceSource
from finance_assets.lib import config, market_calendar
from finance_assets.lib.config import HISTORY_START
from finance_assets.lib.coverage import with_run_tickers
from finance_assets.lib.dagster_schema import schema_checks, schema_metadata
from finance_assets.lib.partition_mappings import in_months, md_preview, month_bounds, ticker_month_grid
from finance_assets.lib.partitions import per_month_asset, per_month_check, per_ticker_asset
from finance_assets.lib.run_metadata import attach_metadata, attach_partition_metadata

GROUP = "market"

# The configured indicator set (indicators.yaml, or the file $FINANCE_ASSETS_INDICATORS names), checked
# against the prices table's columns here, when definitions load: a bad spec fails before any run.
INDICATOR_SET = indicators.load_indicator_set(config.settings().indicators_file, columns=PRICE_COLUMNS)
TECHNICALS_COLUMNS = tuple(name for indicator in INDICATOR_SET for name in indicator.columns)
TECHNICALS = schemas.technicals(TECHNICALS_COLUMNS)
# A changed set (or TA-Lib version) is a new code version: Dagster shows the partitions as stale.
TECHNICALS_CODE_VERSION = f"2-{indicators.set_version(INDICATOR_SET)}"
# Months of earlier prices a technicals partition reads, derived from the set: enough sessions for
# every column's TA-Lib lookback plus convergence allowance (docs/indicators.md, "Lookback"), so a
# month computed alone equals the whole-history computation. A set with a column that never forgets
# its start (OBV, AD, ADOSC, SAR, ...; the default set has them) reads the whole history: an offset
# longer than any history, clipped by Dagster to the first month partition.
WHOLE_HISTORY_MONTHS = 12 * 100
TECHNICALS_LOOKBACK_MONTHS = indicators.lookback_months(INDICATOR_SET) or WHOLE_HISTORY_MONTHS


@per_ticker_asset(
    group_name=GROUP,
    required_resource_keys={"prices_source"},
    code_version="1",
    metadata=schema_metadata(schemas.CORPORATE_ACTIONS),
    description="Splits, reverse splits and cash dividends per ticker as of the clock (ticker, ex_date, "
    "kind, ratio or amount, source, known_at), from the price providers' event fields. Its data version "
    "is a hash of the rows: when it changes, automation re-fetches every stored month of that ticker's "
    "prices, so adjusted prices, technicals, the panel and the report follow (docs/operations.md).",
)
def corporate_actions(context: dg.AssetExecutionContext) -> dg.Output:
    source: PriceSource = context.resources.prices_source
    tickers = sorted(context.partition_keys)
    per_ticker = {ticker: source.corporate_actions(ticker, dt.date.fromisoformat(HISTORY_START)) for ticker in tickers}
    versions = {ticker: actions.actions_version(frame) for ticker, frame in per_ticker.items()}
    frames = [frame for frame in per_ticker.values() if len(frame)]
    out = actions.normalized(pd.concat(frames, ignore_index=True)) if frames else actions.empty_actions()
    out = schemas.CORPORATE_ACTIONS.conform(out)
    attach_metadata(
        context,
        {
            "actions": dg.MetadataValue.json(out["kind"].value_counts().to_dict()),
            "preview": md_preview(out.tail(8)),
            "http": source.http_stats(),
        },
    )
    # One data version per run (Dagster 1.13 takes no per-partition versions on materializations): a
    # ticker's own hash in a one-ticker run; in a range run a hash of all of them, so a new action of
    # one ticker re-fetches the run's other tickers too (more work, never a stale month).
    version = versions[tickers[0]] if len(tickers) == 1 else actions.combined_version(versions)
    return dg.Output(out, data_version=dg.DataVersion(version))


@per_month_asset(
    group_name=GROUP,
    required_resource_keys={"prices_source"},
    code_version="2",
    metadata=schema_metadata(schemas.PRICES),
    # read for its version only: the hash of each ticker's actions these adjusted prices reflect goes into
    # the coverage table, and a ticker whose actions change gets its stored months again (lib/coverage.py)
    ins={"corporate_actions": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    description="Daily bars: split-adjusted OHLC, split+dividend adjusted close, volume, events and "
    "the provider each row came from. A month partition holds every ticker the runs that wrote it "
    "processed (the coverage table says which); one request per ticker covers the run's whole date range.",
)
def prices(context: dg.AssetExecutionContext, corporate_actions: pd.DataFrame) -> pd.DataFrame:
    source: PriceSource = context.resources.prices_source
    tickers, months = ticker_month_grid(context)
    start, end = month_bounds(months)
    frames = []
    for ticker in tickers:
        bars = source.daily_bars(ticker, start, end)
        bars.insert(0, "ticker", ticker)
        frames.append(bars)
    out = schemas.PRICES.conform(pd.concat(frames, ignore_index=True)) if frames else schemas.PRICES.empty()
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
    return with_run_tickers(out, tickers, actions.versions_by_ticker(corporate_actions, tickers))


@per_month_asset(
    group_name=GROUP,
    code_version=TECHNICALS_CODE_VERSION,
    metadata=schema_metadata(TECHNICALS),
    ins={
        "prices": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-TECHNICALS_LOOKBACK_MONTHS, end_offset=0, allow_nonexistent_upstream_partitions=True
            )
        )
    },
    description=f"{len(TECHNICALS_COLUMNS)} technical indicator columns computed by TA-Lib on the split+dividend "
    "adjusted series, chosen in finance_assets/defs/market/indicators.yaml or $FINANCE_ASSETS_INDICATORS "
    "(docs/indicators.md): moving averages, MACD, RSI, STOCH, ADX, Bollinger, ATR, volume indicators, returns "
    "and realized volatility. Long form: the DuckDB view technicals_long(date, ticker, indicator, value).",
)
def technicals(context: dg.AssetExecutionContext, prices: pd.DataFrame) -> pd.DataFrame:
    tickers, months = ticker_month_grid(context)
    history = prices[prices["ticker"].isin(tickers)] if len(prices) else prices
    if history.empty:
        out = TECHNICALS.empty()
    else:
        computed = indicators.compute_indicators(indicators.adjusted_prices(history), INDICATOR_SET)
        out = computed[in_months(computed["date"], months)].sort_values(["ticker", "date"], ignore_index=True)
        out = TECHNICALS.conform(out)
    metadata = technicals_metadata(out, history)
    attach_metadata(context, metadata)
    if "latest_month_chart" in metadata and context.has_partition_key_range and len(context.partition_keys) > 1:
        # a range run's summary is an observation (attach_metadata); the chart also goes on the
        # materialization of the partition it shows, so that partition's page shows the picture
        key = metadata["chart_partition"]
        if key in context.partition_keys:
            attach_partition_metadata(context, {"latest_month_chart": metadata["latest_month_chart"]}, key)
    return with_run_tickers(out, tickers)


def technicals_metadata(out: pd.DataFrame, prices: pd.DataFrame) -> dict:
    """The indicators and parameters used, a preview, and a chart of the latest month of the last
    ticker (an SVG image the UI renders: indicator_chart)."""
    used = pd.DataFrame(
        [{"columns": ", ".join(i.columns), "spec": i.normalized.split(" as ")[0]} for i in INDICATOR_SET]
    )
    metadata = {
        "indicator_set": TECHNICALS_CODE_VERSION,
        "indicators": dg.MetadataValue.md(used.to_markdown(index=False)),
        "lookback_months": TECHNICALS_LOOKBACK_MONTHS,
        "preview": md_preview(out.tail(5)),
    }
    overlay, oscillator = "sma_50", "rsi_14"
    if len(out) and {overlay, oscillator} <= set(out.columns):
        ticker = out["ticker"].iloc[-1]
        latest = out[out["ticker"] == ticker]
        latest = latest[
            pd.to_datetime(latest["date"]).dt.to_period("M") == pd.Timestamp(latest["date"].iloc[-1]).to_period("M")
        ]
        closes = prices.loc[prices["ticker"] == ticker, ["date", "adj_close" if "adj_close" in prices else "close"]]
        closes.columns = ["date", "close"]
        frame = latest.merge(closes.assign(date=closes["date"].astype(latest["date"].dtype)), on="date", how="left")
        frame = frame.dropna(subset=["close"])
        if len(frame):
            first, last = (pd.Timestamp(frame["date"].iloc[i]).date() for i in (0, -1))
            title = f"{ticker}, {first:%Y-%m}: adjusted close, {overlay}; {oscillator}"
            svg = indicator_chart.svg_chart(frame, "close", overlay, oscillator, title)
            caption = (
                f"**{ticker}, {first} .. {last}**: adjusted close (solid) and {overlay} (dashed) above "
                f"{oscillator} (levels 30/70), last {frame[oscillator].iloc[-1]:.1f}"
            )
            metadata["latest_month_chart"] = dg.MetadataValue.md(
                f"{caption}\n\n{indicator_chart.markdown_image(svg, title)}"
            )
            metadata["chart_partition"] = f"{first:%Y-%m-01}"
    return metadata


def missing_sessions(prices: pd.DataFrame, now: pd.Timestamp | None = None) -> dict[str, list[str]]:
    """Per ticker, XNYS sessions inside the covered months (up to the last close) with no bar."""
    if prices.empty:
        return {}
    cal = market_calendar.covering()
    now = pd.Timestamp(now) if now is not None else pd.Timestamp(config.settings().now())
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


@per_month_check(
    prices,
    "Every exchange session (XNYS calendar) of the month up to the last close has a "
    "bar; holidays and weekends are simply absent. Warns, listing the missing days.",
)
def prices_cover_every_session(prices: pd.DataFrame) -> dg.AssetCheckResult:
    missing = missing_sessions(prices, pd.Timestamp(config.settings().now()))
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "missing_sessions": dg.MetadataValue.json(missing),
            "missing_count": sum(len(v) for v in missing.values()),
        },
    )


@per_month_check(prices, "low <= open, close <= high; volume >= 0; prices > 0; one row per date.", blocking=True)
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


# The stored tables match their declarations (market/schemas.py); registered in definitions.py.
SCHEMA_CHECKS = schema_checks(
    (corporate_actions, schemas.CORPORATE_ACTIONS), (prices, schemas.PRICES), (technicals, TECHNICALS)
)
