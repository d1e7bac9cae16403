"""Flaky and dead sources: 20 % injected faults cost retries, never rows; a source that stays down opens
its circuit, fails its own assets with a clear error, and the other sources carry on.

The full 20 tickers x 24 months backfill under faults is in benchmarks/bench_reliability.py (it takes
minutes); the test runs the same 20 tickers over one month through the same CLI.
"""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from finance_assets.defs.market.source import PriceSource
from finance_assets.defs.sec.source import SecEdgarSource
from finance_assets.demo import source as demo
from finance_assets.lib import coverage
from finance_assets.lib.http import RetriesExhausted, SourceUnavailable
from finance_assets.lib.limiter import SourceLimiter
from finance_assets.lib.warehouse import Warehouse
from finance_assets_tests.fault_injection import fault_env

from .conftest import (
    MARKET_ASSETS,
    OLD_NOW,
    SEC_ASSETS,
    TWENTY_TICKERS,
    adjusted_closes,
    base_env,
    cli,
    expected_adjusted_closes,
    http_stats_per_run,
    materialized,
    sessions_between,
    write_portfolio,
)


def _held(wh: Warehouse, asset: str) -> set[tuple[str, str]]:
    """(month, ticker) pairs a month-partitioned asset holds (lib/coverage.py)."""
    rows = coverage.read(wh, asset)
    return set(zip(rows["month"], rows["ticker"]))


FIRST, LAST = "2025-02-01", "2025-02-28"
MONTHS = ["2025-02-01"]
FAULT_KINDS = {"500", "503", "429", "timeout", "reset", "truncated"}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_20_tickers_backfill_through_20_percent_faults_loses_and_duplicates_nothing(isolated_home, instance):
    data = isolated_home / "data"
    write_portfolio(data, TWENTY_TICKERS)
    # filing documents of 2025-01 to mid-March 2025 (the clock) only: the suite's 2016 history start would
    # fetch ten years of them and the machine's clock two more; February is complete by mid-March
    env = base_env(**fault_env(fault_rate=0.2), FINANCE_ASSETS_HISTORY_START="2025-01-01", FINANCE_ASSETS_AS_OF=OLD_NOW)
    registered = cli(["register"], env)
    assert registered.returncode == 0, registered.stderr
    tickers = [*TWENTY_TICKERS, demo.DEMO_BENCHMARK]
    assert len(tickers) == 20

    # SEC's 10 requests/s pace: the ticker map, each ticker's submissions and facts and its documents of
    # 2025 to mid-March, plus retries
    run = cli(["backfill", "--start", FIRST[:7], "--end", LAST[:7], "--executor", "in_process"], env, timeout=540)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    # 0 missing partitions, per asset, against the exact expected key sets: each month materialized and
    # holding every ticker (its coverage rows)
    wh = Warehouse(data / "warehouse")
    for asset in MARKET_ASSETS:
        assert materialized(instance, asset) == set(MONTHS), asset
        assert _held(wh, asset) == set(itertools.product(MONTHS, tickers)), asset
    for asset in SEC_ASSETS:
        assert materialized(instance, asset) == set(tickers), asset
    assert materialized(instance, "market_panel") == set(MONTHS)
    weekdays = {d.strftime("%Y-%m-%d") for d in pd.bdate_range(FIRST, LAST)}
    assert materialized(instance, "portfolio_report") == weekdays

    # 0 duplicate rows, and every price equal to what the source served without faults
    prices = wh.read("prices")
    sessions = sessions_between(FIRST, LAST)
    assert len(prices) == 20 * len(sessions)
    assert not prices.duplicated(["ticker", "date"]).any()
    for ticker in tickers:
        expected = expected_adjusted_closes(ticker, FIRST, LAST, as_of=OLD_NOW)
        got = adjusted_closes(prices, ticker)
        assert list(got.index) == list(expected.index), ticker
        assert (got - expected).abs().max() < 1e-5, ticker  # the chart JSON carries 6 decimals
    for asset, key in (
        ("technicals", ["ticker", "date"]),
        ("sentiment", ["ticker", "date"]),
        ("headlines", ["ticker", "url"]),
        ("filings", ["ticker", "accession_number"]),
        ("market_panel", ["ticker", "date"]),
        ("portfolio_report", ["date"]),
    ):
        frame = wh.read(asset)
        assert len(frame) and not frame.duplicated(key).any(), asset
    assert len(wh.read("technicals")) == len(prices)

    # the retries are visible in the run metadata (read back from the instance's event log)
    statuses: dict[str, int] = {}
    retries = failures = 0
    for asset in ("prices", "headlines", "filings", "xbrl_facts", "ticker_cik_map"):
        for http in http_stats_per_run(instance, asset):
            retries += http["retries"]
            failures += http["failures"]
            for status, count in http["by_status"].items():
                statuses[status] = statuses.get(status, 0) + count
    assert retries > 0 and failures == 0
    assert retries == sum(n for status, n in statuses.items() if status in FAULT_KINDS)
    assert len(FAULT_KINDS & set(statuses)) >= 4, statuses  # several kinds of fault were met and survived


