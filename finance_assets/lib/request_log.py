"""`RequestLogTransport`: the request audit log (FINANCE_ASSETS_REQUEST_LOG, docs/configuration.md).

A product feature, not a test fault: when the setting names a file, `lib/sources.HttpSource` wraps
its transport so every request that leaves the process appends "time host path" there. Operators
use it to audit what a run sent (and how fast, across processes, against SEC's 10 requests/s);
the point-in-time and rate tests read it from the outside, and `benchmarks/bench_sec_throughput.py`
measures send times with it. Queries and headers are never written: they may carry credentials.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx


class RequestLogTransport(httpx.BaseTransport):
    """Appends one line per request that reaches it: wall-clock time, host, path (no query, no headers).

    Shows from the outside what a run requested and how the requests were spaced, across processes:
    each line is written with one `write` call to a file opened in append mode. Queries are left out because
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
