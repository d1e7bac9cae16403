"""Tearsheet figures against quantstats and empyrical on the same returns (to 1e-9); where the
references use another convention, the stated relation between the two is tested instead."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from finance_assets.defs.portfolio import risk, tearsheet
from finance_assets_tests.defs.portfolio.test_risk import real_returns, synthetic_returns

REL_TOL = 1e-9


def close(ours: float, reference: float) -> None:
    assert math.isclose(float(ours), float(reference), rel_tol=REL_TOL, abs_tol=1e-12), (ours, reference)


@pytest.fixture(params=["synthetic", "real_msft_vs_gspc"])
def pair(request) -> tuple[pd.Series, pd.Series]:
    """Observed days only (quantstats does not skip NaN everywhere); benchmark on the same dates."""
    if request.param == "synthetic":
        asset, bench = synthetic_returns()
    else:
        asset, bench = real_returns(request.getfixturevalue("realdata"))
    both = pd.concat([asset, bench], axis=1, join="inner").dropna()
    return both.iloc[:, 0].rename("asset"), both.iloc[:, 1].rename("bench")


@pytest.fixture(scope="module")
def qs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("quantstats")


@pytest.fixture(scope="module")
def ep():
    return pytest.importorskip("empyrical")


def test_single_figures_match_quantstats(pair, qs):
    asset, bench = pair
    s = qs.stats
    close(tearsheet.total_return(asset), s.comp(asset))
    close(tearsheet.cagr(asset), s.cagr(asset))
    close(tearsheet.calmar(asset), s.calmar(asset))
    close(tearsheet.omega(asset), s.omega(asset))
    # Omega's threshold: ours is per day, quantstats' is annual and de-annualized as (1 + t)^(1/252) - 1.
    close(tearsheet.omega(asset, (1.03) ** (1 / 252) - 1), s.omega(asset, required_return=0.03))
    close(tearsheet.skew(asset), s.skew(asset))
    close(tearsheet.kurtosis(asset), s.kurtosis(asset))
    close(tearsheet.tail_ratio(asset), s.tail_ratio(asset))
    close(tearsheet.win_rate(asset), s.win_rate(asset))
    for level in (0.95, 0.99):
        close(tearsheet.es_gaussian(asset, level), s.expected_shortfall(asset, confidence=level))
        close(risk.var_parametric(asset, level), s.value_at_risk(asset, confidence=level))
        # quantstats' historical CVaR (mean of returns <= the interpolated quantile) has the same tail
        # as empyrical's int((n - 1)(1 - level)) + 1 worst returns.
        close(
            risk.cvar_historical(asset, level),
            s.conditional_value_at_risk(asset, confidence=level, method="historical"),
        )
    alpha, beta = tearsheet.alpha_beta(asset, bench)
    greeks = s.greeks(asset, bench)
    close(alpha, greeks["alpha"])
    close(beta, greeks["beta"])
    # Information ratio: quantstats reports it per day; ours is annualized by sqrt(252).
    close(tearsheet.information_ratio(asset, bench), s.information_ratio(asset, bench) * math.sqrt(252))


def test_best_and_worst_periods_match_quantstats(pair, qs):
    asset, _ = pair
    figures = tearsheet.best_worst(asset)
    for ours, aggregate in (("day", None), ("month", "eom"), ("year", "year")):
        close(figures[f"best_{ours}"], qs.stats.best(asset, aggregate=aggregate))
        close(figures[f"worst_{ours}"], qs.stats.worst(asset, aggregate=aggregate))


def test_single_figures_match_empyrical(pair, ep):
    asset, bench = pair
    close(tearsheet.cagr(asset), ep.annual_return(asset))
    close(tearsheet.calmar(asset), ep.calmar_ratio(asset))
    close(tearsheet.omega(asset), ep.omega_ratio(asset))
    close(tearsheet.tail_ratio(asset), ep.tail_ratio(asset))
    alpha, beta = tearsheet.alpha_beta(asset, bench)
    close(beta, ep.beta(asset, bench))
    # empyrical compounds the same daily intercept: (1 + alpha / 252)^252 - 1.
    close((1 + alpha / 252) ** 252 - 1, ep.alpha(asset, bench))
    close(tearsheet.information_ratio(asset, bench), ep.excess_sharpe(asset, bench) * math.sqrt(252))
    close(tearsheet.tracking_error(asset, bench), np.std(asset - bench, ddof=1) * math.sqrt(252))
    close(tearsheet.correlation(asset, bench), np.corrcoef(asset, bench)[0, 1])


def test_skew_and_kurtosis_relate_to_scipys_biased_default(pair):
    scipy_stats = pytest.importorskip("scipy.stats")
    asset, _ = pair
    n = len(asset)
    g1 = scipy_stats.skew(asset)  # bias=True
    close(tearsheet.skew(asset), g1 * math.sqrt(n * (n - 1)) / (n - 2))
    close(tearsheet.skew(asset), scipy_stats.skew(asset, bias=False))
    close(tearsheet.kurtosis(asset), scipy_stats.kurtosis(asset, bias=False))


def test_rolling_series_match_quantstats(pair, qs):
    asset, bench = pair
    window = tearsheet.ROLLING_WINDOW
    pairs = [
        (tearsheet.rolling_volatility(asset), qs.stats.rolling_volatility(asset, rolling_period=window)),
        (tearsheet.rolling_sharpe(asset), qs.stats.rolling_sharpe(asset, rolling_period=window)),
        (tearsheet.rolling_sortino(asset), qs.stats.rolling_sortino(asset, rolling_period=window)),
        (tearsheet.rolling_beta(asset, bench), qs.stats.rolling_greeks(asset, bench, periods=window)["beta"]),
    ]
    for ours, reference in pairs:
        assert len(ours) == len(asset) - window + 1
        np.testing.assert_allclose(ours, reference.loc[ours.index], rtol=REL_TOL, atol=1e-12)


def test_rolling_sharpe_with_a_risk_free_rate_matches_quantstats(pair, qs):
    asset, _ = pair
    rf_daily = 1.03 ** (1 / 252) - 1
    ours = tearsheet.rolling_sharpe(asset, rf_daily)
    reference = qs.stats.rolling_sharpe(asset, rf=0.03, rolling_period=tearsheet.ROLLING_WINDOW, periods_per_year=252)
    np.testing.assert_allclose(ours, reference.loc[ours.index], rtol=REL_TOL, atol=1e-12)


def test_calendar_tables_match_quantstats_and_empyrical(pair, qs, ep):
    asset, _ = pair
    table = tearsheet.monthly_returns_table(asset)
    reference = qs.stats.monthly_returns(asset)  # months without a session are 0 there, NaN here
    reference.columns = [str(c).title() for c in reference.columns]
    np.testing.assert_allclose(
        table[tearsheet.MONTHS].fillna(0.0).to_numpy(), reference[tearsheet.MONTHS].to_numpy(), rtol=REL_TOL, atol=1e-12
    )
    np.testing.assert_allclose(table["Year"], reference["Eoy"], rtol=REL_TOL, atol=1e-12)
    np.testing.assert_allclose(
        tearsheet.calendar_returns(asset, "Y"), ep.aggregate_returns(asset, "yearly"), rtol=REL_TOL, atol=1e-12
    )
    np.testing.assert_allclose(
        tearsheet.calendar_returns(asset, "M"), ep.aggregate_returns(asset, "monthly"), rtol=REL_TOL, atol=1e-12
    )


def test_drawdown_periods_match_quantstats(pair, qs):
    asset, _ = pair
    ours = tearsheet.drawdown_periods(asset)
    reference = qs.stats.drawdown_details(qs.stats.to_drawdown_series(asset))
    assert len(ours) == len(reference) >= 2
    reference = reference.assign(start=pd.to_datetime(reference["start"])).sort_values("start")
    mine = ours.sort_values("start").reset_index(drop=True)
    assert (mine["start"].to_numpy() == reference["start"].to_numpy()).all()
    assert (mine["trough"].dt.strftime("%Y-%m-%d").to_numpy() == reference["valley"].to_numpy()).all()
    assert (mine["end"].dt.strftime("%Y-%m-%d").to_numpy() == reference["end"].to_numpy()).all()
    assert (mine["days"].to_numpy() == reference["days"].to_numpy()).all()
    np.testing.assert_allclose(mine["depth"] * 100, reference["max drawdown"], rtol=REL_TOL, atol=1e-10)
    close(ours["depth"].iloc[0], risk.max_drawdown(asset))
    # recovery is the session after the period's last one, and there the drawdown is back to 0
    drawdown = risk.drawdown_series(asset)
    for row in ours.dropna(subset=["recovery"]).itertuples():
        assert drawdown.loc[row.recovery] == 0.0 and row.recovery > row.end


def test_drawdown_periods_by_hand():
    dates = pd.bdate_range("2025-01-06", periods=7)
    returns = pd.Series([0.1, -0.5, 0.5, 0.4, 0.0, -0.1, 0.05], index=dates)
    table = tearsheet.drawdown_periods(returns)
    # wealth 1.1, .55, .825, 1.155 (new peak), 1.155, 1.0395, 1.0915
    assert table["start"].tolist() == [dates[1], dates[5]]
    assert table["recovery"].iloc[0] == dates[3] and pd.isna(table["recovery"].iloc[1])
    close(table["depth"].iloc[0], 0.55 / 1.1 - 1)
    assert table["days"].tolist() == [2, 2]


def test_hand_figures():
    returns = pd.Series([0.02, -0.01, 0.0, 0.03, -0.02])
    close(tearsheet.win_rate(returns), 2 / 4)
    close(tearsheet.omega(returns), 0.05 / 0.03)
    close(tearsheet.cagr(returns, periods=5), np.prod(1 + returns) - 1)  # five returns = one "year"
    assert math.isnan(tearsheet.win_rate(pd.Series([0.0, 0.0])))
    assert math.isnan(tearsheet.omega(pd.Series([0.01, 0.02])))  # no loss: undefined, not inf
    assert math.isnan(tearsheet.cagr(pd.Series([-1.0, 0.1])))


def test_gaussian_expected_shortfall_is_beyond_gaussian_var():
    returns, _ = synthetic_returns()
    for level in (0.95, 0.99):
        assert tearsheet.es_gaussian(returns, level) < risk.var_parametric(returns, level) < 0


def _book(seed: int = 5, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2024-01-02", periods=n)
    common = rng.normal(0.0003, 0.01, n)
    returns = np.column_stack([common * b + rng.normal(0, s, n) for b, s in ((1.2, 0.01), (0.6, 0.02), (0.9, 0.005))])
    prices = 100 * np.cumprod(1 + returns, axis=0)
    shares = np.array([10.0, 40.0, 25.0])
    return pd.DataFrame(prices * shares, index=dates, columns=["AAA", "BBB", "CCC"])


def test_contributions_sum_to_the_portfolio_return_and_volatility():
    values = _book()
    result = tearsheet.contributions(values)
    portfolio = values.sum(axis=1)
    close(result.total_return, portfolio.iloc[-1] / portfolio.iloc[0] - 1)
    close(result.table["return_contribution"].sum(), result.total_return)
    close(result.table["weight"].sum(), 1.0)
    # Euler: the risk contributions add up to the volatility of today's weights ...
    close(result.table["risk_contribution"].sum(), result.volatility)
    close(result.table["risk_share"].sum(), 1.0)
    # ... which is the realized volatility of a portfolio rebalanced daily to those weights.
    weights = result.table["weight"].reindex(values.columns).to_numpy()
    constant_mix = values.pct_change().dropna() @ weights
    close(result.volatility, risk.annualized_volatility(constant_mix))
    # and the marginal contribution of each holding matches a finite difference of the volatility
    sigma = np.cov(values.pct_change().dropna().to_numpy(), rowvar=False)

    def vol(w):
        return math.sqrt(w @ sigma @ w * 252)

    for i, name in enumerate(values.columns):
        bumped = weights.copy()
        bumped[i] += 1e-6
        numeric = weights[i] * (vol(bumped) - vol(weights)) / 1e-6
        assert math.isclose(numeric, result.table.loc[name, "risk_contribution"], rel_tol=1e-4)


def test_contributions_by_sector_keep_the_sums():
    result = tearsheet.contributions(_book())
    sectors = result.by({"AAA": "Tech", "BBB": "Tech"})
    assert set(sectors.table.index) == {"Tech", "Unclassified"}
    close(sectors.table.loc["Tech", "weight"], result.table.loc[["AAA", "BBB"], "weight"].sum())
    close(sectors.table["risk_contribution"].sum(), result.volatility)
    close(sectors.table["return_contribution"].sum(), result.total_return)


def test_histogram_counts_every_return_once():
    asset, bench = synthetic_returns()
    edges, counts = tearsheet.histogram({"a": asset, "b": bench}, bins=30)
    assert len(edges) == 31
    assert counts["a"].sum() == asset.notna().sum() and counts["b"].sum() == len(bench)


def test_metrics_have_every_key_and_nan_for_relative_figures_without_benchmark():
    asset, bench = synthetic_returns()
    with_bench = tearsheet.metrics(asset, bench, risk_free=0.0001)
    assert set(with_bench) == {key for key, *_ in tearsheet.METRICS}
    assert all(np.isfinite(v) for v in with_bench.values())
    alone = tearsheet.metrics(asset)
    assert math.isnan(alone["beta"]) and math.isnan(alone["information_ratio"])
    close(with_bench["sharpe"], risk.sharpe(asset, 0.0001))
    empty = tearsheet.metrics(pd.Series(dtype=float))
    assert empty["observations"] == 0 and math.isnan(empty["cagr"])
