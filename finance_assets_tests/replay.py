"""Replay harness: continuous operation session by session vs fresh builds as of the same clock (#16).

Run as a module in its own process (FINANCE_ASSETS_HISTORY_START is read when the partitions are
defined, so it must be set before the project is imported):

    python -m finance_assets_tests.replay WORKDIR FIRST_SESSION LAST_SESSION CHECKPOINT[,CHECKPOINT...]

Every session's clock is 18:00 New York. Each session does what the daemon does at that instant: the
`new_sec_filings` sensor ticks once (EDGAR's latest-filings feed; its run requests are executed), then
`planning.update` (what `finance-assets update` runs: the automation conditions of lib/automation.py
decide, round after round until they request nothing) on one long-lived warehouse. At each checkpoint
a fresh warehouse is built from nothing as of the same clock (with the holdings file as of that clock)
the way `finance-assets backfill` builds one (`fresh_build`: `planning.plan_backfill` from the history
start, one range run per run group), and every table of the two warehouses is compared cell by cell
(floats within 1e-12). The two sides share no code path above the assets: continuous operation is
decided by the automation conditions, the fresh build by the backfill planner.

The graph replayed is the product's (`definitions.ALL_ASSETS` with the production conditions, one job
per run group of lib/selections.py as in definitions.py): ticker_cik_map, filings, xbrl_facts,
fundamentals, corporate_actions, prices, technicals, headlines, sentiment, fx_rates, market_panel,
fundamental_snapshots, portfolio_report, portfolio_holdings, and the filing documents and their text
signals (the report reads them; `replay_assets` would leave them out only if nothing read them). Left
out: the asset checks (they write no table). The real source resources run against the demo transport;
only their rate limiter is lifted (nothing leaves the machine; the limiter is measured elsewhere).
The Dagster instances are in-memory (`DagsterInstance.ephemeral()`: the same SQL run and event-log
storage as a file-backed SQLite instance, on one connection instead of one per call).

The portfolio (HOLDINGS): four tickers, one of them held in EUR (valued through the ECB demo rates),
and the benchmark DEMOIDX registered beside them. "Added midway" (ADDED) means: from the session
ADDED_ON on, the holdings file has one more row, with `purchase_date` = ADDED_ON, and its ticker is
registered (as `finance-assets register` or the `portfolio_tickers` sensor would); a fresh build as of
a clock before ADDED_ON sees the file without it, one as of ADDED_ON or later the file with it. The
purchase date is what makes this point in time: a row without one counts as held on every day, so a
fresh build would put it into report days that continuous operation had already reported without it.

History starts 2026-01 (FINANCE_ASSETS_HISTORY_START): a report day in the window sees at most ~85
sessions of prices, so its 252-session risk figures (volatility, VaR, beta, ...) are computed over the
returns it has (the `observations` column says how many), not over a full year.

Cost (measured 2026-12-06 on the shared 2-core machine, CPU seconds of this process, which is what an
idle runner's wall clock comes to; `python -m finance_assets_tests.replay` over the test's 63 sessions and
9 checkpoints): 1,225 s CPU in all (20.4 min; 42 min wall on the machine shared with other work, load
5-12). The 63 sessions took 1,032 s (a steady session 11.5-30 s, median 15.2 s: ~5 automation evaluations
and ~9 runs), the 9 fresh builds 171 s (15-24 s each). What made it fit CI (it was ~55 min): the
evaluation reads the ticker list once instead of once per condition node over a new SQLite connection
(planning._dynamic_partitions_read_once; a steady session 27 -> 19 s), in-memory instances (19 -> 13 s),
and the fresh builds through the backfill planner instead of round after round of evaluations
(55-120 s -> 15-24 s).

Prints one JSON line per checkpoint: {"as_of", "tables": {name: rows}, "mismatches": [...],
"events": {...}, "seconds"} and a final {"sessions", "seconds", "cpu_seconds", "session_seconds",
"fresh_seconds"} line (wall-clock seconds: in total, in the continuous sessions, in the fresh builds).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from pathlib import Path

HISTORY_START = "2026-01"
BENCHMARK = "DEMOIDX"
# ticker, shares, cost_basis (per share, in currency), currency, purchase_date
HOLDINGS = [
    ("ACMQ", 120, 45.0, "USD", ""),  # a price correction; FY2025 10-K accepted after the close (03-02)
    ("CRXQ", 300, 30.0, "EUR", ""),  # dividends; held in EUR; FY2025 10-K accepted during the session
    ("ELQX", 80, 55.0, "USD", ""),  # a 3:1 split
    ("HVQX", 400, 16.0, "USD", ""),  # a 1-for-4 reverse split
]
ADDED_ON = "2026-04-08"
ADDED = ("KLQX", 50, 110.0, "USD", ADDED_ON)  # added to the holdings file that session
# Compared row order: these key columns first (any table not listed: all its non-float columns).
KEYS = {
    "ticker_cik_map": ["ticker", "cik"],
    "corporate_actions": ["ticker", "ex_date", "kind"],
    "prices": ["ticker", "date"],
    "technicals": ["ticker", "date"],
    "fx_rates": ["date", "currency"],
    "market_panel": ["date", "ticker"],
    "portfolio_report": ["date"],
    "portfolio_holdings": ["date", "holding"],
}
TOLERANCE = 1e-12
# Columns that record the deployment's own history, which no source serves as of a clock, so a fresh
# build cannot have them; everything else must be equal:
# - ticker_cik_map.first_seen: the day this warehouse first saw a ticker -> CIK mapping (it keeps a
#   ticker that moves to another CIK resolvable for its old filings);
# - portfolio_report.report_path on any day but the latest: the HTML page a run renders is its last
#   day's, so an earlier day keeps a path when it was once the latest day of a run (every session's
#   newest day in continuous operation; only the last day in one backfill). The latest day's is compared.
HISTORY_COLUMNS = {("ticker_cik_map", "first_seen")}


def holdings_csv(as_of: str) -> str:
    """The holdings file as of the clock: the added ticker from ADDED_ON on."""
    rows = [*HOLDINGS, *([ADDED] if as_of[:10] >= ADDED_ON else [])]
    lines = ["ticker,shares,cost_basis,currency,purchase_date", *(",".join(map(str, row)) for row in rows)]
    return "\n".join(lines) + "\n"


def tickers_as_of(as_of: str) -> list[str]:
    """What `finance-assets register` adds for the holdings file as of the clock: its tickers, the benchmark."""
    return list(
        dict.fromkeys([*(row[0] for row in HOLDINGS), BENCHMARK, *([ADDED[0]] if as_of[:10] >= ADDED_ON else [])])
    )


def _env(home: Path, as_of: str) -> dict[str, str]:
    return {
        "FINANCE_ASSETS_HOME": str(home),
        "FINANCE_ASSETS_HISTORY_START": HISTORY_START,
        "FINANCE_ASSETS_EXECUTOR": "in_process",
        "FINANCE_ASSETS_AS_OF": as_of,
        "FINANCE_ASSETS_BENCHMARK": BENCHMARK,
        "FINANCE_ASSETS_PORTFOLIO": str(home / "portfolio.csv"),
    }


def _settings(home: Path, as_of: str):
    from finance_assets.lib.config import Settings

    return Settings.from_env(_env(home, as_of))


def _use(home: Path, as_of: str) -> None:
    """Point the process's settings at `home` and the clock: code inside the assets and sensors that
    reads `config.settings()` (the warehouse of the sensor, the benchmark, the lookback) sees them."""
    os.environ.update(_env(home, as_of))


def _unthrottled(source_class):
    """The source resource with its demo requests not held to the providers' rates (nothing leaves the
    machine): the same client, transport, parsing and assets; only the limiter's rates differ."""
    from finance_assets.lib.limiter import DEFAULT_RATES

    class Unthrottled(source_class):
        def _rates(self) -> dict:
            return {name: [(10_000, 1.0)] for name in {*DEFAULT_RATES, *super()._rates()}}

    Unthrottled.__name__ = f"Replay{source_class.__name__}"
    return Unthrottled


