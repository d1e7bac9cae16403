"""The backfill planner, step by step, on a temporary instance with recorded materializations."""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg
import pandas as pd
import pytest

from finance_assets import planning
from finance_assets.defs.market import corporate_actions as actions_lib
from finance_assets.lib import coverage
from finance_assets.lib.partitions import REPORT_READS_TAG, TICKER, TICKERS_TAG
from finance_assets.lib.selections import MARKET, PANEL, REPORT, RUN_GROUPS, SEC, SNAPSHOTS, TICKER_MAP
from finance_assets.lib.warehouse import Warehouse

NOW = dt.datetime(2025, 3, 14, 21, 0, tzinfo=dt.UTC)  # a Friday, after the close
MONTHS = ["2025-02-01", "2025-03-01"]
TICKERS = ["AAA", "BBB", "CCC"]


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, TICKERS)
        yield instance


@pytest.fixture
def warehouse(tmp_path):
    return Warehouse(tmp_path / "warehouse")


@pytest.fixture(autouse=True)
def holdings(tmp_path, monkeypatch):
    """The report reads AAA and BBB (held) and the benchmark; CCC is held by nobody."""
    path = tmp_path / "portfolio.csv"
    path.write_text("ticker,shares,cost_basis,currency\nAAA,10,1.0,USD\nBBB,10,1.0,USD\n")
    monkeypatch.setenv("FINANCE_ASSETS_PORTFOLIO", str(path))
    monkeypatch.setenv("FINANCE_ASSETS_BENCHMARK", "IDX")
    return path


def plan(instance, warehouse=None, **kwargs):
    return planning.plan_backfill(instance, start="2025-02", end="2025-03", now=NOW, warehouse=warehouse, **kwargs)


def scope(instance, warehouse, chunk=0, now=NOW):
    return planning._scope(instance, "2025-02", "2025-03", None, False, chunk, now, dt.timedelta(hours=24), warehouse)


def materialize(instance, asset: str, partitions) -> None:
    for partition in partitions or [None]:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset, partition=partition))


def report_days() -> list[str]:
    """Weekdays of the scope up to the last completed one (Friday's partition exists from midnight)."""
    days = [f"2025-02-{d:02d}" for d in range(1, 29)] + [f"2025-03-{d:02d}" for d in range(1, 14)]
    return [d for d in days if dt.date.fromisoformat(d).weekday() < 5]


NO_ACTIONS = actions_lib.actions_version(actions_lib.empty_actions())


def materialize_everything(instance, warehouse, skip: tuple[str, str] | None = None, tickers=TICKERS) -> None:
    """Every partition of the plan's scope, except `skip` = (asset, month), each month holding `tickers`
    (their prices with no corporate actions, as the warehouse's empty corporate_actions table says)."""
    materialize(instance, "ticker_cik_map", None)
    for asset in SEC.assets:
        materialize(instance, asset, TICKERS)
    materialize(instance, "fundamental_snapshots", None)
    materialize(instance, "corporate_actions", TICKERS)
    for asset in MARKET.assets:
        months = [m for m in MONTHS if (asset, m) != skip]
        materialize(instance, asset, months)
        coverage.record(warehouse, asset, months, tickers, dict.fromkeys(tickers, NO_ACTIONS))
    for asset in PANEL.assets:
        materialize(instance, asset, MONTHS)
    coverage.record(warehouse, "market_panel", MONTHS, tickers)
    for asset in REPORT.assets:
        materialize(instance, asset, report_days())


def test_every_group_has_a_job_in_the_definitions():
    from finance_assets.definitions import defs

    for group in RUN_GROUPS:
        job = defs.resolve_job_def(group.job)
        selected = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
        assert selected == set(group.assets), group


def test_refuses_an_empty_universe_and_unknown_tickers(warehouse):
    with dg.instance_for_test() as empty:
        with pytest.raises(ValueError, match="no tickers registered"):
            plan(empty, warehouse)
    with dg.instance_for_test() as some:
        some.add_dynamic_partitions(TICKER, ["AAA"])
        with pytest.raises(ValueError, match="not registered: ZZZ"):
            plan(some, warehouse, tickers=["ZZZ"])


