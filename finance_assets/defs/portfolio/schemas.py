"""The stored portfolio tables, declared once in tables.yaml beside this module (lib/schema.py
load_tables): columns in order, Arrow types, nullability, primary key; here under their Python names.

Empty frames, the column order and types the assets write, the Dagster column schema and the schema
checks all derive from these (lib/schema.py).
"""

from __future__ import annotations

from pathlib import Path

from finance_assets.lib.schema import load_tables

_DECLARED = load_tables(Path(__file__).with_name("tables.yaml"))
MARKET_PANEL = _DECLARED.tables["market_panel"]
FUNDAMENTAL_SNAPSHOTS = _DECLARED.tables["fundamental_snapshots"]
PORTFOLIO_REPORT = _DECLARED.tables["portfolio_report"]
# portfolio_holdings: a holding's valuation per report day (holdings.holdings_table), then the latest filing
# known by the day's close (filing_signals.latest_filings, its FILING_COLUMNS).
HOLDING_VALUATION = _DECLARED.column_groups["holding_valuation"]
HOLDING_FILING = _DECLARED.column_groups["holding_filing"]
PORTFOLIO_HOLDINGS = _DECLARED.tables["portfolio_holdings"]
