"""`make bench-scale`: issue #17's scale benchmark, at N = 100, 1,000 and 6,000 demo tickers.

For each N (SCALE_N=100,1000 picks; default all three) a demo universe of N fictional tickers (the 12
demo companies, the benchmark DEMOIDX and N - 13 generated companies DQX01...) is registered with
`finance-assets register` in a temporary Dagster instance, history from 2016-01, and measured through
public entry points only (the CLI's register/backfill/update, planning.plan_backfill / run_plan /
evaluate_automation, Dagster's GraphQL, the warehouse catalog), so it runs on any partition scheme:

  definitions          partitions per asset (at N registered tickers) and the definitions' load time
  planning             plan_backfill, all assets, whole history (nothing built, and again once built)
  automation_missing   one automation evaluation with the whole universe missing (the product's default
                       24-month lookback, as the issue measured it)
  backfill_full        `finance-assets backfill` from 2016-01 (the full 10-year backfill) on its own copy
  backfill_window      the universe built over the last SCALE_WINDOW_MONTHS months (the base of the
                       measures below; filing documents from the window's start, run config)
  update_catch_up      `finance-assets update` right after it, until the conditions request nothing
  automation_noop      one automation evaluation with nothing to do
  graphql              the UI's partition-status query (partitionStats + assetPartitionStatuses), per asset
  cross_section        every ticker's latest close, SMA-50 and P/E as of a day, in DuckDB over the stored
                       files of the 12 months up to it (Warehouse.connect_partitions); the catalog's too
  new_session          `finance-assets update` after the clock moves on by one session
  add_ticker           one more ticker registered, then `finance-assets backfill --tickers X` (10 years)
  orchestration_ratio  corporate actions + prices + technicals over the whole history (over the window above
                       SCALE_FULL_BACKFILL_MAX_N): Dagster runs (dg.materialize, range runs as
                       planned) against the same asset functions called directly, the same IO manager

Every measure runs in a fresh process; its wall time and peak RSS (the largest process of its tree,
from wait4) are recorded, and it is stopped at SCALE_BUDGET_S (default 600 s): then it is recorded
as "> budget" with what it reached. The end-to-end measures that launch runs (backfills, update, new
session, add ticker) also record those runs: job, partition range, tickers tag, wall time, slowest steps.
Results: benchmarks/results/scale-<N>.json and scale.md.

`python -m benchmarks.bench_scale --ratio [START]` measures the orchestration ratio alone (from START,
YYYY-MM, else over the whole history) on a freshly registered universe of each SCALE_N and adds it to
scale-<N>.json.

The demo's requests do not wait for the providers' limits (FINANCE_ASSETS_DEMO_RATES=*=1000; SCALE_DEMO_RATES
sets another value, '-' keeps the live limits). The window is 2 months (the open month and the one before) unless SCALE_WINDOW_MONTHS says otherwise. The
automation lookback (FINANCE_ASSETS_AUTOMATION_LOOKBACK_MONTHS: the open month and that many full months
before it, at least 1) is set to the window less the open month, so that a universe built over the window
is "up to date" for the conditions (with a 1-month window, `update` builds the month before). The full
10-year backfill runs at N <= SCALE_FULL_BACKFILL_MAX_N (default 100) only: beyond, it is not run (said
so in the output).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
BIN = Path(sys.executable).parent

HISTORY_START = "2016-01-01"
AS_OF = "2026-06-10T18:00"  # a Wednesday after the close (New York)
NEXT_SESSION = "2026-06-11T18:00"
CROSS_SECTION_DAY = "2026-06-10"

# issue #17's targets at N = 6,000 x 10 years
TARGETS = {
    "definitions load": "<= 3 s",
    "max partitions per asset": "<= 25,000",
    "automation, nothing to do": "<= 5 s",
    "automation, universe missing": "<= 10 s, <= 2 GiB",
    "backfill planning, whole history": "<= 5 s",
    "full backfill (10 y)": "<= 10 min",
    "orchestrated / bare compute": "<= 1.5x",
    "new session, end to end": "<= 60 s",
    "add one ticker (10 y)": "<= 30 s",
    "UI partition-status query, slowest asset": "<= 1 s",
    "cross-sectional query": "<= 200 ms",
    "peak RSS of any process": "<= 4 GiB",
}

EXTRA_COMPANIES_ENV = "BENCH_SCALE_EXTRA_COMPANIES"
DEMO_RATES = os.environ.get("SCALE_DEMO_RATES", "*=1000")  # FINANCE_ASSETS_DEMO_RATES of the measures


def demo_universe_transport(transport, source_name: str):
    """FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER for the benchmark's processes: the transport unchanged;
    importing this module (which the setting does in every process, Dask workers included) makes the
    demo source serve the generated companies (below)."""
    return transport


if os.environ.get(EXTRA_COMPANIES_ENV):  # in the measured processes: the demo serves the universe
    from finance_assets.demo import source as _demo

    _demo.serve_extra_companies(int(os.environ[EXTRA_COMPANIES_ENV]))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, "") or default)


def sizes() -> list[int]:
    return [int(n) for n in os.environ.get("SCALE_N", "100,1000,6000").split(",") if n.strip()]


# ---------------------------------------------------------------------------------------------
# The universe and its environment


def universe_tickers(n: int) -> list[str]:
    """N tickers: the demo companies, then generated ones; DEMOIDX (the benchmark) is the N-th."""
    from finance_assets.demo import source as demo

    companies = [c.ticker for c in demo.DEMO_COMPANIES]
    extras = [c.ticker for c in demo.extra_demo_companies(max(n - len(companies) - 1, 0) + 1)]
    return [*companies, *extras][: n - 1]


def extra_ticker(n: int) -> str:
    """The ticker `add_ticker` adds: the next generated company after the universe's."""
    from finance_assets.demo import source as demo

    count = n - len(demo.DEMO_COMPANIES) - 1 + 1
    return demo.extra_demo_companies(count)[-1].ticker


