"""Backfill planning: which partitions still need work, packed into as few Dagster runs as possible.

A partition is *final* when it was materialized after its data stopped changing: after the end of
its time window, or after the latest exchange close for the open month/day. Final partitions are
skipped, so re-running a backfill repeats no work. SEC (per-ticker) partitions are refreshed when
older than `sec_max_age` (a new filing is picked up by the filings sensor in between).

Work is packed into ranges: per-ticker assets in ticker ranges (registration order), month assets in
month ranges. A month run of the daily bars and of the panel processes every registered ticker, or, tagged
with `finance_assets/tickers`, only the tickers that need it (a ticker added later, or one whose corporate
actions changed: lib/coverage.py); `finance-assets update` runs those targeted runs too (`market_sync`), the
panel's for the same tickers and months after them. Report days are refreshed from a panel month on only
when the report reads one of the tickers rewritten there (the holdings and the benchmark): a panel run of
other tickers alone is tagged so that automation leaves the report alone too (lib/partitions.REPORT_READS_TAG).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from finance_assets.defs.market import sensors as market_sync
from finance_assets.lib import config, coverage
from finance_assets.lib.automation import report_reads as _reads
from finance_assets.lib.automation import report_tickers
from finance_assets.lib.coverage import contiguous
from finance_assets.lib.partitions import (
    TICKER,
    TICKERS_TAG,
    month_partitions,
    report_day_partitions,
    run_tags,
)
from finance_assets.lib.selections import ACTIONS, MARKET, PANEL, REPORT, RUN_GROUPS, SEC, SNAPSHOTS, TICKER_MAP
from finance_assets.lib.warehouse import Warehouse, shard_order

NY = "America/New_York"
PANEL_ASSET = "market_panel"  # the panel's month runs are per ticker like the daily bars; fx_rates is not
FX_ASSET = "fx_rates"


@dataclass(frozen=True)
class RunStep:
    label: str
    job: str  # a run group's job (lib/selections.py), e.g. "market_job"
    start_key: str | None
    end_key: str | None
    partition_count: int
    tickers: tuple[str, ...] | None = None  # a month run for these tickers only (None: every registered one)
    assets: tuple[str, ...] | None = None  # a subset of the job's assets (None: all of them)
    report_reads: bool | None = None  # False: a panel run of tickers the report does not read (tagged so)

    @property
    def tags(self) -> dict[str, str]:
        return run_tags(self.start_key, self.end_key, self.tickers, self.report_reads)


def last_close(now: dt.datetime) -> pd.Timestamp:
    """The most recent XNYS close (16:00 New York, or the early close) at or before `now`, in UTC."""
    from finance_assets.lib import market_calendar

    cal = market_calendar.covering()
    stamp = pd.Timestamp(now)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    day = stamp.tz_convert(NY).normalize().tz_localize(None)
    closes = cal.schedule.loc[day - pd.Timedelta(days=14) : day, "close"]
    return closes[closes <= stamp].iloc[-1]


# per asset, the stamp `_materialized_at` read for each partition's latest materialization, by its storage id
STAMPS_KEY = "finance_assets/planning/materialized_at/{asset}"


def _materialized_at(instance: dg.DagsterInstance, asset: str, keys: Sequence[str]) -> dict[str, float]:
    """Latest materialization time per partition key (only keys that have one), by the clock it ran at:
    a month built as of a day before its last close is not final, whatever the machine clock said.

    Reading a record's clock deserializes the whole event (~0.5 ms; ten years of report days are 2,700 per
    asset). A record never changes, so what was read is kept in the instance's key-value store by storage
    id, and only partitions materialized since (a new latest storage id) are read again."""
    key = dg.AssetKey(asset)
    latest_ids = instance.get_latest_storage_id_by_partition(key, dg.DagsterEventType.ASSET_MATERIALIZATION, set(keys))
    if not latest_ids:
        return {}
    stamps_key = STAMPS_KEY.format(asset=asset)
    known = json.loads(instance.run_storage.get_cursor_values({stamps_key}).get(stamps_key) or "{}")
    out = {p: known[p][1] for p, storage_id in latest_ids.items() if p in known and known[p][0] == storage_id}
    unread = [storage_id for p, storage_id in latest_ids.items() if p not in out]
    if not unread:
        return out
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, storage_ids=unread), limit=len(unread)
    )
    for record in result.records:
        # the clock the partition was built at (its `as_of` metadata), else when it was written
        meta = record.asset_materialization.metadata if record.asset_materialization else {}
        as_of = meta.get("as_of")
        out[record.partition_key] = pd.Timestamp(as_of.value).timestamp() if as_of is not None else record.timestamp
        known[record.partition_key] = [record.storage_id, out[record.partition_key]]
    instance.run_storage.set_cursor_values({stamps_key: json.dumps(known, separators=(",", ":"))})
    return out


def _final(
    materialized: dict[str, float], key: str, window_end: pd.Timestamp | None, final_after: pd.Timestamp
) -> bool:
    stamp = materialized.get(key)
    if stamp is None:
        return False
    at = pd.Timestamp(stamp, unit="s", tz="UTC")
    return at >= final_after or (window_end is not None and at >= window_end)


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)] if size > 0 else [items]


def _shard_chunks(tickers: list[str], size: int) -> list[list[str]]:
    """Tickers in shard order cut into runs of at most `size` whole ticker shards: a shard's file of a month is
    then rewritten by one run of the backfill, not by two runs that each hold part of it (100 tickers over ten
    years in 4 runs: 16.2 s of prices writes with a chunk boundary inside shards, 9.8 s for the same files in
    one call). A shard larger than `size` alone is cut into `size` pieces."""
    if size <= 0:
        return [tickers]
    chunks: list[list[str]] = []
    current: list[str] = []
    for _, shard in itertools.groupby(tickers, key=lambda ticker: shard_order(ticker)[0]):
        members = list(shard)
        if current and len(current) + len(members) > size:
            chunks.append(current)
            current = []
        while len(members) > size:
            chunks.append(members[:size])
            members = members[size:]
        current += members
    return [*chunks, current] if current else chunks


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


@dataclass(frozen=True)
class _Scope:
    """What one planning pass looks at: the instance, the tickers and months asked for, and the clock."""

    instance: dg.DagsterInstance
    registered: list[str]
    selected: list[str]
    months: list[str]
    now: dt.datetime
    closed: pd.Timestamp  # the latest exchange close: a partition materialized after it is final
    sec_fresh_after: pd.Timestamp
    force: bool
    chunk: int
    warehouse: Warehouse  # where the coverage and corporate actions the market sync compares are

    def month_end(self, month: str) -> pd.Timestamp:
        return pd.Timestamp(month, tz=NY) + pd.offsets.MonthBegin(1)


def _scope(instance, start, end, tickers, force, chunk_tickers, now, sec_max_age, warehouse=None) -> _Scope:
    registered = list(instance.get_dynamic_partitions(TICKER))
    if not registered:
        raise ValueError("no tickers registered: run `finance-assets register` first")
    selected = list(tickers or registered)
    unknown = [t for t in selected if t not in registered]
    if unknown:
        raise ValueError(f"not registered: {', '.join(unknown)} (run `finance-assets register`)")
    return _Scope(
        instance=instance,
        registered=registered,
        selected=selected,
        months=_month_keys(start, end, now),
        now=now,
        closed=last_close(now),
        sec_fresh_after=pd.Timestamp(now) - sec_max_age,
        force=force,
        chunk=chunk_tickers or max(25, -(-len(selected) // 8)),  # >= 8 progress steps on big universes
        warehouse=warehouse or Warehouse(config.settings().warehouse_location),
    )


def _stale_unpartitioned(scope: _Scope, asset: str, fresh_after: pd.Timestamp | None) -> bool:
    latest = scope.instance.get_latest_materialization_event(dg.AssetKey(asset))
    if scope.force or latest is None:
        return True
    return fresh_after is not None and pd.Timestamp(latest.timestamp, unit="s", tz="UTC") < fresh_after


def ticker_map_steps(scope: _Scope) -> list[RunStep]:
    """The ticker -> CIK map, when older than the SEC refresh age."""
    if not _stale_unpartitioned(scope, TICKER_MAP.assets[0], scope.sec_fresh_after):
        return []
    return [RunStep("ticker_cik_map", TICKER_MAP.job, None, None, 1)]


def sec_tickers_to_refresh(scope: _Scope) -> list[str]:
    need: set[str] = set()
    for asset in SEC.assets:
        stamps = _materialized_at(scope.instance, asset, scope.selected)
        need |= {t for t in scope.selected if scope.force or not _final(stamps, t, None, scope.sec_fresh_after)}
    return sorted(need)


def sec_steps(scope: _Scope, tickers: Sequence[str]) -> list[RunStep]:
    """Per-ticker SEC runs: contiguous ticker ranges in registration order, chunked."""
    return [
        RunStep(f"sec {part[0]}..{part[-1]}", SEC.job, part[0], part[-1], len(part) * len(SEC.assets))
        for run in contiguous(tickers, scope.registered)
        for part in _chunks(run, scope.chunk)
    ]


def snapshot_steps(scope: _Scope, sec_refreshed: bool) -> list[RunStep]:
    """Point-in-time snapshots of every ticker's filings (one table), after any SEC or corporate actions
    refresh (`sec_refreshed`: a split rebases their per-share figures)."""
    if not (sec_refreshed or _stale_unpartitioned(scope, SNAPSHOTS.assets[0], None)):
        return []
    return [RunStep("fundamental_snapshots", SNAPSHOTS.job, None, None, 1)]


def actions_tickers_to_refresh(scope: _Scope) -> list[str]:
    """Tickers whose corporate actions were not read after the latest close (splits and dividends are
    listed from their ex-date's session)."""
    stamps = _materialized_at(scope.instance, ACTIONS.assets[0], scope.selected)
    return [t for t in scope.selected if scope.force or not _final(stamps, t, None, scope.closed)]


def actions_steps(scope: _Scope, tickers: Sequence[str]) -> list[RunStep]:
    return [
        RunStep(f"corporate actions {part[0]}..{part[-1]}", ACTIONS.job, part[0], part[-1], len(part))
        for run in contiguous(tickers, scope.registered)
        for part in _chunks(run, scope.chunk)
    ]


def market_months_to_refresh(
    scope: _Scope, stored_first: dict[str, Sequence[str]] | None = None
) -> dict[str, set[str]]:
    """Ticker -> months to build: months whose market partitions are missing or not final (for every
    selected ticker), and what the market sync finds for a ticker alone (lib/coverage.py), counting the
    filings and corporate actions the plan's earlier runs store (`stored_first`: asset -> tickers) as stored:
    a ticker registered just now gets the months already final for the others in the same backfill."""
    needed: dict[str, set[str]] = defaultdict(set)
    for asset in MARKET.assets:
        stamps = _materialized_at(scope.instance, asset, scope.months)
        for m in scope.months:
            if scope.force or not _final(stamps, m, scope.month_end(m), scope.closed):
                for t in scope.selected:
                    needed[t].add(m)
    for ticker, by_asset in market_sync.sync_need(
        scope.instance, scope.warehouse, scope.selected, stored_first
    ).items():
        needed[ticker] |= set().union(*by_asset.values())
    return needed


def market_steps(scope: _Scope, needed: dict[str, set[str]]) -> list[RunStep]:
    """Month ranges, each run for the tickers needing the same months: one untagged run when that is every
    registered ticker and they fit one chunk, else tagged runs of `scope.chunk` tickers (a run's memory
    grows with its tickers; the coverage tables say which tickers each month holds either way)."""
    return _ticker_month_steps(scope, needed, "market", MARKET.job, MARKET.assets, None)


def _ticker_month_steps(
    scope: _Scope,
    needed: dict[str, set[str]],
    kind: str,
    job: str,
    assets: tuple[str, ...],
    read: set[str] | None,
    targeted_assets: tuple[str, ...] | None = None,
) -> list[RunStep]:
    """`market_steps` for any month asset stored by ticker: an untagged run (the whole job) when every
    registered ticker needs the same months and fits a chunk, else runs tagged with their tickers (of
    `targeted_assets`, default the whole job), each marked with whether the report reads one of them."""
    by_months: dict[frozenset, list[str]] = defaultdict(list)
    for ticker, months in needed.items():
        by_months[frozenset(months)].append(ticker)
    order = month_partitions.get_partition_keys(current_time=scope.now)
    steps = []
    for months, group in sorted(by_months.items(), key=lambda item: sorted(item[0])):
        everyone = set(group) == set(scope.registered) and len(group) <= scope.chunk
        # tickers the report reads and the others in separate runs: only the former's reach the report;
        # chunks in shard order, so each run rewrites its tickers' few shard files of a month, not all 16
        parts = (
            [None]
            if everyone
            else [
                part
                for side in (
                    sorted((t for t in group if _reads(read, [t])), key=shard_order),
                    sorted((t for t in group if not _reads(read, [t])), key=shard_order),
                )
                for part in _shard_chunks(side, scope.chunk)
                if part
            ]
        )
        for month_run in contiguous(sorted(months), order):
            for part in parts:
                who = "all tickers" if part is None else (part[0] if len(part) == 1 else f"{part[0]}..{part[-1]}")
                selected = assets if part is None else (targeted_assets or assets)
                steps.append(
                    RunStep(
                        f"{kind} {who} {month_run[0][:7]}..{month_run[-1][:7]}",
                        job,
                        month_run[0],
                        month_run[-1],
                        len(month_run) * len(selected),
                        tickers=None if part is None else tuple(part),
                        assets=None if selected == assets else selected,
                        report_reads=None if part is None else _reads(read, part),
                    )
                )
    return steps


def panel_gaps(instance: dg.DagsterInstance, warehouse: Warehouse, tickers: Sequence[str]) -> dict[str, set[str]]:
    """Ticker -> stored panel months that lack it while its prices hold it (lib/coverage.py): what a panel run
    for it alone must fill (its follow-up run failed, or the month was stored before the panel held tickers).
    One DuckDB query over the two coverage tables' files (it runs on every quiet round of `update`)."""
    months = instance.get_materialized_partitions(dg.AssetKey(PANEL_ASSET))
    return coverage.lacking_in_warehouse(warehouse, "prices", PANEL_ASSET, months, tickers)


def panel_months_to_refresh(scope: _Scope, market: dict[str, set[str]]) -> dict[str, set[str]]:
    """Ticker -> months of its panel rows to build: months whose panel is missing (for every registered
    ticker) or not final (for every selected one), the months its market rows are refreshed in, and stored
    months lacking it."""
    stamps = _materialized_at(scope.instance, PANEL_ASSET, scope.months)
    stale = {m for m in scope.months if scope.force or not _final(stamps, m, scope.month_end(m), scope.closed)}
    needed: dict[str, set[str]] = defaultdict(set)
    for ticker in scope.registered:
        needed[ticker] |= {m for m in scope.months if m not in stamps}
    for ticker in scope.selected:
        needed[ticker] |= stale
    for ticker, months in market.items():
        needed[ticker] |= months
    for ticker, months in panel_gaps(scope.instance, scope.warehouse, scope.selected).items():
        needed[ticker] |= months
    return {ticker: months for ticker, months in needed.items() if months}


def fx_months_to_refresh(scope: _Scope) -> list[str]:
    stamps = _materialized_at(scope.instance, FX_ASSET, scope.months)
    return [m for m in scope.months if scope.force or not _final(stamps, m, scope.month_end(m), scope.closed)]


def panel_steps(
    scope: _Scope, needed: dict[str, set[str]], fx_months: Sequence[str] = (), read: set[str] | None = None
) -> list[RunStep]:
    """The panel per ticker like the daily bars (market_steps), fx_rates with it in the untagged runs, and
    alone for its other months (it is not stored by ticker)."""
    steps = _ticker_month_steps(scope, needed, "panel", PANEL.job, PANEL.assets, read, (PANEL_ASSET,))
    with_fx = {m for step in steps if step.tickers is None for m in scope.months if step.start_key <= m <= step.end_key}
    steps += [
        RunStep(f"fx {run[0][:7]}..{run[-1][:7]}", PANEL.job, run[0], run[-1], len(run), assets=(FX_ASSET,))
        for run in contiguous([m for m in fx_months if m not in with_fx], scope.months)
    ]
    return steps


def report_months(scope: _Scope, steps: Sequence[RunStep]) -> set[str]:
    """The months of the panel steps whose rows the report reads (every run but a panel run of tickers it
    does not read)."""
    return {
        m
        for step in steps
        if step.report_reads is not False
        for m in scope.months
        if step.start_key <= m <= step.end_key
    }


def report_days_to_refresh(scope: _Scope, panel_months: Iterable[str]) -> list[str]:
    """Weekdays up to the last completed session whose report is missing, not final, or reads a panel
    month that was refreshed: every day from that month on (a report day reads every panel month from
    the history start to its own, as automation follows it)."""
    last_day = scope.closed.tz_convert(NY).strftime("%Y-%m-%d")
    all_days = report_day_partitions.get_partition_keys(current_time=scope.now)
    days = [d for d in all_days if scope.months[0] <= d <= last_day and d[:7] <= scope.months[-1][:7]]
    first_refreshed = min((m[:7] for m in panel_months), default=None)
    need: set[str] = set()
    for asset in REPORT.assets:
        stamps = _materialized_at(scope.instance, asset, days)
        need |= {
            d
            for d in days
            if scope.force
            or (first_refreshed is not None and d[:7] >= first_refreshed)
            or not _final(stamps, d, pd.Timestamp(d, tz=NY) + pd.Timedelta(days=1), scope.closed)
        }
    return [d for d in days if d in need]


def report_steps(scope: _Scope, days: Sequence[str]) -> list[RunStep]:
    order = report_day_partitions.get_partition_keys(current_time=scope.now)
    return [
        RunStep(f"report {run[0]}..{run[-1]}", REPORT.job, run[0], run[-1], len(run) * len(REPORT.assets))
        for run in contiguous(days, order)
    ]


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
    warehouse: Warehouse | None = None,
) -> list[RunStep]:
    """The runs that bring the selected tickers and months up to date, in the run groups' order."""
    now = now or config.settings().now()
    scope = _scope(instance, start, end, tickers, force, chunk_tickers, now, sec_max_age, warehouse)
    sec_tickers = sec_tickers_to_refresh(scope)
    actions_tickers = actions_tickers_to_refresh(scope)
    # the SEC and corporate-actions runs come before the month runs: what they store counts as stored
    market = market_months_to_refresh(
        scope, {**{asset: sec_tickers for asset in SEC.assets}, ACTIONS.assets[0]: actions_tickers}
    )
    panel = panel_steps(scope, panel_months_to_refresh(scope, market), fx_months_to_refresh(scope), report_tickers())
    return [
        *ticker_map_steps(scope),
        *sec_steps(scope, sec_tickers),
        *actions_steps(scope, actions_tickers),
        *snapshot_steps(scope, bool(sec_tickers or actions_tickers)),  # EPS on the basis of the splits read
        *market_steps(scope, market),
        *panel,
        *report_steps(scope, report_days_to_refresh(scope, report_months(scope, panel))),
    ]


