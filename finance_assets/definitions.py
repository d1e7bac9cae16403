"""The Dagster code location: assets, checks, resources (demo or live), executor, jobs, sensors.

Environment:
- FINANCE_ASSETS_MODE=demo|live (default demo: offline, fictional tickers)
- FINANCE_ASSETS_EXECUTOR=dask|in_process (default dask). With DASK_SCHEDULER_ADDRESS set, runs go to
  that existing Dask scheduler; otherwise each run starts a local cluster sized from the machine.
- SEC_USER_AGENT (live SEC), ALPHAVANTAGE_API_KEY (optional price fallback), FINANCE_ASSETS_BENCHMARK.
- SEC_BULK_MIN_TICKERS (default 200): SEC runs over more tickers read EDGAR's nightly bulk archives.
- FINANCE_ASSETS_SEC_WWW / FINANCE_ASSETS_SEC_DATA (default https://www.sec.gov / https://data.sec.gov):
  EDGAR base URLs, for a proxy, an internal mirror or a caching gateway (see docs/sec.md).
- FINNHUB_API_KEY (optional): Finnhub company news as a third headline provider.
"""

from __future__ import annotations

import os

import dagster as dg

from finance_assets.defs.market import assets as market
from finance_assets.defs.market import fx_assets as fx
from finance_assets.defs.market.fx_source import FxSource
from finance_assets.defs.market.source import PriceSource
from finance_assets.defs.news import assets as news
from finance_assets.defs.news.source import NewsSource
from finance_assets.defs.portfolio import assets as report
from finance_assets.lib.portfolio_settings import PortfolioSettings
from finance_assets.defs.sec import assets as sec
from finance_assets.defs.sec.sensors import SENSORS
from finance_assets.defs.sec.source import (
    SEC_DATA,
    SEC_DATA_ENV,
    SEC_WWW,
    SEC_WWW_ENV,
    SecEdgarSource,
    endpoint_from_env,
)
from finance_assets.lib import config
from finance_assets.lib.automation import (
    automation_sensor,
    partition_freshness_checks,
    partition_freshness_sensor,
    with_automation,
)
from finance_assets.lib.executor import dask_executor
from finance_assets.lib.io_manager import ParquetWarehouseIOManager

ALL_ASSETS = [
    sec.ticker_cik_map,
    sec.filings,
    sec.xbrl_facts,
    sec.fundamentals,
    market.prices,
    market.technicals,
    news.headlines,
    news.sentiment,
    fx.fx_rates,
    report.market_panel,
    report.fundamental_snapshots,
    report.portfolio_report,
]
ALL_CHECKS = [market.prices_are_sane, market.prices_cover_every_session, *sec.SEC_CHECKS, fx.fx_rates_are_sane]


def _env_or_blank(name: str) -> str | dg.EnvVar:
    """An EnvVar when set (so Dagster never shows its value), else '' for optional settings."""
    return dg.EnvVar(name) if os.environ.get(name) else ""


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None


def build_resources(mode: str | None = None) -> dict:
    mode = mode or config.mode()
    common = {
        "mode": mode,
        "cache_dir": str(config.cache_dir()),
        "state_dir": str(config.state_dir()),
        "fault_rate": float(os.environ.get("FINANCE_ASSETS_FAULT_RATE", "0") or 0),
        "demo_now": os.environ.get("FINANCE_ASSETS_DEMO_NOW", ""),
    }
    benchmark = config.benchmark_ticker(mode)
    return {
        "io_manager": ParquetWarehouseIOManager(base_path=str(config.warehouse_dir())),
        "sec": SecEdgarSource(
            **common,
            user_agent=dg.EnvVar("SEC_USER_AGENT") if mode == "live" else "",
            bulk_min_tickers=_int_env("SEC_BULK_MIN_TICKERS", 200),
            www_url=endpoint_from_env(SEC_WWW_ENV, SEC_WWW),
            data_url=endpoint_from_env(SEC_DATA_ENV, SEC_DATA),
        ),
        "prices_source": PriceSource(**common, alphavantage_api_key=_env_or_blank("ALPHAVANTAGE_API_KEY")),
        "news_source": NewsSource(**common, finnhub_api_key=_env_or_blank("FINNHUB_API_KEY")),
        "fx_source": FxSource(**common),
        "portfolio": PortfolioSettings(
            path=str(config.portfolio_path()),
            reports_dir=str(config.reports_dir()),
            benchmark=benchmark,
            base_currency=os.environ.get("FINANCE_ASSETS_BASE_CURRENCY", "USD"),
            risk_free_rate=float(os.environ.get("FINANCE_ASSETS_RISK_FREE", "0") or 0),
        ),
    }


def build_executor() -> dg.ExecutorDefinition:
    kind = os.environ.get("FINANCE_ASSETS_EXECUTOR", "dask").strip().lower()
    if kind == "in_process":
        return dg.in_process_executor
    if kind != "dask":
        raise ValueError(f"FINANCE_ASSETS_EXECUTOR must be 'dask' or 'in_process', got {kind!r}")
    address = os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        return dask_executor.configured({"cluster": {"existing": {"address": address}}}, name="dask_existing")
    workers = max(1, min(os.cpu_count() or 1, 8))
    return dask_executor.configured(
        # dashboard ':0' picks a free port (None still binds 8787)
        {
            "cluster": {
                "local": {"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": ":0"}
            }
        },
        name="dask_local",
    )


# One job per partitioning scheme: a run's partition range must suit every asset in it.
ticker_map_job = dg.define_asset_job("ticker_map_job", selection=[sec.ticker_cik_map])
sec_job = dg.define_asset_job("sec_job", selection=[sec.filings, sec.xbrl_facts, sec.fundamentals])
market_job = dg.define_asset_job(
    "market_job", selection=dg.AssetSelection.assets(market.prices, market.technicals, news.headlines, news.sentiment)
)
# fx_rates shares the month partitions, so it runs with the panel
panel_job = dg.define_asset_job("panel_job", selection=[report.market_panel, fx.fx_rates])
snapshots_job = dg.define_asset_job("snapshots_job", selection=[report.fundamental_snapshots])
report_job = dg.define_asset_job("report_job", selection=dg.AssetSelection.assets(report.portfolio_report))
JOBS = [ticker_map_job, sec_job, market_job, panel_job, snapshots_job, report_job]


PARTITION_FRESHNESS_CHECKS = partition_freshness_checks()

defs = dg.Definitions(
    assets=with_automation(ALL_ASSETS),  # automation conditions + freshness policies
    asset_checks=[*ALL_CHECKS, *PARTITION_FRESHNESS_CHECKS],
    resources=build_resources(),
    executor=build_executor(),
    jobs=JOBS,
    sensors=[*SENSORS, automation_sensor(), partition_freshness_sensor(PARTITION_FRESHNESS_CHECKS)],
)


# Module-level getters make the jobs reconstructable (needed by the Dask executor in execute_job).
def get_ticker_map_job():
    return defs.resolve_job_def("ticker_map_job")


def get_sec_job():
    return defs.resolve_job_def("sec_job")


def get_market_job():
    return defs.resolve_job_def("market_job")


def get_panel_job():
    return defs.resolve_job_def("panel_job")


def get_snapshots_job():
    return defs.resolve_job_def("snapshots_job")


def get_report_job():
    return defs.resolve_job_def("report_job")
