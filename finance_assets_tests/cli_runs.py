"""The runs a CLI started in a subprocess has recorded in its Dagster home (tests that signal it mid-run)."""

from __future__ import annotations

import subprocess
import time

import dagster as dg


def runs_of(home) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return list(reversed(instance.get_runs()))  # oldest first


def wait_for_the_start_of(job: str, process: subprocess.Popen, home, timeout: float = 300.0) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if (home / "history" / "runs.db").exists():
            started = [
                run for run in runs_of(home) if run.job_name == job and run.status == dg.DagsterRunStatus.STARTED
            ]
            if started:
                return started[0]
        time.sleep(0.2)
    raise AssertionError(f"no {job} run started")
