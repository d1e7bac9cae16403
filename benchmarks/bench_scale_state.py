"""Issue #17 at N = 1,000 and 6,000 without building the universe: the measures that only need a built
warehouse and instance, on a state written directly (`make bench-scale-state`).

`bench_scale` builds its universe with the product's own runs, which this 2-core machine cannot do for
1,000 or 6,000 tickers within a session. The measures below do not depend on how the state was made:

  cross_section   every ticker's latest close, SMA-50 and P/E as of a day (bench_scale's query and code),
                  over synthetic `prices` / `technicals` rows written through `Warehouse.write_split_counts` (the
                  product's layout: one file per month and ticker shard) for the 12 months up to the day,
                  and the same rows as one file per asset and month, queried side by side
  session_write   the day's month of prices and technicals for every ticker rewritten through the warehouse:
                  what a session's market run writes (files and seconds)
  add_ticker_write a new ticker's 12 months of prices and technicals written into that state: its shard's
                  file of each month rewritten; every other ticker's rows compared before and after
  automation_noop one automation evaluation with nothing to do (bench_scale's), after a first one at the
                  same clock, on an instance where every partition of every asset is materialized
  graphql         the UI's partition-status query per asset (bench_scale's), on that instance

Synthetic means: rows of the declared schemas with random values (fixed seed), and runless
materialization events (`report_runless_asset_event`) for every partition; the registered tickers are the
benchmark universe's (`finance-assets register`, as bench_scale does). Nothing here is a demo backfill.

SCALE_N picks the sizes (default 1000,6000); writes benchmarks/results/scale-state-<N>.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import bench_scale as scale

RESULTS = Path(__file__).with_name("results")
SEED = 17


def _frame(schema, tickers: list[str], days, rng):
    """Rows of `schema` for every ticker and day: random numbers, the key columns set, strings 'synthetic'."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    n = len(tickers) * len(days)
    data = {}
    for column in schema.columns:
        kind = column.type
        if column.name == "ticker":
            data[column.name] = np.repeat(tickers, len(days))
        elif column.name == "date":
            data[column.name] = np.tile(np.asarray(days), len(tickers))
        elif pa.types.is_floating(kind):
            data[column.name] = rng.random(n) * 100
        elif pa.types.is_integer(kind):
            data[column.name] = rng.integers(0, 1_000_000, n)
        elif pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            data[column.name] = np.tile(np.asarray(days), len(tickers))
        else:
            data[column.name] = "synthetic"
    return schema.conform(pd.DataFrame(data))


def inner_write_state(root: Path, day: str) -> dict:
    """The synthetic warehouse (prices, technicals for CROSS_SECTION_MONTHS up to `day`, one snapshot per
    ticker) in the product's layout, plus the same rows one file per asset and month under root/by_month."""
    import numpy as np
    import pandas as pd

    from finance_assets.defs.portfolio.schemas import FUNDAMENTAL_SNAPSHOTS
    from finance_assets.lib import coverage
    from finance_assets.lib.warehouse import Warehouse, ticker_shard

    rng = np.random.default_rng(SEED)
    tickers = sorted(scale._instance().get_dynamic_partitions("ticker"))
    wh = Warehouse(scale._settings().warehouse_location)
    last = pd.Timestamp(day)
    out: dict = {"tickers": len(tickers), "months": scale.CROSS_SECTION_MONTHS, "files_written": 0}
    by_month = root / "by_month"
    started = time.perf_counter()
    for asset, schema in _schemas():
        (by_month / asset).mkdir(parents=True, exist_ok=True)
        for m in _months_up_to(last):  # a month at a time: each of its shard files written once
            [frame], dims = _month_frames(schema, tickers, [m], last, rng)
            out["files_written"] += len({ticker_shard(t) for t in tickers})
            wh.write_split_counts(asset, frame, dims)
            coverage.record(wh, asset, [m.strftime("%Y-%m-01")], tickers)  # as the IO manager records a run
            month = frame.sort_values(["date", "ticker"])
            month.to_parquet(by_month / asset / f"{m.strftime('%Y-%m-01')}.parquet", index=False)
    snapshots = _frame(FUNDAMENTAL_SNAPSHOTS, tickers, [last - pd.Timedelta(days=40)], rng)
    wh.write("fundamental_snapshots", None, snapshots)
    snapshots.to_parquet(by_month / "fundamental_snapshots.parquet", index=False)
    out["write_seconds"] = round(time.perf_counter() - started, 1)
    return out


def _months_up_to(last):
    """The CROSS_SECTION_MONTHS month starts up to `last` (a Timestamp)."""
    import pandas as pd

    first = (last - pd.DateOffset(months=scale.CROSS_SECTION_MONTHS - 1)).replace(day=1)
    return pd.date_range(first, last, freq="MS")


