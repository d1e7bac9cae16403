"""Transports that break or stop requests on purpose: the reliability tests' fault seams.

Tests use them directly around an `httpx.MockTransport`. A CLI run in a subprocess is put under
faults through the product's one generic seam, FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER
(docs/configuration.md): `fault_env()` returns the environment that points it at `faults_from_env`,
which reads this module's own two variables:
- FINANCE_ASSETS_FAULT_RATE: seeded fault injection at that rate (`FaultInjectingTransport`);
- FINANCE_ASSETS_OUTAGE_HOSTS=host1,host2: every request to those hosts is refused (`OutageTransport`).
The product knows neither variable: it only calls the wrapper.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

import httpx

FAULT_RATE_ENV = "FINANCE_ASSETS_FAULT_RATE"
OUTAGE_HOSTS_ENV = "FINANCE_ASSETS_OUTAGE_HOSTS"
WRAPPER_ENV = "FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER"
WRAPPER = "finance_assets_tests.fault_injection:faults_from_env"
MAX_FAULT_RATE = 0.9  # above it a URL would rarely get through within the retry budget
_HOST = re.compile(r"[A-Za-z0-9.-]+(:\d+)?")

DEFAULT_FAULTS = ("500", "503", "429", "timeout", "reset", "truncated")


class FaultInjectingTransport(httpx.BaseTransport):
    """Wraps a transport and replaces a seeded, reproducible share of its answers with faults.

    Faults: HTTP 500/503/429 (429 carries `Retry-After: 1`), a read timeout, a connection reset, and
    a truncated body (half the bytes under the original Content-Length). `injected` counts each kind.

    Whether the n-th request for a URL fails depends only on (seed, URL, n), not on the order in
    which threads or processes reach the transport, so a run under faults is reproducible. Faults
    are transient: one URL fails at most `max_consecutive` times in a row (below the retry policy's
    attempts), which is what retries are for; a source that stays down is `OutageTransport`.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        failure_rate: float,
        seed: int,
        faults: Sequence[str] = DEFAULT_FAULTS,
        max_consecutive: int | None = 3,
    ):
        unknown = set(faults) - set(DEFAULT_FAULTS)
        if unknown or not faults:
            raise ValueError(f"faults must be a non-empty subset of {DEFAULT_FAULTS}, got {tuple(faults)}")
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be within [0, 1], got {failure_rate}")
        if max_consecutive is not None and max_consecutive < 0:
            raise ValueError(f"max_consecutive must be >= 0 or None, got {max_consecutive}")
        self.inner = inner
        self.failure_rate = failure_rate
        self.seed = seed
        self.faults = tuple(faults)
        self.max_consecutive = max_consecutive
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self._seen: defaultdict[str, int] = defaultdict(int)
        self._streak: defaultdict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def _draw(self, url: str) -> str | None:
        with self._lock:
            self.requests += 1
            nth = self._seen[url]
            self._seen[url] = nth + 1
            digest = hashlib.blake2b(f"{self.seed}|{url}|{nth}".encode(), digest_size=8).digest()
            uniform = int.from_bytes(digest[:6], "big") / 2**48
            capped = self.max_consecutive is not None and self._streak[url] >= self.max_consecutive
            fault = None
            if uniform < self.failure_rate and not capped:
                fault = self.faults[digest[7] % len(self.faults)]
                self.injected[fault] += 1
            self._streak[url] = self._streak[url] + 1 if fault else 0
            return fault

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fault = self._draw(str(request.url))
        if fault is None:
            return self.inner.handle_request(request)
        if fault.isdigit():
            headers = {"Retry-After": "1"} if fault == "429" else {}
            return httpx.Response(int(fault), headers=headers, content=b"injected fault", request=request)
        if fault == "timeout":
            raise httpx.ReadTimeout("injected fault: read timed out", request=request)
        if fault == "reset":
            raise httpx.ReadError("injected fault: [Errno 104] Connection reset by peer", request=request)
        return self._truncate(self.inner.handle_request(request), request)

    @staticmethod
    def _truncate(response: httpx.Response, request: httpx.Request) -> httpx.Response:
        raw = b"".join(response.stream)
        response.close()
        if len(raw) < 2:  # nothing to cut: fail the way httpx reports a short read
            raise httpx.RemoteProtocolError(
                "injected fault: peer closed connection without sending complete message body", request=request
            )
        headers = httpx.Headers(response.headers)
        headers["Content-Length"] = headers.get("Content-Length", str(len(raw)))
        return httpx.Response(
            response.status_code, headers=headers, stream=httpx.ByteStream(raw[: len(raw) // 2]), request=request
        )

    def close(self) -> None:
        self.inner.close()


class OutageTransport(httpx.BaseTransport):
    """Every request to one of `hosts` fails as a refused connection: a source that stays down.

    Requests to other hosts pass through, so tests can take one provider (or SEC) offline and watch
    the others carry on. `refused` counts the requests turned away.
    """

    def __init__(self, inner: httpx.BaseTransport, hosts: Iterable[str]):
        self.inner = inner
        self.hosts = frozenset(host.strip().lower() for host in hosts if host.strip())
        self.refused = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host.lower() in self.hosts:
            with self._lock:
                self.refused += 1
            raise httpx.ConnectError("injected outage: [Errno 111] Connection refused", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def fault_env(*, fault_rate: float | None = None, outage_hosts: Iterable[str] = ()) -> dict[str, str]:
    """The environment variables that put a process's sources under these faults."""
    env = {WRAPPER_ENV: WRAPPER}
    if fault_rate is not None:
        env[FAULT_RATE_ENV] = str(fault_rate)
    hosts = ",".join(outage_hosts)
    if hosts:
        env[OUTAGE_HOSTS_ENV] = hosts
    return env


def faults_from_env(
    transport: httpx.BaseTransport, source: str, environ: Mapping[str, str] | None = None
) -> httpx.BaseTransport:
    """The FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER factory: `transport` under the faults the environment asks for.

    `source` (the resource's class name) seeds the injector with crc32, not hash(): str hashes are
    salted per process, and the faults must be the same in every run.
    """
    env = os.environ if environ is None else environ
    raw_rate = env.get(FAULT_RATE_ENV, "").strip()
    try:
        fault_rate = float(raw_rate or 0)
    except ValueError:
        fault_rate = -1.0
    if not 0.0 <= fault_rate <= MAX_FAULT_RATE:
        raise ValueError(f"{FAULT_RATE_ENV}={raw_rate!r} is not valid: expected a probability between 0 and 0.9")
    hosts = [host.strip() for host in env.get(OUTAGE_HOSTS_ENV, "").split(",") if host.strip()]
    for host in hosts:
        if not _HOST.fullmatch(host):
            raise ValueError(f"{OUTAGE_HOSTS_ENV}={host!r} is not valid: expected comma-separated host names")
    if fault_rate > 0:
        transport = FaultInjectingTransport(transport, failure_rate=fault_rate, seed=zlib.crc32(source.encode()))
    if hosts:
        transport = OutageTransport(transport, hosts)
    return transport
