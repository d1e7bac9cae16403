"""The stored news tables, declared once: columns in order, Arrow types, nullability, primary key.

Empty frames, the column order and types the assets write, the Dagster column schema and the schema
checks all derive from these (lib/schema.py). The types are what the warehouse holds today. What a
provider parser returns (headline_sources.HEADLINE_COLUMNS) is an input, not a stored table.
"""

from __future__ import annotations

import pyarrow as pa

from finance_assets.lib.schema import column, table

TEXT, FLOAT, INT = pa.string(), pa.float64(), pa.int64()

# Blank URLs and titles occur (and never match each other when deduplicating): no primary key.
HEADLINES = table(
    "headlines",
    [
        column("ticker", TEXT, nullable=False),
        column("date", pa.date32(), nullable=False, description="the trading day the headline can first affect"),
        column("published_utc", pa.timestamp("ns", tz="UTC")),
        column("title", TEXT),
        column("url", TEXT),
        column("source", TEXT, description="provider (provider/publisher for aggregators)"),
        column("score", FLOAT, description="sentiment in [-1, 1]"),
        column("label", TEXT, description="positive, negative or neutral"),
    ],
)

SENTIMENT = table(
    "sentiment",
    [
        column("ticker", TEXT),
        column("date", pa.date32(), description="trading day"),
        column("headline_count", INT),
        column("mean_score", FLOAT),
        column("positive_count", INT),
        column("negative_count", INT),
        column("neutral_count", INT),
        column("decayed_7d_score", FLOAT, description="exponentially decayed mean of the last 7 days"),
    ],
    primary_key=["ticker", "date"],
)
