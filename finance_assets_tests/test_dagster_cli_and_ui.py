"""Dagster's own entry points on this code location: `dagster asset materialize`, `dagster job execute` (a
month run for named tickers: the tickers tag) and `dagster dev`."""

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

import dagster as dg
import pytest

from finance_assets.lib import coverage
from finance_assets.lib.partitions import TICKER, TICKERS_TAG
from finance_assets.lib.selections import MARKET
from finance_assets.lib.warehouse import Warehouse, ticker_shard

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


def _execute_for_tickers(env: dict, asset: str, month: str, tickers: str) -> subprocess.CompletedProcess:
    """One month of one market asset for `tickers` only, as a UI launch with the tickers tag does it."""
    tags = json.dumps({"dagster/partition": month, TICKERS_TAG: tickers})
    return subprocess.run(
        [str(BIN / "dagster"), "job", "execute", "-m", "finance_assets.definitions", "-j", MARKET.job, "-o", asset]
        + ["--tags", tags],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def test_asset_materialize_partition_and_range(env, isolated_home):
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        registered = sorted(instance.get_dynamic_partitions(TICKER))
    assert {"ACMQ", "BLZQ"} <= set(registered)  # the portfolio's tickers (and the benchmark)
    wh = Warehouse(isolated_home / "data" / "warehouse")

    # one month for ACMQ alone: its shard's file of that month only, ACMQ's rows of that month only
    one = _execute_for_tickers(env, "prices", "2025-03-01", "ACMQ")
    assert one.returncode == 0, one.stderr[-2000:]
    assert [(p.parent.parent.name, p.parent.name) for p in wh.all_files("prices")] == [
        ("month=2025-03", f"shard={ticker_shard('ACMQ')}")
    ]
    assert {str(d)[:7] for d in wh.read("prices")["date"]} == {"2025-03"}
    assert set(wh.read("prices")["ticker"]) == {"ACMQ"}
    held = coverage.read(wh, "prices")
    assert list(zip(held["month"], held["ticker"])) == [("2025-03-01", "ACMQ")]

    # a month of every registered ticker, then a range of months (one run) of every registered ticker
    every = _materialize(env, "--select", "prices", "--partition", "2025-03-01")
    assert every.returncode == 0, every.stderr[-2000:]
    assert coverage.stored_tickers(wh, "prices") == registered
    rng = _materialize(env, "--select", "prices,technicals", "--partition-range", "2025-01-01...2025-02-01")
    assert rng.returncode == 0, rng.stderr[-2000:]
    tech = wh.read("technicals")
    assert sorted(tech["ticker"].unique()) == registered
    assert sorted({str(d)[:7] for d in tech["date"]}) == ["2025-01", "2025-02"]
    held = coverage.read(wh, "technicals")
    assert sorted(zip(held["month"], held["ticker"])) == [
        (m, t) for m in ("2025-01-01", "2025-02-01") for t in registered
    ]

    # an unregistered ticker in the tag and a key that is no month are refused, naming them
    unknown = _execute_for_tickers(env, "prices", "2025-03-01", "NOPE")
    assert unknown.returncode != 0 and "not registered: NOPE" in unknown.stderr
    not_a_month = _materialize(env, "--select", "prices", "--partition", "2025-03-01|ACMQ")
    assert not_a_month.returncode != 0 and "2025-03-01|ACMQ" in not_a_month.stderr


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
        assert kinds["prices"] == "TIME_WINDOW"  # months; a run's tickers come from its tags
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


# What the UI shows after a small demo (issue #20), read through the webserver's GraphQL: the queries
# are the fields the asset pages use (FreshnessPolicySection: instance.freshnessEvaluationEnabled and
# freshnessStatusInfo; the status dots: partitionStats; the lineage page: groupName).
_UI_ASSETS = """{
  instance { freshnessEvaluationEnabled }
  assetNodes {
    assetKey { path } groupName tags { key value }
    freshnessStatusInfo { freshnessStatus freshnessStatusMetadata { lastMaterializedTimestamp } }
    partitionStats { numMaterialized numPartitions numFailed }
    assetPartitionStatuses { ... on TimePartitionStatuses { ranges { status startKey endKey } } }
    assetMaterializations(limit: 1) { timestamp }
  }
}"""
_CHART = """{
  assetNodes(assetKeys: [{path: ["technicals"]}]) {
    assetMaterializations(limit: 100) {
      partition metadataEntries { label ... on MarkdownMetadataEntry { mdStr } }
    }
  }
}"""
SMALL_DEMO_MONTH = "2025-03"


def _start_dagster_dev(env: dict, port: int, capture: bool = False) -> subprocess.Popen:
    """`dagster dev` as `make dev` starts it, in its own process group (webserver, daemon, code server) with
    Ctrl-C's SIGINT at its default (a shell running this in the background would have it ignored, and
    nothing would stop); `capture` pipes its log to `proc.stdout`."""
    return subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if capture else subprocess.DEVNULL,
        text=capture,
        preexec_fn=lambda: (os.setsid(), signal.signal(signal.SIGINT, signal.SIG_DFL)),
    )


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _ui_once_freshness_is_evaluated(port: int, assets: tuple[str, ...], timeout: float = 240) -> tuple[dict, dict]:
    """(instance, asset nodes by name) as the UI reads them, once the daemon has evaluated the freshness
    of `assets` (its first pass comes ~30 s after it starts; until then the panel says "Not evaluated")."""
    deadline, nodes = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        try:
            data = _graphql(port, _UI_ASSETS)["data"]
            nodes = {n["assetKey"]["path"][-1]: n for n in data["assetNodes"]}
            states = [(nodes[name]["freshnessStatusInfo"] or {}).get("freshnessStatus") for name in assets]
            if all(state not in (None, "UNKNOWN") for state in states):
                return data["instance"], nodes
        except (OSError, KeyError, TypeError):
            pass
        time.sleep(2)
    raise AssertionError(f"freshness not evaluated within {timeout} s: {[nodes.get(name) for name in assets]}")


