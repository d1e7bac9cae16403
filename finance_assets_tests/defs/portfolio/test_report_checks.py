"""The checks on portfolio_report's own figures (defs/portfolio/checks.py): each passes on a consistent
report and fails on a crafted bad one, read back from the warehouse as in a real run (one day and a range).

A stand-in multi-asset stores the crafted `portfolio_report` / `portfolio_holdings` rows through the real
IO manager; `market_panel` and `fx_rates` are written to the warehouse directly, so the risk-window check
sees a known history.
"""

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.defs.portfolio import checks
from finance_assets.defs.portfolio.holdings import RISK_WINDOW_DAYS
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.partitions import report_day_partitions
from finance_assets.lib.warehouse import Warehouse

DAYS = ["2025-03-28", "2025-03-31"]
LONG_HISTORY = pd.bdate_range("2024-01-02", "2025-03-31")  # > 253 sessions before either day
SHORT_HISTORY = pd.bdate_range("2025-03-03", "2025-03-31")  # 20 sessions up to 03-28, 21 up to 03-31
CHECK_NAMES = {
    "portfolio_weights_sum_to_one",
    "portfolio_value_is_sum_of_holdings",
    "portfolio_drawdown_never_positive",
    "portfolio_risk_window_as_documented",
}


def _holdings(days=DAYS) -> pd.DataFrame:
    rows = []
    for day in days:
        rows += [
            {
                "date": day,
                "ticker": "ACMQ",
                "currency": "USD",
                "market_value": 10_000.0,
                "cost": 5_000.0,
                "weight": 0.4,
            },
            {
                "date": day,
                "ticker": "BLZQ",
                "currency": "EUR",
                "market_value": 15_000.0,
                "cost": 6_000.0,
                "weight": 0.6,
            },
        ]
    return pd.DataFrame(rows).assign(date=lambda f: pd.to_datetime(f["date"]))


def _report(observations: list[int], days=DAYS) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.to_datetime(days),
            "base_currency": "USD",
            "holdings": 2,
            "holdings_unpriced": 0,
            "total_value": 25_000.0,
            "total_cost": 11_000.0,
            "observations": observations,
            "max_drawdown": -0.1,
        }
    )


def _write_history(root, sessions: pd.DatetimeIndex, fx_from: str | None = None) -> None:
    wh = Warehouse(root)
    panel = pd.DataFrame(
        [{"date": d, "ticker": t, "adj_close": 100.0, "close": 100.0} for d in sessions for t in ("ACMQ", "BLZQ")]
    )
    for month, part in panel.groupby(panel["date"].dt.strftime("%Y-%m")):
        wh.write("market_panel", {"month": month}, part.reset_index(drop=True))
    fx_days = sessions[sessions >= pd.Timestamp(fx_from)] if fx_from else sessions
    fx = pd.DataFrame({"date": fx_days, "currency": "USD", "per_eur": 1.08})
    for month, part in fx.groupby(fx["date"].dt.strftime("%Y-%m")):
        wh.write("fx_rates", {"month": month}, part.reset_index(drop=True))


def _run(root, report: pd.DataFrame, holdings: pd.DataFrame, days=DAYS) -> dict[str, dg.AssetCheckEvaluation]:
    """Store the crafted rows as `portfolio_report` / `portfolio_holdings` (a range run for several days)
    and evaluate the four checks in the same run, as the report job does."""

    @dg.multi_asset(
        partitions_def=report_day_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        outs={"portfolio_report": dg.AssetOut(), "portfolio_holdings": dg.AssetOut()},
    )
    def crafted_report(context: dg.AssetExecutionContext):
        keys = set(context.partition_keys)
        yield dg.Output(report[report["date"].dt.strftime("%Y-%m-%d").isin(keys)], output_name="portfolio_report")
        yield dg.Output(holdings[holdings["date"].dt.strftime("%Y-%m-%d").isin(keys)], output_name="portfolio_holdings")

    launch = (
        {"partition_key": days[0]}
        if len(days) == 1
        else {"tags": {ASSET_PARTITION_RANGE_START_TAG: days[0], ASSET_PARTITION_RANGE_END_TAG: days[-1]}}
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [crafted_report, *checks.PORTFOLIO_CHECKS],
            instance=instance,
            resources={"io_manager": ParquetWarehouseIOManager(base_path=str(root))},
            **launch,
        )
        assert result.success
        return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.fixture
def warehouse(tmp_path):
    _write_history(tmp_path, LONG_HISTORY)
    return tmp_path


def _failing(evaluations: dict[str, dg.AssetCheckEvaluation]) -> set[str]:
    assert set(evaluations) == CHECK_NAMES
    return {name for name, e in evaluations.items() if not e.passed}


def test_a_consistent_report_passes_every_check_in_a_range_run(warehouse):
    evaluations = _run(warehouse, _report([RISK_WINDOW_DAYS] * 2), _holdings())
    assert _failing(evaluations) == set()
    assert evaluations["portfolio_risk_window_as_documented"].metadata["days_checked"].value == 2


def test_a_consistent_day_passes_every_check_when_launched_alone(warehouse):
    day = [DAYS[-1]]
    evaluations = _run(warehouse, _report([RISK_WINDOW_DAYS], day), _holdings(day), day)
    assert _failing(evaluations) == set()
    assert {e.partition for e in evaluations.values()} == {DAYS[-1]}


