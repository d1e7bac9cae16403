"""Data sources as Dagster resources: SEC EDGAR, daily prices, news headlines.

Each source has a live mode (real endpoints, formats, headers and limits) and a demo mode that
serves the same formats offline through `DemoTransport`; both go through the one `HttpClient`, so
the parsing code is the same. Mode comes from config (FINANCE_ASSETS_MODE in definitions.py).

Reliability-test seams, read from the environment when a step builds its HTTP client (they never
change the URLs, headers, limits or parsing of the mode in force):
- FINANCE_ASSETS_TRANSPORT=demo: answer requests with `DemoTransport` even in live mode, so a test
  runs the live code path (live User-Agent, API keys in URLs) offline.
- FINANCE_ASSETS_OUTAGE_HOSTS=host1,host2: every request to those hosts fails as a refused connection.
- FINANCE_ASSETS_HTTP_BACKOFF=seconds: base of the retry backoff (default 0.5); it also caps waits,
  Retry-After included, at 60x that base, so tests with injected 429s stay fast.
- FINANCE_ASSETS_REQUEST_LOG=path: append "time host path" per request that reaches the transport.
- fault_rate > 0 (FINANCE_ASSETS_FAULT_RATE): seeded fault injection (see `FaultInjectingTransport`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import xml.sax
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import dagster as dg
import feedparser
import httpx
import pandas as pd
from pydantic import PrivateAttr

from finance_assets.analytics import headline_sources
from finance_assets.analytics import prices as price_parsers
from finance_assets.analytics.edgar import normalize_ticker
from finance_assets.analytics.edgar_bulk import BulkArchive, check_archive
from finance_assets.resources.bulk_download import Download, DownloadingHttpClient
from finance_assets.resources.demo import DemoTransport
from finance_assets.resources.http import (
    FaultInjectingTransport,
    HttpClient,
    HttpStatusError,
    OutageTransport,
    RequestLogTransport,
)
from finance_assets.resources.limiter import SourceLimiter

log = logging.getLogger("finance_assets.sources")

SEC_WWW = "https://www.sec.gov"
SEC_DATA = "https://data.sec.gov"
YAHOO_CHART = "https://query1.finance.yahoo.com/v8/finance/chart/{symbol}"
STOOQ_CSV = "https://stooq.com/q/d/l/"
ALPHAVANTAGE = "https://www.alphavantage.co/query"
YAHOO_RSS = "https://feeds.finance.yahoo.com/rss/2.0/headline"
FINNHUB_COMPANY_NEWS = "https://finnhub.io/api/v1/company-news"
# EDGAR's nightly bulk archives (paths under SEC_WWW)
SEC_BULK_PATHS = {"companyfacts": "/Archives/edgar/daily-index/xbrl/companyfacts.zip",
                  "submissions": "/Archives/edgar/daily-index/bulkdata/submissions.zip"}

DEMO_USER_AGENT = "finance_assets-demo (offline demo source; no requests leave the machine)"
TRANSPORT_ENV = "FINANCE_ASSETS_TRANSPORT"
OUTAGE_ENV = "FINANCE_ASSETS_OUTAGE_HOSTS"
BACKOFF_ENV = "FINANCE_ASSETS_HTTP_BACKOFF"
REQUEST_LOG_ENV = "FINANCE_ASSETS_REQUEST_LOG"
DEFAULT_BACKOFF_BASE = 0.5


class SourceConfigError(ValueError):
    pass


class SourceFailed(RuntimeError):
    """Every provider of a source failed for a request; the message lists each one's reason."""


class SourceFormatError(ValueError):
    """A source answered 200 with a body that is not what it serves (error page, cut or garbled JSON)."""


def _json_object(response: httpx.Response, what: str) -> dict:
    """The body as a JSON object, or a SourceFormatError naming the document (nothing gets stored)."""
    try:
        data = response.json()
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise SourceFormatError(f"{what}: invalid JSON ({exc}); body starts {response.content[:40]!r}") from None
    if not isinstance(data, dict):
        raise SourceFormatError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF)[\s>/]")


