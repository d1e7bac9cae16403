"""One rate limiter shared by every process on the machine, per data source.

Built on pyrate-limiter's `SQLiteBucket` (a sliding-window log in a SQLite table) but NOT on its
`Limiter` class. In pyrate-limiter 4.5.1, `Limiter._blocking_retry_sync` stamps a waiting item with
`timestamp += sleep_ms` and only then queues for the file lock. So items are logged earlier than
they really pass. The lab notes measured 11–12 requests in one real second at Rate(10/s) across
4 processes. In this repo's benchmark, the `buffer_ms=50` padding hid the overshoot, at a cost in
throughput.
Here every acquire runs inside one per-source lock: read the clock -> find the earliest slot the
sliding-window log allows (now, or when the window frees) -> write that slot into the log -> release,
then sleep until the slot outside the lock. The log therefore holds the true admission times, in one
serial order, and a waiting caller already owns its slot instead of racing the others for it when it
wakes (the earlier sleep-then-retry loop lost 1-3 % of the rate to that race on a loaded 2-core box).
Each window is also widened by a small time margin (default 30 ms). This absorbs the gap between the
slot and the caller's own timestamp (a late wake-up), plus the 1 ms truncation of stored timestamps,
without lowering the count.

Backends: `SQLiteBackend` covers one machine. `RedisBackend` (selected by FINANCE_ASSETS_LIMITER_REDIS_URL,
e.g. redis://host:6379/0) covers several: a shared clock, bucket and lock in one Redis server. Both
plug in through `LimiterBackend`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import filelock
from pyrate_limiter import AbstractBucket, Rate, RateItem, SQLiteBucket, validate_rate_list

RateSpec = Sequence[tuple[int, float]]  # [(limit, window seconds), ...]

DEFAULT_RATES: dict[str, list[tuple[int, float]]] = {
    "sec": [(10, 1.0)],  # SEC fair access: 10 req/s across all of a user's processes
    "alphavantage": [(5, 60.0), (25, 86_400.0)],  # free tier: 5/min and a 25/day cap
    "yahoo": [(2, 1.0)],
    "stooq": [(2, 1.0)],
    "news": [(2, 1.0)],
}
DEFAULT_SAFETY_MARGIN_S = 0.03  # worst admission→caller gap seen: ~7 ms on a loaded 2-core box
STATE_DB_NAME = "rate_limits.sqlite"
_LOCK_POLL_S = 0.001  # filelock polls; its 50 ms default would idle the limiter between slots
_LEAK_EVERY_S = 30.0
_SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")  # becomes a SQL table name


class RateLimitTimeout(TimeoutError):
    """The limiter could not grant a request within the caller's timeout."""

    def __init__(self, message: str, *, source: str, limit: int | None = None, window_s: float | None = None):
        super().__init__(message)
        self.source = source
        self.limit = limit
        self.window_s = window_s


class LimiterBackend(Protocol):
    """Where buckets live and how acquisitions are serialized: one machine (SQLite) or many (Redis)."""

    def open_bucket(self, source: str, rates: list[Rate]) -> AbstractBucket: ...

    def serialize(self, source: str, timeout: float | None) -> AbstractContextManager[None]:
        """Mutual exclusion for one source across every client of the bucket (raises RateLimitTimeout)."""

    def now_ms(self) -> int:
        """The clock every client of the bucket shares, in milliseconds."""

    def close(self) -> None: ...


