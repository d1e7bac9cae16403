"""Benchmark: 4 independent processes hammer the shared `sec` limit (10/s) for ~3 s each run.

Compares `SourceLimiter` with the textbook pyrate-limiter setup in the same run:
`Limiter(SQLiteBucket.init_from_file(..., use_file_lock=True))` at Rate(10/s).
Metrics:
- `worst_1s_window`: most acquisitions in any sliding window [t, t + 1 s), from timestamps each
  worker takes right after acquire returns.
- `utilisation`: steady rate / limit. The steady rate is 10 / mean(t[i+10] − t[i]): a saturated
  limiter grants acquisition i + 10 exactly one window after i. Unlike count / duration, this does
  not depend on where in a burst the run stops.

Workers are separate interpreters (`python bench_limiter.py --worker ...`), not forks. Start and
results travel over stdin/stdout, so nothing depends on how a runner imports this file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from finance_assets.analytics.rate_windows import max_in_sliding_window, steady_rate

WORKERS = 4
DURATION_S = 3.0
SEC_LIMIT = 10
REPO_ROOT = Path(__file__).resolve().parents[1]


def _acquirer(kind: str, state_dir: str):
    if kind == "ours":
        sys.path.insert(0, str(REPO_ROOT))
        from finance_assets.resources.limiter import SourceLimiter

        limiter = SourceLimiter(state_dir, rates={"warmup": [(1000, 1.0)]})
        limiter.acquire("warmup")  # open the database before the clock starts
        return lambda: limiter.acquire("sec")
    from pyrate_limiter import Duration, Limiter, Rate, SQLiteBucket

    bucket = SQLiteBucket.init_from_file([Rate(SEC_LIMIT, Duration.SECOND)], table="sec",
                                         db_path=str(Path(state_dir) / "pyrate_reference.sqlite"), use_file_lock=True)
    limiter = Limiter(bucket, buffer_ms=50)
    return lambda: limiter.try_acquire("sec")


def _worker(kind: str, state_dir: str, duration_s: float) -> None:
    acquire = _acquirer(kind, state_dir)
    print("ready", flush=True)
    sys.stdin.readline()  # the go signal, sent once every worker is ready
    started, stamps = time.time(), []
    while time.time() - started < duration_s:
        acquire()
        stamps.append(time.time())
    print(json.dumps(stamps), flush=True)


def hammer(kind: str, workers: int = WORKERS, duration_s: float = DURATION_S) -> np.ndarray:
    """Acquisition timestamps from `workers` processes sharing one state dir for `duration_s`."""
    with tempfile.TemporaryDirectory() as state_dir:
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", kind, state_dir, str(duration_s)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                 for _ in range(workers)]
        try:
            for proc in procs:
                if proc.stdout.readline().strip() != "ready":
                    raise RuntimeError(f"{kind} worker failed to start")
            for proc in procs:
                proc.stdin.write("go\n")
                proc.stdin.flush()
            stamps = [json.loads(proc.stdout.readline()) for proc in procs]
        finally:
            for proc in procs:
                proc.wait(timeout=30)
    return np.concatenate(stamps)


def run() -> list[dict]:
    ours, reference = hammer("ours"), hammer("pyrate_limiter")
    ours_util = float(steady_rate(ours, SEC_LIMIT) / SEC_LIMIT)
    ref_util = float(steady_rate(reference, SEC_LIMIT) / SEC_LIMIT)
    ours_worst, ref_worst = max_in_sliding_window(ours), max_in_sliding_window(reference)
    setup = f"{WORKERS} processes x {DURATION_S:g} s on sec ({SEC_LIMIT}/s); reference: pyrate Limiter+SQLiteBucket(file lock)"
    return [
        {"benchmark": "limiter_sec_4proc", "metric": f"utilisation (steady rate / limit; {setup})",
         "ours": round(ours_util, 4), "reference": round(ref_util, 4), "unit": "fraction of limit",
         "ratio": round(ours_util / ref_util, 4), "goal": ">= 0.95 of the allowed rate", "met": bool(ours_util >= 0.95)},
        {"benchmark": "limiter_sec_4proc", "metric": f"worst_1s_window (max acquisitions in any sliding 1 s; {setup})",
         "ours": float(ours_worst), "reference": float(ref_worst), "unit": "acquisitions",
         "ratio": round(ours_worst / ref_worst, 4), "goal": f"<= {SEC_LIMIT}", "met": bool(ours_worst <= SEC_LIMIT)},
        {"benchmark": "limiter_sec_4proc", "metric": f"acquisitions in the run ({setup})",
         "ours": float(len(ours)), "reference": float(len(reference)), "unit": "acquisitions",
         "ratio": round(len(ours) / len(reference), 4), "goal": "informational", "met": None},
    ]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        for row in run():
            print(row)
