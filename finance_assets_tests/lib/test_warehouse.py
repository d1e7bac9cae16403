from __future__ import annotations

import io
import multiprocessing as mp
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from finance_assets.lib import warehouse as warehouse_module
from finance_assets.lib.warehouse import Warehouse, WarehouseError, ticker_shard


def _frame(ticker: str, month: str, n: int = 20, offset: float = 0.0) -> pd.DataFrame:
    dates = pd.date_range(month, periods=n, freq="B")
    return pd.DataFrame({"ticker": ticker, "date": dates.date, "close": [offset + i for i in range(n)]})


def test_round_trip_and_catalog_view(tmp_path):
    wh = Warehouse(tmp_path)
    for t in ("AAA", "BBB"):
        for m in ("2024-01-01", "2024-02-01"):
            wh.write("prices", {"ticker": t, "month": m}, _frame(t, m))
    assert ticker_shard("AAA") == ticker_shard("BBB")
    assert len(wh.all_files("prices")) == 2  # one file per month and ticker shard: both tickers in each
    feb = wh.read_partitions("prices", [{"ticker": "AAA", "month": "2024-02-01"}])
    assert len(feb) == 20 and {str(d)[:7] for d in feb["date"]} == {"2024-02"}
    # rewriting one month replaces exactly its rows
    wh.write("prices", {"ticker": "AAA", "month": "2024-02-01"}, _frame("AAA", "2024-02-01", n=5, offset=50))
    aaa = wh.read("prices", where="ticker = ?", params=["AAA"])
    assert len(aaa) == 25 and aaa["close"].max() == 54
    assert wh.register_view("prices")
    con = wh.connect()
    try:
        rows = con.execute("SELECT ticker, count(*) FROM prices GROUP BY ticker ORDER BY ticker").fetchall()
    finally:
        con.close()
    assert rows == [("AAA", 25), ("BBB", 40)]
    only = wh.read("prices", where="ticker = ?", params=["BBB"])
    assert set(only["ticker"]) == {"BBB"} and len(only) == 40


def test_failed_write_keeps_previous_version(tmp_path, monkeypatch):
    wh = Warehouse(tmp_path)
    dims = {"ticker": "AAA", "month": "2024-01-01"}
    wh.write("prices", dims, _frame("AAA", "2024-01-01"))

    def crash(table, where, *args, **kwargs):
        with open(where, "wb") as fh:
            fh.write(b"PAR1 half a file")  # a torn write into the temp file
        raise OSError("disk full")

    monkeypatch.setattr(warehouse_module.pq, "write_table", crash)
    with pytest.raises(OSError):
        wh.write("prices", dims, _frame("AAA", "2024-01-01", offset=100))
    monkeypatch.undo()
    kept = pd.read_parquet(wh.partition_file("prices", dims))
    assert kept["close"].tolist() == list(range(20))
    assert [p.name for p in wh.partition_dir("prices", dims).iterdir()] == ["data.parquet"]


@pytest.mark.parametrize("value", ["../../etc/passwd", "A';DROP TABLE prices;--", "A" * 300, "A\x00B", "", "АAPL"])
def test_hostile_partition_values_never_become_paths(tmp_path, value):
    with pytest.raises(WarehouseError):
        Warehouse(tmp_path).partition_dir("prices", {"ticker": value})


# five tickers whose rows share a file per month (crc32 % 16 == 3)
ONE_SHARD = ("SHAE", "SHBB", "SHCM", "SHCT", "SHDC")


def _month_frame(ticker: str, month: str, offset: float) -> pd.DataFrame:
    """2,000 rows inside one month (20 sessions x 100 intraday slots), so the partition owns them."""
    dates = pd.date_range(month, periods=20, freq="B").repeat(100)
    return pd.DataFrame(
        {
            "ticker": ticker,
            "date": dates.date,
            "slot": list(range(100)) * 20,
            "close": [offset + i for i in range(2000)],
        }
    )