def replay_assets() -> list:
    """ALL_ASSETS without the filing documents and their text signals while no other asset reads them."""
    from finance_assets.definitions import ALL_ASSETS
    from finance_assets.defs.sec.documents import DOCUMENT_ASSETS

    kept = [a for a in ALL_ASSETS if not any(a is d for d in DOCUMENT_ASSETS)]
    read = {dep for a in kept for deps in a.asset_deps.values() for dep in deps}
    if any(key in read for d in DOCUMENT_ASSETS for key in d.keys):
        return list(ALL_ASSETS)
    return kept


@functools.cache
def replay_definitions(home: str, as_of: str):
    """The product's code location (assets, production conditions, run-group jobs), its documents left
    out, with the real resources as of the clock (source limiters lifted)."""
    import dagster as dg

    from finance_assets.definitions import build_resources
    from finance_assets.lib.automation import with_automation
    from finance_assets.lib.selections import RUN_GROUPS

    settings = _settings(Path(home), as_of)
    resources = build_resources(settings)
    for key in ("sec", "prices_source", "news_source", "fx_source"):
        source = resources[key]
        fields = {name: getattr(source, name) for name in type(source).model_fields}
        resources[key] = _unthrottled(type(source))(**fields)
    assets = replay_assets()
    names = {key.to_user_string() for a in assets for key in a.keys}
    jobs = [
        dg.define_asset_job(group.job, selection=dg.AssetSelection.assets(*[n for n in group.assets if n in names]))
        for group in RUN_GROUPS
        if any(n in names for n in group.assets)
    ]
    grouped = {n for group in RUN_GROUPS for n in group.assets}
    jobs += [dg.define_asset_job(f"{n}_job", selection=[n]) for n in sorted(names - grouped)]
    return dg.Definitions(
        assets=with_automation(assets), resources=resources, executor=dg.in_process_executor, jobs=jobs
    )


