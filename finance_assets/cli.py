"""`finance-assets`: the common flows without the UI.

  finance-assets register [--portfolio data/portfolio.csv] [--benchmark DEMOIDX]
  finance-assets backfill [--start 2024-11] [--end 2026-11] [--tickers A,B] [--force]
  finance-assets update                   bring everything up to date as of the clock (--as-of), deciding
                                          what to run with the automation's own conditions
  finance-assets demo                     register the demo universe and backfill its history (from
                                          FINANCE_ASSETS_HISTORY_START; demo mode: 2025-01)
  finance-assets report                   where the latest report is
  finance-assets catalog                  (re)create the DuckDB views and show an example query

Every setting (environment, docs/configuration.md) and every option is checked before any work
starts; a bad one ends the command with one line naming it, the value and what is accepted. The
settings are then passed explicitly: the CLI never writes the project's environment variables (planning.run_plan
sets Dagster's own DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS while it creates a targeted month run).

Backfills run as few Dagster runs as possible (one per partition scheme and range, in chunks of
tickers for a progress line), skip partitions already materialized after their data was final,
and share one warm Dask cluster across all runs of the invocation.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import importlib
import logging
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import finance_assets
from finance_assets.lib import config
from finance_assets.lib.config import Settings, SettingsError

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


class CliError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Inputs: everything checked before any work starts


@dataclass(frozen=True)
class Request:
    """One command with its validated settings and options."""

    command: str
    settings: Settings
    verbose: bool = False
    portfolio: Path | None = None
    benchmark: str | None = None
    check_known: bool = True
    start: str | None = None
    end: str | None = None
    tickers: tuple[str, ...] | None = None
    force: bool = False
    chunk_tickers: int = 0
    years: int | None = None  # demo: only the last N years of the history (default: all of it)


def _ticker_option(name: str, raw: str) -> str:
    from finance_assets.lib.tickers import normalize_ticker

    try:
        return normalize_ticker(raw)
    except ValueError as exc:
        raise CliError(f"{name} {raw!r}: {str(exc).split(': ', 1)[-1]}") from None


def _month_option(name: str, raw: str | None, settings: Settings, today: dt.date) -> str | None:
    if raw is None:
        return None
    first, last = settings.history_start[:7], f"{today.year:04d}-{today.month:02d}"
    if not _MONTH.fullmatch(raw.strip()):
        raise CliError(f"{name} {raw!r} is not valid: expected a month as YYYY-MM between {first} and {last}")
    value = raw.strip()
    if not first <= value <= last:
        raise CliError(
            f"{name} {raw!r} is out of range: expected a month between {first} (FINANCE_ASSETS_HISTORY_START) "
            f"and {last}"
        )
    return value


def validate(args: argparse.Namespace, environ: dict | None = None, today: dt.date | None = None) -> Request:
    """Settings from the environment plus the options, all checked; raises SettingsError / CliError."""
    settings = Settings.from_env(environ)
    if getattr(args, "as_of", None):
        settings = settings.replace(as_of=args.as_of)  # --as-of wins over FINANCE_ASSETS_AS_OF
    today = today or settings.now().astimezone(dt.timezone(dt.timedelta(0))).date()
    if getattr(args, "executor", None):
        settings = settings.replace(executor=args.executor)
    request = Request(args.command, settings, verbose=args.verbose)
    if args.command in ("register", "backfill", "demo", "catalog", "update", "migrate-warehouse"):
        settings.check_writable()
    if args.command in ("register", "backfill", "demo", "update"):
        settings.check_live_credentials()
    chunk = getattr(args, "chunk_tickers", 0)
    if chunk < 0:
        raise CliError(f"--chunk-tickers {chunk} is not valid: expected 0 (automatic) or a positive number")
    if args.command == "register":
        portfolio = (args.portfolio or settings.portfolio).expanduser().resolve()
        benchmark = _ticker_option("--benchmark", args.benchmark) if args.benchmark else settings.benchmark
        return _with(
            request,
            portfolio=_existing_file("--portfolio", portfolio),
            benchmark=benchmark,
            check_known=not args.unchecked,
        )
    if args.command == "backfill":
        start = _month_option("--start", args.start, settings, today)
        end = _month_option("--end", args.end, settings, today)
        if start and end and start > end:
            raise CliError(f"--start {start} is after --end {end}: expected start <= end")
        tickers = None
        if args.tickers is not None:
            names = [t for t in args.tickers.split(",") if t.strip()]
            if not names:
                raise CliError(f"--tickers {args.tickers!r} is not valid: expected comma-separated tickers, e.g. A,B")
            tickers = tuple(dict.fromkeys(_ticker_option("--tickers", t) for t in names))
        return _with(request, start=start, end=end, tickers=tickers, force=args.force, chunk_tickers=chunk)
    if args.command == "demo":
        if settings.mode != "demo":
            raise CliError(
                "FINANCE_ASSETS_MODE='live': `finance-assets demo` runs on the offline demo source; "
                "expected FINANCE_ASSETS_MODE=demo (or unset)"
            )
        most = max(1, today.year - int(settings.history_start[:4]))
        if args.years is not None and not 1 <= args.years <= most:
            raise CliError(
                f"--years {args.years} is not valid: expected 1 to {most} (history starts {settings.history_start[:7]})"
            )
        if demo_start(settings, args.years, today) > f"{today.year:04d}-{today.month:02d}":
            raise CliError(
                f"the clock ({today}) is before the history start {settings.history_start[:7]} "
                "(FINANCE_ASSETS_HISTORY_START): expected a clock (--as-of) in or after that month"
            )
        return _with(
            request,
            portfolio=_existing_file("FINANCE_ASSETS_PORTFOLIO", settings.portfolio),
            chunk_tickers=chunk,
            years=args.years,
        )
    return request


def _with(request: Request, **changes) -> Request:
    from dataclasses import replace

    return replace(request, **changes)


def _existing_file(name: str, path: Path) -> Path:
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise CliError(f"{name} {str(path)!r} {what}: expected a holdings CSV (see data/portfolio.csv)")
    return path


# ---------------------------------------------------------------------------------------------
# Dagster instance, Dask cluster


def open_instance(settings: Settings):
    """The Dagster instance in settings.dagster_home (created with the project's dagster.yaml)."""
    import dagster as dg

    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    yaml_src = settings.home / "dagster.yaml"
    if not (home / "dagster.yaml").exists() and yaml_src.exists():
        (home / "dagster.yaml").write_text(yaml_src.read_text())
    return dg.DagsterInstance.from_config(str(home))


# the commands that run steps on the CLI's own local Dask cluster (`dask_cluster`)
CLUSTER_COMMANDS = ("backfill", "update", "demo")


@contextlib.contextmanager
def dask_cluster(settings: Settings) -> Iterator[Settings]:
    """One warm local Dask cluster for every run of this invocation (unless one is configured).
    Yields the settings with the cluster's address."""
    if settings.executor != "dask" or settings.dask_scheduler_address:
        yield settings
        return
    from finance_assets.lib.executor import local_cluster

    workers = max(1, min(os.cpu_count() or 1, 8))
    with local_cluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
    ) as cluster:
        _warm_workers(cluster)
        yield settings.replace(dask_scheduler_address=cluster.scheduler_address)


