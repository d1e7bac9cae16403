"""Dagster's own entry points on this code location: `dagster asset materialize` and `dagster dev`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from finance_assets.lib.warehouse import Warehouse

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture
def env(isolated_home) -> dict:
    (isolated_home / "data" / "portfolio.csv").write_text(
        "ticker,shares,cost_basis,currency\nACMQ,100,50,USD\nBLZQ,20,300,USD\n"
    )
    env = dict(os.environ, PYTHONWARNINGS="ignore", FINANCE_ASSETS_EXECUTOR="in_process")
    subprocess.run(
        [sys.executable, "-m", "finance_assets.cli", "register"], env=env, check=True, capture_output=True, timeout=120
    )
    return env


def _materialize(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "finance_assets.definitions", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def test_asset_materialize_partition_and_range(env, isolated_home):
    one = _materialize(env, "--select", "prices", "--partition", "2025-03-01|ACMQ")
    assert one.returncode == 0, one.stderr[-2000:]
    wh = Warehouse(isolated_home / "data" / "warehouse")
    assert [p.parent.name for p in wh.all_files("prices")] == ["year=2025"]
    assert {str(d)[:7] for d in wh.read("prices")["date"]} == {"2025-03"}

    rng = _materialize(env, "--select", "prices,technicals", "--partition-range", "2025-01-01|ACMQ...2025-02-01|BLZQ")
    assert rng.returncode == 0, rng.stderr[-2000:]
    tech = wh.read("technicals")
    assert sorted(tech["ticker"].unique()) == ["ACMQ", "BLZQ"]
    assert sorted({str(d)[:7] for d in tech["date"]}) == ["2025-01", "2025-02"]

    unknown = _materialize(env, "--select", "prices", "--partition", "2025-03-01|NOPE")
    assert unknown.returncode != 0 and "NOPE" in unknown.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def test_dagster_dev_serves_the_asset_graph(env):
    port = _free_port()
    proc = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # its own process group: webserver, daemon, code server
    try:
        deadline = time.monotonic() + 120
        nodes = None
        while time.monotonic() < deadline:
            try:
                data = _graphql(
                    port, "{ assetNodes { assetKey { path } partitionDefinition { type } hasAssetChecks } }"
                )
                nodes = data["data"]["assetNodes"]
                if nodes:
                    break
            except (OSError, KeyError, TypeError):
                pass
            time.sleep(1)
        assert nodes, "dagster dev did not serve the asset graph within 120 s"
        kinds = {n["assetKey"]["path"][-1]: (n["partitionDefinition"] or {}).get("type") for n in nodes}
        assert kinds["prices"] == "MULTIPARTITIONED"
        assert kinds["filings"] == "DYNAMIC"
        assert kinds["portfolio_report"] == "TIME_WINDOW"
        assert kinds["ticker_cik_map"] is None
        assert any(n["hasAssetChecks"] for n in nodes if n["assetKey"]["path"][-1] == "prices")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
