"""One declared schema per stored table (defs/<domain>/schemas.py, issue #15): every asset of the code
location has exactly one, shows it as its Dagster column schema and has one schema check; and what a
small demo build stores is exactly the declaration (column names and order, and the type of every column
that holds a value)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finance_assets import cli, definitions
from finance_assets.defs.market import assets as market_assets
from finance_assets.defs.market import schemas as market
from finance_assets.defs.news import schemas as news
from finance_assets.defs.portfolio import filing_signals
from finance_assets.defs.portfolio import schemas as portfolio
from finance_assets.defs.sec import schemas as sec
from finance_assets.defs.sec import text_signals
from finance_assets.lib import config
from finance_assets.lib.dagster_schema import COLUMN_SCHEMA_KEY, column_schema
from finance_assets.lib.schema import TableSchema
from finance_assets.lib.warehouse import Warehouse
from finance_assets_tests.defs.portfolio.test_report import report_demo_build


def declared() -> dict[str, TableSchema]:
    """Every declared table by name; `technicals` with the configured indicator columns."""
    tables = [
        value
        for module in (market, sec, news, portfolio)
        for value in vars(module).values()
        if isinstance(value, TableSchema) and value is not market.TECHNICALS_KEYS
    ]
    tables.append(market_assets.TECHNICALS)
    names = [t.name for t in tables]
    assert len(names) == len(set(names)), f"a table declared twice: {sorted(names)}"
    return {t.name: t for t in tables}


def stored_assets() -> dict[str, dg.AssetsDefinition]:
    return {key.path[-1]: assets_def for assets_def in definitions.ALL_ASSETS for key in assets_def.keys}


def test_every_stored_asset_has_exactly_one_schema_shown_and_checked():
    schemas, assets = declared(), stored_assets()
    assert set(schemas) == set(assets)
    checks = [key for check in definitions.ALL_CHECKS for key in check.check_keys]
    for name, schema in schemas.items():
        spec = assets[name].specs_by_key[dg.AssetKey(name)]
        assert spec.metadata[COLUMN_SCHEMA_KEY] == column_schema(schema), name
        assert [k for k in checks if k.name.endswith("_matches_schema") and k.asset_key.path[-1] == name] == [
            dg.AssetCheckKey(dg.AssetKey(name), f"{name}_matches_schema")
        ]
    graph = definitions.defs.resolve_asset_graph()
    assert {k.name for k in graph.asset_check_keys if k.name.endswith("_matches_schema")} == {
        f"{name}_matches_schema" for name in schemas
    }


def test_the_column_lists_of_the_pure_modules_are_the_declared_ones():
    # what the report adds per holding, and the signals per section, are the tail of their tables
    assert filing_signals.FILING_COLUMNS == [c.name for c in portfolio.HOLDING_FILING]
    signals = sec.FILING_TEXT_SIGNALS.names
    assert signals[-len(text_signals.SIGNAL_COLUMNS) :] == list(text_signals.SIGNAL_COLUMNS)
    assert market_assets.TECHNICALS.names[2:] == list(market_assets.TECHNICALS_COLUMNS)


def _file_problems(schema: TableSchema, path: Path) -> list[str]:
    stored = pq.read_schema(path)
    if stored.names != schema.names:
        return [f"{path}: columns {stored.names}, declared {schema.names}"]
    return [
        f"{path}: {field.name} is {field.type}, declared {schema[field.name].type}"
        for field in stored
        if field.type != schema[field.name].type and not pa.types.is_null(field.type)  # null: no value in the file
    ]


@pytest.mark.slow
def test_a_demo_build_stores_exactly_the_declared_schemas(tmp_path_factory, monkeypatch):
    """The report tests' demo build, read only (defs/portfolio/test_report.py, built once per session: two
    months of the demo for three holdings, one in EUR, filings, documents and the report)."""
    root = report_demo_build(tmp_path_factory)
    monkeypatch.setenv("FINANCE_ASSETS_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    monkeypatch.setenv("FINANCE_ASSETS_MODE", "demo")

    settings = config.settings()
    warehouse = Warehouse(settings.warehouse_location)
    schemas = declared()
    problems = []
    for name, schema in schemas.items():
        files = warehouse.all_files(name)
        assert files, f"{name} stored nothing"
        for path in files:
            problems += _file_problems(schema, Path(path))
    assert not problems, "\n".join(problems)

    # and the schema checks, evaluated in the runs that wrote the tables, passed
    instance = cli.open_instance(settings)
    keys = [dg.AssetCheckKey(dg.AssetKey(name), f"{name}_matches_schema") for name in schemas]
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    results = {}
    for key in keys:
        record = records.get(key)
        evaluation = record.event.dagster_event.event_specific_data if record and record.event else None
        results[key.asset_key.path[-1]] = (getattr(evaluation, "passed", None), evaluation and evaluation.metadata)
    assert {name: passed for name, (passed, _) in results.items()} == dict.fromkeys(schemas, True), results
