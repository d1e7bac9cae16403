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

import functools
import os

import dagster as dg

from finance_assets.defs.market import assets as market
from finance_assets.defs.market import fx_assets as fx
from finance_assets.defs.market.fx_source import FxSource
from finance_assets.defs.market.sensors import SENSORS as MARKET_SENSORS
from finance_assets.defs.market.source import PriceSource
from finance_assets.defs.news import assets as news
from finance_assets.defs.news.source import NewsSource
from finance_assets.defs.portfolio import assets as report
from finance_assets.defs.portfolio import checks as report_checks
from finance_assets.defs.sec import assets as sec
from finance_assets.defs.sec import documents as sec_documents
from finance_assets.defs.sec.sensors import SENSORS
from finance_assets.defs.sec.source import (
    SecEdgarSource,
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
from finance_assets.lib.portfolio_settings import PortfolioSettings
from finance_assets.lib.selections import RUN_GROUPS

ALL_ASSETS = [
    sec.ticker_cik_map,
    sec.filings,
    sec.xbrl_facts,
    sec.fundamentals,
    *sec_documents.DOCUMENT_ASSETS,
    market.corporate_actions,
    market.prices,
    market.technicals,
    news.headlines,
    news.sentiment,
    fx.fx_rates,
    report.market_panel,
    report.fundamental_snapshots,
    report.portfolio_report,
]
ALL_CHECKS = [
    market.prices_are_sane,
    market.prices_cover_every_session,
    *market.SCHEMA_CHECKS,  # every stored table matches its declared schema (defs/<domain>/schemas.py)
    *sec.SEC_CHECKS,
    *sec.SCHEMA_CHECKS,
    fx.fx_rates_are_sane,
    *fx.SCHEMA_CHECKS,
    *news.SCHEMA_CHECKS,
    *report_checks.PORTFOLIO_CHECKS,
    *report.SCHEMA_CHECKS,
]


def _secret(name: str, present: bool) -> str | dg.EnvVar:
    """An EnvVar when set (so Dagster never shows its value), else '' for optional settings."""
    return dg.EnvVar(name) if present else ""


def build_resources(settings: config.Settings | str | None = None) -> dict:
    """Resources from validated settings (a mode name: the environment's settings in that mode)."""
    if not isinstance(settings, config.Settings):
        settings = config.settings() if settings is None else config.settings().replace(mode=settings)
    mode = settings.mode
    common = {
        "mode": mode,
        "cache_dir": str(settings.cache_dir),
        "state_dir": str(settings.state_dir),
        "as_of": settings.as_of,
    }
    return {
        "io_manager": ParquetWarehouseIOManager(
            base_path=settings.warehouse_location,
            s3_endpoint_url=settings.s3_endpoint_url,
            s3_region=settings.s3_region,
            as_of=settings.as_of,
        ),
        "sec": SecEdgarSource(
            **common,
            user_agent=dg.EnvVar("SEC_USER_AGENT") if mode == "live" else "",
            bulk_min_tickers=settings.sec_bulk_min_tickers,
            www_url=settings.sec_www_url,
            data_url=settings.sec_data_url,
        ),
        "prices_source": PriceSource(
            **common, alphavantage_api_key=_secret("ALPHAVANTAGE_API_KEY", settings.has_alphavantage_key)
        ),
        "news_source": NewsSource(**common, finnhub_api_key=_secret("FINNHUB_API_KEY", settings.has_finnhub_key)),
        "fx_source": FxSource(**common),
        "portfolio": PortfolioSettings(
            path=str(settings.portfolio),
            reports_dir=str(settings.reports_dir),
            benchmark=settings.benchmark,
            base_currency=settings.base_currency,
            risk_free_rate=settings.risk_free_rate,
        ),
    }


def build_executor(settings: config.Settings | None = None) -> dg.ExecutorDefinition:
    settings = settings or config.settings()
    if settings.executor == "in_process":
        return dg.in_process_executor
    address = settings.dask_scheduler_address
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


# One job per run group (lib/selections.py): a run's partition range must suit every asset in it.
JOBS = [dg.define_asset_job(group.job, selection=dg.AssetSelection.assets(*group.assets)) for group in RUN_GROUPS]
# An asset in no run group gets a job of its own, so `finance-assets update` (planning.update) can run
# whatever the automation conditions request.
_GROUPED = {name for group in RUN_GROUPS for name in group.assets}
JOBS += [
    dg.define_asset_job(f"{key.to_user_string()}_job", selection=[key])
    for assets_def in ALL_ASSETS
    for key in assets_def.keys
    if key.to_user_string() not in _GROUPED
]


PARTITION_FRESHNESS_CHECKS = partition_freshness_checks()

# One asset group for the whole graph, the domain (sec, market, fx, news, portfolio) kept as the `domain`
# tag: with several groups Dagster's global lineage page opens with every group collapsed and
# no asset in sight; with one group it opens on the whole graph.
ASSET_GROUP = "finance_assets"


def in_one_group(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    def regroup(spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.replace_attributes(group_name=ASSET_GROUP).merge_attributes(tags={"domain": spec.group_name})

    return list(dg.map_asset_specs(regroup, assets))


@functools.cache
def build_definitions(settings: config.Settings) -> dg.Definitions:
    """The code location for these settings; the CLI passes its own, Dagster loads `defs` below."""
    return dg.Definitions(
        assets=with_automation(in_one_group(ALL_ASSETS)),  # automation conditions + freshness policies
        asset_checks=[*ALL_CHECKS, *PARTITION_FRESHNESS_CHECKS],
        resources=build_resources(settings),
        executor=build_executor(settings),
        jobs=JOBS,
        sensors=[
            *SENSORS,
            *MARKET_SENSORS,
            automation_sensor(),
            partition_freshness_sensor(PARTITION_FRESHNESS_CHECKS),
        ],
    )


defs = build_definitions(config.settings())


def job_for(name: str, executor: str, dask_scheduler_address: str = "", as_of: str | None = None) -> dg.JobDefinition:
    """A job of the environment's settings with the CLI's choices applied (see `reconstructable_job`);
    `as_of` is the caller's clock (None: the environment's)."""
    changes = {"executor": executor, "dask_scheduler_address": dask_scheduler_address}
    if as_of is not None:
        changes["as_of"] = as_of
    settings = config.settings().replace(**changes)
    return build_definitions(settings).resolve_job_def(name)


def reconstructable_job(name: str, settings: config.Settings) -> dg.ReconstructableJob:
    """`name` built from `settings` in every process that runs a step (Dask workers rebuild it from
    these arguments, not from environment variables the caller would have to set)."""
    return dg.build_reconstructable_job(
        __name__,
        "job_for",
        reconstructable_kwargs={
            "name": name,
            "executor": settings.executor,
            "dask_scheduler_address": settings.dask_scheduler_address,
            "as_of": settings.as_of,
        },
    )
