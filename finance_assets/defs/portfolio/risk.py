"""Risk and performance figures for a series of daily simple returns (pure numpy/pandas).

Definitions follow the standard references so figures can be checked against them:
empyrical (empyrical-reloaded) for volatility, historical VaR/CVaR, beta, Sharpe, Sortino and
drawdowns; quantstats for parametric (Gaussian) VaR.

Conventions shared by every function:
* Input is a pandas Series (or array-like) of simple per-period returns, 0.01 = +1 %.
* NaN returns are dropped before computing, as the references do (empyrical uses nan-aware
  reductions; for cumulative figures it treats NaN as a 0 return, which gives the same values at
  the remaining dates).
* VaR and CVaR are reported as *returns*, so a loss is negative (-0.02 = a 2 % one-day loss),
  exactly like empyrical and quantstats.
* Too little data gives NaN, never an exception: volatility, Sharpe and Sortino need 2 returns,
  the rest 1. A ratio whose denominator is zero (all returns equal, or no downside at all) is
  undefined and returned as NaN. empyrical returns +/-inf there when the numerator is non-zero;
  NaN keeps infinities out of stored reports and aggregates.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

TRADING_DAYS_PER_YEAR = 252
# empyrical treats a benchmark variance below this as zero (beta undefined).
MIN_BENCHMARK_VARIANCE = 1.0e-30


def _clean(returns: pd.Series | np.ndarray | list) -> pd.Series:
    """Returns as a float Series without NaN."""
    series = returns if isinstance(returns, pd.Series) else pd.Series(returns)
    return series.astype("float64").dropna()


def _tail_probability(level: float) -> float:
    """1 - level, rounded so 0.95 gives exactly 0.05 (the references take the cutoff itself).

    Unrounded, 1 - 0.95 = 0.05000000000000004 can move CVaR's integer tail size by one.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    return round(1.0 - level, 12)


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is zero or undefined."""
    if not np.isfinite(denominator) or denominator == 0.0:
        return float("nan")
    return float(numerator / denominator)


def cumulative_returns(returns: pd.Series) -> pd.Series:
    """Compounded return since the start at each date: prod(1 + r) - 1 (empyrical ``cum_returns``)."""
    clean = _clean(returns)
    return (1.0 + clean).cumprod() - 1.0


def drawdown_series(returns: pd.Series) -> pd.Series:
    """Fall from the running peak of wealth at each date, <= 0 (empyrical ``drawdown_series``).

    Wealth starts at 1 before the first return, so a loss on day one is already a drawdown.
    """
    wealth = 1.0 + cumulative_returns(returns)
    peak = np.maximum(wealth.cummax(), 1.0)
    return wealth / peak - 1.0


def max_drawdown(returns: pd.Series) -> float:
    """Deepest peak-to-trough fall, <= 0 (empyrical ``max_drawdown``); NaN when empty."""
    drawdowns = drawdown_series(returns)
    return float(drawdowns.min()) if len(drawdowns) else float("nan")


def annualized_volatility(returns: pd.Series, periods: int = TRADING_DAYS_PER_YEAR) -> float:
    """Sample standard deviation (ddof=1) x sqrt(periods) (empyrical ``annual_volatility``)."""
    clean = _clean(returns)
    if len(clean) < 2:
        return float("nan")
    return float(clean.std(ddof=1) * np.sqrt(periods))


def var_historical(returns: pd.Series, level: float = 0.95) -> float:
    """Historical VaR: the (1 - level) percentile of returns, linear interpolation.

    Same as empyrical ``value_at_risk(returns, cutoff=1 - level)``; negative = loss.
    """
    tail = _tail_probability(level)
    clean = _clean(returns)
    if clean.empty:
        return float("nan")
    return float(np.percentile(clean.to_numpy(), 100.0 * tail))


def cvar_historical(returns: pd.Series, level: float = 0.95) -> float:
    """Historical CVaR (expected shortfall): mean of the worst int((n - 1)(1 - level)) + 1 returns.

    Same tail size as empyrical ``conditional_value_at_risk(returns, cutoff=1 - level)``;
    negative = loss, and always <= the historical VaR.
    """
    tail = _tail_probability(level)
    clean = _clean(returns).to_numpy()
    if clean.size == 0:
        return float("nan")
    tail_size = int((clean.size - 1) * tail) + 1
    return float(np.sort(clean)[:tail_size].mean())


def var_parametric(returns: pd.Series, level: float = 0.95, sigma: float = 1.0) -> float:
    """Gaussian VaR: mean + z(1 - level) x sigma x std (ddof=1), i.e. mean - z(level) x std.

    Same as quantstats ``value_at_risk(returns, sigma=1, confidence=level)``; negative = loss.
    """
    tail = _tail_probability(level)
    clean = _clean(returns)
    if len(clean) < 2:
        return float("nan")
    return float(NormalDist().inv_cdf(tail) * sigma * clean.std(ddof=1) + clean.mean())


def beta(returns: pd.Series, benchmark: pd.Series) -> float:
    """Cov(r, b) / Var(b) over the dates both have (empyrical ``beta``, risk_free=0).

    Series are aligned on their index; NaN in either drops that date. NaN with fewer than 2
    common dates or a constant benchmark.
    """
    pair = pd.concat([_as_series(returns), _as_series(benchmark)], axis=1, join="inner").astype("float64").dropna()
    if len(pair) < 2:
        return float("nan")
    asset, bench = pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy()
    bench_residual = bench - bench.mean()
    variance = np.mean(bench_residual**2)
    if variance < MIN_BENCHMARK_VARIANCE:
        return float("nan")
    return float(np.mean(bench_residual * asset) / variance)


def _as_series(values: pd.Series | np.ndarray | list) -> pd.Series:
    return values if isinstance(values, pd.Series) else pd.Series(values)


def sharpe(returns: pd.Series, risk_free: float = 0.0, periods: int = TRADING_DAYS_PER_YEAR) -> float:
    """mean(r - rf) / std(r - rf, ddof=1) x sqrt(periods) (empyrical ``sharpe_ratio``).

    `risk_free` is a per-period (daily) rate, as in empyrical. NaN when all returns are equal.
    """
    excess = _clean(returns) - risk_free
    if len(excess) < 2 or excess.max() == excess.min():
        return float("nan")
    return _ratio(excess.mean(), excess.std(ddof=1)) * float(np.sqrt(periods))


def downside_risk(returns: pd.Series, required_return: float = 0.0, periods: int = TRADING_DAYS_PER_YEAR) -> float:
    """sqrt(mean(min(r - required, 0)^2)) x sqrt(periods) (empyrical ``downside_risk``)."""
    shortfall = np.minimum(_clean(returns) - required_return, 0.0)
    if shortfall.empty:
        return float("nan")
    return float(np.sqrt(np.mean(shortfall**2)) * np.sqrt(periods))


def sortino(returns: pd.Series, required_return: float = 0.0, periods: int = TRADING_DAYS_PER_YEAR) -> float:
    """mean(r - required) x periods / downside_risk (empyrical ``sortino_ratio``).

    `required_return` is per period (daily). NaN when no return falls below it.
    """
    excess = _clean(returns) - required_return
    if len(excess) < 2:
        return float("nan")
    return _ratio(excess.mean() * periods, downside_risk(returns, required_return, periods))


def period_returns(values: pd.Series, day: pd.Timestamp | None = None) -> dict[str, float]:
    """Day, month-to-date and year-to-date return of a value series indexed by date.

    Each compares the last value with the last value before the period began (the previous
    session, the last session of the previous month / year). When the series starts inside the
    period, the first value is the base instead (return since the first observation).
    `day`: the report day (values after it are ignored). When the series has no value dated that
    day (an exchange holiday), there is no day return (NaN, not the previous session's again), and
    the month and year are the day's own (so on a holiday that opens a month, MTD is 0).
    """
    clean = values.astype("float64").dropna()
    clean.index = pd.DatetimeIndex(clean.index)
    clean = clean.sort_index()
    if day is not None:
        clean = clean[clean.index <= pd.Timestamp(day)]
    if clean.empty:
        return {"day": float("nan"), "mtd": float("nan"), "ytd": float("nan")}
    last_date, last_value = clean.index[-1], float(clean.iloc[-1])
    session = day is None or last_date.normalize() == pd.Timestamp(day).normalize()
    month_start = (last_date if day is None else pd.Timestamp(day)).normalize().replace(day=1)
    year_start = month_start.replace(month=1)
    return {
        "day": last_value / float(clean.iloc[-2]) - 1.0 if len(clean) > 1 and session else float("nan"),
        "mtd": last_value / _base_value(clean, month_start) - 1.0,
        "ytd": last_value / _base_value(clean, year_start) - 1.0,
    }


def _base_value(values: pd.Series, period_start: pd.Timestamp) -> float:
    before = values[values.index < period_start]
    return float(before.iloc[-1] if len(before) else values.iloc[0])


def _normalized_weights(weights: pd.Series | np.ndarray | list) -> np.ndarray:
    array = np.asarray(weights, dtype="float64")
    array = array[~np.isnan(array)]
    if (array < 0).any():
        raise ValueError("weights must be non-negative (long-only concentration)")
    total = array.sum()
    return array / total if total > 0 else np.array([])


def herfindahl(weights: pd.Series | np.ndarray | list) -> float:
    """Herfindahl-Hirschman index sum(w_i^2) of weights rescaled to sum to 1: 1/n (equal) .. 1.

    NaN weights are ignored; NaN when nothing is held.
    """
    shares = _normalized_weights(weights)
    return float(np.sum(shares**2)) if shares.size else float("nan")


def effective_holdings(weights: pd.Series | np.ndarray | list) -> float:
    """1 / HHI: the number of equal-weight holdings with the same concentration."""
    return 1.0 / herfindahl(weights)


def risk_summary(
    returns: pd.Series,
    benchmark_returns: pd.Series | None = None,
    risk_free: float = 0.0,
    periods: int = TRADING_DAYS_PER_YEAR,
) -> dict[str, float]:
    """All figures for one return series; keys match the report's fields.

    `risk_free` is per period and is also Sortino's required return. Beta is NaN without a
    benchmark.
    """
    return {
        "annualized_volatility": annualized_volatility(returns, periods),
        "var_hist_95": var_historical(returns, 0.95),
        "var_hist_99": var_historical(returns, 0.99),
        "var_param_95": var_parametric(returns, 0.95),
        "var_param_99": var_parametric(returns, 0.99),
        "cvar_95": cvar_historical(returns, 0.95),
        "cvar_99": cvar_historical(returns, 0.99),
        "beta": beta(returns, benchmark_returns) if benchmark_returns is not None else float("nan"),
        "sharpe": sharpe(returns, risk_free, periods),
        "sortino": sortino(returns, risk_free, periods),
        "max_drawdown": max_drawdown(returns),
        "cumulative_return": float(cumulative_returns(returns).iloc[-1]) if len(_clean(returns)) else float("nan"),
    }
