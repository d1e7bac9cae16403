"""Daily bars as a Dagster resource: Yahoo chart, then Stooq, then Alpha Vantage."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from finance_assets.defs.market import prices as price_parsers
from finance_assets.lib.sources import HttpSource, SourceConfigError, SourceFailed, checked_ticker

log = logging.getLogger("finance_assets.sources")

YAHOO_CHART = "https://query1.finance.yahoo.com/v8/finance/chart/{symbol}"
STOOQ_CSV = "https://stooq.com/q/d/l/"
ALPHAVANTAGE = "https://www.alphavantage.co/query"


class PriceSource(HttpSource):
    """Daily bars from providers tried in order with fallback (Yahoo chart, Stooq, Alpha Vantage)."""

    providers: list[str] = ["yahoo", "stooq", "alphavantage"]
    alphavantage_api_key: str = ""

    def _secrets(self) -> list[str]:
        return [self.alphavantage_api_key] if self.alphavantage_api_key else []

    def daily_bars(self, ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Bars with start <= date < end from the first provider that answers sensibly."""
        checked_ticker(ticker)
        # nothing after the clock: no bar of a later day (the day's bar once its session closed)
        end = min(end, self.clock().tz_convert("America/New_York").date() + dt.timedelta(days=1))
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

    def corporate_actions(self, ticker: str, start: dt.date) -> pd.DataFrame:
        """Splits and cash dividends from `start` to the clock, from the first provider that answers
        (its event fields: Yahoo's events, Alpha Vantage's split coefficient and dividend)."""
        from finance_assets.defs.market.corporate_actions import actions_from_bars

        bars = self.daily_bars(ticker, start, self.clock().tz_convert("America/New_York").date() + dt.timedelta(days=1))
        return actions_from_bars(ticker, bars, str(bars["source"].iloc[0]) if len(bars) else "")

    def _fetch_yahoo(self, ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        params = {
            "period1": int(pd.Timestamp(start, tz="UTC").timestamp()),
            "period2": int(pd.Timestamp(end, tz="UTC").timestamp()),
            "interval": "1d",
            "events": "div,splits",
            "includeAdjustedClose": "true",
        }
        resp = self.client.get(YAHOO_CHART.format(symbol=ticker), source="yahoo", params=params)
        return price_parsers.parse_yahoo_chart(resp.content)

    def _fetch_stooq(self, ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        resp = self.client.get(STOOQ_CSV, source="stooq", params={"s": f"{ticker.lower()}.us", "i": "d"})
        return price_parsers.parse_stooq_csv(resp.text)

    def _fetch_alphavantage(self, ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        params = {
            "function": "TIME_SERIES_DAILY_ADJUSTED",
            "symbol": ticker,
            "outputsize": "full",
            "apikey": self.alphavantage_api_key,
        }
        resp = self.client.get(ALPHAVANTAGE, source="alphavantage", params=params)
        return price_parsers.parse_alphavantage_daily(resp.content)
