"""Cross-sectional panel and the daily portfolio report."""

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from finance_assets.defs.market.fx_source import FX_COLUMNS
from finance_assets.defs.market.schemas import CORPORATE_ACTIONS, FX_RATES
from finance_assets.defs.portfolio import filing_signals
from finance_assets.defs.portfolio import holdings as book
from finance_assets.defs.portfolio.report_data import ReportData
from finance_assets.defs.portfolio.report_render import FIGURE_KINDS, fmt, render_html, render_markdown
from finance_assets.defs.portfolio.schemas import (
    FUNDAMENTAL_SNAPSHOTS,
    MARKET_PANEL,
    PORTFOLIO_HOLDINGS,
    PORTFOLIO_REPORT,
)
from finance_assets.defs.sec import fundamentals as fundamentals_lib
from finance_assets.defs.sec.schemas import FUNDAMENTALS
from finance_assets.defs.sec.sectors import sector_for_sic
from finance_assets.lib import config
from finance_assets.lib.config import HISTORY_START
from finance_assets.lib.coverage import with_run_tickers
from finance_assets.lib.dagster_schema import schema_checks, schema_metadata
from finance_assets.lib.partition_mappings import md_preview, run_tickers
from finance_assets.lib.partitions import per_month_asset, report_day_partitions
from finance_assets.lib.portfolio_settings import PortfolioSettings
from finance_assets.lib.run_metadata import attach_metadata, attach_partition_metadata
from finance_assets.lib.schema import TableSchema
from finance_assets.lib.warehouse import StoredPartitions, connect_stored

GROUP = "portfolio"
# A report day reads the panel and FX rates from the first month of the history up to its own month
# (docs/report.md, "Which history a report day reads"): the 252-session risk window needs 13 months,
# the tearsheet's YTD / 1 y / 3 y / 5 y / All windows the whole history.
STALE_PRICE_DAYS = 7
# The columns of `fundamentals` (sec/schemas.FUNDAMENTALS) the snapshots read.
FUNDAMENTAL_COLUMNS = [
    "ticker",
    "item",
    "period_type",
    "fiscal_period",
    "period_end",
    "value",
    "unit",
    "filed",
    "vintage_rank",
    "known_at",
]
METADATA_TOP_HOLDINGS = 10
METADATA_RECENT_DAYS = 5
# The key figures of the latest report day, as numbers on its materialization (the UI plots them per day).
METADATA_FIGURES = (
    "total_value",
    "unrealized_pnl",
    "day",
    "ytd",
    "annualized_volatility",
    "var_hist_95",
    "sharpe",
    "max_drawdown",
)
# The run's last days as a small table on the latest materialization: column -> label, each figure
# formatted as the report formats it (report_render.FIGURE_KINDS).
RECENT_DAY_COLUMNS = {
    "date": "day",
    "total_value": "value",
    "day": "day return",
    "ytd": "YTD",
    "annualized_volatility": "volatility",
    "max_drawdown": "max drawdown",
    "observations": "returns in risk window",
}

_by_month = dg.IdentityPartitionMapping()  # a panel month reads every ticker of that month
# TimeWindowPartitionMapping counts its offsets in the *downstream's* partitions (weekdays here, not
# months: `start_offset=-13` gave a day alone ~2 months). An offset of every weekday from the first month
# to a year past the clock maps every day up to then, however it is launched (alone, first or middle day
# of a range; UI, CLI, automation), to [first month, its own month]: Dagster clamps the start to the first
# partition. The reverse direction, which automation follows, is every day from a month on.
# A built-in mapping on purpose: Dagster serializes only those (a custom PartitionMapping silently falls
# back to the default in the daemon and the UI). Dagster resolves it by walking the weekday schedule, in
# time proportional to the offset (a fixed 20 years cost ~1 s a call; #16), hence the offset from the
# history; lib/weekday_offsets.py makes it constant time where our code is imported.
HISTORY_MARGIN_DAYS = 366


def history_weekdays(history_start: str, now: dt.datetime) -> int:
    """Weekdays from the first month of the history to a year past `now`: the report's mapping offset."""
    horizon = pd.Timestamp(now)
    if horizon.tzinfo is not None:
        horizon = horizon.tz_convert(None)
    return len(pd.bdate_range(history_start, horizon.normalize() + pd.Timedelta(days=HISTORY_MARGIN_DAYS)))


