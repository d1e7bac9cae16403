"""Issue #16, problem 8: sentiment scores are bit-identical under any PYTHONHASHSEED.

Each headline's logit is a sum of float weights; summed in the iteration order of a `set` of string
keys, the order (and so the last bits) depended on the process's hash seed. The scorer runs here in
subprocesses with different seeds and the raw float64 bytes of the scores are compared.
"""

from __future__ import annotations

import os
import subprocess
import sys

HEADLINES = [
    "Acme beats estimates as quarterly revenue jumps 12% and margins widen, shares rally after upgrade",
    "Blaze Corp cuts full-year guidance, shares slump as costs rise and demand weakens in Europe",
    "Analyst downgrades Crux to underperform on weaker subscriber growth and rising debt load",
    "Regulators open probe into accounting at Delta Holdings; stock falls sharply in heavy trading",
    "Company announces record profit, strong cash flow and a higher dividend; outlook raised again",
    "Shares unchanged after the annual meeting; board re-elected, no change to the buyback plan",
    "Not a strong quarter: sales miss, loss widens, guidance slashed, but the buyback is expanded",
    "Upgrade to outperform at Goldman as orders surge, backlog grows and the margin outlook improves",
]

SCRIPT = """
import sys
from finance_assets.defs.news import sentiment
texts = sys.stdin.read().split("\\n")
sys.stdout.write(sentiment.score_many(texts).tobytes().hex())
"""


def _scores_hex(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        input="\n".join(HEADLINES),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def test_scores_are_bit_identical_under_any_hash_seed():
    outputs = {seed: _scores_hex(seed) for seed in ("0", "1", "2", "12345")}
    assert len(outputs["0"]) == 16 * len(HEADLINES)  # one float64 per headline
    assert len(set(outputs.values())) == 1, outputs
