"""`Warehouse.connect_partitions` (and `connect_stored` over `StoredPartitions`): one DuckDB connection whose views
hold exactly the rows `read_partitions` returns, in a local folder and on an object store (moto's S3 server,
as in test_object_store)."""

from __future__ import annotations

import datetime as dt
import tempfile

import pandas as pd
import pytest

from finance_assets.lib.warehouse import (
    StoredPartitions,
    Warehouse,
    WarehouseError,
    _day_labels,
    _partition_predicate,
    connect_stored,
    split_partitions,
    ticker_shard,
)
from finance_assets_tests.lib.test_object_store import _warehouse, bucket_url, s3_endpoint, s3_env  # noqa: F401
from finance_assets_tests.lib.test_warehouse import _frame

MONTHS = ["2024-11-01", "2024-12-01", "2025-01-01", "2025-02-01"]


def _fill(wh: Warehouse) -> None:
    """Tables of every partition shape: ticker x month (month-and-shard files), month, report day, ticker, none."""
    for ticker in ("AAA", "BBB"):
        wh.write_partitions("prices", [({"ticker": ticker, "month": m}, _frame(ticker, m)) for m in MONTHS])
        wh.write("filings", {"ticker": ticker}, _frame(ticker, MONTHS[0], n=3))
    panel = pd.concat([_frame(t, m) for t in ("AAA", "BBB") for m in MONTHS], ignore_index=True)
    panel["date"] = pd.to_datetime(panel["date"])  # a timestamp column, as market_panel stores it
    wh.write_split("market_panel", panel, [{"month": m} for m in MONTHS])
    days = sorted(panel["date"].dt.strftime("%Y-%m-%d").unique())
    wh.write_split("report", panel[panel["ticker"] == "AAA"], [{"date": d} for d in days])
    wh.write("snapshots", None, _frame("AAA", MONTHS[0], n=4))


# the partitions a reader asks for: a sample of each shape, with gaps, a year boundary and missing partitions
SELECTIONS = {
    "prices": [{"ticker": "AAA", "month": "2024-12-01"}, {"ticker": "AAA", "month": "2025-02-01"}]
    + [{"ticker": "BBB", "month": "2025-01-01"}, {"ticker": "CCC", "month": "2025-01-01"}],
    "market_panel": [{"month": "2024-12-01"}, {"month": "2025-01-01"}, {"month": "2025-03-01"}],
    "report": [{"date": "2024-12-02"}, {"date": "2025-01-02"}, {"date": "2025-01-03"}, {"date": "2025-01-04"}],
    "filings": [{"ticker": "BBB"}, {"ticker": "ZZZ"}],
    "snapshots": [None],
}


