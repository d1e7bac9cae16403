"""Benchmark: the whole default indicator set over 500 tickers x 2,520 days, ours vs TA-Lib directly.

Ours is `compute_indicators(prices, default set)` on one long DataFrame (ticker, date, OHLCV) and
returns the wide table. The reference calls TA-Lib directly, ticker by ticker, for the same
functions and parameters (written out by hand below; the four hand-written columns by their
TA-Lib equivalents), keeping each ticker's arrays. Both run in the same process, repetitions
interleaved, best of 3 each; the ratio is from that one run. The outputs are also compared.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import talib

from finance_assets.defs.market.indicators import DEFAULT_SET_FILE, compute_indicators, load_indicator_set

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


def talib_direct(o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray, v: np.ndarray) -> dict:
    """The default set for one ticker, TA-Lib called directly (hand-written columns: TA-Lib equivalents)."""
    upper, middle, lower = talib.BBANDS(c, 20, 2.0, 2.0, 0)
    macd, signal, hist = talib.MACD(c, 12, 26, 9)
    slowk, slowd = talib.STOCH(h, low, c, 14, 3, 0, 3, 0)
    fastk, fastd = talib.STOCHRSI(c, 14, 14, 3, 0)
    down, up = talib.AROON(h, low, 14)
    log_returns = talib.LN(talib.ROCR(c, 1))
    pb_upper, pb_middle, pb_lower = talib.BBANDS(c, 20, 2.0, 2.0, 0)
    width = pb_upper - pb_lower
    pctb = np.where(width > 1e-6 * np.abs(pb_middle), (c - pb_lower) / width, np.nan)
    return {
        "sma_20": talib.SMA(c, 20), "sma_50": talib.SMA(c, 50), "sma_200": talib.SMA(c, 200),
        "ema_12": talib.EMA(c, 12), "ema_26": talib.EMA(c, 26), "ema_50": talib.EMA(c, 50),
        "wma_20": talib.WMA(c, 20), "dema_20": talib.DEMA(c, 20), "tema_20": talib.TEMA(c, 20),
        "kama_30": talib.KAMA(c, 30),
        "bb_upper": upper, "bb_middle": middle, "bb_lower": lower,
        "sar_0p02_0p2": talib.SAR(h, low, 0.02, 0.2),
        "macd": macd, "macd_signal": signal, "macd_hist": hist,
        "rsi_14": talib.RSI(c, 14),
        "stoch_slowk_14_3_3": slowk, "stoch_slowd_14_3_3": slowd,
        "stochrsi_fastk_14_14_3": fastk, "stochrsi_fastd_14_14_3": fastd,
        "adx_14": talib.ADX(h, low, c, 14), "plus_di_14": talib.PLUS_DI(h, low, c, 14),
        "minus_di_14": talib.MINUS_DI(h, low, c, 14),
        "cci_20": talib.CCI(h, low, c, 20), "willr_14": talib.WILLR(h, low, c, 14),
        "mfi_14": talib.MFI(h, low, c, v, 14),
        "roc_10": talib.ROC(c, 10), "mom_10": talib.MOM(c, 10), "cmo_14": talib.CMO(c, 14),
        "ultosc_7_14_28": talib.ULTOSC(h, low, c, 7, 14, 28),
        "aroon_aroondown_14": down, "aroon_aroonup_14": up, "aroonosc_14": talib.AROONOSC(h, low, 14),
        "obv": talib.OBV(c, v), "ad": talib.AD(h, low, c, v), "adosc_3_10": talib.ADOSC(h, low, c, v, 3, 10),
        "atr_14": talib.ATR(h, low, c, 14), "natr_14": talib.NATR(h, low, c, 14), "trange": talib.TRANGE(h, low, c),
        "stddev_20_1": talib.STDDEV(c, 20, 1.0),
        "ret_simple": talib.ROCP(c, 1), "ret_log": log_returns,
        "rv_20": talib.STDDEV(log_returns, 20, np.sqrt(20 / 19 * 252)),
        "bb_pctb": pctb,
    }  # fmt: skip


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
        tuple(
            prices[key].to_numpy()[i * N_DAYS : (i + 1) * N_DAYS] for key in ("open", "high", "low", "close", "volume")
        )
        for i in range(N_TICKERS)
    ]

    def direct() -> list[dict]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return [talib_direct(*ticker) for ticker in per_ticker]

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
