"""Every setting of the platform, read from the environment in one place and validated up front.

`Settings.from_env()` reads every variable (documented in docs/configuration.md) once, checks
each one and raises `SettingsError` with one line naming the variable, the bad value and what is
accepted. The CLI builds Settings before any work starts and passes them on explicitly
(`definitions.build_definitions(settings)`); `definitions.defs` is built from the environment for
Dagster's own `-m finance_assets.definitions` loading.

Secrets (SEC_USER_AGENT, API keys, the Redis password, the object store's access key) are recorded as
presence only: resources get them through `dagster.EnvVar` (the object store client reads its
credentials from the standard AWS chain itself), so their values never reach logs or metadata.

Every process (webserver, daemon, Dask workers) resolves the same absolute paths, so a worker
started from another working directory still writes to the same warehouse.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from finance_assets.demo.source import DEMO_BENCHMARK

_PACKAGE_DIR = Path(__file__).resolve().parent

MODES = ("demo", "live")
EXECUTORS = ("dask", "in_process")
TRUE_WORDS = ("1", "on", "true", "yes")
FALSE_WORDS = ("", "0", "off", "false", "no")
DEFAULT_HISTORY_START = "2016-01-01"  # live mode
# Demo mode's first month: where `finance-assets demo` starts its backfill, so that after the demo every
# partition the UI shows is materialized. A constant, not "N years before the clock": a start that moved
# with the clock would change every partition key set and drop materialized partitions from the UI.
DEMO_HISTORY_START = "2025-01-01"
DEFAULT_LOOKBACK_MONTHS = 24
DEFAULT_SEC_BULK_MIN_TICKERS = 200
# EDGAR's two hosts; FINANCE_ASSETS_SEC_WWW / _DATA point them at a proxy, mirror or caching gateway.
DEFAULT_SEC_WWW = "https://www.sec.gov"
DEFAULT_SEC_DATA = "https://data.sec.gov"
REDIS_SCHEMES = ("redis", "rediss", "unix")
DASK_SCHEMES = ("tcp", "tls", "ucx", "ws", "wss", "inproc")
OBJECT_STORE_SCHEMES = ("s3",)
# S3 bucket names: 3-63 of lower-case letters, digits, dots and hyphens, a letter or digit at each end.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_KEY_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=/-]{0,255}")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_HOST = re.compile(r"[A-Za-z0-9.-]+(:\d+)?")
_WRAPPER_SPEC = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")

# Every variable Settings reads; the cache key of `settings()`.
ENV_VARS = (
    "FINANCE_ASSETS_HOME",
    "FINANCE_ASSETS_DATA_DIR",
    "FINANCE_ASSETS_WAREHOUSE_URL",
    "FINANCE_ASSETS_S3_ENDPOINT_URL",
    "FINANCE_ASSETS_S3_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "FINANCE_ASSETS_PORTFOLIO",
    "FINANCE_ASSETS_MODE",
    "FINANCE_ASSETS_EXECUTOR",
    "DASK_SCHEDULER_ADDRESS",
    "FINANCE_ASSETS_DASK_ADDRESS",
    "DAGSTER_HOME",
    "FINANCE_ASSETS_BENCHMARK",
    "FINANCE_ASSETS_BASE_CURRENCY",
    "FINANCE_ASSETS_RISK_FREE",
    "FINANCE_ASSETS_HISTORY_START",
    "FINANCE_ASSETS_AS_OF",
    "FINANCE_ASSETS_DEMO_NOW",
    "SEC_USER_AGENT",
    "ALPHAVANTAGE_API_KEY",
    "FINNHUB_API_KEY",
    "SEC_BULK_MIN_TICKERS",
    "FINANCE_ASSETS_AUTOMATION",
    "FINANCE_ASSETS_AUTOMATION_LOOKBACK_MONTHS",
    "FINANCE_ASSETS_LIMITER_REDIS_URL",
    "FINANCE_ASSETS_TRANSPORT",
    "FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER",
    "FINANCE_ASSETS_REQUEST_LOG",
    "FINANCE_ASSETS_HTTP_BACKOFF",
    "FINANCE_ASSETS_DEMO_RATES",
    "FINANCE_ASSETS_SEC_WWW",
    "FINANCE_ASSETS_SEC_DATA",
    "FINANCE_ASSETS_INDICATORS",
    "FINANCE_ASSETS_LM_DICTIONARY",
)


class SettingsError(ValueError):
    """One setting is wrong; the message is one line: the setting, the bad value, what is accepted."""


def _bad(name: str, value: object, accepted: str) -> SettingsError:
    shown = value if isinstance(value, str) else str(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return SettingsError(f"{name}={shown!r} is not valid: {accepted}")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = env.get(name, "")
    value = raw.strip().lower() or default
    if value not in choices:
        raise _bad(name, raw, "expected one of " + ", ".join(choices))
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "")
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise _bad(name, raw, "expected on/off (also 1/0, true/false, yes/no)")


_Number = TypeVar("_Number", int, float)


def _number(
    env: Mapping[str, str],
    name: str,
    default: _Number,
    parse: Callable[[str], _Number],
    fits: Callable[[_Number], bool],
    accepted: str,
) -> _Number:
    """The variable parsed by `parse` (`default` when unset or blank); unparsable or not `fits`: an error."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise _bad(name, raw, accepted) from None
    if not fits(value):
        raise _bad(name, raw, accepted)
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    return _number(env, name, default, int, lambda v: v >= minimum, f"expected a whole number >= {minimum}")


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float, accepted: str) -> float:
    # NaN fails both comparisons, so it is rejected too
    return _number(env, name, default, float, lambda v: low <= v <= high, accepted)


