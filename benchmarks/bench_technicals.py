"""Benchmark: the technical indicator set for 500 tickers x 2,520 days, ours vs TA-Lib.

Ours runs the vectorized 2-D path (``technicals_arrays``) once over all tickers; the reference is
TA-Lib computing the same set ticker by ticker in a loop (SMA 20/50/200, EMA 12/26, MACD, RSI,
BBANDS + %b, ATR, simple/log returns and 20-day realized volatility). Both are timed side by side
in the same process, repetitions interleaved, best of 5 each. The outputs are also compared.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import talib

from finance_assets.defs.market.indicators import (
    TECHNICAL_COLUMNS,
    TRADING_DAYS_PER_YEAR,
    compute_technicals,
    technicals_arrays,
)

N_TICKERS = 500
N_DAYS = 2_520
REPETITIONS = 5
ONE_TICKER_REPETITIONS = 50  # milliseconds-long calls: more repetitions for a stable best
SEED = 20240611
GOAL_RATIO = 2.0
ACCURACY_GOAL = 1e-9


def generate_ohlc(n_tickers: int, n_days: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Geometric random walks with intraday ranges around the close: (high, low, close)."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(5.0, 500.0, size=(n_tickers, 1))
    daily_vol = rng.uniform(0.005, 0.04, size=(n_tickers, 1))
    close = start * np.exp(np.cumsum(rng.normal(0.0, 1.0, (n_tickers, n_days)) * daily_vol, axis=1))
    high = close * (1.0 + np.abs(rng.normal(0.0, 0.01, close.shape)))
    low = close * (1.0 - np.abs(rng.normal(0.0, 0.01, close.shape)))
    return high, low, close


def talib_technicals(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> dict[str, np.ndarray]:
    """The same indicator set for one ticker with TA-Lib calls."""
    upper, middle, lower = talib.BBANDS(close, 20, 2.0, 2.0, 0)
    macd_line, macd_signal, macd_hist = talib.MACD(close, 12, 26, 9)
    log_returns = talib.LN(talib.ROCR(close, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        pctb = (close - lower) / (upper - lower)
    # TA-Lib's STDDEV is the population std: rescale to the sample std, then annualize.
    volatility = talib.STDDEV(log_returns, 20, np.sqrt(20 / 19 * TRADING_DAYS_PER_YEAR))
    values = (
        talib.SMA(close, 20), talib.SMA(close, 50), talib.SMA(close, 200),
        talib.EMA(close, 12), talib.EMA(close, 26),
        macd_line, macd_signal, macd_hist,
        talib.RSI(close, 14),
        upper, middle, lower, pctb,
        talib.ATR(high, low, close, 14),
        talib.ROCP(close, 1), log_returns, volatility,
    )  # fmt: skip
    return dict(zip(TECHNICAL_COLUMNS, values, strict=True))


def best_times(functions: dict[str, Callable[[], object]], repetitions: int = REPETITIONS) -> dict[str, float]:
    """Best wall time of each function; repetitions are interleaved so both sides see the same
    machine load."""
    timings: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repetitions):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            timings[name].append(time.perf_counter() - started)
    return {name: min(values) for name, values in timings.items()}


def largest_deviation(ours: dict[str, np.ndarray], reference: list[dict[str, np.ndarray]]) -> float:
    """Largest |ours - TA-Lib| / max(1, |TA-Lib|) over all columns; inf if NaN layouts differ."""
    worst = 0.0
    for column in TECHNICAL_COLUMNS:
        expected = np.stack([ticker[column] for ticker in reference])
        actual = ours[column]
        if not np.array_equal(np.isnan(actual), np.isnan(expected)):
            return float("inf")
        known = ~np.isnan(expected)
        error = np.abs(actual[known] - expected[known]) / np.maximum(1.0, np.abs(expected[known]))
        worst = max(worst, float(error.max(initial=0.0)))
    return worst


def run() -> list[dict]:
    high, low, close = generate_ohlc(N_TICKERS, N_DAYS, SEED)
    rows_per_ticker = [(high[i], low[i], close[i]) for i in range(N_TICKERS)]

    seconds = best_times(
        {
            "ours": lambda: technicals_arrays(high, low, close),
            "talib": lambda: [talib_technicals(*ticker) for ticker in rows_per_ticker],
        }
    )
    ours_seconds, talib_seconds = seconds["ours"], seconds["talib"]
    deviation = largest_deviation(
        technicals_arrays(high, low, close),
        [talib_technicals(*ticker) for ticker in rows_per_ticker],
    )

    one_ticker = pd.DataFrame(
        {
            "date": pd.bdate_range("2014-01-01", periods=N_DAYS),
            "open": close[0],
            "high": high[0],
            "low": low[0],
            "close": close[0],
            "volume": 1e6,
        }
    )
    one_ticker_seconds = best_times(
        {
            "ours": lambda: compute_technicals(one_ticker),
            "talib": lambda: talib_technicals(*rows_per_ticker[0]),
        },
        repetitions=ONE_TICKER_REPETITIONS,
    )
    frame_seconds, talib_one_seconds = one_ticker_seconds["ours"], one_ticker_seconds["talib"]

    shape = f"{N_TICKERS} tickers x {N_DAYS} days"
    ratio = ours_seconds / talib_seconds
    return [
        {
            "benchmark": "technicals_2d",
            "metric": (f"wall time, {len(TECHNICAL_COLUMNS)} technical columns, {shape} (best of {REPETITIONS})"),
            "ours": ours_seconds,
            "reference": talib_seconds,
            "unit": "s",
            "ratio": ratio,
            "goal": f"ours / TA-Lib per-ticker loop <= {GOAL_RATIO}",
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
        {
            "benchmark": "technicals_one_ticker_frame",
            "metric": (
                f"wall time, compute_technicals on one {N_DAYS}-day DataFrame (best of {ONE_TICKER_REPETITIONS})"
            ),
            "ours": frame_seconds,
            "reference": talib_one_seconds,
            "unit": "s",
            "ratio": frame_seconds / talib_one_seconds,
            "goal": "informational: DataFrame path incl. pandas overhead vs TA-Lib on one ticker",
            "met": None,
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
