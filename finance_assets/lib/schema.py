"""One declared schema per stored table: column order, Arrow types, nullability and primary key.

A domain declares each table it stores once (`defs/<domain>/tables.yaml`) and derives from it:

- `empty()`: a typed empty frame (what an asset returns when it has no rows);
- `conform(frame)`: the frame with exactly the declared columns, in order, each of the declared type (what
  an asset returns), or a `SchemaError` naming the table and the missing, unexpected or mistyped column;
- `problems(frame)`: the violations of a stored table as read back (the asset checks), and
- `arrow_schema`: the `pyarrow.Schema` the Parquet files hold.

Types are Arrow types because the warehouse is Parquet: a frame conformed here writes exactly
`arrow_schema` (names, order, types). In pandas they are: strings and dates (`date32`) as object columns,
floats and timestamps as numpy dtypes, integers and booleans as numpy dtypes, or pandas' nullable `Int64` /
`boolean` when the column may hold nulls and does.

A domain's tables are data: `defs/<domain>/tables.yaml`, read by `load_tables` into these objects (the
type names of `TYPES`); its `schemas.py` gives each table its Python name.

Pure: pandas, pyarrow and PyYAML only, no domain knowledge, no Dagster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import yaml


class SchemaError(ValueError):
    """A frame does not fit its table's declared schema; the message names the table and the column."""


@dataclass(frozen=True)
class Column:
    """A declared column; `nullable=None` means: nullable unless part of the table's primary key."""

    name: str
    type: pa.DataType
    nullable: bool | None = None
    description: str = ""


def column(name: str, type: pa.DataType, nullable: bool | None = None, description: str = "") -> Column:  # noqa: A002
    return Column(name, type, nullable, description)


# Families of Arrow types: a value may move between types of one family (e.g. timestamp units), and
# from integer to floating point and back when no value changes; never from text to a number.
def _family(t: pa.DataType) -> str:
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "floating"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    return str(t)


_COMPATIBLE = {
    ("integer", "floating"),
    ("floating", "integer"),  # only when every value is whole (a safe cast)
    ("timestamp", "date"),  # only when no value has a time of day
}


def _describe(t: pa.DataType) -> str:
    return "no values (all null)" if pa.types.is_null(t) else str(t)


