"""Declarative automation on the real asset graph, evaluated with Dagster's own API against a temp instance.

No runs are launched: each "tick" is `evaluate_automation_conditions`, and whatever it requested is then
reported as materialized (runless events, in dependency order), as the daemon's backfill would do.
A lookback of 2 months keeps the partition counts small; the conditions are the production ones.
"""

from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from finance_assets.lib import automation
from finance_assets.lib.partitions import TICKER, month_partitions, report_day_partitions
from finance_assets.lib.selections import REPORT, SEC

LOOKBACK = 2
TICKERS = ["ACMQ", "BLZQ", "DEMOIDX"]
TICKER_ASSETS = SEC.assets  # filings, xbrl_facts, fundamentals, filing_documents, filing_text_signals
DAILY_BAR_ASSETS = ("prices", "technicals", "headlines", "sentiment")  # month partitions, every ticker
MONTH_ASSETS = ("market_panel", "fx_rates")
REPORT_ASSETS = REPORT.assets
# Wednesday 2025-06-11, 14:00 New York: the open month is June, the latest report day Tuesday 06-10.
START = dt.datetime(2025, 6, 11, 18, 0, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[2]

Requests = dict[str, set]


def _build_defs() -> dg.Definitions:
    from finance_assets.definitions import ALL_ASSETS, build_resources

    return dg.Definitions(
        assets=automation.with_automation(ALL_ASSETS, months=LOOKBACK), resources=build_resources("demo")
    )


class Ticker:
    """Evaluates the automation conditions tick after tick and 'runs' what they request."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, now: dt.datetime):
        self.defs, self.instance, self.now = defs, instance, now
        self.order = list(defs.resolve_asset_graph().toposorted_asset_keys)
        self.cursor = None
        _cache_dynamic_partitions(instance)

    def tick(self, materialize: bool = True) -> Requests:
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, evaluation_time=self.now, cursor=self.cursor
        )
        self.cursor = result.cursor
        self.now += dt.timedelta(minutes=1)
        requested = {
            key.to_user_string(): set(result.get_requested_partitions(key))
            for key in self.order
            if result.get_requested_partitions(key)
        }
        if materialize:
            self.materialize(requested)
        return requested

    def materialize(self, requested: Requests) -> None:
        for key in self.order:
            for partition in sorted(requested.get(key.to_user_string(), ()), key=str):
                self.instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=partition))

    def until_quiet(self, max_ticks: int = 8) -> list[Requests]:
        """Every tick's requests up to (not including) the first tick that requests nothing."""
        ticks = []
        for _ in range(max_ticks):
            requested = self.tick()
            if not requested:
                return ticks
            ticks.append(requested)
        raise AssertionError(f"automation still requesting after {max_ticks} ticks: {ticks[-1]}")


def _cache_dynamic_partitions(instance: dg.DagsterInstance) -> None:
    """Speed only: evaluate_automation_conditions re-reads the ticker list from SQLite (a new connection
    each time) for every condition node while it builds the cursor, hundreds of times per tick. The list
    only changes through add_dynamic_partitions, which clears this cache."""
    read, add, cache = instance.get_dynamic_partitions, instance.add_dynamic_partitions, {}

    def cached(partitions_def_name: str):
        if partitions_def_name not in cache:
            cache[partitions_def_name] = read(partitions_def_name)
        return cache[partitions_def_name]

    def add_and_forget(partitions_def_name: str, partition_keys):
        cache.pop(partitions_def_name, None)
        return add(partitions_def_name, partition_keys)

    instance.get_dynamic_partitions = cached
    instance.add_dynamic_partitions = add_and_forget


def _union(ticks: list[Requests]) -> Requests:
    out: Requests = collections.defaultdict(set)
    for requested in ticks:
        for asset, keys in requested.items():
            out[asset] |= keys
    return dict(out)


def _requested_more_than_once(ticks: list[Requests]) -> list:
    counts = collections.Counter(
        (asset, key) for requested in ticks for asset, keys in requested.items() for key in keys
    )
    return [item for item, n in counts.items() if n > 1]


def _lookback_months(now: dt.datetime) -> list[str]:
    keys = month_partitions.get_partition_keys(current_time=now)
    return keys[-(LOOKBACK + 1) :]


def _report_days(now: dt.datetime, first_month: str) -> list[str]:
    return [d for d in report_day_partitions.get_partition_keys(current_time=now) if d >= first_month]


def _temp_instance(tmp_path: Path) -> dg.DagsterInstance:
    directory = tmp_path / "instance"
    directory.mkdir(exist_ok=True)
    return dg.DagsterInstance.local_temp(tempdir=str(directory))


@pytest.fixture
def ticker(isolated_home, tmp_path):
    instance = _temp_instance(tmp_path)
    instance.add_dynamic_partitions(TICKER, TICKERS)
    try:
        yield Ticker(_build_defs(), instance, START)
    finally:
        instance.dispose()


def test_every_asset_declares_automation_and_freshness():
    from finance_assets import definitions

    graph = definitions.defs.resolve_asset_graph()
    explicit = automation.conditions_by_asset(LOOKBACK)
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert name in explicit and name in automation.FRESHNESS_BY_ASSET, f"{name}: add it to automation.py"
        assert node.automation_condition is not None and node.freshness_policy is not None, name
    sensors = {s.name: s for s in definitions.defs.sensors}
    assert isinstance(sensors[automation.AUTOMATION_SENSOR_NAME], dg.AutomationConditionSensorDefinition)


def test_automation_sensor_follows_the_same_switch_as_the_other_sensors(monkeypatch):
    monkeypatch.delenv("FINANCE_ASSETS_AUTOMATION", raising=False)
    assert automation.automation_sensor().default_status == dg.DefaultSensorStatus.STOPPED
    monkeypatch.setenv("FINANCE_ASSETS_AUTOMATION", "on")
    assert automation.automation_sensor().default_status == dg.DefaultSensorStatus.RUNNING
    # the daemon would evaluate at the machine's now: under a pinned clock `finance-assets update` does it
    monkeypatch.setenv("FINANCE_ASSETS_AS_OF", "2026-03-02T18:00")
    assert automation.automation_sensor().default_status == dg.DefaultSensorStatus.STOPPED


def test_lookback_is_a_whole_number_of_months_all_year_round(isolated_home, tmp_path):
    """`lookback_delta(n)` selects the open month and exactly n before it, whatever the month lengths."""
    counts = {}
    with _temp_instance(tmp_path) as instance:
        for months in (1, 24):

            @dg.asset(
                name=f"monthly_{months}",
                partitions_def=month_partitions,
                automation_condition=dg.AutomationCondition.in_latest_time_window(automation.lookback_delta(months))
                & dg.AutomationCondition.missing(),
            )
            def monthly() -> None: ...

            defs = dg.Definitions(assets=[monthly])
            for month in range(1, 13):
                when = dt.datetime(2025, month, 28 if month == 2 else 30, 12, tzinfo=dt.UTC)
                result = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=when)
                counts[(months, month)] = result.total_requested
    assert counts == {key: key[0] + 1 for key in counts}


