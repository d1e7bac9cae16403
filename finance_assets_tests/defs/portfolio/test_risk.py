"""Risk figures against empyrical / quantstats on the same returns (to 1e-9), hand formulas and edge cases."""

from __future__ import annotations

import math
import statistics
import warnings

import numpy as np
import pandas as pd
import pytest

from finance_assets.defs.portfolio import risk

REL_TOL = 1e-9
REPORT_FIELDS = [
    "annualized_volatility",
    "var_hist_95",
    "var_hist_99",
    "var_param_95",
    "var_param_99",
    "cvar_95",
    "cvar_99",
    "beta",
    "sharpe",
    "sortino",
    "max_drawdown",
]
Z_95 = 1.6448536269514722  # standard normal quantile at 0.95 (statistical tables)


def assert_close(ours: float, reference: float) -> None:
    assert math.isclose(ours, reference, rel_tol=REL_TOL, abs_tol=1e-12), (ours, reference)


def synthetic_returns(seed: int = 7, n: int = 1500) -> tuple[pd.Series, pd.Series]:
    """Fat-tailed benchmark returns and a correlated asset with a few NaN days."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2018-01-02", periods=n)
    benchmark = pd.Series(rng.standard_t(4, n) * 0.008, index=dates)
    asset = 0.0004 + 1.3 * benchmark + rng.normal(0.0, 0.012, n)
    asset.iloc[[3, n // 4, n // 4 + 1, 2 * n // 3]] = np.nan
    return asset, benchmark


def real_returns(realdata) -> tuple[pd.Series, pd.Series]:
    """MSFT close-to-close returns 2013-2023 vs the S&P 500 index (^GSPC) over the same dates."""
    msft = pd.read_csv(realdata / "prices" / "MSFT_2013-2023_yf_ohlcv.csv", parse_dates=["Date"], index_col="Date")
    gspc = pd.read_csv(realdata / "prices" / "GSPC_2005-2025_yf.csv", parse_dates=["date"], index_col="date")
    asset = msft["Close"].pct_change().iloc[1:]
    benchmark = gspc["close"].pct_change().loc[asset.index.min() : asset.index.max()]
    return asset, benchmark


@pytest.fixture(params=["synthetic", "real_msft_vs_gspc"])
def returns_pair(request) -> tuple[pd.Series, pd.Series]:
    if request.param == "synthetic":
        return synthetic_returns()
    return real_returns(request.getfixturevalue("realdata"))


@pytest.fixture(scope="module")
def empyrical():
    return pytest.importorskip("empyrical")


@pytest.fixture(scope="module")
def quantstats():
    return pytest.importorskip("quantstats")


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize("risk_free", [0.0, 0.0002])
def test_matches_empyrical(returns_pair, empyrical, risk_free):
    asset, benchmark = returns_pair
    observed = asset.dropna()
    assert len(observed) > 1000
    assert_close(risk.annualized_volatility(asset), empyrical.annual_volatility(asset))
    assert_close(risk.sharpe(asset, risk_free), empyrical.sharpe_ratio(asset, risk_free=risk_free))
    assert_close(risk.sortino(asset, risk_free), empyrical.sortino_ratio(asset, required_return=risk_free))
    assert_close(risk.beta(asset, benchmark), empyrical.beta(asset, benchmark))
    assert_close(risk.max_drawdown(asset), empyrical.max_drawdown(asset))
    for level in (0.95, 0.99):
        # empyrical's value_at_risk is np.percentile, which does not skip NaN: give it the observed days.
        assert_close(risk.var_historical(asset, level), empyrical.value_at_risk(observed, cutoff=round(1 - level, 2)))
        assert_close(
            risk.cvar_historical(asset, level), empyrical.conditional_value_at_risk(asset, cutoff=round(1 - level, 2))
        )


def test_series_match_empyrical_on_observed_days(returns_pair, empyrical):
    asset, _ = returns_pair
    observed = asset.dropna().index
    ours_drawdown, ours_cumulative = risk.drawdown_series(asset), risk.cumulative_returns(asset)
    assert ours_drawdown.index.equals(observed) and ours_cumulative.index.equals(observed)
    np.testing.assert_allclose(
        ours_drawdown, empyrical.stats.drawdown_series(asset).loc[observed], rtol=REL_TOL, atol=1e-12
    )
    np.testing.assert_allclose(ours_cumulative, empyrical.cum_returns(asset).loc[observed], rtol=REL_TOL, atol=1e-12)


def test_matches_quantstats(returns_pair, quantstats):
    asset, _ = returns_pair
    for level in (0.95, 0.99):
        assert_close(
            risk.var_parametric(asset, level), quantstats.stats.value_at_risk(asset, sigma=1, confidence=level)
        )
    assert_close(risk.annualized_volatility(asset), quantstats.stats.volatility(asset))
    assert_close(risk.sharpe(asset), quantstats.stats.sharpe(asset))
    assert_close(risk.sortino(asset), quantstats.stats.sortino(asset))
    assert_close(risk.max_drawdown(asset), quantstats.stats.max_drawdown(asset))


# --------------------------------------------------------------------------- hand formulas


def test_sharpe_and_volatility_by_hand():
    returns = [0.01, -0.02, 0.015, 0.003, -0.004, 0.02, -0.011]
    daily_rf = 0.0001
    excess = [r - daily_rf for r in returns]
    expected_sharpe = statistics.mean(excess) / statistics.stdev(excess) * math.sqrt(252)
    assert_close(risk.sharpe(pd.Series(returns), risk_free=daily_rf), expected_sharpe)
    assert_close(risk.annualized_volatility(returns), statistics.stdev(returns) * math.sqrt(252))


def test_sortino_by_hand():
    returns = [0.01, -0.02, 0.015, 0.003, -0.004]
    downside = math.sqrt(((-0.02) ** 2 + (-0.004) ** 2) / 5) * math.sqrt(252)
    assert_close(risk.downside_risk(returns), downside)
    assert_close(risk.sortino(returns), statistics.mean(returns) * 252 / downside)


def test_beta_by_hand():
    asset, benchmark = synthetic_returns(seed=3, n=300)
    both = pd.concat([asset, benchmark], axis=1).dropna()
    expected = np.cov(both.iloc[:, 0], both.iloc[:, 1])[0, 1] / np.var(both.iloc[:, 1], ddof=1)
    assert_close(risk.beta(asset, benchmark), expected)
    assert 1.1 < risk.beta(asset, benchmark) < 1.5  # the generating slope is 1.3


def test_historical_var_and_cvar_by_hand():
    returns = pd.Series(np.arange(1, 101) / 1000.0).sample(frac=1.0, random_state=1)  # order must not matter
    # 5th percentile of 100 points: position 99 * 0.05 = 4.95 between the 5th and 6th smallest.
    assert_close(risk.var_historical(returns, 0.95), 0.005 + 0.95 * 0.001)
    assert_close(risk.cvar_historical(returns, 0.95), (0.001 + 0.002 + 0.003 + 0.004 + 0.005) / 5)  # int(99*.05)+1
    assert_close(risk.cvar_historical(returns, 0.99), 0.001)
    assert risk.cvar_historical(returns, 0.95) <= risk.var_historical(returns, 0.95)


def test_cvar_tail_size_is_not_shifted_by_float_rounding(empyrical):
    # In floats 1 - 0.9 = 0.09999999999999998, and int(10 * that) would be 0, not 1.
    returns = pd.Series([0.05, -0.04, 0.01, 0.02, -0.01, 0.03, 0.0, -0.02, 0.015, 0.025, 0.005])
    assert_close(risk.cvar_historical(returns, 0.90), (-0.04 - 0.02) / 2)
    assert_close(risk.cvar_historical(returns, 0.90), empyrical.conditional_value_at_risk(returns, cutoff=0.1))


def test_parametric_var_by_hand():
    returns = [0.01, -0.02, 0.015, 0.003, -0.004, 0.02, -0.011]
    expected = statistics.mean(returns) - Z_95 * statistics.stdev(returns)
    assert_close(risk.var_parametric(returns, 0.95), expected)
    assert risk.var_parametric(returns, 0.99) < risk.var_parametric(returns, 0.95) < 0  # a loss is negative


def test_drawdowns_by_hand():
    prices = pd.Series([100.0, 120.0, 90.0, 130.0, 117.0])
    returns = prices.pct_change().dropna()
    expected = [0.0, 90 / 120 - 1, 0.0, 117 / 130 - 1]
    np.testing.assert_allclose(risk.drawdown_series(returns).to_numpy(), expected, rtol=1e-12, atol=1e-15)
    assert_close(risk.max_drawdown(returns), -0.25)
    assert_close(risk.cumulative_returns(returns).iloc[-1], 0.17)
    assert_close(risk.max_drawdown([-0.1, 0.05]), -0.1)  # a first-day loss counts from the starting value


def test_period_returns_by_hand():
    values = pd.Series(
        {"2023-12-28": 90.0, "2023-12-29": 100.0, "2024-01-31": 110.0, "2024-02-01": 105.0, "2024-02-02": 115.5}
    )
    out = risk.period_returns(values.sample(frac=1.0, random_state=2))  # sorted internally
    assert_close(out["day"], 115.5 / 105.0 - 1)
    assert_close(out["mtd"], 115.5 / 110.0 - 1)  # base: last value of January
    assert_close(out["ytd"], 115.5 / 100.0 - 1)  # base: last value of 2023


def test_period_returns_start_inside_period_uses_first_value():
    values = pd.Series([50.0, 55.0, 60.0], index=pd.to_datetime(["2024-03-04", "2024-03-05", "2024-03-06"]))
    out = risk.period_returns(values)
    assert_close(out["mtd"], 0.2)
    assert_close(out["ytd"], 0.2)
    assert all(math.isnan(v) for v in risk.period_returns(pd.Series([], dtype=float)).values())


def test_concentration():
    assert_close(risk.herfindahl([0.5, 0.25, 0.25]), 0.375)
    assert_close(risk.effective_holdings([0.5, 0.25, 0.25]), 1 / 0.375)
    assert_close(risk.effective_holdings(pd.Series([3.0] * 8)), 8.0)  # rescaled: raw values need not sum to 1
    assert_close(risk.herfindahl([1.0, np.nan]), 1.0)
    assert math.isnan(risk.herfindahl([]))
    with pytest.raises(ValueError, match="non-negative"):
        risk.herfindahl([0.7, -0.2, 0.5])


# --------------------------------------------------------------------------- edge cases


def test_empty_series_gives_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = risk.risk_summary(pd.Series([], dtype=float), pd.Series([], dtype=float))
    assert set(REPORT_FIELDS) <= set(summary)
    assert all(math.isnan(value) for value in summary.values())
    assert risk.drawdown_series(pd.Series([], dtype=float)).empty


def test_all_zero_returns_give_nan_ratios_not_inf():
    asset, benchmark = synthetic_returns(n=50)
    zeros = pd.Series(0.0, index=benchmark.index)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = risk.risk_summary(zeros, benchmark)
    assert math.isnan(summary["sharpe"]) and math.isnan(summary["sortino"])
    for field in ("annualized_volatility", "var_hist_95", "cvar_99", "var_param_95", "max_drawdown", "beta"):
        assert summary[field] == 0.0, field
    assert math.isnan(risk.beta(asset, zeros))  # constant benchmark: beta undefined


def test_constant_or_all_positive_returns_give_nan_not_inf():
    assert math.isnan(risk.sharpe([0.001] * 30))  # empyrical: +inf; documented deviation
    assert math.isnan(risk.sortino([0.001, 0.002, 0.003]))  # no downside at all
    assert not math.isnan(risk.sharpe([0.001, 0.002, 0.003]))


def test_single_return():
    assert math.isnan(risk.annualized_volatility([0.01]))
    assert math.isnan(risk.sharpe([0.01])) and math.isnan(risk.var_parametric([0.01]))
    assert risk.var_historical([-0.03]) == -0.03 and risk.cvar_historical([-0.03]) == -0.03
    assert_close(risk.max_drawdown([-0.03]), -0.03)


def test_nans_are_dropped():
    asset, benchmark = synthetic_returns()
    assert asset.isna().sum() == 4
    with_nan = risk.risk_summary(asset, benchmark, risk_free=0.0001)
    without_nan = risk.risk_summary(asset.dropna(), benchmark, risk_free=0.0001)
    assert with_nan == pytest.approx(without_nan, rel=1e-15, abs=0.0)
    assert not any(math.isnan(value) for value in with_nan.values())


def test_beta_aligns_on_dates():
    asset, benchmark = synthetic_returns(n=400)
    expected = risk.beta(asset, benchmark)
    extra_days = pd.Series(0.5, index=pd.bdate_range("2030-01-01", periods=20))
    shuffled = pd.concat([benchmark, extra_days]).sample(frac=1.0, random_state=5)
    assert_close(risk.beta(asset, shuffled), expected)
    assert math.isnan(risk.beta(asset, pd.Series([0.01], index=asset.index[:1])))


def test_array_input_and_level_validation():
    asset, _ = synthetic_returns(n=200)
    assert_close(risk.sharpe(asset.to_numpy()), risk.sharpe(asset))
    assert_close(risk.var_historical(list(asset), 0.99), risk.var_historical(asset, 0.99))
    for bad_level in (0.0, 1.0, 95):
        with pytest.raises(ValueError, match="confidence level"):
            risk.var_historical(asset, bad_level)


def test_risk_summary_is_the_single_figures():
    asset, benchmark = synthetic_returns()
    daily_rf = 0.0001
    summary = risk.risk_summary(asset, benchmark, risk_free=daily_rf)
    assert set(REPORT_FIELDS) <= set(summary)
    assert summary["sharpe"] == risk.sharpe(asset, daily_rf)
    assert summary["sortino"] == risk.sortino(asset, daily_rf)
    assert summary["var_param_99"] == risk.var_parametric(asset, 0.99)
    assert summary["cvar_95"] == risk.cvar_historical(asset, 0.95)
    assert summary["beta"] == risk.beta(asset, benchmark)
    assert summary["cumulative_return"] == risk.cumulative_returns(asset).iloc[-1]
    assert summary["var_hist_99"] < summary["var_hist_95"] < 0
    assert math.isnan(risk.risk_summary(asset, None)["beta"])