def window_months() -> int:
    return int(_env_float("SCALE_WINDOW_MONTHS", 2))


def window_start(months: int) -> str:
    first = dt.date.fromisoformat(AS_OF[:10]).replace(day=1)
    for _ in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return first.strftime("%Y-%m")


def environment(root: Path, n: int, as_of: str = AS_OF) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINANCE_ASSETS_", "DAGSTER_"))}
    window = window_months()
    env.update(
        PYTHONPATH=str(REPO),
        PYTHONWARNINGS="ignore",
        DAGSTER_HOME=str(root / "dagster_home"),
        FINANCE_ASSETS_DATA_DIR=str(root / "data"),
        FINANCE_ASSETS_MODE="demo",
        FINANCE_ASSETS_HISTORY_START=HISTORY_START,
        FINANCE_ASSETS_AS_OF=as_of,
        FINANCE_ASSETS_PORTFOLIO=str(root / "universe.csv"),
        FINANCE_ASSETS_AUTOMATION_LOOKBACK_MONTHS=str(max(window - 1, 1)),
        FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER="benchmarks.bench_scale:demo_universe_transport",
        # the demo answers offline: its requests do not wait for SEC's 10/s or Yahoo's and the news' 2/s
        # (SCALE_DEMO_RATES=- keeps the live limits; the docs give the waits those limits add)
        **({} if DEMO_RATES == "-" else {"FINANCE_ASSETS_DEMO_RATES": DEMO_RATES}),
        **{EXTRA_COMPANIES_ENV: str(n + 1)},  # the universe and the one ticker add_ticker adds
    )
    return env


def write_portfolio(path: Path, tickers: list[str]) -> None:
    lines = [
        "ticker,shares,cost_basis,currency",
        *(f"{t},{10 + i % 90},{20 + i % 50}.0,USD" for i, t in enumerate(tickers)),
    ]
    path.write_text("\n".join(lines) + "\n")


def copy_home(src: Path, dst: Path) -> None:
    """A copy of a benchmark root (instance and warehouse): a measure that writes gets its own."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns("*.lock"))
    for path in (dst / "universe.csv",):
        if not path.exists():
            shutil.copy(src / path.name, path)


# ---------------------------------------------------------------------------------------------
# Running one measure in its own process, within the budget


def run_process(cmd: list[str], env: dict, budget: float, log: Path) -> dict:
    """Wall time, exit code and peak RSS (MiB, the largest process of the tree) of `cmd`; stopped
    (SIGTERM to its process group, then SIGKILL) at `budget` seconds."""
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > budget:
                timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                for _ in range(100):
                    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                    if pid:
                        break
                    time.sleep(0.2)
                if not pid:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.1)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        with contextlib.suppress(ProcessLookupError):  # leftovers of the group (e.g. a Dask worker)
            os.killpg(proc.pid, signal.SIGKILL)
    elapsed = time.perf_counter() - started
    text = log.read_text(errors="replace")
    result = None
    for line in text.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
    return {
        "seconds": round(elapsed, 2),
        "status": "> budget" if timed_out else ("ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "result": result,
        "log_tail": [
            line[:300] for line in text.splitlines()[-(3 if proc.returncode == 0 and not timed_out else 12) :]
        ],
    }


def cli(*args: str) -> list[str]:
    return [str(BIN / "finance-assets"), *args]


def measure_script(name: str, root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.bench_scale", "--measure", name, str(root), *args]


# ---------------------------------------------------------------------------------------------
# The measures that run inside a fresh process (python -m benchmarks.bench_scale --measure NAME ROOT)


def _emit(result: dict) -> None:
    print("RESULT " + json.dumps(result, default=str), flush=True)


def _peak_rss_mib() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024


def _instance():
    import dagster as dg

    return dg.DagsterInstance.get()


def _settings():
    from finance_assets.lib import config

    return config.settings()


def inner_definitions(root: Path) -> dict:
    """Definitions load time in this fresh process, then every asset's partition count."""
    started = time.perf_counter()
    import dagster as dg

    from finance_assets import definitions

    graph = definitions.defs.resolve_asset_graph()
    load_s = time.perf_counter() - started
    instance = _instance()
    now = _settings().now()
    counts: dict[str, int | None] = {}
    started = time.perf_counter()
    with dg.partition_loading_context(effective_dt=now, dynamic_partitions_store=instance):
        for key in graph.toposorted_asset_keys:
            pdef = graph.get(key).partitions_def
            counts[key.to_user_string()] = None if pdef is None else len(pdef.get_partition_keys())
    return {
        "load_seconds": round(load_s, 2),
        "count_seconds": round(time.perf_counter() - started, 2),
        "partitions": counts,
        "registered_tickers": len(instance.get_dynamic_partitions("ticker")),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
    }