def test_lookback_setting_is_validated(monkeypatch):
    monkeypatch.setenv("FINANCE_ASSETS_AUTOMATION_LOOKBACK_MONTHS", "two")
    with pytest.raises(ValueError, match="whole number"):
        automation.lookback_months()
    monkeypatch.setenv("FINANCE_ASSETS_AUTOMATION_LOOKBACK_MONTHS", "0")
    with pytest.raises(ValueError, match=">= 1"):
        automation.lookback_months()


@pytest.mark.slow
def test_automation_keeps_the_universe_current_with_exactly_the_runs_needed(ticker: Ticker):
    months = _lookback_months(START)
    assert months == ["2025-04-01", "2025-05-01", "2025-06-01"]

    # 1. A fresh universe: every missing partition within the lookback, each requested once, parents first.
    fresh = ticker.until_quiet()
    assert _requested_more_than_once(fresh) == []
    everything = _union(fresh)
    days = _report_days(START, months[0])
    assert days[0] == "2025-04-01" and days[-1] == "2025-06-10"
    expected = {
        "ticker_cik_map": {None},
        **{asset: set(TICKERS) for asset in TICKER_ASSETS},
        **{asset: set(months) for asset in DAILY_BAR_ASSETS},
        **{asset: set(months) for asset in MONTH_ASSETS},
        **{asset: set(days) for asset in REPORT_ASSETS},
        "fundamental_snapshots": {None},  # one table of every ticker's point-in-time fundamentals
        "corporate_actions": set(TICKERS),
    }
    assert {a: {str(k) if k is not None else None for k in keys} for a, keys in everything.items()} == expected
    # roots before what reads them; prices wait for their ticker's corporate actions, headlines for its
    # filings (#16: a month built before them would lack its 8-K headlines for good once closed)
    assert set(fresh[0]) == {"ticker_cik_map", "corporate_actions", "fx_rates"}
    first_tick_of = {asset: next(i for i, t in enumerate(fresh) if asset in t) for asset in everything}
    assert first_tick_of["prices"] > first_tick_of["corporate_actions"]
    assert first_tick_of["headlines"] > first_tick_of["filings"]
    # a reader may be asked in its input's tick (the input will be requested): one run computes both in order
    assert first_tick_of["technicals"] >= first_tick_of["prices"]
    assert first_tick_of["market_panel"] > first_tick_of["technicals"]
    assert first_tick_of["portfolio_report"] > first_tick_of["market_panel"]

    # 2. Everything materialized: the next tick requests nothing (until_quiet ended on such a tick).

    # 3. A new trading period: after the 16:30 New York tick, the open month is refreshed once, and only
    #    what reads it follows (report days of June, which read the June panel).
    ticker.now = dt.datetime(2025, 6, 11, 20, 31, tzinfo=dt.UTC)
    close = _union(ticker.until_quiet())
    assert close["prices"] == close["headlines"] == close["technicals"] == close["sentiment"] == {"2025-06-01"}
    assert close["market_panel"] == close["fx_rates"] == {"2025-06-01"}
    assert close["corporate_actions"] == set(TICKERS)  # unchanged actions: no earlier month is re-fetched
    # report days that read the June panel: June's, and Friday 05-30 (its window runs to Monday 06-02)
    reads_june = {
        d
        for d in days
        if report_day_partitions.time_window_for_partition_key(d).end
        > pd.Timestamp("2025-06-01", tz="America/New_York")
    }
    assert "2025-05-30" in reads_june and "2025-05-29" not in reads_june
    assert close["portfolio_report"] == reads_june
    assert not {"ticker_cik_map", *TICKER_ASSETS} & set(close)

    # 4. A new ticker (what the portfolio_tickers sensor registers): only its partitions of the
    #    per-ticker assets. Its months of the daily bars are the market sync's (stored months hold every
    #    ticker a run processed: lib/coverage.py; test_planning.py and the replay cover it), so automation
    #    recomputes no month for everyone; once the sync wrote them, the panel and report follow.
    ticker.instance.add_dynamic_partitions(TICKER, ["CRXQ"])
    added_ticks = ticker.until_quiet()
    added = _union(added_ticks)
    for asset in (*TICKER_ASSETS, "corporate_actions"):
        assert added[asset] == {"CRXQ"}, asset
    assert not set(DAILY_BAR_ASSETS) & set(added)
    assert added["fundamental_snapshots"] == {None}
    assert "fx_rates" not in added and "ticker_cik_map" not in added and "market_panel" not in added
    ticker.materialize({asset: set(months) for asset in DAILY_BAR_ASSETS})  # the sync's run for CRXQ
    synced = _union(ticker.until_quiet())
    assert synced["market_panel"] == set(months)
    assert synced["portfolio_report"] == set(days)

    # 5. A new filing of BLZQ, as the new_sec_filings sensor runs it: that ticker's SEC assets, then only
    #    the latest report day (fundamentals are point in time: no earlier day can see the filing).
    from finance_assets.defs.sec.sensors import TICKER_TAG, filing_run_requests

    feed = pd.DataFrame(
        [
            {
                "form": "10-Q",
                "cik": 9900002,
                "accession_number": "0009900002-25-000042",
                "updated": pd.Timestamp("2025-06-11T20:35:00Z"),
            }
        ]
    )
    (request,) = filing_run_requests(feed, {9900002: ["BLZQ"]})
    assert request.partition_key == "BLZQ" and request.tags[TICKER_TAG] == "BLZQ"
    assert {k.to_user_string() for k in request.asset_selection} == set(TICKER_ASSETS)
    ticker.materialize({k.to_user_string(): {request.partition_key} for k in request.asset_selection})
    filing = _union(ticker.until_quiet())
    assert filing == {"fundamental_snapshots": {None}, "portfolio_report": {days[-1]}, "portfolio_holdings": {days[-1]}}

    # 6. Midnight New York: Wednesday's report partition now exists and is the only thing requested.
    ticker.now = dt.datetime(2025, 6, 12, 4, 1, tzinfo=dt.UTC)
    assert _union(ticker.until_quiet()) == {"portfolio_report": {"2025-06-11"}, "portfolio_holdings": {"2025-06-11"}}

    # 7. A changed indicator set (technicals' code version): technicals within the lookback first, then
    #    only what reads them; prices, SEC and news are not touched.
    ticker.defs = dg.Definitions(
        assets=dg.map_asset_specs(
            lambda spec: spec.replace_attributes(code_version="changed") if spec.key.path == ["technicals"] else spec,
            ticker.defs.assets,
        ),
        resources=ticker.defs.resources,
    )
    recomputed = ticker.until_quiet()
    registered = list(ticker.instance.get_dynamic_partitions(TICKER))
    assert recomputed and "technicals" in recomputed[0]  # the panel may be asked in the same tick (one run each)
    assert recomputed[0]["technicals"] == set(months) and len(registered) == 4  # a month run: every ticker
    assert {"technicals", "market_panel"} <= set(_union(recomputed)) <= {"technicals", "market_panel", *REPORT_ASSETS}


