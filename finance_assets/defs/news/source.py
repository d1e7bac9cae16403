"""Headlines as a Dagster resource: Yahoo RSS, the company's 8-Ks, Finnhub."""

from __future__ import annotations

import datetime as dt
import re
import xml.sax
from collections.abc import Sequence

import feedparser
import pandas as pd

from finance_assets.defs.news import headline_sources
from finance_assets.lib.sources import HttpSource, SourceConfigError, SourceFormatError, checked_ticker

YAHOO_RSS = "https://feeds.finance.yahoo.com/rss/2.0/headline"
FINNHUB_COMPANY_NEWS = "https://finnhub.io/api/v1/company-news"

_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF)[\s>/]")


def _checked_feed(ticker: str, body: bytes) -> feedparser.FeedParserDict:
    """`body` parsed, if it is a well-formed RSS/Atom document: an error page or a cut-off XML file would
    otherwise parse as a month with fewer (or no) headlines. Parsed once: a feed holding years of
    headlines took most of a headlines run to parse twice."""
    if not _FEED_ROOT.search(body[:4096]):
        raise SourceFormatError(f"{ticker}: unreadable headline feed (not RSS or Atom; body starts {body[:40]!r})")
    parsed = feedparser.parse(body)
    if parsed.bozo and isinstance(parsed.get("bozo_exception"), xml.sax.SAXParseException):
        raise SourceFormatError(f"{ticker}: unreadable headline feed (malformed XML: {parsed.bozo_exception})")
    return parsed


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

    def _feed_body(self, ticker: str) -> bytes:
        params = {"s": checked_ticker(ticker), "region": "US", "lang": "en-US"}
        return self.client.get(YAHOO_RSS, source="news", params=params).content

    def headlines_feed(self, ticker: str) -> feedparser.FeedParserDict:
        return _checked_feed(ticker, self._feed_body(ticker))

    def feed_headlines(self, ticker: str, label: str) -> pd.DataFrame:
        """The ticker's Yahoo feed as headlines: a plain RSS 2.0 feed read directly
        (`headline_sources.plain_rss_headlines`), anything else checked and parsed by feedparser."""
        body = self._feed_body(ticker)
        plain = headline_sources.plain_rss_headlines(ticker, body, label) if _FEED_ROOT.search(body[:4096]) else None
        if plain is not None:
            return plain
        return headline_sources.headlines_of_feed(ticker, _checked_feed(ticker, body), label)

    def finnhub_company_news(self, ticker: str, start: dt.date, end: dt.date) -> object:
        """Finnhub company-news JSON for `start`..`end` (inclusive). The key travels in a header,
        never in the URL, so it stays out of logs and the HTTP cache's keys."""
        if not self.finnhub_api_key:
            raise SourceConfigError("Finnhub needs FINNHUB_API_KEY")
        params = {"symbol": checked_ticker(ticker), "from": start.isoformat(), "to": end.isoformat()}
        response = self.client.get(
            FINNHUB_COMPANY_NEWS, source="finnhub", params=params, headers={"X-Finnhub-Token": self.finnhub_api_key}
        )
        return response.json()

    def headlines(
        self,
        ticker: str,
        months: Sequence[str],
        filings: pd.DataFrame | None = None,
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
                frames.append(self.feed_headlines(ticker, label))
            elif provider == "sec-8k":
                if filings is None or "form" not in filings.columns:
                    skipped[provider] = f"no filings materialized for {ticker}"
                    continue
                name = (
                    filings["company_name"].dropna().iloc[0]
                    if ("company_name" in filings.columns and filings["company_name"].notna().any())
                    else None
                )
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
        out = (
            pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=headline_sources.HEADLINE_COLUMNS)
        )
        return out, skipped
