"""Backfill planning: which partitions still need work, packed into as few Dagster runs as possible.

A partition is *final* when it was materialized after its data stopped changing: after the end of
its time window, or after the latest exchange close for the open month/day. Final partitions are
skipped, so re-running a backfill repeats no work. SEC (per-ticker) partitions are refreshed when
older than `sec_max_age` (a new filing is picked up by the filings sensor in between).

Work is packed into rectangles (ticker range x month range): Dagster runs one single-run backfill
per rectangle, and tickers are ranged in their registration order.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg
import pandas as pd
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.lib.partitions import (
    MONTH,
    TICKER,
    month_partitions,
    report_day_partitions,
)

NY = "America/New_York"
MARKET_ASSETS = ("prices", "technicals", "headlines", "sentiment")
SEC_ASSETS = ("filings", "xbrl_facts", "fundamentals")
PANEL_ASSETS = ("market_panel", "fx_rates")  # month partitions, one panel_job run
REPORT_ASSETS = ("portfolio_report", "portfolio_holdings")


@dataclass(frozen=True)
class RunStep:
    label: str
    job: str  # name of a getter in finance_assets.definitions, e.g. "get_market_job"
    start_key: str | None
    end_key: str | None
    partition_count: int


def last_close(now: dt.datetime) -> pd.Timestamp:
    """The most recent XNYS close (16:00 New York, or the early close) at or before `now`, in UTC."""
    import exchange_calendars as xcals

    cal = xcals.get_calendar("XNYS")
    stamp = pd.Timestamp(now)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    day = stamp.tz_convert(NY).normalize().tz_localize(None)
    closes = cal.schedule.loc[day - pd.Timedelta(days=14) : day, "close"]
    return closes[closes <= stamp].iloc[-1]


def _materialized_at(instance: dg.DagsterInstance, asset: str, keys: Sequence[str]) -> dict[str, float]:
    """Latest materialization timestamp per partition key (only keys that have one)."""
    key = dg.AssetKey(asset)
    latest_ids = instance.get_latest_storage_id_by_partition(key, dg.DagsterEventType.ASSET_MATERIALIZATION, set(keys))
    if not latest_ids:
        return {}
    out: dict[str, float] = {}
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, storage_ids=list(latest_ids.values())), limit=len(latest_ids)
    )
    for record in result.records:
        out[record.partition_key] = record.timestamp
    return out


def _final(
    materialized: dict[str, float], key: str, window_end: pd.Timestamp | None, final_after: pd.Timestamp
) -> bool:
    stamp = materialized.get(key)
    if stamp is None:
        return False
    at = pd.Timestamp(stamp, unit="s", tz="UTC")
    return at >= final_after or (window_end is not None and at >= window_end)


def _contiguous(items: Sequence[str], order: Sequence[str]) -> list[list[str]]:
    """Split `items` into runs that are consecutive in `order`."""
    position = {v: i for i, v in enumerate(order)}
    runs: list[list[str]] = []
    for item in sorted(items, key=position.__getitem__):
        if runs and position[item] == position[runs[-1][-1]] + 1:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)] if size > 0 else [items]


def _month_keys(start: str | None, end: str | None, now: dt.datetime) -> list[str]:
    all_keys = month_partitions.get_partition_keys(current_time=now)
    today = pd.Timestamp(now).tz_convert(NY)
    first = f"{start}-01" if start else (today - pd.DateOffset(months=24)).strftime("%Y-%m-01")
    last = f"{end}-01" if end else today.strftime("%Y-%m-01")
    for label, value in (("--start", first), ("--end", last)):
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{label} must be YYYY-MM, got {value[:-3]!r}") from None
    keys = [k for k in all_keys if first <= k <= last]
    if not keys:
        raise ValueError(
            f"no month partitions between {first[:7]} and {last[:7]} "
            f"(history starts {all_keys[0][:7]}, ends {all_keys[-1][:7]})"
        )
    return keys


def plan_backfill(
    instance: dg.DagsterInstance,
    *,
    start: str | None = None,
    end: str | None = None,
    tickers: Sequence[str] | None = None,
    force: bool = False,
    chunk_tickers: int = 0,
    now: dt.datetime | None = None,
    sec_max_age: dt.timedelta = dt.timedelta(hours=24),
) -> list[RunStep]:
    now = now or dt.datetime.now(dt.UTC)
    registered = list(instance.get_dynamic_partitions(TICKER))
    if not registered:
        raise ValueError("no tickers registered: run `finance-assets register` first")
    selected = list(tickers or registered)
    unknown = [t for t in selected if t not in registered]
    if unknown:
        raise ValueError(f"not registered: {', '.join(unknown)} (run `finance-assets register`)")
    chunk = chunk_tickers or max(25, -(-len(selected) // 8))  # >= 8 progress steps on big universes
    closed = last_close(now)
    sec_fresh_after = pd.Timestamp(now) - sec_max_age
    months = _month_keys(start, end, now)
    steps: list[RunStep] = []

    # 1. ticker -> CIK map (unpartitioned)
    latest = instance.get_latest_materialization_event(dg.AssetKey("ticker_cik_map"))
    if force or latest is None or pd.Timestamp(latest.timestamp, unit="s", tz="UTC") < sec_fresh_after:
        steps.append(RunStep("ticker_cik_map", "get_ticker_map_job", None, None, 1))

    # 2. SEC per ticker
    need_sec = set()
    for asset in SEC_ASSETS:
        stamps = _materialized_at(instance, asset, selected)
        need_sec |= {t for t in selected if force or not _final(stamps, t, None, sec_fresh_after)}
    for run in _contiguous(sorted(need_sec), registered):
        for part in _chunks(run, chunk):
            steps.append(
                RunStep(f"sec {part[0]}..{part[-1]}", "get_sec_job", part[0], part[-1], len(part) * len(SEC_ASSETS))
            )
    # 2b. point-in-time snapshots of every ticker's filings (one table), after any SEC refresh
    snapshots = instance.get_latest_materialization_event(dg.AssetKey("fundamental_snapshots"))
    if force or need_sec or snapshots is None:
        steps.append(RunStep("fundamental_snapshots", "get_snapshots_job", None, None, 1))

    # 3. market: ticker x month
    keys = {(t, m): str(dg.MultiPartitionKey({TICKER: t, MONTH: m})) for t in selected for m in months}
    window_end = {m: pd.Timestamp(m, tz=NY) + pd.offsets.MonthBegin(1) for m in months}
    needed: dict[str, set[str]] = defaultdict(set)
    for asset in MARKET_ASSETS:
        stamps = _materialized_at(instance, asset, list(keys.values()))
        for (t, m), key in keys.items():
            if force or not _final(stamps, key, window_end[m], closed):
                needed[t].add(m)
    by_months: dict[frozenset, list[str]] = defaultdict(list)
    for t, ms in needed.items():
        by_months[frozenset(ms)].append(t)
    refreshed_months: set[str] = set()
    for ms, group in by_months.items():
        refreshed_months |= ms
        for month_run in _contiguous(sorted(ms), months):
            for ticker_run in _contiguous(group, registered):
                for part in _chunks(ticker_run, chunk):
                    start_key = keys[(part[0], month_run[0])]
                    end_key = keys[(part[-1], month_run[-1])]
                    steps.append(
                        RunStep(
                            f"market {part[0]}..{part[-1]} {month_run[0][:7]}..{month_run[-1][:7]}",
                            "get_market_job",
                            start_key,
                            end_key,
                            len(part) * len(month_run) * len(MARKET_ASSETS),
                        )
                    )

    # 4. cross-sectional panel per month
    panel_stamps = [_materialized_at(instance, asset, months) for asset in PANEL_ASSETS]
    panel_months = [
        m
        for m in months
        if force
        or m in refreshed_months
        or not all(_final(stamps, m, window_end[m], closed) for stamps in panel_stamps)
    ]
    for run in _contiguous(panel_months, months):
        steps.append(
            RunStep(
                f"panel {run[0][:7]}..{run[-1][:7]}", "get_panel_job", run[0], run[-1], len(run) * len(PANEL_ASSETS)
            )
        )

    # 5. report per weekday, up to the last completed session
    last_day = closed.tz_convert(NY).strftime("%Y-%m-%d")
    all_days = report_day_partitions.get_partition_keys(current_time=now)
    days = [d for d in all_days if months[0] <= d <= last_day and d[:7] <= months[-1][:7]]
    day_end = {d: pd.Timestamp(d, tz=NY) + pd.Timedelta(days=1) for d in days}
    refreshed = {m[:7] for m in panel_months}
    need_days = set()
    for asset in REPORT_ASSETS:
        stamps = _materialized_at(instance, asset, days)
        need_days |= {d for d in days if force or d[:7] in refreshed or not _final(stamps, d, day_end[d], closed)}
    for run in _contiguous(sorted(need_days), days):
        steps.append(
            RunStep(f"report {run[0]}..{run[-1]}", "get_report_job", run[0], run[-1], len(run) * len(REPORT_ASSETS))
        )
    return steps


def _root_cause(error) -> str:
    """The asset's own exception: Dagster wraps it in 'Error occurred while executing op ...', which
    names neither the source nor the reason."""
    while (error.cls_name or "").startswith("Dagster") and error.cause is not None:
        error = error.cause
    return error.message.strip()


def run_plan(
    instance: dg.DagsterInstance,
    plan: Sequence[RunStep],
    on_done: Callable[[RunStep], None] | None = None,
    job_for: Callable[[str], dg.ReconstructableJob] | None = None,
    run_config: dict | None = None,
) -> list[str]:
    """Execute each step as one Dagster run (through the configured executor). Returns failed labels.

    `job_for(job_name)` gives the job to run (e.g. `definitions.reconstructable_job` with the caller's
    settings); by default the getter of the environment's definitions."""
    from finance_assets import definitions

    failures = []
    for step in plan:
        tags = {}
        if step.start_key is not None:
            tags = {ASSET_PARTITION_RANGE_START_TAG: step.start_key, ASSET_PARTITION_RANGE_END_TAG: step.end_key}
        job_name = step.job.removeprefix("get_")
        job = job_for(job_name) if job_for else dg.reconstructable(getattr(definitions, step.job))
        with dg.execute_job(job, instance=instance, tags=tags, run_config=run_config, raise_on_error=False) as result:
            if not result.success:
                failures.append(step.label)
                for event in result.all_events:
                    if event.is_step_failure:
                        print(f"  step failed: {event.step_key}: {_root_cause(event.event_specific_data.error)}")
        if on_done:
            on_done(step)
    return failures