def inner_planning(root: Path, start: str | None = None) -> dict:
    from finance_assets.planning import plan_backfill

    instance, now = _instance(), _settings().now()
    start = start or HISTORY_START[:7]
    started = time.perf_counter()
    plan = plan_backfill(instance, start=start, now=now)
    elapsed = time.perf_counter() - started
    return {
        "seconds": round(elapsed, 2),
        "start": start,
        "runs": len(plan),
        "asset_partitions": sum(step.partition_count for step in plan),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
    }


def inner_automation(root: Path) -> dict:
    """One evaluation of the automation conditions, as `finance-assets update` and the daemon do."""
    from finance_assets.definitions import build_definitions
    from finance_assets.planning import evaluate_automation

    settings = _settings()
    defs = build_definitions(settings)
    instance = _instance()
    defs.resolve_asset_graph()
    started = time.perf_counter()
    requested = evaluate_automation(defs, instance, settings.now())
    elapsed = time.perf_counter() - started
    return {
        "seconds": round(elapsed, 2),
        "assets_requested": len(requested),
        "partitions_requested": sum(len(keys) for keys in requested.values()),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
    }


def inner_window_backfill(root: Path, start: str) -> dict:
    """The universe built over the window: plan_backfill + run_plan (the CLI's backfill), with the
    filing documents fetched from the window's start (their run config) instead of the history start."""
    from finance_assets import cli
    from finance_assets.definitions import reconstructable_job
    from finance_assets.lib.selections import SEC
    from finance_assets.planning import plan_backfill, run_plan

    settings = _settings()
    instance = _instance()
    plan = plan_backfill(instance, start=start, now=settings.now())
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    documents = {"ops": {"filing_documents": {"config": {"since": f"{start}-01"}}}}
    failures, done = [], 0
    started = time.perf_counter()
    with cli.dask_cluster(settings) as run_settings:
        for step in plan:
            config = {**quiet, **documents} if step.job == SEC.job else quiet
            failures += run_plan(
                instance, [step], job_for=lambda name: reconstructable_job(name, run_settings), run_config=config
            )
            done += step.partition_count
            print(f"{time.perf_counter() - started:7.1f}s {step.label}: {done} partitions", flush=True)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "runs": len(plan),
        "asset_partitions": sum(step.partition_count for step in plan),
        "failed": failures,
    }


def inner_materialized(root: Path) -> dict:
    """What an instance holds: materialized partitions per asset (what a stopped backfill reached)."""
    import dagster as dg

    from finance_assets import definitions

    instance = _instance()
    out = {}
    for key in definitions.defs.resolve_asset_graph().toposorted_asset_keys:
        spec = definitions.defs.resolve_asset_graph().get(key)
        if spec.partitions_def is None:
            out[key.to_user_string()] = int(instance.get_latest_materialization_event(key) is not None)
        else:
            out[key.to_user_string()] = len(instance.get_materialized_partitions(dg.AssetKey(key.path)))
    return {"materialized_partitions": out, "total": sum(out.values())}


CROSS_SECTION_MONTHS = 12  # a ticker's latest close is looked for in the 12 months up to the day


# every ticker's latest close on or before a day, its SMA-50 that day and its P/E on the newest snapshot known
CROSS_SECTION_SQL = """
    WITH last_bar AS (
        SELECT ticker, max(date) AS date, arg_max(close, date) AS close
        FROM prices WHERE date <= CAST(? AS DATE) GROUP BY ticker
    ), snap AS (
        SELECT ticker, arg_max(ttm_eps_diluted, known_at) AS ttm_eps_diluted
        FROM fundamental_snapshots WHERE known_at <= CAST(? AS TIMESTAMP) + INTERVAL 1 DAY GROUP BY ticker
    )
    SELECT b.ticker, b.date, b.close, t.sma_50,
           CASE WHEN s.ttm_eps_diluted > 0 THEN b.close / s.ttm_eps_diluted END AS pe
    FROM last_bar b
    LEFT JOIN technicals t ON t.ticker = b.ticker AND CAST(t.date AS DATE) = b.date
    LEFT JOIN snap s ON s.ticker = b.ticker
    ORDER BY b.ticker
"""