def _root_cause(error) -> str:
    """The asset's own exception: Dagster wraps it in 'Error occurred while executing op ...', which
    names neither the source nor the reason."""
    while (error.cls_name or "").startswith("Dagster") and error.cause is not None:
        error = error.cause
    return error.message.strip()


# Dagster's switch (read when a run is created) for one ASSET_MATERIALIZATION_PLANNED event per asset holding the
# run's partition range, instead of one event per partition
PLANNED_AS_SUBSET_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


@contextlib.contextmanager
def _planned_events(tags: dict[str, str]):
    """Creating a targeted month run (a `finance_assets/tickers` tag: months every other ticker already holds),
    one planned event per asset for its whole range. Speed: each event is a few SQLite writes (~0.03 s), and
    adding one ticker over ten years plans 630 month partitions (measured in docs/measurements.md). The months
    are not shown "in progress" while it runs, nor failed if it fails: they stay materialized for every other
    ticker, and what the ticker lacks is found again from the coverage tables (lib/coverage.py). Runs of every
    ticker keep one event per partition."""
    if TICKERS_TAG not in tags:
        yield
        return
    with config.dagster_switch(PLANNED_AS_SUBSET_ENV):
        yield


def run_plan(
    instance: dg.DagsterInstance,
    plan: Sequence[RunStep],
    on_done: Callable[[RunStep], None] | None = None,
    job_for: Callable[[str], dg.ReconstructableJob] | None = None,
    run_config: dict | None = None,
) -> list[str]:
    """Execute each step as one Dagster run (through the configured executor). Returns failed labels.

    `job_for(job_name)` gives the job to run (e.g. `definitions.reconstructable_job` with the caller's
    settings); by default the job built from the environment's settings."""
    from finance_assets import definitions

    failures = []
    for step in plan:
        job = job_for(step.job) if job_for else definitions.reconstructable_job(step.job, config.settings())
        selection = None if step.assets is None else [dg.AssetKey(a) for a in step.assets]
        with (
            _planned_events(step.tags),
            dg.execute_job(
                job,
                instance=instance,
                tags=step.tags,
                run_config=run_config,
                asset_selection=selection,
                raise_on_error=False,
            ) as result,
        ):
            if not result.success:
                failures.append(step.label)
                for event in result.all_events:
                    if event.is_step_failure:
                        print(f"  step failed: {event.step_key}: {_root_cause(event.event_specific_data.error)}")
        if on_done:
            on_done(step)
    return failures


