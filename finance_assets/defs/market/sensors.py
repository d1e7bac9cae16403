"""The market sync: what a stored month of the daily bars lacks for single tickers, run for them alone.

Month partitions of prices, technicals, headlines and sentiment hold every ticker the runs that wrote
them processed (lib/coverage.py). A ticker registered after months were built, or one whose corporate
actions changed (a split or dividend rescales all its earlier adjusted prices), needs those months again
for itself only. `sync_runs` finds them; `finance-assets update` and `finance-assets backfill` run them
(planning.py), and under the daemon the `market_sync` sensor launches them (`daemon_runs`): each with the
panel rows of its tickers in the same run, after the bars they read, so the daemon is as targeted as the CLI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import dagster as dg

from finance_assets.defs.market import corporate_actions as actions_lib
from finance_assets.lib import config, coverage
from finance_assets.lib.automation import automation_enabled, report_reads, report_tickers
from finance_assets.lib.partitions import TICKER, month_partitions, run_tags
from finance_assets.lib.selections import MARKET
from finance_assets.lib.warehouse import Warehouse

# what a ticker's own month runs read, and the month assets that wait for it: its corporate actions (prices, and
# technicals from them) and its filings (the 8-K headlines, and sentiment from them)
SYNC_REQUIRES = {"corporate_actions": ("prices", "technicals"), "filings": ("headlines", "sentiment")}
SYNC_SENSOR_NAME = "market_sync"
# The portfolio's panel (named by key: this domain imports no other) is stored by ticker like the daily bars and
# reads them: the sensor's runs rebuild their tickers' panel rows too, so automation does not rebuild those
# panel months for every ticker (a panel partition materialized after its inputs is up to date for it)
PANEL_ASSET = "market_panel"
SYNC_JOB = dg.define_asset_job("market_sync_job", selection=dg.AssetSelection.assets(*MARKET.assets, PANEL_ASSET))


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
    actions changed. A month asset of a ticker waits until what it reads of the ticker is stored
    (SYNC_REQUIRES: prices its corporate actions, headlines its filings), or until the caller's own earlier runs
    store it (`stored_first`: asset -> tickers, e.g. a backfill's SEC and corporate-actions runs, which come
    before its month runs). A ticker whose filings are not stored yet gets its prices and technicals."""
    stored_first = stored_first or {}
    stored = {
        required: set(instance.get_materialized_partitions(dg.AssetKey(required))) | set(stored_first.get(required, ()))
        for required in SYNC_REQUIRES
    }
    ready_tickers = [t for t in tickers if any(t in tickers_stored for tickers_stored in stored.values())]
    if not ready_tickers:
        return {}
    months = stored_months(instance, MARKET.assets)
    if not any(months.values()):
        return {}
    versions = actions_lib.versions_by_ticker(warehouse.read("corporate_actions"), ready_tickers)
    # one DuckDB query over the coverage files (~3 M rows at 6,000 tickers x 132 months x 4 assets)
    need = coverage.needed_in_warehouse(warehouse, ready_tickers, months, versions)
    waiting = {asset: required for required, assets in SYNC_REQUIRES.items() for asset in assets}
    out = {}
    for ticker, by_asset in need.items():
        kept = {
            asset: found
            for asset, found in by_asset.items()
            if asset not in waiting or ticker in stored[waiting[asset]]
        }
        if kept:
            out[ticker] = kept
    return out


def sync_runs(instance: dg.DagsterInstance, warehouse: Warehouse, now: dt.datetime) -> list[coverage.SyncRun]:
    """The targeted runs the market sync needs now, for every registered ticker."""
    registered = sorted(instance.get_dynamic_partitions(TICKER))
    need = sync_need(instance, warehouse, registered)
    return coverage.plan_sync(need, MARKET.assets, month_partitions.get_partition_keys(current_time=now))