def inner_cross_section(root: Path, day: str) -> dict:
    """Every ticker's latest close, SMA-50 and P/E as of `day`, in DuckDB straight from the stored files:
    `Warehouse.connect_partitions` with the prices and technicals of every stored ticker in the 12 months
    up to the day (their yearly files only, rows of those months) and the snapshots, opened once (timed:
    open_ms), then the query 5 times in that session (median; first_ms the first, cold); the same query
    over the catalog's views (every year of every ticker) 5 times for comparison, same rows."""
    import pandas as pd

    from finance_assets.lib import coverage
    from finance_assets.lib.warehouse import Warehouse

    wh = Warehouse(_settings().warehouse_location)
    as_of = pd.Timestamp(day)
    months = [(as_of - pd.DateOffset(months=k)).strftime("%Y-%m-01") for k in range(CROSS_SECTION_MONTHS)]

    started = time.perf_counter()
    tickers = coverage.stored_tickers(wh, "prices")
    grid = [{"ticker": t, "month": m} for t in tickers for m in months]
    # one schema per asset here: the views need not read every footer to unify them (union_by_name)
    con = wh.connect_partitions(
        {"prices": grid, "technicals": grid, "fundamental_snapshots": [None]}, union_by_name=False
    )
    con.execute("SET parquet_metadata_cache = true")  # a session's later queries skip the files' footers
    open_ms = round(1000 * (time.perf_counter() - started), 1)
    timings, rows = [], []
    for _ in range(5):
        started = time.perf_counter()
        rows = con.execute(CROSS_SECTION_SQL, [day, day]).fetchall()
        timings.append(time.perf_counter() - started)
    con.close()
    first_ms = round(1000 * timings[0], 1)
    timings.sort()
    wh.refresh_catalog()
    catalog = wh.connect()
    catalog_timings = []
    for _ in range(5):
        started = time.perf_counter()
        catalog_rows = catalog.execute(CROSS_SECTION_SQL, [day, day]).fetchall()
        catalog_timings.append(time.perf_counter() - started)
    catalog.close()
    catalog_timings.sort()
    return {
        "median_ms": round(1000 * timings[len(timings) // 2], 1),
        "first_ms": first_ms,
        "open_ms": open_ms,
        "catalog_views_median_ms": round(1000 * catalog_timings[2], 1),
        "same_as_catalog": sorted(map(repr, rows)) == sorted(map(repr, catalog_rows)),
        "tickers": len(rows),
        "with_sma_50": sum(r[3] is not None for r in rows),
        "with_pe": sum(r[4] is not None for r in rows),
        "day": day,
    }


def inner_orchestration_ratio(root: Path, start: str) -> dict:
    """corporate_actions -> prices -> technicals from `start`: the planned actions and market runs, each a
    dg.materialize with the run's tags (Dagster: runs, events, partition mapping, the tickers tag of a
    chunked run) against the same asset functions called directly, corporate actions once for every
    ticker and prices + technicals once per month range for every ticker (bare compute has no reason to
    chunk), each into its own warehouse in the product's layout (the direct calls' contexts carry each asset's
    definition metadata as a run's do: daily bars in month-and-shard files, with coverage; without it they had
    written yearly files, 11 instead of 2,016 per asset over ten years), the price source's demo rate limit
    lifted on both sides (computation, not waiting). Needs nothing built: a freshly registered universe will do."""
    import dagster as dg

    from finance_assets import definitions
    from finance_assets.lib.io_manager import ParquetWarehouseIOManager
    from finance_assets.lib.partitions import TICKER
    from finance_assets.lib.selections import ACTIONS, MARKET
    from finance_assets.planning import plan_backfill

    settings = _settings()
    defs = definitions.defs
    names = ("corporate_actions", "prices", "technicals")
    asset_defs = {name: defs.get_assets_def(dg.AssetKey(name)) for name in names}
    inputs_of = {"corporate_actions": (), "prices": ("corporate_actions",), "technicals": ("prices",)}
    resources = definitions.build_resources(settings)
    source = resources["prices_source"]

    class UnthrottledPriceSource(type(source)):
        def _rates(self):
            return {"yahoo": [(1_000_000, 1.0)], "stooq": [(1_000_000, 1.0)]}

    fields = {name: getattr(source, name) for name in type(source).model_fields}
    instance = _instance()
    registered = instance.get_dynamic_partitions(TICKER)
    every_ticker = dg.PartitionKeyRange(registered[0], registered[-1])
    plan = plan_backfill(instance, start=start, now=settings.now(), force=True)  # as a fresh build plans them
    steps = [s for s in plan if s.job in (ACTIONS.job, MARKET.job)]
    month_ranges = list(dict.fromkeys((s.start_key, s.end_key) for s in steps if s.job == MARKET.job))
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

    def needed(names_: tuple[str, ...]) -> dict:
        keys = set().union(*(asset_defs[n].required_resource_keys for n in names_)) - {"io_manager"}
        return {k: resources[k] for k in keys}

    def definition_metadata(name: str) -> dict:
        # what a run's contexts carry: the daily bars' rows-by-ticker layout (month-and-shard files, coverage)
        return dict(asset_defs[name].specs_by_key[asset_defs[name].key].metadata)

    def bare(base: Path) -> float:
        io = ParquetWarehouseIOManager(base_path=str(base))
        src = UnthrottledPriceSource(**{**fields, "state_dir": str(base / "state")})
        calls = [("corporate_actions", every_ticker)] + [
            (name, dg.PartitionKeyRange(*months)) for months in month_ranges for name in ("prices", "technicals")
        ]
        started = time.perf_counter()
        for name, key_range in calls:
            asset_def = asset_defs[name]
            loaded = {
                upstream: io.load_input(
                    dg.build_input_context(
                        asset_key=dg.AssetKey(upstream),
                        asset_partitions_def=asset_defs[upstream].partitions_def,
                        dagster_type=dg.DagsterType(lambda _, __: True, name="Frame"),  # read, not deferred
                        asset_partition_key_range=every_ticker if upstream == "corporate_actions" else key_range,
                        upstream_output=dg.build_output_context(
                            asset_key=dg.AssetKey(upstream), definition_metadata=definition_metadata(upstream)
                        ),
                        instance=instance,
                    )
                )
                for upstream in inputs_of[name]
            }
            with dg.build_asset_context(
                resources={**needed((name,)), "prices_source": src}, instance=instance, partition_key_range=key_range
            ) as context:
                frame = asset_def(context, **loaded)
            frame = frame.value if isinstance(frame, dg.Output) else frame
            io.handle_output(
                dg.build_output_context(
                    asset_key=asset_def.key,
                    asset_partitions_def=asset_def.partitions_def,
                    asset_partition_key_range=key_range,
                    definition_metadata=definition_metadata(name),
                    instance=instance,
                ),
                frame,
            )
        return time.perf_counter() - started

    def orchestrated(base: Path) -> float:
        src = UnthrottledPriceSource(**{**fields, "state_dir": str(base / "state")})
        io = ParquetWarehouseIOManager(base_path=str(base))
        started = time.perf_counter()
        for step in steps:
            selected = ("corporate_actions",) if step.job == ACTIONS.job else ("prices", "technicals")
            result = dg.materialize(
                list(asset_defs.values()),
                selection=[dg.AssetKey(n) for n in selected],
                instance=instance,
                resources={**needed(names), "prices_source": src, "io_manager": io},
                tags=step.tags,
                run_config=quiet,
            )
            assert result.success
        return time.perf_counter() - started

    bare_s = bare(root / "ratio-bare")
    print(f"bare compute: {bare_s:.1f} s over {len(month_ranges)} month range(s)", flush=True)
    orchestrated_s = orchestrated(root / "ratio-orchestrated")
    from finance_assets.lib.warehouse import Warehouse

    layouts = {
        side: {
            name: (len(Warehouse(root / side).all_files(name)), len(Warehouse(root / side).read(name)))
            for name in ("prices", "technicals")
        }
        for side in ("ratio-bare", "ratio-orchestrated")
    }
    return {
        "same_files_and_rows": layouts["ratio-bare"] == layouts["ratio-orchestrated"],
        "files_and_rows": layouts["ratio-bare"],
        "bare_seconds": round(bare_s, 2),
        "orchestrated_seconds": round(orchestrated_s, 2),
        "ratio": round(orchestrated_s / bare_s, 2),
        "start": start,
        "runs": len(steps),
        "bare_calls": 1 + 2 * len(month_ranges),
        "tickers": len(registered),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
    }


def inner_runs(root: Path, since: str) -> dict:
    """Where an end-to-end measure's time went: every run created after `since` (a Unix time), oldest
    first, with its job, partition range, tickers tag, wall time and its slowest steps."""
    import dagster as dg
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from finance_assets.lib.partitions import TICKERS_TAG

    instance = _instance()
    after = dt.datetime.fromtimestamp(float(since), dt.UTC)
    records = instance.get_run_records(dg.RunsFilter(created_after=after), ascending=True)
    runs = []
    for record in records:
        run, tags = record.dagster_run, record.dagster_run.tags
        tickers = tags.get(TICKERS_TAG, "")
        steps = [
            (stat.step_key, round(stat.end_time - stat.start_time, 1))
            for stat in instance.get_run_step_stats(run.run_id)
            if stat.start_time and stat.end_time
        ]
        runs.append(
            {
                "job": run.job_name,
                "range": "..".join(
                    dict.fromkeys(
                        t
                        for t in (tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG))
                        if t
                    )
                ),
                "tickers": (f"{len(tickers.split(','))}: {tickers[:40]}" if tickers else "all"),
                "assets": len(run.asset_selection or ()) or None,
                "status": run.status.value,
                "seconds": round(record.end_time - record.create_timestamp.timestamp(), 1) if record.end_time else None,
                "slowest_steps": sorted(steps, key=lambda s: -s[1])[:4],
            }
        )
    return {
        "runs": runs,
        "run_seconds": round(sum(r["seconds"] or 0 for r in runs), 1),
        "by_job": {
            job: round(sum(r["seconds"] or 0 for r in runs if r["job"] == job), 1)
            for job in dict.fromkeys(r["job"] for r in runs)
        },
    }


INNER = {
    "runs": inner_runs,
    "definitions": inner_definitions,
    "planning": inner_planning,
    "automation": inner_automation,
    "window_backfill": inner_window_backfill,
    "materialized": inner_materialized,
    "cross_section": inner_cross_section,
    "orchestration_ratio": inner_orchestration_ratio,
}


# ---------------------------------------------------------------------------------------------
# The UI's partition-status query, through a running dagster-webserver

PARTITION_STATUS_QUERY = """query PartitionStatus($path: [String!]!) {
  assetNodes(assetKeys: [{path: $path}]) {
    partitionStats { numMaterialized numPartitions numFailed numMaterializing }
    assetPartitionStatuses {
      __typename
      ... on TimePartitionStatuses { ranges { status startKey endKey } }
      ... on DefaultPartitionStatuses { materializedPartitions failedPartitions materializingPartitions }
      ... on MultiPartitionStatuses { primaryDimensionName ranges { primaryDimStartKey primaryDimEndKey } }
    }
  }
}"""


def _graphql(port: int, query: str, variables: dict | None = None, timeout: float = 600) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _tree_peak_rss_mib(pid: int) -> float:
    """The largest VmHWM among `pid` and its descendants (the webserver and its code server)."""
    peak, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError, StopIteration, ValueError):
            with open(f"/proc/{current}/status") as fh:
                peak = max(peak, next(int(x.split()[1]) for x in fh if x.startswith("VmHWM:")) / 1024)
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                todo += [int(c) for c in children]
    return round(peak, 1)