# ---------------------------------------------------------------------------------------------
# finance-assets update: what the automation would run now, run now (one code path with the daemon)

UPDATE_CURSOR_KEY = "finance_assets/update/automation_cursor"


def job_of(asset: str) -> str:
    """The job that runs `asset`: its run group's (lib/selections.py), else its own (definitions.py)."""
    for group in RUN_GROUPS:
        if asset in group.assets:
            return group.job
    return f"{asset}_job"


@dataclass(frozen=True)
class UpdateRun:
    """One run of `update`: assets that were requested for exactly the same partitions, as one range."""

    assets: tuple[str, ...]
    job: str
    start_key: str | None
    end_key: str | None
    partition_count: int
    tickers: tuple[str, ...] | None = None  # a targeted month run (the market sync)
    report_reads: bool | None = None  # False: a panel run of tickers the report does not read (tagged so)

    @property
    def tags(self) -> dict[str, str]:
        return run_tags(self.start_key, self.end_key, self.tickers, self.report_reads)

    @property
    def label(self) -> str:
        where = (
            ""
            if self.start_key is None
            else f" {self.start_key}" + (f"..{self.end_key}" if self.end_key != self.start_key else "")
        )
        who = (
            "" if self.tickers is None else f" for {','.join(self.tickers[:3])}{'...' if len(self.tickers) > 3 else ''}"
        )
        return f"{','.join(self.assets)}{where}{who} ({self.partition_count} partition(s))"


