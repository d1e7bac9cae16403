"""Sensors: new SEC filings of followed companies, and new tickers in the portfolio file.

Both are STOPPED by default; set FINANCE_ASSETS_AUTOMATION=on (or toggle them in the UI) to run them
under the daemon.
"""

import dagster as dg
import pandas as pd

from finance_assets.defs.sec import assets as sec_assets
from finance_assets.defs.sec import documents as sec_documents
from finance_assets.defs.sec import edgar
from finance_assets.defs.sec.document_store import wants_primary
from finance_assets.defs.sec.source import SecEdgarSource
from finance_assets.lib import config
from finance_assets.lib.automation import automation_enabled
from finance_assets.lib.holdings_file import read_portfolio
from finance_assets.lib.partitions import TICKER, ticker_partitions
from finance_assets.lib.warehouse import Warehouse

# Forms that can change XBRL facts (and so fundamentals); any other form changes only `filings`.
XBRL_FORMS = frozenset(
    {
        "10-K",
        "10-K/A",
        "10-Q",
        "10-Q/A",
        "10-KT",
        "10-KT/A",
        "10-QT",
        "10-QT/A",
        "20-F",
        "20-F/A",
        "40-F",
        "40-F/A",
        "6-K",
        "6-K/A",
        "8-K",
        "8-K/A",
    }
)
TICKER_TAG = "finance_assets/ticker"
ACCESSION_TAG = "finance_assets/accession"
FEED_PAGE_SIZE = 100
# EDGAR can take several hundred filings in five minutes at peak (16:00-17:30 New York); a tick reads
# pages until it reaches what it saw last time, up to this many.
MAX_FEED_PAGES = 10


def _default_status() -> dg.DefaultSensorStatus:
    # the same switch as the automation sensor: off under a pinned clock (the feed is today's)
    return dg.DefaultSensorStatus.RUNNING if automation_enabled() else dg.DefaultSensorStatus.STOPPED


def followed_ciks(instance: dg.DagsterInstance, warehouse: Warehouse) -> dict[int, list[str]]:
    """CIK -> registered tickers, from the materialized ticker_cik_map (earlier CIKs of a ticker included)."""
    history = warehouse.read_latest("ticker_cik_map")
    if history is None:
        return {}
    registered = set(instance.get_dynamic_partitions(TICKER))
    mapping: dict[int, list[str]] = {}
    for row in history[history["ticker"].isin(registered)].itertuples(index=False):
        tickers = mapping.setdefault(int(row.cik), [])
        if row.ticker not in tickers:
            tickers.append(row.ticker)
    return mapping


def read_latest_filings(sec: SecEdgarSource, since: pd.Timestamp | None) -> tuple[pd.DataFrame, int]:
    """Entries of EDGAR's Latest Filings feed newer than `since` (all of page 1 when None), pages read."""
    pages = []
    for page in range(MAX_FEED_PAGES):
        frame = edgar.parse_getcurrent_atom(sec.latest_filings_atom(start=page * FEED_PAGE_SIZE))
        pages.append(frame)
        if since is None or len(frame) < FEED_PAGE_SIZE or frame["updated"].min() <= since:
            break
    feed = pd.concat(pages, ignore_index=True)
    if since is not None:
        feed = feed[feed["updated"] > since]
    return feed, len(pages)


def filing_run_requests(feed: pd.DataFrame, followed: dict[int, list[str]]) -> list[dg.RunRequest]:
    """One run per followed ticker with new filings: its SEC assets (just `filings` when no new form
    carries XBRL), keyed by its newest accession number so a repeated tick never runs it twice."""
    fresh = feed[feed["cik"].isin(list(followed))].drop_duplicates(["accession_number", "cik"])
    by_ticker: dict[str, list] = {}
    for row in fresh.itertuples(index=False):
        for ticker in followed[int(row.cik)]:
            by_ticker.setdefault(ticker, []).append(row)
    requests = []
    for ticker in sorted(by_ticker):
        rows = sorted(by_ticker[ticker], key=lambda r: (r.updated, r.accession_number))
        newest = rows[-1]
        xbrl = any(r.form in XBRL_FORMS for r in rows)
        selection = (
            [sec_assets.filings.key, sec_assets.xbrl_facts.key, sec_assets.fundamentals.key]
            if xbrl
            else [sec_assets.filings.key]
        )
        if any(wants_primary(r.form) for r in rows):  # a report with a document to read
            selection += [sec_documents.filing_documents.key, sec_documents.filing_text_signals.key]
        shared = len(followed[int(newest.cik)]) > 1  # share classes of one company: one run each
        requests.append(
            dg.RunRequest(
                run_key=f"{newest.accession_number}:{ticker}" if shared else newest.accession_number,
                partition_key=ticker,
                asset_selection=selection,
                tags={
                    TICKER_TAG: ticker,
                    ACCESSION_TAG: newest.accession_number,
                    "finance_assets/new_filings": str(len(rows)),
                },
            )
        )
    return requests


@dg.sensor(
    name="new_sec_filings",
    minimum_interval_seconds=300,
    default_status=_default_status(),
    asset_selection=[
        sec_assets.filings,
        sec_assets.xbrl_facts,
        sec_assets.fundamentals,
        *sec_documents.DOCUMENT_ASSETS,
    ],
    description="Polls EDGAR's Latest Filings feed (paging back to the previous tick) and refreshes each "
    "followed company that filed: filings, plus XBRL facts and fundamentals when a periodic report or "
    "8-K arrived, and its filing documents and text signals when a 10-K/10-Q/8-K/20-F/40-F/6-K arrived. "
    "One run per ticker per tick, keyed by its newest accession number.",
)
def new_sec_filings_sensor(context: dg.SensorEvaluationContext, sec: SecEdgarSource) -> dg.SensorResult:
    since = pd.Timestamp(context.cursor) if context.cursor else None
    feed, pages = read_latest_filings(sec, since)
    followed = followed_ciks(context.instance, Warehouse(config.warehouse_location()))
    requests = filing_run_requests(feed, followed)
    new_cursor = feed["updated"].max().isoformat() if len(feed) else context.cursor
    if not requests:
        return dg.SensorResult(
            skip_reason=f"no new filings from followed companies ({len(feed)} new entries, {pages} feed page(s))",
            cursor=new_cursor,
        )
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
    benchmark = config.benchmark_ticker()
    wanted = list(dict.fromkeys([*holdings["ticker"], edgar.normalize_ticker(benchmark)]))
    known = set(context.instance.get_dynamic_partitions(TICKER))
    new = [t for t in wanted if t not in known]
    return dg.SensorResult(
        dynamic_partitions_requests=[ticker_partitions.build_add_request(new)] if new else [], cursor=mtime
    )


SENSORS = [new_sec_filings_sensor, portfolio_tickers_sensor]
