"""Ctrl-C during `finance-assets backfill`: one line, exit code 130, no traceback, and a re-run finishes
the work (issue #20)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import dagster as dg
import pytest

from finance_assets.cli import INTERRUPTED
from finance_assets_tests.cli_runs import runs_of, wait_for_the_start_of

pytestmark = pytest.mark.slow

BACKFILL = ["backfill", "--start", "2025-02", "--end", "2025-02", "--tickers", "ACMQ"]


def _default_sigint() -> None:
    # a test run started in the background inherits SIGINT ignored; a terminal's Ctrl-C is not
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "finance_assets.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a command in a terminal
        preexec_fn=_default_sigint,
    )


@pytest.fixture
def env(isolated_home) -> dict:
    (isolated_home / "data" / "portfolio.csv").write_text("ticker,shares,cost_basis,currency\nACMQ,100,50,USD\n")
    # the demo's own history start (the suite pins 2016): a month of one ticker's SEC documents, not ten years
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "FINANCE_ASSETS_HISTORY_START": "2025-01-01"}
    env.pop("FINANCE_ASSETS_DEMO_RATES", None)  # the live limits keep the SEC run going while Ctrl-C comes
    return env


def test_ctrl_c_stops_the_backfill_with_one_line_and_a_rerun_finishes_it(env, isolated_home):
    home = isolated_home / "dagster_home"
    register = _cli(["register"], env)
    assert register.wait(timeout=120) == 0, register.communicate()

    backfill = _cli(BACKFILL, env)
    # the SEC run (the first after the seconds-long ticker map): long enough to be inside it for sure
    interrupted_run = wait_for_the_start_of("sec_job", backfill, home)
    time.sleep(1.0)
    os.killpg(backfill.pid, signal.SIGINT)  # what Ctrl-C sends: its whole process group
    stdout, stderr = backfill.communicate(timeout=180)

    assert backfill.returncode == 130, stdout + stderr
    assert stderr.strip().splitlines() == [INTERRUPTED], stderr
    assert "Traceback" not in stdout + stderr
    assert "done:" not in stdout  # nothing reported as done
    runs = runs_of(home)
    assert [run.job_name for run in runs] == ["ticker_map_job", "sec_job"], "a run was launched after Ctrl-C"
    assert runs[-1].run_id == interrupted_run.run_id and runs[-1].status == dg.DagsterRunStatus.FAILURE

    again = _cli(BACKFILL, env)
    stdout, stderr = again.communicate(timeout=600)
    assert again.returncode == 0, stdout + stderr
    assert "done:" in stdout and "FAILED" not in stdout
    rerun = runs_of(home)[2:]
    assert "sec_job" in [run.job_name for run in rerun] and "report_job" in [run.job_name for run in rerun]
    assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in rerun)
