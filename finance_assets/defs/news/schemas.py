"""The stored news tables, declared once in tables.yaml beside this module (lib/schema.py load_tables):
columns in order, Arrow types, nullability, primary key; here under their Python names.

Empty frames, the column order and types the assets write, the Dagster column schema and the schema
checks all derive from these (lib/schema.py). What a provider parser returns
(headline_sources.HEADLINE_COLUMNS) is an input, not a stored table.
"""

from __future__ import annotations

from pathlib import Path

from finance_assets.lib.schema import load_tables

_DECLARED = load_tables(Path(__file__).with_name("tables.yaml")).tables
HEADLINES = _DECLARED["headlines"]
SENTIMENT = _DECLARED["sentiment"]
