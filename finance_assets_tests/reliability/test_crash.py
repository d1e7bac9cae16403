"""SIGKILL in the middle of a write: every file and the DuckDB catalog keep their previous version, and a
re-run completes with exactly the expected rows.

The kill lands at a known point: `dagster asset materialize` (or the project CLI) runs under a small
wrapper that, at the chosen write, writes half of the real bytes, announces the target through a
marker file and waits to be killed. The first materialization is made "as of" 2025-03-14 and the
second as of 2025-04-10, so the old and the new version of the March partitions differ (10 vs 21
sessions) and a torn or mixed file would show.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from finance_assets.lib.warehouse import CATALOG_FILE, DATA_FILE, Warehouse

from .conftest import BIN, MATERIALIZE, NEW_NOW, OLD_NOW, REPO, base_env, cli, sessions_between

pytestmark = pytest.mark.slow

TICKERS = ["ACMQ", "BLZQ"]

# Runs the `dagster` CLI (first argument "dagster") or `finance_assets.cli` with a write that stops half-way. CRASH_TARGET=parquet:<asset>:<n> stops
# in the n-th Parquet write under that asset's folder; CRASH_TARGET=duckdb stops right after the
# first DDL statement on the catalog, before the connection is closed (nothing checkpointed).
CRASH_WRAPPER = r"""
import os, sys, time
from pathlib import Path

import duckdb
import pandas as pd

kind, *rest = os.environ["CRASH_TARGET"].split(":")
marker = Path(os.environ["CRASH_MARKER"])

def stop_here(what):
    marker.write_text(str(what))
    while True:  # wait for SIGKILL
        time.sleep(1)

