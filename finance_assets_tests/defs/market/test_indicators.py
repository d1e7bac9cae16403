"""The configured indicator set against TA-Lib called directly, lookback, specs, compute_indicators."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

from finance_assets.defs.market import indicators
from finance_assets.defs.market.indicators import IndicatorSpecError, compute_indicators, parse_spec, parse_specs

DEFAULT_SET = indicators.load_indicator_set(indicators.DEFAULT_SET_FILE)
DEFAULT_COLUMNS = [name for indicator in DEFAULT_SET for name in indicator.columns]
TOLERANCE = 1e-9
REPO = Path(__file__).resolve().parents[3]


def realdata_dir() -> Path:
    configured = os.environ.get("FINANCE_ASSETS_REALDATA")
    return Path(configured) if configured else REPO.parent / "shared" / "realdata"


def assert_matches(actual: np.ndarray, expected: np.ndarray, name: str, tolerance: float = TOLERANCE) -> float:
    """Same NaN positions and |actual - expected| <= tolerance * max(1, |expected|); returns max abs diff."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, name
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{name}: NaN positions differ")
    known = ~np.isnan(expected)
    np.testing.assert_allclose(actual[known], expected[known], rtol=tolerance, atol=tolerance, err_msg=name)
    return float(np.abs(actual[known] - expected[known]).max(initial=0.0))


# --------------------------------------------------------------------------------------------
# TA-Lib called directly: the reference for every default column
# --------------------------------------------------------------------------------------------


def direct_reference(o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray, v: np.ndarray) -> dict:
    """Every default column written out as direct TA-Lib calls (hand-written ones: their formulas)."""
    upper, middle, lower = talib.BBANDS(c, 20, 2.0, 2.0, 0)
    macd, signal, hist = talib.MACD(c, 12, 26, 9)
    slowk, slowd = talib.STOCH(h, low, c, 14, 3, 0, 3, 0)
    fastk, fastd = talib.STOCHRSI(c, 14, 14, 3, 0)
    down, up = talib.AROON(h, low, 14)
    close = pd.Series(c)
    log_returns = np.log(close / close.shift(1))
    width = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        pctb = np.where(width > 1e-6 * np.abs(middle), (c - lower) / width, np.nan)
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
        # hand-written: reference formulas
        "ret_simple": (close / close.shift(1) - 1.0).to_numpy(),
        "ret_log": log_returns.to_numpy(),
        "rv_20": (log_returns.rolling(20).std(ddof=1) * np.sqrt(252)).to_numpy(),
        "bb_pctb": pctb,
    }  # fmt: skip


def arrays(frame: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(frame[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close", "volume"))


def assert_default_set_matches_talib(frame: pd.DataFrame) -> dict[str, float]:
    ours = compute_indicators(frame, DEFAULT_SET)
    expected = direct_reference(*arrays(frame))
    assert sorted(expected) == sorted(DEFAULT_COLUMNS), "the reference must cover every default column"
    assert list(ours.columns) == ["date", *DEFAULT_COLUMNS]
    return {name: assert_matches(ours[name].to_numpy(), expected[name], name) for name in DEFAULT_COLUMNS}


def demo_frame(ticker: str = "ACMQ") -> pd.DataFrame:
    from finance_assets.demo.source import adjust_for_splits_and_dividends, demo_ohlcv

    bars = adjust_for_splits_and_dividends(demo_ohlcv(ticker))
    return indicators.adjusted_prices(bars)[["date", "open", "high", "low", "close", "volume"]]


def random_frame(n_days: int, seed: int, start: float = 100.0, daily_vol: float = 0.02) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0.0, daily_vol, n_days)))
    return pd.DataFrame(
        {
            "date": pd.bdate_range("2010-01-01", periods=n_days),
            "open": close * (1 + rng.normal(0.0, 0.003, n_days)),
            "high": close * (1.0 + np.abs(rng.normal(0.0, 0.01, n_days))) * 1.004,
            "low": close * (1.0 - np.abs(rng.normal(0.0, 0.01, n_days))) * 0.996,
            "close": close,
            "volume": rng.lognormal(13.0, 0.4, n_days).round(),
        }
    )


