"""compute_indicators' TA-Lib C path (ctypes, outputs written into the result columns) against the
TA-Lib wrapper called per ticker: bit-identical values and NaN positions, for every C function, on
series with NaNs at the start and inside, very short and all-NaN series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from finance_assets.defs.market import indicators
from finance_assets.defs.market.indicators import compute_indicators, parse_spec, random_ohlcv

PRICES = ("open", "high", "low", "close", "volume")


def awkward_panel() -> pd.DataFrame:
    """Tickers of many lengths, with NaNs leading, inside the series and in only one input."""
    series = {
        "LONG": random_ohlcv(400, 1),
        "LEADNAN": random_ohlcv(120, 2),
        "INSIDE": random_ohlcv(150, 3),
        "VOLGAP": random_ohlcv(90, 4),
        "ONE": random_ohlcv(1, 5),
        "TWO": random_ohlcv(2, 6),
        "FIVE": random_ohlcv(5, 7),
        "ALLNAN": {k: np.full(30, np.nan) for k in PRICES},
        "NANTAIL": random_ohlcv(60, 8),
    }
    for k in PRICES:
        series["LEADNAN"][k][:7] = np.nan
    series["LEADNAN"]["close"][7] = np.nan  # one more, close only
    for k in PRICES:
        series["INSIDE"][k][70:73] = np.nan
    series["INSIDE"]["high"][100] = np.nan
    series["VOLGAP"]["volume"][40] = np.nan
    series["NANTAIL"]["close"][-5:] = np.nan
    frames = [
        pd.DataFrame({"ticker": name, "date": pd.bdate_range("2015-01-01", periods=len(cols["close"])), **cols})
        for name, cols in series.items()
    ]
    return pd.concat(frames, ignore_index=True)


def wrapper_reference(frame: pd.DataFrame, spec: indicators.Indicator) -> list[np.ndarray]:
    """The spec's TA-Lib wrapper function called per ticker, outputs concatenated as float64."""
    parts: list[list[np.ndarray]] = [[] for _ in spec.columns]
    for _, rows in frame.groupby("ticker", sort=False):
        with np.errstate(all="ignore"):
            result = spec.compute({k: rows[k].to_numpy(dtype=np.float64) for k in PRICES})
        for part, values in zip(parts, result):
            part.append(np.asarray(values, dtype=np.float64))
    return [np.concatenate(part) for part in parts]


def assert_bit_identical(actual: np.ndarray, expected: np.ndarray, name: str) -> None:
    assert actual.dtype == expected.dtype == np.float64, name
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{name}: NaN positions differ")
    np.testing.assert_array_equal(actual.view(np.int64), expected.view(np.int64), err_msg=name)


def c_specs() -> list[indicators.Indicator]:
    """Every TA-Lib function the C path has, with its default parameters (those needing other inputs
    than OHLCV left out)."""
    specs = []
    for name in sorted(indicators._c_functions()):
        if name not in talib.get_functions():
            continue
        try:
            specs.append(parse_spec(name))
        except indicators.IndicatorSpecError:
            continue
    return specs


def test_the_c_api_is_reachable_and_covers_the_default_set():
    functions = indicators._c_functions()
    assert len(functions) > 100, "TA-Lib's C functions should be callable through the wrapper's library"
    default = indicators.load_indicator_set(indicators.DEFAULT_SET_FILE)
    wrapped = [i.function for i in default if indicators._c_plan(i) is None]
    assert wrapped == [], "every default spec, hand-written ones included, should take the C path"


def test_every_c_function_is_bit_identical_to_the_wrapper():
    frame = awkward_panel()
    specs = c_specs()
    assert len(specs) > 100
    out = compute_indicators(frame, specs)
    missing = [s.function for s in specs if indicators._c_plan(s) is None]
    assert not missing, f"C path not taken for {missing}"
    for spec in specs:
        for name, expected in zip(spec.columns, wrapper_reference(frame, spec)):
            assert_bit_identical(out[name].to_numpy(), expected, name)


@pytest.mark.parametrize(
    "spec",
    [
        "BBANDS(timeperiod=10, nbdevup=1.5, nbdevdn=2.5, matype=1)",
        "MA(timeperiod=12, matype=3)",
        "MA(timeperiod=9, matype=8)",
        "STOCH(fastk_period=9, slowk_period=4, slowk_matype=1, slowd_period=5, slowd_matype=2)",
        "STOCHF(fastk_period=7, fastd_period=3, fastd_matype=1)",
        "STOCHRSI(timeperiod=10, fastk_period=5, fastd_period=4, fastd_matype=6)",
        "MACDEXT(fastperiod=8, fastmatype=1, slowperiod=21, slowmatype=2, signalperiod=5, signalmatype=4)",
        "APO(fastperiod=5, slowperiod=15, matype=1)",
        "SAREXT(startvalue=0.01, accelerationinitlong=0.03)",
        "SMA(timeperiod=5, price='high')",
        "T3(timeperiod=7, vfactor=0.6)",
        "RET_SIMPLE",
        # integer outputs: the wrapper path, cast to float
        "CDLDOJI",
        "MINMAXINDEX(timeperiod=10)",
        "HT_TRENDMODE",
        # hand-written: the wrapper path
        "RET_LOG",
        "RV(timeperiod=10)",
        "BB_PCTB(timeperiod=15)",
    ],
)
def test_parameters_and_fallbacks_are_bit_identical_to_the_wrapper(spec):
    frame = awkward_panel()
    parsed = parse_spec(spec)
    out = compute_indicators(frame, [parsed])
    for name, expected in zip(parsed.columns, wrapper_reference(frame, parsed)):
        assert_bit_identical(out[name].to_numpy(), expected, name)


