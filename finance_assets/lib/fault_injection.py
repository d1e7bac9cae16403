"""Transports that break, stop or record requests on purpose: the reliability test seams.

Tests and `benchmarks/bench_reliability.py` use them directly, and `lib/sources.HttpSource` wraps a
source's transport in them when the seam settings ask for it (FINANCE_ASSETS_FAULT_RATE,
FINANCE_ASSETS_OUTAGE_HOSTS, FINANCE_ASSETS_REQUEST_LOG; docs/configuration.md), so a CLI run in a
subprocess can be put under faults. They sit outside the HTTP client: the client never knows.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import httpx

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


class RequestLogTransport(httpx.BaseTransport):
    """Appends one line per request that reaches it: wall-clock time, host, path (no query, no headers).

    Lets a test check from the outside how requests were spaced, across processes: each line is
    written with one `write` call to a file opened in append mode. Queries are left out because
    they may carry credentials.
    """

    def __init__(self, inner: httpx.BaseTransport, path: str | Path):
        self.inner = inner
        self.path = Path(path)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        line = f"{time.time():.6f} {request.url.host} {request.url.path}\n"
        with open(self.path, "a", encoding="utf-8") as log_file:
            log_file.write(line)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
