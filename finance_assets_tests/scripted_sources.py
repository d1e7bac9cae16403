"""Source resources whose HTTP answers come from a test's transport, so assets run their real code
(client, limiter, cache, parsers) against scripted or recorded responses."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import httpx

from finance_assets.defs.news.source import NewsSource
from finance_assets.defs.sec.source import SecEdgarSource
from finance_assets.demo.source import DemoTransport

_TRANSPORTS: dict[str, httpx.BaseTransport] = {}
_ids = itertools.count()


def register_transport(transport: httpx.BaseTransport) -> str:
    key = f"transport-{next(_ids)}"
    _TRANSPORTS[key] = transport
    return key


class ScriptedSec(SecEdgarSource):
    transport_key: str

    def _transport(self) -> httpx.BaseTransport:
        return _TRANSPORTS[self.transport_key]


class ScriptedNews(NewsSource):
    transport_key: str

    def _transport(self) -> httpx.BaseTransport:
        return _TRANSPORTS[self.transport_key]


class Recorder(httpx.BaseTransport):
    """Answers with `handler(request)` when it returns a response, else with the demo source at `now`;
    records every request."""

    def __init__(self, now, handler: Callable[[httpx.Request], httpx.Response | None] | None = None):
        self.demo = DemoTransport(now=now)
        self.handler = handler or (lambda request: None)
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request) or self.demo.handle_request(request)

    def hosts(self) -> list[str]:
        return [r.url.host for r in self.requests]


def source_dirs(root: Path) -> dict:
    return {"cache_dir": str(root / "cache"), "state_dir": str(root / "state")}
