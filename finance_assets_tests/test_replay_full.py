"""Continuous operation equals a fresh build (#16), over the whole graph: `make test-replay-full`, which
CI runs (.ci/run) before `make test`.

63 sessions (2026-02-02 .. 2026-05-01), the clock advanced session by session (18:00 New York). Each
session does what the daemon does: the `new_sec_filings` sensor ticks and `planning.update` (what
`finance-assets update` runs: the production automation conditions decide) materializes what they
request, on one long-lived warehouse, over the product's whole graph (SEC filings, facts,
fundamentals, filing documents and their text signals, corporate actions, prices, technicals, headlines, sentiment, ECB rates, the market
panel, the fundamental snapshots and every report day so far; see finance_assets_tests/replay.py).

The window holds every event #16 names:
- dividends (CRXQ, 02-02 and 05-01), a 3:1 split (ELQX, 03-16), a 1-for-4 reverse split (HVQX, 04-06);
- a source price correction (ACMQ's 04-14 bar, first published 6 % high, fixed 04-17);
- a 10-K accepted after the close (ACMQ's FY2025 10-K, 16:05 New York on 03-02, like every demo
  filing: known from the 03-03 session), beside one accepted during that session (CRXQ's, 10:12: known
  on 03-02);
- an exchange holiday (Good Friday 04-03: its report day has no day P&L), and Easter Monday 04-06 and
  May Day 05-01, sessions without an ECB fixing;
- a ticker added to the portfolio midway (KLQX, in the holdings file from 04-08, bought that day);
- an FX move for a foreign holding (CRXQ is held in EUR; 02-27 is the window's largest USD/EUR move).

At a checkpoint right after each event and at the end, every table of the continuous warehouse equals
a warehouse built from nothing as of the same clock (with the holdings file as of that clock, by
`planning.plan_backfill` + `run_plan`, what `finance-assets backfill` runs), cell by cell (floats within
1e-12), the filing documents and their text signals included.

Cost: see finance_assets_tests/replay.py's docstring (measured there; the subprocess's final JSON line,
printed to the test log, has the seconds of each run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The replay runs once, in the first test's setup (~20 min on 2 cores): past the suite's 600 s default,
# within the subprocess's own 3,600 s limit.
pytestmark = [pytest.mark.slow, pytest.mark.replay_full, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parents[1]
FIRST, LAST = "2026-02-02", "2026-05-01"
FX_MOVE, LATE_10K, NEXT_SESSION = "2026-02-27", "2026-03-02", "2026-03-03"
CHECKPOINTS = [
    FX_MOVE,
    LATE_10K,
    NEXT_SESSION,
    "2026-03-16",  # ELQX 3:1 split
    "2026-04-06",  # Good Friday's report day, HVQX reverse split, no ECB fixing (Easter Monday)
    "2026-04-08",  # KLQX added to the holdings file
    "2026-04-14",  # ACMQ's bar published wrong
    "2026-04-17",  # ... and corrected
    LAST,  # CRXQ dividend, no ECB fixing (May Day), the end
]
TABLES = {
    "ticker_cik_map",
    "filings",
    "xbrl_facts",
    "fundamentals",
    "fundamental_snapshots",
    "corporate_actions",
    "prices",
    "technicals",
    "headlines",
    "sentiment",
    "fx_rates",
    "market_panel",
    "portfolio_report",
    "portfolio_holdings",
    "filing_documents",
    "filing_text_signals",
}


def test_the_fx_move_checkpoint_is_the_windows_largest_usd_eur_move():
    from finance_assets.demo.source import demo_ecb_rates

    usd = demo_ecb_rates()["USD"]
    moves = usd.pct_change().abs()[(usd.index >= FIRST) & (usd.index <= LAST)]
    assert str(moves.idxmax().date()) == FX_MOVE


@pytest.fixture(scope="module")
def replay(tmp_path_factory) -> tuple[dict[str, dict], dict]:
    tmp_path = tmp_path_factory.mktemp("replay")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINANCE_ASSETS_")}
    env["FINANCE_ASSETS_HISTORY_START"] = "2026-01"  # read when partitions are defined: its own process
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "finance_assets_tests.replay", str(tmp_path), FIRST, LAST]
        + [",".join(CHECKPOINTS)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    print(json.dumps(lines[-1]))  # seconds, for CI logs
    return {line["as_of"][:10]: line for line in lines[:-1]}, lines[-1]


def test_continuous_operation_equals_a_fresh_build_at_every_checkpoint(replay):
    checkpoints, summary = replay
    assert summary["sessions"] == 63
    assert list(checkpoints) == CHECKPOINTS
    for day, checkpoint in checkpoints.items():
        assert checkpoint["mismatches"] == [], day
        assert TABLES <= set(checkpoint["tables"]), day
        assert all(rows > 0 for rows in checkpoint["tables"].values()), (day, checkpoint["tables"])


def test_the_end_holds_every_corporate_action_and_the_added_ticker(replay):
    checkpoints, _ = replay
    end = checkpoints[LAST]
    assert end["events"]["actions"] == [
        "CRXQ 2026-02-02 cash_dividend",
        "CRXQ 2026-05-01 cash_dividend",
        "ELQX 2026-03-16 split",
        "HVQX 2026-04-06 reverse_split",
        "KLQX 2026-02-02 cash_dividend",  # the added ticker's history, from the history start
        "KLQX 2026-05-01 cash_dividend",
    ]
    # 4 holdings + the added one + the benchmark, every session 2026-01-02 .. 05-01 (Good Friday: none)
    assert end["tables"]["prices"] == end["tables"]["technicals"] == 6 * 83
    # every weekday 2026-01-01 .. 04-30 has a report (05-01's appears after midnight)
    assert end["events"]["report_days"] == ["2026-01-01", "2026-04-30", 86]


def test_a_10k_accepted_after_the_close_reaches_the_report_of_the_next_session(replay):
    checkpoints, _ = replay
    # known from the first session whose close follows the acceptance
    assert checkpoints[LATE_10K]["events"]["known_at_2026"] == {"ACMQ": ["2026-03-03"], "CRXQ": ["2026-03-02"]}
    filed = checkpoints["2026-03-16"]["events"]["fundamentals_filed"]
    assert filed["2026-03-02 CRXQ"] == "2026-03-02"  # accepted during the session: that day's report
    assert filed["2026-03-02 ACMQ"] == "2025-11-07"  # after the close: that day's report has the 10-Q
    assert filed["2026-03-03 ACMQ"] == "2026-03-02"  # and the next session's the 10-K


def test_the_holiday_the_added_ticker_and_the_fx_move_reach_the_report(replay):
    from finance_assets.demo.source import demo_ecb_rates

    checkpoints, _ = replay
    assert "2026-04-03" in checkpoints["2026-04-06"]["events"]["no_day_pnl"]  # Good Friday
    by_day = checkpoints["2026-04-14"]["events"]["tickers_by_day"]
    assert "KLQX" not in by_day["2026-04-07"] and "KLQX" in by_day["2026-04-08"]
    # the EUR holding's FX P&L on the move's day has the move's sign (USD per EUR up: a gain in USD)
    usd = demo_ecb_rates()["USD"]
    move = usd.loc[FX_MOVE] - usd[usd.index < FX_MOVE].iloc[-1]
    fx_pnl = checkpoints[LATE_10K]["events"]["day_pnl_fx"][FX_MOVE]
    assert fx_pnl * move > 0
