"""The layout's rules hold: which folder may import which (pyproject's import-linter contracts, drawn in
docs/ARCHITECTURE.md), and a domain's pure logic imports no Dagster, not even through another module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

from finance_assets_tests.conftest import REPO

DOMAINS = ("sec", "market", "news", "portfolio")


def is_dagster_facing(module: str) -> bool:
    """Assets, checks, sensors and source resources talk to Dagster; every other module of a domain is pure."""
    name = module.rsplit(".", 1)[-1]
    return name in {"assets", "checks", "sensors", "source", "documents"} or name.endswith(("_assets", "_source"))


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint_imports)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_pure_domain_modules_import_no_dagster():
    graph = grimp.build_graph("finance_assets", include_external_packages=True)
    pure = sorted(
        module
        for domain in DOMAINS
        for module in graph.find_descendants(f"finance_assets.defs.{domain}")
        if not is_dagster_facing(module)
    )
    assert len(pure) >= 12  # the rule would be empty if the layout moved
    offenders = {
        module: sorted(m for m in graph.find_upstream_modules(module) if m.split(".")[0] == "dagster")
        for module in pure
    }
    # find_upstream_modules lists every module reachable by imports; dagster appears only as the
    # squashed external package "dagster".
    offenders = {
        module: chain
        for module, chain in offenders.items()
        if chain or "dagster" in graph.find_upstream_modules(module)
    }
    assert not offenders, f"pure modules that reach Dagster: {sorted(offenders)}"


def test_the_rule_sees_a_dagster_import(tmp_path):
    """The check above can fail: a throwaway package whose 'pure' module imports dagster is caught."""
    package = tmp_path / "probe_pkg"
    (package / "defs" / "sec").mkdir(parents=True)
    for init in (package, package / "defs", package / "defs" / "sec"):
        (init / "__init__.py").write_text("")
    (package / "defs" / "sec" / "parser.py").write_text("import dagster\n")
    sys.path.insert(0, str(tmp_path))
    try:
        graph = grimp.build_graph("probe_pkg", include_external_packages=True, cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))
    assert not is_dagster_facing("probe_pkg.defs.sec.parser")
    assert "dagster" in graph.find_upstream_modules("probe_pkg.defs.sec.parser")
