"""Cross-sectional panel and the daily portfolio report."""


import datetime as dt
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from finance_assets.analytics import risk
from finance_assets.assets._partitions import md_preview
from finance_assets.partitions import MONTH, month_partitions, report_day_partitions
from finance_assets.resources.portfolio import PortfolioSettings

GROUP = "portfolio"
TRADING_DAYS_PER_YEAR = 252
RISK_WINDOW_DAYS = 252
PANEL_LOOKBACK_MONTHS = 13  # a 252-session risk window plus the month being reported

_by_month = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=MONTH)


@dg.asset(
    group_name=GROUP,
    partitions_def=month_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    code_version="1",
    ins={
        "prices": dg.AssetIn(partition_mapping=_by_month),
        "technicals": dg.AssetIn(partition_mapping=_by_month),
        "sentiment": dg.AssetIn(partition_mapping=_by_month),
    },
    description="All tickers' daily close, returns, key indicators and sentiment for a month: the "
    "report's input, and a handy cross-section to query.",
)
def market_panel(context: dg.AssetExecutionContext, prices: pd.DataFrame, technicals: pd.DataFrame,
                 sentiment: pd.DataFrame) -> pd.DataFrame:
    if prices.empty:
        return pd.DataFrame(columns=["date", "ticker", "close", "adj_close"])
    panel = prices[["date", "ticker", "close", "adj_close", "volume", "source"]]
    if len(technicals):
        panel = panel.merge(technicals[["date", "ticker", "ret_simple", "rsi_14", "sma_50", "sma_200", "bb_pctb",
                                        "rv_20"]], on=["date", "ticker"], how="left")
    if len(sentiment):
        panel = panel.merge(sentiment[["date", "ticker", "headline_count", "decayed_7d_score"]],
                            on=["date", "ticker"], how="left")
    panel = panel.sort_values(["date", "ticker"]).reset_index(drop=True)
    context.add_output_metadata({"preview": md_preview(panel.tail(5))})
    return panel


def _close_matrix(panel: pd.DataFrame) -> pd.DataFrame:
    closes = panel.pivot_table(index="date", columns="ticker", values="adj_close", aggfunc="last")
    closes.index = pd.to_datetime(closes.index)
    return closes.sort_index()


def holdings_on(day: pd.Timestamp, holdings: pd.DataFrame, panel: pd.DataFrame) -> pd.DataFrame:
    """Per holding on `day`: last close at or before the day, value, weight, P&L, day change, signals."""
    known = panel[pd.to_datetime(panel["date"]) <= day]
    last = known.sort_values("date").groupby("ticker").tail(2)
    latest = last.groupby("ticker").tail(1).set_index("ticker")
    previous = last.groupby("ticker").head(1).set_index("ticker")["close"]
    rows = holdings.merge(latest, left_on="ticker", right_index=True, how="left")
    rows["price"] = rows["close"]
    rows["price_date"] = rows["date"]
    rows["market_value"] = rows["shares"] * rows["price"]
    rows["cost"] = rows["shares"] * rows["cost_basis"]
    rows["unrealized_pnl"] = rows["market_value"] - rows["cost"]
    rows["unrealized_pnl_pct"] = rows["unrealized_pnl"] / rows["cost"]
    rows["day_change_pct"] = rows["price"] / rows["ticker"].map(previous) - 1.0
    total = rows["market_value"].sum()
    rows["weight"] = rows["market_value"] / total if total else np.nan
    rows["price_vs_sma50"] = rows["price"] / rows.get("sma_50") - 1.0 if "sma_50" in rows else np.nan
    rows["price_vs_sma200"] = rows["price"] / rows.get("sma_200") - 1.0 if "sma_200" in rows else np.nan
    rows["date"] = day.date()
    keep = ["date", "ticker", "shares", "cost_basis", "currency", "price", "price_date", "market_value", "cost",
            "unrealized_pnl", "unrealized_pnl_pct", "day_change_pct", "weight", "rsi_14", "price_vs_sma50",
            "price_vs_sma200", "bb_pctb", "decayed_7d_score"]
    return rows[[c for c in keep if c in rows.columns]]


def portfolio_values(day: pd.Timestamp, rows: pd.DataFrame, closes: pd.DataFrame) -> pd.Series:
    """Value of today's holdings over the trailing risk window (adjusted closes, so dividends count)."""
    window = closes[closes.index <= day].tail(RISK_WINDOW_DAYS + 1)
    shares = rows.set_index("ticker")["shares"]
    held = [t for t in shares.index if t in window.columns]
    return (window[held] * shares[held]).sum(axis=1, min_count=1).dropna()