@dataclass(frozen=True)
class TableSchema:
    """A stored table: its name, its columns in order, and the columns that identify a row."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    description: str = ""
    _by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "primary_key", tuple(self.primary_key))
        keyed = set(self.primary_key)
        object.__setattr__(
            self,
            "columns",
            tuple(
                c if c.nullable is not None else Column(c.name, c.type, c.name not in keyed, c.description)
                for c in self.columns
            ),
        )
        names = [c.name for c in self.columns]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"{self.name}: column(s) declared twice: {', '.join(repeated)}")
        unknown = [k for k in self.primary_key if k not in names]
        if unknown:
            raise ValueError(f"{self.name}: primary key column(s) not declared: {', '.join(unknown)}")
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    # ------------------------------------------------------------------------------------- shape
    @property
    def names(self) -> list[str]:
        """The column names in declared order."""
        return [c.name for c in self.columns]

    def __getitem__(self, name: str) -> Column:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns])

    def with_columns(self, *columns: Column, name: str | None = None) -> TableSchema:
        """This schema with more columns appended (e.g. a configured set of indicator columns)."""
        return TableSchema(name or self.name, (*self.columns, *columns), self.primary_key, self.description)

    # ------------------------------------------------------------------------------------ frames
    def empty(self) -> pd.DataFrame:
        """A frame with no rows and every declared column of its declared type."""
        return pd.DataFrame({c.name: _to_pandas(pa.array([], type=c.type), c) for c in self.columns})

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` with exactly the declared columns, in declared order, of the declared types.

        A column that already holds its declared type is passed through untouched (so its values, and
        the bytes written, are what the asset computed); another is converted when no value changes (an
        all-null column, whole floats to integers, timestamp units). Raises `SchemaError` naming the
        table and the column for a missing, unexpected or mistyped column.
        """
        present = list(frame.columns)
        missing = [n for n in self.names if n not in present]
        extra = [n for n in present if n not in self._by_name]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing column(s) {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"unexpected column(s) {', '.join(map(repr, extra))}")
            raise SchemaError(f"{self.name}: {'; '.join(parts)} (declared: {', '.join(self.names)})")
        if len(set(present)) != len(present):
            raise SchemaError(f"{self.name}: repeated column names in {present}")
        converted = {}
        for c in self.columns:
            actual, error = _typed(frame[c.name], c, strict_zone=True)
            if error:
                raise SchemaError(f"{self.name}: column {c.name!r} {error}")
            if actual is not None:
                converted[c.name] = pd.Series(_to_pandas(actual, c), index=frame.index, name=c.name)
        if not converted:  # the usual case: no copy when the frame already is the declared table
            return frame if present == self.names else frame[self.names]
        return pd.DataFrame({n: converted.get(n, frame[n]) for n in self.names}, index=frame.index)

    def problems(self, frame: pd.DataFrame) -> list[str]:
        """Every way `frame` (a stored table as read back) breaks the declaration; [] when none.

        Missing and unexpected columns, columns of another type, nulls in a non-nullable column and
        repeated primary keys. Timestamps read back without their zone (DuckDB returns UTC instants as
        naive timestamps) count as the declared zoned type.
        """
        found: list[str] = []
        present = list(frame.columns)
        missing = [n for n in self.names if n not in present]
        extra = [n for n in present if n not in self._by_name]
        if missing:
            found.append(f"missing column(s): {', '.join(missing)}")
        if extra:
            found.append(f"unexpected column(s): {', '.join(extra)}")
        for c in self.columns:
            if c.name not in present:
                continue
            series = frame[c.name]
            if isinstance(series, pd.DataFrame):
                found.append(f"column {c.name!r} appears {series.shape[1]} times")
                continue
            _, error = _typed(series, c, strict_zone=False)
            if error:
                found.append(f"column {c.name!r} {error}")
            if not c.nullable:
                nulls = int(series.isna().sum())
                if nulls:
                    found.append(f"column {c.name!r} is not nullable but has {nulls} null value(s)")
        key = [k for k in self.primary_key if k in present]
        if key and len(key) == len(self.primary_key) and len(frame):
            repeated = frame[frame.duplicated(key, keep=False)]
            if len(repeated):
                example = repeated.iloc[0][key].to_dict()
                found.append(
                    f"{len(repeated)} row(s) share a primary key ({', '.join(key)}) with another row, e.g. {example}"
                )
        return found

    def check(self, frame: pd.DataFrame) -> None:
        """Raise `SchemaError` listing every problem of `frame` (see `problems`)."""
        found = self.problems(frame)
        if found:
            raise SchemaError(f"{self.name}: " + "; ".join(found))


def table(name: str, columns: Sequence[Column], primary_key: Sequence[str] = (), description: str = "") -> TableSchema:
    """A `TableSchema`. A column is nullable unless declared otherwise or part of the primary key (a key
    column may still be declared nullable, e.g. the start of an instant XBRL fact)."""
    return TableSchema(name, tuple(columns), tuple(primary_key), description)


# -------------------------------------------------------------------------------- tables files
# The column types a tables file names, and the Arrow type each stands for.
TYPES: dict[str, pa.DataType] = {
    "TEXT": pa.string(),
    "FLOAT": pa.float64(),
    "INT": pa.int64(),
    "BOOL": pa.bool_(),
    "DATE": pa.date32(),
    "MS": pa.timestamp("ms"),  # timestamps without a zone, by unit
    "US": pa.timestamp("us"),
    "NS": pa.timestamp("ns"),
    "NS_UTC": pa.timestamp("ns", tz="UTC"),  # an instant
}
_TABLES_FILE_KEYS = {"column_groups", "tables"}
_TABLE_KEYS = {"columns_from", "primary_key", "columns", "description"}
_COLUMN_KEYS = {"type", "nullable", "description"}