@contextlib.contextmanager
def dask_cluster_on_first_use(settings: Settings) -> Iterator[Callable[[], Settings]]:
    """`dask_cluster`, started the first time its settings are asked for and closed at the block's end:
    an update with nothing to run starts no cluster (its start is ~1.3 s on 2 cores)."""
    with contextlib.ExitStack() as stack:
        started: list[Settings] = []

        def run_settings() -> Settings:
            if not started:
                started.append(stack.enter_context(dask_cluster(settings)))
            return started[0]

        yield run_settings


def _warm_workers(cluster) -> None:
    """Import the definitions on every worker now, in parallel, rather than in each worker's first step:
    otherwise the first run's steps start seconds apart (one worker still importing) and the SEC
    run's two fetching steps (filings, xbrl_facts) do not overlap from the start."""
    from distributed import Client

    from finance_assets.lib.executor import drop_heartbeats_to_a_closed_scheduler, remember_worker_group

    with Client(cluster) as client:
        with contextlib.suppress(Exception):  # an optimization only
            client.run(importlib.import_module, "finance_assets.definitions")
        with contextlib.suppress(Exception):  # without it, Ctrl-C prints a traceback per worker
            for group in client.run(_leave_terminal_process_group).values():
                remember_worker_group(group)  # ended with the forkserver, whatever the steps left in it
        with contextlib.suppress(Exception):  # a heartbeat racing the scheduler's close on Ctrl-C
            client.run(drop_heartbeats_to_a_closed_scheduler)