class SQLiteBackend:
    """pyrate-limiter SQLite buckets (one table per source) plus one lock file per source.

    Works across unrelated processes on one host: spawned or forked processes, Dask workers,
    Dagster step processes. Timestamps are wall-clock milliseconds, so all processes share one clock.
    """

    def __init__(self, state_dir: str | Path):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.state_dir / STATE_DB_NAME
        self._locks: dict[str, filelock.FileLock] = {}
        self._buckets: list[SQLiteBucket] = []

    def _lock(self, source: str) -> filelock.FileLock:
        if source not in self._locks:
            self._locks[source] = filelock.FileLock(str(self.state_dir / f"rate_limits.{source}.lock"))
        return self._locks[source]

    def open_bucket(self, source: str, rates: list[Rate]) -> AbstractBucket:
        # Schema and WAL set-up under one DB-wide lock: several processes may start at the same moment.
        with filelock.FileLock(str(self.db_path) + ".init.lock"):
            bucket = SQLiteBucket.init_from_file(rates, table=f"rl_{source}", db_path=str(self.db_path))
            bucket.conn.execute("PRAGMA journal_mode=WAL")
            bucket.conn.execute("PRAGMA synchronous=NORMAL")
            bucket.conn.execute("PRAGMA busy_timeout=10000")
        self._buckets.append(bucket)
        return bucket

    @contextmanager
    def serialize(self, source: str, timeout: float | None) -> Iterator[None]:
        lock = self._lock(source)
        try:
            lock.acquire(timeout=-1 if timeout is None else max(timeout, 0.0), poll_interval=_LOCK_POLL_S)
        except filelock.Timeout:
            raise RateLimitTimeout(
                f"rate limiter for source {source!r}: lock busy beyond the {timeout:g} s timeout", source=source
            ) from None
        try:
            yield
        finally:
            lock.release()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def close(self) -> None:
        for bucket in self._buckets:
            bucket.close()
        self._buckets.clear()


REDIS_URL_ENV = "FINANCE_ASSETS_LIMITER_REDIS_URL"
REDIS_KEY_PREFIX = "finance_assets:rate_limit"
_REDIS_LOCK_TTL_S = 10.0  # a holder that dies mid-acquire frees the lock after this (it holds it for ~1 ms)


class LimiterBackendUnavailable(RuntimeError):
    """The shared limiter's store cannot be reached; no request is sent without it."""


