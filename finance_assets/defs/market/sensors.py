"""The market sync: what a stored month of the daily bars lacks for single tickers, run for them alone.

Month partitions of prices, technicals, headlines and sentiment hold every ticker the runs that wrote
them processed (lib/coverage.py). A ticker registered after months were built, or one whose corporate
actions changed (a split or dividend rescales all its earlier adjusted prices), needs those months again
for itself only. `sync_runs` finds them; `finance-assets update` and `finance-assets backfill` run them
(planning.py), and under the daemon the `market_sync` sensor launches them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Mapping

import dagster as dg

from finance_assets.defs.market import corporate_actions as actions_lib
from finance_assets.lib import config, coverage
from finance_assets.lib.automation import automation_enabled
from finance_assets.lib.partitions import TICKER, month_partitions, run_tags
from finance_assets.lib.selections import MARKET
from finance_assets.lib.warehouse import Warehouse

# what a ticker's own month runs read: its corporate actions (prices) and its filings (8-K headlines)
SYNC_REQUIRES = ("corporate_actions", "filings")
SYNC_SENSOR_NAME = "market_sync"


def stored_months(instance: dg.DagsterInstance, assets) -> dict[str, set[str]]:
    """asset -> its materialized month partitions."""
    return {asset: set(instance.get_materialized_partitions(dg.AssetKey(asset))) for asset in assets}


def sync_need(
    instance: dg.DagsterInstance,
    warehouse: Warehouse,
    tickers,
    stored_first: Mapping[str, Collection[str]] | None = None,
) -> dict[str, dict[str, set[str]]]:
    """ticker -> asset -> stored months to build for that ticker alone (coverage.needed_in_warehouse): months built
    before it was registered, and every stored month of its prices and technicals when its corporate
    actions changed. A ticker waits until its corporate actions and filings are stored, or until the
    caller's own earlier runs store them (`stored_first`: asset -> tickers, e.g. a backfill's SEC and
    corporate-actions runs, which come before its month runs)."""
    stored_first = stored_first or {}
    ready = set(tickers)
    for asset in SYNC_REQUIRES:
        ready &= set(instance.get_materialized_partitions(dg.AssetKey(asset))) | set(stored_first.get(asset, ()))
    ready_tickers = [t for t in tickers if t in ready]
    if not ready_tickers:
        return {}
    months = stored_months(instance, MARKET.assets)
    if not any(months.values()):
        return {}
    versions = actions_lib.versions_by_ticker(warehouse.read("corporate_actions"), ready_tickers)
    # one DuckDB query over the coverage files (~3 M rows at 6,000 tickers x 132 months x 4 assets)
    return coverage.needed_in_warehouse(warehouse, ready_tickers, months, versions)


def sync_runs(instance: dg.DagsterInstance, warehouse: Warehouse, now: dt.datetime) -> list[coverage.SyncRun]:
    """The targeted runs the market sync needs now, for every registered ticker."""
    registered = sorted(instance.get_dynamic_partitions(TICKER))
    need = sync_need(instance, warehouse, registered)
    return coverage.plan_sync(need, MARKET.assets, month_partitions.get_partition_keys(current_time=now))


@dg.sensor(
    name=SYNC_SENSOR_NAME,
    job_name=MARKET.job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING if automation_enabled() else dg.DefaultSensorStatus.STOPPED,
    description="The market sync (defs/market/sensors.py): runs the daily-bar months a ticker lacks (registered "
    "after they were built) or holds with old corporate actions, for that ticker alone. STOPPED unless "
    "FINANCE_ASSETS_AUTOMATION=on (like the automation sensor).",
)
def market_sync_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    now = config.settings().now()
    runs = sync_runs(context.instance, Warehouse(config.warehouse_location()), now)
    if not runs:
        return dg.SkipReason("every stored month holds every ready ticker with its current corporate actions")
    requests = []
    for run in runs:
        # one request per need and day: a failed run is retried the next day, not every tick
        key = hashlib.sha256(f"{now:%Y-%m-%d}|{run.label}|{run.assets}|{run.tickers}".encode()).hexdigest()[:24]
        requests.append(
            dg.RunRequest(
                run_key=key,
                asset_selection=[dg.AssetKey(a) for a in run.assets],
                tags=run_tags(run.months[0], run.months[-1], run.tickers),
            )
        )
    return dg.SensorResult(run_requests=requests)


SENSORS = [market_sync_sensor]
