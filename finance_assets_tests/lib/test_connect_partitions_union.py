"""Warehouse.connect_partitions(union_by_name=False): the same rows for files of one schema."""

from __future__ import annotations

import pandas as pd

from finance_assets.lib.warehouse import Warehouse, ticker_shard


def _bars(ticker: str, month: str, extra: bool = False) -> pd.DataFrame:
    days = pd.date_range(f"{month}-01", periods=3, freq="B")
    frame = pd.DataFrame({"date": days, "ticker": ticker, "close": [1.0, 2.0, 3.0]})
    return frame.assign(volume=10) if extra else frame


def _rows(con, sql: str) -> list[tuple]:
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_one_schema_reads_alike_with_and_without_union(tmp_path):
    wh = Warehouse(tmp_path)
    parts = [
        ({"ticker": t, "month": m}, _bars(t, m)) for t in ("AAA", "BBB") for m in ("2025-11", "2025-12", "2026-01")
    ]
    wh.write_partitions("prices", parts)
    wanted = [{"ticker": t, "month": m} for t in ("AAA", "BBB") for m in ("2025-12", "2026-01")]
    sql = "SELECT ticker, date, close FROM prices ORDER BY ticker, date"
    unioned = _rows(wh.connect_partitions({"prices": wanted}), sql)
    plain = _rows(wh.connect_partitions({"prices": wanted}, union_by_name=False), sql)
    assert plain == unioned and len(plain) == 12  # 2 tickers x 2 months x 3 days, November left out


def test_without_union_the_first_files_columns_are_the_views(tmp_path):
    wh = Warehouse(tmp_path)
    assert ticker_shard("AAA") < ticker_shard("XYZ")  # two files of the month: AAA's is read first
    wh.write_partitions("prices", [({"ticker": "AAA", "month": "2026-01"}, _bars("AAA", "2026-01"))])
    wh.write_partitions("prices", [({"ticker": "XYZ", "month": "2026-01"}, _bars("XYZ", "2026-01", extra=True))])
    wanted = [{"ticker": t, "month": "2026-01"} for t in ("AAA", "XYZ")]
    unioned = wh.connect_partitions({"prices": wanted})
    assert "volume" in [c[0] for c in unioned.execute("DESCRIBE prices").fetchall()]
    unioned.close()
    plain = wh.connect_partitions({"prices": wanted}, union_by_name=False)
    assert [c[0] for c in plain.execute("DESCRIBE prices").fetchall()] == ["date", "ticker", "close"]
    assert _rows(plain, "SELECT count(*) FROM prices") == [(6,)]
