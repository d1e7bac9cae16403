"""End to end through the real CLI in a subprocess: register, backfill (in-process and Dask), re-run."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pandas as pd
import pytest

from finance_assets.lib.warehouse import Warehouse

pytestmark = pytest.mark.slow


def _cli(args: list[str], env: dict, timeout: int = 420) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "finance_assets.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def cli_env(isolated_home) -> dict:
    data = isolated_home / "data"
    (data / "portfolio.csv").write_text(
        "ticker,shares,cost_basis,currency\nACMQ,100,50,USD\nBLZQ,20,300,USD\nCRXQ,300,30,USD\n"
    )
    env = dict(os.environ)
    env["PYTHONWARNINGS"] = "ignore"
    # the demo's own history start (the suite pins 2016): the filing documents of 2025-26, not ten years
    env["FINANCE_ASSETS_HISTORY_START"] = "2025-01-01"
    # the demo answers offline: its requests need not wait for the live providers' limits
    env["FINANCE_ASSETS_DEMO_RATES"] = "*=1000"
    return env


def test_register_backfill_rerun_in_process(cli_env, isolated_home):
    reg = _cli(["register"], cli_env)
    assert reg.returncode == 0, reg.stderr
    assert "registered 4 new ticker(s) (ACMQ, BLZQ, CRXQ, DEMOIDX)" in reg.stdout

    run = _cli(["backfill", "--start", "2025-01", "--end", "2025-03", "--executor", "in_process"], cli_env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "partitions" in run.stdout and "ETA" in run.stdout and "done:" in run.stdout

    wh = Warehouse(isolated_home / "data" / "warehouse")
    # one file per month and ticker shard (these 4 tickers: 4 shards), none per ticker or day
    assert len(wh.all_files("prices")) == 3 * 4
    prices = wh.read("prices")
    assert set(prices["ticker"]) == {"ACMQ", "BLZQ", "CRXQ", "DEMOIDX"}
    sessions_q1_2025 = 60  # XNYS: 20 + 19 + 21
    assert len(prices) == 4 * sessions_q1_2025
    assert not prices.duplicated(["ticker", "date"]).any()
    assert prices["source"].str.contains("demo").all()

    report = wh.read("portfolio_report")
    assert len(report) == len(pd.bdate_range("2025-01-01", "2025-03-31"))
    assert (isolated_home / "data" / "reports" / "latest.html").exists()

    con = duckdb.connect(str(wh.catalog_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM technicals WHERE ticker = 'ACMQ'").fetchone()[0] == sessions_q1_2025
    finally:
        con.close()

    again = _cli(["backfill", "--start", "2025-01", "--end", "2025-03", "--executor", "in_process"], cli_env)
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout


def test_backfill_through_a_real_dask_cluster(cli_env, isolated_home):
    assert _cli(["register"], cli_env).returncode == 0
    run = _cli(
        ["backfill", "--start", "2025-02", "--end", "2025-02", "--tickers", "ACMQ,BLZQ", "--executor", "dask"], cli_env
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "dask scheduler: tcp://127.0.0.1:" in run.stdout
    wh = Warehouse(isolated_home / "data" / "warehouse")
    tech = wh.read("technicals")
    assert set(tech["ticker"]) == {"ACMQ", "BLZQ"} and len(tech) == 2 * 19


def test_bad_input_gets_a_clear_error(cli_env, isolated_home):
    (isolated_home / "data" / "portfolio.csv").write_text("ticker,shares,cost_basis,currency\n../etc,1,1,USD\n")
    reg = _cli(["register"], cli_env)
    assert reg.returncode == 2
    assert "error:" in reg.stderr and "line 2" in reg.stderr
    bad = _cli(["backfill", "--start", "2025-13"], cli_env)
    assert bad.returncode == 2 and "error:" in bad.stderr


def test_update_runs_what_automation_requests_as_of_the_clock(cli_env, isolated_home):
    """`finance-assets --as-of T update`: the automation conditions decide, each run is printed, the data
    ends at T, and a second update at the same clock has nothing to do."""
    env = {**cli_env, "FINANCE_ASSETS_HISTORY_START": "2026-03", "FINANCE_ASSETS_EXECUTOR": "in_process"}
    assert _cli(["register"], env).returncode == 0
    first = _cli(["--as-of", "2026-04-07T18:00", "update"], env, timeout=900)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "update as of 2026-04-07 22:00 UTC" in first.stdout
    for asset in ("corporate_actions", "prices", "technicals", "market_panel", "portfolio_report"):
        assert f"ran {asset}" in first.stdout or f",{asset}" in first.stdout, (asset, first.stdout)
    assert "done:" in first.stdout

    wh = Warehouse(isolated_home / "data" / "warehouse")
    prices = wh.read("prices")
    assert str(pd.to_datetime(prices["date"]).max().date()) == "2026-04-07"  # nothing after the clock
    assert str(pd.to_datetime(wh.read("portfolio_report")["date"]).max().date()) == "2026-04-06"

    again = _cli(["--as-of", "2026-04-07T18:00", "update"], env, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to do" in again.stdout, again.stdout