def _assert_views_equal_read_partitions(wh: Warehouse) -> None:
    _fill(wh)
    with wh.connect_partitions(SELECTIONS) as con:
        for asset, dims_list in SELECTIONS.items():
            expected = wh.read_partitions(asset, dims_list)
            assert len(expected), asset  # every shape has rows to compare
            pd.testing.assert_frame_equal(con.execute(f"SELECT * FROM {asset}").df(), expected, obj=asset)
    # the rows really are the selection: two of prices' four stored months for AAA, one for BBB
    with wh.connect_partitions({"prices": SELECTIONS["prices"]}) as con:
        months = con.execute(
            "SELECT ticker, strftime(date, '%Y-%m') AS month FROM prices GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    assert months == [("AAA", "2024-12"), ("AAA", "2025-02"), ("BBB", "2025-01")]


def test_views_hold_exactly_what_read_partitions_returns(tmp_path):
    _assert_views_equal_read_partitions(Warehouse(tmp_path / "warehouse"))


def test_views_hold_exactly_what_read_partitions_returns_on_an_object_store(bucket_url, s3_endpoint, tmp_path):  # noqa: F811
    _assert_views_equal_read_partitions(_warehouse(bucket_url, s3_endpoint, tmp_path))


def test_object_store_copies_are_deleted_with_the_connection(bucket_url, s3_endpoint, tmp_path, monkeypatch):  # noqa: F811
    wh = _warehouse(bucket_url, s3_endpoint, tmp_path)
    wh.write("snapshots", None, _frame("AAA", MONTHS[0], n=4))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    with wh.connect_partitions({"snapshots": [None]}) as con:
        assert con.execute("SELECT count(*) FROM snapshots").fetchone() == (4,)
        assert list((tmp_path / "tmp").iterdir())  # the local copy the view reads
    assert not list((tmp_path / "tmp").iterdir())


def test_nothing_stored_is_the_given_empty_table_else_no_view(tmp_path):
    wh = Warehouse(tmp_path / "warehouse")
    _fill(wh)
    empty = pd.DataFrame({"date": pd.Series(dtype="datetime64[us]"), "close": pd.Series(dtype="float64")})
    tables = {"market_panel": [{"month": "2030-01-01"}], "absent": [None], "prices": []}
    with wh.connect_partitions(tables, empty={"market_panel": empty}) as con:
        frame = con.execute("SELECT date, close FROM market_panel").df()
        assert frame.empty and list(frame.columns) == ["date", "close"]
        views = {row[0] for row in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        assert "absent" not in views and "prices" not in views


@pytest.mark.parametrize(
    "tables",
    [
        {"prices": [{"ticker": "AAA", "month": "2025-01-01' OR 1=1 --"}]},  # a value that would escape the quotes
        {"prices": [{"ticker": "AAA", "month": "2025-01-01", 'x" OR 1=1 --': "a"}]},  # a hostile dimension name
        {"../prices": [None]},
    ],
)
def test_hostile_partitions_never_reach_sql(tmp_path, tables):
    wh = Warehouse(tmp_path / "warehouse")
    _fill(wh)
    with pytest.raises(WarehouseError):
        wh.connect_partitions(tables)


def test_connect_takes_distinct_assets_of_one_warehouse(tmp_path):
    one, other = Warehouse(tmp_path / "one"), Warehouse(tmp_path / "other")
    _fill(one)
    prices = StoredPartitions(one, "prices", tuple(SELECTIONS["prices"]))
    with connect_stored([prices, StoredPartitions(one, "snapshots", (None,))]) as con:
        assert con.execute("SELECT count(*) FROM snapshots").fetchone() == (4,)
        assert con.execute("SELECT count(*) FROM prices").fetchone()[0] == len(
            one.read_partitions("prices", SELECTIONS["prices"])
        )
    with pytest.raises(WarehouseError, match="one warehouse"):
        connect_stored([prices, StoredPartitions(other, "snapshots", (None,))])
    with pytest.raises(WarehouseError, match="each asset once"):
        connect_stored([prices, prices])


def _assert_split_writes_the_files_of_one_frame_per_partition(one_by_one: Warehouse, at_once: Warehouse) -> None:
    """`write_split_counts` (each file's rows taken once) against `write_partitions` with a frame per partition:
    the same files, byte for byte in content, over existing rows (a ticker's month rewritten inside a shared file)."""
    months = [*MONTHS, "2025-03-01"]
    run = pd.concat([_frame(t, m, offset=7) for m in months for t in ("BBB", "AAA")], ignore_index=True)
    run = run[~((run["ticker"] == "BBB") & (run["date"].astype(str) < "2025-01"))]  # BBB's 2024: a gap
    dims_list = [{"ticker": t, "month": m} for m in months for t in ("AAA", "BBB", "CCC")]
    for wh in (one_by_one, at_once):
        wh.write_partitions(
            "prices", [({"ticker": t, "month": m}, _frame(t, m)) for t in ("AAA", "BBB") for m in MONTHS]
        )
    one_by_one.write_partitions("prices", list(zip(dims_list, split_partitions(run, dims_list), strict=True)))
    counts = at_once.write_split_counts("prices", run, dims_list)
    assert counts == [len(p) for p in split_partitions(run, dims_list)]
    assert sum(counts) == len(run) and counts[2] == 0 and counts[1] == 0  # CCC has none, BBB none in 2024
    files = sorted(str(f).rsplit("prices/", 1)[1] for f in one_by_one.all_files("prices"))
    assert files == sorted(str(f).rsplit("prices/", 1)[1] for f in at_once.all_files("prices"))
    assert {ticker_shard(t) for t in ("AAA", "BBB", "CCC")} == {"07"}
    assert len(files) == 5  # their one shard x 5 months (an empty partition is written empty)
    for ticker in ("AAA", "BBB", "CCC"):
        expected = one_by_one.read("prices", where="ticker = ?", params=[ticker])
        pd.testing.assert_frame_equal(at_once.read("prices", where="ticker = ?", params=[ticker]), expected)
    # BBB's 2024 months were replaced by the run's (none): gone, as with a frame per partition
    assert not len(at_once.read("prices", where="ticker = 'BBB' AND date < '2025-01-01'"))


def test_write_split_counts_writes_what_a_frame_per_partition_writes(tmp_path):
    one_by_one, at_once = Warehouse(tmp_path / "a"), Warehouse(tmp_path / "b")
    _assert_split_writes_the_files_of_one_frame_per_partition(one_by_one, at_once)
    for path in one_by_one.all_files("prices"):  # the same Parquet bytes
        assert path.read_bytes() == (at_once.root / path.relative_to(one_by_one.root)).read_bytes()


def test_write_split_counts_on_an_object_store(bucket_url, s3_endpoint, tmp_path):  # noqa: F811
    _assert_split_writes_the_files_of_one_frame_per_partition(
        _warehouse(bucket_url + "/a", s3_endpoint, tmp_path / "a"),
        _warehouse(bucket_url + "/b", s3_endpoint, tmp_path / "b"),
    )


def test_a_grid_of_tickers_and_months_is_selected_by_its_tickers(tmp_path):
    """A run's tickers x its months (every combination) is selected by its tickers alone (the files are one month
    each); the rows are those `read_partitions` returns, in its order, and a selection with a gap still gets
    exactly its combinations."""
    wh = Warehouse(tmp_path / "warehouse")
    _fill(wh)
    grid = [{"ticker": t, "month": m} for t in ("AAA", "BBB") for m in MONTHS[1:3]]
    selected = _partition_predicate(grid, "prices")
    assert selected.sql == 'TRY_CAST(CAST("ticker" AS VARCHAR) AS prices_selected_0) IS NOT NULL'
    assert selected.enums == {"prices_selected_0": ["AAA", "BBB"]}
    with wh.connect_partitions({"prices": grid}) as con:
        pd.testing.assert_frame_equal(con.execute("SELECT * FROM prices").df(), wh.read_partitions("prices", grid))
    gap = grid[:-1]  # BBB's January left out: not every combination
    assert _partition_predicate(gap).enums == {"rows_selected_0": ["AAA|2024-12", "AAA|2025-01", "BBB|2024-12"]}
    with wh.connect_partitions({"prices": gap}) as con:
        months = con.execute("SELECT DISTINCT ticker, strftime(date, '%Y-%m') FROM prices ORDER BY ALL").fetchall()
    assert months == [("AAA", "2024-12"), ("AAA", "2025-01"), ("BBB", "2024-12")]


@pytest.mark.parametrize(
    "dates",
    [
        [pd.Timestamp("2024-01-31"), pd.Timestamp("2025-12-01 13:00"), None],  # datetime64[ns] with NaT
        [dt.date(2024, 1, 31), dt.date(2025, 12, 1), None],  # object dates
        [pd.Timestamp("2024-01-31 23:00", tz="America/New_York")],  # tz-aware: its own calendar day
        ["2024-02-03", "2024-02-29"],  # strings
    ],
)
def test_day_labels_are_what_strftime_gives(dates):
    """The fast path for naive datetime64 (numpy formats them) labels every row as to_datetime + strftime did."""
    for column in (pd.Series(dates), pd.Series(dates, index=range(10, 10 + len(dates)))):
        for width in (10, 7):  # a day's label, a month's
            expected = pd.to_datetime(column).dt.strftime("%Y-%m-%d").str[:width]
            pd.testing.assert_series_equal(_day_labels(column, width), expected)
            if column.dtype.kind == "M" and column.dt.tz is None:  # other units too
                pd.testing.assert_series_equal(_day_labels(column.astype("datetime64[ms]"), width), expected)