def test_without_the_c_api_the_wrapper_gives_the_same_table(monkeypatch):
    frame = awkward_panel()
    specs = indicators.load_indicator_set(indicators.DEFAULT_SET_FILE)
    fast = compute_indicators(frame, specs)
    monkeypatch.setattr(indicators, "_c_plan", lambda indicator: None)
    slow = compute_indicators(frame, specs)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    for name in fast.columns[2:]:
        assert_bit_identical(fast[name].to_numpy(), slow[name].to_numpy(), name)


def test_unordered_rows_and_a_single_series():
    frame = awkward_panel()
    specs = [parse_spec(s) for s in ("EMA(10)", "ADX(5)", "MFI(7)", "OBV")]
    shuffled = frame.sample(frac=1.0, random_state=3)
    out = compute_indicators(shuffled, specs).set_index(["ticker", "date"])
    ordered = compute_indicators(frame, specs).set_index(["ticker", "date"]).loc[out.index]
    pd.testing.assert_frame_equal(out, ordered, check_exact=True)
    alone = frame[frame["ticker"] == "INSIDE"].drop(columns="ticker").reset_index(drop=True)
    single = compute_indicators(alone, specs)
    for spec in specs:
        for name, expected in zip(spec.columns, wrapper_reference(alone.assign(ticker="X"), spec)):
            assert_bit_identical(single[name].to_numpy(), expected, name)


def test_empty_prices():
    frame = awkward_panel().iloc[:0]
    out = compute_indicators(frame, ["SMA(5)", "MACD"])
    assert len(out) == 0
    assert list(out.columns) == [
        "ticker",
        "date",
        "sma_5",
        "macd_macd_12_26_9",
        "macd_macdsignal_12_26_9",
        "macd_macdhist_12_26_9",
    ]


def test_the_unstable_period_setting_is_shared_with_the_wrapper():
    frame = awkward_panel()
    spec = parse_spec("EMA(timeperiod=10)")
    talib.set_unstable_period("EMA", 25)
    try:
        out = compute_indicators(frame, [spec])["ema_10"].to_numpy()
        expected = wrapper_reference(frame, spec)[0]
    finally:
        talib.set_unstable_period("EMA", 0)
    assert_bit_identical(out, expected, "ema_10")
    assert np.isnan(out[: 10 - 1 + 25]).all()


def test_a_bad_parameter_raises_the_wrappers_error():
    step = indicators._CStep("SMA", indicators._c_functions()["SMA"].call, (0,), 0)
    close = np.arange(10.0)
    with pytest.raises(Exception, match="TA_SMA function failed with error code 2: Bad Parameter"):
        indicators._c_run(step, [close], [np.empty(10)], [0, 10], [0])
    with pytest.raises(ValueError, match="contiguous float64"):
        indicators._c_run(step, [close[::2]], [np.empty(10)], [0, 5], [0])
    assert indicators._c_step("SMA", (0,)) is None  # TA-Lib's lookback rejects it


def test_hand_written_plans_are_bit_identical_to_their_functions():
    frame = awkward_panel()
    specs = [
        parse_spec(s)
        for s in ("RET_SIMPLE", "RET_LOG", "RV(timeperiod=7, periods_per_year=52)", "BB_PCTB(9, 1.5, 2.5, 1)")
    ]
    assert all(indicators._c_plan(s) is not None for s in specs)
    out = compute_indicators(frame, specs)
    for spec in specs:
        (expected,) = wrapper_reference(frame, spec)
        assert_bit_identical(out[spec.columns[0]].to_numpy(), expected, spec.columns[0])
    # a flat stretch: %b undefined where the bands collapse
    flat = frame.copy()
    flat.loc[flat["ticker"] == "LONG", ["open", "high", "low", "close"]] = 42.0
    pctb = parse_spec("BB_PCTB(20, 2, 2)")
    (expected,) = wrapper_reference(flat, pctb)
    assert_bit_identical(compute_indicators(flat, [pctb])["bb_pctb_20_2_2"].to_numpy(), expected, "bb_pctb")
    assert np.isnan(expected[:400]).all()


def test_categorical_tickers():
    frame = awkward_panel()
    specs = ["SMA(5)", "RSI(3)", "RV(5)"]
    plain = compute_indicators(frame, specs)
    categorical = compute_indicators(frame.astype({"ticker": "category"}), specs)
    pd.testing.assert_frame_equal(plain, categorical.astype({"ticker": object}), check_exact=True)
    shuffled = frame.sample(frac=1.0, random_state=5).astype({"ticker": "category"})
    out = compute_indicators(shuffled, specs).astype({"ticker": object}).set_index(["ticker", "date"])
    pd.testing.assert_frame_equal(out, plain.set_index(["ticker", "date"]).loc[out.index], check_exact=True)
