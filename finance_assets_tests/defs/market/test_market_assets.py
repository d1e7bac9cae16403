"""prices and technicals as Dagster assets: month range runs (every registered ticker, or those the run's tickers
tag names), partition boundaries, checks."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.defs.market import assets as market
from finance_assets.defs.market.source import PriceSource
from finance_assets.lib import coverage
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.partitions import TICKER, tickers_tag
from finance_assets.lib.warehouse import Warehouse

NOW = "2025-07-15T22:00:00+00:00"


def _resources(root) -> dict:
    return {
        "io_manager": ParquetWarehouseIOManager(base_path=str(root / "wh")),
        "prices_source": PriceSource(
            mode="demo", cache_dir=str(root / "cache"), state_dir=str(root / "state"), demo_now=NOW
        ),
    }


def _run(assets, instance, resources, start: str, end: str, selection=None, tickers=None) -> dg.ExecuteInProcessResult:
    """A month range run, for every registered ticker or only `tickers` (the run's tickers tag)."""
    tags = {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}
    return dg.materialize(
        assets,
        instance=instance,
        resources=resources,
        selection=selection,
        tags={**tags, **(tickers_tag(tickers) if tickers else {})},
    )


def _actions(instance, resources, tickers=("ACMQ", "BLZQ")) -> None:
    """The tickers' corporate actions, which prices read (the version each ticker's adjusted prices reflect)."""
    tags = {ASSET_PARTITION_RANGE_START_TAG: tickers[0], ASSET_PARTITION_RANGE_END_TAG: tickers[-1]}
    assert dg.materialize([market.corporate_actions], instance=instance, resources=resources, tags=tags).success


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        inst.add_dynamic_partitions(TICKER, ["ACMQ", "BLZQ"])
        yield inst


def test_technicals_partition_by_partition_equal_one_run(tmp_path, instance):
    assets = [market.corporate_actions, market.prices, market.technicals]
    # one run: prices 2022-07..2025-06, technicals for 2024-07..2025-06 in one range
    whole = _resources(tmp_path / "whole")
    _actions(instance, whole)
    assert _run(assets, instance, whole, "2022-07-01", "2025-06-01", ["prices"]).success
    assert _run(assets, instance, whole, "2024-07-01", "2025-06-01", ["technicals"]).success
    # the same technicals one month at a time, each reading only its own 24-month look-back
    parts = _resources(tmp_path / "parts")
    _actions(instance, parts)
    assert _run(assets, instance, parts, "2022-07-01", "2025-06-01", ["prices"]).success
    for month in pd.date_range("2024-07-01", "2025-06-01", freq="MS").strftime("%Y-%m-01"):
        assert _run(assets, instance, parts, month, month, ["technicals"]).success

    a = Warehouse(tmp_path / "whole" / "wh").read("technicals").sort_values(["ticker", "date"]).reset_index(drop=True)
    b = Warehouse(tmp_path / "parts" / "wh").read("technicals").sort_values(["ticker", "date"]).reset_index(drop=True)
    assert len(a) == len(b) == 2 * 250  # two tickers, Jul 2024 - Jun 2025 sessions
    # untagged runs processed every registered ticker, and each month says so
    months = pd.date_range("2024-07-01", "2025-06-01", freq="MS").strftime("%Y-%m-01")
    for root in ("whole", "parts"):
        held = coverage.read(Warehouse(tmp_path / root / "wh"), "technicals")
        assert sorted(zip(held["month"], held["ticker"])) == [(m, t) for m in months for t in ("ACMQ", "BLZQ")]
    for col in market.TECHNICALS_COLUMNS:
        np.testing.assert_allclose(a[col], b[col], rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=col)
    assert (
        a[list(market.TECHNICALS_COLUMNS)].notna().all().all()
    )  # the look-back (whole history from 2022-07) covers every warm-up

    # The long view answers a screen like "RSI < 30 and price above SMA 200" (demo data: RSI < 45).
    wh = Warehouse(tmp_path / "whole" / "wh")
    assert {"technicals", "prices"} <= set(wh.refresh_catalog())
    screen = """
        SELECT r.date, r.ticker FROM technicals_long r
        JOIN technicals_long s ON s.date = r.date AND s.ticker = r.ticker AND s.indicator = 'sma_200'
        JOIN prices p ON p.date = r.date AND p.ticker = r.ticker
        WHERE r.indicator = 'rsi_14' AND r.value < 45 AND p.adj_close > s.value ORDER BY r.ticker, r.date
    """
    con = wh.connect()
    try:
        found = con.execute(screen).df()
        long_rows = con.execute("SELECT count(*) FROM technicals_long").fetchone()[0]
    finally:
        con.close()
    closes = wh.read("prices")[["date", "ticker", "adj_close"]]
    merged = a.merge(closes.assign(date=closes["date"].astype(a["date"].dtype)), on=["date", "ticker"])
    expected = merged[(merged["rsi_14"] < 45) & (merged["adj_close"] > merged["sma_200"])]
    assert len(expected) > 0
    assert list(zip(found["ticker"], pd.to_datetime(found["date"]))) == list(
        zip(expected["ticker"], pd.to_datetime(expected["date"]))
    )
    assert long_rows == int(a[list(market.TECHNICALS_COLUMNS)].notna().sum().sum())


def test_technicals_metadata_names_the_indicators_and_plots_the_latest_month(tmp_path, instance):
    assets = [market.corporate_actions, market.prices, market.technicals]
    resources = _resources(tmp_path)
    _actions(instance, resources, ["ACMQ"])
    assert _run(assets, instance, resources, "2024-01-01", "2025-06-01", ["prices"], tickers=["ACMQ"]).success
    result = _run(assets, instance, resources, "2025-06-01", "2025-06-01", ["technicals"], tickers=["ACMQ"])
    (materialization,) = result.asset_materializations_for_node("technicals")
    metadata = materialization.metadata
    assert metadata["indicator_set"].value == market.TECHNICALS_CODE_VERSION
    assert "STOCH(fastk_period=14, slowk_period=3, slowk_matype=0" in metadata["indicators"].value
    chart = metadata["latest_month_chart"].value
    assert "ACMQ" in chart and "2025-06-02 .. 2025-06-30" in chart and "rsi_14" in chart
    # the runs tagged ACMQ wrote ACMQ alone: BLZQ, registered too, has no files and no coverage rows
    wh = Warehouse(tmp_path / "wh")
    assert coverage.stored_tickers(wh, "prices") == coverage.stored_tickers(wh, "technicals") == ["ACMQ"]
    assert set(wh.read("prices")["ticker"]) == set(wh.read("technicals")["ticker"]) == {"ACMQ"}
    held = coverage.read(wh, "technicals")
    assert list(zip(held["month"], held["ticker"])) == [("2025-06-01", "ACMQ")]


def test_price_checks_run_per_partition_and_pass_on_demo(tmp_path, instance):
    resources = _resources(tmp_path)
    _actions(instance, resources, ["ACMQ"])
    result = _run(
        [market.corporate_actions, market.prices, market.prices_are_sane, market.prices_cover_every_session],
        instance,
        resources,
        "2025-05-01",
        "2025-06-01",
        dg.AssetSelection.assets(market.prices),  # and its checks, not the corporate actions already stored
        tickers=["ACMQ"],
    )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {"prices_are_sane", "prices_cover_every_session"}
    assert all(e.passed for e in evaluations)


def test_missing_session_is_reported_and_holidays_are_not():
    sessions = pd.bdate_range("2025-07-01", "2025-07-31")
    bars = pd.DataFrame({"ticker": "ACMQ", "date": [d.date() for d in sessions if d != pd.Timestamp("2025-07-04")]})
    now = pd.Timestamp("2025-08-05", tz="UTC")
    assert market.missing_sessions(bars, now) == {}  # July 4th is a holiday, not a gap
    gap = bars[bars["date"] != dt.date(2025, 7, 15)]
    assert market.missing_sessions(gap, now) == {"ACMQ": ["2025-07-15"]}
    # the open month counts only closed sessions
    assert (
        market.missing_sessions(bars[bars["date"] <= dt.date(2025, 7, 10)], pd.Timestamp("2025-07-10T21:00", tz="UTC"))
        == {}
    )


def test_missing_sessions_defaults_to_the_one_clock(monkeypatch):
    """Without an explicit now, the check's cut-off is FINANCE_ASSETS_AS_OF, not the machine clock."""
    sessions = pd.bdate_range("2025-07-01", "2025-07-31")
    bars = pd.DataFrame({"ticker": "ACMQ", "date": [d.date() for d in sessions if d <= pd.Timestamp("2025-07-10")]})
    monkeypatch.setenv("FINANCE_ASSETS_AS_OF", "2025-07-10T18:00")
    assert market.missing_sessions(bars) == {}  # as of 07-10 the month is complete so far
    monkeypatch.setenv("FINANCE_ASSETS_AS_OF", "2025-07-16T18:00")
    assert market.missing_sessions(bars) == {"ACMQ": ["2025-07-11", "2025-07-14", "2025-07-15", "2025-07-16"]}