def _leave_terminal_process_group() -> int:
    """On each Dask worker: a process group of its own (and of the processes its steps start), so Ctrl-C
    at the terminal, which signals the whole foreground group, reaches only the CLI; the CLI stops and
    closes the cluster. Otherwise every worker dies of its own KeyboardInterrupt and prints it. Returns the group."""
    os.setpgid(0, 0)
    return os.getpgid(0)


# ---------------------------------------------------------------------------------------------
# register


def _price_history(prices_source, ticker: str, today: dt.date) -> bool:
    quiet = logging.getLogger("finance_assets")
    level, quiet.level = quiet.level, logging.CRITICAL  # each provider's 404 is the expected answer here
    try:
        bars = prices_source.daily_bars(ticker, today - dt.timedelta(days=21), today + dt.timedelta(days=1))
    except Exception:  # noqa: BLE001 - every provider failed: no price history from the source
        return False
    finally:
        quiet.setLevel(level)
    return len(bars) > 0


def unknown_tickers(settings: Settings, tickers: Sequence[str], today: dt.date | None = None) -> list[str]:
    """Tickers neither in the SEC ticker map nor with recent price history from the price source."""
    import dagster as dg

    from finance_assets.definitions import build_resources
    from finance_assets.defs.sec import edgar

    today = today or settings.now().date()
    resources = build_resources(settings)
    with dg.build_resources({k: resources[k] for k in ("sec", "prices_source")}) as built:
        try:
            raw = built.sec.company_tickers()
        except Exception as exc:  # noqa: BLE001 - SEC down: the price source alone decides
            print(f"warning: SEC ticker map unavailable ({type(exc).__name__}); checking prices only", file=sys.stderr)
            in_sec_map = set()
        else:
            parse = edgar.parse_company_tickers_exchange if "fields" in raw else edgar.parse_company_tickers
            in_sec_map = set(parse(raw)["ticker"])
        return [t for t in tickers if t not in in_sec_map and not _price_history(built.prices_source, t, today)]


def register(settings: Settings, portfolio: Path, benchmark: str | None, check_known: bool = True) -> list[str]:
    from finance_assets.lib.holdings_file import read_portfolio
    from finance_assets.lib.partitions import TICKER

    holdings = read_portfolio(portfolio)
    tickers = list(dict.fromkeys([*holdings["ticker"], *([benchmark] if benchmark else [])]))
    if check_known:
        unknown = unknown_tickers(settings, tickers)
        if unknown:
            where = "the demo source" if settings.mode == "demo" else "SEC and the price providers"
            raise CliError(
                f"unknown ticker(s) {', '.join(unknown)} in {portfolio}"
                + (" or the benchmark" if benchmark in unknown else "")
                + f": not in the SEC ticker map and no price history from {where}; nothing registered"
            )
    instance = open_instance(settings)
    existing = set(instance.get_dynamic_partitions(TICKER))
    new = [t for t in tickers if t not in existing]
    if new:
        instance.add_dynamic_partitions(TICKER, new)
    print(
        f"registered {len(new)} new ticker(s) ({', '.join(new) or 'none'}); "
        f"{len(existing) + len(new)} ticker partitions in total"
    )
    return tickers


# ---------------------------------------------------------------------------------------------
# backfill with progress