def replay_job(name: str, home: str, as_of: str):
    return replay_definitions(home, as_of).resolve_job_def(name)


def _job_getter(home: Path, as_of: str):
    """name -> the run-group job of `replay_definitions(home, as_of)`, reconstructable in a run's process."""
    import dagster as dg

    def job_for(name: str):
        return dg.build_reconstructable_job(
            "finance_assets_tests.replay",
            "replay_job",
            reconstructable_kwargs={"name": name, "home": str(home), "as_of": as_of},
        )

    return job_for


NEW_YORK = "America/New_York"
SENSOR_CURSOR_KEY = "finance_assets_tests/replay/new_sec_filings"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _tick_filings_sensor(home: Path, instance, as_of: str, job_for) -> list[str]:
    """One tick of the `new_sec_filings` sensor as the daemon runs it, and its run requests executed."""
    import dagster as dg

    from finance_assets.defs.sec.sensors import new_sec_filings_sensor

    defs = replay_definitions(str(home), as_of)
    stored = instance.run_storage.get_cursor_values({SENSOR_CURSOR_KEY}).get(SENSOR_CURSOR_KEY)
    with dg.build_sensor_context(
        instance=instance, cursor=stored or None, resources={"sec": defs.resources["sec"]}
    ) as context:
        result = new_sec_filings_sensor(context)
    if result.cursor:
        instance.run_storage.set_cursor_values({SENSOR_CURSOR_KEY: result.cursor})
    keys = {key for a in replay_assets() for key in a.keys}
    labels = []
    for request in result.run_requests or []:
        selection = [k for k in request.asset_selection if k in keys]
        with dg.execute_job(
            job_for("sec_job"),
            instance=instance,
            tags={**request.tags, "dagster/partition": request.partition_key},
            run_config=QUIET,
            asset_selection=selection,
            raise_on_error=False,
        ) as run:
            if not run.success:
                raise RuntimeError(f"sensor run for {request.partition_key} as of {as_of} failed")
        labels.append(f"sensor {request.partition_key}: {', '.join(k.to_user_string() for k in selection)}")
    return labels


def build_as_of(home: Path, instance, as_of: str) -> list[str]:
    """One daemon instant on `home`'s warehouse as of `as_of`: the holdings file and registered tickers
    as of the clock, the filings sensor's tick, then `planning.update` (the clock of every run)."""

    from finance_assets.lib.partitions import TICKER
    from finance_assets.planning import update

    home.mkdir(parents=True, exist_ok=True)
    _use(home, as_of)
    (home / "portfolio.csv").write_text(holdings_csv(as_of))
    known = set(instance.get_dynamic_partitions(TICKER))
    new = [t for t in tickers_as_of(as_of) if t not in known]
    if new:
        instance.add_dynamic_partitions(TICKER, new)
    now = _settings(home, as_of).now()
    defs = replay_definitions(str(home), as_of)
    job_for = _job_getter(home, as_of)

    t0, c0 = time.monotonic(), time.process_time()
    labels = _tick_filings_sensor(home, instance, as_of, job_for)
    runs, failures = update(instance, defs, now, job_for=job_for, run_config=QUIET, echo=lambda line: None)
    labels += [r.label for r in runs]
    if os.environ.get("REPLAY_VERBOSE"):
        took = f"{time.monotonic() - t0:.1f}s ({time.process_time() - c0:.1f}s CPU)"
        print(f"{as_of} {home.name}: {took}", *labels, sep="\n  ", file=sys.stderr)
    if failures:
        raise RuntimeError(f"update as of {as_of} failed: {failures}")
    return labels