@contextlib.contextmanager
def _dynamic_partitions_read_once(instance: dg.DagsterInstance):
    """Within the block, the instance reads each dynamic partition list (the tickers) once.

    Speed only: while it builds its cursor, `evaluate_automation_conditions` asks the instance for the
    ticker list for every condition node, each time over a new SQLite connection (~4,000 reads and half
    of an evaluation's time on a 6-ticker graph). Nothing adds partitions during an evaluation."""
    own = vars(instance).get("get_dynamic_partitions")  # an instance may already wrap it (tests do)
    read, cache = instance.get_dynamic_partitions, {}

    def read_once(partitions_def_name: str):
        if partitions_def_name not in cache:
            cache[partitions_def_name] = read(partitions_def_name)
        return cache[partitions_def_name]

    instance.get_dynamic_partitions = read_once
    try:
        yield instance
    finally:
        if own is None:
            del instance.get_dynamic_partitions
        else:
            instance.get_dynamic_partitions = own


def evaluate_automation(
    defs: dg.Definitions, instance: dg.DagsterInstance, now: dt.datetime
) -> dict[str, set[str | None]]:
    """The automation conditions (lib/automation.py, attached to `defs`) evaluated at `now` exactly as the
    daemon's automation sensor evaluates them: asset -> requested partition keys (None: unpartitioned).
    The evaluation cursor is kept in the instance between calls."""
    from dagster._serdes import deserialize_value, serialize_value

    stored = instance.run_storage.get_cursor_values({UPDATE_CURSOR_KEY}).get(UPDATE_CURSOR_KEY)
    cursor = deserialize_value(stored) if stored else None
    with _dynamic_partitions_read_once(instance):
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=now, cursor=cursor)
    instance.run_storage.set_cursor_values({UPDATE_CURSOR_KEY: serialize_value(result.cursor)})
    requested: dict[str, set[str | None]] = {}
    for key in defs.resolve_asset_graph().toposorted_asset_keys:
        partitions = result.get_requested_partitions(key)
        if partitions:
            requested[key.to_user_string()] = {None if p is None else str(p) for p in partitions}
    return requested