def test_a_partition_in_progress_is_never_requested_again(ticker: Ticker):
    """Automation never starts a second writer: a partition held by a queued or running run is left alone."""
    ticker.materialize({"corporate_actions": set(TICKERS)})  # prices wait for their ticker's actions
    first = ticker.tick(materialize=False)
    held = "2025-06-01"
    assert held in first["prices"]
    job = dg.define_asset_job("prices_only", selection=["prices"]).resolve(
        asset_graph=ticker.defs.resolve_asset_graph()
    )
    run = ticker.instance.create_run_for_job(
        job_def=job, tags={"dagster/partition": held}, asset_selection=frozenset({dg.AssetKey("prices")})
    )
    assert run.status == dg.DagsterRunStatus.NOT_STARTED  # never launched, so it holds the partition
    second = ticker.tick(materialize=False)
    assert held not in second["prices"]
    assert second["prices"] == first["prices"] - {held}  # unit ticks launch nothing, so the rest is asked again


def test_concurrency_limits_in_dagster_yaml():
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    limits = {item["key"]: item for item in config["concurrency"]["runs"]["tag_concurrency_limits"]}
    for tag in ("finance_assets/ticker", "finance_assets/tickers", "dagster/partition"):
        assert limits[tag]["limit"] == 1 and limits[tag]["value"] == {"applyLimitPerUniqueValue": True}
    assert config["concurrency"]["pools"] == {"granularity": "run", "default_limit": 1}