def _path(env: Mapping[str, str], name: str, default: Path, base: Path) -> Path:
    raw = env.get(name, "").strip()
    if not raw:
        return default.resolve()
    if "\x00" in raw:
        raise _bad(name, raw, "expected a file system path")
    path = Path(raw).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


def parse_base_url(value: str, name: str) -> str:
    """`value` as a base URL (scheme, host, optional port and path prefix; no trailing slash), or a
    SettingsError saying what is wrong with it."""
    raw = (value or "").strip()
    example = "e.g. https://www.sec.gov or http://edgar-mirror.internal:8080/sec"
    try:
        parts = urlsplit(raw)
        _ = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError as exc:
        raise SettingsError(f"{name} is not a valid URL ({exc}); {example}") from None
    problem = None
    if parts.scheme not in ("http", "https"):
        problem = "it must start with http:// or https://"
    elif not parts.hostname:
        problem = "it has no host name"
    elif parts.username or parts.password:  # never echo them
        raise SettingsError(f"{name} must not carry credentials (they would end up in logs); {example}")
    elif parts.query or parts.fragment:
        problem = "a base URL takes no query string or fragment"
    elif any(ch.isspace() for ch in raw):
        problem = "it contains white space"
    if problem:
        raise SettingsError(f"{name} is not a usable base URL: {problem} (got {raw!r}); {example}")
    return raw.rstrip("/")


