"""The stored portfolio tables, declared once: columns in order, Arrow types, nullability, primary key.

Empty frames, the column order and types the assets write, the Dagster column schema and the schema
checks all derive from these (lib/schema.py). The types are what the warehouse holds today.
"""

from __future__ import annotations

import pyarrow as pa

from finance_assets.lib.schema import column, table

TEXT, FLOAT, INT = pa.string(), pa.float64(), pa.int64()
US, NS = pa.timestamp("us"), pa.timestamp("ns")

MARKET_PANEL = table(
    "market_panel",
    [
        column("date", US),
        column("ticker", TEXT),
        column("close", FLOAT),
        column("adj_close", FLOAT),
        column("volume", INT),
        column("source", TEXT),
        column("ret_simple", FLOAT),
        column("rsi_14", FLOAT),
        column("sma_50", FLOAT),
        column("sma_200", FLOAT),
        column("bb_pctb", FLOAT),
        column("rv_20", FLOAT),
        column("headline_count", FLOAT, description="empty on a day without headlines"),
        column("decayed_7d_score", FLOAT),
    ],
    primary_key=["date", "ticker"],
)

FUNDAMENTAL_SNAPSHOTS = table(
    "fundamental_snapshots",
    [
        column("ticker", TEXT),
        column("known_at", US, description="first session whose close follows the filings' acceptance"),
        column("superseded_at", US, description="the ticker's next knowledge date"),
        column("fundamentals_filed", US),
        column("fiscal_period", TEXT),
        column("fiscal_period_end", US),
        column("reporting_currency", TEXT),
        column("ttm_eps_diluted", FLOAT),
        column("ttm_revenue", FLOAT),
        column("ttm_gross_profit", FLOAT),
        column("ttm_net_income", FLOAT),
        column("total_assets", FLOAT),
        column("total_liabilities", FLOAT),
        column("stockholders_equity", FLOAT),
        column("current_assets", FLOAT),
        column("current_liabilities", FLOAT),
        column("shares_outstanding", FLOAT),
    ],
    primary_key=["ticker", "known_at"],
)

PORTFOLIO_REPORT = table(
    "portfolio_report",
    [
        column("date", NS, description="report day"),
        column("base_currency", TEXT, nullable=False),
        column("holdings", INT),
        column("holdings_unpriced", INT),
        column("total_value", FLOAT),
        column("total_cost", FLOAT),
        column("day_pnl", FLOAT),
        column("day_pnl_price", FLOAT),
        column("day_pnl_fx", FLOAT),
        column("observations", INT, description="returns in the risk window"),
        column("risk_free_annual", FLOAT),
        column("unrealized_pnl", FLOAT),
        column("unrealized_pnl_pct", FLOAT),
        column("day", FLOAT),
        column("mtd", FLOAT),
        column("ytd", FLOAT),
        column("annualized_volatility", FLOAT),
        column("var_hist_95", FLOAT),
        column("var_hist_99", FLOAT),
        column("var_param_95", FLOAT),
        column("var_param_99", FLOAT),
        column("cvar_95", FLOAT),
        column("cvar_99", FLOAT),
        column("beta", FLOAT),
        column("sharpe", FLOAT),
        column("sortino", FLOAT),
        column("max_drawdown", FLOAT),
        column("cumulative_return", FLOAT),
        column("hhi", FLOAT),
        column("effective_holdings", FLOAT),
        column("report_path", TEXT, description="the HTML report (the latest day of a run only)"),
    ],
    primary_key=["date"],
)

# A holding's valuation per report day (holdings.holdings_table) ...
HOLDING_VALUATION = [
    column("date", US),
    column("holding", INT, description="row of the holdings file"),
    column("ticker", TEXT, nullable=False),
    column("account", TEXT),
    column("currency", TEXT),
    column("shares", FLOAT),
    column("cost_basis", FLOAT),
    column("purchase_date", NS),
    column("price", FLOAT),
    column("price_date", US),
    column("prev_close", FLOAT),
    column("day_change_pct", FLOAT),
    column("fx_rate", FLOAT),
    column("market_value", FLOAT),
    column("cost", FLOAT),
    column("unrealized_pnl", FLOAT),
    column("unrealized_pnl_pct", FLOAT),
    column("day_change_value", FLOAT),
    column("day_change_price_value", FLOAT),
    column("day_change_fx_value", FLOAT),
    column("weight", FLOAT),
    column("rsi_14", FLOAT),
    column("price_vs_sma50", FLOAT),
    column("price_vs_sma200", FLOAT),
    column("bb_pctb", FLOAT),
    column("sentiment_7d", FLOAT),
    column("headlines_7d", FLOAT),
    column("fiscal_period", TEXT),
    column("fiscal_period_end", US),
    column("fundamentals_filed", US),
    column("reporting_currency", TEXT),
    column("ttm_eps_diluted", FLOAT),
    column("market_cap", FLOAT),
    column("pe_ttm", FLOAT),
    column("price_to_book", FLOAT),
    column("debt_to_equity", FLOAT),
    column("current_ratio", FLOAT),
    column("roa", FLOAT),
    column("roe", FLOAT),
    column("gross_margin", FLOAT),
    column("net_margin", FLOAT),
]
# ... and the latest filing known by the day's close (filing_signals.latest_filings, its FILING_COLUMNS).
HOLDING_FILING = [
    column("filing_form", TEXT),
    column("filing_date", NS),
    column("filing_known_at", NS),
    column("filing_accession", TEXT),
    column("filing_url", TEXT),
    column("filing_section", TEXT),
    column("filing_net_tone", FLOAT),
    column("filing_change_section", TEXT),
    column("filing_change", FLOAT),
    column("filing_items", TEXT),
    column("new_filing", TEXT),
]
PORTFOLIO_HOLDINGS = table("portfolio_holdings", [*HOLDING_VALUATION, *HOLDING_FILING], primary_key=["date", "holding"])