def fresh_build(home: Path, instance, as_of: str) -> list[str]:
    """A warehouse built from nothing as of `as_of` the way `finance-assets backfill` builds one: the
    holdings file and registered tickers as of the clock, then `planning.plan_backfill` from the history
    start to the clock's month and `planning.run_plan`, one range run per run group (lib/selections.py).
    A second code path beside continuous operation's `update`, and about a tenth of its evaluations."""
    import pandas as pd

    from finance_assets.lib.partitions import TICKER
    from finance_assets.planning import plan_backfill, run_plan

    home.mkdir(parents=True, exist_ok=True)
    _use(home, as_of)
    (home / "portfolio.csv").write_text(holdings_csv(as_of))
    instance.add_dynamic_partitions(TICKER, tickers_as_of(as_of))
    now = _settings(home, as_of).now()
    job_for = _job_getter(home, as_of)

    t0, c0 = time.monotonic(), time.process_time()
    plan = plan_backfill(instance, start=HISTORY_START, end=f"{pd.Timestamp(now).tz_convert(NEW_YORK):%Y-%m}", now=now)
    failures = run_plan(instance, plan, job_for=job_for, run_config=QUIET)
    if os.environ.get("REPLAY_VERBOSE"):
        print(
            f"{as_of} {home.name}: {time.monotonic() - t0:.1f}s ({time.process_time() - c0:.1f}s CPU)",
            *[s.label for s in plan],
            sep="\n  ",
            file=sys.stderr,
        )
    if failures:
        raise RuntimeError(f"fresh build as of {as_of} failed: {failures}")
    return [step.label for step in plan]