def graphql_per_asset(root: Path, env: dict, budget: float, log: Path) -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assets = None
        while time.perf_counter() - started < budget:
            with contextlib.suppress(OSError, KeyError, TypeError, ValueError):
                nodes = _graphql(port, "{ assetNodes { assetKey { path } } }", timeout=30)["data"]["assetNodes"]
                if nodes:
                    assets = [n["assetKey"]["path"] for n in nodes]
                    break
            time.sleep(1)
        if assets is None:
            return {"status": "> budget", "seconds": round(time.perf_counter() - started, 1), "reached": "no answer"}
        ready_s = time.perf_counter() - started
        per_asset = {}
        for path in assets:
            left = budget - (time.perf_counter() - started)
            if left <= 0:
                return {"status": "> budget", "per_asset_seconds": per_asset, "reached": f"{len(per_asset)} assets"}
            t0 = time.perf_counter()
            try:
                answer = _graphql(port, PARTITION_STATUS_QUERY, {"path": path}, timeout=left)
                errors = answer.get("errors")
            except OSError as exc:
                errors = [str(exc)]
            per_asset["/".join(path)] = round(time.perf_counter() - t0, 3) if not errors else f"error: {errors}"[:200]
        times = [v for v in per_asset.values() if isinstance(v, float)]
        return {
            "status": "ok",
            "server_ready_seconds": round(ready_s, 1),
            "per_asset_seconds": per_asset,
            "slowest_seconds": max(times) if times else None,
            "peak_rss_mib": _tree_peak_rss_mib(proc.pid),
        }
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ---------------------------------------------------------------------------------------------
# One N, every measure in turn


