"""The backfill planner, step by step, on a temporary instance with recorded materializations."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from finance_assets import planning
from finance_assets.lib.partitions import MONTH, TICKER
from finance_assets.lib.selections import MARKET, PANEL, REPORT, RUN_GROUPS, SEC, SNAPSHOTS, TICKER_MAP

NOW = dt.datetime(2025, 3, 14, 21, 0, tzinfo=dt.UTC)  # a Friday, after the close
MONTHS = ["2025-02-01", "2025-03-01"]
TICKERS = ["AAA", "BBB", "CCC"]


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, TICKERS)
        yield instance


def plan(instance, **kwargs):
    return planning.plan_backfill(instance, start="2025-02", end="2025-03", now=NOW, **kwargs)


def materialize(instance, asset: str, partitions) -> None:
    for partition in partitions or [None]:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset, partition=partition))


def market_key(ticker: str, month: str) -> str:
    return str(dg.MultiPartitionKey({TICKER: ticker, MONTH: month}))


def report_days() -> list[str]:
    """Weekdays of the scope up to the last completed one (Friday's partition exists from midnight)."""
    days = [f"2025-02-{d:02d}" for d in range(1, 29)] + [f"2025-03-{d:02d}" for d in range(1, 14)]
    return [d for d in days if dt.date.fromisoformat(d).weekday() < 5]


def materialize_everything(instance, skip: tuple[str, str] | None = None) -> None:
    """Every partition of the plan's scope, except `skip` = (asset, partition key)."""
    materialize(instance, "ticker_cik_map", None)
    for asset in SEC.assets:
        materialize(instance, asset, TICKERS)
    materialize(instance, "fundamental_snapshots", None)
    materialize(instance, "corporate_actions", TICKERS)
    for asset in MARKET.assets:
        keys = [market_key(t, m) for t in TICKERS for m in MONTHS]
        materialize(instance, asset, [k for k in keys if (asset, k) != skip])
    for asset in PANEL.assets:
        materialize(instance, asset, MONTHS)
    for asset in REPORT.assets:
        materialize(instance, asset, report_days())


def test_every_group_has_a_job_in_the_definitions():
    from finance_assets.definitions import defs

    for group in RUN_GROUPS:
        job = defs.resolve_job_def(group.job)
        selected = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
        assert selected == set(group.assets), group


def test_refuses_an_empty_universe_and_unknown_tickers():
    with dg.instance_for_test() as empty:
        with pytest.raises(ValueError, match="no tickers registered"):
            plan(empty)
    with dg.instance_for_test() as some:
        some.add_dynamic_partitions(TICKER, ["AAA"])
        with pytest.raises(ValueError, match="not registered: ZZZ"):
            plan(some, tickers=["ZZZ"])


def test_a_fresh_instance_plans_every_group_once_in_order(instance):
    steps = plan(instance)
    assert [s.job for s in steps] == [g.job for g in RUN_GROUPS]
    by_job = {s.job: s for s in steps}
    assert (by_job[SEC.job].start_key, by_job[SEC.job].end_key) == ("AAA", "CCC")
    market = by_job[MARKET.job]
    assert (market.start_key, market.end_key) == (market_key("AAA", MONTHS[0]), market_key("CCC", MONTHS[1]))
    assert market.partition_count == 3 * 2 * len(MARKET.assets)
    assert (by_job[PANEL.job].start_key, by_job[PANEL.job].end_key) == tuple(MONTHS)
    assert (by_job[REPORT.job].start_key, by_job[REPORT.job].end_key) == ("2025-02-03", "2025-03-13")
    assert by_job[REPORT.job].partition_count == len(report_days()) * len(REPORT.assets)


def test_nothing_to_do_once_everything_is_final(instance):
    materialize_everything(instance)
    assert plan(instance) == []
    assert [s.job for s in plan(instance, force=True)] == [g.job for g in RUN_GROUPS]


def test_one_missing_market_partition_refreshes_exactly_its_month_downstream(instance):
    materialize_everything(instance, skip=("technicals", market_key("BBB", "2025-02-01")))
    steps = plan(instance)
    assert [s.job for s in steps] == [MARKET.job, PANEL.job, REPORT.job]
    market, panel, report = steps
    assert (market.start_key, market.end_key) == (market_key("BBB", "2025-02-01"),) * 2
    assert (panel.start_key, panel.end_key) == ("2025-02-01", "2025-02-01")
    # every report day from February on: a day reads every panel month up to its own
    assert (report.start_key, report.end_key) == ("2025-02-03", "2025-03-13")


def _actions(instance, ticker: str, version: str) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="corporate_actions", partition=ticker, tags={"dagster/data_version": version})
    )


def test_a_corporate_action_after_a_month_was_built_refreshes_that_tickers_stored_months(instance):
    for ticker in TICKERS:
        _actions(instance, ticker, "v1")
    materialize_everything(instance)
    _actions(instance, "AAA", "v1")  # read again, unchanged
    assert plan(instance) == []
    _actions(instance, "BBB", "v2")  # a split of BBB: its adjusted history changes
    steps = plan(instance)
    assert [s.job for s in steps] == [MARKET.job, PANEL.job, REPORT.job]
    market, panel, report = steps
    assert (market.start_key, market.end_key) == (market_key("BBB", "2025-02-01"), market_key("BBB", "2025-03-01"))
    assert (panel.start_key, panel.end_key) == ("2025-02-01", "2025-03-01")
    assert (report.start_key, report.end_key) == ("2025-02-03", "2025-03-13")
    # once its months are built again after the action, nothing is left to do
    for m in MONTHS:
        materialize(instance, "prices", [market_key("BBB", m)])
    assert (
        planning.market_months_to_refresh(
            planning._scope(instance, "2025-02", "2025-03", None, False, 0, NOW, dt.timedelta(hours=24))
        )
        == {}
    )