def test_sec_bound_assets_share_the_sec_pool():
    from finance_assets import definitions

    graph = definitions.defs.resolve_asset_graph()
    pools = {k.to_user_string(): graph.get(k).pools for k in graph.get_all_asset_keys()}
    assert pools["ticker_cik_map"] == pools["filings"] == pools["xbrl_facts"] == {"sec"}
    assert not pools["prices"] and not pools["fundamentals"]  # no SEC request: no reason to queue behind it


# ----------------------------------------------------------------------------- partition freshness checks


def _run_partition_freshness_checks(instance) -> dict[str, bool]:
    checks = automation.partition_freshness_checks()
    specs = [
        *(dg.AssetSpec(name, partitions_def=report_day_partitions) for name in automation.REPORT_OUTPUTS),
        *(dg.AssetSpec(name, partitions_def=month_partitions) for name in ("market_panel", "fx_rates")),
    ]
    job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*checks))
    defs = dg.Definitions(assets=specs, asset_checks=checks, jobs=[job])
    result = defs.resolve_job_def("freshness").execute_in_process(instance=instance)
    return {e.asset_key.to_user_string(): e.passed for e in result.get_asset_check_evaluations()}


def test_partition_freshness_checks_want_the_expected_partition_not_just_any():
    from dagster._core.test_utils import freeze_time

    def materialize(name: str, partition: str) -> None:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=name, partition=partition))

    # Wednesday 02:00 New York: past Wednesday's 01:00 report deadline (expects Tuesday's report day)
    # and Tuesday's 18:30 panel deadline (expects the open month, June).
    with dg.instance_for_test() as instance, freeze_time(dt.datetime(2025, 6, 11, 6, 0, tzinfo=dt.UTC)):
        for name in automation.REPORT_OUTPUTS:
            materialize(name, "2025-06-09")  # Monday only
        materialize("market_panel", "2025-05-01")
        materialize("fx_rates", "2025-06-01")
        assert _run_partition_freshness_checks(instance) == {
            "portfolio_report": False,
            "portfolio_holdings": False,
            "market_panel": False,
            "fx_rates": True,
        }

        for name in automation.REPORT_OUTPUTS:
            materialize(name, "2025-06-10")
        materialize("market_panel", "2025-06-01")
        assert set(_run_partition_freshness_checks(instance).values()) == {True}


