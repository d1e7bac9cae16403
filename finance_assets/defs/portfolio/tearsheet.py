"""Tearsheet figures for a daily simple-return series (pure numpy/pandas, no Dagster).

Each function follows a reference so it can be checked: quantstats (`qs.stats.*`) or empyrical
(empyrical-reloaded). Where the two references disagree the choice is named in the docstring and in
docs/report.md. Conventions are those of `risk`: simple returns, NaN dropped, 252 sessions a year,
too little data gives NaN (never an exception, never +/-inf).

Estimators are named by what they are: `*_historical` (empirical distribution of the window's
returns) or `*_gaussian` (parametric, normal distribution with the window's mean and sample std).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from finance_assets.defs.portfolio import risk

PERIODS = risk.TRADING_DAYS_PER_YEAR
ROLLING_WINDOW = 126  # six months of sessions, as quantstats' tearsheet
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

_clean = risk._clean
_ratio = risk._ratio


def _dated(returns: pd.Series) -> pd.Series:
    clean = _clean(returns)
    clean.index = pd.DatetimeIndex(clean.index)
    return clean.sort_index()


def _paired(returns: pd.Series, benchmark: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    pair = pd.concat([_dated(returns), _dated(benchmark)], axis=1, join="inner").dropna()
    return pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy()


# --------------------------------------------------------------------------- single figures


def total_return(returns: pd.Series) -> float:
    """prod(1 + r) - 1 over the window; NaN when empty."""
    clean = _clean(returns)
    return float(np.prod(1.0 + clean.to_numpy()) - 1.0) if len(clean) else float("nan")


def cagr(returns: pd.Series, periods: int = PERIODS) -> float:
    """(prod(1 + r))^(periods / n) - 1, n = number of returns (empyrical ``annual_return``,
    quantstats ``cagr``: both count years as sessions / 252, not calendar days).
    NaN when empty or when wealth fell to zero or below."""
    clean = _clean(returns)
    if clean.empty:
        return float("nan")
    wealth = float(np.prod(1.0 + clean.to_numpy()))
    return wealth ** (periods / len(clean)) - 1.0 if wealth > 0 else float("nan")


def calmar(returns: pd.Series, periods: int = PERIODS) -> float:
    """CAGR / |max drawdown| (empyrical ``calmar_ratio``, quantstats ``calmar``); NaN without a drawdown."""
    return _ratio(cagr(returns, periods), abs(risk.max_drawdown(returns)))


def omega(returns: pd.Series, threshold: float = 0.0) -> float:
    """sum(max(r - t, 0)) / sum(max(t - r, 0)) with `t` a per-period threshold (empyrical
    ``omega_ratio``; quantstats ``omega`` with required_return = (1 + t)^252 - 1). NaN with no loss."""
    excess = _clean(returns).to_numpy() - threshold
    if excess.size < 2:
        return float("nan")
    return _ratio(excess[excess > 0].sum(), -excess[excess < 0].sum())


def skew(returns: pd.Series) -> float:
    """Adjusted Fisher-Pearson sample skewness G1 (pandas ``skew``, quantstats ``skew``); needs 3 returns.
    scipy.stats.skew's default (bias=True) is the unadjusted g1 = G1 x (n - 2) / sqrt(n (n - 1))."""
    clean = _clean(returns)
    return float(clean.skew()) if len(clean) >= 3 else float("nan")


def kurtosis(returns: pd.Series) -> float:
    """Excess kurtosis G2, bias-adjusted (pandas ``kurt``, quantstats ``kurtosis``): 0 for a normal
    distribution; needs 4 returns. scipy.stats.kurtosis's default (bias=True) is the unadjusted g2."""
    clean = _clean(returns)
    return float(clean.kurt()) if len(clean) >= 4 else float("nan")


def tail_ratio(returns: pd.Series, cutoff: float = 0.95) -> float:
    """|95th percentile| / |5th percentile| of returns, linear interpolation (empyrical ``tail_ratio``,
    quantstats ``tail_ratio``). Above 1: right tail (gains) fatter than the left (losses)."""
    clean = _clean(returns).to_numpy()
    if clean.size == 0:
        return float("nan")
    upper, lower = np.percentile(clean, 100 * cutoff), np.percentile(clean, 100 * (1 - cutoff))
    return _ratio(abs(upper), abs(lower))


