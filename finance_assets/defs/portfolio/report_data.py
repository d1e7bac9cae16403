"""What the report page shows, as data: `ReportData` (the inputs of one report day) and `WindowView`
(every tearsheet figure over one window: YTD, 1 y, 3 y, 5 y, all). Pure pandas, no Dagster, no HTML.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from finance_assets.defs.portfolio import tearsheet

# (key, button label, years back; 0 = since the start of the calendar year, None = all history)
WINDOWS: list[tuple[str, str, int | None]] = [
    ("ytd", "YTD", 0),
    ("1y", "1 y", 1),
    ("3y", "3 y", 3),
    ("5y", "5 y", 5),
    ("all", "All", None),
]
DEFAULT_WINDOW = "1y"
DRAWDOWN_ROWS = 5


@dataclass(frozen=True)
class ReportData:
    """Everything the page for one report day is drawn from.

    `values`: the value of today's holdings per date in the base currency, from *adjusted* closes
    (total return), the history behind every chart and tearsheet figure. `benchmark`: the benchmark's
    adjusted closes. `holding_values`: dates x ticker, the same value split by holding (for the
    contributions). `summary`: the stored report row of the day (cards and the risk table), whose
    value and P&L use as-traded closes. `risk_free_annual`: the annual rate, compounded to a daily one.
    """

    summary: dict
    holdings: pd.DataFrame
    values: pd.Series
    benchmark: pd.Series | None = None
    holding_values: pd.DataFrame | None = None
    sectors: Mapping[str, str] = field(default_factory=dict)
    base: str = "USD"
    benchmark_name: str = "benchmark"
    notes: Sequence[str] = ()
    banner: str = ""
    generated_at: dt.datetime | None = None
    risk_free_annual: float = 0.0

    @property
    def rf_daily(self) -> float:
        return (1.0 + self.risk_free_annual) ** (1.0 / tearsheet.PERIODS) - 1.0

    @property
    def clean_values(self) -> pd.Series:
        values = self.values if isinstance(self.values, pd.Series) else pd.Series(dtype="float64")
        values = values.astype("float64").dropna()
        values.index = pd.DatetimeIndex(values.index)
        return values.sort_index()

    @property
    def clean_benchmark(self) -> pd.Series | None:
        if self.benchmark is None:
            return None
        bench = self.benchmark.astype("float64").dropna()
        bench.index = pd.DatetimeIndex(bench.index)
        return bench.sort_index() if len(bench) >= 2 else None


@dataclass(frozen=True)
class WindowView:
    """Every figure of one window. `values` starts at the base date (the last session on or before the
    window's cutoff), so `returns` are the window's daily returns."""

    key: str
    label: str
    values: pd.Series
    returns: pd.Series
    bench_values: pd.Series | None
    bench_returns: pd.Series | None
    metrics: dict[str, float]
    bench_metrics: dict[str, float]
    drawdowns: pd.DataFrame
    monthly: pd.DataFrame
    bench_monthly: pd.DataFrame
    rolling: dict[str, dict[str, pd.Series]]  # figure -> series name -> values, clipped to the window
    contributions: tearsheet.Contributions
    sector_contributions: tearsheet.Contributions

    @property
    def start(self) -> pd.Timestamp:
        return self.values.index[0]

    @property
    def end(self) -> pd.Timestamp:
        return self.values.index[-1]


def cutoff(last: pd.Timestamp, years: int | None) -> pd.Timestamp | None:
    """The window's base date bound: returns after it are in the window (None: all history)."""
    if years is None:
        return None
    if years == 0:
        return pd.Timestamp(year=last.year - 1, month=12, day=31)
    return last - pd.DateOffset(years=years)


def _rolling(returns: pd.Series, bench: pd.Series | None, rf_daily: float, name: str, bench_name: str) -> dict:
    figures = {
        "volatility": {name: tearsheet.rolling_volatility(returns)},
        "sharpe": {name: tearsheet.rolling_sharpe(returns, rf_daily)},
        "sortino": {name: tearsheet.rolling_sortino(returns, rf_daily)},
        "beta": {},
    }
    if bench is not None:
        figures["volatility"][bench_name] = tearsheet.rolling_volatility(bench)
        figures["sharpe"][bench_name] = tearsheet.rolling_sharpe(bench, rf_daily)
        figures["sortino"][bench_name] = tearsheet.rolling_sortino(bench, rf_daily)
        figures["beta"][f"{name} to {bench_name}"] = tearsheet.rolling_beta(returns, bench)
    return figures


def window_views(data: ReportData, portfolio_name: str = "Portfolio") -> list[WindowView]:
    """The windows the history covers (a window needs a session on or before its cutoff), 'all' always
    (when there are at least two values). Rolling figures use the whole history, then are clipped."""
    values = data.clean_values
    if len(values) < 2:
        return []
    bench_closes = data.clean_benchmark
    all_returns = values.pct_change().dropna()
    all_bench = bench_closes.pct_change().reindex(all_returns.index) if bench_closes is not None else None
    if all_bench is not None and all_bench.notna().sum() < 2:
        all_bench = None
    bench_name = data.benchmark_name
    rolling = _rolling(all_returns, all_bench, data.rf_daily, portfolio_name, bench_name)
    holding_values = data.holding_values
    if holding_values is not None and len(holding_values):
        holding_values = holding_values.copy()
        holding_values.index = pd.DatetimeIndex(holding_values.index)
        holding_values = holding_values.sort_index()
    views = []
    last = values.index[-1]
    for key, label, years in WINDOWS:
        bound = cutoff(last, years)
        if bound is not None and values.index[0] > bound:
            continue  # not enough history for this window
        base = values.index[0] if bound is None else values.index[values.index <= bound][-1]
        window_values = values[values.index >= base]
        returns = window_values.pct_change().dropna()
        if returns.empty:
            continue
        bench_returns = all_bench.reindex(returns.index) if all_bench is not None else None
        bench_values = None
        if bench_closes is not None:
            bench_values = bench_closes[(bench_closes.index >= base) & (bench_closes.index <= last)]
        if holding_values is not None and len(holding_values):
            contributions = tearsheet.contributions(holding_values[(holding_values.index >= base)])
        else:
            contributions = tearsheet.contributions(pd.DataFrame())
        views.append(
            WindowView(
                key=key,
                label=label,
                values=window_values,
                returns=returns,
                bench_values=bench_values,
                bench_returns=bench_returns,
                metrics=tearsheet.metrics(returns, bench_returns, data.rf_daily),
                bench_metrics=tearsheet.metrics(bench_returns, None, data.rf_daily)
                if bench_returns is not None
                else {},
                drawdowns=tearsheet.drawdown_periods(returns).head(DRAWDOWN_ROWS),
                monthly=tearsheet.monthly_returns_table(returns),
                bench_monthly=tearsheet.monthly_returns_table(bench_returns)
                if bench_returns is not None
                else pd.DataFrame(),
                rolling={
                    figure: {name: s[s.index > returns.index[0] - pd.Timedelta(days=1)] for name, s in series.items()}
                    for figure, series in rolling.items()
                },
                contributions=contributions,
                sector_contributions=contributions.by(dict(data.sectors)),
            )
        )
    return views


def rebased(closes: pd.Series, to: float) -> pd.Series:
    """`closes` scaled so the first equals `to`."""
    return closes / float(closes.iloc[0]) * to


def cumulative(values: pd.Series) -> pd.Series:
    """Return since the first value, at every date (0 on the first)."""
    return values / float(values.iloc[0]) - 1.0


def drawdown(values: pd.Series) -> pd.Series:
    """Fall from the running peak of `values` (the first value is the first peak)."""
    return values / values.cummax() - 1.0


def finite(value) -> bool:
    return value is not None and isinstance(value, (int, float, np.floating)) and bool(np.isfinite(value))
