"""Where the partitions start (issue #20): in demo mode at the demo's first month, so that after
`finance-assets demo` every partition the UI shows is materialized; in live mode in 2016, as before.

Partitions are defined when the package is imported, from the environment of that moment, so each
mode is imported in its own process, without the suite's FINANCE_ASSETS_HISTORY_START (conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import dagster as dg

from finance_assets.lib import config
from finance_assets.lib.partitions import month_partitions, per_month_check, per_ticker_check, ticker_partitions
from finance_assets.lib.selections import MARKET, PANEL, REPORT

# The demo's plan as of a clock, against a fresh instance with two registered tickers: the months and
# report days the definitions hold, and the backfill `finance-assets demo` would run.
_DEMO_PLAN = """
import datetime as dt, json
import dagster as dg
from finance_assets import cli
from finance_assets.lib.config import HISTORY_START, Settings
from finance_assets.lib.partitions import TICKER, month_partitions, report_day_partitions
from finance_assets.planning import plan_backfill

now = dt.datetime(2026, 6, 10, 22, 0, tzinfo=dt.UTC)
settings = Settings.from_env()
start = cli.demo_start(settings, None, now.date())
with dg.instance_for_test() as instance:
    instance.add_dynamic_partitions(TICKER, ["ACMQ", "DEMOIDX"])
    plan = plan_backfill(instance, start=start, end=None, now=now)
print(json.dumps({
    "history_start": HISTORY_START,
    "settings_history_start": settings.history_start,
    "demo_start": start,
    "months": month_partitions.get_partition_keys(current_time=now),
    "report_days": report_day_partitions.get_partition_keys(current_time=now),
    "steps": [[s.job, s.start_key, s.end_key, s.partition_count, s.tickers] for s in plan],
}))
"""

_FIRST_MONTH = """
import json
from finance_assets.lib.partitions import month_partitions, report_day_partitions
print(json.dumps([month_partitions.get_first_partition_key(), report_day_partitions.get_first_partition_key()]))
"""


def _run(script: str, tmp_path, **env_changes: str) -> object:
    env = {k: v for k, v in os.environ.items() if k != "FINANCE_ASSETS_HISTORY_START"}
    env.update(DAGSTER_HOME=str(tmp_path), FINANCE_ASSETS_DATA_DIR=str(tmp_path), PYTHONWARNINGS="ignore")
    env.update(env_changes)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_demo_partitions_start_at_the_demos_first_month_and_its_backfill_covers_them(tmp_path):
    out = _run(_DEMO_PLAN, tmp_path, FINANCE_ASSETS_MODE="demo")
    assert out["history_start"] == out["settings_history_start"] == config.DEMO_HISTORY_START
    assert out["demo_start"] == config.DEMO_HISTORY_START[:7]
    months, days = out["months"], out["report_days"]
    # 2025-01 .. the open month of the clock (June 2026); report days up to the last completed weekday
    assert months[0] == config.DEMO_HISTORY_START and months[-1] == "2026-06-01" and len(months) == 18
    assert days[0] == "2025-01-01" and days[-1] == "2026-06-09"

    steps = {job: (first, last, count, tickers) for job, first, last, count, tickers in out["steps"]}
    # one month range for every registered ticker (no tickers tag: ACMQ and DEMOIDX both)
    assert steps["market_job"] == (months[0], months[-1], len(months) * len(MARKET.assets), None)
    assert steps["panel_job"] == (months[0], months[-1], len(months) * len(PANEL.assets), None)
    assert steps["report_job"] == (days[0], days[-1], len(days) * len(REPORT.assets), None)
    assert [job for job, *_ in out["steps"]].count("market_job") == 1  # one run: every month, every ticker


def test_live_partitions_still_start_in_2016(tmp_path):
    assert _run(_FIRST_MONTH, tmp_path, FINANCE_ASSETS_MODE="live") == ["2016-01-01", "2016-01-01"]


def test_an_explicit_history_start_wins_in_demo_mode(tmp_path):
    first = _run(_FIRST_MONTH, tmp_path, FINANCE_ASSETS_MODE="demo", FINANCE_ASSETS_HISTORY_START="2024-06")
    assert first == ["2024-06-01", "2024-06-03"]  # 2024-06-01 is a Saturday: the first report day is Monday


def test_per_month_and_per_ticker_checks_run_over_their_assets_partitions():
    @dg.asset(partitions_def=month_partitions)
    def monthly() -> None: ...

    @dg.asset(partitions_def=ticker_partitions)
    def per_ticker() -> None: ...

    @per_month_check(monthly, "every month is sane", blocking=True)
    def monthly_is_sane(monthly) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    @per_ticker_check(per_ticker, "every ticker is sane")
    def per_ticker_is_sane(per_ticker) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    (month_spec,) = monthly_is_sane.check_specs
    (ticker_spec,) = per_ticker_is_sane.check_specs
    assert (month_spec.asset_key, month_spec.partitions_def, month_spec.blocking, month_spec.description) == (
        dg.AssetKey("monthly"),
        month_partitions,
        True,
        "every month is sane",
    )
    assert (ticker_spec.asset_key, ticker_spec.partitions_def, ticker_spec.blocking, ticker_spec.description) == (
        dg.AssetKey("per_ticker"),
        ticker_partitions,
        False,
        "every ticker is sane",
    )
