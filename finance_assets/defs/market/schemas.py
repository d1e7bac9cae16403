"""The stored market tables, declared once in tables.yaml beside this module (lib/schema.py load_tables):
columns in order, Arrow types, nullability, primary key; here under their Python names.

Empty frames, the column order and types the assets write, the Dagster column schema and the schema
checks all derive from these (lib/schema.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from finance_assets.lib.schema import TYPES, TableSchema, column, load_tables

_DECLARED = load_tables(Path(__file__).with_name("tables.yaml")).tables
PRICES = _DECLARED["prices"]
CORPORATE_ACTIONS = _DECLARED["corporate_actions"]
FX_RATES = _DECLARED["fx_rates"]
# `technicals` has one float column per output of the configured indicator set (indicators.yaml): the
# keys are declared in tables.yaml, the indicator columns appended by `technicals(columns)`.
TECHNICALS_KEYS = _DECLARED["technicals"]


def technicals(indicator_columns: Iterable[str]) -> TableSchema:
    """The `technicals` table for a configured indicator set: keys, then one float64 column per output."""
    return TECHNICALS_KEYS.with_columns(*(column(name, TYPES["FLOAT"]) for name in indicator_columns))


# The columns every price parser returns: the stored table without the ticker and the provider.
PARSED_PRICE_COLUMNS = [name for name in PRICES.names if name not in ("ticker", "source")]
