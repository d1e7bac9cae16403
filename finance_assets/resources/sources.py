"""Data sources as Dagster resources: SEC EDGAR, daily prices, news headlines.

Each source has a live mode (real endpoints, formats, headers and limits) and a demo mode that
serves the same formats offline through `DemoTransport`; both go through the one `HttpClient`, so
the parsing code is the same. Mode comes from config (FINANCE_ASSETS_MODE in definitions.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import dagster as dg
import httpx
import pandas as pd
from pydantic import PrivateAttr

from finance_assets.analytics import prices as price_parsers
from finance_assets.resources.demo import DemoTransport
from finance_assets.resources.http import HttpClient, HttpStatusError
from finance_assets.resources.limiter import SourceLimiter

log = logging.getLogger("finance_assets.sources")

SEC_WWW = "https://www.sec.gov"
SEC_DATA = "https://data.sec.gov"
YAHOO_CHART = "https://query1.finance.yahoo.com/v8/finance/chart/{symbol}"
STOOQ_CSV = "https://stooq.com/q/d/l/"
ALPHAVANTAGE = "https://www.alphavantage.co/query"
YAHOO_RSS = "https://feeds.finance.yahoo.com/rss/2.0/headline"

DEMO_USER_AGENT = "finance_assets-demo (offline demo source; no requests leave the machine)"


class SourceConfigError(ValueError):
    pass


class SourceFailed(RuntimeError):
    """Every provider of a source failed for a request; the message lists each one's reason."""


class HttpSource(dg.ConfigurableResource):
    """Shared plumbing: mode, the HTTP client (limiter, retries, cache) and its run statistics."""

    mode: str = "demo"
    cache_dir: str
    state_dir: str
    fault_rate: float = 0.0  # > 0 wraps the transport in a fault injector (reliability tests)
    demo_now: str = ""  # ISO UTC timestamp pinning the demo's 'now'; empty = the real clock

    _client: HttpClient | None = PrivateAttr(default=None)
    _limiter: SourceLimiter | None = PrivateAttr(default=None)

    def _user_agent(self) -> str:
        return DEMO_USER_AGENT

    def _secrets(self) -> list[str]:
        return []

    def _transport(self) -> httpx.BaseTransport | None:
        if self.mode == "live":
            transport = None
        elif self.mode == "demo":
            now = None
            if self.demo_now:
                stamp = pd.Timestamp(self.demo_now)
                now = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()
            transport = DemoTransport(now=now)
        else:
            raise SourceConfigError(f"mode must be 'demo' or 'live', got {self.mode!r}")
        if self.fault_rate > 0:
            from finance_assets.resources.http import FaultInjectingTransport

            transport = FaultInjectingTransport(transport or httpx.HTTPTransport(), failure_rate=self.fault_rate,
                                                seed=hash(type(self).__name__) & 0xFFFF)
        return transport

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            self._limiter = SourceLimiter(self.state_dir)
            self._client = HttpClient(
                user_agent=self._user_agent(), limiter=self._limiter, transport=self._transport(),
                cache_dir=Path(self.cache_dir) / "http", secrets=self._secrets(),
            )
        return self._client

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
        if self._limiter is not None:
            self._limiter.close()

    def http_stats(self) -> dict:
        return dict(self._client.stats) if self._client is not None else {}


class SecEdgarSource(HttpSource):
    """SEC EDGAR: company tickers, submissions (with older pages) and XBRL companyfacts.

    Live mode requires `user_agent` ("Example Corp admin@example.com", from SEC_USER_AGENT): SEC
    blocks undeclared clients with 403. Requests share the machine-wide 10/s SEC limit.
    """

    user_agent: str = ""

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
            return self.client.get(f"{SEC_WWW}/files/company_tickers_exchange.json", source="sec").json()
        except HttpStatusError:
            return self.client.get(f"{SEC_WWW}/files/company_tickers.json", source="sec").json()

    def latest_filings_atom(self, form: str = "") -> bytes:
        """EDGAR's 'Latest Filings' Atom feed (100 newest; `form` filters e.g. 10-K)."""
        params = {"action": "getcurrent", "type": form, "company": "", "dateb": "", "owner": "include",
                  "start": "0", "count": "100", "output": "atom"}
        return self.client.get(f"{SEC_WWW}/cgi-bin/browse-edgar", source="sec", params=params,
                               use_cache=False).content

    def submissions(self, cik: int) -> dict:
        return self.client.get(f"{SEC_DATA}/submissions/CIK{cik:010d}.json", source="sec").json()

    def submissions_page(self, name: str) -> dict:
        if "/" in name or not name.endswith(".json"):
            raise ValueError(f"unexpected submissions page name {name!r}")
        return self.client.get(f"{SEC_DATA}/submissions/{name}", source="sec").json()

    def companyfacts(self, cik: int) -> dict | None:
        """None when the company has no XBRL facts (EDGAR answers 404)."""
        try:
            return self.client.get(f"{SEC_DATA}/api/xbrl/companyfacts/CIK{cik:010d}.json", source="sec").json()
        except HttpStatusError as exc:
            if getattr(exc, "status_code", None) == 404:
                return None
            raise


class PriceSource(HttpSource):
    """Daily bars from providers tried in order with fallback (Yahoo chart, Stooq, Alpha Vantage)."""

    providers: list[str] = ["yahoo", "stooq", "alphavantage"]
    alphavantage_api_key: str = ""

    def _secrets(self) -> list[str]:
        return [self.alphavantage_api_key] if self.alphavantage_api_key else []

    def daily_bars(self, ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Bars with start <= date < end from the first provider that answers sensibly."""
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


class NewsSource(HttpSource):
    """Per-ticker headline RSS (Yahoo Finance). Returns raw feed bytes; parsing is in assets/news."""

    def headlines_feed(self, ticker: str) -> bytes:
        params = {"s": ticker, "region": "US", "lang": "en-US"}
        return self.client.get(YAHOO_RSS, source="news", params=params).content