def _month_frames(schema, tickers: list[str], months, last, rng) -> tuple[list, list[dict]]:
    """Each month's rows of `schema` for every ticker (its weekdays up to `last`), and their partitions."""
    import pandas as pd

    frames, dims = [], []
    for m in months:
        days = pd.bdate_range(m, min(m + pd.offsets.MonthEnd(0), last))
        frames.append(_frame(schema, tickers, days, rng))
        dims += [{"ticker": t, "month": m.strftime("%Y-%m-01")} for t in tickers]
    return frames, dims


def _schemas():
    from finance_assets.defs.market import assets as market
    from finance_assets.defs.market import schemas as market_schemas

    return (("prices", market_schemas.PRICES), ("technicals", market.TECHNICALS))


def inner_session_write(root: Path, day: str) -> dict:
    """The day's month of prices and technicals for every ticker, written through the warehouse as a
    session's market run writes it (new random values: every row of the month replaced)."""
    import numpy as np
    import pandas as pd

    from finance_assets.lib.warehouse import Warehouse

    rng = np.random.default_rng(SEED + 1)
    tickers = sorted(scale._instance().get_dynamic_partitions("ticker"))
    wh = Warehouse(scale._settings().warehouse_location)
    last = pd.Timestamp(day)
    out: dict = {"tickers": len(tickers)}
    for asset, schema in _schemas():
        frames, dims = _month_frames(schema, tickers, [last.replace(day=1)], last, rng)
        frame = pd.concat(frames, ignore_index=True)
        started = time.perf_counter()
        wh.write_split_counts(asset, frame, dims)
        out[asset] = {
            "seconds": round(time.perf_counter() - started, 2),
            "files": len(wh.files(asset, dims)),
            "rows": len(frame),
        }
    return out


def inner_add_ticker_write(root: Path, day: str) -> dict:
    """A new ticker's CROSS_SECTION_MONTHS of prices and technicals written into the stored state (its
    shard's file of each month rewritten), every other ticker's rows of those files read before and after."""
    import numpy as np
    import pandas as pd

    from finance_assets.lib.warehouse import Warehouse, ticker_shard

    added = "ZZADD"
    rng = np.random.default_rng(SEED + 2)
    wh = Warehouse(scale._settings().warehouse_location)
    last = pd.Timestamp(day)
    months = _months_up_to(last)
    out: dict = {"ticker": added, "shard": ticker_shard(added), "months": len(months)}
    for asset, schema in _schemas():
        frames, dims = _month_frames(schema, [added], months, last, rng)
        files = wh.files(asset, dims)
        before = wh.read_files(files)
        started = time.perf_counter()
        wh.write_split_counts(asset, pd.concat(frames, ignore_index=True), dims)
        seconds = time.perf_counter() - started
        after = wh.read_files(files)
        keys = ["ticker", "date"]
        others = after[after["ticker"] != added].sort_values(keys, ignore_index=True)
        out[asset] = {
            "seconds": round(seconds, 2),
            "per_month_ms": round(1000 * seconds / len(months), 1),
            "files": len(files),
            "other_tickers_in_those_files": int(before["ticker"].nunique()),
            "other_rows_unchanged": bool(others.equals(before.sort_values(keys, ignore_index=True))),
            "added_rows": int((after["ticker"] == added).sum()),
        }
    return out


def inner_cross_section_by_month(root: Path, day: str) -> dict:
    """bench_scale's cross-sectional SQL over the same rows kept one file per asset and month (opened as
    views over those files; 5 runs, median), for the side-by-side ratio with the product's layout."""
    import duckdb

    by_month = root / "by_month"
    started = time.perf_counter()
    con = duckdb.connect()
    for asset in ("prices", "technicals"):
        files = sorted(str(f) for f in (by_month / asset).glob("*.parquet"))
        con.execute(f"CREATE VIEW {asset} AS SELECT * FROM read_parquet({files!r})")
    snapshots = by_month / "fundamental_snapshots.parquet"
    con.execute(f"CREATE VIEW fundamental_snapshots AS SELECT * FROM read_parquet('{snapshots}')")
    open_ms = round(1000 * (time.perf_counter() - started), 1)
    timings, rows = [], []
    for _ in range(5):
        started = time.perf_counter()
        rows = con.execute(scale.CROSS_SECTION_SQL, [day, day]).fetchall()
        timings.append(time.perf_counter() - started)
    timings.sort()
    return {"median_ms": round(1000 * timings[2], 1), "open_ms": open_ms, "tickers": len(rows)}