def win_rate(returns: pd.Series) -> float:
    """Share of non-zero returns that are positive (quantstats ``win_rate``). NaN when every return is
    zero (quantstats returns 0.0 there)."""
    clean = _clean(returns).to_numpy()
    nonzero = clean[clean != 0]
    return float((nonzero > 0).sum() / nonzero.size) if nonzero.size else float("nan")


def calendar_returns(returns: pd.Series, freq: str) -> pd.Series:
    """Compounded return per calendar month ('M') or year ('Y'), indexed by the period's last session
    date; the first and last periods are partial when the window starts or ends inside them
    (empyrical ``aggregate_returns``, quantstats ``aggregate_returns(..., 'eom' / 'year')``)."""
    clean = _dated(returns)
    if clean.empty:
        return pd.Series(dtype="float64")
    keys = [clean.index.year] if freq == "Y" else [clean.index.year, clean.index.month]
    grouped = (1.0 + clean).groupby(keys)
    out = grouped.prod() - 1.0
    out.index = pd.DatetimeIndex(grouped.apply(lambda g: g.index[-1]).to_numpy())
    return out


def best_worst(returns: pd.Series) -> dict[str, float]:
    """Best and worst day, calendar month and calendar year (compounded; partial periods included)."""
    daily = _clean(returns)
    out = {}
    for name, series in (
        ("day", daily),
        ("month", calendar_returns(returns, "M")),
        ("year", calendar_returns(returns, "Y")),
    ):
        out[f"best_{name}"] = float(series.max()) if len(series) else float("nan")
        out[f"worst_{name}"] = float(series.min()) if len(series) else float("nan")
    return out


def alpha_beta(returns: pd.Series, benchmark: pd.Series, periods: int = PERIODS) -> tuple[float, float]:
    """(alpha, beta) of the regression r = alpha_d + beta x b over the common dates, risk-free 0.

    beta = Cov(r, b) / Var(b); alpha = periods x mean(r - beta x b), the daily intercept annualized
    arithmetically (quantstats ``greeks``). empyrical's ``alpha`` compounds the same daily intercept:
    (1 + alpha / periods)^periods - 1.
    """
    asset, bench = _paired(returns, benchmark)
    if asset.size < 2:
        return float("nan"), float("nan")
    b = risk.beta(pd.Series(asset), pd.Series(bench))
    if not np.isfinite(b):
        return float("nan"), float("nan")
    return float(periods * np.mean(asset - b * bench)), b


def tracking_error(returns: pd.Series, benchmark: pd.Series, periods: int = PERIODS) -> float:
    """std(r - b, ddof=1) x sqrt(periods) over the common dates."""
    asset, bench = _paired(returns, benchmark)
    if asset.size < 2:
        return float("nan")
    return float(np.std(asset - bench, ddof=1) * np.sqrt(periods))


def information_ratio(returns: pd.Series, benchmark: pd.Series, periods: int = PERIODS) -> float:
    """mean(r - b) / std(r - b, ddof=1) x sqrt(periods): annualized. quantstats ``information_ratio``
    and empyrical ``excess_sharpe`` report the same ratio unannualized (divide by sqrt(252))."""
    asset, bench = _paired(returns, benchmark)
    if asset.size < 2:
        return float("nan")
    active = asset - bench
    if active.max() == active.min():
        return float("nan")
    return _ratio(active.mean(), np.std(active, ddof=1)) * float(np.sqrt(periods))


def correlation(returns: pd.Series, benchmark: pd.Series) -> float:
    """Pearson correlation over the common dates."""
    asset, bench = _paired(returns, benchmark)
    if asset.size < 2 or asset.std() == 0 or bench.std() == 0:
        return float("nan")
    return float(np.corrcoef(asset, bench)[0, 1])


def es_gaussian(returns: pd.Series, level: float = 0.95) -> float:
    """Parametric expected shortfall under a normal distribution N(mean, std ddof=1):
    mean - std x pdf(z) / (1 - level), z = the (1 - level) standard normal quantile
    (quantstats ``expected_shortfall`` / ``cvar`` with method='parametric'); negative = loss."""
    tail = risk._tail_probability(level)
    clean = _clean(returns)
    if len(clean) < 2:
        return float("nan")
    z = NormalDist().inv_cdf(tail)
    return float(clean.mean() - clean.std(ddof=1) * NormalDist().pdf(z) / tail)