def run_size(n: int, budget: float, work: Path, cheap_only: bool = False) -> dict:
    start = window_start(window_months())
    full_max_n = 0 if cheap_only else int(_env_float("SCALE_FULL_BACKFILL_MAX_N", 100))
    expensive_max_n = 0 if cheap_only else int(_env_float("SCALE_END_TO_END_MAX_N", 100))
    root = work / f"n{n}"
    root.mkdir(parents=True)
    logs = Path(os.environ.get("SCALE_LOG_DIR") or tempfile.gettempdir()) / f"bench_scale_logs-{n}"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    out_logs = str(logs)
    write_portfolio(root / "universe.csv", universe_tickers(n))
    env = environment(root, n)
    out: dict = {
        "n": n,
        "history_start": HISTORY_START[:7],
        "as_of": AS_OF,
        "window": f"{start}..{AS_OF[:7]}",
        "budget_seconds": budget,
        "measures": {},
        "notes": [],
        "logs": out_logs,
    }
    measures = out["measures"]

    def record(
        name: str, cmd: list[str], environ: dict | None = None, allowed: float = budget, profile: Path | None = None
    ) -> dict:
        """Run one measure; with `profile` (the measure's root), also record the runs it launched."""
        print(f"[N={n}] {name} ...", file=sys.stderr, flush=True)
        since = time.time()
        measured = run_process(cmd, environ or env, allowed, logs / f"{name}.log")
        measures[name] = measured
        if profile is not None:
            runs = run_process(
                measure_script("runs", profile, str(since)), environ or env, budget, logs / f"{name}-runs.log"
            )
            measured["runs"] = runs["result"] or runs["log_tail"]
        print(
            f"[N={n}] {name}: {measured['status']} in {measured['seconds']} s, peak RSS {measured['peak_rss_mib']} MiB "
            f"{json.dumps(measured['result'])[:300] if measured['result'] else ''}",
            file=sys.stderr,
            flush=True,
        )
        return measured

    record("register", cli("register", "--portfolio", str(root / "universe.csv")))
    record("definitions", measure_script("definitions", root))
    record("planning_missing", measure_script("planning", root))
    copy_home(root, work / f"n{n}-automation")
    default_lookback = environment(work / f"n{n}-automation", n)
    del default_lookback["FINANCE_ASSETS_AUTOMATION_LOOKBACK_MONTHS"]  # the product's default (24 months)
    record("automation_missing", measure_script("automation", work / f"n{n}-automation"), default_lookback)
    shutil.rmtree(work / f"n{n}-automation", ignore_errors=True)

    if n <= full_max_n:
        full = work / f"n{n}-full"
        copy_home(root, full)
        full_env = environment(full, n)
        record("backfill_full", cli("backfill", "--start", HISTORY_START[:7]), full_env, profile=full)
        if measures["backfill_full"]["status"] != "ok":
            reached = run_process(measure_script("materialized", full), full_env, budget, logs / "materialized.log")
            measures["backfill_full"]["reached"] = reached["result"]
        shutil.rmtree(full, ignore_errors=True)
    else:
        out["notes"].append(f"full 10-year backfill not run at N={n} (SCALE_FULL_BACKFILL_MAX_N={full_max_n})")
    if n > expensive_max_n:
        out["notes"].append(
            f"end-to-end measures (window backfill, update, GraphQL, cross-section, new session, add ticker, ratio) "
            f"not run at N={n} (SCALE_END_TO_END_MAX_N={expensive_max_n})"
        )
        return out

    # the base of every later measure: three budgets, so that the measures after it have a universe
    record("backfill_window", measure_script("window_backfill", root, start), allowed=3 * budget, profile=root)
    record("update_catch_up", cli("update"), profile=root)
    record("planning_built", measure_script("planning", root))
    copy_home(root, work / f"n{n}-automation")
    record(
        "automation_noop",
        measure_script("automation", work / f"n{n}-automation"),
        environment(work / f"n{n}-automation", n),
    )
    shutil.rmtree(work / f"n{n}-automation", ignore_errors=True)
    print(f"[N={n}] graphql ...", file=sys.stderr, flush=True)
    measures["graphql"] = graphql_per_asset(root, env, budget, logs / "graphql.log")
    print(f"[N={n}] graphql: {json.dumps(measures['graphql'])[:400]}", file=sys.stderr, flush=True)
    record("cross_section", measure_script("cross_section", root, CROSS_SECTION_DAY))
    copy_home(root, work / f"n{n}-ratio")
    record(
        "orchestration_ratio",
        measure_script("orchestration_ratio", work / f"n{n}-ratio", HISTORY_START[:7] if n <= full_max_n else start),
        environment(work / f"n{n}-ratio", n),
    )
    shutil.rmtree(work / f"n{n}-ratio", ignore_errors=True)
    next_env = environment(root, n, as_of=NEXT_SESSION)
    record("new_session", cli("update"), next_env, profile=root)
    added = extra_ticker(n)
    write_portfolio(root / "added.csv", [added])
    record("add_ticker_register", cli("register", "--portfolio", str(root / "added.csv")), next_env)
    record("add_ticker", cli("backfill", "--tickers", added, "--start", HISTORY_START[:7]), next_env, profile=root)
    measures["add_ticker"]["ticker"] = added
    if measures["add_ticker"]["status"] != "ok":
        reached = run_process(measure_script("materialized", root), next_env, budget, logs / "materialized-add.log")
        measures["add_ticker"]["reached"] = reached["result"]
    return out