def _price_source(tmp_path, **fields) -> PriceSource:
    return PriceSource(
        mode="demo",
        cache_dir=str(tmp_path / "cache"),
        state_dir=str(tmp_path / "state"),
        demo_now="2025-06-30T22:00:00Z",
        **fields,
    )


def test_dead_provider_opens_its_circuit_and_prices_fall_back(tmp_path, monkeypatch):
    monkeypatch.setenv("FINANCE_ASSETS_HTTP_BACKOFF", "0.001")
    for name, value in fault_env(outage_hosts=["query1.finance.yahoo.com"]).items():
        monkeypatch.setenv(name, value)
    source = _price_source(tmp_path)
    # the circuit is under test here, not the providers' 2 requests/s (25 attempts would take 12 s)
    source.client.limiter = SourceLimiter(tmp_path / "fast", rates={"yahoo": [(1000, 1.0)], "stooq": [(1000, 1.0)]})
    start, end = pd.Timestamp("2025-03-01").date(), pd.Timestamp("2025-04-01").date()
    for ticker in TWENTY_TICKERS:
        bars = source.daily_bars(ticker, start, end)
        assert len(bars) == len(sessions_between("2025-03-01", "2025-03-31"))
        assert (bars["source"] == "stooq (demo)").all()
    yahoo = source.http_stats()["by_source"]["yahoo"]
    threshold = source.client.circuit_threshold
    attempts_per_call = source.client.max_retries + 1
    # the first `threshold` calls tried every attempt; after that the circuit answered at once
    assert yahoo["failures"] == len(TWENTY_TICKERS)
    assert yahoo["attempts"] == threshold * attempts_per_call
    assert yahoo["circuit_rejections"] == len(TWENTY_TICKERS) - threshold
    with pytest.raises(SourceUnavailable, match="source 'yahoo' is unavailable"):
        source.client.get("https://query1.finance.yahoo.com/v8/finance/chart/ACMQ", source="yahoo")


def test_sec_down_fails_with_an_error_naming_sec_and_then_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("FINANCE_ASSETS_HTTP_BACKOFF", "0.001")
    for name, value in fault_env(outage_hosts=["data.sec.gov", "www.sec.gov"]).items():
        monkeypatch.setenv(name, value)
    sec = SecEdgarSource(mode="demo", cache_dir=str(tmp_path / "cache"), state_dir=str(tmp_path / "state"))
    threshold = sec.client.circuit_threshold
    for _ in range(threshold):
        with pytest.raises(
            RetriesExhausted, match=r"\(source 'sec'\) failed after 5 attempts; last error: connect_error"
        ):
            sec.companyfacts(9900001)
    with pytest.raises(SourceUnavailable, match="source 'sec' is unavailable"):
        sec.submissions(9900001)
    stats = sec.http_stats()["by_source"]["sec"]
    assert stats["attempts"] == threshold * 5 and stats["circuit_rejections"] == 1

    # prices have their own sources and circuits: unaffected
    prices = _price_source(tmp_path)
    bars = prices.daily_bars("ACMQ", pd.Timestamp("2025-03-01").date(), pd.Timestamp("2025-04-01").date())
    assert (bars["source"] == "yahoo (demo)").all()


@pytest.mark.slow
def test_sec_and_yahoo_down_through_the_cli_market_and_report_carry_on(isolated_home, instance):
    data = isolated_home / "data"
    write_portfolio(data, ["ACMQ", "BLZQ"])
    env = base_env(**fault_env(outage_hosts=["www.sec.gov", "data.sec.gov", "query1.finance.yahoo.com"]))
    assert cli(["register"], env).returncode == 0
    run = cli(["backfill", "--start", "2025-03", "--end", "2025-03", "--executor", "in_process"], env)

    assert run.returncode == 2
    assert "FAILED: ticker_cik_map, sec ACMQ..DEMOIDX" in run.stdout
    # the error names the dead source and why, not just "error occurred while executing op"
    assert (
        "step failed: ticker_cik_map: finance_assets.lib.http.RetriesExhausted: GET "
        "https://www.sec.gov/files/company_tickers_exchange.json (source 'sec') failed after 5 attempts; "
        "last error: connect_error"
    ) in run.stdout
    assert "input 'ticker_cik_map' has never been materialized" in run.stdout
    for asset in SEC_ASSETS:
        assert materialized(instance, asset) == set(), asset

    tickers = ["ACMQ", "BLZQ", demo.DEMO_BENCHMARK]
    wh = Warehouse(data / "warehouse")
    for asset in MARKET_ASSETS:
        assert materialized(instance, asset) == {"2025-03-01"}, asset
        assert _held(wh, asset) == {("2025-03-01", t) for t in tickers}, asset
    prices = wh.read("prices")
    assert (prices["source"] == "stooq (demo)").all()  # Yahoo down: the next provider served every ticker
    assert len(prices) == 3 * len(sessions_between("2025-03-01", "2025-03-31"))
    assert materialized(instance, "portfolio_report") == {
        d.strftime("%Y-%m-%d") for d in pd.bdate_range("2025-03-01", "2025-03-31")
    }
