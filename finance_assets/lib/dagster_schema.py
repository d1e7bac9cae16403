"""A declared table schema (lib/schema.py) as Dagster sees it: the column schema the UI shows on an asset,
and an asset check that the stored table still matches the declaration."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from finance_assets.lib.schema import TableSchema

COLUMN_SCHEMA_KEY = "dagster/column_schema"
# Problems listed in a failing check's metadata (the count is always complete).
MAX_LISTED_PROBLEMS = 20


def column_schema(schema: TableSchema) -> dg.TableSchema:
    """The columns, their Arrow types, nullability and (for a one-column key) uniqueness, for the UI."""
    single_key = schema.primary_key[0] if len(schema.primary_key) == 1 else None
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=str(c.type),
                description=c.description or None,
                constraints=dg.TableColumnConstraints(nullable=c.nullable, unique=c.name == single_key),
            )
            for c in schema.columns
        ],
        constraints=dg.TableConstraints(other=[f"primary key: {', '.join(schema.primary_key)}"])
        if schema.primary_key
        else None,
    )


def schema_metadata(schema: TableSchema) -> dict:
    """Definition metadata of an asset that stores `schema`'s table."""
    return {COLUMN_SCHEMA_KEY: column_schema(schema)}


def schema_check(assets_def: dg.AssetsDefinition, schema: TableSchema) -> dg.AssetChecksDefinition:
    """`<table>_matches_schema`: the stored rows of the run's partitions have the declared columns and
    types, no nulls in a non-nullable column and no repeated primary key (`TableSchema.problems`)."""
    key = dg.AssetKey(schema.name)
    if key not in assets_def.keys:
        raise ValueError(
            f"schema {schema.name!r} does not name an asset of {sorted(k.path[-1] for k in assets_def.keys)}"
        )

    @dg.asset_check(
        asset=key,
        name=f"{schema.name}_matches_schema",
        partitions_def=assets_def.specs_by_key[key].partitions_def,
        description=f"The stored {schema.name} rows match the declared schema: columns "
        f"({len(schema.columns)}, in order of declaration) and their types, nulls only where nullable"
        + (f", one row per {', '.join(schema.primary_key)}" if schema.primary_key else "")
        + ".",
    )
    def _check(stored: pd.DataFrame) -> dg.AssetCheckResult:
        if stored.empty and not len(stored.columns):  # nothing stored for these partitions
            return dg.AssetCheckResult(passed=True, metadata={"rows": 0})
        found = schema.problems(stored)
        return dg.AssetCheckResult(
            passed=not found,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "rows": len(stored),
                "problem_count": len(found),
                "problems": dg.MetadataValue.json(found[:MAX_LISTED_PROBLEMS]),
            },
        )

    return _check


def schema_checks(*pairs: tuple[dg.AssetsDefinition, TableSchema]) -> list[dg.AssetChecksDefinition]:
    return [schema_check(assets_def, schema) for assets_def, schema in pairs]