def test_the_ui_after_a_small_demo_shows_what_is_materialized(env):
    """One month backfilled (in process), then `dagster dev` on the instance `make install` configures
    (the project's dagster.yaml: freshness evaluation on): the freshness panel is evaluated and shows the
    latest materialization; the partition counts behind the status dots of `fx_rates` and `market_panel`
    are what was materialized; one asset group, so the lineage page opens on the whole graph; the
    technicals chart is an image in the Markdown of the partition it shows."""
    # demo mode's own history start, as `make demo` and `make dev` have it (not the suite's 2016 pin)
    env = {name: value for name, value in env.items() if name != "FINANCE_ASSETS_HISTORY_START"}
    (Path(env["DAGSTER_HOME"]) / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    month = ["--start", SMALL_DEMO_MONTH, "--end", SMALL_DEMO_MONTH]
    done = subprocess.run(
        [sys.executable, "-m", "finance_assets.cli", "backfill", *month],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        materialized = {
            name: instance.get_materialized_partitions(dg.AssetKey(name))
            for name in ("fx_rates", "market_panel", "portfolio_report")
        }
    report_days = sorted(materialized["portfolio_report"])
    assert materialized["fx_rates"] == materialized["market_panel"] == {f"{SMALL_DEMO_MONTH}-01"}
    assert (report_days[0], report_days[-1], len(report_days)) == ("2025-03-03", "2025-03-31", 21)

    port = _free_port()
    proc = _start_dagster_dev(env, port)
    try:
        instance_info, nodes = _ui_once_freshness_is_evaluated(port, tuple(materialized))
        chart_events = _graphql(port, _CHART)["data"]["assetNodes"][0]["assetMaterializations"]
    finally:
        _stop(proc)

    assert instance_info["freshnessEvaluationEnabled"] is True
    for name, partitions in materialized.items():
        node = nodes[name]
        info = node["freshnessStatusInfo"]
        # evaluated, and beside it the latest materialization (not "No materializations")
        assert info["freshnessStatus"] in ("HEALTHY", "WARNING", "DEGRADED"), (name, info)
        latest_ms = float(node["assetMaterializations"][0]["timestamp"])
        assert info["freshnessStatusMetadata"]["lastMaterializedTimestamp"] * 1000 == pytest.approx(latest_ms, abs=1)
        # the counts the status dot and the partitions bar are drawn from: exactly what was materialized
        stats = node["partitionStats"]
        assert (stats["numMaterialized"], stats["numFailed"]) == (len(partitions), 0), (name, stats)
        ranges = [(r["status"], r["startKey"], r["endKey"]) for r in node["assetPartitionStatuses"]["ranges"]]
        assert ranges == [("MATERIALIZED", min(partitions), max(partitions))], name

    assert {node["groupName"] for node in nodes.values()} == {"finance_assets"}
    domains = {name: {t["key"]: t["value"] for t in node["tags"]}.get("domain") for name, node in nodes.items()}
    assert (domains["prices"], domains["fx_rates"], domains["portfolio_report"]) == ("market", "fx", "portfolio")

    charts = {
        event["partition"]: entry["mdStr"]
        for event in chart_events
        for entry in event["metadataEntries"]
        if entry["label"] == "latest_month_chart"
    }
    chart_partition = f"{SMALL_DEMO_MONTH}-01"  # the month it plots (the last ticker's), on that partition only
    assert list(charts) == [chart_partition]
    assert "](data:image/svg+xml;base64," in charts[chart_partition]


def _wait_for_graphql(port: int, query: str, done, seconds: float = 180) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = _graphql(port, query)
            if done(data):
                return data
        except (OSError, KeyError, TypeError):
            pass
        time.sleep(1)
    raise AssertionError(f"no answer within {seconds:.0f} s to {query}")


def test_dagster_dev_stops_on_ctrl_c_without_tracebacks(env):
    """A run under the Dask executor (a local cluster of its own, as `make dev` launches them), then
    Ctrl-C: the log holds no traceback, neither from the run's cluster closing nor from the shutdown."""
    env = dict(env, FINANCE_ASSETS_EXECUTOR="dask")
    port = _free_port()
    proc = _start_dagster_dev(env, port, capture=True)
    try:
        location = _wait_for_graphql(
            port,
            "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }",
            lambda d: d["data"]["workspaceOrError"]["locationEntries"],
        )["data"]["workspaceOrError"]["locationEntries"][0]["name"]
        launched = _graphql(
            port,
            "mutation { launchRun(executionParams: {selector: {repositoryLocationName: "
            f'"{location}", repositoryName: "__repository__", jobName: "actions_job"}}, '
            'executionMetadata: {tags: [{key: "dagster/partition", value: "ACMQ"}]}}) '
            "{ __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }",
        )["data"]["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        status = _wait_for_graphql(
            port,
            f'{{ runOrError(runId: "{run_id}") {{ ... on Run {{ status }} }} }}',
            lambda d: d["data"]["runOrError"]["status"] in ("SUCCESS", "FAILURE", "CANCELED"),
            seconds=300,
        )["data"]["runOrError"]["status"]
        assert status == "SUCCESS"
        time.sleep(3)  # the run process's own exit (its cluster closing) is logged after the run's end
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends to the whole group
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, output[-3000:]
    assert "Dagster services shut down" in output
    assert "Traceback" not in output, output[-6000:]
    assert "Sizeof calculation" not in output  # dask measuring a step's events (lib/executor.py)
