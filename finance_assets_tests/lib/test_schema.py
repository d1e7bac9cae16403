"""lib/schema.py: typed empty frames, conform (order, types, clear errors) and problems."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from finance_assets.lib.schema import DeclarationError, SchemaError, column, load_tables, table

BARS = table(
    "bars",
    [
        column("ticker", pa.string()),
        column("date", pa.date32()),
        column("close", pa.float64()),
        column("volume", pa.int64()),
        column("shares", pa.int64()),
        column("known_at", pa.timestamp("ns", tz="UTC")),
        column("stamp", pa.timestamp("us")),
        column("final", pa.bool_()),
        column("source", pa.string(), nullable=False),
    ],
    primary_key=["ticker", "date"],
)


def _bars(**changes) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "ticker": ["ACMQ", "BLZQ"],
            "date": [dt.date(2025, 3, 3), dt.date(2025, 3, 3)],
            "close": [10.5, 20.25],
            "volume": [100, 200],
            "shares": pd.array([1, None], dtype="Int64"),
            "known_at": pd.to_datetime(["2025-03-03 14:30", "2025-03-03 14:31"], utc=True),
            "stamp": pd.to_datetime(["2025-03-03", "2025-03-04"]).astype("datetime64[us]"),
            "final": [True, False],
            "source": ["demo", "demo"],
        }
    )
    return frame.assign(**changes)


def _written(frame: pd.DataFrame) -> pa.Schema:
    return pa.Table.from_pandas(frame, preserve_index=False).schema.remove_metadata()


def test_declaration_shape():
    assert BARS.names[:3] == ["ticker", "date", "close"]
    assert BARS.arrow_schema.field("known_at").type == pa.timestamp("ns", tz="UTC")
    # the primary key is never nullable
    assert not BARS["ticker"].nullable and not BARS["date"].nullable and BARS["close"].nullable
    assert "close" in BARS and "open" not in BARS
    # ... unless declared nullable (the start of an instant fact)
    facts = table("facts", [column("start", pa.timestamp("ns"), nullable=True)], primary_key=["start"])
    assert facts["start"].nullable
    with pytest.raises(ValueError, match="declared twice: close"):
        table("t", [column("close", pa.float64()), column("close", pa.float64())])
    with pytest.raises(ValueError, match="primary key column.*not declared: date"):
        table("t", [column("close", pa.float64())], primary_key=["date"])


def test_empty_is_typed():
    empty = BARS.empty()
    assert list(empty.columns) == BARS.names and len(empty) == 0
    assert empty.dtypes.astype(str).to_dict() == {
        "ticker": "object",
        "date": "object",
        "close": "float64",
        "volume": "int64",
        "shares": "int64",
        "known_at": "datetime64[ns, UTC]",
        "stamp": "datetime64[us]",
        "final": "bool",
        "source": "object",
    }
    # every column but the text and date ones (object columns without a value) writes its declared type
    written = _written(empty)
    for name in ("close", "volume", "known_at", "stamp", "final"):
        assert written.field(name).type == BARS[name].type, name


def test_conform_orders_and_passes_typed_columns_through():
    frame = _bars()
    shuffled = frame[list(reversed(frame.columns))]
    out = BARS.conform(shuffled)
    assert list(out.columns) == BARS.names
    pd.testing.assert_frame_equal(out, frame)
    # a conformed frame with values writes exactly the declared types
    assert [f.type for f in _written(out)] == [c.type for c in BARS.columns]


def test_conform_converts_when_no_value_changes():
    frame = _bars(
        volume=[100.0, 200.0],  # whole floats -> int64
        close=[10, 20],  # ints -> float64
        stamp=pd.to_datetime(["2025-03-03", "2025-03-04"]),  # ns -> us
        source=["demo", "demo"],
    )
    frame.index = [7, 3]  # the index is kept, values stay with their rows
    out = BARS.conform(frame)
    assert out["volume"].dtype == "int64" and out["volume"].tolist() == [100, 200]
    assert out["close"].dtype == "float64" and out["close"].tolist() == [10.0, 20.0]
    assert str(out["stamp"].dtype) == "datetime64[us]"
    assert list(out.index) == [7, 3]
    assert [f.type for f in _written(out)] == [c.type for c in BARS.columns]


def test_conform_types_an_all_null_column_and_a_nullable_integer():
    out = BARS.conform(_bars(volume=[np.nan, 5.0], final=[None, None], close=[None, None]))
    assert str(out["volume"].dtype) == "Int64" and out["volume"].isna().tolist() == [True, False]
    assert str(out["final"].dtype) == "boolean"
    assert out["close"].dtype == "float64"


def test_conform_converts_timestamps_to_dates_only_at_midnight():
    out = BARS.conform(_bars(date=pd.to_datetime(["2025-03-03", "2025-03-04"])))
    assert out["date"].tolist() == [dt.date(2025, 3, 3), dt.date(2025, 3, 4)]
    with pytest.raises(SchemaError, match=r"bars: column 'date' .*times of day"):
        BARS.conform(_bars(date=pd.to_datetime(["2025-03-03 10:00", "2025-03-04 00:00"])))


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (_bars().drop(columns=["volume"]), r"^bars: missing column\(s\) 'volume' \(declared: ticker, date, close"),
        (_bars(extra=1), r"^bars: unexpected column\(s\) 'extra'"),
        (_bars().drop(columns=["close"]).assign(x=1), r"missing column\(s\) 'close'; unexpected column\(s\) 'x'"),
        (_bars(close=["10.5", "20.25"]), r"^bars: column 'close' is string \(object\), declared double"),
        (_bars(volume=[1.5, 2.0]), r"^bars: column 'volume' is double, declared int64: .*truncated"),
        (_bars(ticker=[1, 2]), r"^bars: column 'ticker' is int64 \(int64\), declared string"),
        (_bars(ticker=["A", 2]), r"^bars: column 'ticker' holds values of mixed types"),
        (_bars(known_at=pd.to_datetime(["2025-03-03", "2025-03-04"])), r"column 'known_at' .*timezone-aware and naive"),
        (_bars(stamp=pd.to_datetime(["2025-03-03", "2025-03-04"], utc=True)), r"column 'stamp' .*timezone-aware"),
    ],
)
def test_conform_fails_naming_the_table_and_column(frame, message):
    with pytest.raises(SchemaError, match=message):
        BARS.conform(frame)


def test_problems_of_a_good_frame_and_as_read_back():
    assert BARS.problems(_bars()) == []
    assert BARS.problems(BARS.empty()) == []
    # what DuckDB returns for the same Parquet: dates as timestamps, UTC instants without their zone,
    # integer columns with nulls as floats
    read_back = _bars(
        date=pd.to_datetime(["2025-03-03", "2025-03-03"]).astype("datetime64[us]"),
        known_at=pd.to_datetime(["2025-03-03 14:30", "2025-03-03 14:31"]),
        shares=[1.0, np.nan],
    )
    assert BARS.problems(read_back) == []


def test_problems_lists_every_violation():
    bad = _bars(ticker=["ACMQ", "ACMQ"], close=["x", "y"], source=["demo", None], extra=0).drop(columns=["volume"])
    found = BARS.problems(bad)
    assert found[0] == "missing column(s): volume"
    assert found[1] == "unexpected column(s): extra"
    assert "column 'close' is string (object), declared double" in found
    assert "column 'source' is not nullable but has 1 null value(s)" in found
    assert found[-1].startswith("2 row(s) share a primary key (ticker, date) with another row, e.g. {'ticker': 'ACMQ'")
    assert len(found) == 5
    with pytest.raises(SchemaError, match=r"^bars: missing column\(s\): volume; unexpected"):
        BARS.check(bad)


def test_problems_flags_times_of_day_in_a_date_column():
    found = BARS.problems(_bars(date=pd.to_datetime(["2025-03-03 10:00", "2025-03-04 00:00"])))
    assert found == ["column 'date' is timestamp[ns] with times of day, declared date32[day]"]


def test_with_columns_appends():
    wide = BARS.with_columns(column("rsi_14", pa.float64()), name="wide")
    assert wide.name == "wide" and wide.names[-1] == "rsi_14" and wide.primary_key == BARS.primary_key


BARS_FILE = """
column_groups:
  keys:
    ticker: TEXT
    date: DATE