def _writer(root: str, ticker: str, month: str, offset: float, repeats: int) -> None:
    wh = Warehouse(root)
    for _ in range(repeats):
        wh.write("prices", {"ticker": ticker, "month": month}, _month_frame(ticker, month, offset))


def test_concurrent_writers_lose_nothing_and_never_mix(tmp_path):
    ctx = mp.get_context("spawn")
    jobs = [ctx.Process(target=_writer, args=(str(tmp_path), f"T{i}", "2024-01-01", 0.0, 5)) for i in range(4)]
    # two writers of the same partition with different content
    jobs += [ctx.Process(target=_writer, args=(str(tmp_path), "SAME", "2024-01-01", off, 5)) for off in (0.0, 1e6)]
    # five tickers of one shard share its file of the month: none may lose the others' rows
    jobs += [ctx.Process(target=_writer, args=(str(tmp_path), ticker, "2024-03-01", 0.0, 3)) for ticker in ONE_SHARD]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(120)
        assert job.exitcode == 0
    wh = Warehouse(tmp_path)
    for i in range(4):
        assert len(wh.read_partitions("prices", [{"ticker": f"T{i}", "month": "2024-01-01"}])) == 2000
    same = wh.read_partitions("prices", [{"ticker": "SAME", "month": "2024-01-01"}])
    assert len(same) == 2000
    assert same["close"].iloc[0] in (0.0, 1e6)
    assert (same["close"] - same["close"].iloc[0]).tolist() == list(range(2000))  # one version, not a mix
    shared = wh.read("prices", where="ticker LIKE 'SH%'")
    assert shared.groupby("ticker").size().to_dict() == dict.fromkeys(ONE_SHARD, 2000)
    assert len(wh.files("prices", [{"ticker": t, "month": "2024-03-01"} for t in ONE_SHARD])) == 1
    assert list(tmp_path.rglob(".tmp-*")) == []
    assert os.path.exists(tmp_path / "prices")


def _pandas_file(existing: pd.DataFrame | None, group) -> pd.DataFrame:
    """A shared file as the warehouse wrote it before the Arrow path (`_merged` in pandas, `to_parquet`), read back."""
    buffer = io.BytesIO()
    warehouse_module._merged(existing, group, True).to_parquet(buffer, index=False)
    return pd.read_parquet(buffer)