def update_runs(
    requested: dict[str, set[str | None]], defs: dg.Definitions, instance: dg.DagsterInstance, now: dt.datetime
) -> list[UpdateRun]:
    """The requests packed into runs: assets asked for the same partitions run together (so Dagster sees
    an input and its reader updated by one run, as after a daemon backfill), each partition set as
    ranges, upstream asset sets first. Month runs process every registered ticker (no tickers tag)."""
    graph = defs.resolve_asset_graph()
    order = {key.to_user_string(): i for i, key in enumerate(graph.toposorted_asset_keys)}
    registered = list(instance.get_dynamic_partitions(TICKER))
    by_partitions: dict[tuple, set[str | None]] = {}
    runs: list[UpdateRun] = []
    for asset, keys in requested.items():
        pdef = graph.get(dg.AssetKey(asset)).partitions_def
        by_partitions.setdefault((id(pdef), frozenset(keys)), set()).add(asset)
    sets: dict[tuple, tuple[tuple[str, ...], set]] = {}
    for (pdef_id, keys), assets in by_partitions.items():
        for job in {job_of(a) for a in assets}:  # a run is one job's
            members = [a for a in assets if job_of(a) == job]
            sets[(pdef_id, keys, job)] = (tuple(sorted(members, key=order.__getitem__)), set(keys))
    for assets, keys in _upstream_first(list(sets.values()), graph, order):
        pdef = graph.get(dg.AssetKey(assets[0])).partitions_def
        runs += _ranges(assets, keys, pdef, registered, now)
    return runs