def test_a_fresh_instance_plans_every_group_once_in_order(instance, warehouse):
    steps = plan(instance, warehouse)
    assert [s.job for s in steps] == [g.job for g in RUN_GROUPS]
    by_job = {s.job: s for s in steps}
    assert (by_job[SEC.job].start_key, by_job[SEC.job].end_key) == ("AAA", "CCC")
    market = by_job[MARKET.job]
    # one month range for every registered ticker: no tickers tag
    assert (market.start_key, market.end_key, market.tickers) == (MONTHS[0], MONTHS[1], None)
    assert TICKERS_TAG not in market.tags and market.tags["dagster/asset_partition_range_start"] == MONTHS[0]
    assert market.partition_count == 2 * len(MARKET.assets)
    assert (by_job[PANEL.job].start_key, by_job[PANEL.job].end_key) == tuple(MONTHS)
    assert (by_job[REPORT.job].start_key, by_job[REPORT.job].end_key) == ("2025-02-03", "2025-03-13")
    assert by_job[REPORT.job].partition_count == len(report_days()) * len(REPORT.assets)


def test_nothing_to_do_once_everything_is_final(instance, warehouse):
    materialize_everything(instance, warehouse)
    assert plan(instance, warehouse) == []
    assert [s.job for s in plan(instance, warehouse, force=True)] == [g.job for g in RUN_GROUPS]


def test_one_missing_market_partition_refreshes_exactly_its_month_downstream(instance, warehouse):
    materialize_everything(instance, warehouse, skip=("technicals", "2025-02-01"))
    steps = plan(instance, warehouse)
    assert [s.job for s in steps] == [MARKET.job, PANEL.job, REPORT.job]
    market, panel, report = steps
    assert (market.start_key, market.end_key, market.tickers) == ("2025-02-01", "2025-02-01", None)
    assert (panel.start_key, panel.end_key) == ("2025-02-01", "2025-02-01")
    # every report day from February on: a day reads every panel month up to its own
    assert (report.start_key, report.end_key) == ("2025-02-03", "2025-03-13")


def test_a_ticker_registered_after_the_months_were_built_gets_them_alone(instance, warehouse):
    materialize_everything(instance, warehouse, tickers=["AAA", "BBB"])
    [market] = plan(instance, warehouse)[:1]
    assert (market.job, market.start_key, market.end_key, market.tickers) == (MARKET.job, *MONTHS, ("CCC",))
    assert market.tags[TICKERS_TAG] == "CCC"
    steps = plan(instance, warehouse, tickers=["AAA"])  # the others are complete
    assert MARKET.job not in [s.job for s in steps]


def test_a_corporate_action_after_a_month_was_built_refreshes_that_tickers_stored_months(instance, warehouse):
    materialize_everything(instance, warehouse)
    assert plan(instance, warehouse) == []
    split = actions_lib.normalized(
        pd.DataFrame(
            [
                {
                    "ticker": "BBB",
                    "ex_date": "2025-03-10",
                    "kind": "split",
                    "ratio": 3.0,
                    "amount": 0.0,
                    "source": "test",
                    "known_at": "2025-03-10T13:30:00Z",
                }
            ]
        )
    )
    warehouse.write("corporate_actions", {"ticker": "BBB"}, split)  # a split of BBB: its adjusted history changes
    steps = plan(instance, warehouse)
    assert [s.job for s in steps] == [MARKET.job, PANEL.job, REPORT.job]
    market, panel, report = steps
    assert (market.start_key, market.end_key, market.tickers) == ("2025-02-01", "2025-03-01", ("BBB",))
    # the panel for BBB alone; BBB is held, so every report day from its first month on
    assert (panel.start_key, panel.end_key, panel.tickers, panel.assets) == (*MONTHS, ("BBB",), ("market_panel",))
    assert REPORT_READS_TAG not in panel.tags
    assert (report.start_key, report.end_key) == ("2025-02-03", "2025-03-13")
    # once its months are built again with the split, nothing is left to do
    new_version = actions_lib.versions_by_ticker(split, ["BBB"])["BBB"]
    coverage.record(warehouse, "prices", MONTHS, ["BBB"], {"BBB": new_version})
    assert planning.market_months_to_refresh(scope(instance, warehouse)) == {}


