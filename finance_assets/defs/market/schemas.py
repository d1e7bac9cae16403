"""The stored market tables, declared once: columns in order, Arrow types, nullability, primary key.

Empty frames, the column order and types the assets write, the Dagster column schema and the schema
checks all derive from these (lib/schema.py). The types are what the warehouse holds today.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from finance_assets.lib.schema import TableSchema, column, table

TEXT, FLOAT, INT = pa.string(), pa.float64(), pa.int64()

PRICES = table(
    "prices",
    [
        column("ticker", TEXT),
        column("date", pa.date32(), description="session day (New York)"),
        column("open", FLOAT, description="split-adjusted"),
        column("high", FLOAT, description="split-adjusted"),
        column("low", FLOAT, description="split-adjusted"),
        column("close", FLOAT, description="split-adjusted"),
        column("adj_close", FLOAT, description="split- and dividend-adjusted"),
        column("volume", INT),
        column("dividend", FLOAT, description="cash dividend with this ex-date (0 if none)"),
        column("split_ratio", FLOAT, description="split with this ex-date (1 if none)"),
        column("source", TEXT, description="the provider the row came from"),
    ],
    primary_key=["ticker", "date"],
)

CORPORATE_ACTIONS = table(
    "corporate_actions",
    [
        column("ticker", TEXT, nullable=False),
        column("ex_date", pa.timestamp("ns"), nullable=False),
        column("kind", TEXT, nullable=False, description="split, reverse_split or cash_dividend"),
        column("ratio", FLOAT, description="new shares per old share (splits)"),
        column("amount", FLOAT, description="per share (cash dividends)"),
        column("source", TEXT),
        column("known_at", pa.timestamp("ns", tz="UTC"), description="the ex-date's 09:30 New York open"),
    ],
)

FX_RATES = table(
    "fx_rates",
    [
        column("date", pa.timestamp("ns"), description="ECB publication day"),
        column("currency", TEXT),
        column("per_eur", FLOAT, description="units of the currency per 1 EUR"),
        column("source", TEXT),
    ],
    primary_key=["date", "currency"],
)

# `technicals` has one float column per output of the configured indicator set (indicators.yaml): the
# keys are declared here, the indicator columns appended by `technicals(columns)`.
TECHNICALS_KEYS = table(
    "technicals",
    [column("ticker", TEXT), column("date", pa.timestamp("us"))],
    primary_key=["ticker", "date"],
)


def technicals(indicator_columns: Iterable[str]) -> TableSchema:
    """The `technicals` table for a configured indicator set: keys, then one float64 column per output."""
    return TECHNICALS_KEYS.with_columns(*(column(name, FLOAT) for name in indicator_columns))


# The columns every price parser returns: the stored table without the ticker and the provider.
PARSED_PRICE_COLUMNS = [name for name in PRICES.names if name not in ("ticker", "source")]