@pytest.mark.parametrize("ticker", ["ACMQ", "BLZQ", "DEMOIDX"])
def test_default_set_equals_talib_on_demo_data(ticker):
    try:
        frame = demo_frame(ticker)
    except KeyError:
        pytest.skip(f"{ticker} is not a demo ticker")
    diffs = assert_default_set_matches_talib(frame)
    talib_columns = [c for c in DEFAULT_COLUMNS if c not in ("ret_simple", "ret_log", "rv_20", "bb_pctb")]
    assert max(diffs[c] for c in talib_columns) == 0.0  # the same TA-Lib calls: bit for bit


SYNTHETIC = {
    "random_walk": lambda: random_frame(1500, seed=1),
    "collapse": lambda: random_frame(2520, seed=2, start=500.0, daily_vol=0.04),
    "penny": lambda: random_frame(600, seed=5, start=0.02, daily_vol=0.05),
    "short": lambda: random_frame(40, seed=6),
    "one_day": lambda: random_frame(1, seed=7),
    "empty": lambda: random_frame(0, seed=8),
}


@pytest.mark.parametrize("series", list(SYNTHETIC))
def test_default_set_equals_talib_on_synthetic_series(series):
    assert_default_set_matches_talib(SYNTHETIC[series]())


def test_flat_prices_have_undefined_pctb_and_zero_volatility():
    frame = random_frame(300, seed=9)
    for column in ("open", "high", "low", "close"):
        frame.loc[150:220, column] = frame.loc[150, "close"]
    out = compute_indicators(frame, ["BB_PCTB(20, 2, 2)", "RV(20)"])
    assert out["bb_pctb_20_2_2"].iloc[169:221].isna().all()  # 20-day windows inside the flat stretch
    assert out["bb_pctb_20_2_2"].iloc[240:].notna().all()
    np.testing.assert_allclose(out["rv_20_252"].iloc[171:221], 0.0, atol=1e-12)
    assert_default_set_matches_talib(frame)


REAL_PRICES = {
    "AAPL_2013-2023_yf_ohlcv.csv": ("Date", "Open", "High", "Low", "Close", "Volume", None),
    "NVDA_2013-2023_yf_ohlcv.csv": ("Date", "Open", "High", "Low", "Close", "Volume", None),
    "GSPC_2005-2025_yf.csv": ("date", "open", "high", "low", "close", "volume", "adjclose"),
    "AAPL_2000-2012_yahoo_adjclose.csv": ("Date", "Open", "High", "Low", "Close", "Volume", "Adj Close"),
}


def real_frame(file_name: str) -> pd.DataFrame:
    path = realdata_dir() / "prices" / file_name
    if not path.exists():
        pytest.skip(f"real data not found: {path}")
    names = ("date", "open", "high", "low", "close", "volume", "adj_close")
    renames = {source: name for source, name in zip(REAL_PRICES[file_name], names, strict=True) if source}
    frame = pd.read_csv(path, usecols=list(renames)).rename(columns=renames)
    frame["date"] = pd.to_datetime(frame["date"])
    frame["volume"] = frame["volume"].astype(float)
    return indicators.adjusted_prices(frame)[["date", "open", "high", "low", "close", "volume"]]


@pytest.mark.realdata
@pytest.mark.parametrize("file_name", list(REAL_PRICES))
def test_default_set_equals_talib_on_real_prices(file_name):
    assert_default_set_matches_talib(real_frame(file_name))


