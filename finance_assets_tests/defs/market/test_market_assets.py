"""prices and technicals as Dagster assets: range runs, partition boundaries, checks."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.defs.market import assets as market
from finance_assets.defs.market import indicators
from finance_assets.defs.market.source import PriceSource
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.partitions import TICKER
from finance_assets.lib.warehouse import Warehouse

NOW = "2025-07-15T22:00:00+00:00"


def _resources(root) -> dict:
    return {
        "io_manager": ParquetWarehouseIOManager(base_path=str(root / "wh")),
        "prices_source": PriceSource(
            mode="demo", cache_dir=str(root / "cache"), state_dir=str(root / "state"), demo_now=NOW
        ),
    }


def _run(assets, instance, resources, start: str, end: str, selection=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets,
        instance=instance,
        resources=resources,
        selection=selection,
        tags={ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end},
    )


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        inst.add_dynamic_partitions(TICKER, ["ACMQ", "BLZQ"])
        yield inst


def test_technicals_partition_by_partition_equal_one_run(tmp_path, instance):
    assets = [market.prices, market.technicals]
    # one run: prices 2022-07..2025-06, technicals for 2024-07..2025-06 in one range
    whole = _resources(tmp_path / "whole")
    assert _run(assets, instance, whole, "2022-07-01|ACMQ", "2025-06-01|BLZQ", ["prices"]).success
    assert _run(assets, instance, whole, "2024-07-01|ACMQ", "2025-06-01|BLZQ", ["technicals"]).success
    # the same technicals one month at a time, each reading only its own 24-month look-back
    parts = _resources(tmp_path / "parts")
    assert _run(assets, instance, parts, "2022-07-01|ACMQ", "2025-06-01|BLZQ", ["prices"]).success
    for month in pd.date_range("2024-07-01", "2025-06-01", freq="MS").strftime("%Y-%m-01"):
        assert _run(assets, instance, parts, f"{month}|ACMQ", f"{month}|BLZQ", ["technicals"]).success

    a = Warehouse(tmp_path / "whole" / "wh").read("technicals").sort_values(["ticker", "date"]).reset_index(drop=True)
    b = Warehouse(tmp_path / "parts" / "wh").read("technicals").sort_values(["ticker", "date"]).reset_index(drop=True)
    assert len(a) == len(b) == 2 * 250  # two tickers, Jul 2024 - Jun 2025 sessions
    for col in indicators.TECHNICAL_COLUMNS:
        np.testing.assert_allclose(a[col], b[col], rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=col)
    assert a[list(indicators.TECHNICAL_COLUMNS)].notna().all().all()  # 24 months of look-back cover every warm-up


def test_price_checks_run_per_partition_and_pass_on_demo(tmp_path, instance):
    result = _run(
        [market.prices, market.prices_are_sane, market.prices_cover_every_session],
        instance,
        _resources(tmp_path),
        "2025-05-01|ACMQ",
        "2025-06-01|ACMQ",
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
