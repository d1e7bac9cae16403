"""Benchmark: the whole default indicator set over 500 tickers x 2,520 days, ours vs TA-Lib directly.

Ours is `compute_indicators(prices, default set)` on one long DataFrame (ticker, date, OHLCV) and
returns the wide table. The reference calls TA-Lib directly, ticker by ticker, for the same
functions and parameters (each spec's TA-Lib function on that ticker's arrays), keeping each ticker's
arrays. Both run in the same process, repetitions interleaved, best of 3 each; the ratio is from that one run. The outputs are also compared.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from finance_assets.defs.market.indicators import DEFAULT_SET_FILE, Indicator, compute_indicators, load_indicator_set

N_TICKERS = 500
N_DAYS = 2_520
REPETITIONS = 3
SEED = 20240611
GOAL_RATIO = 1.1
ACCURACY_GOAL = 1e-9


def generate_prices(n_tickers: int, n_days: int, seed: int) -> pd.DataFrame:
    """Geometric random walks with opens, intraday ranges and volumes: one long frame."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(5.0, 500.0, size=(n_tickers, 1))
    daily_vol = rng.uniform(0.005, 0.04, size=(n_tickers, 1))
    close = start * np.exp(np.cumsum(rng.normal(0.0, 1.0, (n_tickers, n_days)) * daily_vol, axis=1))
    open_ = close * (1.0 + rng.normal(0.0, 0.004, close.shape))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 0.01, close.shape)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 0.01, close.shape)))
    volume = rng.lognormal(13.5, 0.4, close.shape).round()
    dates = pd.bdate_range("2014-01-01", periods=n_days)
    return pd.DataFrame(
        {
            "ticker": np.repeat([f"T{i:03d}" for i in range(n_tickers)], n_days),
            "date": np.tile(dates.to_numpy(), n_tickers),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
            "volume": volume.ravel(),
        }
    )


def talib_direct(specs: list[Indicator], arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The set for one ticker, each TA-Lib function called directly on that ticker's arrays (the four
    columns TA-Lib lacks by their plain numpy functions)."""
    out = {}
    for spec in specs:
        function, kwargs = spec.callable()
        result = function(*(arrays[name] for name in spec.inputs), **kwargs)
        out.update(zip(spec.columns, result if isinstance(result, tuple) else (result,)))
    return out


def best_times(functions: dict[str, Callable[[], object]], repetitions: int = REPETITIONS) -> dict[str, float]:
    """Best wall time of each function; repetitions interleaved so both sides see the same load."""
    timings: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repetitions):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            timings[name].append(time.perf_counter() - started)
    return {name: min(values) for name, values in timings.items()}


def largest_deviation(ours: pd.DataFrame, reference: list[dict], columns: list[str]) -> float:
    """Largest |ours - TA-Lib| / max(1, |TA-Lib|) over all columns; inf if NaN layouts differ."""
    worst = 0.0
    for column in columns:
        expected = np.concatenate([ticker[column] for ticker in reference])
        actual = ours[column].to_numpy()
        if not np.array_equal(np.isnan(actual), np.isnan(expected)):
            return float("inf")
        known = ~np.isnan(expected)
        error = np.abs(actual[known] - expected[known]) / np.maximum(1.0, np.abs(expected[known]))
        worst = max(worst, float(error.max(initial=0.0)))
    return worst


def run() -> list[dict]:
    prices = generate_prices(N_TICKERS, N_DAYS, SEED)
    specs = load_indicator_set(DEFAULT_SET_FILE)
    columns = [name for spec in specs for name in spec.columns]
    per_ticker = [
        {
            key: prices[key].to_numpy()[i * N_DAYS : (i + 1) * N_DAYS]
            for key in ("open", "high", "low", "close", "volume")
        }
        for i in range(N_TICKERS)
    ]

    def direct() -> list[dict]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return [talib_direct(specs, ticker) for ticker in per_ticker]

    seconds = best_times({"ours": lambda: compute_indicators(prices, specs), "talib": direct})
    deviation = largest_deviation(compute_indicators(prices, specs), direct(), columns)
    ratio = seconds["ours"] / seconds["talib"]
    shape = f"{N_TICKERS} tickers x {N_DAYS} days"
    return [
        {
            "benchmark": "technicals_default_set",
            "metric": f"wall time, default set ({len(specs)} specs, {len(columns)} columns), {shape} "
            f"(best of {REPETITIONS})",
            "ours": seconds["ours"],
            "reference": seconds["talib"],
            "unit": "s",
            "ratio": ratio,
            "goal": f"compute_indicators / TA-Lib called directly per ticker <= {GOAL_RATIO}",
            "met": ratio <= GOAL_RATIO,
        },
        {
            "benchmark": "technicals_accuracy",
            "metric": f"max |ours - TA-Lib| / max(1, |TA-Lib|) over all columns, {shape}",
            "ours": deviation,
            "reference": None,
            "unit": "relative",
            "ratio": None,
            "goal": f"<= {ACCURACY_GOAL} with identical NaN positions",
            "met": deviation <= ACCURACY_GOAL,
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