def redact_url(url: str) -> str:
    """scheme://host:port/db of a connection URL, without user name or password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RedisBackend:
    """Buckets in one Redis server, shared by every process on every machine that points at it.

    Same guarantee as `SQLiteBackend`, across machines: pyrate-limiter's `RedisBucket` (a sorted-set
    log checked and appended by one Lua script) holds the log; a Redis lock per source serializes
    read-clock -> reserve a slot; and the clock is the Redis server's `TIME`, so machines whose clocks
    disagree still write timestamps in admission order.
    """

    def __init__(self, url: str, *, key_prefix: str = REDIS_KEY_PREFIX):
        try:
            import redis
        except ImportError as exc:  # optional dependency: only multi-machine deployments need it
            raise LimiterBackendUnavailable(
                f"{REDIS_URL_ENV} is set but the 'redis' package is not installed (pip install redis)"
            ) from exc
        self._where = redact_url(url)
        self._key_prefix = key_prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._connection_errors = (redis.ConnectionError, redis.TimeoutError)
        self._locks: dict = {}

    def _unavailable(self, exc: Exception) -> LimiterBackendUnavailable:
        return LimiterBackendUnavailable(
            f"rate limiter: cannot reach Redis at {self._where} ({type(exc).__name__}); "
            f"check {REDIS_URL_ENV} and that the server is up"
        )

    def open_bucket(self, source: str, rates: list[Rate]) -> AbstractBucket:
        from pyrate_limiter import RedisBucket

        try:
            return RedisBucket.init(rates, self._redis, f"{self._key_prefix}:{source}")
        except self._connection_errors as exc:
            raise self._unavailable(exc) from None

    @contextmanager
    def serialize(self, source: str, timeout: float | None) -> Iterator[None]:
        if source not in self._locks:
            self._locks[source] = self._redis.lock(
                f"{self._key_prefix}:{source}:lock", timeout=_REDIS_LOCK_TTL_S, sleep=_LOCK_POLL_S
            )
        lock = self._locks[source]
        try:
            acquired = lock.acquire(blocking=True, blocking_timeout=timeout)
        except self._connection_errors as exc:
            raise self._unavailable(exc) from None
        if not acquired:
            raise RateLimitTimeout(
                f"rate limiter for source {source!r}: lock busy beyond the {timeout:g} s timeout", source=source
            )
        try:
            yield
        finally:
            try:
                lock.release()
            except self._connection_errors as exc:
                raise self._unavailable(exc) from None

    def now_ms(self) -> int:
        try:
            seconds, micros = self._redis.time()
        except self._connection_errors as exc:
            raise self._unavailable(exc) from None
        return int(seconds) * 1000 + int(micros) // 1000

    def close(self) -> None:
        self._redis.close()


def default_backend(state_dir: str | Path) -> LimiterBackend:
    """Redis when FINANCE_ASSETS_LIMITER_REDIS_URL is set (several machines), else SQLite in `state_dir`."""
    from finance_assets.lib.config import settings

    url = settings().limiter_redis_url
    return RedisBackend(url) if url else SQLiteBackend(state_dir)


@dataclass(frozen=True)
class _SourceRates:
    specs: tuple[tuple[int, float], ...]
    rates: list[Rate]  # pyrate rates with the safety margin, in the order of `specs`

    @property
    def sub_second(self) -> bool:
        """Every window is at most 1 s (SEC's 10/s): a late caller re-takes its slot (see acquire)."""
        return all(window_s <= 1.0 for _, window_s in self.specs)

    def spec_for(self, rate: Rate | None) -> tuple[int, float] | None:
        for spec, candidate in zip(self.specs, self.rates):
            if candidate is rate:
                return spec
        return None


def _describe_seconds(seconds: float) -> str:
    if seconds >= 86_400 and seconds % 86_400 == 0:
        days = int(seconds // 86_400)
        return "1 day" if days == 1 else f"{days} days"
    if seconds >= 3_600:
        return f"{seconds / 3_600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:g} s"


def build_rates(specs: RateSpec, safety_margin_s: float) -> _SourceRates:
    """pyrate `Rate`s for (limit, window) pairs, each window widened by the time margin."""
    checked = []
    for limit, window_s in specs:
        if int(limit) != limit or limit < 1 or not window_s > 0:
            raise ValueError(f"rate must be (positive int limit, positive window seconds), got {(limit, window_s)}")
        checked.append((int(limit), float(window_s)))
    ordered = tuple(sorted(checked, key=lambda spec: spec[1]))
    rates = [Rate(limit, round((window_s + safety_margin_s) * 1000)) for limit, window_s in ordered]
    if not validate_rate_list(rates):  # pyrate's contract, checked now rather than at first acquire
        raise ValueError(
            f"rates {list(ordered)} need strictly increasing windows and limits and a non-increasing limit/window ratio"
        )
    return _SourceRates(ordered, rates)


class SourceLimiter:
    """Blocks each caller until its source's request budget allows one more request, machine-wide.

    `rates` entries override or extend `DEFAULT_RATES` per source. It is cheap to construct and
    opens buckets lazily, so every Dask worker or Dagster step process can build its own instance.
    All instances on the same `state_dir` share the budget.
    """

    def __init__(
        self,
        state_dir: str | Path,
        rates: Mapping[str, RateSpec] | None = None,
        *,
        backend: LimiterBackend | None = None,
        safety_margin_s: float = DEFAULT_SAFETY_MARGIN_S,
    ):
        if safety_margin_s < 0:
            raise ValueError("safety_margin_s must be >= 0")
        self._backend = backend if backend is not None else default_backend(state_dir)
        # how late a caller may take its slot (see acquire): 3/4 of the margin leaves ~7 ms for the way
        # from here to the socket (half the margin wasted slots for little: ~0.5 requests/s less)
        self._late_s = safety_margin_s * 0.75 if safety_margin_s > 0 else float("inf")
        merged = {**DEFAULT_RATES, **(rates or {})}
        self._rates: dict[str, _SourceRates] = {}
        for source, specs in merged.items():
            if not _SOURCE_NAME.match(source):
                raise ValueError(f"source names must match {_SOURCE_NAME.pattern}, got {source!r}")
            self._rates[source] = build_rates(specs, safety_margin_s)
        self._buckets: dict[str, AbstractBucket] = {}
        self._last_leak_ms: dict[str, int] = {}
        self._open_lock = threading.Lock()

    @property
    def sources(self) -> list[str]:
        return sorted(self._rates)

    def rates_for(self, source: str) -> tuple[tuple[int, float], ...]:
        return self._source_rates(source).specs

    def _source_rates(self, source: str) -> _SourceRates:
        try:
            return self._rates[source]
        except KeyError:
            raise ValueError(f"unknown rate-limited source {source!r}; known: {', '.join(self.sources)}") from None

    def _bucket(self, source: str) -> AbstractBucket:
        source_rates = self._source_rates(source)
        with self._open_lock:
            if source not in self._buckets:
                self._buckets[source] = self._backend.open_bucket(source, source_rates.rates)
            return self._buckets[source]

    def acquire(self, source: str, timeout: float | None = None) -> None:
        """Wait for one request slot of `source`; RateLimitTimeout when no slot fits within `timeout` s.

        Under the source's lock the caller *reserves* the earliest slot the log allows (now, or later
        if the window is full) by writing it into the log, then sleeps until it outside the lock.
        Waiting callers therefore never race each other for a freed slot: each already owns the next
        one, so a busy source runs at its full rate however many processes wait. The error is raised
        as soon as the needed wait exceeds the timeout, without sleeping and without reserving
        anything; an exhausted daily cap therefore fails at once and names the cap.
        """
        bucket = self._bucket(source)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._backend.serialize(source, self._remaining(deadline)):
                read_at = time.monotonic()
                now_ms = self._backend.now_ms()
                slot_ms = self._reserve(source, bucket, now_ms, deadline, timeout)
            slot_at = read_at + (slot_ms - now_ms) / 1000
            delay_s = slot_at - time.monotonic()
            if delay_s > 0:
                time.sleep(delay_s)
            # A caller that wakes (or gets the CPU or the GIL back, or its slot written) more than 3/4 of
            # the margin after its slot would send later than the log says, and on a saturated source
            # the request `limit` slots on could then land in the same real second. On sub-second
            # sources (SEC's 10/s) it takes a fresh slot instead; the missed one stays in the log,
            # unused, which only makes the log stricter. (Long windows, e.g. a daily cap, keep their
            # slot: no quota is burnt.)
            if time.monotonic() - slot_at <= self._late_s or not self._source_rates(source).sub_second:
                return

    def _reserve(
        self, source: str, bucket: AbstractBucket, now_ms: int, deadline: float | None, timeout: float | None
    ) -> int:
        """Write the earliest allowed slot at or after `now_ms` into the log; returns it (ms)."""
        # Start at the newest entry: stores count a window only up to the candidate time (Redis'
        # ZCOUNT stops at it), so a slot before an existing reservation could overfill its window.
        newest = bucket.peek(0)
        slot_ms = max(now_ms, int(newest.timestamp)) if newest is not None else now_ms
        while True:
            item = RateItem(source, slot_ms)
            if bucket.put(item):
                self._leak_now_and_then(source, bucket, now_ms)
                return slot_ms
            wait_ms = int(bucket.waiting(item))
            if wait_ms < 0:  # pyrate's "can never fit" (weight above the limit; build_rates rules it out)
                raise RateLimitTimeout(
                    f"rate limit for source {source!r}: a request can never fit its rates", source=source
                )
            slot_ms += max(wait_ms, 1)
            remaining = self._remaining(deadline)
            if remaining is not None and (slot_ms - now_ms) / 1000 > remaining:
                raise self._timeout_error(source, bucket.failing_rate, (slot_ms - now_ms) / 1000, timeout)

    @staticmethod
    def _remaining(deadline: float | None) -> float | None:
        return None if deadline is None else max(deadline - time.monotonic(), 0.0)

    def _timeout_error(self, source: str, rate: Rate | None, wait_s: float, timeout: float | None) -> RateLimitTimeout:
        spec = self._source_rates(source).spec_for(rate)
        limit, window_s = spec if spec else (None, None)
        cap = f"{limit} requests per {_describe_seconds(window_s)}" if spec else "its rate limit"
        return RateLimitTimeout(
            f"rate limit for source {source!r}: cap of {cap} reached; next slot in "
            f"{_describe_seconds(round(wait_s, 2))}, beyond the {timeout:g} s timeout",
            source=source,
            limit=limit,
            window_s=window_s,
        )

    def _leak_now_and_then(self, source: str, bucket: AbstractBucket, now_ms: int) -> None:
        # Without pyrate's background Leaker the log only grows; trim entries older than every window.
        if now_ms - self._last_leak_ms.get(source, 0) >= _LEAK_EVERY_S * 1000:
            bucket.leak(now_ms)
            self._last_leak_ms[source] = now_ms

    def close(self) -> None:
        with self._open_lock:
            self._buckets.clear()
            self._backend.close()

    def __enter__(self) -> SourceLimiter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