def tables(warehouse_dir: Path) -> list[str]:
    return sorted(p.name for p in Path(warehouse_dir).iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _normalized(frame, table: str, home: Path):
    """HISTORY_COLUMNS dropped; the report's HTML path relative to its home (two homes hold the same
    file), kept on the latest report day only (see HISTORY_COLUMNS)."""
    frame = frame.drop(columns=[c for t, c in HISTORY_COLUMNS if t == table and c in frame])
    if table == "portfolio_report" and "report_path" in frame and len(frame):
        frame = frame.copy()
        latest = frame["date"] == frame["date"].max()
        frame["report_path"] = [
            str(Path(p).relative_to(home)) if last and isinstance(p, str) else None
            for p, last in zip(frame["report_path"], latest)
        ]
    return frame


def frame_mismatches(table: str, a, b, keys: list[str]) -> list[str]:
    """Cell-by-cell differences of two sorted frames of one table (floats within TOLERANCE, NaN == NaN)."""
    import numpy as np
    import pandas as pd

    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return [f"{table}: shape {a.shape} vs fresh {b.shape}; columns {list(a.columns)} vs {list(b.columns)}"]
    problems = []
    for column in a.columns:
        x, y = a[column], b[column]
        if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
            xv, yv = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
            both_nan = np.isnan(xv) & np.isnan(yv)
            bad = ~(np.where(both_nan, 0.0, np.abs(xv - yv)) <= TOLERANCE)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                problems.append(
                    f"{table}.{column}: {int(bad.sum())} cells differ, first {a.loc[i, keys].tolist()}: "
                    f"{xv[i]!r} vs fresh {yv[i]!r}"
                )
        else:
            xs, ys = x.astype(str).to_numpy(), y.astype(str).to_numpy()
            if (xs != ys).any():
                i = int(np.flatnonzero(xs != ys)[0])
                problems.append(
                    f"{table}.{column}: {int((xs != ys).sum())} cells differ, first {a.loc[i, keys].tolist()}: "
                    f"{x[i]!r} vs fresh {y[i]!r}"
                )
    return problems


def compare(a_home: Path, b_home: Path, as_of: str) -> tuple[dict, list[str]]:
    """Every table of the two warehouses, cell by cell: (rows per table, mismatches)."""
    import pandas as pd

    from finance_assets.lib.warehouse import Warehouse

    a_dir, b_dir = _settings(a_home, as_of).warehouse_dir, _settings(b_home, as_of).warehouse_dir
    problems, rows = [], {}
    for table in sorted(set(tables(a_dir)) | set(tables(b_dir))):
        a = _normalized(Warehouse(a_dir).read(table), table, a_home)
        b = _normalized(Warehouse(b_dir).read(table), table, b_home)
        floats = [c for c in b.columns if pd.api.types.is_float_dtype(b[c])]
        keys = KEYS.get(table) or [c for c in b.columns if c not in floats]
        keys = [k for k in keys if k in a and k in b]
        a = a.sort_values(keys, ignore_index=True, kind="stable") if keys else a
        b = b.sort_values(keys, ignore_index=True, kind="stable") if keys else b
        rows[table] = len(b)
        problems += frame_mismatches(table, a, b, keys)
    return rows, problems


def events(home: Path, as_of: str) -> dict:
    """What the checkpoint's warehouse shows of the window's events (for the test's assertions)."""
    import pandas as pd

    from finance_assets.lib.warehouse import Warehouse

    wh = Warehouse(_settings(home, as_of).warehouse_dir)
    out: dict = {}
    actions = wh.read("corporate_actions")
    if len(actions):
        out["actions"] = sorted(f"{r.ticker} {pd.Timestamp(r.ex_date).date()} {r.kind}" for r in actions.itertuples())
    holdings = wh.read("portfolio_holdings")
    if len(holdings):
        days = pd.to_datetime(holdings["date"])
        out["report_days"] = [str(days.min().date()), str(days.max().date()), int(days.nunique())]
        # the FY2025 10-K each holding's report row uses, per report day from 2026-02-27 on
        recent = holdings[days >= "2026-02-27"]
        out["fundamentals_filed"] = {
            f"{pd.Timestamp(r.date).date()} {r.ticker}": (
                None if pd.isna(r.fundamentals_filed) else str(pd.Timestamp(r.fundamentals_filed).date())
            )
            for r in recent.itertuples()
            if r.ticker in ("ACMQ", "CRXQ") and pd.Timestamp(r.date) <= pd.Timestamp("2026-03-05")
        }
        out["tickers_by_day"] = {
            str(pd.Timestamp(d).date()): sorted(g["ticker"])
            for d, g in holdings.groupby("date")
            if str(d)[:7] >= "2026-04"
        }
        eur = holdings[holdings["currency"] == "EUR"]
        out["eur_fx_rates"] = int(eur["fx_rate"].nunique())
    report = wh.read("portfolio_report")
    if len(report):
        report = report.assign(date=pd.to_datetime(report["date"]).dt.date.astype(str))
        out["no_day_pnl"] = sorted(report.loc[report["day_pnl"].isna(), "date"])
        out["day_pnl_fx"] = {r.date: r.day_pnl_fx for r in report.itertuples() if r.date >= "2026-02-01"}
    snapshots = wh.read("fundamental_snapshots")
    if len(snapshots):
        # the sessions from which each FY2025 10-K is known (ACMQ: after the close; CRXQ: during it)
        out["known_at_2026"] = {
            t: sorted(str(pd.Timestamp(d).date()) for d in g["known_at"] if str(d)[:4] == "2026")
            for t, g in snapshots[snapshots["ticker"].isin(["ACMQ", "CRXQ"])].groupby("ticker")
        }
    return out


def main(workdir: str, first: str, last: str, checkpoints: str) -> None:
    import dagster as dg
    import pandas as pd

    from finance_assets.demo.source import demo_sessions

    root = Path(workdir)
    wanted = set(checkpoints.split(",")) if checkpoints else set()
    sessions = [d for d in demo_sessions() if pd.Timestamp(first) <= d <= pd.Timestamp(last)]
    t0 = time.monotonic()
    live_home = root / "continuous"
    session_seconds = fresh_seconds = 0.0
    # In-memory Dagster instances (run and event storage in one SQLite connection each): the same
    # storage code as a file-backed instance without a connection per call, which was a third of a session
    with dg.DagsterInstance.ephemeral() as instance:
        for session in sessions:
            as_of = f"{session:%Y-%m-%d}T18:00"
            t1 = time.monotonic()
            build_as_of(live_home, instance, as_of)
            session_seconds += time.monotonic() - t1
            if f"{session:%Y-%m-%d}" in wanted:
                t2 = time.monotonic()
                fresh_home = root / f"fresh-{session:%Y%m%d}"
                with dg.DagsterInstance.ephemeral() as fresh:
                    fresh_build(fresh_home, fresh, as_of)
                fresh_seconds += time.monotonic() - t2
                rows, problems = compare(live_home, fresh_home, as_of)
                line = {
                    "as_of": as_of,
                    "tables": rows,
                    "mismatches": problems,
                    "events": events(live_home, as_of),
                    "seconds": round(time.monotonic() - t2, 1),
                }
                print(json.dumps(line, default=str), flush=True)
    print(
        json.dumps(
            {
                "sessions": len(sessions),
                "seconds": round(time.monotonic() - t0, 1),
                # CPU time of this process: the figure to compare on a shared machine
                "cpu_seconds": round(sum(os.times()[:4]), 1),
                "session_seconds": round(session_seconds, 1),
                "fresh_seconds": round(fresh_seconds, 1),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    os.environ["FINANCE_ASSETS_HISTORY_START"] = HISTORY_START
    main(*sys.argv[1:5])