def longest_drawdown_days(returns: pd.Series) -> float:
    """Calendar days of the longest drawdown period (see `drawdown_periods`); 0 without a drawdown."""
    periods = drawdown_periods(returns)
    return float(periods["days"].max()) if len(periods) else 0.0


# --------------------------------------------------------------------------- series and tables


def rolling_volatility(returns: pd.Series, window: int = ROLLING_WINDOW, periods: int = PERIODS) -> pd.Series:
    """Rolling std (ddof=1) x sqrt(periods) over `window` returns (quantstats ``rolling_volatility``)."""
    return (_dated(returns).rolling(window).std() * np.sqrt(periods)).dropna()


def rolling_sharpe(
    returns: pd.Series, risk_free: float = 0.0, window: int = ROLLING_WINDOW, periods: int = PERIODS
) -> pd.Series:
    """Rolling mean(r - rf) / std(r - rf) x sqrt(periods), `risk_free` per period (quantstats
    ``rolling_sharpe``)."""
    excess = _dated(returns) - risk_free
    roll = excess.rolling(window)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = roll.mean() / roll.std() * np.sqrt(periods)
    return out.replace([np.inf, -np.inf], np.nan).dropna()


def rolling_sortino(
    returns: pd.Series, required_return: float = 0.0, window: int = ROLLING_WINDOW, periods: int = PERIODS
) -> pd.Series:
    """Rolling mean(r - t) / sqrt(sum(min(r - t, 0)^2) / window) x sqrt(periods) (quantstats
    ``rolling_sortino``); windows without a loss are left out (NaN, not inf)."""
    excess = _dated(returns) - required_return
    downside = (np.minimum(excess, 0.0) ** 2).rolling(window).sum() / window
    with np.errstate(divide="ignore", invalid="ignore"):
        out = excess.rolling(window).mean() / np.sqrt(downside) * np.sqrt(periods)
    return out.replace([np.inf, -np.inf], np.nan).dropna()


def rolling_beta(returns: pd.Series, benchmark: pd.Series, window: int = ROLLING_WINDOW) -> pd.Series:
    """Rolling Cov(r, b) / Var(b) over `window` common dates (quantstats ``rolling_greeks``' beta)."""
    pair = pd.concat([_dated(returns), _dated(benchmark)], axis=1, join="inner").dropna()
    asset, bench = pair.iloc[:, 0], pair.iloc[:, 1]
    variance = bench.rolling(window).var()
    out = asset.rolling(window).cov(bench) / variance.where(variance > risk.MIN_BENCHMARK_VARIANCE)
    return out.dropna()


def drawdown_periods(returns: pd.Series) -> pd.DataFrame:
    """Every drawdown period, deepest first: start (first session under the previous peak), trough,
    end (last session under it), recovery (first session back at the peak; NaT while under water),
    depth (<= 0) and days = end - start + 1 in calendar days (quantstats ``drawdown_details``)."""
    columns = ["start", "trough", "end", "recovery", "depth", "days"]
    drawdown = risk.drawdown_series(returns)
    drawdown.index = pd.DatetimeIndex(drawdown.index)
    under = (drawdown < 0).to_numpy()
    rows = []
    i, n = 0, len(drawdown)
    while i < n:
        if not under[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and under[j + 1]:
            j += 1
        segment = drawdown.iloc[i : j + 1]
        rows.append(
            {
                "start": drawdown.index[i],
                "trough": segment.idxmin(),
                "end": drawdown.index[j],
                "recovery": drawdown.index[j + 1] if j + 1 < n else pd.NaT,
                "depth": float(segment.min()),
                "days": int((drawdown.index[j] - drawdown.index[i]).days + 1),
            }
        )
        i = j + 1
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["depth", "start"]).reset_index(drop=True)


