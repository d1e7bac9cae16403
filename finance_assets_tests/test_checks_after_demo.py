"""After a small demo backfill (issue #20): every asset check of every materialized asset was evaluated in
the run that last materialized its asset, and `portfolio_report`'s latest materialization carries the
report's metadata, for a range run (the backfill) and for one day launched alone (the UI's "Materialize",
automation).

In-process through the project CLI (`cli.main`) and the report job, on a two-holding portfolio (one in EUR,
so FX is on the path) for one month: about a minute.
"""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from finance_assets import cli, definitions
from finance_assets.defs.portfolio import checks
from finance_assets.lib import config

pytestmark = pytest.mark.slow

MONTH, LAST_DAY = "2025-03", "2025-03-31"
REPORT_METADATA = {
    "latest_day",
    "run_days",
    "run_range",
    "report_html",
    "report_url",
    "report_markdown",
    "summary",
    "recent_days",
    "total_value",
    "max_drawdown",
    "observations",
}
PORTFOLIO_CHECKS = {key.name for check in checks.PORTFOLIO_CHECKS for key in check.check_keys}


def _latest_report(instance: dg.DagsterInstance, asset: str = "portfolio_report") -> dg.AssetMaterialization:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event is not None, asset
    return event.asset_materialization


def _check_evaluations(instance: dg.DagsterInstance, defs: dg.Definitions) -> dict[dg.AssetCheckKey, tuple]:
    """(status, run id, passed, partition) of each check's latest execution, for the checks of every
    asset that has a materialization."""
    out = {}
    for key in defs.resolve_asset_graph().asset_check_keys:
        if instance.get_latest_materialization_event(key.asset_key) is None:
            continue
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key]).get(key)
        evaluation = record.event.dagster_event.event_specific_data if record and record.event else None
        out[key] = (
            record.status if record else None,
            record.run_id if record else None,
            getattr(evaluation, "passed", None),
            getattr(evaluation, "partition", None),
        )
    return out


def _assert_every_check_evaluated_with_its_asset(instance: dg.DagsterInstance, defs: dg.Definitions) -> dict:
    evaluations = _check_evaluations(instance, defs)
    evaluated = {AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED}
    missing = sorted(key.to_user_string() for key, (status, *_) in evaluations.items() if status not in evaluated)
    assert not missing, f"checks without a result: {missing}"
    for key, (_, run_id, *_) in evaluations.items():
        last_run = instance.get_latest_materialization_event(key.asset_key).run_id
        assert run_id == last_run, f"{key.to_user_string()} was not evaluated in the run that materialized its asset"
    return evaluations


def test_every_check_has_a_result_and_the_report_its_metadata(isolated_home):
    (isolated_home / "data" / "portfolio.csv").write_text(
        "ticker,shares,cost_basis,currency\nACMQ,100,50,USD\nBLZQ,20,300,EUR\n"
    )
    assert cli.main(["register"]) == 0
    assert cli.main(["backfill", "--start", MONTH, "--end", MONTH, "--executor", "in_process"]) == 0

    settings = config.settings().replace(executor="in_process")
    defs = definitions.build_definitions(settings)
    instance = cli.open_instance(settings)
    materialized = {k.to_user_string() for k in instance.get_asset_keys()}
    assert {"prices", "fx_rates", "market_panel", "portfolio_report", "portfolio_holdings"} <= materialized

    # the backfill: the report is one range run over the month
    evaluations = _assert_every_check_evaluated_with_its_asset(instance, defs)
    assert {k.name for k in evaluations if k.asset_key.path[-1].startswith("portfolio_")} >= PORTFOLIO_CHECKS
    own = {k.name: passed for k, (_, _, passed, _) in evaluations.items() if k.name in PORTFOLIO_CHECKS}
    assert own == dict.fromkeys(PORTFOLIO_CHECKS, True)
    ranged = _latest_report(instance)
    assert ranged.partition == LAST_DAY
    assert REPORT_METADATA <= set(ranged.metadata), sorted(ranged.metadata)
    assert ranged.metadata["run_days"].value == 21 and ranged.metadata["run_range"].value == f"{MONTH}-03..{LAST_DAY}"
    html = ranged.metadata["report_html"].value
    assert html.endswith(f"portfolio_report_{LAST_DAY}.html") and (isolated_home / "data" / "reports").exists()
    assert ranged.metadata["report_url"].value.startswith("file://")
    assert "| figure | value |" in ranged.metadata["summary"].value
    assert LAST_DAY in ranged.metadata["recent_days"].value
    assert ranged.metadata["observations"].value == 20  # a month of history: every return it holds
    assert "preview" in _latest_report(instance, "portfolio_holdings").metadata

    # one day launched alone: its materialization carries the metadata, its checks run for that day
    job = definitions.reconstructable_job("report_job", settings)
    with dg.execute_job(job, instance=instance, tags={"dagster/partition": LAST_DAY}) as result:
        assert result.success
        alone_run = result.run_id
    alone = _latest_report(instance)
    assert alone.partition == LAST_DAY and REPORT_METADATA <= set(alone.metadata)
    assert alone.metadata["run_days"].value == 1 and alone.metadata["report_html"].value == html
    evaluations = _assert_every_check_evaluated_with_its_asset(instance, defs)
    for key, (_, run_id, passed, partition) in evaluations.items():
        if key.name in PORTFOLIO_CHECKS:
            assert (run_id, passed, partition) == (alone_run, True, LAST_DAY), key.to_user_string()