# ---------------------------------------------------------------------------------------------
# The table across N


def _cell(measure: dict | None, value: str | None = None) -> str:
    if measure is None:
        return "not run"
    if measure.get("status") not in (None, "ok"):
        return f"{measure['status']} ({measure.get('seconds', '?')} s)"
    return value if value is not None else f"{measure['seconds']} s"


# the table's rows whose figure may come from an earlier run (its measure then holds "earlier": why)
LABEL_MEASURES = {
    "full backfill (10 y)": "backfill_full",
    "orchestrated / bare compute, whole history": "orchestration_ratio_history",
}


def summary_rows(result: dict) -> dict[str, str]:
    m = result["measures"]
    rows: dict[str, str] = {}
    definitions = m.get("definitions") or {}
    d = definitions.get("result") or {}
    counts = [c for c in (d.get("partitions") or {}).values() if c is not None]
    rows["max partitions per asset"] = f"{max(counts):,}" if counts else _cell(definitions or None, "-")
    rows["definitions load"] = _cell(definitions or None, f"{d.get('load_seconds')} s" if d else None)
    for label, name in (("backfill planning, whole history", "planning_missing"),):
        r = (m.get(name) or {}).get("result") or {}
        rows[label] = _cell(m.get(name), f"{r.get('seconds')} s ({r.get('runs')} runs)" if r else None)
    for label, name in (
        ("automation, universe missing", "automation_missing"),
        ("automation, nothing to do", "automation_noop"),
    ):
        r = (m.get(name) or {}).get("result") or {}
        rows[label] = _cell(
            m.get(name),
            f"{r.get('seconds')} s, {r.get('peak_rss_mib')} MiB, {r.get('partitions_requested')} requested"
            if r
            else None,
        )
    full = m.get("backfill_full")
    if full and full.get("status") != "ok" and full.get("reached"):
        rows["full backfill (10 y)"] = (
            f"{full['status']}: {full['reached']['total']:,} partitions in {full['seconds']} s"
        )
    else:
        rows["full backfill (10 y)"] = _cell(full)
    window = m.get("backfill_window")
    r = (window or {}).get("result") or {}
    rows["window backfill"] = _cell(
        window,
        f"{r.get('seconds')} s, {r.get('asset_partitions'):,} partitions ({result['window']})"
        + (f", {len(r['failed'])} runs failed" if r.get("failed") else "")
        if r
        else None,
    )
    rows["update right after it"] = _cell(m.get("update_catch_up"))
    for label, name in (
        ("orchestrated / bare compute", "orchestration_ratio"),
        ("orchestrated / bare compute, whole history", "orchestration_ratio_history"),
    ):
        ratio = (m.get(name) or {}).get("result") or {}
        if name in m or not label.endswith("history"):
            rows[label] = _cell(
                m.get(name),
                f"{ratio.get('ratio')}x ({ratio.get('orchestrated_seconds')} / {ratio.get('bare_seconds')} s, "
                f"actions+prices+technicals from {ratio.get('start')}, {ratio.get('runs')} runs)"
                if ratio
                else None,
            )
    rows["new session, end to end"] = _cell(m.get("new_session"))
    add = m.get("add_ticker")
    rows["add one ticker (10 y)"] = _cell(add)
    graphql = m.get("graphql")
    rows["UI partition-status query, slowest asset"] = (
        "not run"
        if graphql is None
        else f"{graphql.get('slowest_seconds')} s"
        if graphql.get("status") == "ok"
        else graphql.get("status")
    )
    cross = m.get("cross_section")
    r = (cross or {}).get("result") or {}
    rows["cross-sectional query"] = _cell(
        cross,
        f"{r.get('median_ms')} ms ({r.get('tickers')} tickers, SMA-50 for {r.get('with_sma_50')}, P/E for {r.get('with_pe')}"
        + (f"; catalog views {r['catalog_views_median_ms']} ms" if r.get("catalog_views_median_ms") else "")
        + ")"
        if r
        else None,
    )
    for label in rows:  # a figure carried over from an earlier run says so
        name = LABEL_MEASURES.get(label)
        if name and (m.get(name) or {}).get("earlier"):
            rows[label] += f" [earlier run: {m[name]['earlier']}]"
    peaks = [v.get("peak_rss_mib") for v in m.values() if isinstance(v, dict) and v.get("peak_rss_mib")]
    rows["peak RSS of any process"] = f"{max(peaks):,.0f} MiB" if peaks else "-"
    return rows