def _clock() -> dt.datetime:
    try:
        return config.settings().now()
    except config.SettingsError:  # a bad setting is reported where settings are checked, not at import
        return dt.datetime.now(dt.UTC)


_HISTORY_WEEKDAYS = history_weekdays(HISTORY_START, _clock())
_report_history = dg.TimeWindowPartitionMapping(
    start_offset=-_HISTORY_WEEKDAYS, end_offset=0, allow_nonexistent_upstream_partitions=True
)


@per_month_asset(
    group_name=GROUP,
    code_version="3",  # "3": stored by ticker, a run's tickers only (#17)
    metadata=schema_metadata(MARKET_PANEL),
    ins={
        "prices": dg.AssetIn(partition_mapping=_by_month),
        "technicals": dg.AssetIn(partition_mapping=_by_month),
        "sentiment": dg.AssetIn(partition_mapping=_by_month),
    },
    description="Every ticker's daily close, returns, key indicators and sentiment for a month: the "
    "report's input, and a handy cross-section to query. Like the daily bars, a run computes every "
    "registered ticker or those its finance_assets/tickers tag names (a ticker added or restated alone), "
    "stored by ticker; market_panel_coverage says which tickers each month holds.",
)
def market_panel(
    context: dg.AssetExecutionContext, prices: pd.DataFrame, technicals: pd.DataFrame, sentiment: pd.DataFrame
) -> pd.DataFrame:
    tickers = run_tickers(context)  # its inputs arrive with exactly these tickers' rows (the IO manager)
    if prices.empty:
        return with_run_tickers(MARKET_PANEL.empty(), tickers)
    panel = prices[["date", "ticker", "close", "adj_close", "volume", "source"]].assign(
        date=lambda f: pd.to_datetime(f["date"]).dt.normalize()
    )
    # upstream date columns differ in type (DATE vs TIMESTAMP): join on normalized timestamps
    if len(technicals):
        tech = technicals[["date", "ticker", "ret_simple", "rsi_14", "sma_50", "sma_200", "bb_pctb", "rv_20"]]
        panel = panel.merge(
            tech.assign(date=pd.to_datetime(tech["date"]).dt.normalize()), on=["date", "ticker"], how="left"
        )
    if len(sentiment):
        sent = sentiment[["date", "ticker", "headline_count", "decayed_7d_score"]]
        panel = panel.merge(
            sent.assign(date=pd.to_datetime(sent["date"]).dt.normalize()), on=["date", "ticker"], how="left"
        )
    panel = panel.reindex(columns=MARKET_PANEL.names).sort_values(["date", "ticker"]).reset_index(drop=True)
    panel = MARKET_PANEL.conform(panel)
    attach_metadata(context, {"preview": md_preview(panel.tail(5))})
    return with_run_tickers(panel, tickers)


def _input(frame: pd.DataFrame, schema: TableSchema, columns: list[str] | None = None) -> pd.DataFrame:
    """An upstream table with the columns an asset reads (all of `schema`'s by default), its day and time
    columns as timestamps; typed as declared, and empty, when nothing is materialized."""
    columns = schema.names if columns is None else columns
    frame = schema.empty()[columns] if frame is None or frame.empty else frame.reindex(columns=columns).copy()
    return _timestamps(frame, schema)