tables:
  bars:
    columns_from: [keys]
    primary_key: [ticker, date]
    columns:
      close: FLOAT
      volume: INT
      shares: INT
      known_at: NS_UTC
      stamp: US
      final: BOOL
      source: {type: TEXT, nullable: false}
  facts:
    description: instant and duration facts
    primary_key: [start]
    columns:
      start: {type: NS, nullable: true, description: empty for an instant}
"""


def test_a_tables_file_reads_into_the_same_declarations(tmp_path):
    path = tmp_path / "tables.yaml"
    path.write_text(BARS_FILE)
    declared = load_tables(path)
    assert list(declared.tables) == ["bars", "facts"]
    assert declared.tables["bars"] == BARS and declared.tables["bars"].arrow_schema.equals(BARS.arrow_schema)
    assert declared.column_groups["keys"] == [column("ticker", pa.string()), column("date", pa.date32())]
    facts = declared.tables["facts"]
    assert facts.description == "instant and duration facts"
    assert facts["start"] == column("start", pa.timestamp("ns"), nullable=True, description="empty for an instant")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("close: FLOAT", "close: DOUBLE"), "table 'bars', column 'close': unknown type 'DOUBLE' (known: TEXT, "),
        (("{type: TEXT, nullable: false}", "{nullable: false}"), "table 'bars', column 'source': missing key(s) type"),
        (("{type: TEXT, nullable: false}", "{type: TEXT, nulable: false}"), "column 'source': unknown key(s) nulable"),
        (("nullable: true", "nullable: maybe"), "table 'facts', column 'start': 'nullable' is 'maybe', not true or"),
        (("ticker: TEXT", "ticker: [TEXT]"), "column group 'keys', column 'ticker': expected a mapping"),
        (("columns_from: [keys]", "columns_from: [key]"), "table 'bars': unknown column group(s) 'key'"),
        (("primary_key: [ticker, date]", "primary_key: [ticker, day]"), "table 'bars': primary key column(s) not"),
        (("      volume: INT", "      volume: INT\n      close: INT"), "'close' is named twice"),
        (("      volume: INT", "      no: INT"), "table 'bars': column name False is not text (quote it)"),
        (("tables:", "table:"), "the file: missing key(s) tables; unknown key(s) table"),
        (("    columns:\n      start", "    cols:\n      start"), "table 'facts': unknown key(s) cols"),
    ],
)
def test_a_tables_file_that_does_not_declare_fails_naming_the_file_table_and_column(tmp_path, change, message):
    path = tmp_path / "tables.yaml"
    assert change[0] in BARS_FILE
    path.write_text(BARS_FILE.replace(change[0], change[1], 1))
    with pytest.raises(DeclarationError) as failure:
        load_tables(path)
    assert str(failure.value).startswith(f"{path}: ") and message in str(failure.value)
