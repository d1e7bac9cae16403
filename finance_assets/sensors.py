"""Sensors: new SEC filings of followed companies, and new tickers in the portfolio file.

Both are STOPPED by default; set FINANCE_ASSETS_AUTOMATION=on (or toggle them in the UI) to run them
under the daemon.
"""


import os

import dagster as dg
import pandas as pd

from finance_assets import config
from finance_assets.analytics import edgar
from finance_assets.analytics.portfolio import read_portfolio
from finance_assets.assets import sec
from finance_assets.io.warehouse import Warehouse
from finance_assets.partitions import TICKER, ticker_partitions
from finance_assets.resources.sources import SecEdgarSource

# Forms whose arrival changes filings / XBRL facts / fundamentals.
RELEVANT_FORMS = {"10-K", "10-K/A", "10-Q", "10-Q/A", "20-F", "20-F/A", "40-F", "6-K", "8-K", "8-K/A"}
TICKER_TAG = "finance_assets/ticker"


def _default_status() -> dg.DefaultSensorStatus:
    on = os.environ.get("FINANCE_ASSETS_AUTOMATION", "").lower() in ("1", "on", "true", "yes")
    return dg.DefaultSensorStatus.RUNNING if on else dg.DefaultSensorStatus.STOPPED


def followed_ciks(instance: dg.DagsterInstance, warehouse: Warehouse) -> dict[int, list[str]]:
    """CIK -> registered tickers, from the materialized ticker_cik_map."""
    path = warehouse.partition_file("ticker_cik_map")
    if not path.exists():
        return {}
    history = pd.read_parquet(path)
    registered = set(instance.get_dynamic_partitions(TICKER))
    mapping: dict[int, list[str]] = {}
    for row in history[history["ticker"].isin(registered)].itertuples(index=False):
        mapping.setdefault(int(row.cik), []).append(row.ticker)
    return mapping


@dg.sensor(
    name="new_sec_filings",
    minimum_interval_seconds=300,
    default_status=_default_status(),
    asset_selection=[sec.filings, sec.xbrl_facts, sec.fundamentals],
    description="Polls EDGAR's Latest Filings feed and refreshes filings, XBRL facts and fundamentals "
    "of each followed company that filed (one run per accession number, never twice).",
)
def new_sec_filings_sensor(context: dg.SensorEvaluationContext, sec: SecEdgarSource) -> dg.SensorResult:
    feed = edgar.parse_getcurrent_atom(sec.latest_filings_atom())
    followed = followed_ciks(context.instance, Warehouse(config.warehouse_dir()))
    cursor = pd.Timestamp(context.cursor) if context.cursor else None
    fresh = feed if cursor is None else feed[feed["updated"] > cursor]
    fresh = fresh[fresh["form"].isin(RELEVANT_FORMS) & fresh["cik"].isin(list(followed))]
    requests = []
    for row in fresh.drop_duplicates(["accession_number", "cik"]).itertuples(index=False):
        for ticker in followed[int(row.cik)]:
            requests.append(dg.RunRequest(run_key=f"{row.accession_number}:{ticker}", partition_key=ticker,
                                          tags={TICKER_TAG: ticker, "finance_assets/accession": row.accession_number}))
    new_cursor = feed["updated"].max().isoformat() if len(feed) else context.cursor
    if not requests:
        return dg.SensorResult(skip_reason="no new filings from followed companies", cursor=new_cursor)
    return dg.SensorResult(run_requests=requests, cursor=new_cursor)


@dg.sensor(
    name="portfolio_tickers",
    minimum_interval_seconds=60,
    default_status=_default_status(),
    description="Registers tickers that appear in the portfolio file as ticker partitions; declarative "
    "automation then requests exactly their missing partitions.",
)
def portfolio_tickers_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    path = config.portfolio_path()
    mtime = str(path.stat().st_mtime_ns) if path.exists() else "missing"
    if context.cursor == mtime:
        return dg.SkipReason("portfolio file unchanged")
    holdings = read_portfolio(path)
    benchmark = os.environ.get("FINANCE_ASSETS_BENCHMARK") or ("DEMOIDX" if config.mode() == "demo" else "SPY")
    wanted = list(dict.fromkeys([*holdings["ticker"], edgar.normalize_ticker(benchmark)]))
    known = set(context.instance.get_dynamic_partitions(TICKER))
    new = [t for t in wanted if t not in known]
    return dg.SensorResult(
        dynamic_partitions_requests=[ticker_partitions.build_add_request(new)] if new else [], cursor=mtime)


SENSORS = [new_sec_filings_sensor, portfolio_tickers_sensor]
