"""SourceLimiter: machine-wide sliding-window limits across spawned processes, caps, timeouts, config."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time

import numpy as np
import pytest

from finance_assets.lib.limiter import DEFAULT_RATES, RateLimitTimeout, SourceLimiter
from finance_assets.lib.rate_windows import max_in_sliding_window, steady_rate

WORKERS = 4
ACQUISITIONS_PER_WORKER = 25
SEC_LIMIT = 10


def acquire_in_spawned_worker(state_dir: str, count: int, ready: mp.Queue, go: mp.Event, results: mp.Queue) -> None:
    limiter = SourceLimiter(state_dir, rates={"warmup": [(1000, 1.0)]})
    limiter.acquire("warmup")  # opens the database before the clock starts
    ready.put(True)
    go.wait()
    stamps = []
    for _ in range(count):
        limiter.acquire("sec")
        stamps.append(time.time())  # taken right after acquire returns, as a caller would
    limiter.close()
    results.put(stamps)


def test_helpers_measure_windows_and_rate():
    stamps = np.array([0.0, 0.1, 0.5, 0.99, 1.0, 1.05, 2.0])
    assert max_in_sliding_window(stamps) == 5  # [0.1, 1.1) holds 0.1, 0.5, 0.99, 1.0, 1.05
    assert steady_rate(np.arange(0, 3.0, 0.1), limit=10) == pytest.approx(10.0)
    bursts = np.concatenate([np.full(10, start) for start in (0.0, 1.25, 2.5)])  # 10 per 1.25 s
    assert steady_rate(bursts, limit=10) == pytest.approx(8.0)


def run_spawned_workers(state_dir) -> np.ndarray:
    ctx = mp.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    workers = [
        ctx.Process(
            target=acquire_in_spawned_worker, args=(str(state_dir), ACQUISITIONS_PER_WORKER, ready, go, results)
        )
        for _ in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            ready.get(timeout=60)
        go.set()
        return np.concatenate([results.get(timeout=60) for _ in workers])
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()


@pytest.mark.slow
def test_four_spawned_processes_never_exceed_sec_limit_in_any_second_and_keep_rate_high(tmp_path):
    # The limit must hold in every attempt. The rate is a throughput figure: a caller the OS wakes late
    # gives up its slot (limiter.acquire), so a CPU starved by the parallel suite costs rate without any
    # fault of the limiter (CI once measured 8.89/s). A limiter that idles or over-waits falls short in
    # every attempt; one of three attempts has to reach 90 % of the limit.
    rates = []
    for attempt in range(3):
        stamps = run_spawned_workers(tmp_path / f"attempt-{attempt}")
        assert len(stamps) == WORKERS * ACQUISITIONS_PER_WORKER
        assert max_in_sliding_window(stamps) <= SEC_LIMIT
        rates.append(steady_rate(stamps, SEC_LIMIT))
        if rates[-1] >= 0.9 * SEC_LIMIT:
            break
    assert max(rates) >= 0.9 * SEC_LIMIT, f"steady rates per attempt: {rates}"


def test_single_process_sliding_window_holds_exactly_the_limit(tmp_path):
    limiter = SourceLimiter(tmp_path, rates={"fast": [(5, 0.2)]})
    stamps = []
    for _ in range(16):
        limiter.acquire("fast")
        stamps.append(time.time())
    limiter.close()
    stamps = np.array(stamps)
    assert max_in_sliding_window(stamps, 0.2) == 5  # the burst is allowed, never a sixth
    assert np.all(stamps[5:] - stamps[:-5] >= 0.2)


def test_threads_of_one_process_share_the_limit(tmp_path):
    limiter = SourceLimiter(tmp_path, rates={"fast": [(8, 0.25)]})
    stamps: list[float] = []

    def hammer() -> None:
        for _ in range(8):
            limiter.acquire("fast")
            stamps.append(time.time())

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    limiter.close()
    assert len(stamps) == 32
    assert max_in_sliding_window(np.array(stamps), 0.25) == 8


def test_exhausted_cap_raises_at_once_naming_source_and_cap(tmp_path):
    limiter = SourceLimiter(tmp_path, rates={"tiny": [(2, 60.0)]})
    limiter.acquire("tiny")
    limiter.acquire("tiny", timeout=0)
    started = time.monotonic()
    with pytest.raises(RateLimitTimeout, match=r"'tiny'.*2 requests per 1\.0 min") as caught:
        limiter.acquire("tiny", timeout=5.0)
    assert time.monotonic() - started < 5.0  # a ~60 s wait is refused without sleeping through the timeout
    assert (caught.value.source, caught.value.limit, caught.value.window_s) == ("tiny", 2, 60.0)
    assert isinstance(caught.value, TimeoutError)


def test_daily_cap_is_named_when_it_is_the_binding_limit(tmp_path):
    limiter = SourceLimiter(tmp_path, rates={"alphavantage": [(2, 0.3), (3, 86_400.0)]})
    limiter.acquire("alphavantage")
    limiter.acquire("alphavantage")
    limiter.acquire("alphavantage", timeout=2.0)  # waits out the 0.3 s window, uses the last daily slot
    with pytest.raises(RateLimitTimeout, match=r"'alphavantage'.*3 requests per 1 day"):
        limiter.acquire("alphavantage", timeout=2.0)


def test_budget_is_shared_by_every_limiter_on_the_same_state_dir(tmp_path):
    rates = {"tiny": [(2, 60.0)]}
    first, second = SourceLimiter(tmp_path, rates=rates), SourceLimiter(tmp_path, rates=rates)
    first.acquire("tiny")
    second.acquire("tiny")
    with pytest.raises(RateLimitTimeout):
        first.acquire("tiny", timeout=0)
    other_dir = SourceLimiter(tmp_path / "elsewhere", rates=rates)
    other_dir.acquire("tiny", timeout=0)  # a different state dir is a different budget
    for limiter in (first, second, other_dir):
        limiter.close()


def test_unknown_source_and_bad_configuration_are_refused(tmp_path):
    limiter = SourceLimiter(tmp_path)
    with pytest.raises(ValueError, match="unknown rate-limited source 'nasdaq'"):
        limiter.acquire("nasdaq")
    with pytest.raises(ValueError, match="source names"):
        SourceLimiter(tmp_path, rates={"bad name; DROP TABLE": [(1, 1.0)]})
    with pytest.raises(ValueError, match="positive"):
        SourceLimiter(tmp_path, rates={"zero": [(0, 1.0)]})
    with pytest.raises(ValueError):
        SourceLimiter(tmp_path, rates={"denser_later": [(1, 1.0), (100, 2.0)]})  # pyrate's rate-list contract


def test_defaults_and_state_file_location(tmp_path):
    state_dir = tmp_path / "nested" / "state"
    limiter = SourceLimiter(state_dir)
    assert limiter.rates_for("sec") == ((10, 1.0),)
    assert limiter.rates_for("alphavantage") == ((5, 60.0), (25, 86_400.0))
    assert {"sec", "alphavantage", "yahoo", "stooq", "news"} <= set(limiter.sources)
    assert set(DEFAULT_RATES) == {"sec", "alphavantage", "yahoo", "stooq", "news"}
    limiter.acquire("yahoo")
    assert (state_dir / "rate_limits.sqlite").exists()
    limiter.close()