@contextlib.contextmanager
def _one_sqlite_connection_per_shard(storage):
    """Within the block, Dagster's SQLite event storage keeps one connection per shard, without fsync, instead
    of a new engine and a durable commit per event (~10-35 ms an event here): set-up speed only, the rows
    written are Dagster's own."""
    import sqlalchemy

    connections: dict = {}

    @contextlib.contextmanager
    def connect(shard: str):
        if shard not in connections:
            with original(shard):  # creates and migrates the shard's database as Dagster does
                pass
            engine = sqlalchemy.create_engine(storage.conn_string_for_shard(shard))
            connection = engine.connect()
            connection.exec_driver_sql("PRAGMA synchronous=OFF")
            connection.commit()
            connections[shard] = connection
        connection = connections[shard]
        if connection.in_transaction():  # a read inside a write of the same shard
            yield connection
            return
        with connection.begin():
            yield connection

    original = storage._connect
    storage._connect = connect
    try:
        yield
    finally:
        storage._connect = original
        for connection in connections.values():
            connection.close()


def inner_materialize_everything(root: Path) -> dict:
    """A runless materialization event for every partition of every asset of the definitions."""
    import dagster as dg

    from finance_assets import definitions

    instance, now = scale._instance(), scale._settings().now()
    graph = definitions.defs.resolve_asset_graph()
    started, events = time.perf_counter(), 0
    with (
        _one_sqlite_connection_per_shard(instance.event_log_storage),
        dg.partition_loading_context(effective_dt=now, dynamic_partitions_store=instance),
    ):
        for key in graph.toposorted_asset_keys:
            node = graph.get(key)
            if not node.is_materializable:
                continue
            pdef = node.partitions_def
            for partition in [None] if pdef is None else pdef.get_partition_keys():
                instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
                events += 1
    return {"events": events, "seconds": round(time.perf_counter() - started, 1)}


def inner_automation_twice(root: Path) -> dict:
    """Two evaluations at the same clock: the first makes the cursor (after the injected events), the
    second is the measure (nothing new happened in between)."""
    first = scale.inner_automation(root)
    second = scale.inner_automation(root)
    return {**second, "first_evaluation": first}


MEASURES = {
    "write_state": inner_write_state,
    "cross_section_by_month": inner_cross_section_by_month,
    "session_write": inner_session_write,
    "add_ticker_write": inner_add_ticker_write,
    "materialize_everything": inner_materialize_everything,
    "automation_twice": inner_automation_twice,
}


def _script(name: str, root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.bench_scale_state", "--measure", name, str(root), *args]


def run_size(n: int, budget: float, work: Path) -> dict:
    root = work / f"n{n}"
    root.mkdir(parents=True)
    logs = Path(os.environ.get("SCALE_LOG_DIR") or tempfile.gettempdir()) / f"bench_scale_state_logs-{n}"
    logs.mkdir(parents=True, exist_ok=True)
    scale.write_portfolio(root / "universe.csv", scale.universe_tickers(n))
    env = scale.environment(root, n)
    out: dict = {
        "n": n,
        "as_of": scale.AS_OF,
        "state": "synthetic (see module docstring)",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "measures": {},
    }

    def record(name: str, cmd: list[str], allowed: float = budget) -> dict:
        print(f"[N={n}] {name} ...", file=sys.stderr, flush=True)
        measured = scale.run_process(cmd, env, allowed, logs / f"{name}.log")
        out["measures"][name] = measured
        print(f"[N={n}] {name}: {measured['status']} in {measured['seconds']} s {measured['result']}", file=sys.stderr)
        return measured

    record("register", scale.cli("register", "--portfolio", str(root / "universe.csv")))
    record("write_state", _script("write_state", root, scale.CROSS_SECTION_DAY), allowed=3 * budget)
    record("cross_section", scale.measure_script("cross_section", root, scale.CROSS_SECTION_DAY))
    record("cross_section_by_month", _script("cross_section_by_month", root, scale.CROSS_SECTION_DAY))
    record("session_write", _script("session_write", root, scale.CROSS_SECTION_DAY))
    record("add_ticker_write", _script("add_ticker_write", root, scale.CROSS_SECTION_DAY))
    record("materialize_everything", _script("materialize_everything", root), allowed=3 * budget)
    record("automation_noop", _script("automation_twice", root))
    print(f"[N={n}] graphql ...", file=sys.stderr, flush=True)
    out["measures"]["graphql"] = scale.graphql_per_asset(root, env, budget, logs / "graphql.log")
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--measure":
        name, root, *args = argv[1:]
        result = MEASURES[name](Path(root), *args)
        scale._emit(result)
        return 0
    budget = float(os.environ.get("SCALE_BUDGET_S", "600"))
    sizes = [int(n) for n in os.environ.get("SCALE_N", "1000,6000").split(",") if n.strip()]
    with tempfile.TemporaryDirectory(prefix="bench_scale_state-") as tmp:
        for n in sizes:
            result = run_size(n, budget, Path(tmp))
            path = RESULTS / f"scale-state-{n}.json"
            path.write_text(json.dumps(result, indent=2) + "\n")
            print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