def _base_url(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip()
    return parse_base_url(raw, name) if raw else default


def _optional_file(env: Mapping[str, str], name: str, base: Path) -> Path | None:
    """A file path setting that must exist when given (a data file the platform reads)."""
    if not env.get(name, "").strip():
        return None
    path = _path(env, name, base, base)
    if not path.is_file():
        raise _bad(name, str(path), "expected an existing file")
    return path


def default_history_start(mode_name: str) -> str:
    """The first month when FINANCE_ASSETS_HISTORY_START is unset: the demo's own start in demo mode."""
    return DEMO_HISTORY_START if mode_name == "demo" else DEFAULT_HISTORY_START


def parse_history_start(raw: str | None, default: str = DEFAULT_HISTORY_START) -> str:
    """FINANCE_ASSETS_HISTORY_START as 'YYYY-MM-01' (a month start: the first month partition)."""
    name = "FINANCE_ASSETS_HISTORY_START"
    text = (raw or "").strip() or default
    accepted = "expected the first day of a month between 1990 and today, YYYY-MM-01 (or YYYY-MM)"
    candidate = f"{text}-01" if re.fullmatch(r"\d{4}-\d{2}", text) else text
    try:
        day = dt.date.fromisoformat(candidate)
    except ValueError:
        raise _bad(name, raw, accepted) from None
    if day.day != 1 or not dt.date(1990, 1, 1) <= day <= dt.date.today():
        raise _bad(name, raw, accepted)
    return day.isoformat()


def _as_of(env: Mapping[str, str]) -> str:
    """FINANCE_ASSETS_AS_OF (FINANCE_ASSETS_DEMO_NOW is its older name), normalized to ISO UTC; '' = now."""
    from finance_assets.lib.clock import parse_as_of

    for name in ("FINANCE_ASSETS_AS_OF", "FINANCE_ASSETS_DEMO_NOW"):
        raw = env.get(name, "").strip()
        if raw:
            try:
                return parse_as_of(raw)
            except ValueError as exc:
                raise _bad(name, raw, str(exc)) from None
    return ""


def load_transport_wrapper(spec: str) -> Callable[..., Any]:
    """The factory FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER names, imported: 'package.module:factory'.

    `HttpSource` calls it as `factory(transport, source_name)` and sends its requests through the
    transport it returns (source_name: the resource's class name, e.g. 'SecEdgarSource').
    """
    name = "FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER"
    accepted = "expected package.module:factory naming an importable callable"
    if not _WRAPPER_SPEC.fullmatch(spec):
        raise _bad(name, spec, accepted)
    module_name, attribute = spec.split(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except Exception as exc:  # noqa: BLE001 - any import failure is one bad setting
        raise _bad(name, spec, f"{accepted} ({type(exc).__name__})") from None
    if not callable(factory):
        raise _bad(name, spec, accepted)
    return factory


_DEMO_RATE = re.compile(r"(\*|[a-z][a-z0-9_]{0,62})=([1-9][0-9]{0,6})")


def _demo_rates(env: Mapping[str, str]) -> tuple[tuple[str, int], ...]:
    """FINANCE_ASSETS_DEMO_RATES: requests per second per source in demo mode ('sec=200,yahoo=50';
    '*' names every source). The demo answers offline, so its requests need not wait for the live
    providers' limits; live mode ignores it."""
    raw = env.get("FINANCE_ASSETS_DEMO_RATES", "")
    pairs = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        match = _DEMO_RATE.fullmatch(item.replace(" ", ""))
        if match is None:
            raise _bad(
                "FINANCE_ASSETS_DEMO_RATES",
                raw,
                "expected source=requests per second, comma separated, e.g. sec=200,*=50",
            )
        pairs.append((match[1], int(match[2])))
    return tuple(pairs)


def _redis_url(env: Mapping[str, str]) -> str:
    raw = env.get("FINANCE_ASSETS_LIMITER_REDIS_URL", "").strip()
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in REDIS_SCHEMES or not (parts.hostname or parts.path):
        # the URL may carry a password: name the scheme and host only
        shown = f"{parts.scheme}://{parts.hostname or ''}..." if parts.scheme else "(not a URL)"
        raise SettingsError(
            f"FINANCE_ASSETS_LIMITER_REDIS_URL={shown!r} is not valid: expected redis://[:password@]host:port/db "
            "(or rediss://, unix://), or unset for the local SQLite limiter"
        )
    return raw


def _dask_address(env: Mapping[str, str]) -> str:
    """FINANCE_ASSETS_DASK_ADDRESS, else DASK_SCHEDULER_ADDRESS (Dask's own name for it)."""
    name = (
        "FINANCE_ASSETS_DASK_ADDRESS"
        if env.get("FINANCE_ASSETS_DASK_ADDRESS", "").strip()
        else "DASK_SCHEDULER_ADDRESS"
    )
    raw = env.get(name, "").strip()
    if not raw:
        return ""
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "tcp", raw
    if scheme not in DASK_SCHEMES or not _HOST.fullmatch(rest):
        raise _bad(name, raw, "expected a Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    return raw


def parse_warehouse_url(value: str, name: str = "FINANCE_ASSETS_WAREHOUSE_URL") -> str:
    """`value` as an object-store warehouse URL, `s3://bucket[/prefix]` without a trailing slash, or a
    SettingsError saying what is wrong with it (never echoing credentials)."""
    raw = (value or "").strip()
    example = "e.g. s3://my-bucket/finance/warehouse"
    parts = urlsplit(raw)
    if parts.scheme not in OBJECT_STORE_SCHEMES:
        raise SettingsError(f"{name} is not an object-store URL: it must start with s3:// ({example})")
    if "@" in parts.netloc:
        raise SettingsError(
            f"{name} must not carry credentials (they would end up in logs): use AWS_ACCESS_KEY_ID and "
            f"AWS_SECRET_ACCESS_KEY ({example})"
        )
    if parts.query or parts.fragment:
        raise _bad(name, raw, f"an object-store URL takes no query string or fragment ({example})")
    bucket, prefix = parts.netloc, parts.path.strip("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise _bad(name, raw, f"expected an S3 bucket name (3-63 lower-case letters, digits, '.', '-'): {example}")
    if prefix and (not _KEY_PREFIX.fullmatch(prefix) or "//" in prefix or ".." in prefix):
        raise _bad(name, raw, f"expected a key prefix of letters, digits, '.', '_', '-', '=' and '/': {example}")
    return f"{parts.scheme}://{bucket}" + (f"/{prefix}" if prefix else "")


def _object_store(env: Mapping[str, str]) -> tuple[str, str, str, bool]:
    """FINANCE_ASSETS_WAREHOUSE_URL, FINANCE_ASSETS_S3_ENDPOINT_URL, FINANCE_ASSETS_S3_REGION and whether
    an access key is set (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: both or neither; values unseen)."""
    raw = env.get("FINANCE_ASSETS_WAREHOUSE_URL", "").strip()
    url = parse_warehouse_url(raw) if raw else ""
    endpoint_raw = env.get("FINANCE_ASSETS_S3_ENDPOINT_URL", "").strip()
    endpoint = parse_base_url(endpoint_raw, "FINANCE_ASSETS_S3_ENDPOINT_URL") if endpoint_raw else ""
    region = env.get("FINANCE_ASSETS_S3_REGION", "").strip()
    if region and not _REGION.fullmatch(region):
        raise _bad("FINANCE_ASSETS_S3_REGION", region, "expected a region name, e.g. us-east-1")
    key_id = bool(env.get("AWS_ACCESS_KEY_ID", "").strip())
    secret = bool(env.get("AWS_SECRET_ACCESS_KEY", "").strip())
    if key_id != secret:
        present, missing = (
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if key_id else ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
        )
        raise SettingsError(
            f"{present} is set but {missing} is not: set both (or neither, for the other sources of the AWS "
            "credential chain: a profile, an instance role)"
        )
    return url, endpoint, region, key_id and secret


def _benchmark(env: Mapping[str, str]) -> str:
    from finance_assets.lib.tickers import TICKER_RULE, normalize_ticker

    raw = env.get("FINANCE_ASSETS_BENCHMARK", "").strip()
    if not raw:
        return ""
    try:
        return normalize_ticker(raw)
    except ValueError:
        raise _bad("FINANCE_ASSETS_BENCHMARK", raw, TICKER_RULE) from None


@dataclass(frozen=True)
class Settings:
    """Every setting, validated. Build with `Settings.from_env()`; derive variants with `.replace(...)`."""

    home: Path
    data_dir: Path
    portfolio: Path
    dagster_home: Path
    mode: str = "demo"
    executor: str = "dask"
    dask_scheduler_address: str = ""
    benchmark_override: str = ""  # FINANCE_ASSETS_BENCHMARK; empty: the mode's default (see .benchmark)
    base_currency: str = "USD"
    risk_free_rate: float = 0.0
    history_start: str = DEMO_HISTORY_START  # the default mode's; from_env: default_history_start(mode)
    as_of: str = ""  # FINANCE_ASSETS_AS_OF / --as-of as ISO UTC; '' = the machine clock (see lib/clock.py)
    # secrets: presence only (resources read the values through dagster.EnvVar)
    has_sec_user_agent: bool = False
    has_alphavantage_key: bool = False
    has_finnhub_key: bool = False
    sec_bulk_min_tickers: int = DEFAULT_SEC_BULK_MIN_TICKERS
    automation: bool = False
    automation_lookback_months: int = DEFAULT_LOOKBACK_MONTHS
    limiter_redis_url: str = field(default="", repr=False)  # may hold a password
    # FINANCE_ASSETS_WAREHOUSE_URL: the warehouse on an object store (s3://bucket/prefix) shared by every
    # process and Dask worker; '' = the local folder data_dir/warehouse (docs/object-storage.md)
    warehouse_url: str = ""
    s3_endpoint_url: str = ""  # FINANCE_ASSETS_S3_ENDPOINT_URL: an S3-compatible server (MinIO, moto, ...)
    s3_region: str = ""  # FINANCE_ASSETS_S3_REGION
    has_s3_credentials: bool = False  # AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (presence only)
    sec_www_url: str = DEFAULT_SEC_WWW
    sec_data_url: str = DEFAULT_SEC_DATA
    indicators_file: Path | None = None  # FINANCE_ASSETS_INDICATORS: the technicals' indicator set
    lm_dictionary: Path | None = None  # FINANCE_ASSETS_LM_DICTIONARY: a Loughran-McDonald Master Dictionary CSV
    # FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER: 'package.module:factory' wrapping every source's transport
    # (load_transport_wrapper); the reliability tests put their fault injector there
    http_transport_wrapper: str = ""
    request_log: str = ""  # FINANCE_ASSETS_REQUEST_LOG: the request audit log (lib/request_log.py)
    # test seams (tests and reliability benchmarks only)
    transport: str = ""
    http_backoff: float | None = None
    # FINANCE_ASSETS_DEMO_RATES: (source or '*', requests per second) in demo mode; () = the live limits
    demo_rates: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = _path(env, "FINANCE_ASSETS_HOME", _default_home(), Path.cwd())
        if "://" in env.get("FINANCE_ASSETS_DATA_DIR", ""):
            raise SettingsError(
                "FINANCE_ASSETS_DATA_DIR is a local directory (HTTP cache, limiter state, reports); put the "
                "warehouse on an object store with FINANCE_ASSETS_WAREHOUSE_URL=s3://bucket/prefix instead"
            )
        data_dir = _path(env, "FINANCE_ASSETS_DATA_DIR", home / "data", home)
        warehouse_url, s3_endpoint, s3_region, has_s3_credentials = _object_store(env)
        mode = _choice(env, "FINANCE_ASSETS_MODE", MODES, "demo")
        sec_agent = env.get("SEC_USER_AGENT", "").strip()
        if sec_agent and "@" not in sec_agent:
            # the value is not shown: it is treated as a secret everywhere else
            raise SettingsError(
                "SEC_USER_AGENT is not valid: expected a name and contact e-mail, e.g. 'Example Corp admin@example.com'"
            )
        transport = env.get("FINANCE_ASSETS_TRANSPORT", "").strip().lower()
        if transport not in ("", "demo"):
            raise _bad("FINANCE_ASSETS_TRANSPORT", env.get("FINANCE_ASSETS_TRANSPORT", ""), "expected 'demo' or unset")
        wrapper = env.get("FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER", "").strip()
        if wrapper:
            load_transport_wrapper(wrapper)  # fails here, in one line, rather than in the first step
        backoff_raw = env.get("FINANCE_ASSETS_HTTP_BACKOFF", "").strip()
        currency_raw = env.get("FINANCE_ASSETS_BASE_CURRENCY", "")
        currency = currency_raw.strip().upper() or "USD"
        if not _CURRENCY.fullmatch(currency):
            raise _bad("FINANCE_ASSETS_BASE_CURRENCY", currency_raw, "expected a three-letter ISO 4217 code, e.g. USD")
        return cls(
            home=home,
            data_dir=data_dir,
            portfolio=_path(env, "FINANCE_ASSETS_PORTFOLIO", data_dir / "portfolio.csv", home),
            dagster_home=_path(env, "DAGSTER_HOME", home / ".dagster_home", home),
            mode=mode,
            executor=_choice(env, "FINANCE_ASSETS_EXECUTOR", EXECUTORS, "dask"),
            dask_scheduler_address=_dask_address(env),
            benchmark_override=_benchmark(env),
            base_currency=currency,
            risk_free_rate=_float(
                env,
                "FINANCE_ASSETS_RISK_FREE",
                0.0,
                -0.1,
                0.5,
                "expected a yearly rate as a fraction between -0.1 and 0.5, e.g. 0.04 for 4 %",
            ),
            history_start=parse_history_start(env.get("FINANCE_ASSETS_HISTORY_START"), default_history_start(mode)),
            as_of=_as_of(env),
            has_sec_user_agent=bool(sec_agent),
            has_alphavantage_key=bool(env.get("ALPHAVANTAGE_API_KEY", "").strip()),
            has_finnhub_key=bool(env.get("FINNHUB_API_KEY", "").strip()),
            sec_bulk_min_tickers=_int(env, "SEC_BULK_MIN_TICKERS", DEFAULT_SEC_BULK_MIN_TICKERS, 0),
            automation=_flag(env, "FINANCE_ASSETS_AUTOMATION"),
            automation_lookback_months=_int(
                env, "FINANCE_ASSETS_AUTOMATION_LOOKBACK_MONTHS", DEFAULT_LOOKBACK_MONTHS, 1
            ),
            limiter_redis_url=_redis_url(env),
            warehouse_url=warehouse_url,
            s3_endpoint_url=s3_endpoint,
            s3_region=s3_region,
            has_s3_credentials=has_s3_credentials,
            sec_www_url=_base_url(env, "FINANCE_ASSETS_SEC_WWW", DEFAULT_SEC_WWW),
            sec_data_url=_base_url(env, "FINANCE_ASSETS_SEC_DATA", DEFAULT_SEC_DATA),
            indicators_file=_optional_file(env, "FINANCE_ASSETS_INDICATORS", home),
            lm_dictionary=_optional_file(env, "FINANCE_ASSETS_LM_DICTIONARY", home),
            http_transport_wrapper=wrapper,
            transport=transport,
            request_log=env.get("FINANCE_ASSETS_REQUEST_LOG", "").strip(),
            http_backoff=(
                _float(env, "FINANCE_ASSETS_HTTP_BACKOFF", 0.0, 0.0, 60.0, "expected seconds between 0 and 60")
                if backoff_raw
                else None
            ),
            demo_rates=_demo_rates(env),
        )

    def replace(self, **changes) -> Settings:
        """A copy with some settings changed (e.g. the CLI's --executor), validated like the environment."""
        if "as_of" in changes:
            from finance_assets.lib.clock import parse_as_of

            try:
                changes["as_of"] = parse_as_of(changes["as_of"] or "")
            except ValueError as exc:
                raise _bad("--as-of", changes["as_of"], str(exc)) from None
        new = replace(self, **changes)
        if new.mode not in MODES:
            raise _bad("mode", new.mode, "expected one of " + ", ".join(MODES))
        if new.executor not in EXECUTORS:
            raise _bad("--executor", new.executor, "expected one of " + ", ".join(EXECUTORS))
        return new

    def now(self) -> dt.datetime:
        """The one clock of this process: the as-of instant, else the machine's UTC now."""
        from finance_assets.lib.clock import now

        return now(self.as_of)

    @property
    def demo_now(self) -> str:
        """Older name of `as_of` (FINANCE_ASSETS_DEMO_NOW)."""
        return self.as_of

    @property
    def benchmark(self) -> str:
        """FINANCE_ASSETS_BENCHMARK, else the fictional demo index in demo mode and SPY in live mode."""
        return self.benchmark_override or (DEMO_BENCHMARK if self.mode == "demo" else "SPY")

    # derived paths
    @property
    def warehouse_dir(self) -> Path:
        """The local warehouse folder (with an object-store warehouse: where its local DuckDB catalog lives)."""
        return self.data_dir / "warehouse"

    @property
    def warehouse_location(self) -> str:
        """Where the warehouse is: FINANCE_ASSETS_WAREHOUSE_URL, else the local folder (`Warehouse(...)` takes
        either)."""
        return self.warehouse_url or str(self.warehouse_dir)

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "state"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    def check_live_credentials(self) -> None:
        """Live mode cannot fetch anything from SEC without a declared User-Agent."""
        if self.mode == "live" and not self.has_sec_user_agent:
            raise SettingsError(
                "SEC_USER_AGENT is not set: live mode needs a name and contact e-mail, e.g. "
                "'Example Corp admin@example.com' (or FINANCE_ASSETS_MODE=demo)"
            )

    def check_writable(self) -> None:
        """The data directory and DAGSTER_HOME exist (or can be created) and accept files."""
        for name, path in (("FINANCE_ASSETS_DATA_DIR", self.data_dir), ("DAGSTER_HOME", self.dagster_home)):
            problem = _unwritable(path)
            if problem:
                raise SettingsError(f"{name}={str(path)!r} is not usable: {problem}; expected a writable directory")


def _unwritable(path: Path) -> str:
    """Why files cannot be written under `path` ('' when they can), without creating anything."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return "no existing parent directory"
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file, not a directory" if probe != path else "it is a file, not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return "permission denied" if probe == path else f"cannot create it: {probe} is not writable"
    return ""


def _default_home() -> Path:
    """The checkout this package lives in, else the working directory."""
    checkout = _PACKAGE_DIR.parents[1]  # finance_assets/lib -> the checkout
    if (checkout / "pyproject.toml").exists():
        return checkout
    return Path.cwd()


_CACHE: dict[tuple, Settings] = {}


def settings() -> Settings:
    """The process's Settings from the current environment (parsed once per distinct environment)."""
    key = tuple(os.environ.get(name) for name in ENV_VARS)
    found = _CACHE.get(key)
    if found is None:
        found = Settings.from_env()
        _CACHE.clear()
        _CACHE[key] = found
    return found


# Shorthands for modules that run inside Dagster (sensors, assets) and read the deployment's settings
# (only those something calls; anything else reads `settings()` directly).
def data_dir() -> Path:
    return settings().data_dir


def warehouse_dir() -> Path:
    return settings().warehouse_dir


def warehouse_location() -> str:
    return settings().warehouse_location


def portfolio_path() -> Path:
    return settings().portfolio


def benchmark_ticker(mode_name: str | None = None) -> str:
    """FINANCE_ASSETS_BENCHMARK, else the fictional demo index in demo mode and SPY in live mode."""
    current = settings()
    return current.benchmark if mode_name is None else replace(current, mode=mode_name).benchmark


# First month of history any partition can address. Changing it changes every partition key set,
# so it is a deployment-level setting, not a per-run one. Read on its own at import (partitions
# are module-level definitions); Settings.history_start validates the same variable.
# Unset, it is the mode's default (default_history_start), with the mode read as Settings reads it.
# A bad value falls back here so that importing stays quiet; Settings.from_env() (run by the CLI first
# and by definitions.py at import) reports it, so no process runs with the fallback.
_IMPORT_MODE = os.environ.get("FINANCE_ASSETS_MODE", "").strip().lower() or "demo"
try:
    HISTORY_START = parse_history_start(
        os.environ.get("FINANCE_ASSETS_HISTORY_START"), default_history_start(_IMPORT_MODE)
    )
except SettingsError:
    HISTORY_START = default_history_start(_IMPORT_MODE)


def default_dagster_setting(name: str, value: str) -> None:
    """Set Dagster's environment setting `name` for the rest of the process, unless the user set it (e.g.
    DAGSTER_EVENT_BATCH_SIZE, which the instance's batched event storage turns on where it is opened)."""
    os.environ.setdefault(name, value)


@contextlib.contextmanager
def dagster_switch(name: str, value: str = "true"):
    """Within the block, the process environment sets Dagster's switch `name` (read by Dagster itself, e.g. when
    a run is created), unless the user set it; restored afterwards."""
    if os.environ.get(name) is not None:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)