def test_partition_freshness_checks_have_a_sensor_that_is_stopped_unless_automation_is_on(monkeypatch):
    checks = automation.partition_freshness_checks()
    monkeypatch.delenv("FINANCE_ASSETS_AUTOMATION", raising=False)
    assert automation.partition_freshness_sensor(checks).default_status == dg.DefaultSensorStatus.STOPPED
    monkeypatch.setenv("FINANCE_ASSETS_AUTOMATION", "on")
    assert automation.partition_freshness_sensor(checks).default_status == dg.DefaultSensorStatus.RUNNING


def _actions_version(ticker: Ticker, symbol: str, version: str) -> None:
    """A corporate_actions materialization of one ticker with its data version (a hash of its rows)."""
    ticker.instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="corporate_actions", partition=symbol, tags={"dagster/data_version": version})
    )


@pytest.mark.slow
def test_a_corporate_action_reaches_stored_months_older_than_the_lookback(ticker: Ticker):
    """A split rescales every earlier adjusted price. Finding the months is the market sync's (the prices'
    coverage records the actions each ticker's months reflect: test_planning.py); automation re-derives the
    snapshots (per-share figures on the new basis) and, once the sync re-wrote the ticker's months however
    old, what reads them follows (#16: a fresh build as of the same clock has them all adjusted)."""
    months = _lookback_months(START)
    for symbol in TICKERS:
        _actions_version(ticker, symbol, "v1")
    ticker.until_quiet()
    # a month before the lookback, stored by an earlier backfill (e.g. `finance-assets backfill --start`)
    old = "2025-02-01"
    assert old < months[0]
    old_days = [d for d in report_day_partitions.get_partition_keys(current_time=START) if d[:7] == old[:7]]
    ticker.materialize(
        {
            **{asset: {old} for asset in DAILY_BAR_ASSETS},
            "market_panel": {old},
            "fx_rates": {old},
            **{asset: set(old_days) for asset in REPORT_ASSETS},
        }
    )
    ticker.until_quiet()  # what reads the old month inside the lookback follows (later technicals, report days)
    assert ticker.until_quiet() == []

    _actions_version(ticker, "ACMQ", "v1")  # re-read, unchanged: nothing follows
    assert ticker.until_quiet() == []

    _actions_version(ticker, "ACMQ", "v2")  # a new split of ACMQ
    latest = _report_days(START, months[0])[-1]  # the snapshots reach the latest report day, as a filing does
    assert _union(ticker.until_quiet()) == {
        "fundamental_snapshots": {None},
        **{asset: {latest} for asset in REPORT_ASSETS},
    }
    ticker.materialize({"prices": {old, *months}, "technicals": {old, *months}})  # the sync's run for ACMQ
    followed = _union(ticker.until_quiet())
    assert old in followed["market_panel"] and set(months) <= followed["market_panel"]
    for asset in REPORT_ASSETS:
        assert set(old_days) <= followed[asset]
    assert not {"prices", "headlines", "sentiment", "fx_rates"} & set(followed)