def _upstream_first(sets: list, graph, order: dict[str, int]) -> list:
    """The asset sets ordered so that each comes after every set holding an ancestor of one of its assets
    (fx_rates shares the panel's run, which must come after the prices the panel reads; the SEC run
    before the headlines that read its filings), else by the graph's order. Running a reader before its
    input would also hide the input's update from automation's next evaluation."""
    of = _ancestry(graph)
    pending = sorted(sets, key=lambda item: [order[a] for a in item[0]])
    done: list = []
    while pending:
        ready = [
            item
            for item in pending
            if not any(
                other is not item and set(other[0]) & set().union(*(of(a) for a in item[0])) for other in pending
            )
        ]
        chosen = ready[0] if ready else pending[0]  # a cycle between sets: the graph's order decides
        done.append(chosen)
        pending.remove(chosen)
    return done


def behind_upstream_runs(
    requested: dict[str, set[str | None]], graph
) -> tuple[dict[str, set[str | None]], dict[str, set[str | None]]]:
    """(the requests run this round, those that wait for the next): a job's requests wait while one of its
    assets has an ancestor requested in another job. Its run would otherwise read inputs about to change: a
    report day built in the round that refreshes the corporate actions is built again once the snapshots follow
    the actions (a round later), and once more for the panel. Waiting, it runs once, after all of them. A
    waiting request is kept by `update` (the conditions count it as handled and do not ask again). A job waits
    as a whole (fx_rates stays in the panel's run); jobs waiting on each other run in the graph's order."""
    of = _ancestry(graph)
    waiting_jobs = {
        job_of(asset) for asset in requested if any(a in requested and job_of(a) != job_of(asset) for a in of(asset))
    }
    now = {asset: keys for asset, keys in requested.items() if job_of(asset) not in waiting_jobs}
    if not now:
        return requested, {}
    return now, {asset: keys for asset, keys in requested.items() if job_of(asset) in waiting_jobs}