class DeclarationError(ValueError):
    """A tables file that does not declare tables as `load_tables` reads them; the message names the file,
    the table (or column group) and the column."""


@dataclass(frozen=True)
class DeclaredTables:
    """What a tables file declares: its tables by name, and its column groups (columns that several tables,
    or a pure module, share) by name, each in the file's order."""

    tables: dict[str, TableSchema]
    column_groups: dict[str, list[Column]]


def load_tables(path: Path) -> DeclaredTables:
    """Read a domain's tables file (`defs/<domain>/tables.yaml`).

    The file holds `tables:` (required) and `column_groups:` (optional), each a mapping of names. A column
    is `name: TYPE` (a key of `TYPES`) or `name: {type: TYPE, nullable: true|false, description: ...}`; a
    column group is a mapping of columns; a table has `columns` (a mapping of columns), optionally
    `columns_from` (column groups whose columns come first, in order), `primary_key` and `description`.
    A key named twice, an unknown key or type name, or a missing one raise `DeclarationError` naming the
    file, the table and the column.
    """
    try:
        with path.open() as stream:
            document = yaml.load(stream, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise DeclarationError(f"{path}: {exc}") from None
    _expect_mapping(document, path, "the file", _TABLES_FILE_KEYS, required={"tables"})
    groups = {
        name: _columns(columns, path, f"column group {name!r}")
        for name, columns in _expect_mapping(document.get("column_groups", {}), path, "column_groups").items()
    }
    tables = {}
    for name, declaration in _expect_mapping(document["tables"], path, "tables").items():
        where = f"table {name!r}"
        _expect_mapping(declaration, path, where, _TABLE_KEYS)
        from_groups = _expect_list(declaration.get("columns_from", []), path, f"{where}: columns_from")
        unknown = [g for g in from_groups if g not in groups]
        if unknown:
            raise DeclarationError(f"{path}: {where}: unknown column group(s) {', '.join(map(repr, unknown))}")
        if "columns" not in declaration and not from_groups:
            raise DeclarationError(f"{path}: {where}: no 'columns'")
        columns = [c for group in from_groups for c in groups[group]]
        columns += _columns(declaration.get("columns", {}), path, where)
        description = declaration.get("description", "")
        if not isinstance(description, str):
            raise DeclarationError(f"{path}: {where}: 'description' is not text")
        try:
            tables[name] = table(
                name,
                columns,
                _expect_list(declaration.get("primary_key", []), path, f"{where}: primary_key"),
                description,
            )
        except ValueError as exc:
            raise DeclarationError(f"{path}: {where}: {str(exc).removeprefix(f'{name}: ')}") from None
    return DeclaredTables(tables, groups)


def _columns(declared: object, path: Path, where: str) -> list[Column]:
    columns = []
    for name, declaration in _expect_mapping(declared, path, f"{where}: columns").items():
        at = f"{where}, column {name!r}"
        if not isinstance(name, str):  # e.g. `no:` or `on:`, which YAML reads as booleans
            raise DeclarationError(f"{path}: {where}: column name {name!r} is not text (quote it)")
        spec = {"type": declaration} if isinstance(declaration, str) else declaration
        _expect_mapping(spec, path, at, _COLUMN_KEYS, required={"type"})
        type_name, nullable, description = spec["type"], spec.get("nullable"), spec.get("description", "")
        if not isinstance(type_name, str) or type_name not in TYPES:
            raise DeclarationError(f"{path}: {at}: unknown type {type_name!r} (known: {', '.join(TYPES)})")
        if nullable is not None and not isinstance(nullable, bool):
            raise DeclarationError(f"{path}: {at}: 'nullable' is {nullable!r}, not true or false")
        if not isinstance(description, str):
            raise DeclarationError(f"{path}: {at}: 'description' is not text")
        columns.append(Column(name, TYPES[type_name], nullable, description))
    return columns


def _expect_mapping(value: object, path: Path, where: str, keys: set[str] | None = None, required=frozenset()) -> dict:
    if not isinstance(value, dict):
        raise DeclarationError(f"{path}: {where}: expected a mapping, found {value!r}")
    missing = sorted(set(required) - set(value))
    unknown = sorted(map(str, set(value) - keys)) if keys is not None else []
    if missing or unknown:
        found = [f"missing key(s) {', '.join(missing)}"] if missing else []
        found += [f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(keys))})"] if unknown else []
        raise DeclarationError(f"{path}: {where}: {'; '.join(found)}")
    return value