def markdown(results: list[dict]) -> str:
    table = [summary_rows(r) for r in results]
    labels = list(dict.fromkeys(label for rows in table for label in rows))
    lines = [
        "| measure | " + " | ".join(f"N = {r['n']:,}" for r in results) + " | target (N = 6,000, 10 y) |",
        "|---|" + "---|" * len(results) + "---|",
    ]
    for label in labels:
        cells = [rows.get(label, "not run") for rows in table]
        target = next((t for k, t in TARGETS.items() if label.startswith(k)), "")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    notes = [f"- N = {r['n']:,}: {note}" for r in results for note in r.get("notes", [])]
    return "\n".join(lines + ([""] + notes if notes else []))


def run() -> list[dict]:
    """`make bench`'s share: the cheap measures at 100 tickers (`make bench-scale` runs them all)."""
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        result = run_size(100, _env_float("SCALE_BUDGET_S", 600), Path(tmp), cheap_only=True)
    rows = summary_rows(result)
    return [
        {"benchmark": "scale (100 tickers)", "metric": label, "ours": rows[label], "goal": TARGETS.get(label)}
        for label in ("max partitions per asset", "definitions load", "backfill planning, whole history")
        + ("automation, universe missing", "peak RSS of any process")
    ]


def ratio_alone(n: int, budget: float, start: str = HISTORY_START[:7]) -> dict:
    """The orchestration ratio from `start` on a freshly registered universe of N (nothing built: the
    ratio plans the runs as a fresh build would and writes into its own warehouses)."""
    with tempfile.TemporaryDirectory(prefix=f"bench_scale_ratio_{n}_") as tmp:
        root = Path(tmp)
        write_portfolio(root / "universe.csv", universe_tickers(n))
        env = environment(root, n)
        log = Path(os.environ.get("SCALE_LOG_DIR") or tempfile.gettempdir()) / f"bench_scale_ratio-{n}-{start}.log"
        registered = run_process(cli("register", "--portfolio", str(root / "universe.csv")), env, budget, log)
        if registered["status"] != "ok":
            return registered
        measured = run_process(measure_script("orchestration_ratio", root, start), env, budget, log)
        measured["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        measured["loadavg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
        return measured


def write_table(budget: float) -> str:
    every = []
    sized = [p for p in RESULTS.glob("scale-*.json") if p.stem.split("-", 1)[1].isdigit()]  # not scale-state-*
    for path in sorted(sized, key=lambda p: int(p.stem.split("-")[1])):
        every.append(json.loads(path.read_text()))
    text = markdown(every)
    (RESULTS / "scale.md").write_text(
        "# Scale benchmark (issue #17), `make bench-scale`\n\n"
        f"Measured on {os.cpu_count()} cores, shared with other jobs (the load average of each run is in "
        "docs/measurements.md); every measure in a fresh process, budget "
        f"{budget:.0f} s each. "
        "Per N: benchmarks/results/scale-<N>.json (every figure, per-asset partitions and GraphQL times).\n\n"
        + text
        + "\n"
    )
    return text


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--measure":
        name, root, *args = argv[1:]
        _emit(INNER[name](Path(root), *args))
        return 0
    budget = _env_float("SCALE_BUDGET_S", 600)
    RESULTS.mkdir(exist_ok=True)
    if argv and argv[0] == "--ratio":  # the ratio alone into scale-<N>.json: from START (YYYY-MM), else 10 y
        start = argv[1] if len(argv) > 1 else HISTORY_START[:7]
        name = "orchestration_ratio_history" if start == HISTORY_START[:7] else "orchestration_ratio"
        for n in sizes():
            path = RESULTS / f"scale-{n}.json"
            result = json.loads(path.read_text())
            result["measures"][name] = ratio_alone(n, budget, start)
            print(f"[N={n}] {name}: {json.dumps(result['measures'][name])[:600]}", file=sys.stderr, flush=True)
            path.write_text(json.dumps(result, indent=2, default=str))
        print(write_table(budget))
        return 0
    results = []
    for n in sizes():
        with tempfile.TemporaryDirectory(prefix=f"bench_scale_{n}_") as tmp:
            started = time.perf_counter()
            result = run_size(n, budget, Path(tmp))
            result["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            result["machine"] = {"cpus": os.cpu_count()}
            result["total_seconds"] = round(time.perf_counter() - started, 1)
        (RESULTS / f"scale-{n}.json").write_text(json.dumps(result, indent=2, default=str))
        results.append(result)
        print(markdown([result]))
    print("\n" + write_table(budget))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
