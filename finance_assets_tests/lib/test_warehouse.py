from __future__ import annotations

import multiprocessing as mp
import os

import pandas as pd
import pytest

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

    def crash(self, path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"PAR1 half a file")  # a torn write into the temp file
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", crash)
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