def portfolio_summary(day: pd.Timestamp, rows: pd.DataFrame, closes: pd.DataFrame, benchmark: str,
                      risk_free_annual: float) -> dict:
    """Portfolio figures on `day` for the current holdings held over the trailing risk window."""
    window = closes[closes.index <= day].tail(RISK_WINDOW_DAYS + 1)
    values = portfolio_values(day, rows, closes)
    returns = values.pct_change().dropna()
    bench = window[benchmark].pct_change().dropna() if benchmark in window.columns else None
    rf_daily = (1.0 + risk_free_annual) ** (1.0 / TRADING_DAYS_PER_YEAR) - 1.0
    summary = {"date": day.date(), "holdings": int(len(rows)), "total_value": float(rows["market_value"].sum()),
               "total_cost": float(rows["cost"].sum())}
    summary["unrealized_pnl"] = summary["total_value"] - summary["total_cost"]
    summary["observations"] = int(len(returns))
    summary.update(risk.risk_summary(returns, bench, risk_free=rf_daily) if len(returns) > 1 else {})
    summary.update(risk.period_returns(values) if len(values) > 1 else {})
    weights = rows["weight"].dropna()
    summary["hhi"] = float(risk.herfindahl(weights)) if len(weights) else np.nan
    summary["effective_holdings"] = float(risk.effective_holdings(weights)) if len(weights) else np.nan
    return summary


@dg.multi_asset(
    group_name=GROUP,
    partitions_def=report_day_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    required_resource_keys={"portfolio"},
    outs={
        "portfolio_report": dg.AssetOut(code_version="1", description=(
            "One row per report day: value, cost, P&L, day/MTD/YTD return, volatility, VaR/CVaR, beta, "
            "Sharpe, Sortino, max drawdown, concentration. The latest day's HTML/Markdown report path "
            "is in the metadata.")),
        "portfolio_holdings": dg.AssetOut(code_version="1", description=(
            "Per report day and holding: price, value, weight, P&L, day change and signals.")),
    },
    ins={
        "market_panel": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(
            start_offset=-PANEL_LOOKBACK_MONTHS, end_offset=0, allow_nonexistent_upstream_partitions=True)),
        "fundamentals": dg.AssetIn(partition_mapping=dg.AllPartitionMapping()),
    },
)
def portfolio_report(context: dg.AssetExecutionContext, market_panel: pd.DataFrame,
                     fundamentals: pd.DataFrame):
    settings: PortfolioSettings = context.resources.portfolio
    holdings = settings.holdings()
    closes = _close_matrix(market_panel) if len(market_panel) else pd.DataFrame(index=pd.DatetimeIndex([]))
    summaries, holding_rows = [], []
    for key in context.partition_keys:
        day = pd.Timestamp(key)
        rows = holdings_on(day, holdings, market_panel)
        holding_rows.append(rows)
        summaries.append(portfolio_summary(day, rows, closes, settings.benchmark, settings.risk_free_rate))
    report = pd.DataFrame(summaries)
    holdings_out = pd.concat(holding_rows, ignore_index=True)
    latest_day = report["date"].max()
    latest_rows = holdings_out[holdings_out["date"] == latest_day]
    paths = write_report_files(Path(settings.reports_dir), report[report["date"] == latest_day].iloc[0].to_dict(),
                               latest_rows, portfolio_values(pd.Timestamp(latest_day), latest_rows, closes))
    report["report_path"] = None
    report.loc[report["date"] == latest_day, "report_path"] = str(paths["html"])
    latest = report[report["date"] == latest_day].iloc[0]
    yield dg.Output(report, output_name="portfolio_report", metadata={
        "latest_day": str(latest_day), "report_html": dg.MetadataValue.path(str(paths["html"])),
        "report_markdown": dg.MetadataValue.path(str(paths["md"])),
        "summary": dg.MetadataValue.md(paths["md"].read_text()),
        "total_value": float(latest["total_value"]),
    })
    yield dg.Output(holdings_out, output_name="portfolio_holdings",
                    metadata={"preview": md_preview(holdings_out[holdings_out["date"] == latest_day])})


def write_report_files(out_dir: Path, summary: dict, holdings: pd.DataFrame, values: pd.Series) -> dict:
    """Markdown summary and a self-contained HTML page for one report day; `latest.*` copies too."""
    from finance_assets.analytics.report_render import render_html, render_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    day = summary["date"]
    day_str = day.isoformat() if isinstance(day, dt.date) else str(day)
    md_text = render_markdown(summary, holdings)
    html_text = render_html(summary, holdings, values)
    paths = {"md": out_dir / f"portfolio_report_{day_str}.md", "html": out_dir / f"portfolio_report_{day_str}.html"}
    for kind, path in paths.items():
        text = md_text if kind == "md" else html_text
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        (out_dir / f"latest.{kind}").write_text(text, encoding="utf-8")
    return paths