def _checked_feed(ticker: str, body: bytes) -> bytes:
    """`body` if it is a well-formed RSS/Atom document: an error page or a cut-off XML file would
    otherwise parse as a month with fewer (or no) headlines."""
    if not _FEED_ROOT.search(body[:4096]):
        raise SourceFormatError(f"{ticker}: unreadable headline feed (not RSS or Atom; body starts {body[:40]!r})")
    parsed = feedparser.parse(body)
    if parsed.bozo and isinstance(parsed.get("bozo_exception"), xml.sax.SAXParseException):
        raise SourceFormatError(f"{ticker}: unreadable headline feed (malformed XML: {parsed.bozo_exception})")
    return body


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
    fault_rate: float = 0.0  # > 0 wraps the transport in a fault injector (reliability tests)
    demo_now: str = ""  # ISO UTC timestamp pinning the demo's 'now'; empty = the real clock

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

    def _demo_transport(self) -> DemoTransport:
        now = None
        if self.demo_now:
            stamp = pd.Timestamp(self.demo_now)
            now = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()
        return DemoTransport(now=now)

    def _transport(self) -> httpx.BaseTransport | None:
        if self.mode not in ("demo", "live"):
            raise SourceConfigError(f"mode must be 'demo' or 'live', got {self.mode!r}")
        override = os.environ.get(TRANSPORT_ENV, "").strip().lower()
        if override not in ("", "demo"):
            raise SourceConfigError(f"{TRANSPORT_ENV} must be 'demo' or unset, got {override!r}")
        transport: httpx.BaseTransport | None = (
            self._demo_transport() if self.mode == "demo" or override == "demo" else None)
        if self.mode == "live" and override == "demo":
            log.warning("%s=demo: live-mode requests are answered offline by the demo source (fictional data; "
                        "a test seam, not for real use)", TRANSPORT_ENV)
        if self.fault_rate > 0:
            # crc32, not hash(): str hashes are salted per process, and the faults must be reproducible.
            transport = FaultInjectingTransport(transport or httpx.HTTPTransport(), failure_rate=self.fault_rate,
                                                seed=zlib.crc32(type(self).__name__.encode()))
        outage = [host for host in os.environ.get(OUTAGE_ENV, "").split(",") if host.strip()]
        if outage:
            transport = OutageTransport(transport or httpx.HTTPTransport(), outage)
        request_log = os.environ.get(REQUEST_LOG_ENV, "").strip()
        if request_log:
            transport = RequestLogTransport(transport or httpx.HTTPTransport(), request_log)
        return transport

    @staticmethod
    def _backoff_base() -> float:
        raw = os.environ.get(BACKOFF_ENV, "").strip()
        try:
            base = float(raw) if raw else DEFAULT_BACKOFF_BASE
        except ValueError:
            raise SourceConfigError(f"{BACKOFF_ENV} must be a number of seconds, got {raw!r}") from None
        if not 0 <= base <= 60:
            raise SourceConfigError(f"{BACKOFF_ENV} must be within [0, 60] seconds, got {base}")
        return base

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            backoff_base = self._backoff_base()
            self._limiter = SourceLimiter(self.state_dir, rates=self._rates() or None)
            self._client = self.client_class(
                user_agent=self._user_agent(), limiter=self._limiter, transport=self._transport(),
                cache_dir=Path(self.cache_dir) / "http", secrets=self._secrets(),
                backoff_base=backoff_base, max_backoff=min(30.0, 60 * backoff_base),
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
            deltas = {source: _subtract_counters(stats, (before or {}).get(source, {})) for source, stats in value.items()}
            out[name] = {source: stats for source, stats in deltas.items() if stats.get("attempts") or stats.get("requests")}
        elif name == "by_status":
            out[name] = {status: n - (before or {}).get(status, 0) for status, n in value.items()
                         if n - (before or {}).get(status, 0)}
        elif isinstance(value, float):
            out[name] = round(value - (before or 0.0), 3)
        elif isinstance(value, int):
            out[name] = value - (before or 0)
        else:
            out[name] = value
    return out


class SecEdgarSource(HttpSource):
    """SEC EDGAR: company tickers, submissions (with older pages), XBRL companyfacts, the latest
    filings feed, and the nightly bulk archives.

    Live mode requires `user_agent` ("Example Corp admin@example.com", from SEC_USER_AGENT): SEC
    blocks undeclared clients with 403. Requests share the machine-wide 10/s SEC limit.

    A run that covers more than `bulk_min_tickers` tickers reads `companyfacts.zip` /
    `submissions.zip` (one download each, kept under the cache dir and revalidated with ETag /
    Last-Modified) instead of two or more requests per company; 0 turns the bulk path off.
    """

    user_agent: str = ""
    bulk_min_tickers: int = 200
    client_class: ClassVar[type[HttpClient]] = DownloadingHttpClient

    def _user_agent(self) -> str:
        if self.mode != "live":
            return DEMO_USER_AGENT
        agent = self.user_agent.strip()
        if not agent or "@" not in agent:
            raise SourceConfigError(
                "Live SEC access needs SEC_USER_AGENT set to a name and contact e-mail, e.g. "
                "'Example Corp admin@example.com' (SEC's fair-access rule; undeclared clients get 403)."
            )
        return agent

    def _secrets(self) -> list[str]:
        return [self.user_agent] if self.user_agent else []

    def company_tickers(self) -> dict:
        try:
            return _json_object(self.client.get(f"{SEC_WWW}/files/company_tickers_exchange.json", source="sec"),
                                "SEC company_tickers_exchange.json")
        except HttpStatusError:
            return _json_object(self.client.get(f"{SEC_WWW}/files/company_tickers.json", source="sec"),
                                "SEC company_tickers.json")

    def latest_filings_atom(self, form: str = "", start: int = 0) -> bytes:
        """One page of EDGAR's 'Latest Filings' Atom feed: 100 entries from `start` (0 = newest);
        `form` filters, e.g. 10-K."""
        if not isinstance(start, int) or start < 0:
            raise ValueError(f"start must be a non-negative int, got {start!r}")
        params = {"action": "getcurrent", "type": form, "company": "", "dateb": "", "owner": "include",
                  "start": str(start), "count": "100", "output": "atom"}
        return self.client.get(f"{SEC_WWW}/cgi-bin/browse-edgar", source="sec", params=params,
                               use_cache=False).content

    def submissions(self, cik: int) -> dict:
        return _json_object(self.client.get(f"{SEC_DATA}/submissions/CIK{cik:010d}.json", source="sec"),
                            f"SEC submissions CIK{cik:010d}.json")

    def submissions_page(self, name: str) -> dict:
        if "/" in name or not name.endswith(".json"):
            raise ValueError(f"unexpected submissions page name {name!r}")
        return _json_object(self.client.get(f"{SEC_DATA}/submissions/{name}", source="sec"), f"SEC submissions {name}")

    def companyfacts(self, cik: int) -> dict | None:
        """None when the company has no XBRL facts (EDGAR answers 404)."""
        try:
            response = self.client.get(f"{SEC_DATA}/api/xbrl/companyfacts/CIK{cik:010d}.json", source="sec")
        except HttpStatusError as exc:
            if getattr(exc, "status_code", None) == 404:
                return None
            raise
        return _json_object(response, f"SEC companyfacts CIK{cik:010d}.json")

    def uses_bulk(self, ticker_count: int) -> bool:
        """Whether a run over `ticker_count` tickers should read the bulk archives."""
        return self.bulk_min_tickers > 0 and ticker_count > self.bulk_min_tickers

    def bulk_archive_path(self, kind: str) -> Path:
        if kind not in SEC_BULK_PATHS:
            raise ValueError(f"bulk archive must be one of {sorted(SEC_BULK_PATHS)}, got {kind!r}")
        return Path(self.cache_dir) / "sec-bulk" / f"{kind}.zip"

    def download_bulk_archive(self, kind: str) -> Download:
        """Fetch `companyfacts.zip` or `submissions.zip` into the cache dir, unless the copy there is
        still current (one conditional request, answered 304)."""
        client = self.client
        if not isinstance(client, DownloadingHttpClient):
            raise SourceConfigError("bulk archives need the DownloadingHttpClient")
        return client.download(f"{SEC_WWW}{SEC_BULK_PATHS[kind]}", self.bulk_archive_path(kind), source="sec",
                               verify=check_archive)

    def bulk_archive(self, kind: str, ciks: Sequence[int]) -> tuple[BulkArchive, Download]:
        """The current bulk archive, indexed for `ciks` only (see analytics.edgar_bulk)."""
        download = self.download_bulk_archive(kind)
        return BulkArchive(download.path, ciks), download

    def as_of_date(self) -> dt.date:
        """Today in New York, or the pinned demo day: the date a ticker map snapshot is 'seen on'."""
        stamp = pd.Timestamp(self.demo_now) if (self.mode == "demo" and self.demo_now) else pd.Timestamp.now("UTC")
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        return stamp.tz_convert("America/New_York").date()


class PriceSource(HttpSource):
    """Daily bars from providers tried in order with fallback (Yahoo chart, Stooq, Alpha Vantage)."""

    providers: list[str] = ["yahoo", "stooq", "alphavantage"]
    alphavantage_api_key: str = ""

    def _secrets(self) -> list[str]:
        return [self.alphavantage_api_key] if self.alphavantage_api_key else []

    def daily_bars(self, ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Bars with start <= date < end from the first provider that answers sensibly."""
        checked_ticker(ticker)
        reasons = []
        for provider in self.providers:
            if provider == "alphavantage" and not self.alphavantage_api_key:
                reasons.append("alphavantage: no ALPHAVANTAGE_API_KEY")
                continue
            try:
                bars = getattr(self, f"_fetch_{provider}")(ticker, start, end)
            except AttributeError:
                raise SourceConfigError(f"unknown price provider {provider!r}") from None
            except Exception as exc:  # noqa: BLE001 - each provider's failure is reported, then the next tried
                reasons.append(f"{provider}: {type(exc).__name__}: {exc}")
                log.warning("price provider %s failed for %s: %s", provider, ticker, exc)
                continue
            bars = bars[(bars["date"] >= start) & (bars["date"] < end)].reset_index(drop=True)
            problems = price_parsers.validate_prices(bars) if len(bars) else []
            if problems:
                reasons.append(f"{provider}: rejected ({'; '.join(problems)})")
                continue
            bars["source"] = f"{provider} ({self.mode})" if self.mode == "demo" else provider
            return bars
        raise SourceFailed(f"all price providers failed for {ticker}: " + " | ".join(reasons))

    def _fetch_yahoo(self, ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        params = {"period1": int(pd.Timestamp(start, tz="UTC").timestamp()),
                  "period2": int(pd.Timestamp(end, tz="UTC").timestamp()),
                  "interval": "1d", "events": "div,splits", "includeAdjustedClose": "true"}
        resp = self.client.get(YAHOO_CHART.format(symbol=ticker), source="yahoo", params=params)
        return price_parsers.parse_yahoo_chart(resp.content)

    def _fetch_stooq(self, ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        resp = self.client.get(STOOQ_CSV, source="stooq", params={"s": f"{ticker.lower()}.us", "i": "d"})
        return price_parsers.parse_stooq_csv(resp.text)

    def _fetch_alphavantage(self, ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        params = {"function": "TIME_SERIES_DAILY_ADJUSTED", "symbol": ticker, "outputsize": "full",
                  "apikey": self.alphavantage_api_key}
        resp = self.client.get(ALPHAVANTAGE, source="alphavantage", params=params)
        return price_parsers.parse_alphavantage_daily(resp.content)


NEWS_PROVIDERS = ("yahoo-rss", "sec-8k", "finnhub")
# Finnhub's free tier allows 60 calls a minute and 30 a second; keep a margin under both.
FINNHUB_RATES = [(25, 1.0), (55, 60.0)]
# Fetch from a few days before a month so a weekend headline reaches the month's first session.
NEWS_LEAD_DAYS = 4


class NewsSource(HttpSource):
    """Headlines for a ticker from every configured provider, as one table (`headlines`).

    Providers, in `providers` order:
    - `yahoo-rss`: Yahoo Finance's per-ticker headline RSS.
    - `sec-8k`: the company's 8-K filings, built from the `filings` asset (no request).
    - `finnhub`: Finnhub company-news (`finnhub_api_key`, from FINNHUB_API_KEY), one request per
      ticker and month; skipped, with the reason recorded, when no key is configured.
    Parsing lives in analytics.headline_sources; dedupe and trading days in analytics.news.
    """

    providers: list[str] = list(NEWS_PROVIDERS)
    finnhub_api_key: str = ""

    def _secrets(self) -> list[str]:
        return [self.finnhub_api_key] if self.finnhub_api_key else []

    def _rates(self) -> dict[str, list[tuple[int, float]]]:
        return {"finnhub": FINNHUB_RATES}

    def label(self, provider: str) -> str:
        """The `source` value recorded on each headline (demo rows say so)."""
        return f"{provider} ({self.mode})" if self.mode == "demo" else provider

    def headlines_feed(self, ticker: str) -> bytes:
        params = {"s": checked_ticker(ticker), "region": "US", "lang": "en-US"}
        return _checked_feed(ticker, self.client.get(YAHOO_RSS, source="news", params=params).content)

    def finnhub_company_news(self, ticker: str, start: dt.date, end: dt.date) -> object:
        """Finnhub company-news JSON for `start`..`end` (inclusive). The key travels in a header,
        never in the URL, so it stays out of logs and the HTTP cache's keys."""
        if not self.finnhub_api_key:
            raise SourceConfigError("Finnhub needs FINNHUB_API_KEY")
        params = {"symbol": checked_ticker(ticker), "from": start.isoformat(), "to": end.isoformat()}
        response = self.client.get(FINNHUB_COMPANY_NEWS, source="finnhub", params=params,
                                   headers={"X-Finnhub-Token": self.finnhub_api_key})
        return response.json()

    def headlines(self, ticker: str, months: Sequence[str], filings: pd.DataFrame | None = None,
                  ) -> tuple[pd.DataFrame, dict[str, str]]:
        """(headlines of every provider for `ticker` around `months`, {provider: why it was skipped}).

        `months` are month-start keys ('2025-03-01'); `filings` is the ticker's `filings` table
        (None or empty when not materialized). Provider errors propagate: a half-fetched month
        must not be stored as complete.
        """
        unknown = sorted(set(self.providers) - set(NEWS_PROVIDERS))
        if unknown:
            raise SourceConfigError(f"unknown news provider(s) {unknown}; known: {list(NEWS_PROVIDERS)}")
        frames, skipped = [], {}
        for provider in self.providers:
            label = self.label(provider)
            if provider == "yahoo-rss":
                frames.append(headline_sources.parse_headline_feed(ticker, self.headlines_feed(ticker), label))
            elif provider == "sec-8k":
                if filings is None or "form" not in filings.columns:
                    skipped[provider] = f"no filings materialized for {ticker}"
                    continue
                name = filings["company_name"].dropna().iloc[0] if (
                    "company_name" in filings.columns and filings["company_name"].notna().any()) else None
                frames.append(headline_sources.eight_k_headlines(ticker, filings, name, label))
            elif not self.finnhub_api_key:
                skipped[provider] = "no FINNHUB_API_KEY configured"
            else:
                for month in sorted(months):
                    first = dt.date.fromisoformat(month)
                    last = (pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date()
                    payload = self.finnhub_company_news(ticker, first - dt.timedelta(days=NEWS_LEAD_DAYS), last)
                    frames.append(headline_sources.parse_finnhub_company_news(ticker, payload, label))
        frames = [frame for frame in frames if len(frame)]
        out = (pd.concat(frames, ignore_index=True) if frames
               else pd.DataFrame(columns=headline_sources.HEADLINE_COLUMNS))
        return out, skipped
