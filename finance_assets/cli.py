"""`finance-assets`: the common flows without the UI.

  finance-assets register [--portfolio data/portfolio.csv] [--benchmark DEMOIDX]
  finance-assets backfill [--start 2024-11] [--end 2026-11] [--tickers A,B] [--force]
  finance-assets demo                     register the demo universe and backfill two years
  finance-assets report                   where the latest report is
  finance-assets catalog                  (re)create the DuckDB views and show an example query

Backfills run as few Dagster runs as possible (one per partition scheme and rectangle, in chunks of
tickers for a progress line), skip partitions already materialized after their data was final,
and share one warm Dask cluster across all runs of the invocation.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from finance_assets.lib import config


class CliError(Exception):
    pass


def _instance():
    import dagster as dg

    home = os.environ.get("DAGSTER_HOME")
    if not home:
        home = str(config.project_home() / ".dagster_home")
        os.environ["DAGSTER_HOME"] = home
    Path(home).mkdir(parents=True, exist_ok=True)
    yaml_src = config.project_home() / "dagster.yaml"
    if not (Path(home) / "dagster.yaml").exists() and yaml_src.exists():
        (Path(home) / "dagster.yaml").write_text(yaml_src.read_text())
    return dg.DagsterInstance.get()


@contextlib.contextmanager
def dask_cluster(kind: str) -> Iterator[str | None]:
    """One warm local Dask cluster for every run of this invocation (unless one is configured)."""
    if kind != "dask" or os.environ.get("DASK_SCHEDULER_ADDRESS"):
        yield os.environ.get("DASK_SCHEDULER_ADDRESS")
        return
    from distributed import LocalCluster

    workers = max(1, min(os.cpu_count() or 1, 8))
    with LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
    ) as cluster:
        os.environ["DASK_SCHEDULER_ADDRESS"] = cluster.scheduler_address
        try:
            yield cluster.scheduler_address
        finally:
            os.environ.pop("DASK_SCHEDULER_ADDRESS", None)


def register(portfolio: Path, benchmark: str | None) -> list[str]:
    from finance_assets.lib.holdings_file import read_portfolio
    from finance_assets.lib.partitions import TICKER
    from finance_assets.lib.tickers import normalize_ticker

    holdings = read_portfolio(portfolio)
    tickers = list(dict.fromkeys(holdings["ticker"]))
    if benchmark:
        tickers.append(normalize_ticker(benchmark))
    instance = _instance()
    existing = set(instance.get_dynamic_partitions(TICKER))
    new = [t for t in dict.fromkeys(tickers) if t not in existing]
    if new:
        instance.add_dynamic_partitions(TICKER, new)
    print(
        f"registered {len(new)} new ticker(s) ({', '.join(new) or 'none'}); "
        f"{len(existing) + len(new)} ticker partitions in total"
    )
    return tickers


class Progress:
    """done/total partitions, rate and ETA, printed after every run."""

    def __init__(self, total: int):
        self.total, self.done, self.started = total, 0, time.monotonic()

    def advance(self, label: str, n: int) -> None:
        self.done += n
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed else 0.0
        eta = (self.total - self.done) / rate if rate else float("nan")
        pct = 100.0 * self.done / self.total if self.total else 100.0
        print(
            f"  [{self.done}/{self.total} partitions {pct:5.1f}%] {rate:6.1f} partitions/s, "
            f"ETA {eta:5.0f}s  <- {label}",
            flush=True,
        )


def backfill(
    start: str | None, end: str | None, tickers: list[str] | None, force: bool, executor: str, chunk_tickers: int
) -> dict:
    from finance_assets.planning import plan_backfill, run_plan

    instance = _instance()
    os.environ["FINANCE_ASSETS_EXECUTOR"] = executor
    plan = plan_backfill(instance, start=start, end=end, tickers=tickers, force=force, chunk_tickers=chunk_tickers)
    total = sum(step.partition_count for step in plan)
    if not plan:
        print("nothing to do: every partition in the range is materialized and final")
        return {"runs": 0, "partitions": 0}
    print(f"plan: {len(plan)} run(s), {total} asset partitions")
    progress = Progress(total)
    t0 = time.monotonic()
    with dask_cluster(executor) as address:
        if address:
            print(f"dask scheduler: {address}")
        failures = run_plan(instance, plan, on_done=lambda step: progress.advance(step.label, step.partition_count))
    elapsed = time.monotonic() - t0
    print(
        f"done: {len(plan)} run(s), {total} asset partitions in {elapsed:.1f}s"
        + (f", {len(failures)} FAILED: {', '.join(failures)}" if failures else "")
    )
    if failures:
        raise CliError("some runs failed; see the Dagster UI (make dev) or the log above")
    return {"runs": len(plan), "partitions": total, "seconds": elapsed}


def latest_report() -> Path | None:
    path = config.reports_dir() / "latest.html"
    return path if path.exists() else None


def catalog() -> None:
    from finance_assets.lib.warehouse import Warehouse

    wh = Warehouse(config.warehouse_dir())
    assets = wh.refresh_catalog()
    print(f"DuckDB catalog: {wh.catalog_path}")
    print(f"views: {', '.join(assets) or 'none yet (materialize something first)'}")
    if "prices" in assets:
        print(
            f'try: duckdb {wh.catalog_path} -c "SELECT ticker, count(*) AS days, max(date) FROM prices '
            'GROUP BY ticker ORDER BY ticker"'
        )


def demo(years: int, executor: str, chunk_tickers: int) -> None:
    from finance_assets.demo.source import DEMO_BENCHMARK

    if config.mode() != "demo":
        raise CliError("`finance-assets demo` runs on the demo source; unset FINANCE_ASSETS_MODE=live")
    register(config.portfolio_path(), DEMO_BENCHMARK)
    today = dt.date.today()
    start = f"{today.year - years:04d}-{today.month:02d}"
    backfill(start, None, None, False, executor, chunk_tickers)
    catalog()
    _print_summary()


def _print_summary() -> None:
    from finance_assets.lib.warehouse import Warehouse

    wh = Warehouse(config.warehouse_dir())
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
    path = latest_report()
    print(f"report: {path}" if path else "report: not written yet")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="finance-assets", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("register", help="register tickers from a portfolio file (+ benchmark)")
    p.add_argument("--portfolio", type=Path, default=None)
    p.add_argument("--benchmark", default=None)
    p = sub.add_parser("backfill", help="materialize a date range for some or all tickers")
    p.add_argument("--start", help="first month, YYYY-MM (default: 24 months ago)")
    p.add_argument("--end", help="last month, YYYY-MM (default: the current month)")
    p.add_argument("--tickers", help="comma-separated; default all registered")
    p.add_argument("--force", action="store_true", help="re-materialize even final partitions")
    for q in (p, sub.add_parser("demo", help="register the demo universe and backfill it")):
        q.add_argument(
            "--executor", choices=["dask", "in_process"], default=os.environ.get("FINANCE_ASSETS_EXECUTOR", "dask")
        )
        q.add_argument(
            "--chunk-tickers", type=int, default=0, help="tickers per run (0 = automatic: ~4 progress steps)"
        )
    sub.choices["demo"].add_argument("--years", type=int, default=2)
    sub.add_parser("report", help="print the path of the latest portfolio report")
    sub.add_parser("catalog", help="(re)create the DuckDB views over the warehouse")
    args = parser.parse_args(argv)
    try:
        if args.command == "register":
            register(args.portfolio or config.portfolio_path(), args.benchmark or config.benchmark_ticker())
        elif args.command == "backfill":
            from finance_assets.lib.tickers import normalize_ticker

            # validated (and shown escaped in errors) before they reach a partition key
            tickers = [normalize_ticker(t) for t in args.tickers.split(",")] if args.tickers else None
            backfill(args.start, args.end, tickers, args.force, args.executor, args.chunk_tickers)
        elif args.command == "demo":
            demo(args.years, args.executor, args.chunk_tickers)
        elif args.command == "report":
            path = latest_report()
            if path is None:
                print("no report yet: run `make demo` or `finance-assets backfill`", file=sys.stderr)
                return 1
            print(path)
        elif args.command == "catalog":
            catalog()
    except (CliError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