@pytest.mark.realdata
def test_matches_talibs_reference_file_on_ford_2012():
    """A reference computed with TA-Lib 0.8.2 by a separate process (../shared/realdata/SOURCES.md)."""
    path = realdata_dir() / "indicators" / "talib_reference_F_2012.csv"
    if not path.exists():
        pytest.skip(f"real data not found: {path}")
    reference = pd.read_csv(path)
    frame = reference[["Date", "Open", "High", "Low", "Close", "Volume"]].copy()
    frame.columns = ["date", "open", "high", "low", "close", "volume"]
    specs = {
        "SMA_20": "SMA(20)", "EMA_20": "EMA(20)", "WMA_20": "WMA(20)", "DEMA_20": "DEMA(20)", "TEMA_20": "TEMA(20)",
        "RSI_14": "RSI(14)", "MACD_12_26_9": "MACD(12, 26, 9)", "BBANDS_UPPER_20_2": "BBANDS(20, 2, 2)",
        "ATR_14": "ATR(14)", "NATR_14": "NATR(14)", "TRANGE": "TRANGE",
        "STOCH_SLOWK_14_3_3": "STOCH(fastk_period=14, slowk_period=3, slowd_period=3)",
        "ADX_14": "ADX(14)", "PLUS_DI_14": "PLUS_DI(14)", "MINUS_DI_14": "MINUS_DI(14)", "CCI_20": "CCI(20)",
        "WILLR_14": "WILLR(14)", "MFI_14": "MFI(14)", "OBV": "OBV", "AD": "AD", "ROC_10": "ROC(10)",
        "MOM_10": "MOM(10)", "STDDEV_20": "STDDEV(20)", "SAR_0.02_0.2": "SAR(0.02, 0.2)", "AROONOSC_14": "AROONOSC(14)",
    }  # fmt: skip
    ours = compute_indicators(frame, list(dict.fromkeys(specs.values())))
    pairs = {
        "MACDSIGNAL_12_26_9": "macd_macdsignal_12_26_9", "MACDHIST_12_26_9": "macd_macdhist_12_26_9",
        "MACD_12_26_9": "macd_macd_12_26_9", "BBANDS_UPPER_20_2": "bbands_upperband_20_2_2",
        "BBANDS_MIDDLE_20_2": "bbands_middleband_20_2_2", "BBANDS_LOWER_20_2": "bbands_lowerband_20_2_2",
        "STOCH_SLOWK_14_3_3": "stoch_slowk_14_3_3", "STOCH_SLOWD_14_3_3": "stoch_slowd_14_3_3",
        "STDDEV_20": "stddev_20_1", "SAR_0.02_0.2": "sar_0p02_0p2",
    }  # fmt: skip
    for name in reference.columns[6:]:
        column = pairs.get(name, name.lower())
        assert_matches(ours[column].to_numpy(), reference[name].to_numpy(dtype=float), name)


# --------------------------------------------------------------------------------------------
# Lookback: a partition computed from its lookback equals the whole history
# --------------------------------------------------------------------------------------------


def month_starts(dates: pd.Series) -> np.ndarray:
    months = pd.to_datetime(dates).dt.to_period("M").to_numpy()
    return np.flatnonzero(np.r_[True, months[1:] != months[:-1]])


def test_leading_nans_are_talibs_lookback():
    frame = random_frame(800, seed=11)
    out = compute_indicators(frame, DEFAULT_SET)
    for indicator in DEFAULT_SET:
        for name in indicator.columns:
            first = int(np.argmax(out[name].notna().to_numpy()))
            assert first == indicator.lookback, name


@pytest.mark.parametrize("source", ["demo", "real"])
def test_every_column_from_its_lookback_equals_the_whole_history_at_month_boundaries(source):
    frame = demo_frame("BLZQ") if source == "demo" else real_frame("AAPL_2013-2023_yf_ohlcv.csv")
    whole = compute_indicators(frame, DEFAULT_SET)
    columns = {key: frame[key].to_numpy(dtype=np.float64) for key in ("open", "high", "low", "close", "volume")}
    boundaries = month_starts(frame["date"])
    checked = 0
    for indicator in DEFAULT_SET:
        if indicator.memory is None:
            continue  # needs the whole history: the asset reads it (test_whole_history_columns_...)
        for start, end in zip(boundaries[:-1], boundaries[1:]):
            first = start - indicator.memory
            if first < 0:
                continue
            # what compute_indicators runs on one ticker's rows, here from the month's lookback only
            part = indicator.compute({key: values[first:end] for key, values in columns.items()})
            for name, values in zip(indicator.columns, part, strict=True):
                expected = whole[name].to_numpy()[start:end]
                assert_matches(values[start - first :], expected, f"{name} at row {start}")
            checked += 1
    assert checked > 500