class Progress:
    """One line per run (updated in place while it runs) and a total with done/total partitions and an
    ETA (lib/progress.py: each job's cost learned from this instance's earlier runs of it, else the
    hand-fitted table; rescaled by the speed of the runs finished; shown as a countdown that never
    reads 0:00 while a run goes on: "finishing" when only the last run's checks are left)."""

    def __init__(
        self, plan, instance, history_years: float, past_runs=(), console=None, clock=time.monotonic, interrupted=None
    ):
        from rich.console import Console

        from finance_assets.lib.progress import Countdown, EtaEstimator, learned_costs

        self.plan, self.instance, self.clock = list(plan), instance, clock
        self.console = console or Console(stderr=False, highlight=False)
        self.total = sum(s.partition_count for s in self.plan)
        self.estimator = EtaEstimator(
            [(s.job, s.partition_count) for s in self.plan], history_years, learned_costs(past_runs)
        )
        # with every job's cost learned from this machine, an ETA is worth showing from the start
        self.learned = {s.job for s in self.plan} <= {run.job for run in past_runs}
        self.countdown = Countdown()
        self.interrupted = interrupted or (lambda: False)
        self.done = 0
        self.finished_runs = 0
        self._progress = None

    def eta(self) -> float | None:
        """Seconds left as shown, once a run has finished or every job has run before (before that there
        is no measured speed)."""
        if not (self.finished_runs or self.learned):
            return None
        now = self.clock()
        return self.countdown.show(self.estimator.remaining(now), now)

    def eta_text(self) -> str:
        remaining = self.eta()
        if remaining is None:
            return "ETA --"
        if self.estimator.finishing():
            return "ETA finishing"
        return f"ETA {_seconds(remaining, at_least=1 if remaining > 0 else 0)}"  # 0:00 once all have finished

    @contextlib.contextmanager
    def live(self) -> Iterator[Progress]:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._progress = RichProgress(
            TextColumn("{task.description:<34}"),
            BarColumn(bar_width=12),
            MofNCompleteColumn(),
            TextColumn("partitions"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[eta]}"),
            console=self.console,
            transient=False,
        )
        self._overall = self._progress.add_task("total", total=self.total, eta=self.eta_text())
        # above rich's own stderr proxy, which prints to the console
        with self._progress, _quiet_once_interrupted(self.interrupted):
            yield self

    def run_step(self, step, run):
        """Run `step` via `run()`, moving its line as its partitions are materialized. A run that Ctrl-C
        interrupted is not marked done: KeyboardInterrupt instead of its result."""
        task = self._progress.add_task(step.label, total=step.partition_count, eta="")
        index = self.plan.index(step)
        self.estimator.start(index, self.clock())
        stop = threading.Event()
        cursor = self._latest_storage_id()

        def poll() -> None:
            while not stop.wait(1.0):
                with contextlib.suppress(Exception):  # progress is best effort, the run is not
                    n = min(self._materialized_since(cursor), step.partition_count)
                    self.estimator.progress(index, n, self.clock())
                    self._update(step, task, n)

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        try:
            failures = run()
        finally:
            stop.set()
            watcher.join()
        if self.interrupted():
            raise KeyboardInterrupt
        self.estimator.finish(index, self.clock())
        self.done += step.partition_count
        self.finished_runs += 1
        self._update(None, task, step.partition_count)
        return failures

    def _update(self, step, task, n: int) -> None:
        self._progress.update(task, completed=n)
        self._progress.update(self._overall, completed=self.done + (n if step else 0), eta=self.eta_text())

    def _latest_storage_id(self) -> int:
        import dagster as dg

        result = self.instance.event_log_storage.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_MATERIALIZATION), limit=1, ascending=False
        )
        return result[0].storage_id if result else 0

    def _materialized_since(self, cursor: int) -> int:
        import dagster as dg

        records = self.instance.event_log_storage.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_MATERIALIZATION, after_cursor=cursor),
            limit=100_000,
        )
        return len(records)


