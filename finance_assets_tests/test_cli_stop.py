"""SIGTERM (a job scheduler's or a time budget's stop) and Ctrl-C during `finance-assets update`: the run in
progress ends as Dagster ends it (failed), no other run starts, one line, exit 128 + the signal's number."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import dagster as dg
import pytest

from finance_assets import cli
from finance_assets_tests.cli_runs import runs_of, wait_for_the_start_of


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_between_runs_leaves_the_watch_as_stopped_with_the_shells_exit_code(signum):
    before, sigint_before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with pytest.raises(cli.Stopped) as caught:
        with cli._interrupt_watch() as interrupted:
            assert not interrupted()
            os.kill(os.getpid(), signum)
            for _ in range(500):  # the handler raises at the next bytecode boundary
                time.sleep(0.01)
    assert caught.value.signum == signum
    assert caught.value.exit_code == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum]
    assert caught.value.line == {signal.SIGINT: cli.INTERRUPTED, signal.SIGTERM: cli.TERMINATED}[signum]
    assert signal.getsignal(signal.SIGTERM) == before  # the process's own handling is back
    assert signal.getsignal(signal.SIGINT) == sigint_before


def test_sigint_stops_a_command_started_in_the_background():
    """A process started in the background inherits SIGINT ignored (make test under nohup, a script's `cmd &`):
    within the watch SIGINT stops the command all the same; the process's own handling is back after it."""
    sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with pytest.raises(cli.Stopped) as caught:
            with cli._interrupt_watch():
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(500):
                    time.sleep(0.01)
        assert caught.value.exit_code == 130
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, sigint)


def test_sigterm_stays_caught_after_a_run_left_it_ignored():
    """Dagster's run copies SIGINT's handler to SIGTERM when it ends: ignored in a process started in the
    background. Between runs the watch catches SIGTERM again."""
    sigint = signal.getsignal(signal.SIGINT)
    try:
        with cli._interrupt_watch() as interrupted:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # what the end of a run leaves then
            assert not interrupted()
            assert signal.getsignal(signal.SIGTERM) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, sigint)


@pytest.mark.slow
def test_sigterm_ends_update_after_the_run_in_progress_with_one_line(isolated_home):
    (isolated_home / "data" / "portfolio.csv").write_text("ticker,shares,cost_basis,currency\nACMQ,100,50,USD\n")
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "FINANCE_ASSETS_HISTORY_START": "2025-01-01"}
    env.pop("FINANCE_ASSETS_DEMO_RATES", None)  # the live limits keep the SEC run going while the signal comes
    home = isolated_home / "dagster_home"
    command = [sys.executable, "-m", "finance_assets.cli", "--as-of", "2025-02-14T18:00"]
    register = subprocess.run([*command, "register"], env=env, capture_output=True, text=True, timeout=120)
    assert register.returncode == 0, register.stdout + register.stderr

    update = subprocess.Popen(
        [*command, "update"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as the scale benchmark starts it
    )
    interrupted_run = wait_for_the_start_of("sec_job", update, home)  # seconds of SEC documents: inside it for sure
    time.sleep(1.0)
    os.killpg(update.pid, signal.SIGTERM)  # what the benchmark's budget sends: the whole group
    stdout, stderr = update.communicate(timeout=180)

    assert update.returncode == 143, stdout + stderr
    assert stderr.strip().splitlines() == [cli.TERMINATED], stderr
    assert "Traceback" not in stdout + stderr and "done:" not in stdout
    assert "FAILED" not in stdout  # the interrupted run is not reported as a failure of its own
    runs = runs_of(home)
    assert runs[-1].run_id == interrupted_run.run_id, "a run was started after SIGTERM"
    assert runs[-1].status == dg.DagsterRunStatus.FAILURE  # as Dagster ends an interrupted run
    assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs[:-1])