def test_a_crafted_bad_report_fails_each_check_on_its_own_bad_day(warehouse):
    """One bad figure per check, each on one day of the range: every check fails and names that day only."""
    holdings = _holdings(DAYS + ["2025-04-01", "2025-04-02"])
    holdings.loc[(holdings["date"] == "2025-03-28") & (holdings["ticker"] == "BLZQ"), "weight"] = 0.5
    report = _report([RISK_WINDOW_DAYS, RISK_WINDOW_DAYS, RISK_WINDOW_DAYS, 28], holdings["date"].unique())
    report.loc[1, "total_value"] += 0.01  # 2025-03-31
    report.loc[2, "max_drawdown"] = 0.02  # 2025-04-01: a drawdown above the peak
    # 2025-04-02: 28 returns instead of 252, the #16 bug (a day alone read about two months)
    _write_history(warehouse, pd.bdate_range("2025-04-01", "2025-04-02"))
    evaluations = _run(warehouse, report, holdings, ["2025-03-28", "2025-04-02"])
    assert _failing(evaluations) == CHECK_NAMES
    bad_day = {
        "portfolio_weights_sum_to_one": "2025-03-28",
        "portfolio_value_is_sum_of_holdings": "2025-03-31",
        "portfolio_drawdown_never_positive": "2025-04-01",
        "portfolio_risk_window_as_documented": "2025-04-02",
    }
    for name, day in bad_day.items():
        metadata = evaluations[name].metadata
        assert metadata["days_checked"].value == 4 and metadata["days_failing"].value == 1, name
        assert day in metadata["examples"].value, (name, metadata["examples"].value)


def test_a_short_history_expects_every_return_it_holds(tmp_path):
    _write_history(tmp_path, SHORT_HISTORY)
    assert _failing(_run(tmp_path, _report([19, 20]), _holdings())) == set()
    expected = checks.available_returns(_holdings(), *_short_history_frames(), "USD")
    assert checks.window_problems(_report([19, 20]), expected).empty
    wrong = checks.window_problems(_report([RISK_WINDOW_DAYS, 20]), expected)
    assert wrong[["observations", "expected"]].values.tolist() == [[RISK_WINDOW_DAYS, 19]]


def _short_history_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    closes = pd.DataFrame([{"date": d, "ticker": t} for d in SHORT_HISTORY for t in ("ACMQ", "BLZQ")])
    return closes, pd.DataFrame({"date": SHORT_HISTORY, "currency": "USD"})


# ----------------------------------------------------------------------------- the pure halves


def test_history_starts_when_every_held_ticker_and_rate_is_there():
    holdings = _holdings(["2025-03-31"])
    closes = pd.DataFrame(
        [{"date": d, "ticker": "ACMQ"} for d in SHORT_HISTORY]
        + [{"date": d, "ticker": "BLZQ"} for d in SHORT_HISTORY[5:]]  # BLZQ from the 6th session
    )
    rates = pd.DataFrame({"date": SHORT_HISTORY[8:], "currency": "USD"})  # USD per EUR from the 9th
    usd_only = holdings[holdings["ticker"] == "ACMQ"]
    assert checks.available_returns(usd_only, closes, rates.iloc[:0], "USD")["history_returns"].tolist() == [20]
    every_day = pd.DataFrame({"date": SHORT_HISTORY, "currency": "USD"})
    assert checks.available_returns(holdings, closes, every_day, "USD")["history_returns"].tolist() == [15]
    assert checks.available_returns(holdings, closes, rates, "USD")["history_returns"].tolist() == [12]
    assert checks.available_returns(holdings, closes, rates.iloc[:0], "USD")["history_returns"].tolist() == [0]
    # a ticker without any close by the day is not in the value history (the report leaves it unpriced)
    late = closes[~((closes["ticker"] == "BLZQ") & (closes["date"] <= "2025-03-31"))]
    assert checks.available_returns(holdings, late, rates, "USD")["history_returns"].tolist() == [20]


def test_drawdown_may_be_missing_only_without_returns():
    report = _report([0, 5]).assign(max_drawdown=[np.nan, np.nan])
    assert checks.drawdown_problems(report)["date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-03-31"]
    assert checks.drawdown_problems(report.assign(max_drawdown=[np.nan, -1.5]))["max_drawdown"].tolist() == [-1.5]


def test_unpriced_holdings_and_zero_totals():
    holdings = _holdings(["2025-03-31"])
    holdings.loc[1, ["market_value", "weight"]] = np.nan  # BLZQ unpriced: ACMQ alone weighs 1
    assert len(checks.weights_problems(holdings)) == 1  # 0.4 alone
    assert checks.weights_problems(holdings.assign(weight=[1.0, np.nan])).empty
    report = _report([5], ["2025-03-31"]).assign(total_value=10_000.0, total_cost=5_000.0, holdings_unpriced=1)
    assert checks.totals_problems(report, holdings).empty
    assert len(checks.totals_problems(report.assign(holdings_unpriced=0), holdings)) == 1
    nothing = holdings.assign(market_value=np.nan, weight=np.nan)
    assert checks.weights_problems(nothing).empty  # no priced holding: no weights to check