def _timestamps(frame: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """`frame` with its columns that `schema` declares as days or times converted to timestamps."""
    for column in frame.columns:
        if pa.types.is_timestamp(schema[column].type) or pa.types.is_date(schema[column].type):
            frame[column] = pd.to_datetime(frame[column])
    return frame


def _query(con: duckdb.DuckDBPyConnection, table: str, schema: TableSchema, columns: list[str]) -> pd.DataFrame:
    """`columns` of a table of the report's connection, its day and time columns as timestamps."""
    return _timestamps(con.execute(f"SELECT {', '.join(columns)} FROM {table}").df(), schema)


def _matrix(panel: pd.DataFrame, column: str) -> pd.DataFrame:
    matrix = panel.pivot_table(index="date", columns="ticker", values=column, aggfunc="last")
    matrix.index = pd.DatetimeIndex(matrix.index)
    return matrix.sort_index()


def _held_on(holdings: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    bought = pd.to_datetime(holdings["purchase_date"])
    return holdings[bought.isna() | (bought <= day)]


def _check_currencies(fx_quotes: pd.DataFrame, currencies: set[str], base: str) -> None:
    """Fail before any work when a holding's currency cannot be converted to the base currency."""
    foreign = sorted(currencies - {base})
    if not foreign:
        return
    if fx_quotes.empty:
        raise ValueError(
            f"holdings in {', '.join(foreign)} need ECB rates to be valued in {base}, and fx_rates has "
            "no rows for these months: materialize fx_rates (`finance-assets backfill` runs it with "
            "the panel)"
        )
    quoted = set(fx_quotes["currency"]) | {"EUR"}
    never = sorted((set(foreign) | {base}) - quoted)
    if never:
        raise ValueError(
            f"the ECB publishes no reference rate for {', '.join(never)} (it quotes "
            f"{', '.join(sorted(quoted))}): holdings in {'it' if len(never) == 1 else 'them'} cannot be "
            f"valued in {base}"
        )


def _check_fx(rows: pd.DataFrame, base: str) -> None:
    """A priced holding that cannot be converted to the base currency is an error, not a silent gap."""
    gap = rows[rows["price"].notna() & rows["fx_rate"].isna()]
    if len(gap):
        pairs = ", ".join(sorted(f"{c}->{base}" for c in gap["currency"].unique()))
        days = sorted(gap["date"].dt.date.unique())
        more = f" (and {len(days) - 1} more days)" if len(days) > 1 else ""
        raise ValueError(
            f"no ECB reference rate within 10 days before {days[0]}{more} for {pairs}: materialize fx_rates "
            "for those months (`finance-assets backfill` runs it with the panel)"
        )


def _notes(rows: pd.DataFrame, day: pd.Timestamp, benchmark: str, has_benchmark: bool, base: str) -> list[str]:
    notes = []
    if rows["price"].notna().any() and not (rows["price_date"] == day).any():
        notes.append(
            f"No exchange session on {day.date()} (a holiday): no day P&L or day return; values are the last closes."
        )
    unpriced = rows[rows["price"].isna()]["ticker"].tolist()
    if unpriced:
        notes.append(f"No price on or before {day.date()} for {', '.join(unpriced)}: excluded from the totals.")
    stale = rows[rows["price_date"] < day - pd.Timedelta(days=STALE_PRICE_DAYS)]["ticker"].tolist()
    if stale:
        notes.append(f"Last close older than {STALE_PRICE_DAYS} days for {', '.join(stale)}.")
    if not has_benchmark:
        notes.append(f"No prices for the benchmark {benchmark}: beta not computed (register it).")
    if (rows["currency"] != base).any():
        notes.append(
            f"Converted to {base} at the ECB reference rate of the day; P&L in {base} values the cost "
            "at today's rate (FX on the cost is not tracked), P&L % is in the holding's currency. Day P&L "
            "= the price move at the previous close's rate + the FX move on today's value."
        )
    return notes


@dg.asset(
    group_name=GROUP,
    code_version="3",  # "3": EPS and shares on the share basis of the stored splits (#16, #20)
    metadata=schema_metadata(FUNDAMENTAL_SNAPSHOTS),
    ins={
        "fundamentals": dg.AssetIn(partition_mapping=dg.AllPartitionMapping()),
        "corporate_actions": dg.AssetIn(partition_mapping=dg.AllPartitionMapping()),
    },
    description="Point-in-time valuation inputs, one row per ticker and knowledge date (`known_at`, the "
    "first session whose close follows the filings' SEC acceptance time): what was known from that session "
    "on (trailing-12-month EPS, revenue, gross profit, net income; latest balance sheet and cover-page "
    "shares), built only from values known by then. EPS and shares are on the share basis of every stored "
    "split (corporate_actions), the basis of the split-adjusted prices, so P/E, P/B and market cap stay "
    "right across a split. One compact table, so the report's query never opens a file per ticker.",
)
def fundamental_snapshots(
    context: dg.AssetExecutionContext, fundamentals: pd.DataFrame, corporate_actions: pd.DataFrame
) -> pd.DataFrame:
    funds = _input(fundamentals, FUNDAMENTALS, FUNDAMENTAL_COLUMNS)
    actions = _input(corporate_actions, CORPORATE_ACTIONS)
    # rows stored before known_at existed: the conservative rule (the next session after the filing date)
    unknown = funds["known_at"].isna() & funds["filed"].notna()
    if unknown.any():
        funds.loc[unknown, "known_at"] = fundamentals_lib.first_session_known(
            pd.Series(pd.NaT, index=range(int(unknown.sum())), dtype="datetime64[ns, UTC]"),
            funds.loc[unknown, "filed"],
        ).to_numpy()
    con = duckdb.connect()
    try:
        con.register("fundamentals", funds)
        # every stored split: the prices the report values with are adjusted for exactly these
        out = FUNDAMENTAL_SNAPSHOTS.conform(book.fundamental_snapshots(con, actions))
    finally:
        con.close()
    attach_metadata(
        context,
        {
            "tickers": int(out["ticker"].nunique()),
            "filing_dates": len(out),
            "latest_filing": str(out["known_at"].max().date()) if len(out) else "none",
            "splits": int(len(book.known_splits(actions))),
            "preview": md_preview(
                out.sort_values("known_at").tail(5)[
                    ["ticker", "known_at", "fiscal_period", "ttm_eps_diluted", "stockholders_equity"]
                ]
            ),
        },
    )
    return out


# The per-ticker text signals of the holdings' filings: a dependency (lineage, automation) read from the inputs'
# warehouse rather than an input, so a ticker (or a deployment) without filing documents is a holding without a
# latest filing, not a failed report: an unpartitioned snapshot would have to exist first, and the documents are
# optional (the replay and the demo's light runs leave them out).
TEXT_SIGNALS = "filing_text_signals"


def _report_tables(
    market_panel: StoredPartitions,
    fx_rates: StoredPartitions,
    fundamental_snapshots: StoredPartitions,
    tickers: list[str],
    benchmark: str,
) -> duckdb.DuckDBPyConnection:
    """One DuckDB connection over the report's stored inputs, straight from their files: the panel months the
    day's mapping resolved for the holdings and the benchmark only (the panel is stored by ticker: a ticker the
    report does not read cannot change a report day, so adding one recomputes none), the FX months, the
    snapshots, and the holdings' filing_text_signals and filings (every stored ticker partition of theirs). A
    table with nothing stored is its empty declared table."""
    by_ticker = tuple({"ticker": ticker} for ticker in sorted(set(tickers)))
    read = {*tickers, benchmark}
    panel = replace(
        market_panel, partitions=tuple(d for d in market_panel.partitions if (d or {}).get("ticker", benchmark) in read)
    )
    signals = StoredPartitions(market_panel.warehouse, TEXT_SIGNALS, by_ticker)
    filings = StoredPartitions(market_panel.warehouse, SECTOR_SOURCE, by_ticker)
    return connect_stored(
        [panel, fx_rates, fundamental_snapshots, signals, filings],
        empty={
            "market_panel": MARKET_PANEL.empty(),
            "fx_rates": FX_RATES.empty(),
            TEXT_SIGNALS: pd.DataFrame(columns=filing_signals.SIGNAL_INPUT_COLUMNS),
            SECTOR_SOURCE: pd.DataFrame(columns=SECTOR_COLUMNS),
        },
    )


# The holdings' sectors: each company's SEC industry code (SIC, stored with its filings) mapped to a GICS-like
# sector (defs/sec/sectors.py). A dependency on every ticker partition of `filings` (lineage, automation), read
# in the report's connection for the holdings only, like TEXT_SIGNALS: a holding without stored filings is
# Unclassified.
SECTOR_SOURCE = "filings"
SECTOR_COLUMNS = ["ticker", "filing_date", "acceptance_datetime", "sic"]


def _sectors(filings: pd.DataFrame, day: pd.Timestamp) -> dict[str, str]:
    """ticker -> sector from the SIC code of its latest filing known by `day`'s close among `filings` (the
    holdings' stored rows): point in time, a filing counts from the first session whose close follows its SEC
    acceptance (filing_signals' and the fundamentals' rule), so a later filing with another SIC code moves the
    sector only from that session on. A ticker without one is left out (the report shows it as Unclassified);
    a partition stored before filings had a `sic` column gives no sector, not an error."""
    frame = filings.reindex(columns=SECTOR_COLUMNS).dropna(subset=["sic"]).reset_index(drop=True)
    if frame.empty:
        return {}
    frame["known_session"] = fundamentals_lib.first_session_known(
        pd.to_datetime(frame["acceptance_datetime"], utc=True), frame["filing_date"]
    ).to_numpy()
    known = frame[frame["known_session"] <= pd.Timestamp(day).normalize()]
    accepted = pd.to_datetime(known["acceptance_datetime"], utc=True)
    latest = (
        known.assign(_accepted=accepted)
        .sort_values(["known_session", "_accepted", "filing_date"], kind="stable", na_position="first")
        .drop_duplicates("ticker", keep="last")
    )
    sectors = {row.ticker: sector_for_sic(row.sic) for row in latest.itertuples(index=False)}
    return {ticker: sector for ticker, sector in sectors.items() if sector}


def _report_out(schema: TableSchema, description: str) -> dg.AssetOut:
    """One of the report's two outputs: computed together, so they share one code version."""
    # "4": the latest filing's text signals and the new-filing marker (#19, #20)
    return dg.AssetOut(code_version="4", metadata=schema_metadata(schema), description=description)


@dg.multi_asset(
    group_name=GROUP,
    partitions_def=report_day_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    required_resource_keys={"portfolio"},
    outs={
        "portfolio_report": _report_out(
            PORTFOLIO_REPORT,
            "One row per report day: value, cost, P&L, day/MTD/YTD return, volatility, VaR/CVaR, beta, "
            "Sharpe, Sortino, max drawdown, concentration. The latest day's HTML/Markdown report path "
            "is in the metadata.",
        ),
        "portfolio_holdings": _report_out(
            PORTFOLIO_HOLDINGS,
            "Per report day and holding: price, value in the base currency, weight, P&L, day change, "
            "RSI/SMA/Bollinger, 7-day sentiment and point-in-time fundamentals (P/E, P/B, D/E, current "
            "ratio, ROA, ROE, margins) from filings filed on or before the day; the latest filing known by "
            "the day's close (form, dates, accession, net tone of its main section, change vs the previous "
            "same-form filing) and a marker when a filing became known that day.",
        ),
    },
    deps=[
        dg.AssetDep(TEXT_SIGNALS, partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep(SECTOR_SOURCE, partition_mapping=dg.AllPartitionMapping()),
    ],
    ins={
        "market_panel": dg.AssetIn(partition_mapping=_report_history),
        "fx_rates": dg.AssetIn(partition_mapping=_report_history),
        "fundamental_snapshots": dg.AssetIn(),
    },
)
def portfolio_report(
    context: dg.AssetExecutionContext,
    market_panel: StoredPartitions,
    fx_rates: StoredPartitions,
    fundamental_snapshots: StoredPartitions,
):
    settings: PortfolioSettings = context.resources.portfolio
    holdings = settings.holdings()
    base = settings.base_currency.upper()
    days = sorted(pd.Timestamp(key) for key in context.partition_keys)
    # the inputs arrive unread: every query below reads the stored files in this one connection (#15)
    tickers = holdings["ticker"].tolist()
    with _report_tables(market_panel, fx_rates, fundamental_snapshots, tickers, settings.benchmark) as con:
        fx_quotes = _query(con, "fx_rates", FX_RATES, FX_COLUMNS)
        _check_currencies(fx_quotes, set(holdings["currency"]), base)
        rows = book.holdings_table(con, days, holdings, base)
        _check_fx(rows, base)
        signals = con.execute(f"SELECT * FROM {TEXT_SIGNALS}").df()
        known = _query(con, "fundamental_snapshots", FUNDAMENTAL_SNAPSHOTS, ["ticker", "known_at"])
        closes = _query(con, "market_panel", MARKET_PANEL, ["date", "ticker", "adj_close"])
        sources = con.execute("SELECT DISTINCT source FROM market_panel").df()["source"]
        filings = con.execute(f"SELECT * FROM {SECTOR_SOURCE}").df()
    headlines = filing_signals.headline_signals(signals.reindex(columns=filing_signals.SIGNAL_INPUT_COLUMNS))
    rows = pd.concat([rows, filing_signals.latest_filings(rows, headlines, known)], axis=1)

    adj_closes = _matrix(closes, "adj_close") if len(closes) else pd.DataFrame(index=pd.DatetimeIndex([]))
    fx_base = book.fx_to_base(fx_quotes, set(holdings["currency"]), base, adj_closes.index) if len(adj_closes) else None
    benchmark = adj_closes[settings.benchmark] if settings.benchmark in adj_closes else None
    summaries, histories = [], {}
    for day in days:
        held = _held_on(holdings, day)
        key = tuple(held.index)  # the value history depends only on which holdings are held
        if key not in histories:
            histories[key] = (
                book.value_history(held, adj_closes, fx_base, base)
                if len(adj_closes) and len(held)
                else pd.Series(dtype="float64")
            )
        summaries.append(
            book.portfolio_summary(day, rows[rows["date"] == day], histories[key], benchmark, settings.risk_free_rate)
        )
    report = pd.DataFrame(summaries)
    report.insert(1, "base_currency", base)

    latest_day = max(days)
    latest_rows = rows[rows["date"] == latest_day]
    latest_summary = report[report["date"] == latest_day].iloc[0].to_dict()
    latest_values = histories[tuple(_held_on(holdings, latest_day).index)]
    latest_values = latest_values[latest_values.index <= latest_day]  # the tearsheet's windows cut it
    latest_by_holding = _holding_values(_held_on(holdings, latest_day), adj_closes, fx_base, base, latest_day)
    notes = _notes(latest_rows, latest_day, settings.benchmark, benchmark is not None, base)
    demo = sources.astype(str).str.contains("demo").any()
    paths = write_report_files(
        Path(settings.reports_dir),
        latest_summary,
        latest_rows,
        latest_values,
        benchmark[benchmark.index <= latest_day] if benchmark is not None else None,
        base=base,
        benchmark_name=settings.benchmark,
        notes=notes,
        holding_values=latest_by_holding,
        sectors=_sectors(filings, latest_day),
        risk_free_annual=settings.risk_free_rate,
        banner="DEMO DATA: simulated prices, filings, headlines and FX for fictional companies; not market data."
        if demo
        else "",
    )
    report["report_path"] = None
    report.loc[report["date"] == latest_day, "report_path"] = str(paths["html"])

    for note in notes:
        context.log.info(note)
    top = render_markdown(latest_summary, latest_rows, notes, base=base, max_holdings=METADATA_TOP_HOLDINGS)
    # On the latest day's materialization, whether the run is one day or a range (see `_on_latest_day`).
    latest_key = max(context.partition_keys)
    launched = {
        "run_days": len(days),
        "run_range": f"{min(context.partition_keys)}..{latest_key}" if len(days) > 1 else latest_key,
    }
    _on_latest_day(
        context,
        "portfolio_report",
        latest_key,
        {
            "latest_day": str(latest_day.date()),
            **launched,
            "report_html": dg.MetadataValue.path(str(paths["html"])),
            "report_url": dg.MetadataValue.url(Path(paths["html"]).resolve().as_uri()),
            "report_markdown": dg.MetadataValue.path(str(paths["md"])),
            "summary": dg.MetadataValue.md(top),
            "recent_days": dg.MetadataValue.md(_recent_days(report, base)),
            **{key: _metadata_float(latest_summary.get(key)) for key in METADATA_FIGURES},
            "observations": int(latest_summary["observations"]),
            "holdings_unpriced": int(latest_summary["holdings_unpriced"]),
        },
    )
    _on_latest_day(
        context,
        "portfolio_holdings",
        latest_key,
        {
            "latest_day": str(latest_day.date()),
            **launched,
            "preview": md_preview(
                latest_rows.sort_values("weight", ascending=False)[
                    ["ticker", "market_value", "weight", "unrealized_pnl_pct", "rsi_14", "pe_ttm"]
                ]
            ),
        },
    )
    yield dg.Output(PORTFOLIO_REPORT.conform(report), output_name="portfolio_report")
    yield dg.Output(PORTFOLIO_HOLDINGS.conform(rows), output_name="portfolio_holdings")


def _holding_values(
    held: pd.DataFrame, closes: pd.DataFrame, fx: pd.DataFrame | None, base: str, day: pd.Timestamp
) -> pd.DataFrame | None:
    """Dates x ticker: value in `base` of each priced holding (adjusted closes), up to `day`."""
    priced = held[held["ticker"].isin(closes.columns)]
    if priced.empty or closes.empty:
        return None
    rows = book.holdings_values(priced, closes, fx, base)
    matrix = rows.pivot_table(index="date", columns="ticker", values="market_value", aggfunc="sum")
    matrix.index = pd.DatetimeIndex(matrix.index)
    return matrix[matrix.index <= day].dropna(how="any")


def _on_latest_day(context: dg.AssetExecutionContext, asset: str, latest_key: str, metadata: dict) -> None:
    """`metadata` on the materialization of the run's latest report day, one day or a range alike.

    The asset overview shows the latest materialization; a range run materializes every day in
    partition order, so its last event is this day's. `attach_metadata` would record a range run's
    metadata as an observation and leave the overview with "No metadata found"; the other days stay
    bare here too (Dagster would copy output metadata onto every day's event).
    """
    attach_partition_metadata(context, metadata, latest_key, asset_key=asset)


def _recent_days(report: pd.DataFrame, base: str) -> str:
    """The run's last `METADATA_RECENT_DAYS` report rows as a Markdown table (value in `base`)."""
    rows = report.sort_values("date").tail(METADATA_RECENT_DAYS).to_dict("records")
    kinds = {"date": "date", **FIGURE_KINDS}
    header = [label + (f" ({base})" if kinds[key] == "money" else "") for key, label in RECENT_DAY_COLUMNS.items()]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(row.get(key), kinds[key]) for key in RECENT_DAY_COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def _metadata_float(value) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def write_report_files(
    out_dir: Path,
    summary: dict,
    holdings: pd.DataFrame,
    values: pd.Series,
    benchmark: pd.Series | None = None,
    *,
    base: str = "USD",
    benchmark_name: str = "benchmark",
    notes: list[str] | None = None,
    banner: str = "",
    holding_values: pd.DataFrame | None = None,
    sectors: dict[str, str] | None = None,
    risk_free_annual: float = 0.0,
) -> dict[str, Path]:
    """Markdown and a self-contained HTML page for one report day, and the `latest.*` copies.

    `latest.*` (and `latest.json`, which records their day) only move forward: back-filling an old
    range never replaces a newer day's report.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    day = pd.Timestamp(summary["date"]).date().isoformat()
    texts = {
        "md": render_markdown(summary, holdings, notes or [], base=base),
        "html": render_html(
            ReportData(
                summary=summary,
                holdings=holdings,
                values=values,
                benchmark=benchmark,
                holding_values=holding_values,
                sectors=sectors or {},
                base=base,
                benchmark_name=benchmark_name,
                notes=notes or [],
                banner=banner,
                risk_free_annual=risk_free_annual,
            )
        ),
    }
    paths = {kind: out_dir / f"portfolio_report_{day}.{kind}" for kind in texts}
    for kind, path in paths.items():
        _atomic_write(path, texts[kind])
    marker = out_dir / "latest.json"
    current = json.loads(marker.read_text()).get("date", "") if marker.exists() else ""
    if day >= current:
        for kind, text in texts.items():
            _atomic_write(out_dir / f"latest.{kind}", text)
        _atomic_write(
            marker,
            json.dumps(
                {
                    "date": day,
                    **{kind: str(path) for kind, path in paths.items()},
                    "written_at": dt.datetime.now(dt.UTC).isoformat(),
                }
            ),
        )
    return paths


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# The stored tables match their declarations (portfolio/schemas.py); registered in definitions.py.
SCHEMA_CHECKS = schema_checks(
    (market_panel, MARKET_PANEL),
    (fundamental_snapshots, FUNDAMENTAL_SNAPSHOTS),
    (portfolio_report, PORTFOLIO_REPORT),
    (portfolio_report, PORTFOLIO_HOLDINGS),
)
