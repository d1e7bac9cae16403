"""The installed dependency set is coherent and matches the lock: a bad resolution fails here, loudly."""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import finance_assets
from finance_assets_tests.conftest import REPO

LOCK = REPO / "requirements.lock"


def locked_versions() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def test_dask_and_distributed_are_the_same_release():
    import dask
    import dask.distributed  # noqa: F401  (the import that broke with distributed 2021.4.1)
    import distributed

    assert dask.__version__ == distributed.__version__


def test_every_module_of_the_package_imports():
    failures = {}
    for module in pkgutil.walk_packages(finance_assets.__path__, "finance_assets."):
        try:
            importlib.import_module(module.name)
        except Exception as exc:  # noqa: BLE001 - collect them all, report together
            failures[module.name] = repr(exc)
    assert not failures


def test_definitions_load():
    from finance_assets.definitions import defs

    assert defs.resolve_asset_graph().get_all_asset_keys()


def test_lock_pins_every_package_exactly_and_names_no_source():
    text = LOCK.read_text()
    requirement_lines = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert requirement_lines and all(re.match(r"^[A-Za-z0-9_.\-]+==\S+$", line) for line in requirement_lines)
    for forbidden in ("--index-url", "--extra-index-url", "--find-links", "file://", "http://", "https://"):
        assert forbidden not in text


def test_lock_satisfies_the_declared_ranges():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    pins = locked_versions()
    for spec in declared:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is declared in pyproject.toml but missing from requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} in the lock is outside pyproject.toml's {requirement.specifier}"
        )


@pytest.mark.skipif(Path(sys.prefix) != REPO / ".venv", reason="not running in the venv make install builds")
def test_installed_versions_equal_the_lock():
    pins = locked_versions()
    drift = {}
    for name, version in pins.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            drift[name] = (version, None)
            continue
        if installed != version:
            drift[name] = (version, installed)
    assert not drift, f"installed packages differ from requirements.lock (locked, installed): {drift}"


def test_loading_the_definitions_prints_no_dagster_beta_warnings():
    """Dask workers and the code server load the definitions too, where no CLI flag reaches."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", "import finance_assets.definitions"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "is currently in beta" not in done.stderr and "is currently in preview" not in done.stderr
