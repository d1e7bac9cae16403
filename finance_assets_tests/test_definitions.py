"""The whole code location loads, with the asset keys, partitions and resources users rely on."""

from __future__ import annotations

import dagster as dg

from finance_assets import definitions
from finance_assets.lib.partitions import month_partitions, report_day_partitions, ticker_month_partitions

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
    # 500 tickers x 10+ years of months must stay under 100,000 partitions per asset
    months = len(month_partitions.get_partition_keys())
    assert months * 500 < 100_000
    assert len(report_day_partitions.get_partition_keys()) < 100_000
    assert ticker_month_partitions.partitions_defs[0].name in ("month", "ticker")


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
