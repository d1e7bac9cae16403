"""The stored SEC tables, declared once in tables.yaml beside this module (lib/schema.py load_tables):
columns in order, Arrow types, nullability, primary key; here under their Python names.

Empty frames, the column order and types the assets write, the Dagster column schema and the schema
checks all derive from these (lib/schema.py). The pure parsers return these tables without the `ticker`
column the assets add (`without_ticker`).
"""

from __future__ import annotations

from pathlib import Path

from finance_assets.lib.schema import TableSchema, load_tables

_DECLARED = load_tables(Path(__file__).with_name("tables.yaml"))
# Which filing a row is about: the first columns of filings, filing_documents and filing_text_signals.
FILING_IDENTITY = _DECLARED.column_groups["filing_identity"]
TICKER_CIK_MAP = _DECLARED.tables["ticker_cik_map"]
FILINGS = _DECLARED.tables["filings"]
XBRL_FACTS = _DECLARED.tables["xbrl_facts"]
FUNDAMENTALS = _DECLARED.tables["fundamentals"]
FILING_DOCUMENTS = _DECLARED.tables["filing_documents"]
FILING_TEXT_SIGNALS = _DECLARED.tables["filing_text_signals"]


def without_ticker(schema: TableSchema) -> list[str]:
    """The columns of `schema` that a parser returns (the asset adds the ticker)."""
    return [name for name in schema.names if name != "ticker"]
