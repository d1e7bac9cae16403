"""Shared fixtures: an isolated project home (data dir, DAGSTER_HOME) per test, and realdata lookup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# a test's Dagster instance: the product's instance class (dagster.yaml), no telemetry, Dagster's defaults else
TEST_INSTANCE_YAML = (
    "telemetry:\n  enabled: false\n"
    "instance_class:\n  module: finance_assets.lib.dagster_instance\n  class: FinanceAssetsInstance\n"
)

# The suite's partitioned tests address months since 2016 (the live default); demo mode's own default
# (config.DEMO_HISTORY_START, 2025-01) starts later. Partitions are defined when the package is imported,
# so this is set before any test module imports it; subprocesses inherit it. The demo default itself is
# tested in a subprocess without it (lib/test_partitions_demo_start.py).
os.environ.setdefault("FINANCE_ASSETS_HISTORY_START", "2016-01-01")
# The demo answers offline, so the suite's demo requests do not wait for the live providers' limits
# (SEC 10/s, the others 2/s). Tests of those limits clear it (`live_rates_in_demo`) or build their own limiter.
os.environ.setdefault("FINANCE_ASSETS_DEMO_RATES", "*=1000")


def realdata_dir() -> Path | None:
    env = os.environ.get("FINANCE_ASSETS_REALDATA")
    path = Path(env) if env else REPO.parent / "shared" / "realdata"
    return path if path.is_dir() else None


@pytest.fixture
def realdata() -> Path:
    path = realdata_dir()
    if path is None:
        pytest.skip("../shared/realdata not present")
    return path


@pytest.fixture
def isolated_home(tmp_path, monkeypatch) -> Path:
    """A throwaway data dir and DAGSTER_HOME so tests never touch the developer's warehouse."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "portfolio.csv").write_text((REPO / "data" / "portfolio.csv").read_text())
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(TEST_INSTANCE_YAML)
    monkeypatch.setenv("FINANCE_ASSETS_DATA_DIR", str(data))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("FINANCE_ASSETS_MODE", "demo")
    return tmp_path


# Seconds each of the longest tests took in a full `make test` (2026-12-07, 2 cores under load 4-10; setup
# included for the files whose module fixture builds a warehouse). Only the order of the queue comes from
# it: longest first, so that no worker is left alone with a long test at the end while the other idles.
LONGEST_S = {
    "reliability/test_flaky_sources.py::test_20_tickers_backfill_through_20_percent_faults": 211,
    "lib/test_object_store.py::test_demo_backfill_through_dask_onto_the_object_store": 206,
    "reliability/test_secrets.py::test_live_mode_run_leaks_no_secret_anywhere": 139,
    "test_cli_end_to_end.py::test_update_runs_what_automation_requests": 138,
    "test_cli_end_to_end.py::test_register_backfill_rerun_in_process": 136,
    "defs/portfolio/test_report.py": 135,
    "lib/test_automation.py::test_automation_keeps_the_universe_current": 133,
    "test_cli_end_to_end.py::test_backfill_through_a_real_dask_cluster": 132,
    "test_cli_interrupt.py": 125,
    "test_checks_after_demo.py": 124,
    "test_add_ticker.py": 114,
    "test_dagster_cli_and_ui.py::test_the_ui_after_a_small_demo": 107,
    "lib/test_automation.py::test_a_corporate_action_reaches_stored_months": 96,
    "lib/test_automation.py::test_panel_rows_of_a_ticker_the_report_does_not_read": 91,
    "reliability/test_flaky_sources.py::test_sec_and_yahoo_down_through_the_cli": 74,
    "test_cli_stop.py": 65,
    "test_dagster_cli_and_ui.py::test_dagster_dev_stops_on_ctrl_c": 65,
    "test_dagster_cli_and_ui.py::test_asset_materialize_partition_and_range": 65,
    "reliability/test_crash.py": 61,
    "test_scale_out.py": 58,
    "reliability/test_concurrency.py": 56,
    "lib/test_object_store.py::test_a_run_killed_mid_write_leaves_readers": 47,
    "test_dagster_cli_and_ui.py::test_dagster_dev_serves_the_asset_graph": 46,
    "lib/test_object_store.py::test_concurrent_writers_of_one_yearly_object": 37,
}
# Files whose tests are independent end-to-end runs with no costly module fixture: under `--dist loadfile`
# each of their tests is a work unit of its own (see pytest_xdist_make_scheduler), so two long tests of
# one file run on both workers at once. Every other file stays whole on one worker.
SPLIT_FILES = {
    "reliability/test_flaky_sources.py",
    "reliability/test_secrets.py",
    "lib/test_object_store.py",
    "lib/test_automation.py",
    "test_cli_end_to_end.py",
    "test_dagster_cli_and_ui.py",
}
_TESTS = Path(__file__).resolve().parent


def _unit(nodeid: str) -> str:
    """The work unit of a test: itself in a SPLIT_FILES file, else its file (paths from the repo root)."""
    path = nodeid.split("::", 1)[0]
    return nodeid if path.removeprefix(f"{_TESTS.name}/") in SPLIT_FILES else path


def _expected_s(unit: str, nodeids: list[str]) -> float:
    keys = [n.removeprefix(f"{_TESTS.name}/") for n in nodeids]
    return max((s for name, s in LONGEST_S.items() for key in keys if key.startswith(name)), default=0)


def pytest_collection_modifyitems(config, items):
    """The longest work units first (LONGEST_S), then the other files holding slow tests, the end-to-end
    ones at the root and in reliability/ before the rest: under `make test`'s pytest-xdist the longest
    units start early instead of leaving one worker alone with them at the end. Tests of one file keep
    their order."""
    units: dict[str, list[str]] = {}
    for item in items:
        units.setdefault(_unit(item.nodeid), []).append(item.nodeid)
    expected = {unit: _expected_s(unit, nodeids) for unit, nodeids in units.items()}
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    position = {item.path: i for i, item in reversed(list(enumerate(items)))}
    # stable sort: a file's tests keep their order (a split file's by their expected time)
    items.sort(
        key=lambda item: (
            -expected[_unit(item.nodeid)],
            item.path not in slow_files,
            len(item.path.parts),
            position[item.path],
        )
    )


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile` with SPLIT_FILES' tests as units of their own, handed out in the collection order
    above (xdist's default would reorder the files by their number of tests, the long end-to-end files
    holding few tests last)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SplitSlowFiles(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    config.option.loadscopereorder = False
    return SplitSlowFiles(config, log)


@pytest.fixture
def live_rates_in_demo(monkeypatch) -> None:
    """Demo sources wait for the live providers' limits, as they do unless FINANCE_ASSETS_DEMO_RATES is set."""
    monkeypatch.delenv("FINANCE_ASSETS_DEMO_RATES", raising=False)