if kind == "parquet":
    import pyarrow.parquet as pq  # every warehouse file is written by pq.write_table (warehouse._write_parquet)

    asset, nth = rest[0], int(rest[1])
    real_write_table = pq.write_table
    seen = []

    def write_table(table, where, *args, **kwargs):
        if f"{os.sep}{asset}{os.sep}" in str(where):
            seen.append(where)
            if len(seen) == nth:
                real_write_table(table, where, *args, **kwargs)
                whole = Path(where).read_bytes()
                with open(where, "wb") as fh:  # a torn file: the first half of the real bytes
                    fh.write(whole[: len(whole) // 2])
                    fh.flush()
                    os.fsync(fh.fileno())
                stop_here(where)
        return real_write_table(table, where, *args, **kwargs)

    pq.write_table = write_table
elif kind == "duckdb":
    real_connect = duckdb.connect

    class StopsAfterDdl:
        def __init__(self, con):
            self._con = con

        def execute(self, sql, *args, **kwargs):
            result = self._con.execute(sql, *args, **kwargs)
            if sql.lstrip().upper().startswith("CREATE"):
                stop_here(sql)
            return result

        def __getattr__(self, name):
            return getattr(self._con, name)

    def connect(database=":memory:", *args, **kwargs):
        con = real_connect(database, *args, **kwargs)
        return StopsAfterDdl(con) if str(database).endswith("finance.duckdb") else con

    duckdb.connect = connect

if sys.argv[1] == "dagster":
    from dagster._cli import main
    sys.argv = sys.argv[1:]
    sys.exit(main())
from finance_assets.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _snapshot(root: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob(DATA_FILE))}


def _kill_at_write(tmp_path: Path, env: dict, target: str, args: list[str]) -> str:
    """Start the CLI under the wrapper, SIGKILL its process group once it is mid-write; returns the target."""
    wrapper = tmp_path / "crash_wrapper.py"
    wrapper.write_text(CRASH_WRAPPER)
    marker = tmp_path / f"crash-{target.replace(':', '-')}.marker"
    proc = subprocess.Popen(
        [sys.executable, str(wrapper), *args],
        cwd=REPO,
        start_new_session=True,
        env={**env, "CRASH_TARGET": target, "CRASH_MARKER": str(marker)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before reaching {target}"
            assert time.monotonic() < deadline, f"the run never reached {target}"
            time.sleep(0.05)
        time.sleep(0.05)  # the marker is written before the wait loop: let it get there
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    return marker.read_text()


def _counts_by_month(prices: pd.DataFrame) -> dict[tuple[str, str], int]:
    months = pd.to_datetime(prices["date"]).dt.strftime("%Y-%m")
    return prices.groupby([prices["ticker"], months]).size().to_dict()


def _catalog_count(root: Path, view: str) -> int:
    con = duckdb.connect(str(root / CATALOG_FILE), read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {view}").fetchone()[0]  # view: a fixed name from this test
    finally:
        con.close()


def test_sigkill_mid_write_keeps_previous_versions_and_rerun_is_exact(isolated_home, instance, tmp_path):
    data = isolated_home / "data"
    root = data / "warehouse"
    env = base_env()
    instance.add_dynamic_partitions("ticker", TICKERS)  # registration is not under test here
    first = subprocess.run(
        [str(BIN / "dagster"), *MATERIALIZE],
        env={**env, "FINANCE_ASSETS_DEMO_NOW": OLD_NOW},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    assert cli(["catalog"], env).returncode == 0

    wh = Warehouse(root)
    feb, march_to_14 = (
        len(sessions_between("2025-02-01", "2025-02-28")),
        len(sessions_between("2025-03-01", "2025-03-14")),
    )
    old_prices = wh.read("prices")
    assert _counts_by_month(old_prices) == {
        (t, m): n for t in TICKERS for m, n in (("2025-02", feb), ("2025-03", march_to_14))
    }
    before = _snapshot(root)
    old_catalog_count = _catalog_count(root, "prices")
    assert old_catalog_count == len(old_prices)

    # 1. killed half-way through writing the fourth prices file (March, the second shard) of a
    #    re-materialization as of April 10 (files: a month x a ticker shard, February's first)
    torn = Path(
        _kill_at_write(
            tmp_path, {**env, "FINANCE_ASSETS_DEMO_NOW": NEW_NOW}, "parquet:prices:4", ["dagster", *MATERIALIZE]
        )
    )
    after = _snapshot(root)
    assert set(after) == set(before)  # no data file lost, none half-created under the real name
    for path in after:
        pq.read_table(path)  # every data file is a complete Parquet file
    target = torn.parent / DATA_FILE
    assert after[target] == before[target]  # the one being written still holds its previous bytes
    replaced = {p for p in after if after[p] != before[p]}
    # the March file written before it (February's two were rewritten with the same rows, the same bytes)
    assert [p.relative_to(root).parts[:2] for p in replaced] == [("prices", "month=2025-03")]
    # row by row: every file is either wholly the old version or wholly the new one, never a mix
    old_counts = _counts_by_month(old_prices)
    new_counts = {**old_counts, **{(t, "2025-03"): len(sessions_between("2025-03-01", "2025-03-31")) for t in TICKERS}}
    for path in after:
        if "prices" not in path.relative_to(root).parts:
            continue
        counts = _counts_by_month(pd.read_parquet(path))
        assert counts == {k: (new_counts if path in replaced else old_counts)[k] for k in counts}, path
    assert _catalog_count(root, "prices") == len(wh.read("prices"))

    # 2. killed right after a DDL statement on the DuckDB catalog, before it was closed or checkpointed
    _kill_at_write(tmp_path, env, "duckdb", ["catalog"])
    con = duckdb.connect(str(root / CATALOG_FILE), read_only=True)
    try:
        views = {row[0] for row in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        assert {"prices", "technicals"} <= views
        assert con.execute("SELECT count(*) FROM prices").fetchone()[0] == len(wh.read("prices"))
    finally:
        con.close()

    # 3. the re-run completes with exactly the expected rows: March now has every session
    rerun = subprocess.run(
        [str(BIN / "dagster"), *MATERIALIZE],
        env={**env, "FINANCE_ASSETS_DEMO_NOW": NEW_NOW},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    march = len(sessions_between("2025-03-01", "2025-03-31"))
    prices = wh.read("prices")
    assert _counts_by_month(prices) == {(t, m): n for t in TICKERS for m, n in (("2025-02", feb), ("2025-03", march))}
    assert not prices.duplicated(["ticker", "date"]).any()
    technicals = wh.read("technicals")
    assert len(technicals) == len(prices) and not technicals.duplicated(["ticker", "date"]).any()
    assert _catalog_count(root, "prices") == len(prices)
    # leftovers of the killed writer are never read: only data.parquet files are part of the warehouse
    assert all(p.name == DATA_FILE for p in _snapshot(root))
