"""FINANCE_ASSETS_DEMO_RATES: per-source request rates for the offline demo; live mode keeps its limits."""

from __future__ import annotations

import pytest

from finance_assets.defs.news.source import NewsSource
from finance_assets.defs.sec.source import SecEdgarSource
from finance_assets.lib.config import Settings, SettingsError


def _source(cls, tmp_path, mode: str = "demo", **fields):
    return cls(
        mode=mode,
        cache_dir=str(tmp_path / "cache"),
        state_dir=str(tmp_path / "state"),
        as_of="2025-03-03T16:00:00Z",
        **fields,
    )


def test_unset_the_demo_waits_like_live(tmp_path, monkeypatch):
    monkeypatch.delenv("FINANCE_ASSETS_DEMO_RATES", raising=False)
    sec = _source(SecEdgarSource, tmp_path)
    assert sec.client.limiter.rates_for("sec") == ((10, 1.0),)
    assert sec.client.limiter.rates_for("yahoo") == ((2, 1.0),)
    sec.teardown_after_execution(None)


def test_named_sources_and_the_wildcard_set_demo_rates(tmp_path, monkeypatch):
    monkeypatch.setenv("FINANCE_ASSETS_DEMO_RATES", "sec=200, *=50")
    sec = _source(SecEdgarSource, tmp_path)
    limiter = sec.client.limiter
    assert limiter.rates_for("sec") == ((200, 1.0),)
    assert limiter.rates_for("yahoo") == ((50, 1.0),)
    assert limiter.rates_for("alphavantage") == ((50, 1.0),)  # its minute and day caps replaced too
    news = _source(NewsSource, tmp_path)
    assert news.client.limiter.rates_for("finnhub") == ((50, 1.0),)  # a source's own rates as well
    for source in (sec, news):
        source.teardown_after_execution(None)


def test_live_mode_ignores_it(tmp_path, monkeypatch):
    monkeypatch.setenv("FINANCE_ASSETS_DEMO_RATES", "*=1000")
    monkeypatch.setenv("FINANCE_ASSETS_TRANSPORT", "demo")  # live code path, answered offline
    sec = _source(SecEdgarSource, tmp_path, mode="live", user_agent="Example Corp admin@example.com")
    assert sec.client.limiter.rates_for("sec") == ((10, 1.0),)
    assert sec.client.limiter.rates_for("yahoo") == ((2, 1.0),)
    sec.teardown_after_execution(None)


@pytest.mark.parametrize("value", ["sec", "sec=0", "sec=fast", "SEC=10", "sec=10/1", "sec=10;yahoo=2"])
def test_a_bad_value_is_one_line(value):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"FINANCE_ASSETS_DEMO_RATES": value})
    message = str(caught.value)
    assert "\n" not in message and "FINANCE_ASSETS_DEMO_RATES" in message and "source=requests per second" in message


def test_parsed_values():
    assert Settings.from_env({}).demo_rates == ()
    parsed = Settings.from_env({"FINANCE_ASSETS_DEMO_RATES": "sec=200,yahoo=50,"}).demo_rates
    assert parsed == (("sec", 200), ("yahoo", 50))