def monthly_returns_table(returns: pd.Series) -> pd.DataFrame:
    """Years x Jan..Dec compounded monthly returns plus 'Year' (the compounded calendar year); NaN
    for months without a session in the window (quantstats ``monthly_returns`` fills them with 0)."""
    clean = _dated(returns)
    if clean.empty:
        return pd.DataFrame(columns=[*MONTHS, "Year"], dtype="float64")
    monthly = calendar_returns(clean, "M")
    table = pd.DataFrame({"year": monthly.index.year, "month": monthly.index.month, "value": monthly.to_numpy()})
    grid = table.pivot(index="year", columns="month", values="value").reindex(columns=range(1, 13))
    grid.columns = MONTHS
    yearly = calendar_returns(clean, "Y")
    grid["Year"] = pd.Series(yearly.to_numpy(), index=yearly.index.year)
    grid.index.name = "year"
    return grid


def histogram(series: dict[str, pd.Series], bins: int = 40) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Shared bin edges over all series' returns and each series' count per bin (np.histogram)."""
    cleaned = {name: _clean(values).to_numpy() for name, values in series.items()}
    pooled = np.concatenate([v for v in cleaned.values() if v.size] or [np.array([0.0])])
    edges = np.histogram_bin_edges(pooled, bins=bins)
    return edges, {name: np.histogram(v, bins=edges)[0] for name, v in cleaned.items()}


# --------------------------------------------------------------------------- contribution by holding


@dataclass(frozen=True)
class Contributions:
    """Per holding (or group): weight at the window's end, contribution to the window's return and to
    the annualized volatility of today's weights (Euler decomposition)."""

    table: pd.DataFrame  # index holding; weight, return_contribution, risk_contribution, risk_share
    total_return: float  # the portfolio's return over the window = sum of return_contribution
    volatility: float  # sqrt(w' Sigma w) x sqrt(periods) = sum of risk_contribution

    def by(self, groups: dict[str, str], unknown: str = "Unclassified") -> Contributions:
        """The same figures summed by group (e.g. sector); sums are unchanged."""
        keys = [groups.get(str(name), unknown) or unknown for name in self.table.index]
        table = self.table.groupby(keys).sum()
        table.index.name = "group"
        return Contributions(table.sort_values("weight", ascending=False), self.total_return, self.volatility)


def contributions(holding_values: pd.DataFrame, periods: int = PERIODS) -> Contributions:
    """Contribution to return and to risk of each column of `holding_values` (dates x holding, the
    value of a constant number of shares in the base currency over the window, first row the base).

    Return: (V_i,end - V_i,start) / V_start, which sums exactly to the portfolio's return because the
    portfolio is the sum of its holdings. Risk: with w the end weights and Sigma the sample covariance
    (ddof=1) of the holdings' daily returns, RC_i = w_i (Sigma w)_i / sqrt(w' Sigma w) x sqrt(periods),
    which sums to the portfolio volatility (Euler's theorem for a homogeneous function of degree 1).
    """
    values = holding_values.astype("float64").dropna(how="any")
    columns = ["weight", "return_contribution", "risk_contribution", "risk_share"]
    if len(values) < 2 or values.iloc[0].sum() <= 0:
        return Contributions(pd.DataFrame(columns=columns, dtype="float64"), float("nan"), float("nan"))
    start, end = values.iloc[0], values.iloc[-1]
    weights = (end / end.sum()).to_numpy()
    return_contribution = (end - start) / start.sum()
    returns = values.pct_change().iloc[1:].replace([np.inf, -np.inf], np.nan).fillna(0.0)
    if len(returns) >= 2:
        sigma = np.cov(returns.to_numpy(), rowvar=False, ddof=1).reshape(len(weights), len(weights))
        variance = float(weights @ sigma @ weights)
        vol = float(np.sqrt(variance * periods))
        marginal = sigma @ weights
        risk_contribution = weights * marginal / np.sqrt(variance) * np.sqrt(periods) if variance > 0 else weights * 0
    else:
        vol, risk_contribution = float("nan"), np.full(len(weights), np.nan)
    table = pd.DataFrame(
        {
            "weight": weights,
            "return_contribution": return_contribution.to_numpy(),
            "risk_contribution": risk_contribution,
        },
        index=values.columns.astype(str),
    )
    table["risk_share"] = table["risk_contribution"] / vol if vol and np.isfinite(vol) else np.nan
    table.index.name = "holding"
    return Contributions(table.sort_values("weight", ascending=False), float(end.sum() / start.sum() - 1.0), vol)


# --------------------------------------------------------------------------- all figures of one series

