"""Adding a ticker to a built warehouse changes no other ticker's rows (#17), and the result equals a
fresh build with the ticker from the start (finance_assets_tests/add_ticker.py, in a subprocess: its
history starts 2026-01, not the suite's pinned 2016)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def added(tmp_path_factory) -> dict:
    workdir = tmp_path_factory.mktemp("add-ticker")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINANCE_ASSETS_")}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "finance_assets_tests.add_ticker", str(workdir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_added_ticker_gets_every_month_for_itself_alone(added):
    runs = added["update_runs"]
    [market] = [r for r in runs if r.startswith("prices,technicals,headlines,sentiment")]
    assert "2026-01-01..2026-03-01 for KLQX" in market  # every stored month, tagged with the new ticker only
    for table in ("prices", "technicals", "headlines", "sentiment", "market_panel", "filings", "corporate_actions"):
        assert added["added_rows"][table] > 0, table
    for table in ("prices", "technicals", "headlines", "sentiment"):
        assert added["added_rows"][f"{table}_coverage"] == 3, table  # January, February, March


def test_the_panel_runs_for_the_added_ticker_alone_and_no_report_day_is_recomputed(added):
    """The panel follows the ticker's daily bars in a run tagged with it alone (the conditions do not rebuild
    it for everyone), and, since nobody holds KLQX, the run says so and no report day is recomputed for it."""
    records = added["update_run_records"]
    panel = [r for r in records if "market_panel" in r["assets"]]
    assert panel == [{"assets": ["market_panel"], "tickers": "KLQX", "report_reads": "no"}]
    assert "2026-01-01..2026-03-01 for KLQX" in next(r for r in added["update_runs"] if r.startswith("market_panel"))
    market = [r for r in records if "prices" in r["assets"]]
    assert [r["tickers"] for r in market] == ["KLQX"]
    # the panel's rows of KLQX recompute no report day; its fundamentals joining the one-table snapshots
    # refresh the latest day alone, as any new filing does (lib/automation.py, report_condition)
    reports = [r for r in added["update_runs"] if "portfolio_report" in r]
    assert reports == ["portfolio_holdings,portfolio_report 2026-03-16 (1 partition(s))"]
    assert added["added_rows"]["market_panel_coverage"] == 3  # January, February, March


def test_no_other_tickers_row_or_file_changes(added):
    assert added["changed_rows_of_other_tickers"] == {}
    assert added["other_files"] >= 5 * 5  # four daily-bar assets and the panel x five tickers, one year
    assert added["other_files_changed"] == []


def test_the_warehouse_equals_a_fresh_build_with_the_ticker(added):
    assert added["mismatches_vs_fresh"] == []