def _expect_list(value: object, path: Path, where: str) -> list:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DeclarationError(f"{path}: {where}: expected a list of names, found {value!r}")
    return value


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML's safe loader, refusing a key named twice in one mapping (plain YAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"{key!r} is named twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# ------------------------------------------------------------------------------------------ types
def _typed(series: pd.Series, c: Column, strict_zone: bool) -> tuple[pa.Array | None, str]:
    """(None, '') when `series` already holds `c.type`; (the converted array, '') when it converts
    without changing a value; (None, reason) when it does not fit."""
    if _numpy_type(series) == c.type:  # a typed column: no need to look at the values
        return None, ""
    try:
        actual = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        return None, f"holds values of mixed types, declared {c.type} ({exc})"
    if actual.type == c.type:
        return None, ""
    want, have = _family(c.type), _family(actual.type)
    if pa.types.is_timestamp(c.type) and pa.types.is_timestamp(actual.type):
        if (c.type.tz is None) != (actual.type.tz is None) and (strict_zone or actual.type.tz is not None):
            return None, f"is {actual.type}, declared {c.type} (timezone-aware and naive timestamps differ)"
    elif have not in ("null", want) and (have, want) not in _COMPATIBLE:
        return None, f"is {_describe(actual.type)} ({series.dtype}), declared {c.type}"
    try:
        converted = actual.cast(c.type, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        return None, f"is {actual.type}, declared {c.type}: {exc}"
    if have == "timestamp" and want == "date":
        back = converted.cast(actual.type)
        if not back.equals(actual):
            return None, f"is {actual.type} with times of day, declared {c.type}"
    return converted, ""


def _numpy_type(series: pd.Series) -> pa.DataType | None:
    """The Arrow type of a column whose dtype alone says it (numbers, timestamps), else None."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return pa.timestamp(dtype.unit, tz=str(dtype.tz))
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) or dtype.kind == "O":
        return None
    try:
        return pa.from_numpy_dtype(dtype)
    except (pa.ArrowNotImplementedError, TypeError):
        return None


def _to_pandas(array: pa.Array, c: Column):
    """The pandas form of a column of type `c.type` (see the module docstring)."""
    t = c.type
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        if array.null_count:
            extension = pd.BooleanDtype() if pa.types.is_boolean(t) else pd.api.types.pandas_dtype(f"{_int_name(t)}")
            return pd.array(array.to_pylist(), dtype=extension)
        return array.to_numpy(zero_copy_only=False).astype(t.to_pandas_dtype())
    if pa.types.is_date(t):
        return array.to_pandas(date_as_object=True).to_numpy(dtype=object)
    if pa.types.is_timestamp(t):
        return array.to_pandas().to_numpy() if t.tz is None else pd.DatetimeIndex(array.to_pandas())
    return array.to_pandas().to_numpy()


def _int_name(t: pa.DataType) -> str:
    """pandas' nullable integer dtype for an Arrow integer type: int64 -> Int64, uint8 -> UInt8."""
    name = str(t)
    return ("U" + name[1:].capitalize()) if name.startswith("u") else name.capitalize()
