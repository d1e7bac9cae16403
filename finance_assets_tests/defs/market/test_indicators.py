"""Technical indicators against TA-Lib (a test-only dependency), on generated and real series."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from finance_assets.defs.market import indicators
from finance_assets.defs.market.indicators import (
    LOOKBACK_DAYS,
    TECHNICAL_COLUMNS,
    atr,
    bollinger,
    compute_technicals,
    ema,
    log_returns,
    macd,
    realized_volatility,
    rsi,
    simple_returns,
    sma,
    technicals_arrays,
)

TOLERANCE = 1e-9


def realdata_dir() -> Path:
    configured = os.environ.get("FINANCE_ASSETS_REALDATA")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3].parent / "shared" / "realdata"


@pytest.fixture(scope="module")
def talib():
    return pytest.importorskip("talib")


def assert_matches(actual: np.ndarray, expected: np.ndarray, tolerance: float = TOLERANCE) -> None:
    """Same NaN positions, and |actual - expected| <= tolerance * max(1, |expected|) elsewhere."""
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg="NaN positions differ")
    known = ~np.isnan(expected)
    np.testing.assert_allclose(actual[known], expected[known], rtol=tolerance, atol=tolerance)


# --------------------------------------------------------------------------------------------
# Generated price series
# --------------------------------------------------------------------------------------------


def random_walk(n_days: int, seed: int, start: float = 100.0, daily_vol: float = 0.02) -> dict[str, np.ndarray]:
    """Geometric random walk closes with highs/lows around them."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0.0, daily_vol, n_days)))
    high = close * (1.0 + np.abs(rng.normal(0.0, 0.01, n_days)))
    low = close * (1.0 - np.abs(rng.normal(0.0, 0.01, n_days)))
    return {"high": high, "low": low, "close": close}