def test_a_ticker_nobody_holds_gets_its_panel_rows_alone_and_no_report_day(instance, warehouse):
    materialize_everything(instance, warehouse, tickers=["AAA", "BBB"])
    market, panel = plan(instance, warehouse)  # no report step: CCC's panel rows are not read by it
    assert (market.job, market.start_key, market.end_key, market.tickers) == (MARKET.job, *MONTHS, ("CCC",))
    assert (panel.job, panel.start_key, panel.end_key, panel.tickers) == (PANEL.job, *MONTHS, ("CCC",))
    assert panel.assets == ("market_panel",) and panel.partition_count == 2  # fx_rates is not per ticker
    assert panel.tags[TICKERS_TAG] == "CCC" and panel.tags[REPORT_READS_TAG] == "no"
    # a panel month never stored is built for every ticker, whichever were asked for
    missing = planning.panel_months_to_refresh(scope(instance, warehouse), {})
    assert missing == {}
    with dg.instance_for_test() as fresh:
        fresh.add_dynamic_partitions(TICKER, TICKERS)
        selected = planning._scope(
            fresh, "2025-02", "2025-03", ["CCC"], False, 0, NOW, dt.timedelta(hours=24), warehouse
        )
        assert planning.panel_months_to_refresh(selected, {}) == dict.fromkeys(TICKERS, set(MONTHS))
    # the same through `backfill --tickers CCC`
    assert [(s.job, s.tickers) for s in plan(instance, warehouse, tickers=["CCC"])] == [
        (MARKET.job, ("CCC",)),
        (PANEL.job, ("CCC",)),
    ]


def test_a_panel_month_lacking_a_ticker_its_prices_hold_is_built_for_it_alone(instance, warehouse):
    materialize_everything(instance, warehouse)
    coverage.record(warehouse, "market_panel", MONTHS, ["AAA", "CCC"])
    warehouse.write_partitions(  # BBB's February panel rows lost (a failed run of it alone, say)
        "market_panel_coverage",
        [({"month": MONTHS[0], "ticker": "BBB"}, coverage.coverage_rows([], []))],
        path_dims=("month",),
    )
    assert planning.panel_gaps(instance, warehouse, TICKERS) == {"BBB": {MONTHS[0]}}
    panel, report = plan(instance, warehouse)
    assert (panel.start_key, panel.end_key, panel.tickers, panel.report_reads) == (MONTHS[0], MONTHS[0], ("BBB",), True)
    assert (report.start_key, report.end_key) == ("2025-02-03", "2025-03-13")


def test_the_panel_is_untagged_for_every_ticker_and_fx_runs_alone_where_the_panel_does_not(instance, warehouse):
    materialize_everything(instance, warehouse)
    everyone = planning.panel_steps(scope(instance, warehouse), dict.fromkeys(TICKERS, {MONTHS[1]}), [MONTHS[1]])
    assert [(s.start_key, s.tickers, s.assets, s.partition_count) for s in everyone] == [
        (MONTHS[1], None, None, 2)  # market_panel and fx_rates, every ticker
    ]
    some = planning.panel_steps(scope(instance, warehouse), {"CCC": {MONTHS[1]}}, MONTHS, {"AAA"})
    assert [(s.start_key, s.end_key, s.tickers, s.assets, s.report_reads) for s in some] == [
        (MONTHS[1], MONTHS[1], ("CCC",), ("market_panel",), False),
        (MONTHS[0], MONTHS[1], None, ("fx_rates",), None),
    ]
    assert planning.report_months(scope(instance, warehouse), some) == set(MONTHS)  # FX is read by every day


def test_tickers_needing_different_months_get_separate_runs(instance, warehouse):
    steps = planning.market_steps(
        scope(instance, warehouse), {"AAA": {"2025-02-01", "2025-03-01"}, "CCC": {"2025-03-01"}}
    )
    assert sorted((s.start_key, s.end_key, s.tickers) for s in steps) == [
        ("2025-02-01", "2025-03-01", ("AAA",)),
        ("2025-03-01", "2025-03-01", ("CCC",)),
    ]
    everyone = planning.market_steps(scope(instance, warehouse), dict.fromkeys(TICKERS, {"2025-03-01"}))
    assert [(s.start_key, s.tickers) for s in everyone] == [("2025-03-01", None)]  # one untagged run
    chunked = planning.market_steps(scope(instance, warehouse, chunk=2), dict.fromkeys(TICKERS, {"2025-03-01"}))
    assert [(s.start_key, s.tickers) for s in chunked] == [("2025-03-01", ("AAA", "BBB")), ("2025-03-01", ("CCC",))]


