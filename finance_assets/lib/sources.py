"""The base of every data source resource (`HttpSource`); each domain subclasses it in its own
folder (`defs/sec/source.py`, `defs/market/source.py`, `defs/news/source.py`).

Each source has a live mode (real endpoints, formats, headers and limits) and a demo mode that
serves the same formats offline through `DemoTransport`; both go through the one `HttpClient`, so
the parsing code is the same. Mode comes from config (FINANCE_ASSETS_MODE in definitions.py).

Transport settings, read (validated, lib/config.py) when a step builds its HTTP client; none changes
the URLs, headers, limits or parsing of the mode in force:
- FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER=package.module:factory: the transport is replaced by
  `factory(transport, source_name)`; the one extension point for what sits between the client and the
  network (the reliability tests put `finance_assets_tests.fault_injection` there).
- FINANCE_ASSETS_REQUEST_LOG=path: the request audit log, "time host path" per request that leaves
  the process (`lib/request_log.py`), outside the wrapper.
- FINANCE_ASSETS_TRANSPORT=demo (test seam): answer requests with `DemoTransport` even in live mode,
  so a test runs the live code path (live User-Agent, API keys in URLs) offline.
- FINANCE_ASSETS_DEMO_RATES=source=N,...: in demo mode, N requests per second for that source ('*': every
  source) instead of the live provider's limit (the demo answers offline; live mode keeps its limits).
- FINANCE_ASSETS_HTTP_BACKOFF=seconds (test seam): base of the retry backoff (default 0.5); it also
  caps waits, Retry-After included, at 60x that base, so tests with injected 429s stay fast.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import httpx
import pandas as pd
from pydantic import PrivateAttr

from finance_assets.demo.source import DemoTransport
from finance_assets.lib import clock, config
from finance_assets.lib.http import HttpClient
from finance_assets.lib.limiter import DEFAULT_RATES, SourceLimiter
from finance_assets.lib.request_log import RequestLogTransport
from finance_assets.lib.tickers import normalize_ticker

log = logging.getLogger("finance_assets.sources")

DEMO_USER_AGENT = "finance_assets-demo (offline demo source; no requests leave the machine)"
TRANSPORT_ENV = "FINANCE_ASSETS_TRANSPORT"
BACKOFF_ENV = "FINANCE_ASSETS_HTTP_BACKOFF"
REQUEST_LOG_ENV = "FINANCE_ASSETS_REQUEST_LOG"
DEFAULT_BACKOFF_BASE = 0.5


class SourceConfigError(ValueError):
    pass


class SourceFailed(RuntimeError):
    """Every provider of a source failed for a request; the message lists each one's reason."""


class SourceFormatError(ValueError):
    """A source answered 200 with a body that is not what it serves (error page, cut or garbled JSON)."""


def json_object(response: httpx.Response, what: str, loads: Callable[[bytes], Any] | None = None) -> dict:
    """The body as a JSON object, or a SourceFormatError naming the document (nothing gets stored).
    `loads` replaces `json.loads` (same results and errors), e.g. a decoder that keeps the GIL free."""
    try:
        data = loads(response.content) if loads is not None else response.json()
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise SourceFormatError(f"{what}: invalid JSON ({exc}); body starts {response.content[:40]!r}") from None
    if not isinstance(data, dict):
        raise SourceFormatError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def checked_ticker(ticker: str) -> str:
    """`ticker` if it is already in canonical form; anything else never reaches a URL."""
    if normalize_ticker(ticker) != ticker:
        raise ValueError(f"ticker {ticker!r} is not in canonical form ({normalize_ticker(ticker)!r})")
    return ticker


