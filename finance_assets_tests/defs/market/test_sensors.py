"""The market sync sensor under the daemon: the targeted runs it requests, evaluated directly on an instance."""

from __future__ import annotations

import dagster as dg
import pytest

from finance_assets.defs.market import corporate_actions as actions_lib
from finance_assets.defs.market.sensors import market_sync_sensor
from finance_assets.lib import config, coverage
from finance_assets.lib.partitions import REPORT_READS_TAG, TICKER, TICKERS_TAG
from finance_assets.lib.selections import MARKET
from finance_assets.lib.warehouse import Warehouse

MONTHS = ["2025-02-01", "2025-03-01"]
RANGE = {"dagster/asset_partition_range_start": MONTHS[0], "dagster/asset_partition_range_end": MONTHS[1]}
NO_ACTIONS = actions_lib.actions_version(actions_lib.empty_actions())


@pytest.fixture
def warehouse(isolated_home, monkeypatch) -> Warehouse:
    """The clock after a close in March 2025; the report reads AAA (held) and the benchmark IDX."""
    holdings = isolated_home / "data" / "portfolio.csv"
    holdings.write_text("ticker,shares,cost_basis,currency\nAAA,10,1.0,USD\n")
    monkeypatch.setenv("FINANCE_ASSETS_PORTFOLIO", str(holdings))
    monkeypatch.setenv("FINANCE_ASSETS_BENCHMARK", "IDX")
    monkeypatch.setenv("FINANCE_ASSETS_AS_OF", "2025-03-14T17:00")
    return Warehouse(config.settings().warehouse_location)


def built(instance, warehouse, tickers, panel_months=MONTHS) -> None:
    """Both months of the daily bars built for `tickers`, the panel's `panel_months` too; every registered
    ticker's corporate actions and filings stored (so the sync may run for it)."""
    registered = instance.get_dynamic_partitions(TICKER)
    for asset in ("corporate_actions", "filings"):
        for ticker in registered:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=ticker))
    for asset, months in [*((a, MONTHS) for a in MARKET.assets), ("market_panel", panel_months)]:
        for month in months:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=month))
        versions = dict.fromkeys(tickers, NO_ACTIONS) if asset == "prices" else None
        coverage.record(warehouse, asset, months, tickers, versions)


def requested(instance) -> list[tuple[tuple[str, ...], dict[str, str]]]:
    result = market_sync_sensor(dg.build_sensor_context(instance=instance))
    return [(tuple(k.to_user_string() for k in r.asset_selection), dict(r.tags)) for r in result.run_requests]


def test_a_new_ticker_gets_its_bars_and_panel_rows_in_one_run_tagged_for_it(warehouse):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, ["AAA", "BBB", "NEW"])
        built(instance, warehouse, ["AAA", "BBB"])
        # BBB's February panel rows lost (its panel run failed, say): the panel alone, for BBB alone
        warehouse.write_partitions(
            "market_panel_coverage",
            [({"month": MONTHS[0], "ticker": "BBB"}, coverage.coverage_rows([], []))],
            path_dims=("month",),
        )
        assert requested(instance) == [
            # the bars, then (Dagster orders the steps) NEW's panel rows; nobody holds NEW: no report day follows
            ((*MARKET.assets, "market_panel"), {**RANGE, TICKERS_TAG: "NEW", REPORT_READS_TAG: "no"}),
            (
                ("market_panel",),
                {
                    "dagster/asset_partition_range_start": MONTHS[0],
                    "dagster/asset_partition_range_end": MONTHS[0],
                    TICKERS_TAG: "BBB",
                    REPORT_READS_TAG: "no",
                },
            ),
        ]
        # the sensor's job holds every asset it requests (the daemon refuses a selection outside it)
        from finance_assets.definitions import defs

        job = defs.resolve_job_def(defs.resolve_sensor_def("market_sync").job_name)
        assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} >= {*MARKET.assets, "market_panel"}


def test_a_held_ticker_reaches_the_report_and_a_panel_month_not_stored_is_left_to_automation(warehouse):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, ["AAA", "BBB"])
        built(instance, warehouse, ["BBB"])
        assert requested(instance) == [((*MARKET.assets, "market_panel"), {**RANGE, TICKERS_TAG: "AAA"})]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, ["AAA", "BBB"])
        built(instance, warehouse, ["BBB"], panel_months=MONTHS[:1])
        # March's panel is built for every ticker by automation, never for some: the bars alone
        assert requested(instance) == [(MARKET.assets, {**RANGE, TICKERS_TAG: "AAA"})]


def test_a_ticker_without_stored_filings_gets_its_prices_and_technicals_and_its_headlines_once_they_are(warehouse):
    """Each month asset waits for what it reads of the ticker (SYNC_REQUIRES): prices and technicals its corporate
    actions, headlines and sentiment its filings. A graph without filings (SEC down, or the market alone) still
    brings a new ticker's bars and a split's re-adjusted history."""
    from finance_assets.defs.market.sensors import SYNC_REQUIRES, sync_need

    assert sorted(a for assets in SYNC_REQUIRES.values() for a in assets) == sorted(MARKET.assets)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, ["AAA"])
        built(instance, warehouse, ["AAA"])
        instance.add_dynamic_partitions(TICKER, ["NEW"])
        instance.report_runless_asset_event(dg.AssetMaterialization("corporate_actions", partition="NEW"))
        assert sync_need(instance, warehouse, ["AAA", "NEW"]) == {
            "NEW": {"prices": set(MONTHS), "technicals": set(MONTHS)}
        }
        instance.report_runless_asset_event(dg.AssetMaterialization("filings", partition="NEW"))
        assert sync_need(instance, warehouse, ["AAA", "NEW"]) == {"NEW": dict.fromkeys(MARKET.assets, set(MONTHS))}
        # what the caller's earlier runs store counts as stored (a backfill's SEC run before its month runs)
        instance.add_dynamic_partitions(TICKER, ["LATE"])
        instance.report_runless_asset_event(dg.AssetMaterialization("corporate_actions", partition="LATE"))
        assert sync_need(instance, warehouse, ["LATE"]) == {"LATE": {"prices": set(MONTHS), "technicals": set(MONTHS)}}
        assert sync_need(instance, warehouse, ["LATE"], {"filings": ["LATE"]}) == {
            "LATE": dict.fromkeys(MARKET.assets, set(MONTHS))
        }