# (key, label, kind, relative): relative figures compare a series with the benchmark (blank for it).
METRICS = [
    ("total_return", "Total return", "pct", False),
    ("cagr", "CAGR (252 sessions a year)", "pct", False),
    ("annualized_volatility", "Volatility (annualized)", "pct", False),
    ("sharpe", "Sharpe ratio", "num", False),
    ("sortino", "Sortino ratio", "num", False),
    ("calmar", "Calmar ratio", "num", False),
    ("omega", "Omega ratio (threshold: risk-free)", "num", False),
    ("max_drawdown", "Maximum drawdown", "pct", False),
    ("longest_drawdown_days", "Longest drawdown (calendar days)", "int", False),
    ("var_hist_95", "VaR 95% historical (1 day)", "pct", False),
    ("var_hist_99", "VaR 99% historical (1 day)", "pct", False),
    ("var_gaussian_95", "VaR 95% parametric Gaussian (1 day)", "pct", False),
    ("var_gaussian_99", "VaR 99% parametric Gaussian (1 day)", "pct", False),
    ("es_hist_95", "Expected shortfall 95% historical (1 day)", "pct", False),
    ("es_hist_99", "Expected shortfall 99% historical (1 day)", "pct", False),
    ("es_gaussian_95", "Expected shortfall 95% parametric Gaussian (1 day)", "pct", False),
    ("es_gaussian_99", "Expected shortfall 99% parametric Gaussian (1 day)", "pct", False),
    ("skew", "Skew (daily returns)", "num", False),
    ("kurtosis", "Excess kurtosis (daily returns)", "num", False),
    ("tail_ratio", "Tail ratio (95th / 5th percentile)", "num", False),
    ("win_rate", "Win rate (days up / days moved)", "pct", False),
    ("best_day", "Best day", "pct", False),
    ("worst_day", "Worst day", "pct", False),
    ("best_month", "Best month", "pct", False),
    ("worst_month", "Worst month", "pct", False),
    ("best_year", "Best year", "pct", False),
    ("worst_year", "Worst year", "pct", False),
    ("beta", "Beta to benchmark", "num", True),
    ("alpha", "Alpha (annualized, arithmetic)", "pct", True),
    ("correlation", "Correlation with benchmark", "num", True),
    ("tracking_error", "Tracking error (annualized)", "pct", True),
    ("information_ratio", "Information ratio (annualized)", "num", True),
    ("observations", "Daily returns", "int", False),
]


def metrics(
    returns: pd.Series, benchmark: pd.Series | None = None, risk_free: float = 0.0, periods: int = PERIODS
) -> dict[str, float]:
    """Every METRICS figure of `returns`; relative ones against `benchmark` (NaN without one).
    `risk_free` is per period: Sharpe's and Sortino's required return and Omega's threshold."""
    out = {
        "total_return": total_return(returns),
        "cagr": cagr(returns, periods),
        "annualized_volatility": risk.annualized_volatility(returns, periods),
        "sharpe": risk.sharpe(returns, risk_free, periods),
        "sortino": risk.sortino(returns, risk_free, periods),
        "calmar": calmar(returns, periods),
        "omega": omega(returns, risk_free),
        "max_drawdown": risk.max_drawdown(returns),
        "longest_drawdown_days": longest_drawdown_days(returns),
        "skew": skew(returns),
        "kurtosis": kurtosis(returns),
        "tail_ratio": tail_ratio(returns),
        "win_rate": win_rate(returns),
        "observations": float(len(_clean(returns))),
        **best_worst(returns),
    }
    for level in (95, 99):
        out[f"var_hist_{level}"] = risk.var_historical(returns, level / 100)
        out[f"var_gaussian_{level}"] = risk.var_parametric(returns, level / 100)
        out[f"es_hist_{level}"] = risk.cvar_historical(returns, level / 100)
        out[f"es_gaussian_{level}"] = es_gaussian(returns, level / 100)
    if benchmark is not None and len(_clean(benchmark)):
        out["alpha"], out["beta"] = alpha_beta(returns, benchmark, periods)
        out["correlation"] = correlation(returns, benchmark)
        out["tracking_error"] = tracking_error(returns, benchmark, periods)
        out["information_ratio"] = information_ratio(returns, benchmark, periods)
    else:
        out.update(dict.fromkeys(("alpha", "beta", "correlation", "tracking_error", "information_ratio"), float("nan")))
    return out