def test_sec_runs_follow_registration_order_and_chunk(instance, warehouse):
    chunked = scope(instance, warehouse, chunk=2)
    steps = planning.sec_steps(chunked, ["AAA", "BBB", "CCC"])
    assert [(s.start_key, s.end_key) for s in steps] == [("AAA", "BBB"), ("CCC", "CCC")]
    gap = planning.sec_steps(chunked, ["AAA", "CCC"])  # not contiguous: a range would include BBB
    assert [(s.start_key, s.end_key) for s in gap] == [("AAA", "AAA"), ("CCC", "CCC")]


def test_the_ticker_map_and_snapshots_refresh_by_age_and_after_sec(instance, warehouse):
    materialize(instance, "ticker_cik_map", None)
    materialize(instance, "fundamental_snapshots", None)
    now = scope(instance, warehouse)
    assert planning.ticker_map_steps(now) == []
    assert planning.snapshot_steps(now, sec_refreshed=False) == []
    assert [s.job for s in planning.snapshot_steps(now, sec_refreshed=True)] == [SNAPSHOTS.job]
    later = scope(instance, warehouse, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    assert [s.job for s in planning.ticker_map_steps(later)] == [TICKER_MAP.job]


def test_month_range_errors_name_the_option():
    with pytest.raises(ValueError, match="--start must be YYYY-MM"):
        planning._month_keys("2025-13", None, NOW)
    with pytest.raises(ValueError, match="no month partitions between"):
        planning._month_keys("2001-01", "2001-02", NOW)


def test_update_runs_a_job_after_the_other_jobs_it_reads_in_the_same_round():
    """A session's round requests the corporate actions, the month's bars, the panel and a report day at once:
    each job waits until no other job's request reads into it, so the report day is built once, after the
    snapshots and the panel (the conditions ask for them only after the actions and the bars changed)."""
    from finance_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    session = {
        "corporate_actions": {"AAA", "BBB"},
        "ticker_cik_map": {None},
        "prices": {MONTHS[1]},
        "headlines": {MONTHS[1]},
        "technicals": {MONTHS[1]},
        "sentiment": {MONTHS[1]},
        "fx_rates": {MONTHS[1]},
        "market_panel": {MONTHS[1]},
        "portfolio_report": {"2025-02-27"},
        "portfolio_holdings": {"2025-02-27"},
    }
    rounds, requested = [], dict(session)
    while requested:
        now, requested = planning.behind_upstream_runs(requested, graph)
        rounds.append(set(now))
    assert rounds == [
        {"corporate_actions", "ticker_cik_map"},
        {"prices", "headlines", "technicals", "sentiment"},  # one job: Dagster orders its steps
        {"fx_rates", "market_panel"},  # fx_rates has no input but waits with its job's panel
        {"portfolio_report", "portfolio_holdings"},
    ]
    # the headlines read the filings: a round with an SEC run holds the whole market job back
    now, later = planning.behind_upstream_runs(
        {"filings": {"AAA"}, "prices": {MONTHS[1]}, "headlines": {MONTHS[1]}}, graph
    )
    assert set(now) == {"filings"} and set(later) == {"prices", "headlines"}
    # requests of one job alone, or of unrelated jobs, all run at once
    assert planning.behind_upstream_runs({"prices": {MONTHS[1]}, "technicals": {MONTHS[1]}}, graph)[1] == {}
    assert planning.behind_upstream_runs({"ticker_cik_map": {None}, "corporate_actions": {"AAA"}}, graph)[1] == {}


def test_update_runs_the_requests_waiting_behind_a_failed_run(instance, monkeypatch):
    """The corporate actions fail: the month's bars, waiting behind them, still run in the next round (with the
    actions as stored), as they ran beside them before; then update stops and reports the failure."""
    from finance_assets.definitions import defs

    evaluations = iter([{"corporate_actions": {"AAA"}, "prices": {MONTHS[1]}}, {}])
    monkeypatch.setattr(planning, "evaluate_automation", lambda *_: next(evaluations, {}))
    executed = []

    def execute(instance, job, tags, assets, run_config, label, echo):
        executed.append(assets)
        return assets != ("corporate_actions",)

    monkeypatch.setattr(planning, "_execute", execute)
    now = dt.datetime(2025, 3, 20, 22, tzinfo=dt.UTC)
    runs, failures = planning.update(instance, defs, now, job_for=lambda name: name, echo=lambda line: None)
    assert executed == [("corporate_actions",), ("prices",)]
    assert [r.assets for r in runs] == executed and len(failures) == 1


def test_update_packs_what_automation_requested_into_runs_upstream_first(instance):
    """`finance-assets update` runs assets requested for the same partitions together, as ranges, upstream
    sets first (a set after every set holding an input of its assets)."""
    from finance_assets.definitions import defs

    now = dt.datetime(2025, 3, 20, 22, tzinfo=dt.UTC)
    requested = {
        "market_panel": set(MONTHS),
        "fx_rates": set(MONTHS),  # in the panel's run, which must come after the prices it reads
        "technicals": {MONTHS[1]},
        "headlines": {MONTHS[1]},  # reads the filings: after the SEC run
        "prices": set(MONTHS),
        "corporate_actions": {"AAA", "BBB"},
        "filings": {"AAA", "BBB"},
        "xbrl_facts": {"AAA", "BBB"},
    }
    runs = planning.update_runs(requested, defs, instance, now)
    assert [(r.assets, r.job, r.start_key, r.end_key, r.partition_count) for r in runs] == [
        (("corporate_actions",), "actions_job", "AAA", "BBB", 2),
        (("filings", "xbrl_facts"), "sec_job", "AAA", "BBB", 2),  # same partitions, one job: one run
        (("prices",), "market_job", MONTHS[0], MONTHS[1], 2),
        (("headlines", "technicals"), "market_job", MONTHS[1], MONTHS[1], 1),
        (("fx_rates", "market_panel"), "panel_job", MONTHS[0], MONTHS[1], 2),
    ]
    assert all(TICKERS_TAG not in r.tags for r in runs)  # automation's month runs hold every ticker
    graph = defs.resolve_asset_graph()
    for i, run in enumerate(runs):  # every run after the runs holding its assets' inputs
        inputs = {p.to_user_string() for a in run.assets for p in graph.get(dg.AssetKey(a)).parent_keys}
        later = {a for other in runs[i + 1 :] for a in other.assets}
        assert not inputs & later, run


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


def test_a_ticker_registered_just_now_gets_every_month_of_its_backfill(instance, warehouse):
    """`backfill --tickers NEW` right after NEW was registered: its SEC documents and corporate actions are
    stored by the same plan, before its month runs, so every month of the range (final for the others) is
    built for it alone."""
    materialize_everything(instance, warehouse)
    instance.add_dynamic_partitions(TICKER, ["NEW"])
    steps = plan(instance, warehouse, tickers=["NEW"])
    assert [(s.job, s.start_key, s.end_key, s.tickers) for s in steps] == [
        (SEC.job, "NEW", "NEW", None),
        ("actions_job", "NEW", "NEW", None),
        (SNAPSHOTS.job, None, None, None),
        (MARKET.job, *MONTHS, ("NEW",)),
        (PANEL.job, *MONTHS, ("NEW",)),  # NEW is held by nobody: no report day reads its rows
    ]
    market, panel = steps[3:]
    assert market.assets is None and market.partition_count == len(MONTHS) * len(MARKET.assets)
    assert panel.assets == ("market_panel",) and panel.tags[REPORT_READS_TAG] == "no"
    # only the planner's own runs store them first: without them the month runs would wait
    ready = planning.market_months_to_refresh(scope(instance, warehouse))
    assert ready.get("NEW", set()) == set()


@dg.asset(
    partitions_def=dg.MonthlyPartitionsDefinition(start_date="2025-01-01"),
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def monthly_rows() -> None:
    """A month asset for run_plan's runs (stores nothing)."""


def monthly_job() -> dg.JobDefinition:
    job = dg.define_asset_job("monthly_job", selection=[monthly_rows], executor_def=dg.in_process_executor)
    return dg.Definitions(assets=[monthly_rows], jobs=[job]).resolve_job_def("monthly_job")


def _planned_and_materialized(instance, step) -> tuple[int, int]:
    job = dg.build_reconstructable_job("finance_assets_tests.test_planning", "monthly_job")
    assert planning.run_plan(instance, [step], job_for=lambda name: job) == []
    [run] = instance.get_runs(limit=1)
    count = [
        len(instance.get_records_for_run(run.run_id, of_type=kind).records)
        for kind in (dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, dg.DagsterEventType.ASSET_MATERIALIZATION)
    ]
    return count[0], count[1]


def test_a_targeted_month_run_plans_its_range_in_one_event_and_materializes_every_month(instance, monkeypatch):
    monkeypatch.delenv(planning.PLANNED_AS_SUBSET_ENV, raising=False)
    months = ("2025-01-01", "2025-03-01")
    targeted = planning.RunStep("monthly CCC", "monthly_job", *months, 3, tickers=("CCC",))
    assert _planned_and_materialized(instance, targeted) == (1, 3)
    assert planning.PLANNED_AS_SUBSET_ENV not in os.environ  # set while that run was created only
    everyone = planning.RunStep("monthly all tickers", "monthly_job", *months, 3)
    assert _planned_and_materialized(instance, everyone) == (3, 3)  # a run of every ticker: one per month
    key = dg.AssetKey("monthly_rows")
    assert sorted(instance.get_materialized_partitions(key)) == ["2025-01-01", "2025-02-01", "2025-03-01"]


@pytest.mark.parametrize("size", [1, 5, 25, 40, 0])
def test_ticker_chunks_hold_whole_shards_in_shard_order(size):
    """A month run's tickers are cut at shard boundaries: each shard file of a month is rewritten by one run,
    unless the shard alone holds more tickers than a run may."""
    from finance_assets.lib.warehouse import shard_order, ticker_shard

    tickers = sorted((f"T{i:03d}" for i in range(100)), key=shard_order)
    chunks = planning._shard_chunks(tickers, size)
    assert [t for chunk in chunks for t in chunk] == tickers
    assert all(0 < len(chunk) <= (size or len(tickers)) for chunk in chunks)
    shards_of = [{ticker_shard(t) for t in chunk} for chunk in chunks]
    sizes = {s: sum(ticker_shard(t) == s for t in tickers) for s in {ticker_shard(t) for t in tickers}}
    for shard, count in sizes.items():
        holding = sum(shard in shards for shards in shards_of)
        assert holding == 1 or count > size > 0, (shard, count, holding)
    if size >= max(sizes.values()):  # whole shards only: no two neighbours could have been one chunk
        assert all(len(a) + len(b) > size for a, b in zip(chunks, chunks[1:]))


def test_materialization_clocks_are_read_once_and_again_only_for_partitions_materialized_since(instance, monkeypatch):
    days = report_days()
    asset = REPORT.assets[0]
    for day in days:  # built as of the evening of each day: final
        meta = {"as_of": pd.Timestamp(f"{day}T23:00", tz="UTC").isoformat()}
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset, partition=day, metadata=meta))
    read = []
    fetch = instance.fetch_materializations
    monkeypatch.setattr(
        instance, "fetch_materializations", lambda f, **kw: read.append(len(f.storage_ids)) or fetch(f, **kw)
    )

    first = planning._materialized_at(instance, asset, days)
    assert sorted(first) == days and read == [len(days)]
    assert planning._materialized_at(instance, asset, days) == first and read == [len(days)]  # none read again

    # one day rebuilt as of a clock before its close (not final any more): read again, alone
    early = pd.Timestamp(f"{days[3]}T15:00", tz="UTC")
    meta = {"as_of": early.isoformat()}
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset, partition=days[3], metadata=meta))
    again = planning._materialized_at(instance, asset, days)
    assert read == [len(days), 1]
    assert again == {**first, days[3]: early.timestamp()}
    assert planning._materialized_at(instance, asset, days[:2]) == {d: first[d] for d in days[:2]}
