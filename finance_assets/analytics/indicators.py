"""Technical indicators with TA-Lib's exact definitions, vectorized with numpy/scipy/bottleneck.

Every function reproduces the TA-Lib C library (checked against TA-Lib 0.8.x) including its
seeds and warm-up: outputs are NaN exactly where TA-Lib's are NaN and equal TA-Lib's values to
floating-point rounding afterwards.

Shapes: every function accepts a 1-D array (one series) or a 2-D array of shape
``(n_series, n_days)``; the computation runs along the last axis, each row independently, and the
output has the input's shape. Rows may start with NaN (a ticker listed later than others): like
the TA-Lib Python wrapper, the computation then starts at the row's first non-NaN value. A NaN
*inside* a series is not part of the TA-Lib contract: windowed indicators (SMA, Bollinger,
realized volatility) are NaN while it is in their window, recursive ones (EMA, MACD, RSI, ATR)
stay NaN after it.

Every value at day ``t`` depends only on days ``<= t`` and is computed by the same sequence of
floating-point operations whatever the series length, so computing on ``history[:k]`` gives
exactly the first ``k`` values of computing on the whole history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import bottleneck as bn
import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import lfilter

FloatArray = npt.NDArray[np.float64]

SMA_PERIODS = (20, 50, 200)
EMA_PERIODS = (12, 26)
MACD_PERIODS = (12, 26, 9)
RSI_PERIOD = 14
BOLLINGER_PERIOD = 20
BOLLINGER_NBDEV = 2.0
ATR_PERIOD = 14
REALIZED_VOL_WINDOW = 20
TRADING_DAYS_PER_YEAR = 252

TECHNICAL_COLUMNS: tuple[str, ...] = (
    "sma_20",
    "sma_50",
    "sma_200",
    "ema_12",
    "ema_26",
    "macd",
    "macd_signal",
    "macd_hist",
    "rsi_14",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "bb_pctb",
    "atr_14",
    "ret_simple",
    "ret_log",
    "rv_20",
)

# Leading NaN rows of each output (TA-Lib's "lookback"); the longest one is LOOKBACK_DAYS.
_LOOKBACKS = {
    **{f"sma_{p}": p - 1 for p in SMA_PERIODS},
    **{f"ema_{p}": p - 1 for p in EMA_PERIODS},
    "macd": MACD_PERIODS[1] - 1 + MACD_PERIODS[2] - 1,
    "rsi_14": RSI_PERIOD,
    "bb": BOLLINGER_PERIOD - 1,
    "atr_14": ATR_PERIOD,
    "ret": 1,
    "rv_20": REALIZED_VOL_WINDOW,
}
LOOKBACK_DAYS: int = max(_LOOKBACKS.values())
"""Index of the first day on which every technical column is defined (199, set by SMA 200)."""

# Below this weight a re-seeding correction of an EMA is under one ulp of the EMA itself.
_NEGLIGIBLE_WEIGHT = 2.0**-60
# Windows per restart of the running variance (bounds its drift; see _rolling_variance_into).
_VARIANCE_CHUNK = 256
# Variance / price^2 below which a window may be flat and is checked value by value.
_FLAT_RELATIVE_VARIANCE = 1e-12


# --------------------------------------------------------------------------------------------
# Shape handling shared by the public functions
# --------------------------------------------------------------------------------------------


def _as_rows(x: npt.ArrayLike) -> FloatArray:
    rows = np.asarray(x, dtype=np.float64)
    if rows.ndim not in (1, 2):
        raise ValueError(f"expected a 1-D or 2-D array (n_series, n_days), got shape {rows.shape}")
    return np.atleast_2d(rows)


def _check_period(period: int, minimum: int = 1) -> int:
    if int(period) != period or period < minimum:
        raise ValueError(f"period must be an integer >= {minimum}, got {period!r}")
    return int(period)


def _first_valid_day(rows: Sequence[FloatArray]) -> npt.NDArray[np.intp]:
    """Per row, the first day on which every input is non-NaN (n_days when there is none)."""
    valid = ~np.isnan(rows[0])
    for other in rows[1:]:
        valid &= ~np.isnan(other)
    return np.where(valid.any(axis=-1), valid.argmax(axis=-1), valid.shape[-1])


def _apply_by_row(
    kernel: Callable[..., tuple[FloatArray, ...]],
    inputs: Sequence[npt.ArrayLike],
    n_outputs: int,
) -> tuple[FloatArray, ...]:
    """Run a 2-D kernel on the inputs, restarting rows that begin with NaN at their first value.

    Rows without leading NaN (the usual case) go through the kernel in one vectorized call.
    """
    one_dimensional = np.ndim(inputs[0]) == 1
    rows = [_as_rows(x) for x in inputs]
    if any(r.shape != rows[0].shape for r in rows):
        raise ValueError(f"inputs must have the same shape, got {[r.shape for r in rows]}")
    starts_with_nan = np.zeros(rows[0].shape[0], dtype=bool)
    if rows[0].shape[-1]:
        for r in rows:
            starts_with_nan |= np.isnan(r[:, 0])
    if not starts_with_nan.any():
        outputs = kernel(*rows)
    else:
        outputs = tuple(np.full(rows[0].shape, np.nan) for _ in range(n_outputs))
        clean = ~starts_with_nan
        if clean.any():
            for out, part in zip(outputs, kernel(*(r[clean] for r in rows))):
                out[clean] = part
        late_rows = np.flatnonzero(starts_with_nan)
        for row, first in zip(late_rows, _first_valid_day([r[late_rows] for r in rows])):
            for out, part in zip(outputs, kernel(*(r[row : row + 1, first:] for r in rows))):
                out[row, first:] = part[0]
    return tuple(out[0] if one_dimensional else out for out in outputs)


# --------------------------------------------------------------------------------------------
# 2-D kernels: (n_series, n_days) float64 in, same shape out, no leading NaN expected
# --------------------------------------------------------------------------------------------


def _nan_like(x: FloatArray) -> FloatArray:
    return np.full(x.shape, np.nan)


def _sma_rows(x: FloatArray, period: int) -> FloatArray:
    if x.shape[-1] < period:
        return _nan_like(x)
    return bn.move_mean(x, period, axis=-1)


def _rolling_variance_into(out: FloatArray, x: FloatArray, window: int, ddof: int) -> None:
    """Variance of every complete `window` of x (out[:, k] covers x[:, k : k + window]).

    bottleneck's running variance drifts over long series (its error grows with everything that
    went through the window before), so it is restarted on overlapping chunks of
    _VARIANCE_CHUNK windows: the error then stays near rounding of the recent prices.
    """
    n_series, n_days = x.shape
    n_windows = n_days - window + 1
    n_chunks = -(-n_windows // _VARIANCE_CHUNK)
    chunk_days = _VARIANCE_CHUNK + window - 1
    padded_days = n_chunks * _VARIANCE_CHUNK + window - 1
    if padded_days > n_days:  # pad with a finite value; the padded windows are dropped
        padded = np.empty((n_series, padded_days))
        padded[:, :n_days] = x
        padded[:, n_days:] = x[:, -1:]
    else:
        padded = x
    chunks = sliding_window_view(padded, chunk_days, axis=-1)[:, :: _VARIANCE_CHUNK]
    chunks = np.ascontiguousarray(chunks).reshape(n_series * n_chunks, chunk_days)
    variance = bn.move_var(chunks, window, axis=-1, ddof=ddof)[:, window - 1 :]
    out[:] = variance.reshape(n_series, n_chunks * _VARIANCE_CHUNK)[:, :n_windows]
    np.maximum(out, 0.0, out=out)


def _recursive_smoothing(
    values: FloatArray, seed: FloatArray, seed_day: int, alpha: float
) -> FloatArray:
    """out[seed_day] = seed, then out[t] = out[t-1] + alpha * (values[t] - out[t-1]); NaN before."""
    out = np.empty(values.shape)
    out[:, :seed_day] = np.nan
    out[:, seed_day] = seed
    tail = values[:, seed_day + 1 :]
    if tail.shape[-1]:
        initial_state = ((1.0 - alpha) * seed)[:, None]
        out[:, seed_day + 1 :], _ = lfilter(
            [alpha], [1.0, alpha - 1.0], tail, axis=-1, zi=initial_state
        )
    return out


def _window_mean(x: FloatArray, last_day: int, period: int) -> FloatArray:
    return x[:, last_day + 1 - period : last_day + 1].sum(axis=-1) / period


def _ema_rows(x: FloatArray, period: int) -> FloatArray:
    """TA-Lib EMA: k = 2/(period+1), seeded on day period-1 with the mean of the first window."""
    if x.shape[-1] < period:
        return _nan_like(x)
    return _recursive_smoothing(x, _window_mean(x, period - 1, period), period - 1, 2.0 / (period + 1))


def _add_reseed_correction(
    target: FloatArray, ema_values: FloatArray, period: int, seed_day: int, seed: FloatArray
) -> None:
    """Add to target the change of an EMA when it is restarted from `seed` on `seed_day`.

    The EMA recursion is linear: restarting it moves every later value by the seed difference
    times (1 - k)^days, which is cheaper than running the filter again.
    """
    decay_factor = 1.0 - 2.0 / (period + 1)
    n_days = target.shape[-1] - seed_day
    if decay_factor > 0.0:
        n_days = min(n_days, int(np.log(_NEGLIGIBLE_WEIGHT) / np.log(decay_factor)) + 1)
    else:  # period 1: the EMA is the input itself, only the seed day changes
        n_days = min(n_days, 1)
    decay = decay_factor ** np.arange(n_days)
    target[:, seed_day : seed_day + n_days] += (seed - ema_values[:, seed_day])[:, None] * decay


def _macd_rows(
    x: FloatArray,
    fast: int,
    slow: int,
    signal: int,
    ema_fast: FloatArray | None = None,
    ema_slow: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """TA-Lib MACD; reuses plain EMAs (seeded on day period-1) when the caller already has them."""
    if slow < fast:  # TA-Lib swaps them
        fast, slow = slow, fast
        ema_fast, ema_slow = ema_slow, ema_fast
    first_line_day = slow - 1
    signal_day = first_line_day + signal - 1
    if x.shape[-1] <= signal_day:
        return _nan_like(x), _nan_like(x), _nan_like(x)
    ema_slow = _ema_rows(x, slow) if ema_slow is None else ema_slow
    ema_fast = _ema_rows(x, fast) if ema_fast is None else ema_fast
    line = ema_fast - ema_slow
    # TA-Lib starts the fast EMA on the slow EMA's first day, seeded with the mean of the `fast`
    # closes ending there, instead of on day fast-1.
    fast_seed = _window_mean(x, first_line_day, fast)
    _add_reseed_correction(line, ema_fast, fast, first_line_day, fast_seed)
    signal_seed = _window_mean(line, signal_day, signal)
    signal_line = _recursive_smoothing(line, signal_seed, signal_day, 2.0 / (signal + 1))
    line[:, :signal_day] = np.nan
    return line, signal_line, line - signal_line


def _rsi_from_changes(changes: FloatArray, period: int) -> FloatArray:
    """TA-Lib RSI from close-to-close changes (changes[:, t-1] = close[t] - close[t-1])."""
    n_series, n_days = changes.shape[0], changes.shape[-1] + 1
    if n_days <= period:
        return np.full((n_series, n_days), np.nan)
    gains = np.maximum(changes, 0.0)
    losses = gains - changes
    alpha = 1.0 / period
    average_gain = _recursive_smoothing(gains, _window_mean(gains, period - 1, period), period - 1, alpha)
    average_loss = _recursive_smoothing(losses, _window_mean(losses, period - 1, period), period - 1, alpha)
    average_move = average_gain + average_loss
    out = np.zeros((n_series, n_days))
    out[:, 0] = np.nan
    # TA-Lib answers 0 where prices never moved (no gain, no loss); NaN warm-up stays NaN.
    np.divide(average_gain, average_move, out=out[:, 1:], where=average_move != 0.0)
    out *= 100.0
    return out


def _rsi_rows(x: FloatArray, period: int) -> FloatArray:
    if x.shape[-1] <= period:
        return _nan_like(x)
    return _rsi_from_changes(np.diff(x, axis=-1), period)


def _zero_flat_windows(variance: FloatArray, x: FloatArray, mean: FloatArray, period: int) -> None:
    """Set the variance to exactly 0 on windows whose prices are all equal, as TA-Lib does.

    A running variance can keep a rounding residue there; only windows whose variance is already
    negligible against the price level are inspected.
    """
    with np.errstate(invalid="ignore"):
        candidate_series, candidate_days = np.nonzero(variance <= _FLAT_RELATIVE_VARIANCE * mean * mean)
    if candidate_series.size == 0:
        return
    windows = sliding_window_view(x, period, axis=-1)[candidate_series, candidate_days]
    flat = (windows == windows[:, :1]).all(axis=-1)
    variance[candidate_series[flat], candidate_days[flat]] = 0.0


def _bollinger_rows(
    x: FloatArray, period: int, nbdev: float, middle: FloatArray | None = None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    if x.shape[-1] < period:
        return _nan_like(x), _nan_like(x), _nan_like(x), _nan_like(x)
    middle = _sma_rows(x, period) if middle is None else middle
    width = np.empty(x.shape)
    width[:, : period - 1] = np.nan
    variance = width[:, period - 1 :]
    _rolling_variance_into(variance, x, period, ddof=0)
    _zero_flat_windows(variance, x, middle[:, period - 1 :], period)
    np.sqrt(variance, out=variance)
    width *= nbdev
    upper = middle + width
    lower = middle - width
    band_range = np.subtract(upper, lower, out=width)
    pctb = np.full(x.shape, np.nan)
    with np.errstate(invalid="ignore"):
        np.divide(x - lower, band_range, out=pctb, where=band_range > 0.0)
    return upper, middle, lower, pctb


def _true_range_rows(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """TA-Lib TRANGE: max(high-low, |high-prev close|, |low-prev close|), NaN on day 0."""
    previous_close = close[:, :-1]
    true_range = np.empty(close.shape)
    true_range[:, 0] = np.nan
    today_range = np.subtract(high[:, 1:], low[:, 1:], out=true_range[:, 1:])
    gap = np.subtract(high[:, 1:], previous_close)
    np.maximum(today_range, np.abs(gap, out=gap), out=today_range)
    np.subtract(low[:, 1:], previous_close, out=gap)
    np.maximum(today_range, np.abs(gap, out=gap), out=today_range)
    return true_range


def _atr_rows(high: FloatArray, low: FloatArray, close: FloatArray, period: int) -> FloatArray:
    """TA-Lib ATR: seeded on day `period` with the mean of TR over days 1..period, then Wilder."""
    if close.shape[-1] <= period:
        return _nan_like(close)
    true_range = _true_range_rows(high, low, close)
    return _recursive_smoothing(true_range, _window_mean(true_range, period, period), period, 1.0 / period)


def _returns_rows(x: FloatArray, changes: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
    """(simple, log) daily returns; `changes` is np.diff(x) when the caller already has it."""
    simple = np.empty(x.shape)
    log = np.empty(x.shape)
    simple[:, :1] = np.nan
    log[:, :1] = np.nan
    previous = x[:, :-1]
    changes = np.diff(x, axis=-1) if changes is None else changes
    np.divide(changes, previous, out=simple[:, 1:])
    np.log(np.divide(x[:, 1:], previous, out=log[:, 1:]), out=log[:, 1:])
    return simple, log


def _realized_volatility_from_log_returns(
    log_returns: FloatArray, window: int, periods_per_year: float
) -> FloatArray:
    """Annualized sample std of the `window` log returns ending on each day (day 0 has none)."""
    volatility = np.empty(log_returns.shape)
    volatility[:, :window] = np.nan
    if log_returns.shape[-1] <= window:
        volatility[:] = np.nan
        return volatility
    variance = volatility[:, window:]
    _rolling_variance_into(variance, log_returns[:, 1:], window, ddof=1)
    variance *= periods_per_year
    np.sqrt(variance, out=variance)
    return volatility


# --------------------------------------------------------------------------------------------
# Public indicators
# --------------------------------------------------------------------------------------------


def sma(x: npt.ArrayLike, period: int) -> FloatArray:
    """Simple moving average (TA-Lib SMA): first value on day period-1."""
    period = _check_period(period)
    return _apply_by_row(lambda r: (_sma_rows(r, period),), [x], 1)[0]


def ema(x: npt.ArrayLike, period: int) -> FloatArray:
    """Exponential moving average (TA-Lib EMA): k = 2/(period+1), seeded with the SMA of the first window."""
    period = _check_period(period)
    return _apply_by_row(lambda r: (_ema_rows(r, period),), [x], 1)[0]


def macd(
    close: npt.ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """TA-Lib MACD: (line, signal, histogram), all first defined on day slow-1 + signal-1.

    As in TA-Lib, the fast EMA starts on the slow EMA's first day (seeded with the mean of the
    `fast` closes ending there), and the signal EMA is seeded with the mean of the first `signal`
    MACD values.
    """
    fast, slow, signal = (_check_period(p) for p in (fast, slow, signal))
    return _apply_by_row(lambda r: _macd_rows(r, fast, slow, signal), [close], 3)


def rsi(close: npt.ArrayLike, period: int = 14) -> FloatArray:
    """TA-Lib RSI (Wilder): first value on day `period`; 0 where prices never moved."""
    period = _check_period(period)
    return _apply_by_row(lambda r: (_rsi_rows(r, period),), [close], 1)[0]


def bollinger(
    close: npt.ArrayLike, period: int = 20, nbdev: float = 2.0
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """TA-Lib BBANDS with an SMA middle band and population std: (upper, middle, lower, %b).

    %b = (close - lower) / (upper - lower); it is NaN where the bands have zero width (a flat
    window), where it is undefined.
    """
    period = _check_period(period, minimum=2)
    return _apply_by_row(lambda r: _bollinger_rows(r, period, float(nbdev)), [close], 4)


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14) -> FloatArray:
    """TA-Lib ATR: Wilder average of the true range, seeded with its SMA; first value on day `period`."""
    period = _check_period(period)
    return _apply_by_row(lambda h, l, c: (_atr_rows(h, l, c, period),), [high, low, close], 1)[0]


def simple_returns(close: npt.ArrayLike) -> FloatArray:
    """Daily simple return (close[t] - close[t-1]) / close[t-1] (TA-Lib ROCP(1)); NaN on day 0."""
    rows = _as_rows(close)
    simple, _ = _returns_rows(rows)
    return simple[0] if np.ndim(close) == 1 else simple


def log_returns(close: npt.ArrayLike) -> FloatArray:
    """Daily log return ln(close[t] / close[t-1]); NaN on day 0."""
    rows = _as_rows(close)
    _, log = _returns_rows(rows)
    return log[0] if np.ndim(close) == 1 else log


def realized_volatility(
    close: npt.ArrayLike, window: int = 20, periods_per_year: float = 252
) -> FloatArray:
    """Annualized realized volatility.

    Definition: on day t, the sample standard deviation (ddof=1) of the `window` daily log returns
    ln(close[s] / close[s-1]) for s = t-window+1 .. t, multiplied by sqrt(periods_per_year).
    First value on day `window` (the first return is on day 1). NaN while a window holds a NaN.
    """
    window = _check_period(window, minimum=2)
    rows = _as_rows(close)
    _, log = _returns_rows(rows)
    volatility = _realized_volatility_from_log_returns(log, window, periods_per_year)
    return volatility[0] if np.ndim(close) == 1 else volatility


# --------------------------------------------------------------------------------------------
# The whole technical set
# --------------------------------------------------------------------------------------------


def _technicals_rows(high: FloatArray, low: FloatArray, close: FloatArray) -> tuple[FloatArray, ...]:
    """All TECHNICAL_COLUMNS, in order, sharing intermediate results between indicators."""
    smas = {period: _sma_rows(close, period) for period in SMA_PERIODS}
    ema_fast = _ema_rows(close, EMA_PERIODS[0])
    ema_slow = _ema_rows(close, EMA_PERIODS[1])
    macd_line, macd_signal, macd_hist = _macd_rows(close, *MACD_PERIODS, ema_fast, ema_slow)
    changes = np.diff(close, axis=-1)
    rsi_values = _rsi_from_changes(changes, RSI_PERIOD)
    upper, middle, lower, pctb = _bollinger_rows(
        close, BOLLINGER_PERIOD, BOLLINGER_NBDEV, middle=smas[BOLLINGER_PERIOD]
    )
    atr_values = _atr_rows(high, low, close, ATR_PERIOD)
    simple, log = _returns_rows(close, changes)
    volatility = _realized_volatility_from_log_returns(log, REALIZED_VOL_WINDOW, TRADING_DAYS_PER_YEAR)
    return (
        *smas.values(),
        ema_fast,
        ema_slow,
        macd_line,
        macd_signal,
        macd_hist,
        rsi_values,
        upper,
        middle.copy(),
        lower,
        pctb,
        atr_values,
        simple,
        log,
        volatility,
    )


def technicals_arrays(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike
) -> dict[str, FloatArray]:
    """Every TECHNICAL_COLUMNS indicator for 1-D or (n_series, n_days) price arrays.

    Rows that begin with NaN start at the first day on which high, low and close are all known.
    """
    outputs = _apply_by_row(_technicals_rows, [high, low, close], len(TECHNICAL_COLUMNS))
    return dict(zip(TECHNICAL_COLUMNS, outputs))


def compute_technicals(prices: pd.DataFrame) -> pd.DataFrame:
    """Technical indicators of one ticker's daily prices.

    ``prices`` has columns date, open, high, low, close, volume, sorted by date. When an
    ``adj_close`` column is present, close-based indicators use ``adj_close`` and the ATR uses
    high and low scaled by adj_close / close (so ranges are on the same adjusted scale as closes).
    Returns ``date`` plus TECHNICAL_COLUMNS, one row per input row.
    """
    missing = {"date", "high", "low", "close"} - set(prices.columns)
    if missing:
        raise ValueError(f"prices is missing columns {sorted(missing)}")
    dates = pd.Series(prices["date"]).reset_index(drop=True)
    if not (dates.is_monotonic_increasing and dates.is_unique):
        raise ValueError("prices must hold one row per date, sorted by date")
    high = prices["high"].to_numpy(dtype=np.float64)
    low = prices["low"].to_numpy(dtype=np.float64)
    close = prices["close"].to_numpy(dtype=np.float64)
    if "adj_close" in prices.columns:
        adjusted_close = prices["adj_close"].to_numpy(dtype=np.float64)
        adjustment = adjusted_close / close
        high, low, close = high * adjustment, low * adjustment, adjusted_close
    columns = technicals_arrays(high, low, close)
    return pd.DataFrame({"date": dates, **columns})
