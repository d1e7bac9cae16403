"""Issue 7's full flaky-source backfill: 20 tickers x 24 months through `finance-assets backfill
--executor in_process` with 20 % injected faults (500/503/429 with Retry-After/timeouts/resets/truncated
bodies), in a throwaway data dir and DAGSTER_HOME. A ticker-month counts as built when its month partition
is materialized and the month's coverage row holds the ticker (lib/coverage.py).

Reference, side by side: the same backfill without faults. Goals: 0 missing partitions, 0 duplicate
rows, retries visible in run metadata; the time cost of the faults is reported. Takes several minutes
(two full backfills; the demo's requests run at FINANCE_ASSETS_DEMO_RATES, *=1000 unless set).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import pandas as pd

from finance_assets.demo import source as demo
from finance_assets.lib import coverage
from finance_assets.lib.run_metadata import metadata_per_run
from finance_assets.lib.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
TICKERS = [c.ticker for c in demo.DEMO_COMPANIES] + [c.ticker for c in demo.DEMO_EXTRA_COMPANIES[:7]]
START, END = "2024-11", "2026-10"  # 24 complete months
MARKET_ASSETS = ("prices", "technicals", "headlines", "sentiment")
DUPLICATE_KEYS = {
    "prices": ["ticker", "date"],
    "technicals": ["ticker", "date"],
    "sentiment": ["ticker", "date"],
    "headlines": ["ticker", "url"],
    "filings": ["ticker", "accession_number"],
    "market_panel": ["ticker", "date"],
    "portfolio_report": ["date"],
}


def _backfill(root: Path, fault_rate: float) -> dict:
    data, home = root / "data", root / "dagster_home"
    data.mkdir(parents=True)
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (data / "portfolio.csv").write_text(
        "ticker,shares,cost_basis,currency\n" + "".join(f"{t},10,50,USD\n" for t in TICKERS)
    )
    env = dict(
        os.environ,
        FINANCE_ASSETS_DATA_DIR=str(data),
        DAGSTER_HOME=str(home),
        FINANCE_ASSETS_MODE="demo",
        # the fault injector is test code: the CLI loads it through the product's transport seam, by name
        FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER="finance_assets_tests.fault_injection:faults_from_env",
        FINANCE_ASSETS_FAULT_RATE=str(fault_rate),
        FINANCE_ASSETS_HTTP_BACKOFF="0.01",
        # the demo answers offline: without the live limits' waits (SEC 10/s over ten years of filing
        # documents) the two backfills take minutes, not half an hour each
        FINANCE_ASSETS_DEMO_RATES=os.environ.get("FINANCE_ASSETS_DEMO_RATES", "*=1000"),
        PYTHONWARNINGS="ignore",
    )
    for args in (["register"], ["backfill", "--start", START, "--end", END, "--executor", "in_process"]):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "finance_assets.cli", *args],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        seconds = time.perf_counter() - started
    tickers = [*TICKERS, demo.DEMO_BENCHMARK]
    months = [m.strftime("%Y-%m-01") for m in pd.period_range(START, END, freq="M").to_timestamp()]
    wanted = set(itertools.product(months, tickers))
    wh = Warehouse(data / "warehouse")
    with dg.DagsterInstance.from_config(str(home)) as inst:
        # ticker-months as before the month partitions: a month materialized and holding the ticker
        # (its coverage row); a month not materialized counts once per ticker
        missing = 0
        for asset in MARKET_ASSETS:
            built = set(inst.get_materialized_partitions(dg.AssetKey(asset)))
            held = coverage.read(wh, asset)
            missing += len(wanted - {(m, t) for m, t in zip(held["month"], held["ticker"]) if m in built})
        retries = sum(
            meta["http"].get("retries", 0)
            for asset in ("prices", "headlines", "filings", "xbrl_facts", "ticker_cik_map")
            for meta in metadata_per_run(inst, asset).values()
            if meta.get("http")
        )
    duplicates = sum(int(wh.read(asset).duplicated(key).sum()) for asset, key in DUPLICATE_KEYS.items())
    return {
        "returncode": done.returncode,
        "seconds": seconds,
        "missing": missing,
        "duplicates": duplicates,
        "retries": retries,
        "rows": len(wh.read("prices")),
    }


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        faulty = _backfill(Path(tmp) / "faults", 0.2)
        clean = _backfill(Path(tmp) / "clean", 0.0)
    ok = faulty["returncode"] == 0 and faulty["missing"] == 0 and faulty["duplicates"] == 0
    label = f"backfill 20 tickers x 24 months, 20 % faults vs none ({faulty['rows']} price rows)"
    return [
        {
            "benchmark": "reliability",
            "metric": f"missing partitions + duplicate rows, {label}",
            "ours": faulty["missing"] + faulty["duplicates"],
            "reference": clean["missing"] + clean["duplicates"],
            "unit": "count",
            "ratio": None,
            "goal": "0, exit code 0",
            "met": ok,
        },
        {
            "benchmark": "reliability",
            "metric": f"retries recorded in run metadata, {label}",
            "ours": faulty["retries"],
            "reference": clean["retries"],
            "unit": "count",
            "ratio": None,
            "goal": "> 0 with faults",
            "met": faulty["retries"] > 0,
        },
        {
            "benchmark": "reliability",
            "metric": f"wall time, {label}",
            "ours": round(faulty["seconds"], 1),
            "reference": round(clean["seconds"], 1),
            "unit": "s",
            "ratio": faulty["seconds"] / clean["seconds"],
            "goal": "(cost of the faults; informational)",
            "met": None,
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
