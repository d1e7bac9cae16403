"""lib/dagster_schema.py: a declared schema as the UI's column schema, and the generic schema check."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest

from finance_assets.lib.dagster_schema import COLUMN_SCHEMA_KEY, column_schema, schema_check, schema_metadata
from finance_assets.lib.schema import column, table

QUOTES = table(
    "quotes",
    [
        column("ticker", pa.string()),
        column("close", pa.float64(), description="adjusted"),
        column("source", pa.string(), nullable=False),
    ],
    primary_key=["ticker"],
)


def test_column_schema_shows_names_types_and_constraints():
    shown = column_schema(QUOTES)
    assert [(c.name, c.type) for c in shown.columns] == [
        ("ticker", "string"),
        ("close", "double"),
        ("source", "string"),
    ]
    ticker, close, source = shown.columns
    assert not ticker.constraints.nullable and ticker.constraints.unique
    assert close.constraints.nullable and not close.constraints.unique and close.description == "adjusted"
    assert not source.constraints.nullable
    assert shown.constraints.other == ["primary key: ticker"]
    assert schema_metadata(QUOTES) == {COLUMN_SCHEMA_KEY: shown}


def _run(frame: pd.DataFrame) -> dg.AssetCheckEvaluation:
    @dg.asset(name="quotes", metadata=schema_metadata(QUOTES))
    def quotes() -> pd.DataFrame:
        return frame

    result = dg.materialize([quotes, schema_check(quotes, QUOTES)], resources={"io_manager": dg.mem_io_manager})
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_the_check_passes_for_a_conforming_table():
    evaluation = _run(QUOTES.conform(pd.DataFrame({"ticker": ["A"], "close": [1.0], "source": ["x"]})))
    assert evaluation.passed and evaluation.check_name == "quotes_matches_schema"
    assert evaluation.metadata["problem_count"].value == 0


def test_the_check_fails_listing_the_problems():
    evaluation = _run(pd.DataFrame({"ticker": ["A", "A"], "close": ["1", "2"], "source": ["x", None]}))
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["problems"].value == [
        "column 'close' is string (object), declared double",
        "column 'source' is not nullable but has 1 null value(s)",
        "2 row(s) share a primary key (ticker) with another row, e.g. {'ticker': 'A'}",
    ]


def test_a_schema_must_name_an_asset_of_the_definition():
    @dg.asset
    def other() -> None: ...

    with pytest.raises(ValueError, match="schema 'quotes' does not name an asset of \\['other'\\]"):
        schema_check(other, QUOTES)
