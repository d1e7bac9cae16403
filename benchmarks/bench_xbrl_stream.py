"""Memory of companyfacts normalization for a 50 MB document: streamed (ijson, chunks written to Parquet)
vs the reference, json.loads of the whole document + normalize_companyfacts.

Each side runs in a fresh process; the figure is the growth of its peak RSS (VmHWM) from after the
imports to the end, so C allocations count. Goal (issue 7): bounded memory, i.e. the streamed peak
does not grow with the document (checked here against a 10 MB document) and stays well below the
document's in-memory size.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._memory import MEASURE, PEAK_RSS_KB
from finance_assets.demo.large_documents import write_companyfacts

REPO = Path(__file__).resolve().parents[1]

WHOLE = (
    PEAK_RSS_KB
    + r"""
import json, sys
from finance_assets.defs.sec import xbrl
before = peak_rss_kb()
with open(sys.argv[1], "rb") as fh:
    rows = len(xbrl.normalize_companyfacts(fh.read()))
print(json.dumps({"rows": rows, "growth_mb": (peak_rss_kb() - before) / 1024}))
"""
)


def _measure(script: str, *args: str) -> tuple[dict, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=REPO, capture_output=True, text=True, timeout=900, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), time.perf_counter() - started


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "cf50.json", Path(tmp) / "cf10.json"
        facts = write_companyfacts(big, 50_000_000)
        write_companyfacts(small, 10_000_000)
        size_mb = big.stat().st_size / 1e6
        streamed, streamed_s = _measure(MEASURE, str(big), str(Path(tmp) / "out.parquet"), "20000")
        streamed_small, _ = _measure(MEASURE, str(small), str(Path(tmp) / "out10.parquet"), "20000")
        whole, whole_s = _measure(WHOLE, str(big))
    assert streamed["rows"] == whole["rows"] == facts
    label = f"normalize a {size_mb:.0f} MB companyfacts document ({facts} facts)"
    return [
        {
            "benchmark": "xbrl_stream",
            "metric": f"peak RSS growth, {label}",
            "ours": round(streamed["growth_mb"]),
            "reference": round(whole["growth_mb"]),
            "unit": "MB",
            "ratio": streamed["growth_mb"] / whole["growth_mb"],
            "goal": "bounded: < 2x the 10 MB document's peak, < document size x 2",
            "met": streamed["growth_mb"] < 2 * max(streamed_small["growth_mb"], 1)
            and streamed["growth_mb"] < 2 * size_mb,
        },
        {
            "benchmark": "xbrl_stream",
            "metric": f"wall time incl. process start, {label}",
            "ours": round(streamed_s, 1),
            "reference": round(whole_s, 1),
            "unit": "s",
            "ratio": streamed_s / whole_s,
            "goal": "(the price of bounded memory; informational)",
            "met": None,
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
