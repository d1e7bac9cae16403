"""The whole code location loads, with the asset keys, partitions and resources users rely on."""

from __future__ import annotations

import json
import subprocess
import sys

import dagster as dg

from finance_assets import definitions
from finance_assets.lib.partitions import TICKER, month_partitions, report_day_partitions
from finance_assets_tests.conftest import TEST_INSTANCE_YAML

EXPECTED_ASSETS = {
    "ticker_cik_map",
    "filings",
    "xbrl_facts",
    "fundamentals",
    "prices",
    "technicals",
    "headlines",
    "sentiment",
    "market_panel",
    "portfolio_report",
    "portfolio_holdings",
}


def test_definitions_load_with_expected_assets():
    dg.Definitions.validate_loadable(definitions.defs)
    graph = definitions.defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert EXPECTED_ASSETS <= keys


def test_partition_scheme_stays_under_dagster_guidance():
    # daily bars are partitioned by month alone: their count does not grow with the tickers
    assert len(month_partitions.get_partition_keys()) < 100_000
    assert len(report_day_partitions.get_partition_keys()) < 100_000
    for asset in (
        definitions.market.prices,
        definitions.market.technicals,
        definitions.news.headlines,
        definitions.news.sentiment,
    ):
        assert asset.partitions_def == month_partitions


# A fresh process: the definitions' load time (imports included, as a user's `dagster dev` pays it), then
# every asset's partition count with the temporary instance's registered tickers.
_COUNT_PARTITIONS = """
import json, sys, time
started = time.perf_counter()
import dagster as dg
from finance_assets import definitions
dg.Definitions.validate_loadable(definitions.defs)
graph = definitions.defs.resolve_asset_graph()
load_seconds = time.perf_counter() - started
with dg.DagsterInstance.get() as instance:
    registered = len(instance.get_dynamic_partitions("ticker"))
    counts = {}
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        for key in graph.get_all_asset_keys():
            pdef = graph.get(key).partitions_def
            counts[key.to_user_string()] = 0 if pdef is None else len(pdef.get_partition_keys())
print(json.dumps({"load_seconds": load_seconds, "registered": registered, "partitions": counts}))
"""


def test_at_6000_tickers_every_asset_stays_under_25000_partitions_and_loads_quickly(tmp_path, monkeypatch):
    """Issue #17's check: the whole SEC universe (6,000 tickers) over ten years of history (the suite's
    FINANCE_ASSETS_HISTORY_START, 2016) gives no asset more than 25,000 partitions (ticker x month gave
    792,000), and the definitions still load in under 10 s there."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(TEST_INSTANCE_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    tickers = [f"DQX{i:04d}" for i in range(6_000)]
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(TICKER, tickers)
    out = subprocess.run(
        [sys.executable, "-c", _COUNT_PARTITIONS], capture_output=True, text=True, timeout=300, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["registered"] == 6_000
    counts = result["partitions"]
    assert counts["filings"] == counts["corporate_actions"] == 6_000  # per-ticker assets: one partition each
    assert counts["prices"] == len(month_partitions.get_partition_keys()) >= 120  # ten years of months
    too_many = {asset: n for asset, n in counts.items() if n > 25_000}
    assert not too_many, f"assets over 25,000 partitions at 6,000 tickers: {too_many}"
    assert result["load_seconds"] < 10, f"definitions took {result['load_seconds']:.1f} s to load"


def test_lineage_and_mappings():
    graph = definitions.defs.resolve_asset_graph()
    parents = {
        k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys} for k in graph.get_all_asset_keys()
    }
    assert parents["technicals"] == {"prices"}
    assert parents["market_panel"] == {"prices", "technicals", "sentiment"}
    # filing_text_signals and filings (sectors): dependencies (all ticker partitions) read through the
    # warehouse, not inputs
    assert parents["portfolio_report"] == {
        "market_panel",
        "fx_rates",
        "fundamental_snapshots",
        "filing_text_signals",
        "filings",
    }
    assert parents["fundamental_snapshots"] == {"fundamentals", "corporate_actions"}  # splits: one share basis
    assert parents["fundamentals"] == {"xbrl_facts", "filings"}  # filings gives the fiscal year end
    assert parents["filings"] == {"ticker_cik_map"}


def test_every_heavy_asset_backfills_in_one_run():
    for asset in (
        definitions.market.prices,
        definitions.market.technicals,
        definitions.news.headlines,
        definitions.news.sentiment,
        definitions.sec.filings,
        definitions.report.market_panel,
    ):
        assert asset.backfill_policy == dg.BackfillPolicy.single_run()


def test_live_mode_requires_the_sec_user_agent(monkeypatch):
    from finance_assets.defs.sec.source import SecEdgarSource
    from finance_assets.lib.sources import SourceConfigError

    source = SecEdgarSource(mode="live", user_agent="", cache_dir="/tmp/x", state_dir="/tmp/x")
    try:
        source._user_agent()
    except SourceConfigError as exc:
        assert "SEC_USER_AGENT" in str(exc) and "e-mail" in str(exc)
    else:
        raise AssertionError("live SEC without a User-Agent must fail")