def _ancestry(graph) -> Callable[[str], set[str]]:
    """asset -> every asset upstream of it (memoized)."""
    ancestors: dict[str, set[str]] = {}

    def of(asset: str) -> set[str]:
        if asset not in ancestors:
            parents = {p.to_user_string() for p in graph.get(dg.AssetKey(asset)).parent_keys}
            ancestors[asset] = parents.union(*(of(p) for p in parents)) if parents else set()
        return ancestors[asset]

    return of


def _ranges(assets, keys, pdef, registered: list[str], now: dt.datetime) -> list[UpdateRun]:
    if pdef is None:
        return [UpdateRun(assets, job_of(assets[0]), None, None, 1)]
    order = registered if isinstance(pdef, dg.DynamicPartitionsDefinition) else pdef.get_partition_keys(now)
    return [UpdateRun(assets, job_of(assets[0]), run[0], run[-1], len(run)) for run in contiguous(list(keys), order)]


def market_sync_runs(instance: dg.DagsterInstance, warehouse: Warehouse, now: dt.datetime) -> list[RunStep]:
    """The market sync's targeted month runs (defs/market/sensors.py), as run steps, then the panel's for
    the same tickers and months (it reads them) and for the stored panel months a ticker lacks."""
    runs = market_sync.sync_runs(instance, warehouse, now)
    steps = [
        RunStep(
            run.label,
            MARKET.job,
            run.months[0],
            run.months[-1],
            len(run.months) * len(run.assets),
            tickers=run.tickers,
            assets=run.assets,
        )
        for run in runs
    ]
    # stored panel months only: a missing one is built for every ticker (automation, backfill), never for some
    stored = set(instance.get_materialized_partitions(dg.AssetKey(PANEL_ASSET)))
    need: dict[str, set[str]] = defaultdict(set)
    for run in runs:
        for ticker in run.tickers:
            need[ticker] |= set(run.months) & stored
    for ticker, months in panel_gaps(instance, warehouse, instance.get_dynamic_partitions(TICKER)).items():
        need[ticker] |= months
    return steps + panel_sync_steps(need, month_partitions.get_partition_keys(current_time=now), report_tickers())