def with_flat_stretches(prices: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """An illiquid ticker: the price stops moving for 40 and 25 days at two points."""
    flat = {key: values.copy() for key, values in prices.items()}
    for start, length in ((300, 40), (700, 25)):
        for key in flat:
            flat[key][start : start + length] = flat["close"][start]
    return flat


def constant(n_days: int, price: float = 12.34) -> dict[str, np.ndarray]:
    return {key: np.full(n_days, price) for key in ("high", "low", "close")}


def truncated(prices: dict[str, np.ndarray], n_days: int) -> dict[str, np.ndarray]:
    return {key: values[:n_days] for key, values in prices.items()}


SERIES: dict[str, Callable[[], dict[str, np.ndarray]]] = {
    "random_walk": lambda: random_walk(1500, seed=1),
    "trending_collapse": lambda: random_walk(2520, seed=2, start=500.0, daily_vol=0.04),
    "flat_stretches": lambda: with_flat_stretches(random_walk(1000, seed=3)),
    "large_prices": lambda: random_walk(800, seed=4, start=450_000.0, daily_vol=0.01),
    "penny_stock": lambda: random_walk(800, seed=5, start=0.02, daily_vol=0.05),
    "calm_then_turbulent": lambda: calm_then_turbulent(1300, seed=20),
    "constant": lambda: constant(300),
    "shorter_than_sma_200": lambda: random_walk(150, seed=6),
    "shorter_than_macd": lambda: random_walk(30, seed=7),
    "shorter_than_rsi": lambda: random_walk(12, seed=8),
    "one_day": lambda: random_walk(1, seed=9),
}


@pytest.fixture(params=list(SERIES), scope="module")
def prices(request: pytest.FixtureRequest) -> dict[str, np.ndarray]:
    return SERIES[request.param]()


# --------------------------------------------------------------------------------------------
# Every indicator against TA-Lib
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("period", [5, 20, 50, 200])
def test_sma_matches_talib(prices, talib, period):
    assert_matches(sma(prices["close"], period), talib.SMA(prices["close"], period))


@pytest.mark.parametrize("period", [2, 12, 20, 26])
def test_ema_matches_talib(prices, talib, period):
    assert_matches(ema(prices["close"], period), talib.EMA(prices["close"], period))


@pytest.mark.parametrize("periods", [(12, 26, 9), (5, 35, 5), (26, 12, 9), (3, 10, 1)])
def test_macd_matches_talib(prices, talib, periods):
    ours = macd(prices["close"], *periods)
    expected = talib.MACD(prices["close"], *periods)
    for our_line, talib_line in zip(ours, expected, strict=True):
        assert_matches(our_line, talib_line)


@pytest.mark.parametrize("period", [2, 14, 30])
def test_rsi_matches_talib(prices, talib, period):
    assert_matches(rsi(prices["close"], period), talib.RSI(prices["close"], period))


@pytest.mark.parametrize(("period", "nbdev"), [(20, 2.0), (10, 1.5), (2, 1.0)])
def test_bollinger_matches_talib(prices, talib, period, nbdev):
    upper, middle, lower, pctb = bollinger(prices["close"], period, nbdev)
    talib_upper, talib_middle, talib_lower = talib.BBANDS(prices["close"], period, nbdev, nbdev, 0)
    assert_matches(upper, talib_upper)
    assert_matches(middle, talib_middle)
    assert_matches(lower, talib_lower)
    assert_pctb_matches(pctb, prices["close"], talib_upper, talib_lower)


def assert_pctb_matches(pctb: np.ndarray, close: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> None:
    """%b from TA-Lib's bands: NaN where they have no width, equal where it is well conditioned.

    %b divides by the band width, so an error in the bands moves it by error / width. TA-Lib's
    bands carry rounding errors up to ~1e-12 of the price (more than ours: it keeps running sums
    of earlier prices), so %b is compared directly where the width is at least 1% of the price,
    and elsewhere in price units, as pctb * width = close - lower.
    """
    width = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(width > 0, (close - lower) / width, np.nan)
    np.testing.assert_array_equal(np.isnan(pctb), np.isnan(expected), err_msg="NaN positions differ")
    well_conditioned = width >= 1e-2 * np.abs(upper + lower) / 2
    assert_matches(pctb[well_conditioned], expected[well_conditioned])
    known = ~np.isnan(expected)
    position_error = np.abs(pctb[known] * width[known] - (close - lower)[known])
    assert np.all(position_error <= TOLERANCE * np.maximum(1.0, np.abs(close[known])))


@pytest.mark.parametrize("period", [1, 14, 30])
def test_atr_matches_talib(prices, talib, period):
    ours = atr(prices["high"], prices["low"], prices["close"], period)
    assert_matches(ours, talib.ATR(prices["high"], prices["low"], prices["close"], period))


def test_returns_match_talib(prices, talib):
    close = prices["close"]
    assert_matches(simple_returns(close), talib.ROCP(close, 1))
    assert_matches(log_returns(close), np.log(talib.ROCR(close, 1)))


def test_technicals_arrays_match_the_single_indicators(prices):
    high, low, close = prices["high"], prices["low"], prices["close"]
    columns = technicals_arrays(high, low, close)
    upper, middle, lower, pctb = bollinger(close)
    line, signal, histogram = macd(close)
    expected = {
        "sma_20": sma(close, 20), "sma_50": sma(close, 50), "sma_200": sma(close, 200),
        "ema_12": ema(close, 12), "ema_26": ema(close, 26),
        "macd": line, "macd_signal": signal, "macd_hist": histogram,
        "rsi_14": rsi(close), "bb_upper": upper, "bb_middle": middle, "bb_lower": lower,
        "bb_pctb": pctb, "atr_14": atr(high, low, close), "ret_simple": simple_returns(close),
        "ret_log": log_returns(close), "rv_20": realized_volatility(close),
    }  # fmt: skip
    assert list(columns) == list(TECHNICAL_COLUMNS)
    for name in TECHNICAL_COLUMNS:
        np.testing.assert_array_equal(columns[name], expected[name], err_msg=name)


# --------------------------------------------------------------------------------------------
# Edge cases defined by TA-Lib or by this module
# --------------------------------------------------------------------------------------------


def test_constant_series_has_zero_width_bands_and_undefined_pctb(talib):
    close = constant(60)["close"]
    upper, middle, lower, pctb = bollinger(close)
    assert np.all(upper[19:] == lower[19:])
    assert np.isnan(pctb).all()
    assert np.all(rsi(close)[14:] == 0.0)  # TA-Lib's convention for "no movement"
    np.testing.assert_array_equal(rsi(close), talib.RSI(close, 14))
    assert np.all(realized_volatility(close)[20:] == 0.0)


def test_flat_window_after_moves_has_exactly_zero_width():
    close = random_walk(600, seed=11)["close"]
    close[400:450] = close[400]
    upper, _, lower, pctb = bollinger(close)
    assert np.all(upper[419:450] == lower[419:450])
    assert np.isnan(pctb[419:450]).all()
    assert not np.isnan(pctb[450:]).any()


def test_realized_volatility_of_alternating_returns():
    # Log returns +r, -r, +r, ...: each 20-day window has mean 0 and sample variance 20 r^2 / 19.
    step = 0.01
    close = 50.0 * np.exp(np.cumsum(np.r_[0.0, np.tile([step, -step], 40)]))
    expected = step * np.sqrt(20 / 19) * np.sqrt(252)
    volatility = realized_volatility(close)
    assert np.isnan(volatility[:20]).all()
    np.testing.assert_allclose(volatility[20:], expected, rtol=1e-12)


def test_realized_volatility_matches_pandas_rolling_std():
    close = random_walk(1200, seed=12, daily_vol=0.03)["close"]
    expected = np.log(pd.Series(close)).diff().rolling(20).std(ddof=1) * np.sqrt(252)
    assert_matches(realized_volatility(close), expected.to_numpy(), tolerance=1e-12)
    weekly = np.log(pd.Series(close)).diff().rolling(10).std(ddof=1) * np.sqrt(52)
    assert_matches(realized_volatility(close, window=10, periods_per_year=52), weekly.to_numpy(), 1e-12)


def test_invalid_parameters_are_rejected():
    close = random_walk(50, seed=13)["close"]
    with pytest.raises(ValueError):
        sma(close, 0)
    with pytest.raises(ValueError):
        ema(close, 2.5)
    with pytest.raises(ValueError):
        bollinger(close, 1)
    with pytest.raises(ValueError):
        realized_volatility(close, window=1)
    with pytest.raises(ValueError):
        sma(close.reshape(5, 5, 2), 3)
    with pytest.raises(ValueError):
        atr(close, close[:-1], close)


def test_empty_series_give_empty_outputs():
    columns = technicals_arrays(np.empty(0), np.empty(0), np.empty(0))
    assert all(values.shape == (0,) for values in columns.values())
    columns = technicals_arrays(np.empty((3, 0)), np.empty((3, 0)), np.empty((3, 0)))
    assert all(values.shape == (3, 0) for values in columns.values())


# --------------------------------------------------------------------------------------------
# 2-D inputs: each row is an independent series
# --------------------------------------------------------------------------------------------


def stacked_walks(n_series: int, n_days: int) -> dict[str, np.ndarray]:
    walks = [random_walk(n_days, seed=100 + i, start=10.0 ** (i % 4)) for i in range(n_series)]
    return {key: np.stack([walk[key] for walk in walks]) for key in ("high", "low", "close")}


def test_2d_rows_equal_1d_results_and_talib(talib, monkeypatch):
    # Small blocks so that several blocks of rows are processed.
    monkeypatch.setattr(indicators, "_BLOCK_BYTES", 3 * 8 * 700)
    prices_2d = stacked_walks(n_series=7, n_days=700)
    columns = technicals_arrays(prices_2d["high"], prices_2d["low"], prices_2d["close"])
    assert all(values.shape == (7, 700) for values in columns.values())
    for row in range(7):
        high, low, close = (prices_2d[key][row] for key in ("high", "low", "close"))
        single = technicals_arrays(high, low, close)
        for name in TECHNICAL_COLUMNS:
            np.testing.assert_array_equal(columns[name][row], single[name], err_msg=name)
        assert_matches(columns["ema_26"][row], talib.EMA(close, 26))
        assert_matches(columns["macd_signal"][row], talib.MACD(close, 12, 26, 9)[1])
        assert_matches(columns["atr_14"][row], talib.ATR(high, low, close, 14))
    for function, period in ((sma, 50), (ema, 12), (rsi, 14)):
        by_rows = function(prices_2d["close"], period)
        for row in range(7):
            np.testing.assert_array_equal(by_rows[row], function(prices_2d["close"][row], period))


def test_rows_starting_with_nan_start_at_their_first_price_like_talib(talib):
    prices_2d = stacked_walks(n_series=4, n_days=400)
    close = prices_2d["close"]
    close[1, :37] = np.nan  # listed later
    close[2, :] = np.nan  # no prices at all
    high, low = prices_2d["high"], prices_2d["low"]
    high[3, :5] = np.nan  # high/low missing before close
    columns = technicals_arrays(high, low, close)
    assert np.isnan(columns["sma_20"][2]).all()
    for row in (0, 1):
        assert_matches(sma(close, 20)[row], talib.SMA(close[row], 20))
        assert_matches(columns["sma_20"][row], talib.SMA(close[row], 20))
        assert_matches(columns["macd"][row], talib.MACD(close[row], 12, 26, 9)[0])
        assert_matches(columns["rsi_14"][row], talib.RSI(close[row], 14))
        assert_matches(columns["bb_upper"][row], talib.BBANDS(close[row], 20, 2.0, 2.0, 0)[0])
    assert_matches(columns["atr_14"][3], talib.ATR(high[3], low[3], close[3], 14))
    assert_matches(rsi(close[1]), talib.RSI(close[1], 14))


# --------------------------------------------------------------------------------------------
# History prefixes: the asset recomputes on the full history, slices must not move
# --------------------------------------------------------------------------------------------


def calm_then_turbulent(n_days: int, seed: int) -> dict[str, np.ndarray]:
    """Alternating calm and violent stretches: window variances differ by orders of magnitude."""
    rng = np.random.default_rng(seed)
    daily_vol = np.where((np.arange(n_days) // 90) % 2 == 0, 1e-4, 0.08)
    close = 80.0 * np.exp(np.cumsum(rng.normal(0.0, 1.0, n_days) * daily_vol))
    return {"high": close * 1.001, "low": close * 0.999, "close": close}


PREFIX_SERIES = {
    "flat_stretches": lambda: with_flat_stretches(random_walk(1300, seed=14)),
    "calm_then_turbulent": lambda: calm_then_turbulent(1300, seed=19),
}


@pytest.mark.parametrize("series", list(PREFIX_SERIES))
@pytest.mark.parametrize("n_days", [1, 14, 26, 34, 100, 199, 200, 275, 276, 300, 531, 700, 1299])
def test_values_on_a_prefix_equal_the_full_history_truncated(series, n_days):
    prices = PREFIX_SERIES[series]()
    full = technicals_arrays(prices["high"], prices["low"], prices["close"])
    prefix = technicals_arrays(*(prices[key][:n_days] for key in ("high", "low", "close")))
    for name in TECHNICAL_COLUMNS:
        np.testing.assert_array_equal(prefix[name], full[name][:n_days], err_msg=name)


def test_lookback_days_is_the_first_fully_defined_day():
    prices = random_walk(400, seed=15)
    frame = pd.DataFrame(technicals_arrays(prices["high"], prices["low"], prices["close"]))
    complete = frame.notna().all(axis=1).to_numpy()
    assert LOOKBACK_DAYS == 199
    assert complete.argmax() == LOOKBACK_DAYS
    assert complete[LOOKBACK_DAYS:].all()


# --------------------------------------------------------------------------------------------
# compute_technicals on a DataFrame
# --------------------------------------------------------------------------------------------


def price_frame(n_days: int, seed: int) -> pd.DataFrame:
    prices = random_walk(n_days, seed=seed)
    return pd.DataFrame(
        {
            "date": pd.bdate_range("2015-01-01", periods=n_days),
            "open": prices["close"],
            "high": prices["high"],
            "low": prices["low"],
            "close": prices["close"],
            "volume": 1e6,
        }
    )


def test_compute_technicals_returns_date_and_technical_columns():
    frame = price_frame(300, seed=16)
    technicals = compute_technicals(frame.iloc[::-1].sort_values("date"))
    assert list(technicals.columns) == ["date", *TECHNICAL_COLUMNS]
    pd.testing.assert_series_equal(technicals["date"], frame["date"])
    expected = technicals_arrays(frame["high"].to_numpy(), frame["low"].to_numpy(), frame["close"].to_numpy())
    for name in TECHNICAL_COLUMNS:
        np.testing.assert_array_equal(technicals[name].to_numpy(), expected[name])


def test_compute_technicals_uses_adjusted_prices(talib):
    frame = price_frame(400, seed=17)
    # A 2:1 split on day 250 (adj = close / 2 before it) and a small dividend drift afterwards.
    factor = np.where(np.arange(400) < 250, 0.5, 1.0) * np.linspace(0.97, 1.0, 400)
    frame["adj_close"] = frame["close"] * factor
    technicals = compute_technicals(frame)
    adjusted = frame["adj_close"].to_numpy()
    assert_matches(technicals["sma_50"].to_numpy(), talib.SMA(adjusted, 50))
    assert_matches(technicals["rsi_14"].to_numpy(), talib.RSI(adjusted, 14))
    expected_atr = talib.ATR(frame["high"].to_numpy() * factor, frame["low"].to_numpy() * factor, adjusted, 14)
    assert_matches(technicals["atr_14"].to_numpy(), expected_atr)


def test_compute_technicals_rejects_unsorted_or_duplicated_dates():
    frame = price_frame(50, seed=18)
    with pytest.raises(ValueError):
        compute_technicals(frame.iloc[::-1])
    with pytest.raises(ValueError):
        compute_technicals(pd.concat([frame, frame.iloc[-1:]]))
    with pytest.raises(ValueError):
        compute_technicals(frame.drop(columns="low"))


# --------------------------------------------------------------------------------------------
# Real data (skipped when ../shared/realdata is absent)
# --------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_matches_talibs_own_output_on_ford_2012():
    path = realdata_dir() / "indicators" / "talib_reference_F_2012.csv"
    if not path.exists():
        pytest.skip(f"real data not found: {path}")
    reference = pd.read_csv(path)
    high, low, close = (reference[key].to_numpy(dtype=float) for key in ("High", "Low", "Close"))

    def column(name: str) -> np.ndarray:
        return reference[name].to_numpy(dtype=float)

    assert_matches(sma(close, 20), column("SMA_20"))
    assert_matches(ema(close, 20), column("EMA_20"))
    assert_matches(rsi(close, 14), column("RSI_14"))
    for ours, name in zip(macd(close, 12, 26, 9), ("MACD", "MACDSIGNAL", "MACDHIST"), strict=True):
        assert_matches(ours, column(f"{name}_12_26_9"))
    upper, middle, lower, pctb = bollinger(close, 20, 2.0)
    assert_matches(upper, column("BBANDS_UPPER_20_2"))
    assert_matches(middle, column("BBANDS_MIDDLE_20_2"))
    assert_matches(lower, column("BBANDS_LOWER_20_2"))
    # STDDEV_20 is TA-Lib's population std with nbdev 1: half of our 2-sigma band width.
    assert_matches((upper - lower) / 4.0, column("STDDEV_20"))
    assert_pctb_matches(pctb, close, column("BBANDS_UPPER_20_2"), column("BBANDS_LOWER_20_2"))
    assert_matches(atr(high, low, close, 14), column("ATR_14"))
    # With period 1 the ATR is the true range itself.
    assert_matches(atr(high, low, close, 1), column("TRANGE"))


REAL_PRICE_COLUMNS = {
    "AAPL_2013-2023_yf_ohlcv.csv": ("Date", "High", "Low", "Close", None),
    "GSPC_2005-2025_yf.csv": ("date", "high", "low", "close", "adjclose"),
    "AAPL_2000-2012_yahoo_adjclose.csv": ("Date", "High", "Low", "Close", "Adj Close"),
}


@pytest.mark.realdata
@pytest.mark.parametrize("file_name", list(REAL_PRICE_COLUMNS))
def test_compute_technicals_matches_talib_on_real_prices(talib, file_name):
    path = realdata_dir() / "prices" / file_name
    if not path.exists():
        pytest.skip(f"real data not found: {path}")
    names = ("date", "high", "low", "close", "adj_close")
    renames = {source: name for source, name in zip(REAL_PRICE_COLUMNS[file_name], names, strict=True) if source}
    frame = pd.read_csv(path, usecols=list(renames)).rename(columns=renames)
    frame["date"] = pd.to_datetime(frame["date"])
    technicals = compute_technicals(frame)

    close = frame["adj_close" if "adj_close" in frame else "close"].to_numpy(dtype=float)
    scale = close / frame["close"].to_numpy(dtype=float)
    high, low = (
        frame["high"].to_numpy(dtype=float) * scale,
        frame["low"].to_numpy(dtype=float) * scale,
    )
    upper, middle, lower = talib.BBANDS(close, 20, 2.0, 2.0, 0)
    line, signal, histogram = talib.MACD(close, 12, 26, 9)
    expected = {
        "sma_20": talib.SMA(close, 20), "sma_50": talib.SMA(close, 50),
        "sma_200": talib.SMA(close, 200),
        "ema_12": talib.EMA(close, 12), "ema_26": talib.EMA(close, 26),
        "macd": line, "macd_signal": signal, "macd_hist": histogram, "rsi_14": talib.RSI(close, 14),
        "bb_upper": upper, "bb_middle": middle, "bb_lower": lower,
        "atr_14": talib.ATR(high, low, close, 14), "ret_simple": talib.ROCP(close, 1),
    }  # fmt: skip
    for name, values in expected.items():
        assert_matches(technicals[name].to_numpy(), values)
