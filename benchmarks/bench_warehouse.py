"""Warehouse read speed: one asset for 100 tickers x 2 years (month-and-shard files) in one DuckDB scan.

Reference, side by side: the same rows read file by file with pandas.read_parquet + concat.
Goal (issue 2): a full read well under a second.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import pandas as pd

from finance_assets.lib.warehouse import Warehouse


def _populate(wh: Warehouse, tickers: int = 100, months: int = 24) -> int:
    rng = np.random.default_rng(0)
    rows = 0
    for t in range(tickers):
        for m in pd.date_range("2024-01-01", periods=months, freq="MS"):
            dates = pd.bdate_range(m, m + pd.offsets.MonthEnd(0))
            close = 100 * np.cumprod(1 + rng.normal(0, 0.01, len(dates)))
            frame = pd.DataFrame(
                {
                    "ticker": f"T{t:03d}",
                    "date": dates.date,
                    "open": close,
                    "high": close * 1.01,
                    "low": close * 0.99,
                    "close": close,
                    "adj_close": close,
                    "volume": rng.integers(1e5, 1e6, len(dates)),
                    "source": "bench",
                }
            )
            wh.write("prices", {"ticker": f"T{t:03d}", "month": m.strftime("%Y-%m-01")}, frame)
            rows += len(frame)
    return rows


def _best(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(tmp)
        rows = _populate(wh)
        files = wh.all_files("prices")
        assert len(wh.read_files(files)) == rows
        ours = _best(lambda: wh.read_files(files))
        reference = _best(lambda: pd.concat([pd.read_parquet(f) for f in files], ignore_index=True))
    return [
        {
            "benchmark": "warehouse",
            "metric": f"full read prices, 100 tickers x 24 months ({rows} rows, {len(files)} files)",
            "ours": ours,
            "reference": reference,
            "unit": "s",
            "ratio": ours / reference,
            "goal": "< 1 s",
            "met": ours < 1.0,
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
