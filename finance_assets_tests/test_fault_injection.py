"""The test package's fault transports, and the product seam that puts a CLI run under them."""

from __future__ import annotations

import zlib

import httpx
import pytest

from finance_assets.lib.http import RetriesExhausted
from finance_assets.lib.sources import HttpSource
from finance_assets_tests.fault_injection import (
    FAULT_RATE_ENV,
    FaultInjectingTransport,
    OutageTransport,
    fault_env,
    faults_from_env,
)


def numbered_origin(request: httpx.Request) -> httpx.Response:
    n = int(request.url.params.get("n", 0))
    return httpx.Response(200, json={"n": n, "square": n * n})


def test_fault_injection_is_reproducible_per_seed():
    def run(seed: int) -> list[str]:
        faulty = FaultInjectingTransport(httpx.MockTransport(numbered_origin), failure_rate=0.5, seed=seed)
        outcomes = []
        for n in range(50):
            request = httpx.Request("GET", f"https://example.test/n?n={n}")
            try:
                outcomes.append(str(faulty.handle_request(request).status_code))
            except httpx.TransportError as exc:
                outcomes.append(type(exc).__name__)
        return outcomes

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_fault_injection_does_not_depend_on_request_order():
    urls = [f"https://example.test/n?n={n % 40}" for n in range(120)]  # each URL asked three times

    def outcomes(order: list[int]) -> dict[tuple[str, int], str]:
        faulty = FaultInjectingTransport(httpx.MockTransport(numbered_origin), failure_rate=0.5, seed=5)
        seen: dict[str, int] = {}
        result = {}
        for i in order:
            url = urls[i]
            nth = seen.get(url, 0)
            seen[url] = nth + 1
            try:
                result[(url, nth)] = str(faulty.handle_request(httpx.Request("GET", url)).status_code)
            except httpx.TransportError as exc:
                result[(url, nth)] = type(exc).__name__
        return result

    forward = list(range(len(urls)))
    assert outcomes(forward) == outcomes(forward[::-1])  # another thread interleaving, same faults


def test_injected_faults_are_transient_per_url():
    faulty = FaultInjectingTransport(httpx.MockTransport(numbered_origin), failure_rate=1.0, seed=1)
    statuses = []
    for _ in range(8):
        try:
            statuses.append(faulty.handle_request(httpx.Request("GET", "https://example.test/n?n=1")).status_code)
        except httpx.TransportError:
            statuses.append("error")
    # three faults, then one answer gets through, then the streak starts again
    assert [s == 200 for s in statuses] == [False, False, False, True, False, False, False, True]
    unlimited = FaultInjectingTransport(
        httpx.MockTransport(numbered_origin), failure_rate=1.0, seed=1, faults=("500",), max_consecutive=None
    )
    assert all(
        unlimited.handle_request(httpx.Request("GET", "https://example.test/")).status_code == 500 for _ in range(8)
    )


def test_fault_injector_rejects_bad_configuration():
    inner = httpx.MockTransport(numbered_origin)
    with pytest.raises(ValueError):
        FaultInjectingTransport(inner, failure_rate=1.5, seed=0)
    with pytest.raises(ValueError):
        FaultInjectingTransport(inner, failure_rate=0.1, seed=0, faults=("500", "meteor"))
    with pytest.raises(ValueError):
        FaultInjectingTransport(inner, failure_rate=0.1, seed=0, max_consecutive=-1)


def test_faults_from_env_wraps_only_what_the_environment_asks_for():
    inner = httpx.MockTransport(numbered_origin)
    assert faults_from_env(inner, "SecEdgarSource", {}) is inner
    faulty = faults_from_env(inner, "SecEdgarSource", fault_env(fault_rate=0.2))
    assert isinstance(faulty, FaultInjectingTransport) and faulty.inner is inner
    # seeded by the source's name with crc32: the same faults in every process
    assert (faulty.failure_rate, faulty.seed) == (0.2, zlib.crc32(b"SecEdgarSource"))
    both = faults_from_env(inner, "PriceSource", fault_env(fault_rate=0.1, outage_hosts=["a.test", "b.test"]))
    assert isinstance(both, OutageTransport) and both.hosts == {"a.test", "b.test"}
    assert isinstance(both.inner, FaultInjectingTransport)


@pytest.mark.parametrize("value", ["1.5", "-0.1", "often"])
def test_faults_from_env_refuses_a_bad_rate_in_one_line(value):
    with pytest.raises(ValueError, match=rf"^{FAULT_RATE_ENV}='{value}' is not valid: expected a probability"):
        faults_from_env(httpx.MockTransport(numbered_origin), "PriceSource", {FAULT_RATE_ENV: value})


def test_a_source_sends_through_the_wrapper_its_setting_names(tmp_path, monkeypatch):
    monkeypatch.setenv("FINANCE_ASSETS_HTTP_BACKOFF", "0.001")
    for name, value in fault_env(outage_hosts=["outage.test"]).items():
        monkeypatch.setenv(name, value)
    source = HttpSource(mode="demo", cache_dir=str(tmp_path / "cache"), state_dir=str(tmp_path / "state"))
    with pytest.raises(RetriesExhausted, match="last error: connect_error"):
        source.client.get("https://outage.test/x.json", source="news")
    assert source.http_stats()["by_status"] == {"connect_error": source.client.retry_policy.attempts}
