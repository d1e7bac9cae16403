"""Shared fixtures: an isolated project home (data dir, DAGSTER_HOME) per test, and realdata lookup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# The suite's partitioned tests address months since 2016 (the live default); demo mode's own default
# (config.DEMO_HISTORY_START, 2025-01) starts later. Partitions are defined when the package is imported,
# so this is set before any test module imports it; subprocesses inherit it. The demo default itself is
# tested in a subprocess without it (lib/test_partitions_demo_start.py).
os.environ.setdefault("FINANCE_ASSETS_HISTORY_START", "2016-01-01")


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
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("FINANCE_ASSETS_DATA_DIR", str(data))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("FINANCE_ASSETS_MODE", "demo")
    return tmp_path


def pytest_collection_modifyitems(config, items):
    """Files holding slow tests run first, the end-to-end ones at the root and in reliability/ before the
    rest: under `make test`'s pytest-xdist `--dist loadfile` the longest files start early instead of
    leaving one worker alone with them at the end."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    # stable sort: files keep their order within a group and each file's tests stay together, in order
    items.sort(key=lambda item: (item.path not in slow_files, len(item.path.parts)))
