"""PriceSource: providers in order with fallback, garbage rejected, one clear error when all fail."""

from __future__ import annotations

import datetime as dt
import logging

import httpx
import pytest

from finance_assets.defs.market.source import PriceSource
from finance_assets.demo.source import DemoTransport
from finance_assets.lib.http import HttpClient
from finance_assets.lib.sources import SourceFailed

NOW = dt.datetime(2025, 7, 15, 22, tzinfo=dt.UTC)


def _source(tmp_path, handler, providers=("yahoo", "stooq", "alphavantage"), key="") -> PriceSource:
    source = PriceSource(
        mode="demo",
        cache_dir=str(tmp_path / "c"),
        state_dir=str(tmp_path / "s"),
        providers=list(providers),
        alphavantage_api_key=key,
    )
    source._client = HttpClient(
        user_agent="test",
        transport=httpx.MockTransport(handler),
        max_retries=1,
        sleep=lambda s: None,
        secrets=[key] if key else [],
    )
    return source


def _demo(request: httpx.Request) -> httpx.Response:
    return DemoTransport(now=NOW).handle_request(request)


def test_first_provider_answers(tmp_path):
    bars = _source(tmp_path, _demo).daily_bars("ACMQ", dt.date(2025, 6, 1), dt.date(2025, 7, 1))
    assert len(bars) == 20  # June 2025: 21 weekdays, Juneteenth closed and set(bars["source"]) == {"yahoo (demo)"}
    assert bars["date"].min() >= dt.date(2025, 6, 1) and bars["date"].max() < dt.date(2025, 7, 1)


def test_garbage_from_yahoo_falls_back_to_stooq(tmp_path, caplog):
    def handler(request):
        if "yahoo" in request.url.host:
            return httpx.Response(200, json={"chart": {"result": None, "error": {"code": "Not Found"}}})
        return _demo(request)

    with caplog.at_level(logging.WARNING, logger="finance_assets"):
        bars = _source(tmp_path, handler).daily_bars("ACMQ", dt.date(2025, 6, 1), dt.date(2025, 7, 1))
    assert set(bars["source"]) == {"stooq (demo)"} and len(bars) == 20  # June 2025: 21 weekdays, Juneteenth closed
    assert "yahoo" in caplog.text and "Not Found" in caplog.text


def test_non_positive_prices_are_rejected_not_stored(tmp_path):
    def handler(request):
        if "yahoo" in request.url.host:
            response = _demo(request)
            body = response.json()
            body["chart"]["result"][0]["indicators"]["quote"][0]["close"][3] = -1.0
            return httpx.Response(200, json=body)
        return _demo(request)

    bars = _source(tmp_path, handler).daily_bars("ACMQ", dt.date(2025, 6, 1), dt.date(2025, 7, 1))
    assert set(bars["source"]) == {"stooq (demo)"}
    assert (bars[["open", "high", "low", "close"]] > 0).all().all()


def test_all_providers_fail_with_every_reason_and_no_key_leak(tmp_path):
    def handler(request):
        if "alphavantage" in request.url.host:
            return httpx.Response(200, json={"Note": "API call frequency exceeded"})
        return httpx.Response(404, text="nope")

    source = _source(tmp_path, handler, key="SECRETKEY123")
    with pytest.raises(SourceFailed) as err:
        source.daily_bars("ACMQ", dt.date(2025, 6, 1), dt.date(2025, 7, 1))
    message = str(err.value)
    assert "yahoo" in message and "stooq" in message and "alphavantage" in message
    assert "frequency exceeded" in message and "SECRETKEY123" not in message


def test_alphavantage_skipped_without_key(tmp_path):
    source = _source(tmp_path, lambda r: httpx.Response(503), providers=("alphavantage",))
    with pytest.raises(SourceFailed, match="no ALPHAVANTAGE_API_KEY"):
        source.daily_bars("ACMQ", dt.date(2025, 6, 1), dt.date(2025, 7, 1))
