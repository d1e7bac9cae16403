"""Concurrent Dagster runs on one asset: different partitions lose nothing, and two writers of the same
partition leave one complete version, never a mix. Each run processes one ticker of one month (its tickers
tag): four runs write ACMQ's months, two BLZQ's March file, and all six share the catalog and the coverage
table's yearly file. (Runs of different tickers sharing a month-and-shard file: test_warehouse.py.)

(The warehouse-level version of this, without Dagster, is finance_assets_tests/lib/test_warehouse.py.)
"""

from __future__ import annotations

import duckdb
import pytest

from finance_assets.lib import coverage
from finance_assets.lib.warehouse import CATALOG_FILE, Warehouse

from .conftest import (
    adjusted_closes,
    base_env,
    dagster_market_run,
    expected_adjusted_closes,
    materialized,
    sessions_between,
)

pytestmark = pytest.mark.slow

MONTHS = ["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01"]
# Two writers of BLZQ's March: one sees the market as of March 14, the other as of April 10.
SAME_PARTITION_VERSIONS = {"2025-03-14T22:00:00Z": "2025-03-14", "2025-04-10T22:00:00Z": "2025-03-31"}


def test_concurrent_runs_on_one_asset_lose_nothing_and_never_mix(isolated_home, instance):
    data = isolated_home / "data"
    env = base_env()
    instance.add_dynamic_partitions("ticker", ["ACMQ", "BLZQ"])  # registration is not under test here

    # 6 runs at once: 4 months of ACMQ (which share the coverage file and the catalog), 2 writers of BLZQ's March
    runs = [dagster_market_run("prices", month, ["ACMQ"], env) for month in MONTHS]
    runs += [
        dagster_market_run("prices", "2025-03-01", ["BLZQ"], {**env, "FINANCE_ASSETS_DEMO_NOW": now})
        for now in SAME_PARTITION_VERSIONS
    ]
    for run in runs:
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr[-3000:]

    assert materialized(instance, "prices") == set(MONTHS)
    wh = Warehouse(data / "warehouse")
    # coverage: concurrent recorders of one year may lose a row (the market sync then rebuilds that
    # ticker-month, lib/coverage.py), but what it holds is one row per ticker-month the runs wrote
    held = coverage.read(wh, "prices")
    assert not held.duplicated(["month", "ticker"]).any()
    assert set(zip(held["month"], held["ticker"])) <= {(m, "ACMQ") for m in MONTHS} | {("2025-03-01", "BLZQ")}
    prices = wh.read("prices")
    assert not prices.duplicated(["ticker", "date"]).any()
    acmq = adjusted_closes(prices, "ACMQ")
    expected = expected_adjusted_closes("ACMQ", "2025-01-01", "2025-04-30")
    assert list(acmq.index) == list(expected.index)  # every session of the 4 months, each once
    assert (acmq - expected).abs().max() < 1e-5

    blzq = adjusted_closes(prices, "BLZQ")
    versions = {
        last: expected_adjusted_closes("BLZQ", "2025-03-01", last, as_of=now)
        for now, last in SAME_PARTITION_VERSIONS.items()
    }
    winner = [last for last, version in versions.items() if list(version.index) == list(blzq.index)]
    assert len(winner) == 1, f"BLZQ March holds {len(blzq)} rows: neither complete version"
    assert (blzq - versions[winner[0]]).abs().max() < 1e-5
    assert len(blzq) in (
        len(sessions_between("2025-03-01", "2025-03-14")),
        len(sessions_between("2025-03-01", "2025-03-31")),
    )

    con = duckdb.connect(str(data / "warehouse" / CATALOG_FILE), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM prices").fetchone()[0] == len(prices)
    finally:
        con.close()
    assert not list((data / "warehouse").rglob(".tmp-*"))  # every writer finished its rename