def _key_form(key: str | None) -> tuple[str, ...]:
    """The form of a run's partition key: per dimension, a month/day or a name ("2025-01|ACMQ" ->
    ("date", "name")). Costs are learned only from runs whose keys have the plan's form: a job whose
    partition scheme changed starts afresh."""
    if key is None:
        return ()
    return tuple("date" if re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", part) else "name" for part in key.split("|"))


def past_runs(instance, plan) -> list:
    """progress.PastRun for the newest successful runs (progress.HISTORY_RUNS) of each job in `plan`
    whose partition keys have the plan's form: what the ETA learns each job's cost from."""
    import dagster as dg
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_START_TAG, PARTITION_NAME_TAG

    from finance_assets.lib.progress import HISTORY_RUNS, PastRun

    forms: dict[str, tuple[str, ...]] = {}
    for step in plan:
        forms.setdefault(step.job, _key_form(step.start_key))
    found = []
    for job, form in forms.items():
        records = instance.get_run_records(
            dg.RunsFilter(job_name=job, statuses=[dg.DagsterRunStatus.SUCCESS]), limit=4 * HISTORY_RUNS
        )
        kept = 0
        for record in records:  # newest first
            tags = record.dagster_run.tags
            key = tags.get(ASSET_PARTITION_RANGE_START_TAG, tags.get(PARTITION_NAME_TAG))
            if kept == HISTORY_RUNS or record.end_time is None or _key_form(key) != form:
                continue
            materialized = instance.get_records_for_run(
                record.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=1_000_000
            ).records
            if materialized:
                # from its creation, as the progress line counts: a big run spends half a minute before
                # it starts (the market run: 29 s of 202)
                created = record.create_timestamp.timestamp()
                seconds = [event.timestamp - created for event in materialized]
                found.append(PastRun.from_times(job, record.end_time - created, seconds))
                kept += 1
    return found


INTERRUPTED = "interrupted; the warehouse keeps every completed run; re-run to continue"
TERMINATED = "terminated (SIGTERM); the warehouse keeps every completed run; re-run to continue"


class Stopped(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM stopped the command: the run in progress ended as Dagster ends an interrupted
    run (failed), no other run started. The exit code is the shell's 128 + the signal's number: 130 after
    Ctrl-C, 143 after SIGTERM (what a job scheduler or a time budget sends)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def line(self) -> str:
        return TERMINATED if self.signum == signal.SIGTERM else INTERRUPTED


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _interrupt_watch() -> Iterator[Callable[[], bool]]:
    """Yields `interrupted()`: whether Ctrl-C or SIGTERM arrived since; the block's KeyboardInterrupt leaves it
    as `Stopped`, naming the signal.

    Dagster catches both during a run (it maps SIGTERM to its SIGINT handler, ends the run as failed and
    returns), so no KeyboardInterrupt reaches the CLI from there: the caller asks `interrupted()` after each
    run (the signal wakeup fd records every signal whichever Python handler is installed). Between runs
    SIGTERM raises KeyboardInterrupt like Ctrl-C, rather than Python's default of ending the process without
    a word; Dagster's run may leave SIGTERM ignored after it (it copies SIGINT's handler, which a background
    process inherits ignored), so `interrupted()` restores that between runs. SIGINT is Python's
    KeyboardInterrupt within the block even in a process started in the background."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    previous = signal.set_wakeup_fd(write_end)
    previous_sigterm = signal.signal(signal.SIGTERM, signal.default_int_handler)
    # a process started in the background inherits SIGINT ignored (Python then keeps it so): `kill -INT` stops the
    # command all the same, as Ctrl-C does in a terminal
    previous_sigint = signal.signal(signal.SIGINT, signal.default_int_handler)
    received: int | None = None

    def interrupted() -> bool:
        nonlocal received
        if received is None:
            with contextlib.suppress(BlockingIOError):
                received = next((s for s in os.read(read_end, 1024) if s in STOP_SIGNALS), None)
        on_main = threading.current_thread() is threading.main_thread()
        if on_main and signal.getsignal(signal.SIGTERM) in (signal.SIG_IGN, signal.SIG_DFL):
            signal.signal(signal.SIGTERM, signal.default_int_handler)  # between runs: see above
        return received is not None

    try:
        yield interrupted
    except KeyboardInterrupt as exc:
        if isinstance(exc, Stopped):
            raise
        interrupted()
        raise Stopped(received or signal.SIGINT) from None
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        signal.signal(signal.SIGINT, previous_sigint)
        signal.set_wakeup_fd(previous)
        os.close(read_end)
        os.close(write_end)


@contextlib.contextmanager
def _quiet_once_interrupted(interrupted: Callable[[], bool]) -> Iterator[None]:
    """Within the block, what is written to stderr is dropped once `interrupted()`: Dagster's console logger
    would print the interrupted run's failure with a traceback (its event keeps it in the instance: the UI
    shows it), and the command ends with one line."""
    stderr = sys.stderr
    sys.stderr = _SilencedOnce(stderr, interrupted)
    try:
        yield
    finally:
        sys.stderr = stderr


class _SilencedOnce:
    """A stream that forwards to `stream` until `silenced()` is true, then drops what is written
    (Dagster's coloredlogs handler looks up sys.stderr at each record, so this reaches it)."""

    def __init__(self, stream, silenced: Callable[[], bool]):
        self._stream, self._silenced = stream, silenced

    def write(self, text: str) -> int:
        return len(text) if self._silenced() else self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _history_years(settings: Settings) -> float:
    """Years from the history start to the clock: the SEC documents' window (lib/progress.py)."""
    start = dt.datetime.fromisoformat(settings.history_start).replace(tzinfo=dt.UTC)
    return max((settings.now() - start).days / 365.25, 0.0)


def _seconds(seconds: float, at_least: int = 0) -> str:
    seconds = max(at_least, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _describe_plan(plan) -> str:
    from collections import Counter

    kinds = Counter(step.job.removesuffix("_job") for step in plan)
    total = sum(step.partition_count for step in plan)
    return f"plan: {len(plan)} run(s) ({', '.join(f'{k} x{n}' for k, n in kinds.items())}), {total} asset partitions"


def backfill(
    settings: Settings,
    start: str | None,
    end: str | None,
    tickers: Sequence[str] | None,
    force: bool = False,
    chunk_tickers: int = 0,
    verbose: bool = False,
) -> dict:
    from finance_assets.definitions import reconstructable_job
    from finance_assets.planning import plan_backfill, run_plan

    instance = open_instance(settings)
    plan = plan_backfill(
        instance,
        start=start,
        end=end,
        tickers=list(tickers) if tickers else None,
        force=force,
        chunk_tickers=chunk_tickers,
        now=settings.now(),
    )
    if not plan:
        print("nothing to do: every partition in the range is materialized and final")
        return {"runs": 0, "partitions": 0}
    total = sum(step.partition_count for step in plan)
    print(_describe_plan(plan))
    log_level = "DEBUG" if verbose else "WARNING"
    t0 = time.monotonic()
    with _interrupt_watch() as interrupted:
        progress = Progress(
            plan,
            instance,
            history_years=_history_years(settings),
            past_runs=past_runs(instance, plan),
            interrupted=interrupted,
        )
        failures: list[str] = []
        with dask_cluster(settings) as run_settings:
            if run_settings.dask_scheduler_address:
                print(f"dask scheduler: {run_settings.dask_scheduler_address}")
            with progress.live():
                for step in plan:
                    failures += progress.run_step(
                        step,
                        lambda step=step: run_plan(
                            instance,
                            [step],
                            job_for=lambda name: reconstructable_job(name, run_settings),
                            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
                        ),
                    )
    elapsed = time.monotonic() - t0
    print(
        f"done: {len(plan)} run(s), {total} asset partitions in {elapsed:.1f}s"
        + (f", {len(failures)} FAILED: {', '.join(failures)}" if failures else "")
    )
    if failures:
        raise CliError("some runs failed; see the Dagster UI (make dev) or the log above")
    return {"runs": len(plan), "partitions": total, "seconds": elapsed}


# ---------------------------------------------------------------------------------------------
# update: the automation's decisions, run now


def update(settings: Settings, verbose: bool = False) -> dict:
    """Evaluate the automation conditions as of the clock, run what they request until they request
    nothing, and print each run (planning.update: the same conditions the daemon evaluates)."""
    from finance_assets.definitions import build_definitions, reconstructable_job
    from finance_assets.lib.partitions import TICKER
    from finance_assets.planning import update as run_update

    instance = open_instance(settings)
    if not instance.get_dynamic_partitions(TICKER):
        raise CliError("no tickers registered: run `finance-assets register` first")
    now = settings.now()
    print(f"update as of {now:%Y-%m-%d %H:%M} UTC" + ("" if settings.as_of else " (now)"))
    log_level = "DEBUG" if verbose else "WARNING"
    t0 = time.monotonic()
    # Ctrl-C or SIGTERM: the run in progress ends (failed, as Dagster ends it), no other run starts, one line
    with _interrupt_watch() as interrupted, _quiet_once_interrupted(interrupted):
        with dask_cluster_on_first_use(settings) as run_settings:
            runs, failures = run_update(
                instance,
                build_definitions(settings),  # evaluated here; the runs' jobs carry the cluster's address
                now,
                job_for=lambda name: reconstructable_job(name, run_settings()),
                run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
                echo=lambda line: None if interrupted() else print(line),  # the interrupted run's failure too
                stopped=interrupted,
            )
        if interrupted():
            raise KeyboardInterrupt
    elapsed = time.monotonic() - t0
    partitions = sum(run.partition_count * len(run.assets) for run in runs)
    print(
        f"done: {len(runs)} run(s), {partitions} asset partitions in {elapsed:.1f}s"
        if runs
        else "nothing to do: the automation conditions request nothing"
    )
    if failures:
        raise CliError(f"{len(failures)} run(s) failed: {', '.join(failures)}")
    return {"runs": len(runs), "partitions": partitions, "seconds": elapsed}


# ---------------------------------------------------------------------------------------------
# report, catalog, demo


def latest_report(settings: Settings) -> Path | None:
    path = settings.reports_dir / "latest.html"
    return path if path.exists() else None


def migrate_warehouse(settings: Settings) -> None:
    from finance_assets.lib.warehouse import Warehouse

    wh = Warehouse(settings.warehouse_location)
    moved = wh.migrate_legacy_layout()
    if not moved:
        print(f"{wh.location}: nothing to migrate (every daily-bar asset is in month-and-shard files)")
        return
    for asset, files in moved.items():
        print(f"{asset}: {files} ticker-year file(s) moved into month-and-shard files")
    wh.refresh_catalog()


def catalog(settings: Settings) -> None:
    from finance_assets.lib.warehouse import Warehouse

    wh = Warehouse(settings.warehouse_location)
    assets = wh.refresh_catalog()
    print(f"DuckDB catalog: {wh.catalog_path}")
    legacy = [asset for asset in assets if wh.legacy_files(asset)]
    if legacy:
        print(
            f"warning: {', '.join(legacy)} still hold files of the layout before month-and-shard files; "
            "run `finance-assets migrate-warehouse` (the runs refuse these assets until then)",
            file=sys.stderr,
        )
    print(f"views: {', '.join(assets) or 'none yet (materialize something first)'}")
    if settings.warehouse_url:
        print(
            f"the views read {settings.warehouse_url}: the duckdb CLI needs LOAD httpfs and an S3 secret first "
            "(docs/object-storage.md); Warehouse(url).connect() reads it without them"
        )
    elif "prices" in assets:
        print(
            f'try: duckdb {wh.catalog_path} -c "SELECT ticker, count(*) AS days, max(date) FROM prices '
            'GROUP BY ticker ORDER BY ticker"'
        )


def demo_start(settings: Settings, years: int | None, today: dt.date) -> str:
    """The demo's first month: the history start, so that every partition the UI shows gets
    materialized; with --years N only the last N years of it."""
    first = settings.history_start[:7]
    return first if years is None else max(first, f"{today.year - years:04d}-{today.month:02d}")


def demo(settings: Settings, years: int | None = None, chunk_tickers: int = 0, verbose: bool = False) -> None:
    today = settings.now().date()
    start = demo_start(settings, years, today)
    print(
        f"demo: offline, simulated data (fictional tickers). Steps: 1. register the tickers in "
        f"{settings.portfolio.name} and {settings.benchmark}; 2. backfill {start}..{today:%Y-%m} "
        f"({settings.executor} executor); 3. DuckDB catalog; 4. summary and report"
    )
    register(settings, settings.portfolio, settings.benchmark)
    backfill(settings, start, None, None, False, chunk_tickers, verbose)
    catalog(settings)
    _print_summary(settings)


def _print_summary(settings: Settings) -> None:
    from finance_assets.lib.warehouse import Warehouse

    wh = Warehouse(settings.warehouse_location)
    con = wh.connect()
    try:
        rows = con.execute("SELECT count(DISTINCT ticker), count(*), min(date), max(date) FROM prices").fetchone()
        print(
            f"\nDEMO DATA (simulated, fictional tickers): prices for {rows[0]} tickers, {rows[1]} daily bars, "
            f"{rows[2]} .. {rows[3]}"
        )
        report = con.execute(
            "SELECT date, total_value, unrealized_pnl, annualized_volatility, sharpe, "
            "max_drawdown FROM portfolio_report ORDER BY date DESC LIMIT 1"
        ).fetchone()
        if report:
            print(
                f"portfolio on {str(report[0])[:10]}: value {report[1]:,.2f}, unrealized P&L {report[2]:,.2f}, "
                f"vol {report[3]:.1%}, Sharpe {report[4]:.2f}, max drawdown {report[5]:.1%}"
            )
    finally:
        con.close()
    path = latest_report(settings)
    print(f"report: {path}" if path else "report: not written yet")


# ---------------------------------------------------------------------------------------------
# main


def quiet_console(verbose: bool) -> None:
    """Without -v: no Dagster Beta/Preview warnings and no DEBUG/INFO log lines in this process."""
    if verbose:
        logging.getLogger("dagster").setLevel(logging.DEBUG)
        warnings.filterwarnings("default", message=finance_assets.QUIET_DAGSTER_WARNINGS)
        return
    import dagster as dg

    for category in (dg.BetaWarning, dg.PreviewWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    for name in ("dagster", "distributed", "finance_assets", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)


def parser() -> argparse.ArgumentParser:
    p0 = argparse.ArgumentParser(prog="finance-assets", description=__doc__.split("\n\n")[0])
    p0.add_argument("-v", "--verbose", action="store_true", help="show Dagster's DEBUG logs and warnings")
    p0.add_argument(
        "--as-of",
        default=None,
        metavar="YYYY-MM-DD[THH:MM]",
        help="the clock of every step (New York time unless an offset is given); default FINANCE_ASSETS_AS_OF, "
        "else now",
    )
    sub = p0.add_subparsers(dest="command", required=True)
    p = sub.add_parser("register", help="register tickers from a portfolio file (+ benchmark)")
    p.add_argument("--portfolio", type=Path, default=None)
    p.add_argument("--benchmark", default=None)
    p.add_argument(
        "--unchecked",
        action="store_true",
        help="register without asking SEC and the price source whether the tickers exist",
    )
    p = sub.add_parser("backfill", help="materialize a date range for some or all tickers")
    p.add_argument("--start", help="first month, YYYY-MM (default: 24 months ago)")
    p.add_argument("--end", help="last month, YYYY-MM (default: the current month)")
    p.add_argument("--tickers", help="comma-separated; default all registered")
    p.add_argument("--force", action="store_true", help="re-materialize even final partitions")
    updater = sub.add_parser(
        "update", help="bring the warehouse up to date as of the clock (the automation's conditions decide)"
    )
    for q in (p, sub.add_parser("demo", help="register the demo universe and backfill it"), updater):
        q.add_argument(
            "--executor", choices=config.EXECUTORS, default=None, help="default: FINANCE_ASSETS_EXECUTOR, else dask"
        )
        q.add_argument(
            "--chunk-tickers", type=int, default=0, help="tickers per run (0 = automatic: ~4 progress steps)"
        )
    sub.choices["demo"].add_argument(
        "--years", type=int, default=None, help="only the last N years of the history (default: from its start)"
    )
    sub.add_parser("report", help="print the path of the latest portfolio report")
    sub.add_parser("catalog", help="(re)create the DuckDB views over the warehouse")
    sub.add_parser(
        "migrate-warehouse",
        help="move daily-bar files of the layout before #17 (a file per ticker and year) into month-and-shard files",
    )
    return p0


def main(argv: list[str] | None = None) -> int:
    from finance_assets.lib.holdings_file import PortfolioError

    args = parser().parse_args(argv)
    try:
        request = validate(args)
    except (SettingsError, CliError, PortfolioError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    quiet_console(request.verbose)
    settings = request.settings
    # the CLI's own local cluster (`dask_cluster`) forks its workers from a server started now
    forkserver = (
        request.command in CLUSTER_COMMANDS and settings.executor == "dask" and not settings.dask_scheduler_address
    )
    if forkserver:
        from finance_assets.lib.executor import start_worker_forkserver

        start_worker_forkserver(["finance_assets.definitions"])  # imports beside this process's planning
    try:
        return _run_command(request)
    finally:
        if forkserver:
            from finance_assets.lib.executor import stop_worker_forkserver

            stop_worker_forkserver()
        if argv is None:  # the command itself, whose process ends now (not a caller's main([...]))
            # The interpreter's exit runs full collections while it clears the modules: ~2 s after a backfill
            # (3.4 -> 1.5 s from the last line to the process's end). Frozen objects are skipped.
            gc.freeze()


def _run_command(request) -> int:
    from finance_assets.lib.holdings_file import PortfolioError

    settings = request.settings
    try:
        if request.command == "register":
            register(settings, request.portfolio, request.benchmark, check_known=request.check_known)
        elif request.command == "backfill":
            backfill(
                settings,
                request.start,
                request.end,
                request.tickers,
                request.force,
                request.chunk_tickers,
                request.verbose,
            )
        elif request.command == "update":
            update(settings, request.verbose)
        elif request.command == "demo":
            demo(settings, request.years, request.chunk_tickers, request.verbose)
        elif request.command == "report":
            path = latest_report(settings)
            if path is None:
                print("no report yet: run `make demo` or `finance-assets backfill`", file=sys.stderr)
                return 1
            print(path)
        elif request.command == "catalog":
            catalog(settings)
        elif request.command == "migrate-warehouse":
            migrate_warehouse(settings)
    except (CliError, SettingsError, PortfolioError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (Stopped): one line, 128 + the signal's number
        stopped = exc if isinstance(exc, Stopped) else Stopped(signal.SIGINT)
        print(stopped.line, file=sys.stderr)
        return stopped.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