def test_whole_history_columns_are_flagged_and_the_asset_reads_the_whole_history():
    frame = demo_frame("ACMQ")
    unbounded = {i.function for i in DEFAULT_SET if i.memory is None}
    assert {"OBV", "AD", "ADOSC", "SAR"} <= unbounded
    # Cumulative sums really depend on where the history starts: a bounded window would be wrong.
    whole = compute_indicators(frame, ["OBV", "AD"])
    late = compute_indicators(frame.iloc[1000:], ["OBV", "AD"])
    assert not np.allclose(late["obv"], whole["obv"].iloc[1000:])
    assert indicators.lookback_months(DEFAULT_SET) is None
    from finance_assets.defs.market import assets
    from finance_assets.lib.config import HISTORY_START

    months_of_history = (pd.Timestamp.today().to_period("M") - pd.Period(HISTORY_START, "M")).n
    assert assets.TECHNICALS_LOOKBACK_MONTHS >= months_of_history + 12 * 50


def test_lookback_months_cover_the_sessions_of_a_bounded_set():
    bounded = [i for i in DEFAULT_SET if i.memory is not None and i.function != "KAMA"]
    sessions = indicators.memory_sessions(bounded)
    months = indicators.lookback_months(bounded)
    assert sessions == max(i.memory for i in bounded) > 500
    # Every month of the exchange calendar: the `months` months before it hold >= `sessions` sessions.
    from finance_assets.demo.source import demo_sessions

    per_month = pd.Series(1, index=demo_sessions()).groupby(lambda d: d.to_period("M")).sum().to_numpy()
    before = np.convolve(per_month, np.ones(months, dtype=int), mode="valid")[:-1]
    assert before.min() >= sessions
    assert indicators.lookback_months([parse_spec("SMA(5)")]) == 2


def test_memory_is_lookback_plus_convergence():
    assert parse_spec("SMA(200)").memory == 199
    ema = parse_spec("EMA(26)")
    alpha = 2 / 27
    assert (1 - alpha) ** (ema.memory - ema.lookback) <= 1e-12 < (1 - alpha) ** (ema.memory - ema.lookback - 1)
    assert parse_spec("ADX(14)").memory > parse_spec("DX(14)").memory > parse_spec("SMA(14)").memory
    assert parse_spec("BBANDS(20, 2, 2, 1)").memory == parse_spec("EMA(20)").memory
    assert parse_spec("OBV").memory is None


# --------------------------------------------------------------------------------------------
# Specs: syntax, names, rejections
# --------------------------------------------------------------------------------------------


def test_names_follow_function_output_and_parameters():
    assert parse_spec("RSI(timeperiod=14)").columns == ("rsi_14",)
    assert parse_spec("STOCH(fastk_period=14, slowk_period=3, slowd_period=3)").columns == (
        "stoch_slowk_14_3_3",
        "stoch_slowd_14_3_3",
    )
    assert parse_spec("BBANDS(20, 2, 2)").columns[0] == "bbands_upperband_20_2_2"
    assert parse_spec("BBANDS(20, 2, 2, matype=1)").columns[0] == "bbands_upperband_20_2_2_1"
    assert parse_spec("MACD(12, 26, 9)").columns[1] == "macd_macdsignal_12_26_9"
    assert parse_spec("sar(0.02, 0.2)").columns == ("sar_0p02_0p2",)
    assert parse_spec("OBV").columns == parse_spec("OBV()").columns == ("obv",)
    assert parse_spec("SMA(5, price='high')").columns == ("sma_5_high",)
    assert parse_spec("MACD(12, 26, 9) as a, b, c").columns == ("a", "b", "c")
    # Positional and keyword forms are the same indicator.
    assert parse_spec("ADX(14)").normalized == parse_spec("ADX(timeperiod=14)").normalized


