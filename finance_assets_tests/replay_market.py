"""Replay harness: continuous operation session by session vs fresh builds as of the same clock.

Run as a module in its own process (FINANCE_ASSETS_HISTORY_START is read when the partitions are
defined, so it must be set before the project is imported):

    python -m finance_assets_tests.replay_market WORKDIR FIRST_SESSION LAST_SESSION CHECKPOINT[,CHECKPOINT...]

Every session's clock is 18:00 New York. Each session runs `planning.update` (what
`finance-assets update` runs: the automation conditions of lib/automation.py decide) on one
long-lived warehouse; at each checkpoint a fresh warehouse is built from nothing by the same
function as of the same clock, and every table is compared cell by cell (floats within 1e-12).

The graph replayed is the market part: corporate_actions -> prices -> technicals, with the
production conditions and the real source resource, whose demo requests are not held to Yahoo's
2 requests/s (nothing leaves the machine; the limiter is measured elsewhere). Prints one JSON line per checkpoint: {"as_of", "tables": {name: rows},
"mismatches": [...]} and a final {"sessions", "seconds"} line.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from pathlib import Path

HISTORY_START = "2026-01"
TICKERS = ["ACMQ", "CRXQ", "ELQX", "HVQX"]
TABLES = {
    "corporate_actions": ["ticker", "ex_date", "kind"],
    "prices": ["ticker", "date"],
    "technicals": ["ticker", "date"],
}


def _settings(home: Path, as_of: str):
    from finance_assets.lib.config import Settings

    return Settings.from_env(
        {
            "FINANCE_ASSETS_HOME": str(home),
            "FINANCE_ASSETS_HISTORY_START": HISTORY_START,
            "FINANCE_ASSETS_EXECUTOR": "in_process",
            "FINANCE_ASSETS_AS_OF": as_of,
        }
    )


def _unthrottled_price_source():
    """PriceSource with the demo's requests not held to Yahoo's 2 requests/s (nothing leaves the machine):
    the same client, transport, parsing and assets; only the limiter's rate for the demo differs."""
    from finance_assets.defs.market.source import PriceSource

    class ReplayPriceSource(PriceSource):
        def _rates(self) -> dict:
            return {"yahoo": [(10_000, 1.0)]}

    return ReplayPriceSource


@functools.cache
def replay_definitions(home: str, as_of: str):
    """The market part of the code location with the production automation conditions."""
    import dagster as dg

    from finance_assets.definitions import build_resources
    from finance_assets.defs.market import assets as market
    from finance_assets.lib.automation import with_automation

    settings = _settings(Path(home), as_of)
    resources = build_resources(settings)
    source = _unthrottled_price_source()(
        mode="demo", cache_dir=str(settings.cache_dir), state_dir=str(settings.state_dir), as_of=settings.as_of
    )
    return dg.Definitions(
        assets=with_automation([market.corporate_actions, market.prices, market.technicals]),
        resources={"io_manager": resources["io_manager"], "prices_source": source},
        executor=dg.in_process_executor,
        jobs=[
            dg.define_asset_job("actions_job", selection=["corporate_actions"]),
            dg.define_asset_job("market_job", selection=["prices", "technicals"]),
        ],
    )


def replay_job(name: str, home: str, as_of: str):
    return replay_definitions(home, as_of).resolve_job_def(name)


def build_as_of(home: Path, instance, as_of: str) -> list:
    """`planning.update` on `home`'s warehouse as of `as_of` (the clock of every run)."""
    import dagster as dg

    from finance_assets.lib.warehouse import Warehouse
    from finance_assets.planning import update

    now = _settings(home, as_of).now()
    defs = replay_definitions(str(home), as_of)

    def job_for(name: str):
        return dg.build_reconstructable_job(
            "finance_assets_tests.replay_market",
            "replay_job",
            reconstructable_kwargs={"name": name, "home": str(home), "as_of": as_of},
        )

    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    t0 = time.monotonic()
    # the market sync reads the coverage of this build's warehouse, not the environment's
    warehouse = Warehouse(_settings(home, as_of).warehouse_location)
    runs, failures = update(
        instance, defs, now, job_for=job_for, run_config=quiet, echo=lambda line: None, warehouse=warehouse
    )
    if os.environ.get("REPLAY_VERBOSE"):
        print(
            f"{as_of} {home.name}: {time.monotonic() - t0:.1f}s", *[r.label for r in runs], sep="\n  ", file=sys.stderr
        )
    if failures:
        raise RuntimeError(f"update as of {as_of} failed: {failures}")
    return runs


def compare(a_dir: Path, b_dir: Path) -> tuple[dict, list[str]]:
    """Every table of the two warehouses, cell by cell: (rows per table, mismatches)."""
    from finance_assets.lib.warehouse import Warehouse
    from finance_assets_tests.replay import frame_mismatches

    problems, rows = [], {}
    for table, keys in TABLES.items():
        a = Warehouse(a_dir).read(table).sort_values(keys, ignore_index=True)
        b = Warehouse(b_dir).read(table).sort_values(keys, ignore_index=True)
        rows[table] = len(b)
        problems += frame_mismatches(table, a, b, keys)
    return rows, problems


def main(workdir: str, first: str, last: str, checkpoints: str) -> None:
    import dagster as dg
    import pandas as pd

    from finance_assets.demo.source import demo_sessions
    from finance_assets.lib.partitions import TICKER

    os.environ["FINANCE_ASSETS_HISTORY_START"] = HISTORY_START
    root = Path(workdir)
    wanted = set(checkpoints.split(",")) if checkpoints else set()
    sessions = [d for d in demo_sessions() if pd.Timestamp(first) <= d <= pd.Timestamp(last)]
    t0 = time.monotonic()
    live_home = root / "continuous"
    for sub in ("continuous-dagster", *(f"fresh-dagster-{c.replace('-', '')}" for c in wanted)):
        (root / sub).mkdir(parents=True, exist_ok=True)
    with dg.instance_for_test(temp_dir=str(root / "continuous-dagster")) as instance:
        instance.add_dynamic_partitions(TICKER, TICKERS)
        for session in sessions:
            as_of = f"{session:%Y-%m-%d}T18:00"
            build_as_of(live_home, instance, as_of)
            if f"{session:%Y-%m-%d}" in wanted:
                fresh_home = root / f"fresh-{session:%Y%m%d}"
                with dg.instance_for_test(temp_dir=str(root / f"fresh-dagster-{session:%Y%m%d}")) as fresh:
                    fresh.add_dynamic_partitions(TICKER, TICKERS)
                    build_as_of(fresh_home, fresh, as_of)
                rows, problems = compare(
                    _settings(live_home, as_of).warehouse_dir, _settings(fresh_home, as_of).warehouse_dir
                )
                print(json.dumps({"as_of": as_of, "tables": rows, "mismatches": problems}), flush=True)
    print(json.dumps({"sessions": len(sessions), "seconds": round(time.monotonic() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
