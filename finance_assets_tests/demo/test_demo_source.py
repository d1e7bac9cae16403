from __future__ import annotations

import datetime as dt
import json

import httpx
import numpy as np
import pandas as pd
import pytest

from finance_assets.demo import source as demo
from finance_assets_tests.conftest import realdata_dir


def test_demo_is_deterministic_and_labelled():
    a = demo.demo_ohlcv("ACMQ")
    demo.demo_ohlcv.cache_clear()
    demo._market_returns.cache_clear()
    b = demo.demo_ohlcv("ACMQ")
    pd.testing.assert_frame_equal(a, b)
    assert all("(DEMO)" in c.name for c in demo.DEMO_COMPANIES)
    assert demo.demo_headlines("ACMQ")["title"].str.startswith("[DEMO]").all()


def test_demo_tickers_are_fictional():
    path = realdata_dir()
    if path is None:
        pytest.skip("needs ../shared/realdata/sec/company_tickers.json")
    real = {v["ticker"] for v in json.loads((path / "sec" / "company_tickers.json").read_text()).values()}
    ours = {c.ticker for c in demo.DEMO_COMPANIES} | {demo.DEMO_BENCHMARK}
    assert ours.isdisjoint(real)
    real_ciks = {v["cik_str"] for v in json.loads((path / "sec" / "company_tickers.json").read_text()).values()}
    assert {c.cik for c in demo.DEMO_COMPANIES}.isdisjoint(real_ciks)


def test_sessions_skip_weekends_and_holidays():
    sessions = pd.Index(demo.demo_ohlcv("ACMQ")["date"])
    assert dt.date(2025, 7, 4) not in sessions and dt.date(2025, 12, 25) not in sessions
    assert all(d.weekday() < 5 for d in sessions)


def test_market_factor_makes_betas_meaningful():
    idx = demo.adjust_for_splits_and_dividends(demo.demo_ohlcv(demo.DEMO_BENCHMARK))["adj_close"].pct_change()
    for company in (demo.COMPANIES_BY_TICKER["DYNQ"], demo.COMPANIES_BY_TICKER["ELQX"]):
        r = demo.adjust_for_splits_and_dividends(demo.demo_ohlcv(company.ticker))["adj_close"].pct_change()
        frame = pd.concat([r, idx], axis=1).dropna()
        beta = np.cov(frame.iloc[:, 0], frame.iloc[:, 1])[0, 1] / frame.iloc[:, 1].var()
        assert beta == pytest.approx(company.beta, abs=0.1)


def test_split_is_invisible_in_adjusted_prices():
    raw = demo.demo_ohlcv("BLZQ")
    adj = demo.adjust_for_splits_and_dividends(raw)
    i = int(np.flatnonzero(raw["split_ratio"] == 2.0)[0])
    assert raw["close"].iloc[i - 1] / raw["close"].iloc[i] > 1.8  # raw halves on the split day
    assert 0.8 < adj["close"].iloc[i - 1] / adj["close"].iloc[i] < 1.25


def test_transport_serves_only_what_was_published_by_now():
    now = dt.datetime(2025, 7, 7, 15, 0, tzinfo=dt.UTC)  # Monday before the close
    client = httpx.Client(transport=demo.DemoTransport(now=now))
    chart = client.get(
        "https://query1.finance.yahoo.com/v8/finance/chart/ACMQ", params={"period1": 0, "period2": 2**31}
    ).json()
    last = pd.Timestamp(chart["chart"]["result"][0]["timestamp"][-1], unit="s", tz="UTC").tz_convert("America/New_York")
    assert last.date() == dt.date(2025, 7, 3)  # the 4th is a holiday, the 7th not closed yet
    subs = client.get("https://data.sec.gov/submissions/CIK0009900001.json").json()
    assert max(subs["filings"]["recent"]["filingDate"]) <= "2025-07-07"
    assert client.get("https://data.sec.gov/submissions/CIK0000320193.json").status_code == 404


def test_feed_dates_are_formatted_as_email_utils_formats_them():
    from email.utils import format_datetime

    instants = pd.Series(
        pd.to_datetime(["2025-06-02 20:30:00", "2024-02-29 00:00:59", "2016-01-03 09:05:00"]).tz_localize("UTC")
    ).dt.tz_convert("America/New_York")
    assert demo.rfc822_utc(instants) == [format_datetime(t.tz_convert("UTC").to_pydatetime()) for t in instants]
    until = dt.datetime(2026, 6, 11, 22, tzinfo=dt.UTC)
    feed = demo.yahoo_rss_xml("ACMQ", until)
    heads = demo.demo_headlines("ACMQ")
    newest = heads[heads["published"] <= pd.Timestamp(until)].iloc[-1]
    assert f"<pubDate>{format_datetime(newest['published'].tz_convert('UTC').to_pydatetime())}</pubDate>" in feed
