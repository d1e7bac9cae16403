"""The one retry policy of every HTTP path, on tenacity: `HttpClient.get` and
`DownloadingHttpClient.download` both run their attempts through `RetryPolicy.call`.

- Attempts: `max_retries + 1`.
- What is retried: only a `Retryable` raised by an attempt. The client decides what is transient
  (429/5xx, timeouts, resets, truncated bodies, a downloaded file that fails verification); every
  other error propagates at once, unretried.
- Wait before retry n: the answer's Retry-After when it carried one (seconds or an HTTP date),
  capped at `max_backoff`; otherwise exponential backoff with "equal jitter": with
  c = min(backoff_base * 2**(n-1), max_backoff), a fixed c/2 plus a uniform random share of the
  other c/2 (tenacity's `wait_exponential` + `wait_random_exponential`), so the wait is in [c/2, c].
- When the attempts run out, the last `Retryable` is re-raised for the caller to turn into its
  own error (`RetriesExhausted`).

The test seam FINANCE_ASSETS_HTTP_BACKOFF sets `backoff_base` (see `lib/sources.py`); `sleep` is
injectable so tests record waits instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity
from tenacity.wait import wait_base

T = TypeVar("T")


class Retryable(Exception):
    """Raised by an attempt whose failure is transient: `problem` names it for the final error."""

    def __init__(self, problem: str, *, status_code: int | None = None, retry_after: str | None = None):
        super().__init__(problem)
        self.problem = problem
        self.status_code = status_code
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max((when - now).total_seconds(), 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient HTTP failure is retried (see the module docstring)."""

    max_retries: int = 4
    backoff_base: float = 0.5
    max_backoff: float = 30.0
    _backoff: wait_base = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.backoff_base < 0 or self.max_backoff < 0:
            raise ValueError("backoff_base and max_backoff must be >= 0")
        half_base, half_cap = self.backoff_base / 2, self.max_backoff / 2
        equal_jitter = tenacity.wait_exponential(multiplier=half_base, max=half_cap) + tenacity.wait_random_exponential(
            multiplier=half_base, max=half_cap
        )
        object.__setattr__(self, "_backoff", equal_jitter)

    @property
    def attempts(self) -> int:
        return self.max_retries + 1

    def wait(self, retry_state: tenacity.RetryCallState) -> float:
        """Seconds before the next attempt: the capped Retry-After if the failure carried one, else backoff."""
        failure = retry_state.outcome.exception() if retry_state.outcome is not None else None
        server_delay = parse_retry_after(failure.retry_after) if isinstance(failure, Retryable) else None
        if server_delay is not None:
            return min(server_delay, self.max_backoff)
        return self._backoff(retry_state)

    def call(
        self,
        attempt: Callable[[int], T],
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[Retryable, float], None] | None = None,
    ) -> T:
        """`attempt(n)` for n = 1, 2, ... until it returns, raises a non-`Retryable` error, or the
        attempts run out (the last `Retryable` is re-raised). `on_retry(failure, delay)` runs
        before each wait."""

        def before_sleep(retry_state: tenacity.RetryCallState) -> None:
            if on_retry is not None:
                on_retry(retry_state.outcome.exception(), retry_state.next_action.sleep)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=self.wait,
            retry=tenacity.retry_if_exception_type(Retryable),
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        for attempt_manager in retrying:
            with attempt_manager:
                result = attempt(attempt_manager.retry_state.attempt_number)
        return result
