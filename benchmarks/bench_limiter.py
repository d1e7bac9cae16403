"""Benchmark: 4 independent processes hammer the shared `sec` limit (10/s) for ~3 s each run.

Compares `SourceLimiter` with the textbook pyrate-limiter setup in the same run:
`Limiter(SQLiteBucket.init_from_file(..., use_file_lock=True))` at Rate(10/s).
Metrics:
- `worst_1s_window`: most acquisitions in any sliding window [t, t + 1 s), from timestamps each
  worker takes right after acquire returns.
- `utilisation`: steady rate / limit. The steady rate is 10 / mean(t[i+10] − t[i]): a saturated
  limiter grants acquisition i + 10 exactly one window after i. Unlike count / duration, this does
  not depend on where in a burst the run stops.

The same 4-process run is repeated with the Redis backend (several machines share one budget) when
`redis-server` and the `redis` package are installed: a throwaway server on a free local port.

Workers are separate interpreters (`python bench_limiter.py --worker ...`), not forks. Start and
results travel over stdin/stdout, so nothing depends on how a runner imports this file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from finance_assets.lib.rate_windows import max_in_sliding_window, steady_rate

WORKERS = 4
DURATION_S = 3.0
SEC_LIMIT = 10
REPO_ROOT = Path(__file__).resolve().parents[1]


def _acquirer(kind: str, state_dir: str):
    if kind == "ours":
        sys.path.insert(0, str(REPO_ROOT))
        from finance_assets.lib.limiter import SourceLimiter

        limiter = SourceLimiter(state_dir, rates={"warmup": [(1000, 1.0)]})
        limiter.acquire("warmup")  # open the database before the clock starts
        return lambda: limiter.acquire("sec")
    from pyrate_limiter import Duration, Limiter, Rate, SQLiteBucket

    bucket = SQLiteBucket.init_from_file(
        [Rate(SEC_LIMIT, Duration.SECOND)],
        table="sec",
        db_path=str(Path(state_dir) / "pyrate_reference.sqlite"),
        use_file_lock=True,
    )
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


def hammer(kind: str, workers: int = WORKERS, duration_s: float = DURATION_S, redis_url: str = "") -> np.ndarray:
    """Acquisition timestamps from `workers` processes sharing one state dir (or Redis) for `duration_s`."""
    env = {**os.environ, "FINANCE_ASSETS_LIMITER_REDIS_URL": redis_url}
    with tempfile.TemporaryDirectory() as state_dir:
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--worker", kind, state_dir, str(duration_s)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(workers)
        ]
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


@contextlib.contextmanager
def _redis_server():
    """URL of a throwaway redis-server, or None when the server or the client package is missing."""
    server = shutil.which("redis-server")
    try:
        import redis
    except ImportError:
        redis = None
    if server is None or redis is None:
        yield None
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as data_dir:
        proc = subprocess.Popen(
            [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", data_dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            client = redis.Redis(port=port)
            for _ in range(200):
                with contextlib.suppress(redis.ConnectionError):
                    client.ping()
                    break
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _rows(label: str, ours: np.ndarray, reference: np.ndarray, ref_name: str) -> list[dict]:
    ours_util = float(steady_rate(ours, SEC_LIMIT) / SEC_LIMIT)
    ref_util = float(steady_rate(reference, SEC_LIMIT) / SEC_LIMIT)
    ours_worst, ref_worst = max_in_sliding_window(ours), max_in_sliding_window(reference)
    setup = f"{WORKERS} processes x {DURATION_S:g} s on sec ({SEC_LIMIT}/s); reference: {ref_name}"
    return [
        {
            "benchmark": label,
            "metric": f"utilisation (steady rate / limit; {setup})",
            "ours": round(ours_util, 4),
            "reference": round(ref_util, 4),
            "unit": "fraction of limit",
            "ratio": round(ours_util / ref_util, 4),
            "goal": ">= 0.95 of the allowed rate",
            "met": bool(ours_util >= 0.95),
        },
        {
            "benchmark": label,
            "metric": f"worst_1s_window (max acquisitions in any sliding 1 s; {setup})",
            "ours": float(ours_worst),
            "reference": float(ref_worst),
            "unit": "acquisitions",
            "ratio": round(ours_worst / ref_worst, 4),
            "goal": f"<= {SEC_LIMIT}",
            "met": bool(ours_worst <= SEC_LIMIT),
        },
        {
            "benchmark": label,
            "metric": f"acquisitions in the run ({setup})",
            "ours": float(len(ours)),
            "reference": float(len(reference)),
            "unit": "acquisitions",
            "ratio": round(len(ours) / len(reference), 4),
            "goal": "informational",
            "met": None,
        },
    ]


def run() -> list[dict]:
    sqlite_ours, reference = hammer("ours"), hammer("pyrate_limiter")
    rows = _rows("limiter_sec_4proc", sqlite_ours, reference, "pyrate Limiter+SQLiteBucket(file lock)")
    with _redis_server() as url:
        if url is None:
            rows.append(
                {
                    "benchmark": "limiter_sec_4proc_redis",
                    "metric": "skipped: redis-server or the redis package is not installed",
                    "ours": None,
                    "reference": None,
                    "unit": "",
                    "ratio": None,
                    "goal": ">= 0.95 of the allowed rate",
                    "met": None,
                }
            )
        else:  # reference: our SQLite backend on one machine, measured just above
            rows += _rows(
                "limiter_sec_4proc_redis", hammer("ours", redis_url=url), sqlite_ours, "our SQLite backend, same run"
            )
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        for row in run():
            print(row)
