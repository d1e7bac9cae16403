"""Continuous operation equals a fresh build (#16): 63 sessions (2026-02-02 .. 2026-05-01), the clock
advanced session by session and `planning.update` (what `finance-assets update` runs: the automation
conditions decide) materializing what they request, over a demo universe holding a 3:1 split (ELQX,
03-16), a 1-for-4 reverse split (HVQX, 04-06), a price correction (ACMQ's 04-14 bar, fixed 04-17) and
dividends (CRXQ, 02-02 and 05-01). Right after each event and at the end, every replayed table equals a
warehouse built from nothing as of the same clock, cell by cell (floats within 1e-12).

Replayed graph: corporate_actions -> prices -> technicals (finance_assets_tests/replay_market.py): a
quicker check (make test-replay, ~5 min; CI runs it since it failed unnoticed outside). The whole graph with every event #16
names is test_replay_full.py (make test-replay-full), which CI runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.replay]

REPO = Path(__file__).resolve().parents[1]
FIRST, LAST = "2026-02-02", "2026-05-01"
CHECKPOINTS = ["2026-03-16", "2026-04-06", "2026-04-14", "2026-04-17", "2026-05-01"]


def test_continuous_operation_equals_a_fresh_build_at_every_checkpoint(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINANCE_ASSETS_")}
    env["FINANCE_ASSETS_HISTORY_START"] = "2026-01"  # read when partitions are defined: its own process
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-m",
            "finance_assets_tests.replay_market",
            str(tmp_path),
            FIRST,
            LAST,
            ",".join(CHECKPOINTS),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    checkpoints, summary = lines[:-1], lines[-1]
    assert summary["sessions"] >= 60
    assert [c["as_of"][:10] for c in checkpoints] == CHECKPOINTS
    for checkpoint in checkpoints:
        assert checkpoint["mismatches"] == [], checkpoint["as_of"]
        assert all(rows > 0 for rows in checkpoint["tables"].values()), checkpoint
    # the end holds every kind of action: 2 CRXQ dividends, ELQX's split, HVQX's reverse split
    assert checkpoints[-1]["tables"]["corporate_actions"] == 4
    assert checkpoints[-1]["tables"]["prices"] == checkpoints[-1]["tables"]["technicals"] == 4 * 83  # 2026-01-02..05-01
