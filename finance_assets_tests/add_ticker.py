"""Adding a ticker to a built warehouse (#17), run in a subprocess by test_add_ticker.py:

    python -m finance_assets_tests.add_ticker <workdir>

Builds the replay's universe from nothing as of AS_OF (planning.plan_backfill + run_plan, what
`finance-assets backfill` runs), registers ADDED, brings the warehouse up to date (planning.update: the
automation conditions, then the market sync's runs for ADDED alone), and prints one JSON line:
- the runs `update` made (labels, and each run's assets and tickers / report tags) and its seconds;
- per table, the rows of every other ticker that changed (cell by cell, exact) and ADDED's row count;
- the daily-bar and panel files (stored by month and ticker shard) of the shards without ADDED whose bytes
  changed (ADDED's shard files hold other tickers too: their rows are compared above);
- the mismatches against a fresh build with ADDED registered from the start (replay.compare).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from finance_assets_tests import replay

AS_OF = "2026-03-17T18:00"  # the day after ELQX's 3:1 split: one ticker's history restated already
ADDED = "KLQX"  # not in the holdings file before replay.ADDED_ON: the report reads none of its rows
DAILY_BARS = ("prices", "technicals", "headlines", "sentiment", "market_panel")  # month assets stored by ticker


def _rows_by_table(home: Path) -> dict:
    import pandas as pd

    from finance_assets.lib.warehouse import Warehouse, ticker_shard

    wh = Warehouse(home / "data" / "warehouse")
    out = {}
    for table in replay.tables(wh.root):
        frame = wh.read(table)
        if "ticker" in frame.columns and len(frame):
            frame = frame.drop(columns=[c for c in ("year",) if c in frame.columns])
            order = [c for c in frame.columns if frame[c].dtype != object or c in ("ticker", "date")]
            out[table] = frame.sort_values([c for c in ("ticker", "date") if c in frame] or order, kind="stable")
            out[table] = out[table].reset_index(drop=True)
    return (
        out,
        {
            str(f.relative_to(wh.root)): f.read_bytes()
            for asset in DAILY_BARS
            for f in wh.all_files(asset)
            if f"/shard={ticker_shard(ADDED)}/" not in str(f)  # its shard's files: compared by rows
        },
        pd,
    )


def _changed_rows(before, after, pd) -> dict:
    changed = {}
    for table, old in before.items():
        new = after.get(table)
        others_old = old[old["ticker"] != ADDED].reset_index(drop=True)
        others_new = new[new["ticker"] != ADDED].reset_index(drop=True)
        try:
            pd.testing.assert_frame_equal(others_old, others_new, check_exact=True)
        except AssertionError as err:
            changed[table] = str(err).splitlines()[:3]
    return changed


def _runs_since(instance, known: set[str]) -> list[dict]:
    """The runs not in `known`, oldest first: their assets and the tags that say whom they are for."""
    from finance_assets.lib.partitions import REPORT_READS_TAG, TICKERS_TAG

    runs = [r for r in reversed(instance.get_runs()) if r.run_id not in known]
    return [
        {
            "assets": sorted(key.to_user_string() for key in run.asset_selection or ()),
            "tickers": run.tags.get(TICKERS_TAG),
            "report_reads": run.tags.get(REPORT_READS_TAG),
        }
        for run in runs
    ]


def main(workdir: str) -> None:
    import dagster as dg

    from finance_assets.lib.partitions import TICKER

    root = Path(workdir)
    home = root / "kept"
    with dg.DagsterInstance.ephemeral() as instance:
        replay.fresh_build(home, instance, AS_OF)
        before, files_before, pd = _rows_by_table(home)
        instance.add_dynamic_partitions(TICKER, [ADDED])
        known = {run.run_id for run in instance.get_runs()}
        t0 = time.monotonic()
        runs = replay.build_as_of(home, instance, AS_OF)
        seconds = round(time.monotonic() - t0, 1)
        run_records = _runs_since(instance, known)
    after, files_after, _ = _rows_by_table(home)
    fresh = root / "fresh"
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(TICKER, [ADDED])
        replay.fresh_build(fresh, instance, AS_OF)
    _, mismatches = replay.compare(home, fresh, AS_OF)
    print(
        json.dumps(
            {
                "update_runs": runs,
                "update_run_records": run_records,
                "update_seconds": seconds,
                "changed_rows_of_other_tickers": _changed_rows(before, after, pd),
                "added_rows": {t: int((f["ticker"] == ADDED).sum()) for t, f in after.items()},
                "other_files": len(files_before),
                "other_files_changed": sorted(f for f, b in files_before.items() if files_after.get(f) != b),
                "mismatches_vs_fresh": mismatches,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    os.environ["FINANCE_ASSETS_HISTORY_START"] = replay.HISTORY_START
    main(sys.argv[1])