def _shard_month(tickers, month: str, seed: int, nan_every: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.date_range(month, periods=18, freq="B")
    frame = pd.DataFrame(
        {
            "date": np.repeat(days.values, len(tickers)),
            "ticker": np.tile(list(tickers), len(days)),
            "close": rng.normal(100, 5, len(days) * len(tickers)),
            "volume": rng.integers(0, 10**6, len(days) * len(tickers)),
            "note": rng.choice(["a", "b", None], len(days) * len(tickers)),
        }
    ).sample(frac=1.0, random_state=seed)  # rows in no order: the file sorts them
    if nan_every:
        frame.loc[frame.index[::nan_every], "close"] = np.nan
    return frame


@pytest.mark.parametrize(
    "case",
    ["replace one ticker", "add a ticker", "two months in one write", "new column types", "mixed object column"],
)
def test_shared_file_rewrite_in_arrow_equals_the_pandas_merge(tmp_path, case):
    """A month-and-shard file rewritten through Arrow holds the rows, order and column types that `_merged`
    (pandas) gives for the same file and write, including the cases that fall back to it."""
    wh = Warehouse(tmp_path)
    month = "2024-03-01"
    base = _shard_month(ONE_SHARD[:3], month, seed=1, nan_every=7)
    wh.write_split_counts("prices", base, [{"ticker": t, "month": month} for t in ONE_SHARD[:3]])
    existing = {month: pd.read_parquet(wh.partition_file("prices", {"ticker": ONE_SHARD[0], "month": month}))}
    if case == "replace one ticker":
        new, dims = _shard_month(ONE_SHARD[1:2], month, seed=2), [{"ticker": ONE_SHARD[1], "month": month}]
    elif case == "add a ticker":
        new, dims = (
            _shard_month(ONE_SHARD[3:5], month, seed=3, nan_every=3),
            [{"ticker": t, "month": month} for t in ONE_SHARD[3:5]],
        )
    elif case == "two months in one write":
        april = "2024-04-01"
        new = pd.concat([_shard_month(ONE_SHARD[:1], month, seed=4), _shard_month(ONE_SHARD[:2], april, seed=5)])
        dims = [{"ticker": ONE_SHARD[0], "month": month}, *({"ticker": t, "month": april} for t in ONE_SHARD[:2])]
        existing[april] = None
    elif case == "new column types":  # volume as float: the Arrow schemas differ, the pandas merge decides
        new = _shard_month(ONE_SHARD[:1], month, seed=6).astype({"volume": float})
        dims = [{"ticker": ONE_SHARD[0], "month": month}]
    else:  # an object column pyarrow cannot convert as a whole (text in March, numbers in April): per file
        april = "2024-04-01"
        numbers = _shard_month(ONE_SHARD[:1], april, seed=8).astype({"note": object})
        numbers["note"] = list(range(len(numbers)))
        new = pd.concat([_shard_month(ONE_SHARD[:1], month, seed=7), numbers])
        dims = [{"ticker": ONE_SHARD[0], "month": month}, {"ticker": ONE_SHARD[0], "month": april}]
        existing[april] = None
    wh.write_split_counts("prices", new, dims)
    for m, before in existing.items():
        mine = [d for d in dims if d["month"] == m]
        rows = new[warehouse_module.partition_rows(new, mine).to_numpy()]
        expected = _pandas_file(before, [(mine[0], rows), *((d, rows.iloc[:0]) for d in mine[1:])])
        path = wh.partition_file("prices", mine[0])
        stored = pd.read_parquet(path)
        pd.testing.assert_frame_equal(stored, expected, check_dtype=True)
        assert stored["ticker"].tolist() == expected["ticker"].tolist()


@pytest.mark.parametrize("date_kind", ["timestamp", "date", "timestamp with a zone", "text"])
def test_rows_of_an_arrow_table_are_partition_rows(date_kind):
    """The rows a rewrite replaces, computed in Arrow, are `partition_rows`' for every mix of partitions a
    shared file gets: (ticker, month), month alone, day alone, tickers alone, missing dates; other column
    types take the pandas path and still agree."""
    rng = np.random.default_rng(11)
    n = 400
    dates = pd.Series(pd.to_datetime("2024-01-25") + pd.to_timedelta(rng.integers(0, 45, n), unit="D"))
    dates[::37] = pd.NaT
    frame = pd.DataFrame({"date": dates, "ticker": rng.choice(["AA", "BB", "CC", None], n), "v": np.arange(n)})
    if date_kind == "date":
        frame["date"] = frame["date"].dt.date
    elif date_kind == "timestamp with a zone":
        frame["date"] = frame["date"].dt.tz_localize("America/New_York")
    elif date_kind == "text":
        frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    selections = [
        [{"ticker": "AA", "month": "2024-02-01"}],
        [{"ticker": "AA", "month": "2024-01-01"}, {"ticker": "CC", "month": "2024-02-01"}],
        [{"month": "2024-02-01"}, {"ticker": "BB", "month": "2024-01-01"}],
        [{"date": "2024-02-03"}, {"date": "2024-01-31"}],
        [{"ticker": "BB"}, {"ticker": "ZZ", "month": "2024-03-01"}],
    ]
    for dims_list in selections:
        expected = warehouse_module.partition_rows(frame, dims_list).to_numpy()
        got = warehouse_module._rows_of(table, dims_list)
        assert got.dtype == bool and (got == expected).all(), dims_list
        assert expected.any()
