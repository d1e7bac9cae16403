"""RetryPolicy: attempt limits, equal-jitter bounds, Retry-After (seconds, date, capped), what is not retried."""

from __future__ import annotations

import datetime as dt
import email.utils
import statistics

import httpx
import pytest

from finance_assets.lib.http import HttpClient, RetriesExhausted
from finance_assets.lib.retry import Retryable, RetryPolicy
from finance_assets.lib.sources import HttpSource


def failing(retry_after: str | None = None, succeed_on: int | None = None):
    calls: list[int] = []

    def attempt(number: int) -> str:
        calls.append(number)
        if number == succeed_on:
            return f"ok on {number}"
        raise Retryable(f"HTTP 503 #{number}", status_code=503, retry_after=retry_after)

    return attempt, calls


def test_attempts_are_max_retries_plus_one_and_the_last_failure_is_reraised():
    attempt, calls = failing()
    sleeps: list[float] = []
    with pytest.raises(Retryable, match="#5") as caught:
        RetryPolicy(max_retries=4, backoff_base=0.01).call(attempt, sleep=sleeps.append)
    assert calls == [1, 2, 3, 4, 5] and len(sleeps) == 4
    assert caught.value.status_code == 503


def test_success_stops_retrying_and_zero_retries_means_one_attempt():
    attempt, calls = failing(succeed_on=3)
    assert RetryPolicy(max_retries=4).call(attempt, sleep=lambda s: None) == "ok on 3"
    assert calls == [1, 2, 3]
    attempt, calls = failing()
    sleeps: list[float] = []
    with pytest.raises(Retryable):
        RetryPolicy(max_retries=0).call(attempt, sleep=sleeps.append)
    assert calls == [1] and sleeps == []


def test_other_errors_are_not_retried():
    calls: list[int] = []

    def attempt(number: int) -> None:
        calls.append(number)
        raise ValueError("a 404 is not transient")

    with pytest.raises(ValueError):
        RetryPolicy(max_retries=4).call(attempt, sleep=lambda s: None)
    assert calls == [1]


def test_backoff_is_exponential_with_equal_jitter_within_bounds():
    policy = RetryPolicy(max_retries=6, backoff_base=1.0, max_backoff=10.0)
    ceilings = [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]  # base * 2**(n-1), capped at max_backoff
    runs: list[list[float]] = []
    for _ in range(200):
        attempt, _calls = failing()
        sleeps: list[float] = []
        with pytest.raises(Retryable):
            policy.call(attempt, sleep=sleeps.append)
        runs.append(sleeps)
    for retry, ceiling in enumerate(ceilings):
        waits = [run[retry] for run in runs]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        # jittered: spread over the upper half, not one fixed value
        assert statistics.pstdev(waits) > ceiling / 20
        assert ceiling * 0.65 < statistics.mean(waits) < ceiling * 0.85


def test_retry_after_seconds_is_honoured_and_capped():
    for header, expected in [("7", 7.0), ("0", 0.0), ("120", 30.0)]:
        attempt, _calls = failing(retry_after=header, succeed_on=2)
        sleeps: list[float] = []
        RetryPolicy(max_backoff=30.0).call(attempt, sleep=sleeps.append)
        assert sleeps == [expected]


def test_retry_after_http_date_is_honoured_and_unreadable_falls_back_to_backoff():
    soon = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20), usegmt=True)
    attempt, _calls = failing(retry_after=soon, succeed_on=2)
    sleeps: list[float] = []
    RetryPolicy(max_backoff=60.0).call(attempt, sleep=sleeps.append)
    assert 17.0 <= sleeps[0] <= 20.0
    attempt, _calls = failing(retry_after="soon-ish", succeed_on=2)
    sleeps = []
    RetryPolicy(backoff_base=2.0, max_backoff=60.0).call(attempt, sleep=sleeps.append)
    assert 1.0 <= sleeps[0] <= 2.0


def test_on_retry_sees_each_failure_and_the_wait_before_it_is_slept():
    attempt, _calls = failing(retry_after="3", succeed_on=3)
    seen: list[tuple[str, float]] = []
    order: list[str] = []

    def on_retry(failure: Retryable, delay: float) -> None:
        seen.append((failure.problem, delay))
        order.append("on_retry")

    RetryPolicy().call(attempt, sleep=lambda s: order.append("sleep"), on_retry=on_retry)
    assert seen == [("HTTP 503 #1", 3.0), ("HTTP 503 #2", 3.0)]
    assert order == ["on_retry", "sleep", "on_retry", "sleep"]


def test_invalid_policy_is_refused():
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError):
        RetryPolicy(backoff_base=-0.5)


def test_client_builds_its_policy_from_its_arguments_or_takes_one():
    client = HttpClient(user_agent="x a@b.example", max_retries=2, backoff_base=0.2, max_backoff=3.0)
    assert client.retry_policy == RetryPolicy(max_retries=2, backoff_base=0.2, max_backoff=3.0)
    assert (client.max_retries, client.backoff_base, client.max_backoff) == (2, 0.2, 3.0)
    shared = RetryPolicy(max_retries=1)
    assert HttpClient(user_agent="x a@b.example", retry_policy=shared).retry_policy is shared


def test_exhausted_policy_becomes_retries_exhausted_with_the_last_problem():
    transport = httpx.MockTransport(lambda request: httpx.Response(503, headers={"Retry-After": "1"}))
    sleeps: list[float] = []
    policy = RetryPolicy(max_retries=2, backoff_base=0.01, max_backoff=0.5)
    with HttpClient(user_agent="x a@b.example", transport=transport, sleep=sleeps.append, retry_policy=policy) as c:
        with pytest.raises(RetriesExhausted, match="after 3 attempts; last error: HTTP 503") as caught:
            c.get("https://example.test/x", source="yahoo")
        stats = c.stats
    assert caught.value.status_code == 503
    assert sleeps == [0.5, 0.5]  # Retry-After: 1, capped at max_backoff
    assert stats["retries"] == 2 and stats["backoff_seconds"] == 1.0 and stats["attempts"] == 3


def test_backoff_env_seam_sets_the_policy(tmp_path, monkeypatch):
    monkeypatch.setenv("FINANCE_ASSETS_HTTP_BACKOFF", "0.01")
    # the seam is under test, not the demo internet: building DemoTransport takes seconds
    monkeypatch.setattr(HttpSource, "_transport", lambda self: httpx.MockTransport(lambda r: httpx.Response(200)))
    source = HttpSource(mode="demo", cache_dir=str(tmp_path / "cache"), state_dir=str(tmp_path / "state"))
    policy = source.client.retry_policy
    assert policy.backoff_base == 0.01 and policy.max_backoff == pytest.approx(0.6)
    source.client.close()