def test_default_set_keeps_the_names_read_downstream():
    needed = {"rsi_14", "sma_50", "sma_200", "bb_pctb", "ret_simple", "rv_20", "sma_20", "ema_12", "ema_26"}
    needed |= {"macd", "macd_signal", "macd_hist", "bb_upper", "bb_middle", "bb_lower", "atr_14", "ret_log"}
    assert needed <= set(DEFAULT_COLUMNS)
    functions = {i.function for i in DEFAULT_SET}
    required = "SMA EMA WMA DEMA TEMA KAMA MACD RSI STOCH STOCHRSI ADX PLUS_DI MINUS_DI CCI WILLR MFI OBV AD ADOSC"
    required += " ROC MOM CMO ULTOSC AROON AROONOSC BBANDS ATR NATR TRANGE STDDEV SAR RET_SIMPLE RET_LOG RV BB_PCTB"
    assert set(required.split()) <= functions


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("FOO(14)", "unknown function 'FOO'"),
        ("RSII(14)", "did you mean RSI"),
        ("RSI(period=14)", "unknown parameter 'period'"),
        ("RSI(14, 3)", "at most 1 parameters"),
        ("RSI(timeperiod=0)", "rejected by TA-Lib"),
        ("SMA(timeperiod=100001)", "rejected by TA-Lib"),
        ("SMA(timeperiod=2.5)", "whole number"),
        ("SMA(timeperiod='x')", "must be a number"),
        ("BBANDS(20, 2, 2, matype=99)", "rejected by TA-Lib"),
        ("SMA(price='vwap')", "needs input column 'vwap'"),
        ("MAVP(2, 30)", "needs input column 'periods'"),
        ("MACD(12, 26, 9) as a, b", "3 outputs"),
        ("SMA(20) as Bad-Name", "column name"),
        ("SMA(__import__('os'))", "literal"),
        ("RV(1)", "timeperiod must be >= 2"),
        ("", "expected a string"),
    ],
)
def test_bad_specs_are_rejected_naming_the_spec(spec, message):
    with pytest.raises(IndicatorSpecError, match="indicator spec") as error:
        parse_spec(spec)
    assert message in str(error.value)
    assert repr(spec) in str(error.value)


def test_missing_volume_and_duplicate_columns_are_rejected():
    with pytest.raises(IndicatorSpecError, match="'OBV'.*volume"):
        parse_specs(["RSI(14)", "OBV"], columns=["date", "open", "high", "low", "close"])
    with pytest.raises(IndicatorSpecError, match="also produced by"):
        parse_specs(["SMA(20)", "SMA(timeperiod=20)"])
    frame = random_frame(50, seed=3).drop(columns="volume")
    with pytest.raises(IndicatorSpecError, match="'MFI\\(14\\)'"):
        compute_indicators(frame, ["MFI(14)"])


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **env},
        timeout=300,
    )


