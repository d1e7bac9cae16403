"""The stored SEC tables, declared once: columns in order, Arrow types, nullability, primary key.

Empty frames, the column order and types the assets write, the Dagster column schema and the schema
checks all derive from these (lib/schema.py). The types are what the warehouse holds today. The pure
parsers return these tables without the `ticker` column the assets add (`without_ticker`).
"""

from __future__ import annotations

import pyarrow as pa

from finance_assets.lib.schema import TableSchema, column, table

TEXT, FLOAT, INT, BOOL = pa.string(), pa.float64(), pa.int64(), pa.bool_()
DAY = pa.timestamp("ns")  # a calendar day as a timestamp at midnight
UTC = pa.timestamp("ns", tz="UTC")

# Which filing a row is about: the first columns of every table of filings, declared once (each table's
# primary key decides which of them may be null).
FILING_IDENTITY = [
    column("ticker", TEXT),
    column("cik", INT),
    column("accession_number", TEXT),
    column("form", TEXT),
    column("filing_date", DAY),
]

TICKER_CIK_MAP = table(
    "ticker_cik_map",
    [
        column("ticker", TEXT),
        column("cik", INT),
        column("cik_str", TEXT, description="the CIK's 10-digit form"),
        column("name", TEXT),
        column("exchange", TEXT),
        column("first_seen", pa.timestamp("ms"), nullable=False),
        column("last_seen", pa.timestamp("ms"), nullable=False),
    ],
    primary_key=["ticker", "cik"],
)

FILINGS = table(
    "filings",
    [
        *FILING_IDENTITY,
        column("report_date", DAY),
        column("acceptance_datetime", UTC, description="SEC acceptance time"),
        column("primary_document", TEXT),
        column("primary_doc_url", TEXT),
        column("is_xbrl", BOOL),
        column("is_inline_xbrl", BOOL),
        column("items", TEXT, description="8-K item codes, comma-separated"),
        column("size", INT),
        column("company_name", TEXT),
        column("fiscal_year_end", TEXT, description="MMDD"),
        column("sic", TEXT, description="SEC Standard Industrial Classification code (sectors.sector_for_sic)"),
    ],
    primary_key=["ticker", "accession_number"],
)

XBRL_FACTS = table(
    "xbrl_facts",
    [
        column("ticker", TEXT),
        column("cik", INT),
        column("entity_name", TEXT),
        column("taxonomy", TEXT),
        column("concept", TEXT),
        column("label", TEXT),
        column("unit", TEXT),
        column("value", FLOAT),
        column("start", DAY, nullable=True, description="empty for an instant"),
        column("end", DAY),
        column("is_instant", BOOL),
        column("fy", INT),
        column("fp", TEXT),
        column("form", TEXT),
        column("filed", DAY),
        column("accession", TEXT),
        column("frame", TEXT),
    ],
    primary_key=["ticker", "accession", "taxonomy", "concept", "unit", "start", "end"],
)

FUNDAMENTALS = table(
    "fundamentals",
    [
        column("ticker", TEXT),
        column("item", TEXT),
        column("period_type", TEXT, description="annual or quarterly"),
        column("fiscal_period", TEXT),
        column("period_start", DAY),
        column("period_end", DAY),
        column("value", FLOAT),
        column("unit", TEXT),
        column("concept", TEXT),
        column("taxonomy", TEXT),
        column("filed", DAY),
        column("accession", TEXT),
        column("form", TEXT),
        column("derived", BOOL),
        column("vintage_rank", INT),
        column("accepted_at", UTC),
        column("known_at", DAY, description="first session whose close follows the acceptance"),
    ],
    primary_key=["ticker", "item", "period_type", "fiscal_period", "accession"],
)

FILING_DOCUMENTS = table(
    "filing_documents",
    [
        *FILING_IDENTITY,
        column("acceptance_datetime", pa.timestamp("ns"), description="UTC"),
        column("items", TEXT),
        column("document", TEXT),
        column("doc_type", TEXT),
        column("is_primary", BOOL),
        column("sha256", TEXT),
        column("bytes", INT),
    ],
    primary_key=["ticker", "accession_number", "document"],
)

FILING_TEXT_SIGNALS = table(
    "filing_text_signals",
    [
        *FILING_IDENTITY,
        column("known_at", UTC),
        column("document", TEXT),
        column("section", TEXT),
        column("items", TEXT),
        column("previous_accession", TEXT),
        column("word_count", INT),
        column("sentence_count", INT),
        column("negative", FLOAT, description="Loughran-McDonald share of words"),
        column("positive", FLOAT),
        column("uncertainty", FLOAT),
        column("litigious", FLOAT),
        column("constraining", FLOAT),
        column("fog", FLOAT, description="Gunning fog index"),
        column("similarity_prev", FLOAT, description="cosine similarity to the previous filing's section"),
        column("sentences_added", INT),
        column("sentences_removed", INT),
    ],
    primary_key=["ticker", "accession_number", "document", "section"],
)


def without_ticker(schema: TableSchema) -> list[str]:
    """The columns of `schema` that a parser returns (the asset adds the ticker)."""
    return [name for name in schema.names if name != "ticker"]