@dataclass(frozen=True)
class DaemonRun:
    """One run the sensor requests: these assets, for these tickers, over a contiguous range of months."""

    assets: tuple[str, ...]
    tickers: tuple[str, ...]
    months: tuple[str, ...]
    report_reads: bool | None = None  # False: a panel run of tickers the report does not read (tagged so)

    @property
    def tags(self) -> dict[str, str]:
        return run_tags(self.months[0], self.months[-1], self.tickers, self.report_reads)


def daemon_runs(
    instance: dg.DagsterInstance, warehouse: Warehouse, now: dt.datetime, read: set[str] | None
) -> list[DaemonRun]:
    """The sync's runs as the sensor launches them (`read`: the tickers the report reads, report_tickers()).

    What `finance-assets update` runs one after the other (planning.market_sync_runs) goes into one run
    here, where Dagster orders the steps (runs launched together may run at once): the daily bars, then the
    panel rows of the same tickers and months, when every one of those months of the panel is stored (a
    month it lacks is built for every ticker by automation, never for some; then automation also follows
    the bars' update for every ticker). Stored panel months lacking a ticker its prices hold (a panel run
    that failed) get a run of the panel alone for the tickers with no run above."""
    runs = sync_runs(instance, warehouse, now)
    panel_months = set(instance.get_materialized_partitions(dg.AssetKey(PANEL_ASSET)))
    out = []
    for run in runs:
        if set(run.months) <= panel_months:
            out.append(DaemonRun((*run.assets, PANEL_ASSET), run.tickers, run.months, report_reads(read, run.tickers)))
        else:
            out.append(DaemonRun(run.assets, run.tickers, run.months))
    synced = {ticker for run in runs for ticker in run.tickers}
    others = [t for t in sorted(instance.get_dynamic_partitions(TICKER)) if t not in synced]
    gaps = coverage.lacking_in_warehouse(warehouse, "prices", PANEL_ASSET, panel_months, others)
    order = month_partitions.get_partition_keys(current_time=now)
    out += [DaemonRun(run.assets, run.tickers, run.months, reads) for run, reads in panel_runs(gaps, order, read)]
    return out


def panel_runs(need: Mapping[str, set[str]], month_order, read: set[str] | None) -> list[tuple[coverage.SyncRun, bool]]:
    """Ticker -> panel months, packed into runs of the panel alone (coverage.plan_sync), each with whether the
    report reads it: the tickers the report reads apart from the others, whose runs are tagged as unread."""
    out = []
    for reads in (True, False):
        side = {
            ticker: {PANEL_ASSET: months} for ticker, months in need.items() if report_reads(read, [ticker]) == reads
        }
        out += [(run, reads) for run in coverage.plan_sync(side, [PANEL_ASSET], month_order)]
    return out


@dg.sensor(
    name=SYNC_SENSOR_NAME,
    job=SYNC_JOB,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING if automation_enabled() else dg.DefaultSensorStatus.STOPPED,
    description="The market sync (defs/market/sensors.py): runs the daily-bar months a ticker lacks (registered "
    "after they were built) or holds with old corporate actions, for that ticker alone, with its panel rows of "
    "those months. STOPPED unless FINANCE_ASSETS_AUTOMATION=on (like the automation sensor).",
)
def market_sync_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    now = config.settings().now()
    runs = daemon_runs(context.instance, Warehouse(config.warehouse_location()), now, report_tickers())
    if not runs:
        return dg.SkipReason("every stored month holds every ready ticker with its current corporate actions")
    requests = []
    for run in runs:
        # one request per need and day: a failed run is retried the next day, not every tick
        need = f"{now:%Y-%m-%d}|{run.assets}|{run.tickers}|{run.months[0]}|{run.months[-1]}"
        requests.append(
            dg.RunRequest(
                run_key=hashlib.sha256(need.encode()).hexdigest()[:24],
                asset_selection=[dg.AssetKey(a) for a in run.assets],
                tags=run.tags,
            )
        )
    return dg.SensorResult(run_requests=requests)


SENSORS = [market_sync_sensor]