def test_a_bad_set_fails_when_definitions_load_and_a_changed_set_changes_the_code_version(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("indicators:\n  - RSI(14)\n  - STOCH(fastk=14)\n")
    failed = run_python("import finance_assets.defs.market.assets", FINANCE_ASSETS_INDICATORS=str(bad))
    assert failed.returncode != 0
    assert "STOCH(fastk=14)" in failed.stderr and "unknown parameter 'fastk'" in failed.stderr

    from finance_assets.defs.market import assets

    default_version = assets.technicals.code_versions_by_key[assets.technicals.key]
    changed = tmp_path / "changed.yaml"
    changed.write_text("indicators:\n  - RSI(14)\n  - SMA(50)\n  - SMA(200)\n")
    printed = run_python(
        """
        from finance_assets.defs.market import assets
        print(assets.technicals.code_versions_by_key[assets.technicals.key])
        print(",".join(assets.TECHNICALS_COLUMNS), assets.TECHNICALS_LOOKBACK_MONTHS)
        """,
        FINANCE_ASSETS_INDICATORS=str(changed),
    )
    assert printed.returncode == 0, printed.stderr
    version, columns = printed.stdout.split()[:2]
    assert version != default_version and version.startswith("2-")
    assert columns == "rsi_14,sma_50,sma_200"
    assert int(printed.stdout.split()[2]) == indicators.lookback_months(parse_specs(["RSI(14)", "SMA(200)"]))


def test_set_version_changes_with_any_parameter_or_name():
    base = indicators.set_version(parse_specs(["RSI(14)", "SMA(50)"]))
    assert base == indicators.set_version(parse_specs(["RSI(timeperiod=14)", "SMA(timeperiod=50)"]))
    assert base != indicators.set_version(parse_specs(["RSI(15)", "SMA(50)"]))
    assert base != indicators.set_version(parse_specs(["RSI(14) as rsi", "SMA(50)"]))
    assert base != indicators.set_version(parse_specs(["RSI(14)", "SMA(50)", "OBV"]))


# --------------------------------------------------------------------------------------------
# The public function
# --------------------------------------------------------------------------------------------


def test_public_function_is_exported():
    import finance_assets

    assert finance_assets.compute_indicators is compute_indicators


def test_compute_indicators_per_ticker_in_the_input_order():
    a, b = random_frame(300, seed=21), random_frame(250, seed=22, start=20.0)
    both = pd.concat([a.assign(ticker="AAA"), b.assign(ticker="BBB")], ignore_index=True)
    shuffled = both.sample(frac=1.0, random_state=0)
    specs = ["RSI(14)", "STOCH(fastk_period=14, slowk_period=3, slowd_period=3)", "OBV", "RV(20)"]
    out = compute_indicators(shuffled, specs)
    assert list(out.columns) == [
        "ticker",
        "date",
        "rsi_14",
        "stoch_slowk_14_3_3",
        "stoch_slowd_14_3_3",
        "obv",
        "rv_20_252",
    ]
    np.testing.assert_array_equal(out["date"].to_numpy(), shuffled["date"].to_numpy())
    for ticker, alone in (("AAA", a), ("BBB", b)):
        expected = compute_indicators(alone, specs)
        got = out[out["ticker"] == ticker].sort_values("date").reset_index(drop=True)
        for name in expected.columns[1:]:
            np.testing.assert_array_equal(got[name].to_numpy(), expected[name].to_numpy(), err_msg=name)
    np.testing.assert_array_equal(
        compute_indicators(a, ["RSI(14)"])["rsi_14"].to_numpy(), talib.RSI(a["close"].to_numpy(), 14)
    )


def test_compute_indicators_rejects_duplicate_dates():
    frame = random_frame(50, seed=18)
    with pytest.raises(ValueError, match="one row per date"):
        compute_indicators(pd.concat([frame, frame.iloc[-1:]]), ["SMA(5)"])


def test_adjusted_prices_scale_ohlc_to_the_adjusted_close():
    frame = random_frame(400, seed=17)
    factor = np.where(np.arange(400) < 250, 0.5, 1.0) * np.linspace(0.97, 1.0, 400)
    frame["adj_close"] = frame["close"] * factor
    adjusted = indicators.adjusted_prices(frame)
    np.testing.assert_allclose(adjusted["close"], frame["adj_close"])
    np.testing.assert_allclose(adjusted["high"], frame["high"] * factor)
    np.testing.assert_array_equal(adjusted["volume"], frame["volume"])
    out = compute_indicators(adjusted, ["ATR(14)"])
    expected = talib.ATR(
        frame["high"].to_numpy() * factor, frame["low"].to_numpy() * factor, frame["adj_close"].to_numpy(), 14
    )
    assert_matches(out["atr_14"].to_numpy(), expected, "atr_14")
