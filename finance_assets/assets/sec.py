"""SEC EDGAR assets: ticker->CIK map, filings, XBRL facts and point-in-time fundamentals."""


import datetime as dt

import dagster as dg
import pandas as pd

from finance_assets.analytics import edgar, fundamentals as fundamentals_lib, xbrl
from finance_assets.assets._partitions import md_preview
from finance_assets.io.warehouse import Warehouse
from finance_assets.partitions import ticker_partitions
from finance_assets.resources.sources import SecEdgarSource

GROUP = "sec"


def _previous_map(context: dg.AssetExecutionContext) -> pd.DataFrame | None:
    io_manager = context.resources.io_manager
    path = Warehouse(io_manager.base_path).partition_file("ticker_cik_map")
    return pd.read_parquet(path) if path.exists() else None


@dg.asset(
    group_name=GROUP,
    required_resource_keys={"sec", "io_manager"},
    code_version="1",
    description="Ticker -> CIK map from EDGAR company_tickers_exchange.json, with first/last seen dates "
    "so a ticker that moves to another CIK still resolves for old filings.",
)
def ticker_cik_map(context: dg.AssetExecutionContext) -> pd.DataFrame:
    sec: SecEdgarSource = context.resources.sec
    raw = sec.company_tickers()
    current = (edgar.parse_company_tickers_exchange(raw) if "fields" in raw
               else edgar.parse_company_tickers(raw))
    history = edgar.merge_ticker_history(_previous_map(context), current, dt.date.today())
    context.add_output_metadata({
        "tickers": len(current), "companies": int(current["cik"].nunique()),
        "history_rows": len(history), "preview": md_preview(current), "http": sec.http_stats(),
    })
    return history


def _cik_for(ticker_map: pd.DataFrame, ticker: str) -> int | None:
    return edgar.resolve_cik(ticker_map, ticker, dt.date.today())


@dg.asset(
    group_name=GROUP,
    partitions_def=ticker_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    required_resource_keys={"sec"},
    code_version="1",
    description="Every filing of the company from EDGAR submissions JSON, older pages included.",
)
def filings(context: dg.AssetExecutionContext, ticker_cik_map: pd.DataFrame) -> pd.DataFrame:
    sec: SecEdgarSource = context.resources.sec
    frames = []
    for ticker in context.partition_keys:
        cik = _cik_for(ticker_cik_map, ticker)
        if cik is None:
            context.log.info(f"{ticker}: no CIK in the EDGAR map (index, fund or foreign listing): 0 filings")
            frame = edgar.merge_filings([])
        else:
            data = sec.submissions(cik)
            _, recent = edgar.parse_submissions(data)
            pages = [edgar.parse_submissions_page(sec.submissions_page(name))
                     for name in edgar.submission_pages(data)]
            frame = edgar.merge_filings([recent, *pages])
        frame.insert(0, "ticker", ticker)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    context.add_output_metadata({
        "forms": dg.MetadataValue.json(out["form"].value_counts().head(10).to_dict() if len(out) else {}),
        "latest_filing": str(out["filing_date"].max()) if len(out) else "none",
        "preview": md_preview(out[["ticker", "form", "filing_date", "accession_number"]] if len(out) else out),
        "http": sec.http_stats(),
    })
    return out


@dg.asset(
    group_name=GROUP,
    partitions_def=ticker_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    required_resource_keys={"sec"},
    code_version="1",
    description="The XBRL companyfacts document as one long table; every filed vintage kept.",
)
def xbrl_facts(context: dg.AssetExecutionContext, ticker_cik_map: pd.DataFrame) -> pd.DataFrame:
    sec: SecEdgarSource = context.resources.sec
    frames = []
    for ticker in context.partition_keys:
        cik = _cik_for(ticker_cik_map, ticker)
        document = sec.companyfacts(cik) if cik is not None else None
        frame = xbrl.normalize_companyfacts(document) if document else xbrl.normalize_companyfacts(
            {"cik": cik or 0, "entityName": "", "facts": {}})
        frame.insert(0, "ticker", ticker)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    context.add_output_metadata({
        "taxonomies": dg.MetadataValue.json(out["taxonomy"].value_counts().to_dict() if len(out) else {}),
        "concepts": int(out["concept"].nunique()) if len(out) else 0,
        "http": sec.http_stats(),
    })
    return out


@dg.asset(
    group_name=GROUP,
    partitions_def=ticker_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    code_version="1",
    description="Standardized line items (annual and quarterly), every vintage with its filed date, "
    "so downstream can ask what was known on any date.",
)
def fundamentals(context: dg.AssetExecutionContext, xbrl_facts: pd.DataFrame) -> pd.DataFrame:
    frames = []
    for ticker in context.partition_keys:
        facts = xbrl_facts[xbrl_facts["ticker"] == ticker] if len(xbrl_facts) else xbrl_facts
        std = fundamentals_lib.standardize(facts.drop(columns=["ticker"], errors="ignore"))
        std.insert(0, "ticker", ticker)
        frames.append(std)
    out = pd.concat(frames, ignore_index=True)
    latest = fundamentals_lib.latest(out.drop(columns=["ticker"])) if len(out) else out
    annual = latest[latest["period_type"] == "annual"] if len(latest) else latest
    context.add_output_metadata({
        "items": int(out["item"].nunique()) if len(out) else 0,
        "latest_annual": md_preview(annual.sort_values("period_end").tail(8)[
            ["item", "fiscal_period", "value", "concept", "filed"]] if len(annual) else annual),
    })
    return out