def test_tickers_needing_different_months_get_separate_rectangles(instance):
    scope = planning._scope(instance, "2025-02", "2025-03", None, False, 0, NOW, dt.timedelta(hours=24))
    steps = planning.market_steps(scope, {"AAA": {"2025-02-01", "2025-03-01"}, "CCC": {"2025-03-01"}})
    ranges = sorted((s.start_key, s.end_key) for s in steps)
    assert ranges == [
        (market_key("AAA", "2025-02-01"), market_key("AAA", "2025-03-01")),
        (market_key("CCC", "2025-03-01"), market_key("CCC", "2025-03-01")),
    ]


def test_sec_runs_follow_registration_order_and_chunk(instance):
    scope = planning._scope(instance, "2025-02", "2025-03", None, False, 2, NOW, dt.timedelta(hours=24))
    steps = planning.sec_steps(scope, ["AAA", "BBB", "CCC"])
    assert [(s.start_key, s.end_key) for s in steps] == [("AAA", "BBB"), ("CCC", "CCC")]
    gap = planning.sec_steps(scope, ["AAA", "CCC"])  # not contiguous: a range would include BBB
    assert [(s.start_key, s.end_key) for s in gap] == [("AAA", "AAA"), ("CCC", "CCC")]


def test_the_ticker_map_and_snapshots_refresh_by_age_and_after_sec(instance):
    materialize(instance, "ticker_cik_map", None)
    materialize(instance, "fundamental_snapshots", None)
    scope = planning._scope(instance, "2025-02", "2025-03", None, False, 0, NOW, dt.timedelta(hours=24))
    assert planning.ticker_map_steps(scope) == []
    assert planning.snapshot_steps(scope, sec_refreshed=False) == []
    assert [s.job for s in planning.snapshot_steps(scope, sec_refreshed=True)] == [SNAPSHOTS.job]
    later = planning._scope(
        instance,
        "2025-02",
        "2025-03",
        None,
        False,
        0,
        dt.datetime.now(dt.UTC) + dt.timedelta(days=2),
        dt.timedelta(hours=24),
    )
    assert [s.job for s in planning.ticker_map_steps(later)] == [TICKER_MAP.job]


def test_month_range_errors_name_the_option():
    with pytest.raises(ValueError, match="--start must be YYYY-MM"):
        planning._month_keys("2025-13", None, NOW)
    with pytest.raises(ValueError, match="no month partitions between"):
        planning._month_keys("2001-01", "2001-02", NOW)


def test_update_packs_what_automation_requested_into_runs_upstream_first(instance):
    """`finance-assets update` runs assets requested for the same partitions together, as ranges
    (rectangles of ticker range x month range), upstream sets first."""
    from finance_assets.definitions import defs

    now = dt.datetime(2025, 3, 20, 22, tzinfo=dt.UTC)
    both = {market_key(t, m) for t in ("AAA", "BBB") for m in MONTHS}
    requested = {
        "market_panel": set(MONTHS),
        "technicals": both | {market_key("CCC", MONTHS[1])},
        "prices": set(both),
        "corporate_actions": {"AAA", "BBB"},
        "filings": {"AAA", "BBB"},
        "xbrl_facts": {"AAA", "BBB"},
    }
    runs = planning.update_runs(requested, defs, instance, now)
    assert [(r.assets, r.job, r.start_key, r.end_key, r.partition_count) for r in runs] == [
        (("corporate_actions",), "actions_job", "AAA", "BBB", 2),
        (("filings", "xbrl_facts"), "sec_job", "AAA", "BBB", 2),  # same partitions, one job: one run
        (("prices",), "market_job", market_key("AAA", MONTHS[0]), market_key("BBB", MONTHS[1]), 4),
        (("technicals",), "market_job", market_key("AAA", MONTHS[0]), market_key("BBB", MONTHS[1]), 4),
        (("technicals",), "market_job", market_key("CCC", MONTHS[1]), market_key("CCC", MONTHS[1]), 1),
        (("market_panel",), "panel_job", MONTHS[0], MONTHS[1], 2),
    ]


def test_an_evaluation_reads_each_ticker_list_once_and_leaves_the_instance_as_it_was(instance):
    reads = []
    read = instance.get_dynamic_partitions

    def counting(name: str):
        reads.append(name)
        return read(name)

    instance.get_dynamic_partitions = counting
    with planning._dynamic_partitions_read_once(instance):
        assert [instance.get_dynamic_partitions(TICKER) for _ in range(3)] == [TICKERS] * 3
    assert reads == [TICKER]
    assert instance.get_dynamic_partitions is counting  # the caller's own wrapper is back
    del instance.get_dynamic_partitions
    with planning._dynamic_partitions_read_once(instance):
        instance.get_dynamic_partitions(TICKER)
    assert "get_dynamic_partitions" not in vars(instance)  # the class's method again
    assert instance.get_dynamic_partitions(TICKER) == TICKERS
