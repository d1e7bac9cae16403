"""With faults and retries in flight, the machine-wide limiter still admits at most 10 SEC requests in
any 1-second window: four processes, 30 % injected faults, timestamps taken where requests leave."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from finance_assets.lib.rate_windows import max_in_sliding_window

WORKERS = 4
CALLS_PER_WORKER = 10
SEC_LIMIT = 10
STAMP_LAG_S = 0.05  # how late a request's log stamp may be after the limiter admitted it


def sec_worker(state_dir: str, log_path: str, seed: int, results: mp.Queue) -> None:
    import httpx

    from finance_assets.lib.http import HttpClient
    from finance_assets.lib.limiter import SourceLimiter
    from finance_assets.lib.request_log import RequestLogTransport
    from finance_assets_tests.fault_injection import FaultInjectingTransport

    origin = httpx.MockTransport(lambda request: httpx.Response(200, json={"cik": 9900001, "filings": {}}))
    # the log sits outside the fault injector: an injected 503 or reset still counts as a request sent
    transport = RequestLogTransport(FaultInjectingTransport(origin, failure_rate=0.3, seed=seed), log_path)
    client = HttpClient(
        user_agent="Reliability Test rl@example.com",
        limiter=SourceLimiter(state_dir),
        transport=transport,
        backoff_base=0.001,
        max_backoff=0.01,
        max_retries=8,
    )
    for i in range(CALLS_PER_WORKER):
        client.get(f"https://data.sec.gov/submissions/CIK{9900001 + i:010d}.json", source="sec", use_cache=False)
    results.put(client.stats)
    client.close()


@pytest.mark.slow
def test_retries_under_faults_never_push_sec_past_10_requests_per_second(tmp_path: Path):
    log_path = tmp_path / "requests.log"
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    workers = [
        ctx.Process(target=sec_worker, args=(str(tmp_path / "state"), str(log_path), seed, results))
        for seed in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    try:
        stats = [results.get(timeout=120) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()

    stamps = [float(line.split()[0]) for line in log_path.read_text().splitlines()]
    retries = sum(s["retries"] for s in stats)
    assert sum(s["requests"] for s in stats) == WORKERS * CALLS_PER_WORKER
    assert sum(s["failures"] for s in stats) == 0
    assert retries >= 5  # faults really happened and were retried
    assert len(stamps) == sum(s["attempts"] for s in stats) == WORKERS * CALLS_PER_WORKER + retries
    # Demand was far above 10/s, so the busiest second is full, and never over the limit. A stamp is taken in
    # the worker after the limiter's grant, a few ms to tens of ms later on 2 loaded cores (a clean CI run saw 11
    # stamps in one 1.000 s window once): windows are measured with that lag allowed for.
    assert max_in_sliding_window(stamps, 1.0 - STAMP_LAG_S) <= SEC_LIMIT
    assert max_in_sliding_window(stamps, 1.0 + STAMP_LAG_S) >= SEC_LIMIT