class HttpSource(dg.ConfigurableResource):
    """Shared plumbing: mode, the HTTP client (limiter, retries, cache) and its run statistics."""

    mode: str = "demo"
    cache_dir: str
    state_dir: str
    as_of: str = ""  # the clock (FINANCE_ASSETS_AS_OF, lib/clock.py); empty = the machine clock
    demo_now: str = ""  # older name of as_of (used when as_of is empty)

    _client: HttpClient | None = PrivateAttr(default=None)
    _limiter: SourceLimiter | None = PrivateAttr(default=None)
    _reported: dict = PrivateAttr(default_factory=dict)
    client_class: ClassVar[type[HttpClient]] = HttpClient

    def _user_agent(self) -> str:
        return DEMO_USER_AGENT

    def _rates(self) -> dict[str, list[tuple[int, float]]]:
        """Rate limits for sources this resource adds to the limiter's defaults."""
        return {}

    def _secrets(self) -> list[str]:
        return []

    def _limits(self) -> dict[str, list[tuple[int, float]]]:
        """What the limiter enforces beyond its defaults: `_rates()`, and in demo mode the
        FINANCE_ASSETS_DEMO_RATES overrides (per second) for the sources they name."""
        rates = dict(self._rates())
        demo_rates = dict(config.settings().demo_rates) if self.mode == "demo" else {}
        every = demo_rates.pop("*", None)
        for name in {*DEFAULT_RATES, *rates, *demo_rates}:
            per_second = demo_rates.get(name, every)
            if per_second is not None:
                rates[name] = [(per_second, 1.0)]
        return rates

    def clock(self) -> pd.Timestamp:
        """This source's "now" (UTC): the as-of instant when one is set, else the machine clock.
        Nothing known after it is fetched or stored (docs/operations.md, "Clock, corporate actions and replay")."""
        return pd.Timestamp(clock.now(self.as_of or self.demo_now))

    def _demo_transport(self) -> DemoTransport:
        # the demo is a pure function of its seed and this instant
        return DemoTransport(now=self.clock().to_pydatetime())

    def _transport(self) -> httpx.BaseTransport | None:
        if self.mode not in ("demo", "live"):
            raise SourceConfigError(f"mode must be 'demo' or 'live', got {self.mode!r}")
        settings = config.settings()  # the transport settings above, validated there
        override = settings.transport
        transport: httpx.BaseTransport | None = (
            self._demo_transport() if self.mode == "demo" or override == "demo" else None
        )
        if self.mode == "live" and override == "demo":
            log.warning(
                "%s=demo: live-mode requests are answered offline by the demo source (fictional data; "
                "a test seam, not for real use)",
                TRANSPORT_ENV,
            )
        if settings.http_transport_wrapper:
            wrap = config.load_transport_wrapper(settings.http_transport_wrapper)
            transport = wrap(transport or httpx.HTTPTransport(), type(self).__name__)
        if settings.request_log:
            # outermost: a request the wrapper fails (an injected 503, a refused host) was still sent
            transport = RequestLogTransport(transport or httpx.HTTPTransport(), settings.request_log)
        return transport

    @staticmethod
    def _backoff_base() -> float:
        base = config.settings().http_backoff  # FINANCE_ASSETS_HTTP_BACKOFF, validated to [0, 60]
        return DEFAULT_BACKOFF_BASE if base is None else base

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            backoff_base = self._backoff_base()
            self._limiter = SourceLimiter(self.state_dir, rates=self._limits() or None)
            self._client = self.client_class(
                user_agent=self._user_agent(),
                limiter=self._limiter,
                transport=self._transport(),
                cache_dir=Path(self.cache_dir) / "http",
                secrets=self._secrets(),
                backoff_base=backoff_base,
                max_backoff=min(30.0, 60 * backoff_base),
            )
        return self._client

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
        if self._limiter is not None:
            self._limiter.close()

    def http_stats(self) -> dict:
        """The client's counters since the previous call: one step's own requests, even when several
        steps of an in-process run share this resource."""
        if self._client is None:
            return {}
        current = self._client.stats
        delta = _subtract_counters(current, self._reported)
        self._reported = current
        return delta


def _subtract_counters(current: dict, previous: dict) -> dict:
    """`current - previous` for `HttpClient.stats`: statuses and sources without new requests dropped."""
    out: dict = {}
    for name, value in current.items():
        before = previous.get(name)
        if name == "by_source":
            deltas = {
                source: _subtract_counters(stats, (before or {}).get(source, {})) for source, stats in value.items()
            }
            out[name] = {
                source: stats for source, stats in deltas.items() if stats.get("attempts") or stats.get("requests")
            }
        elif name == "by_status":
            out[name] = {
                status: n - (before or {}).get(status, 0)
                for status, n in value.items()
                if n - (before or {}).get(status, 0)
            }
        elif isinstance(value, float):
            out[name] = round(value - (before or 0.0), 3)
        elif isinstance(value, int):
            out[name] = value - (before or 0)
        else:
            out[name] = value
    return out
