"""The demo source as of T: a pure function of its seed and T, nothing dated after T, and the recent
corporate actions (a split, a reverse split, dividends) and a price correction, each from the day known."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import httpx
import pandas as pd
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.defs.market import prices as pp
from finance_assets.demo import source as demo


def _at(day: str, hour: int = 18) -> dt.datetime:
    return pd.Timestamp(f"{day} {hour:02d}:00", tz="America/New_York").to_pydatetime()


def _chart(ticker: str, now: dt.datetime) -> tuple[bytes, pd.DataFrame]:
    with httpx.Client(transport=demo.DemoTransport(now=now)) as client:
        response = client.get(
            f"https://query1.finance.yahoo.com/v8/finance/chart/{ticker}",
            params={"period1": 1735689600, "period2": 2**31 - 1, "interval": "1d", "events": "div,splits"},
        )
    return response.content, pp.parse_yahoo_chart(response.content).set_index("date")


def test_same_seed_and_clock_give_the_same_bytes():
    now = _at("2026-04-15")
    assert _chart("ACMQ", now)[0] == _chart("ACMQ", now)[0]
    demo.adjusted_bars_as_of.cache_clear()
    demo.demo_ohlcv.cache_clear()
    assert _chart("HVQX", now)[0] == _chart("HVQX", now)[0]


def test_split_reaches_history_only_from_its_ex_date():
    ex = dt.date(2026, 3, 16)
    _, before = _chart("ELQX", _at("2026-03-13"))
    _, after = _chart("ELQX", _at("2026-03-16"))
    assert before.index.max() == dt.date(2026, 3, 13) and (before["split_ratio"] == 1.0).all()
    assert after.loc[ex, "split_ratio"] == 3.0
    day = dt.date(2026, 3, 2)
    assert after.loc[day, "close"] == pytest.approx(before.loc[day, "close"] / 3, rel=1e-6)


def test_reverse_split_is_one_for_four():
    _, bars = _chart("HVQX", _at("2026-04-10"))
    assert bars.loc[dt.date(2026, 4, 6), "split_ratio"] == 0.25
    raw = demo.demo_ohlcv("HVQX").set_index("date")
    assert raw.loc[dt.date(2026, 4, 2), "close"] * 4 == pytest.approx(bars.loc[dt.date(2026, 4, 2), "close"], rel=1e-6)


def test_dividend_adjusts_earlier_closes_only_once_known():
    ex = dt.date(2026, 5, 1)
    _, before = _chart("CRXQ", _at("2026-04-30"))
    _, after = _chart("CRXQ", _at("2026-05-01"))
    assert ex not in before.index and after.loc[ex, "dividend"] > 0
    day = dt.date(2026, 4, 1)
    assert before.loc[day, "adj_close"] > after.loc[day, "adj_close"]
    assert before.loc[day, "close"] == after.loc[day, "close"]


def test_correction_changes_a_published_bar_from_the_day_it_is_known():
    fix = demo.DEMO_CORRECTIONS[0]
    _, first = _chart(fix.ticker, _at("2026-04-16"))
    _, corrected = _chart(fix.ticker, _at(str(fix.corrected_on)))
    assert first.loc[fix.day, "close"] == pytest.approx(corrected.loc[fix.day, "close"] * fix.factor, rel=1e-6)
    other = dt.date(2026, 4, 13)
    assert first.loc[other, "close"] == corrected.loc[other, "close"]


def test_a_build_as_of_t_reads_nothing_dated_after_t(tmp_path, monkeypatch):
    """corporate actions, prices and FX rates through the real assets and resources: the transports record
    the latest date they served, and none is after the clock's New York day."""
    from finance_assets.definitions import build_resources
    from finance_assets.defs.market import assets as market
    from finance_assets.defs.market import fx_assets
    from finance_assets.lib import sources
    from finance_assets.lib.config import Settings
    from finance_assets.lib.partitions import TICKER

    transports: list[demo.DemoTransport] = []

    class Recording(demo.DemoTransport):
        def __init__(self, now=None):
            super().__init__(now)
            transports.append(self)

    monkeypatch.setattr(sources, "DemoTransport", Recording)
    settings = Settings.from_env({"FINANCE_ASSETS_HOME": str(tmp_path), "FINANCE_ASSETS_AS_OF": "2026-04-15T12:00"})
    resources = build_resources(settings)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, ["ACMQ", "CRXQ"])
        # the tickers' corporate actions first: prices read the version of each ticker's actions they reflect
        actions = dg.materialize(
            [market.corporate_actions],
            instance=instance,
            resources=resources,
            tags={ASSET_PARTITION_RANGE_START_TAG: "ACMQ", ASSET_PARTITION_RANGE_END_TAG: "CRXQ"},
        )
        assert actions.success
        # one month range run for every registered ticker
        result = dg.materialize(
            [market.corporate_actions, market.prices],
            selection=[market.prices],
            instance=instance,
            resources=resources,
            tags={ASSET_PARTITION_RANGE_START_TAG: "2026-03-01", ASSET_PARTITION_RANGE_END_TAG: "2026-04-01"},
        )
        assert result.success
        price_days = [t.latest_served for t in transports if t.latest_served is not None]
        fx = dg.materialize([fx_assets.fx_rates], instance=instance, resources=resources, partition_key="2026-04-01")
        assert fx.success
    served = [t.latest_served for t in transports if t.latest_served is not None]
    # 12:00 New York on the 15th: the 14th is the last closed session; the ECB fixed the 15th's rates
    # at 14:15 UTC (before the clock), so FX may hold the 15th, nothing later
    assert price_days and max(price_days) == dt.date(2026, 4, 14)
    assert max(served) == dt.date(2026, 4, 15)
    assert fx.output_for_node("fx_rates")["date"].astype(str).max() <= "2026-04-15"
    prices = result.output_for_node("prices")
    assert prices["date"].max() == dt.date(2026, 4, 14)
    assert set(prices["ticker"]) == {"ACMQ", "CRXQ"}
    known = actions.output_for_node("corporate_actions")
    assert known.empty or pd.to_datetime(known["known_at"]).max() <= pd.Timestamp(
        "2026-04-15T12:00", tz="America/New_York"
    )