def panel_sync_steps(need: dict[str, set[str]], month_order: Sequence[str], read: set[str] | None) -> list[RunStep]:
    """Ticker -> panel months, packed into targeted runs (coverage.plan_sync) of the panel alone; the tickers
    the report reads apart from the others, whose runs are tagged as unread (the report is not recomputed)."""
    return [
        RunStep(
            run.label,
            PANEL.job,
            run.months[0],
            run.months[-1],
            len(run.months),
            tickers=run.tickers,
            assets=(PANEL_ASSET,),
            report_reads=reads,
        )
        for run, reads in market_sync.panel_runs(need, month_order, read)
    ]


def _execute(instance, job, tags, assets, run_config, label, echo) -> bool:
    selection = [dg.AssetKey(a) for a in assets]
    with (
        _planned_events(tags),
        dg.execute_job(
            job, instance=instance, tags=tags, run_config=run_config, asset_selection=selection, raise_on_error=False
        ) as result,
    ):
        ok = result.success
        if not ok:
            for event in result.all_events:
                if event.is_step_failure:
                    echo(f"  step failed: {event.step_key}: {_root_cause(event.event_specific_data.error)}")
    echo(f"ran {label}" + ("" if ok else " FAILED"))
    return ok


def update(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    now: dt.datetime,
    job_for: Callable[[str], dg.ReconstructableJob],
    run_config: dict | None = None,
    max_rounds: int = 12,
    echo: Callable[[str], None] = print,
    stopped: Callable[[], bool] = lambda: False,
    warehouse: Warehouse | None = None,
) -> tuple[list[UpdateRun], list[str]]:
    """Bring the warehouse up to date as of `now`: evaluate the automation conditions, run what they
    request, and again until they request nothing (each round sees the previous round's results, as
    the daemon's next tick would). Returns the runs and the labels of failed ones. Once `stopped()`
    (asked after each run: the CLI's Ctrl-C or SIGTERM), no other run starts. `warehouse`: the one the market
    sync reads (default: the settings' own; a caller whose definitions write elsewhere passes theirs)."""
    done: list[UpdateRun] = []
    failures: list[str] = []
    warehouse = warehouse or Warehouse(config.settings().warehouse_location)
    waiting: dict[str, set[str | None]] = {}
    for _ in range(max_rounds):
        requested = evaluate_automation(defs, instance, now)
        for asset, keys in waiting.items():  # requested in an earlier round: the conditions count them as handled
            requested.setdefault(asset, set()).update(keys)
        requested, waiting = behind_upstream_runs(requested, defs.resolve_asset_graph())
        if requested:
            runs = update_runs(requested, defs, instance, now)
        else:
            # Once the conditions are quiet: what a month lacks for single tickers (a new ticker, changed
            # corporate actions), the daily bars' runs, then the panel's for the same tickers (updated after
            # its inputs, the panel is not rebuilt for every ticker by the conditions' next evaluation). Not
            # in the same round as the conditions' runs: Dagster's "since last handled" cannot tell an input
            # updated after its reader from one updated before it when both happened since the previous
            # evaluation, so a reader built earlier in the round would miss it.
            runs = [
                UpdateRun(
                    step.assets,
                    step.job,
                    step.start_key,
                    step.end_key,
                    step.partition_count,
                    step.tickers,
                    step.report_reads,
                )
                for step in market_sync_runs(instance, warehouse, now)
            ]
            if not runs:
                break
        for run in runs:
            if not _execute(instance, job_for(run.job), run.tags, run.assets, run_config, run.label, echo):
                failures.append(run.label)
            done.append(run)
            if stopped():
                return done, failures
        if failures and not waiting:
            # failed partitions are retried by the conditions' daily rule, not in a loop here; requests waiting
            # behind a failed run still run, with their inputs as they are (as in the failed run's round before)
            break
    else:
        echo(f"stopped after {max_rounds} rounds: the conditions still request work")
    return done, failures
