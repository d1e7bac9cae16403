"""Where the platform keeps its files and which mode it runs in, read from env vars once.

Every process (webserver, daemon, Dask workers) resolves the same absolute paths, so a worker
started from another working directory still writes to the same warehouse.
"""

from __future__ import annotations

import os
from pathlib import Path

from finance_assets.demo.source import DEMO_BENCHMARK

_PACKAGE_DIR = Path(__file__).resolve().parent


def project_home() -> Path:
    """FINANCE_ASSETS_HOME, else the checkout this package lives in, else the working directory."""
    env = os.environ.get("FINANCE_ASSETS_HOME")
    if env:
        return Path(env).resolve()
    checkout = _PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").exists():
        return checkout
    return Path.cwd().resolve()


def data_dir() -> Path:
    return Path(os.environ.get("FINANCE_ASSETS_DATA_DIR", project_home() / "data")).resolve()


def warehouse_dir() -> Path:
    return data_dir() / "warehouse"


def cache_dir() -> Path:
    return data_dir() / "cache"


def state_dir() -> Path:
    return data_dir() / "state"


def reports_dir() -> Path:
    return data_dir() / "reports"


def portfolio_path() -> Path:
    return Path(os.environ.get("FINANCE_ASSETS_PORTFOLIO", data_dir() / "portfolio.csv")).resolve()


def mode() -> str:
    """'demo' (offline, fictional tickers) or 'live' (real endpoints; needs SEC_USER_AGENT)."""
    value = os.environ.get("FINANCE_ASSETS_MODE", "demo").strip().lower()
    if value not in ("demo", "live"):
        raise ValueError(f"FINANCE_ASSETS_MODE must be 'demo' or 'live', got {value!r}")
    return value


def benchmark_ticker(mode_name: str | None = None) -> str:
    """FINANCE_ASSETS_BENCHMARK, else the fictional demo index in demo mode and SPY in live mode."""
    return os.environ.get("FINANCE_ASSETS_BENCHMARK") or (DEMO_BENCHMARK if (mode_name or mode()) == "demo" else "SPY")


# First month of history any partition can address. Changing it changes every partition key set,
# so it is a deployment-level setting, not a per-run one.
HISTORY_START = os.environ.get("FINANCE_ASSETS_HISTORY_START", "2016-01-01")
