"""Technical indicators chosen by configuration, computed by TA-Lib (docs/indicators.md).

An indicator is a *spec*: a TA-Lib function call written with TA-Lib's own parameter names, e.g.
``"STOCH(fastk_period=14, slowk_period=3, slowd_period=3)"`` (positional values follow TA-Lib's
parameter order: ``"BBANDS(20, 2, 2)"``), optionally followed by ``as`` and one name per output
(``"MACD(12, 26, 9) as macd, macd_signal, macd_hist"``). A spec is parsed and checked against
``talib.abstract.Function`` (function, parameter names and types, TA-Lib's own parameter ranges by a
trial call, input columns); the computation calls TA-Lib per ticker: its C functions through the C
library the ``ta-lib`` wrapper links, writing straight into the result columns, each exactly the call
the wrapper makes (checked bit for bit against it), else the wrapper's functions.

Column names, unless given with ``as``: ``{function}_{params}`` for one output (``rsi_14``) and
``{function}_{output}_{params}`` with TA-Lib's output name for several (``stoch_slowk_14_3_3``), in
lower case; the parameter values are all of the function's parameters in TA-Lib's order, except MA
types (``*matype``) left at their default; a decimal point is written ``p`` (``sar_0p02_0p2``).

Hand-written functions, only for what TA-Lib lacks (each checked against its formula in tests):
``RET_SIMPLE()``, ``RET_LOG()``, ``RV(timeperiod, periods_per_year)`` and
``BB_PCTB(timeperiod, nbdevup, nbdevdn, matype)``.

Lookback: TA-Lib's ``Function(...).lookback`` is the number of leading NaN rows. A value on day t
depends on the ``memory`` sessions before it: the lookback plus, for recursive (TA-Lib "unstable
period") functions, the sessions their slowest smoothing factor a needs to forget the seed to 1e-12,
ln(1e-12) / ln(1 - a) per nested smoothing. Functions that never forget (cumulative OBV/AD/ADOSC,
path-dependent SAR, the adaptive MAMA and Hilbert-transform family) need the whole history
(``memory`` None).

This module is pure: no Dagster.
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import difflib
import functools
import hashlib
import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import talib
import talib.abstract

FloatArray = npt.NDArray[np.float64]

PRICE_INPUTS = ("open", "high", "low", "close", "volume")
TRADING_DAYS_PER_YEAR = 252
DEFAULT_SET_FILE = Path(__file__).with_name("indicators.yaml")
"""Path of a YAML file replacing the default set (same shape as indicators.yaml)."""

# A recursive filter forgets its seed once (1 - a)^n <= this.
_CONVERGENCE = 1e-12
# Fewest NYSE sessions in a calendar month (February with a holiday): sessions -> months.
_MIN_SESSIONS_PER_MONTH = 18
# Bands narrower than this fraction of the middle band give an undefined %b: TA-Lib's running
# variance cannot resolve them (the square root of its rounding error is ~1.5e-8 of the price).
_PCTB_MIN_RELATIVE_WIDTH = 1e-6
_TALIB_FUNCTIONS = frozenset(talib.get_functions())


class IndicatorSpecError(ValueError):
    """A spec that cannot be computed: unknown function, bad parameter, missing input column."""


# --------------------------------------------------------------------------------------------
# Hand-written functions (what TA-Lib lacks)
# --------------------------------------------------------------------------------------------


def simple_returns(close: FloatArray) -> FloatArray:
    """(close[t] - close[t-1]) / close[t-1]; NaN on the first day (TA-Lib's ROCP with period 1)."""
    return talib.ROCP(close, timeperiod=1)


def log_returns(close: FloatArray) -> FloatArray:
    """ln(close[t] / close[t-1]); NaN on the first day (TA-Lib's LN of ROCR with period 1)."""
    return talib.LN(talib.ROCR(close, timeperiod=1))


def realized_volatility(close: FloatArray, timeperiod: int = 20, periods_per_year: float = 252) -> FloatArray:
    """Sample standard deviation (ddof=1) of the last ``timeperiod`` daily log returns, annualized
    by sqrt(periods_per_year); first value on day ``timeperiod``. TA-Lib's STDDEV (population std,
    running sums) computes the window statistic, rescaled to the sample std."""
    scale = math.sqrt(timeperiod / (timeperiod - 1) * periods_per_year)
    return talib.STDDEV(log_returns(close), timeperiod=timeperiod, nbdev=scale)


def bollinger_pctb(
    close: FloatArray, timeperiod: int = 20, nbdevup: float = 2.0, nbdevdn: float = 2.0, matype: int = 0
) -> FloatArray:
    """%b = (close - lower) / (upper - lower) on TA-Lib's BBANDS; NaN where the bands are narrower
    than a millionth of the middle band (a flat window, where %b is undefined)."""
    upper, middle, lower = talib.BBANDS(close, timeperiod=timeperiod, nbdevup=nbdevup, nbdevdn=nbdevdn, matype=matype)
    width = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(width > _PCTB_MIN_RELATIVE_WIDTH * np.abs(middle), (close - lower) / width, np.nan)


@dataclass(frozen=True)
class _HandWritten:
    function: Callable[..., FloatArray]
    parameters: Mapping[str, int | float]
    lookback: Callable[[Mapping[str, int | float]], int]
    check: Callable[[Mapping[str, int | float]], str | None] = lambda params: None
    inputs: tuple[str, ...] = ("close",)


_HAND_WRITTEN: dict[str, _HandWritten] = {
    "RET_SIMPLE": _HandWritten(simple_returns, {}, lambda p: 1),
    "RET_LOG": _HandWritten(log_returns, {}, lambda p: 1),
    "RV": _HandWritten(
        realized_volatility,
        {"timeperiod": 20, "periods_per_year": TRADING_DAYS_PER_YEAR},
        lambda p: int(p["timeperiod"]),
        lambda p: (
            "timeperiod must be >= 2"
            if p["timeperiod"] < 2
            else "periods_per_year must be > 0"
            if p["periods_per_year"] <= 0
            else None
        ),
    ),
    "BB_PCTB": _HandWritten(
        bollinger_pctb,
        {"timeperiod": 20, "nbdevup": 2.0, "nbdevdn": 2.0, "matype": 0},
        lambda p: talib.abstract.Function("BBANDS", **p).lookback,
    ),
}


# --------------------------------------------------------------------------------------------
# Convergence allowance of recursive functions
# --------------------------------------------------------------------------------------------


def _forget(alpha: float, depth: int = 1) -> int:
    """Sessions after which `depth` nested smoothings with factor `alpha` weigh their seed < 1e-12."""
    return depth * math.ceil(math.log(_CONVERGENCE) / math.log1p(-alpha))


def _ema(period: float, depth: int = 1) -> int:
    return _forget(2.0 / (period + 1.0), depth)


def _wilder(period: float, depth: int = 1) -> int:
    return _forget(1.0 / period, depth)


_KAMA_SLOWEST = (2.0 / 31.0) ** 2  # TA-Lib's KAMA: squared smoothing constant between 2/3 and 2/31


def _ma(matype: int, period: int) -> int | None:
    """Allowance of TA-Lib's MA types: 0 SMA, 1 EMA, 2 WMA, 3 DEMA, 4 TEMA, 5 TRIMA, 6 KAMA, 7 MAMA, 8 T3."""
    return {0: 0, 1: _ema(period), 2: 0, 3: _ema(period, 2), 4: _ema(period, 3), 5: 0}.get(
        matype, _forget(_KAMA_SLOWEST) if matype == 6 else _ema(period, 6) if matype == 8 else None
    )


def _total(*parts: int | None) -> int | None:
    return None if any(p is None for p in parts) else sum(parts)  # type: ignore[arg-type]


_Params = Mapping[str, int | float]
_ALLOWANCES: dict[str, Callable[[_Params], int | None]] = {
    "EMA": lambda p: _ema(p["timeperiod"]),
    "DEMA": lambda p: _ema(p["timeperiod"], 2),
    "TEMA": lambda p: _ema(p["timeperiod"], 3),
    "TRIX": lambda p: _ema(p["timeperiod"], 3),
    "T3": lambda p: _ema(p["timeperiod"], 6),
    "KAMA": lambda p: _forget(_KAMA_SLOWEST),
    "MA": lambda p: _ma(p["matype"], p["timeperiod"]),
    "BBANDS": lambda p: _ma(p["matype"], p["timeperiod"]),
    "BB_PCTB": lambda p: _ma(p["matype"], p["timeperiod"]),
    "MACD": lambda p: _ema(p["slowperiod"]) + _ema(p["signalperiod"]),
    "MACDFIX": lambda p: _forget(0.075) + _ema(p["signalperiod"]),
    "MACDEXT": lambda p: _total(
        max(_ma(p["fastmatype"], p["fastperiod"]) or 0, _ma(p["slowmatype"], p["slowperiod"]) or 0)
        if _ma(p["fastmatype"], p["fastperiod"]) is not None and _ma(p["slowmatype"], p["slowperiod"]) is not None
        else None,
        _ma(p["signalmatype"], p["signalperiod"]),
    ),
    "APO": lambda p: _ma(p["matype"], max(p["fastperiod"], p["slowperiod"])),
    "PPO": lambda p: _ma(p["matype"], max(p["fastperiod"], p["slowperiod"])),
    "STOCH": lambda p: _total(_ma(p["slowk_matype"], p["slowk_period"]), _ma(p["slowd_matype"], p["slowd_period"])),
    "STOCHF": lambda p: _ma(p["fastd_matype"], p["fastd_period"]),
    "STOCHRSI": lambda p: _total(_wilder(p["timeperiod"]), _ma(p["fastd_matype"], p["fastd_period"])),
    **{
        name: lambda p: _wilder(p["timeperiod"])
        for name in ("RSI", "CMO", "ATR", "NATR", "PLUS_DM", "MINUS_DM", "PLUS_DI", "MINUS_DI", "DX")
    },
    "ADX": lambda p: _wilder(p["timeperiod"], 2),
    "ADXR": lambda p: _wilder(p["timeperiod"], 2),
    "MFI": lambda p: 0,  # a moving sum over the window despite its "unstable" flag (tested)
}
# Never forget their start: cumulative sums, the path-dependent SAR, adaptive/Hilbert filters.
_WHOLE_HISTORY = frozenset(
    {"OBV", "AD", "ADOSC", "SAR", "SAREXT", "MAMA", "MAVP"} | {f for f in _TALIB_FUNCTIONS if f.startswith("HT_")}
)


def _allowance(function: str, params: _Params) -> int | None:
    if function in _WHOLE_HISTORY:
        return None
    rule = _ALLOWANCES.get(function)
    return rule(params) if rule else 0


# --------------------------------------------------------------------------------------------
# Specs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    """One parsed, validated spec."""

    spec: str
    function: str
    params: tuple[tuple[str, int | float], ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    columns: tuple[str, ...]
    lookback: int
    memory: int | None

    @property
    def normalized(self) -> str:
        """Canonical spec: every parameter by name, then the output names."""
        args = ", ".join(f"{name}={value!r}" for name, value in self.params)
        inputs = self._input_overrides()
        args = ", ".join(x for x in (args, inputs) if x)
        return f"{self.function}({args}) as {', '.join(self.columns)}"

    def _input_overrides(self) -> str:
        defaults = _input_names(self.function)
        return ", ".join(
            f"{name}={column!r}" for (name, default), column in zip(defaults, self.inputs) if default != column
        )

    def compute(self, columns: Mapping[str, FloatArray]) -> tuple[FloatArray, ...]:
        """The outputs on 1-D input arrays (``columns`` by price column name)."""
        function, kwargs = self.callable()
        result = function(*(columns[name] for name in self.inputs), **kwargs)
        return result if isinstance(result, tuple) else (result,)

    def callable(self) -> tuple[Callable[..., FloatArray | tuple[FloatArray, ...]], dict[str, int | float]]:
        """(TA-Lib or hand-written function, keyword parameters)."""
        if self.function in _HAND_WRITTEN:
            return _HAND_WRITTEN[self.function].function, dict(self.params)
        return getattr(talib, self.function), dict(self.params)


def _input_names(function: str) -> list[tuple[str, str]]:
    """(TA-Lib input name, price column) in call order; 'prices' inputs expand to their columns."""
    if function in _HAND_WRITTEN:
        return [("price", column) for column in _HAND_WRITTEN[function].inputs]
    pairs = []
    for name, value in talib.abstract.Function(function).input_names.items():
        if isinstance(value, list):
            pairs.extend((name, column) for column in value)
        else:
            pairs.append((name, value))
    return pairs


def _format_value(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace(".", "p").replace("-", "m")


def column_names(
    function: str,
    outputs: Sequence[str],
    params: Mapping[str, int | float],
    defaults: _Params,
    input_overrides: Sequence[str] = (),
) -> list[str]:
    """Default column names; inputs other than TA-Lib's defaults are appended (``sma_5_high``)."""
    shown = [v for k, v in params.items() if not (k.endswith("matype") and v == defaults[k])]
    suffix = "".join(f"_{_format_value(v)}" for v in shown) + "".join(f"_{c}" for c in input_overrides)
    base = function.lower()
    if len(outputs) == 1:
        return [f"{base}{suffix}"]
    return [f"{base}_{output.lower()}{suffix}" for output in outputs]


_AS = re.compile(r"\s+as\s+", re.IGNORECASE)
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_SAMPLE_DAYS = 400


def random_ohlcv(days: int, seed: int) -> dict[str, FloatArray]:
    """Random-walk daily bars (low <= open, close <= high; volume > 0), reproducible by `seed`: the
    prices indicator specs are tried on, and test series."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, days)))
    spread = np.abs(rng.normal(0.0, 0.01, days))
    return {
        "open": close * (1 + rng.normal(0.0, 0.005, days)).clip(1 - spread, 1 + spread),
        "high": close * (1 + spread),
        "low": close * (1 - spread),
        "close": close,
        "volume": rng.uniform(1e5, 1e6, days).round(),
    }


@functools.cache
def _sample_prices() -> dict[str, FloatArray]:
    return random_ohlcv(_SAMPLE_DAYS, seed=0)


def parse_spec(spec: str, columns: Sequence[str] = PRICE_INPUTS) -> Indicator:
    """Parse and validate one spec; ``columns`` are the price columns available as inputs."""

    def fail(reason: str) -> IndicatorSpecError:
        return IndicatorSpecError(f"indicator spec {spec!r}: {reason}")

    if not isinstance(spec, str) or not spec.strip():
        raise IndicatorSpecError(f"indicator spec {spec!r}: expected a string like 'RSI(timeperiod=14)'")
    parts = _AS.split(spec.strip(), maxsplit=1)
    call_text, alias_text = parts[0], (parts[1] if len(parts) > 1 else None)
    try:
        call = ast.parse(call_text, mode="eval").body
    except SyntaxError:
        raise fail("not a function call like 'RSI(timeperiod=14)'") from None
    if isinstance(call, ast.Name):
        call = ast.Call(func=call, args=[], keywords=[])
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        raise fail("not a function call like 'RSI(timeperiod=14)'")
    function = call.func.id.upper()
    if function not in _TALIB_FUNCTIONS and function not in _HAND_WRITTEN:
        known = sorted(_TALIB_FUNCTIONS | set(_HAND_WRITTEN))
        hint = difflib.get_close_matches(function, known, n=3)
        raise fail(f"unknown function {function!r}" + (f" (did you mean {', '.join(hint)}?)" if hint else ""))

    if function in _HAND_WRITTEN:
        defaults: dict[str, int | float] = dict(_HAND_WRITTEN[function].parameters)
        outputs: list[str] = [function.lower()]
    else:
        abstract = talib.abstract.Function(function)
        defaults = dict(abstract.parameters)
        outputs = list(abstract.output_names)
    input_pairs = _input_names(function)
    overridable = {name for name, _ in input_pairs if name.startswith("price") and name != "prices"}
    overridable |= {"periods"} & {name for name, _ in input_pairs}

    try:
        positional = [ast.literal_eval(arg) for arg in call.args]
        keywords = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    except (ValueError, TypeError, SyntaxError):
        raise fail("arguments must be literal numbers (or a column name for an input)") from None
    if None in keywords:
        raise fail("**kwargs are not allowed")
    if len(positional) > len(defaults):
        raise fail(f"{function} takes at most {len(defaults)} parameters ({', '.join(defaults) or 'none'})")
    given = dict(zip(defaults, positional))
    for name, value in keywords.items():
        if name in given:
            raise fail(f"parameter {name!r} given twice")
        if name not in defaults and name not in overridable:
            valid = [*defaults, *sorted(overridable)]
            raise fail(f"unknown parameter {name!r} for {function} (valid: {', '.join(valid) or 'none'})")
        given[name] = value

    params: dict[str, int | float] = {}
    for name, default in defaults.items():
        value = given.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(f"parameter {name}={value!r} must be a number")
        if isinstance(default, int) and not isinstance(default, bool):
            if isinstance(value, float) and not value.is_integer():
                raise fail(f"parameter {name}={value!r} must be a whole number")
            value = int(value)
        else:
            value = float(value)
        params[name] = value

    inputs = []
    for name, column in input_pairs:
        chosen = given.get(name, column) if name in overridable else column
        if not isinstance(chosen, str):
            raise fail(f"input {name}={chosen!r} must be a column name")
        if chosen not in columns:
            raise fail(f"needs input column {chosen!r}, which the prices table lacks (columns: {', '.join(columns)})")
        inputs.append(chosen)

    # TA-Lib checks its parameter ranges when called: one trial call on sample prices.
    probe = Indicator(spec, function, tuple(params.items()), tuple(inputs), tuple(outputs), (), 0, 0)
    if function in _HAND_WRITTEN:
        problem = _HAND_WRITTEN[function].check(params)
        if problem:
            raise fail(problem)
    sample = _sample_prices()
    try:
        with np.errstate(all="ignore"):
            probe.compute({column: sample.get(column, sample["close"]) for column in inputs})
    except Exception as exc:  # noqa: BLE001 - TA-Lib raises a bare Exception for TA_BAD_PARAM
        raise fail(f"rejected by TA-Lib: {exc}") from None
    if function in _HAND_WRITTEN:
        lookback = _HAND_WRITTEN[function].lookback(params)
    else:
        lookback = talib.abstract.Function(function, **params).lookback
    overrides = [chosen for (_, column), chosen in zip(input_pairs, inputs) if chosen != column]
    names = column_names(function, outputs, params, defaults, [c.lower() for c in overrides])
    if alias_text is not None:
        aliases = [a.strip() for a in alias_text.split(",")]
        if len(aliases) != len(outputs):
            raise fail(f"{len(aliases)} names after 'as' for {len(outputs)} outputs ({', '.join(outputs)})")
        names = aliases
    for name in names:
        if not _NAME.match(name):
            raise fail(f"column name {name!r} must be lower-case letters, digits and '_'")
    allowance = _allowance(function, params)
    indicator = Indicator(
        spec=spec,
        function=function,
        params=tuple(params.items()),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        columns=tuple(names),
        lookback=lookback,
        memory=None if allowance is None else lookback + allowance,
    )
    return indicator


def parse_specs(specs: Sequence[str | Indicator], columns: Sequence[str] = PRICE_INPUTS) -> list[Indicator]:
    """Parse a set of specs; column names must be unique across the set."""
    if isinstance(specs, str):
        specs = [specs]
    parsed = [spec if isinstance(spec, Indicator) else parse_spec(spec, columns) for spec in specs]
    for indicator in parsed:
        missing = [c for c in indicator.inputs if c not in columns]
        if missing:
            raise IndicatorSpecError(f"indicator spec {indicator.spec!r}: needs input columns {missing}")
    seen: dict[str, str] = {}
    for indicator in parsed:
        for name in indicator.columns:
            if name in seen:
                raise IndicatorSpecError(
                    f"indicator spec {indicator.spec!r}: column {name!r} is also produced by {seen[name]!r}"
                )
            seen[name] = indicator.spec
    return parsed


def load_indicator_set(path: str | Path | None = None, columns: Sequence[str] = PRICE_INPUTS) -> list[Indicator]:
    """The configured set: ``path`` (Settings.indicators_file, from FINANCE_ASSETS_INDICATORS), else the
    default indicators.yaml."""
    import yaml

    path = Path(path or DEFAULT_SET_FILE)
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise IndicatorSpecError(f"cannot read the indicator set {path}: {exc}") from None
    specs = document.get("indicators") if isinstance(document, dict) else None
    if not isinstance(specs, list) or not specs:
        raise IndicatorSpecError(f"{path}: expected a non-empty list under 'indicators:'")
    try:
        return parse_specs(specs, columns)
    except IndicatorSpecError as exc:
        raise IndicatorSpecError(f"{path}: {exc}") from None


def set_version(indicators: Sequence[Indicator]) -> str:
    """A short hash of the normalized set and the TA-Lib version: changes when any output would."""
    text = "\n".join(i.normalized for i in indicators) + f"\ntalib {talib.__version__} {talib.__ta_version__!r}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def memory_sessions(indicators: Sequence[Indicator]) -> int | None:
    """Sessions of history every column of the set needs before a day; None = the whole history."""
    memories = [i.memory for i in indicators]
    return None if any(m is None for m in memories) else max(memories, default=0)  # type: ignore[type-var]


def lookback_months(indicators: Sequence[Indicator]) -> int | None:
    """Whole months of earlier prices a month's partition needs (one month of margin); None = all."""
    sessions = memory_sessions(indicators)
    return None if sessions is None else math.ceil(sessions / _MIN_SESSIONS_PER_MONTH) + 1


# --------------------------------------------------------------------------------------------
# Computation
# --------------------------------------------------------------------------------------------


# TA-Lib's C functions are called through the C library its wrapper uses (ctypes), writing each
# ticker's outputs straight into the result columns: the wrapper would return fresh arrays to be
# copied into them (~460 MB for the default set over 500 tickers x 2,520 days). Each call is the one
# the wrapper makes (talib/_func.pxi): inputs from the first row where none is NaN (``begidx``),
# outputs from row ``begidx + TA_<F>_Lookback(params)``, NaN before. A spec's C path is used only
# after it gave bit-identical outputs to the wrapper on sample prices with NaNs. Hand-written
# functions run as the TA-Lib C calls their Python functions make (_C_RECIPES). Functions with
# integer outputs (candlestick patterns, MINMAXINDEX, ...) and any TA-Lib without a reachable C API
# use the wrapper, per ticker, and copy.

_C_SIGNATURE = re.compile(r"TA_RetCode TA_(\w+)\(int startIdx, int endIdx, (.*)\)(?: nogil)?$")
_C_TYPES = {"int": ctypes.c_int, "TA_MAType": ctypes.c_int, "double": ctypes.c_double}


@dataclass(frozen=True)
class _CFunction:
    call: Callable[..., int]
    lookback: Callable[..., int]
    n_inputs: int
    params: tuple[str, ...]  # TA-Lib's parameter names, lower case without "optin" ("fastk_period")
    n_outputs: int


@functools.cache
def _c_functions() -> dict[str, _CFunction]:
    """TA-Lib C functions with double inputs and outputs, by name; empty if the C API is unreachable."""
    try:
        import talib._ta_lib as extension

        header = Path(extension.__file__).with_name("_ta_lib.pxd").read_text()
        # dlsym on the extension's handle also searches the libraries it links: the same TA-Lib C
        # (bundled or system), so TA_Initialize and the unstable-period settings are shared.
        library = ctypes.CDLL(extension.__file__)
        library.TA_SMA  # noqa: B018 - probe: symbols exported?
    except (ImportError, OSError, AttributeError):
        return {}
    functions = {}
    for line in header.splitlines():
        match = _C_SIGNATURE.search(line.strip())
        if not match:
            continue
        name, arguments = match.group(1), [a.strip() for a in match.group(2).split(",")]
        try:
            marker = arguments.index("int *outBegIdx")
        except ValueError:
            continue
        head, outputs = arguments[:marker], arguments[marker + 2 :]
        inputs = [a for a in head if a.startswith("const double in") and a.endswith("[]")]
        params = head[len(inputs) :]
        kinds = [p.split()[0] for p in params]
        if (
            arguments[marker + 1] != "int *outNBElement"
            or not outputs
            or not all(o.startswith("double out") and o.endswith("[]") for o in outputs)
            or not all(k in _C_TYPES and p.split()[1].startswith("optIn") for k, p in zip(kinds, params))
        ):
            continue
        try:
            call = getattr(library, f"TA_{name}")
            lookback = getattr(library, f"TA_{name}_Lookback")
        except AttributeError:
            continue
        param_types = [_C_TYPES[k] for k in kinds]
        pointer = ctypes.c_void_p
        call.argtypes = [ctypes.c_int, ctypes.c_int, *[pointer] * len(inputs), *param_types, pointer, pointer]
        call.argtypes += [pointer] * len(outputs)
        call.restype = ctypes.c_int
        lookback.argtypes, lookback.restype = param_types, ctypes.c_int
        names = tuple(p.split()[1][len("optIn") :].lower() for p in params)
        functions[name] = _CFunction(call, lookback, len(inputs), names, len(outputs))
    return functions


@dataclass(frozen=True)
class _CStep:
    """One TA-Lib C function with its parameters: ``call(0, end, *inputs, *params, &beg, &nb, *outputs)``."""

    name: str
    call: Callable[..., int]
    params: tuple[int | float, ...]
    lookback: int  # TA_<F>_Lookback(params): leading NaN rows after the inputs' first non-NaN row


@functools.cache
def _c_step(function: str, params: tuple[int | float, ...]) -> _CStep | None:
    c_function = _c_functions().get(function)
    if c_function is None or len(params) != len(c_function.params):
        return None
    lookback = int(c_function.lookback(*params))
    return _CStep(function, c_function.call, params, lookback) if lookback >= 0 else None


class _CRun:
    """The series of one computation (rows starts[i]..starts[i+1]) and the TA-Lib C calls over them;
    the inputs' first rows without NaN are computed once per set of price columns."""

    def __init__(self, starts: Sequence[int], prices: Sequence[FloatArray] = ()) -> None:
        self.starts = starts
        self._prices = {id(x) for x in prices}  # unchanged during the run: their begidx is cached
        self._begin: dict[tuple[int, ...], list[int]] = {}

    def __call__(self, function: str, params: Sequence[int | float], inputs: list[FloatArray], out: list) -> None:
        step = _c_step(function, tuple(params))
        if step is None:
            raise LookupError(f"no TA-Lib C function {function}{tuple(params)}")
        key = tuple(id(x) for x in inputs)
        begin = self._begin.get(key)
        if begin is None:
            begin = _first_valid(inputs, self.starts)
            if self._prices.issuperset(key):
                self._begin[key] = begin
        _c_run(step, inputs, out, self.starts, begin)


# A plan computes one spec's outputs into the result columns: plan(run, input arrays, output arrays).
_Plan = Callable[[_CRun, list[FloatArray], list[FloatArray]], None]


def _talib_plan(function: str, params: tuple[int | float, ...]) -> _Plan:
    return lambda run, inputs, out: run(function, params, inputs, out)


def _log_returns_plan(run: _CRun, inputs: list[FloatArray], out: list[FloatArray]) -> None:
    run("ROCR", (1,), inputs, out)  # log_returns: TA-Lib's LN of ROCR(1), here in place
    run("LN", (), out, out)


def _realized_volatility_plan(timeperiod: int, periods_per_year: float) -> _Plan:
    scale = math.sqrt(timeperiod / (timeperiod - 1) * periods_per_year)  # as realized_volatility

    def plan(run: _CRun, inputs: list[FloatArray], out: list[FloatArray]) -> None:
        returns = [np.empty(len(inputs[0]))]
        _log_returns_plan(run, inputs, returns)
        run("STDDEV", (timeperiod, scale), returns, out)

    return plan


def _bollinger_pctb_plan(timeperiod: int, nbdevup: float, nbdevdn: float, matype: int) -> _Plan:
    def plan(run: _CRun, inputs: list[FloatArray], out: list[FloatArray]) -> None:
        (close,) = inputs
        upper, middle, lower = bands = [np.empty(len(close)) for _ in range(3)]
        run("BBANDS", (timeperiod, nbdevup, nbdevdn, matype), inputs, bands)
        # bollinger_pctb's elementwise formula, on every series at once
        width = np.subtract(upper, lower, out=upper)
        defined = width > _PCTB_MIN_RELATIVE_WIDTH * np.abs(middle)
        out[0][:] = np.where(defined, np.divide(np.subtract(close, lower, out=lower), width, out=middle), np.nan)

    return plan


# Hand-written functions as TA-Lib C calls (the same calls their Python functions make)
_C_RECIPES: dict[str, Callable[..., _Plan]] = {
    "RET_SIMPLE": lambda: _talib_plan("ROCP", (1,)),  # simple_returns is TA-Lib's ROCP(1)
    "RET_LOG": lambda: _log_returns_plan,
    "RV": _realized_volatility_plan,
    "BB_PCTB": _bollinger_pctb_plan,
}


@functools.cache
def _c_plan(indicator: Indicator) -> _Plan | None:
    """The spec's C plan, if the C API has its functions and it matches the wrapper bit for bit on
    sample prices with NaNs (at the start, inside, in one input only) and on very short series."""
    params = dict(indicator.params)
    if indicator.function in _HAND_WRITTEN:
        recipe = _C_RECIPES.get(indicator.function)
        if recipe is None:
            return None
        plan = recipe(**params)
    else:
        c_function = _c_functions().get(indicator.function)
        if (
            c_function is None
            or c_function.n_inputs != len(indicator.inputs)
            or c_function.params != tuple(params)
            or c_function.n_outputs != len(indicator.columns)
        ):
            return None
        plan = _talib_plan(indicator.function, tuple(params.values()))
    return plan if all(_c_matches_wrapper(indicator, plan, days) for days in (_SAMPLE_DAYS, 7, 1)) else None


def _c_matches_wrapper(indicator: Indicator, plan: _Plan, days: int) -> bool:
    sample = _sample_prices()
    columns = {}
    for k, column in enumerate(indicator.inputs):
        values = sample.get(column, sample["close"])[:days].copy()
        values[: min(k + 2, days)] = np.nan  # leading NaNs, different per input
        if days > 100:
            values[60 + k] = np.nan  # one inside the series
        columns[column] = values
    inputs = [columns[c] for c in indicator.inputs]
    out = [np.full(days, 1234.5) for _ in indicator.columns]
    try:
        with np.errstate(all="ignore"):
            expected = indicator.compute(columns)
            plan(_CRun([0, days], inputs), inputs, out)
    except Exception:  # noqa: BLE001 - any failure means: use the wrapper
        return False
    return len(expected) == len(out) and all(
        e.dtype == np.float64 and np.array_equal(e.view(np.int64), o.view(np.int64)) for e, o in zip(expected, out)
    )


def _first_valid(inputs: Sequence[FloatArray], starts: Sequence[int]) -> list[int]:
    """Per series (rows starts[i]..starts[i+1]), TA-Lib's ``begidx``: the first row where no input is
    NaN, relative to the series' start, else its last row. Looked up row by row from the series'
    starts for all series at once (it is nearly always one of the first rows), then per series."""
    bounds = np.asarray(starts, dtype=np.int64)
    a, length = bounds[:-1], np.diff(bounds)
    first = length - 1
    pending = np.flatnonzero(length > 0)
    for k in range(8):
        pending = pending[k < length[pending]]
        rows = a[pending] + k
        complete = np.ones(len(rows), dtype=bool)
        for values in inputs:
            complete &= ~np.isnan(values[rows])
        first[pending[complete]] = k
        pending = pending[~complete]
        if not len(pending):
            return first.tolist()
    for i in pending.tolist():
        valid = np.ones(length[i], dtype=bool)
        for values in inputs:
            valid &= ~np.isnan(values[a[i] : a[i] + length[i]])
        if valid.any():
            first[i] = int(np.argmax(valid))
    return first.tolist()


def _c_run(
    step: _CStep,
    inputs: Sequence[FloatArray],
    out: Sequence[FloatArray],
    starts: Sequence[int],
    begin: Sequence[int],
) -> None:
    """Run one C step over every series, writing into ``out`` (one array per output, n rows).

    Series i is rows starts[i]..starts[i+1] and its inputs start at row ``begin[i]`` of it. The
    arguments of every call are built at once and the calls made by ``starmap``: no Python code
    per call, only ctypes' own (~1.5-2 us, TA-Lib's Python wrapper costs ~2.6 us a call)."""
    if not all(x.dtype == np.float64 and x.flags.c_contiguous and len(x) >= starts[-1] for x in [*inputs, *out]):
        raise ValueError("TA-Lib C calls need contiguous float64 arrays covering every series")
    bounds = np.asarray(starts, dtype=np.int64)
    first, a, length = np.asarray(begin, dtype=np.int64), bounds[:-1], np.diff(bounds)
    skip = first + step.lookback  # rows before a series' first output
    status = (ctypes.c_int * 2)()  # outBegIdx, outNBElement (the wrapper ignores them too)
    address = ctypes.addressof(status)
    arguments = [
        itertools.repeat(0),
        (length - first - 1).tolist(),
        *[(x.ctypes.data + 8 * (a + first)).tolist() for x in inputs],
        *map(itertools.repeat, step.params),
        itertools.repeat(address),
        itertools.repeat(address + ctypes.sizeof(ctypes.c_int)),
        *[(x.ctypes.data + 8 * (a + skip)).tolist() for x in out],
    ]
    failed = [code for code in itertools.starmap(step.call, zip(*arguments)) if code]
    if failed:
        check = getattr(talib._ta_lib, "_ta_check_success", None)
        if check is not None:
            check(f"TA_{step.name}", failed[0])  # raises the wrapper's exception
        raise Exception(f"TA_{step.name} function failed with error code {failed[0]}")  # noqa: TRY002
    head = np.minimum(skip, length)
    rows = np.arange(head.sum()) + np.repeat(a - (np.cumsum(head) - head), head)
    for column in out:
        column[rows] = np.nan


def compute_indicators(prices: pd.DataFrame, specs: Sequence[str | Indicator]) -> pd.DataFrame:
    """Indicators of daily prices, one column per output, computed by TA-Lib.

    ``prices`` has ``date`` and the input columns the specs need (``open, high, low, close,
    volume``), for one ticker or, with a ``ticker`` column, for several (each computed on its own
    series ordered by date). ``specs`` are strings like ``"RSI(timeperiod=14)"`` or parsed
    :class:`Indicator`. Returns ``[ticker,] date`` and the indicator columns, one row per input row
    in the input's order. Rows of a ticker must have distinct dates.
    """
    indicators = parse_specs(specs, list(prices.columns))
    if "date" not in prices.columns:
        raise ValueError("prices needs a 'date' column")
    n = len(prices)
    dates = prices["date"]
    dates = (dates if dates.dtype.kind == "M" else pd.to_datetime(dates)).to_numpy()
    has_ticker = "ticker" in prices.columns
    tickers = prices["ticker"] if has_ticker else None
    if isinstance(tickers, pd.Series) and isinstance(tickers.dtype, pd.CategoricalDtype):
        tickers = tickers.cat.codes  # equal codes, equal tickers
    order, starts = _series_bounds(None if tickers is None else tickers.to_numpy(), dates)
    in_order = order is None

    needed = sorted({c for i in indicators for c in i.inputs})
    arrays = {}
    for column in needed:
        values = prices[column].to_numpy(dtype=np.float64)
        arrays[column] = np.ascontiguousarray(values if in_order else values[order])
    names = [name for i in indicators for name in i.columns]
    # One array per column, not one 2-D block: ~10 MB arrays come from malloc's warm heap on later
    # calls, a single block is a fresh mmap each time (measured: page faults cost ~0.3 s at 500 x 2,520).
    out = [np.empty(n) for _ in names]
    bounds = starts.tolist()
    run = _CRun(bounds, list(arrays.values()))
    wrapped = []
    with _read_lease(), np.errstate(divide="ignore", invalid="ignore"):
        row = 0
        for indicator in indicators:
            columns, row = out[row : row + len(indicator.columns)], row + len(indicator.columns)
            plan = _c_plan(indicator) if n else None
            if plan is None:
                wrapped.append((*indicator.callable(), indicator.inputs, columns))
            else:
                plan(run, [arrays[c] for c in indicator.inputs], columns)
        if wrapped:
            for a, b in zip(bounds[:-1], bounds[1:]):
                series = {column: values[a:b] for column, values in arrays.items()}
                for function, kwargs, inputs, columns in wrapped:
                    result = function(*[series[name] for name in inputs], **kwargs)
                    for column, values in zip(columns, result if isinstance(result, tuple) else (result,)):
                        column[a:b] = values
    if not in_order:
        for row, values in enumerate(out):
            out[row] = np.empty(n)
            out[row][order] = values
    keys = {"ticker": prices["ticker"].to_numpy()} if has_ticker else {}
    keys["date"] = prices["date"].to_numpy()
    return pd.DataFrame({**keys, **dict(zip(names, out))}, index=pd.RangeIndex(n), copy=False)


def _read_lease():
    """TA-Lib's read lease (no settings change while computing), as the wrapper takes per call."""
    lease = getattr(talib._ta_lib, "_TA_ReadLease", None)
    return lease() if lease is not None else contextlib.nullcontext()


def _series_bounds(tickers: np.ndarray | None, dates: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """(row order grouping tickers by date, or None if the rows already are; series start rows + n)."""
    n = len(dates)
    if n == 0:
        return None, np.array([0])
    change = np.zeros(n - 1, dtype=bool) if tickers is None else np.asarray(tickers[1:] != tickers[:-1], dtype=bool)
    runs = np.r_[0, np.flatnonzero(change) + 1]
    # Rows already grouped by ticker (each ticker one run) and sorted by date are used as they are.
    grouped = tickers is None or len(set(tickers[runs].tolist())) == len(runs)
    if grouped and bool(np.all((dates[1:] > dates[:-1]) | change)):
        return None, np.r_[runs, n]
    codes = pd.factorize(tickers)[0] if tickers is not None else np.zeros(n, dtype=np.int64)
    order = np.lexsort((dates, codes))
    sorted_codes, sorted_dates = codes[order], dates[order]
    same = sorted_codes[1:] == sorted_codes[:-1]
    if np.any(same & (sorted_dates[1:] == sorted_dates[:-1])):
        raise ValueError("prices must hold one row per date" + (" and ticker" if tickers is not None else ""))
    return order, np.r_[0, np.flatnonzero(~same) + 1, n]


def adjusted_prices(prices: pd.DataFrame) -> pd.DataFrame:
    """OHLC on the adjusted close's scale: close = adj_close and open/high/low times adj_close / close.

    Volume is left as stored (split-adjusted by the providers). Without ``adj_close``, unchanged.
    """
    if "adj_close" not in prices.columns:
        return prices
    factor = prices["adj_close"].to_numpy(dtype=np.float64) / prices["close"].to_numpy(dtype=np.float64)
    out = prices.copy()
    for column in ("open", "high", "low"):
        if column in out.columns:
            out[column] = out[column].to_numpy(dtype=np.float64) * factor
    out["close"] = prices["adj_close"].to_numpy(dtype=np.float64)
    return out
