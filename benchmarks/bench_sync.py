"""The market sync's round (defs/market/sensors.py `sync_runs`) at issue #17's scale.

A warehouse holds N synthetic tickers x 132 months (2016-01..2026-12) in the coverage tables of prices,
technicals, headlines and sentiment (~N x 528 rows) and every ticker's corporate actions (quarterly
dividends, a split for one ticker in 20). Measured, each in a fresh process (wall and CPU time of the round
after imports, medians of SYNC_REPEATS, and the process's peak RSS; on a shared machine the CPU time is
the steadier figure):

  nothing to do   every stored month holds every registered ticker with its current corporate actions
  one new ticker  one more ticker registered (its corporate actions and filings stored, no month yet):
                  the round finds every stored month of the four assets for it alone

Dagster's part of a round is three partition-set lookups (registered tickers, the materialized months
of four assets, the tickers whose corporate actions and filings are stored); here a stand-in instance
answers them from the fixture (recording 12,000 run-less materializations in a SQLite instance takes
~10 minutes), so the figures are the warehouse reads and the arithmetic the sync adds on top.

`python -m benchmarks.bench_sync [N ...]` prints the rows (default SYNC_N, else 1000 and 6000).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("FINANCE_ASSETS_HISTORY_START", "2016-01-01")  # partitions are defined at import

NOW = dt.datetime(2026, 12, 15, 18, 0, tzinfo=dt.UTC)
FIRST_MONTH, MONTHS = "2016-01-01", 132
NEW_TICKER = "ZZNEW"
GOAL_SECONDS = 5.0  # issue #17: an automation evaluation with nothing to do within 5 s
GOAL_RSS_MB = 4096  # issue #17: no process above 4 GiB


def _tickers(n: int) -> list[str]:
    return [f"S{i:05d}" for i in range(n)]


def _actions(ticker: str, index: int):
    """Quarterly dividends over the ten years, and a 2-for-1 split for one ticker in 20."""
    import pandas as pd

    from finance_assets.defs.market import corporate_actions as actions_lib

    ex_dates = pd.date_range("2016-02-15", "2026-11-15", freq="3MS") + pd.Timedelta(days=14)
    rows = [
        {
            "ticker": ticker,
            "ex_date": d,
            "kind": "cash_dividend",
            "ratio": float("nan"),
            "amount": 0.2 + index % 7 / 100,
        }
        for d in ex_dates
    ]
    if index % 20 == 0:
        rows.append({"ticker": ticker, "ex_date": pd.Timestamp("2021-06-01"), "kind": "split", "ratio": 2.0})
    frame = pd.DataFrame(rows)
    frame["amount"] = frame["amount"].astype("float64")
    frame["source"] = "bench"
    known = (pd.DatetimeIndex(frame["ex_date"]) + actions_lib.KNOWN_AT_TIME).tz_localize(actions_lib.NEW_YORK)
    frame["known_at"] = known.tz_convert("UTC")
    return actions_lib.normalized(frame)


def build(root: Path, n: int) -> None:
    """The fixture: a warehouse of N tickers (and the new one's corporate actions), and what Dagster would
    answer (fixture.json)."""
    import pandas as pd

    from finance_assets.defs.market import corporate_actions as actions_lib
    from finance_assets.lib import coverage
    from finance_assets.lib.selections import MARKET
    from finance_assets.lib.warehouse import Warehouse

    warehouse = Warehouse(root / "warehouse")
    tickers = _tickers(n)
    versions = {}
    for index, ticker in enumerate([*tickers, NEW_TICKER]):
        actions = _actions(ticker, index)
        warehouse.write("corporate_actions", {"ticker": ticker}, actions)
        versions[ticker] = actions_lib.actions_version(actions)
    months = pd.date_range(FIRST_MONTH, periods=MONTHS, freq="MS")
    for asset in MARKET.assets:
        for year, in_year in pd.Series(months).groupby(months.year):
            dates = pd.DatetimeIndex(in_year).repeat(n)
            rows = pd.DataFrame(
                {
                    "date": dates.astype("datetime64[ns]"),
                    "ticker": tickers * len(in_year),
                    "actions_version": pd.array(
                        [versions[t] for t in tickers] * len(in_year) if asset == "prices" else [None] * len(dates),
                        dtype="string",
                    ),
                }
            )
            warehouse.write_partitions(
                coverage.coverage_table(asset), [({"month": f"{year}-01-01"}, rows)], path_dims=("month",)
            )
    (root / "fixture.json").write_text(
        json.dumps({"tickers": tickers, "months": [m.strftime("%Y-%m-%d") for m in months]})
    )


class StandInInstance:
    """What the sync asks Dagster, answered from the fixture: the registered tickers, the materialized
    months of the market assets, and the tickers whose corporate actions and filings are stored."""

    def __init__(self, tickers: list[str], months: list[str]):
        self.tickers, self.months = tickers, months

    def get_dynamic_partitions(self, name: str) -> list[str]:
        return list(self.tickers)

    def get_materialized_partitions(self, key) -> set[str]:
        name = key.path[-1]
        return set(self.tickers) if name in ("corporate_actions", "filings") else set(self.months)


PEAK_RSS = r"""
def peak_rss_mb():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
"""


def measure(root: Path, scenario: str, repeats: int) -> dict:
    """One scenario in this (fresh) process: the round's median time and this process's peak RSS."""
    import statistics
    import time

    from finance_assets.defs.market import sensors
    from finance_assets.lib.warehouse import Warehouse

    namespace: dict = {}
    exec(PEAK_RSS, namespace)
    fixture = json.loads((root / "fixture.json").read_text())
    tickers = fixture["tickers"] + ([NEW_TICKER] if scenario == "new_ticker" else [])
    instance = StandInInstance(tickers, fixture["months"])
    warehouse = Warehouse(root / "warehouse")
    before = namespace["peak_rss_mb"]()
    timings, cpu, runs = [], [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        runs = sensors.sync_runs(instance, warehouse, NOW)
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    shapes = [[len(r.tickers), len(r.assets), len(r.months)] for r in runs]
    return {
        "seconds": statistics.median(timings),
        "first_seconds": timings[0],
        "cpu_seconds": statistics.median(cpu),  # every thread of the process (DuckDB's too)
        "peak_rss_mb": namespace["peak_rss_mb"](),
        "rss_before_mb": before,
        "runs": shapes,
    }


def _measure_in_fresh_process(root: Path, scenario: str, repeats: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_sync", "--measure", str(root), scenario, str(repeats)],
        check=True,
        capture_output=True,
        text=True,
        cwd=HERE.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def rows_for(n: int, repeats: int) -> list[dict]:
    import time

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        build(root, n)
        print(f"# bench_sync: fixture of {n} tickers built in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        for scenario, expected in (("noop", []), ("new_ticker", [[1, 4, MONTHS]])):
            result = _measure_in_fresh_process(root, scenario, repeats)
            print(f"# bench_sync: {scenario} at N={n}: {result}", file=sys.stderr)
            if result["runs"] != expected:  # the figures are only worth something if the answer is right
                raise AssertionError(f"{scenario} at N={n}: runs {result['runs']}, expected {expected}")
            label = "nothing to do" if scenario == "noop" else "one new ticker"
            rows.append(
                {
                    "benchmark": "sync",
                    "metric": f"market sync round, {label}, {n} tickers x {MONTHS} months x 4 assets "
                    f"(wall; CPU {result['cpu_seconds']:.2f} s)",
                    "ours": result["seconds"],
                    "reference": None,
                    "unit": "s",
                    "ratio": None,
                    "goal": f"<= {GOAL_SECONDS:g} s",
                    "met": result["seconds"] <= GOAL_SECONDS,
                }
            )
            rows.append(
                {
                    "benchmark": "sync",
                    "metric": f"market sync round, {label}, {n} tickers: peak RSS of the process "
                    f"({result['rss_before_mb']:.0f} MB after imports, before the round)",
                    "ours": result["peak_rss_mb"],
                    "reference": None,
                    "unit": "MB",
                    "ratio": None,
                    "goal": f"<= {GOAL_RSS_MB} MB",
                    "met": result["peak_rss_mb"] <= GOAL_RSS_MB,
                }
            )
    return rows


def run() -> list[dict]:
    sizes = [int(n) for n in os.environ.get("SYNC_N", "1000,6000").split(",")]
    repeats = int(os.environ.get("SYNC_REPEATS", "3"))
    return [row for n in sizes for row in rows_for(n, repeats)]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))))
    else:
        sizes = [int(n) for n in sys.argv[1:]] or None
        if sizes:
            os.environ["SYNC_N"] = ",".join(map(str, sizes))
        for row in run():
            print(json.dumps(row))