def _materialize_in_run(instance: dg.DagsterInstance, requested: Requests, tags: dict[str, str]) -> None:
    """`requested` materialized by one successful run with these tags (what `update` and the planner launch)."""
    import time

    from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
    from dagster._core.events.log import EventLogEntry
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
    from dagster._core.utils import make_new_run_id

    run = DagsterRun(job_name="panel_job", run_id=make_new_run_id(), tags=tags, status=DagsterRunStatus.SUCCESS)
    instance.add_run(run)
    for asset, partitions in requested.items():
        for partition in sorted(partitions):
            materialization = dg.AssetMaterialization(asset_key=asset, partition=partition)
            event = DagsterEvent(
                event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
                job_name=run.job_name,
                event_specific_data=StepMaterializationData(materialization),
            )
            instance.store_event(
                EventLogEntry(
                    error_info=None,
                    level="debug",
                    user_message="",
                    run_id=run.run_id,
                    timestamp=time.time(),
                    dagster_event=event,
                )
            )


def test_panel_rows_of_a_ticker_the_report_does_not_read_recompute_no_report_day(ticker: Ticker):
    """A ticker added or restated alone: `update` runs its daily bars, then its panel rows, tagged with it (and,
    when nobody holds it and it is not the benchmark, with REPORT_READS_TAG=no). The panel, updated after its
    inputs, is not rebuilt for everyone; no report day follows an unread ticker's rows; a held one's reach every
    report day from its months on, as before."""
    from finance_assets.lib.partitions import run_tags

    months = _lookback_months(START)
    ticker.until_quiet()
    ticker.instance.add_dynamic_partitions(TICKER, ["CRXQ"])
    ticker.until_quiet()  # its SEC partitions and corporate actions
    bars = {asset: set(months) for asset in DAILY_BAR_ASSETS}
    _materialize_in_run(ticker.instance, bars, run_tags(months[0], months[-1], ["CRXQ"]))
    _materialize_in_run(
        ticker.instance, {"market_panel": set(months)}, run_tags(months[0], months[-1], ["CRXQ"], False)
    )
    assert ticker.until_quiet() == []

    # the same for a held ticker (no REPORT_READS_TAG): every report day from its first month on
    _materialize_in_run(ticker.instance, bars, run_tags(months[0], months[-1], ["ACMQ"]))
    _materialize_in_run(ticker.instance, {"market_panel": set(months)}, run_tags(months[0], months[-1], ["ACMQ"], True))
    followed = _union(ticker.until_quiet())
    assert followed == {asset: set(_report_days(START, months[0])) for asset in REPORT_ASSETS}

    # a panel month also rewritten by an untagged run (every ticker) reaches the report whatever else wrote it
    _materialize_in_run(
        ticker.instance, {"market_panel": {months[-1]}}, run_tags(months[-1], months[-1], ["CRXQ"], False)
    )
    _materialize_in_run(ticker.instance, {"market_panel": {months[-1]}}, run_tags(months[-1], months[-1]))
    june_on = {d for d in _report_days(START, months[0]) if d >= "2025-05-30"}  # the days reading June's panel
    assert _union(ticker.until_quiet()) == {asset: june_on for asset in REPORT_ASSETS}
