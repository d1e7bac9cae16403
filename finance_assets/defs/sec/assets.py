"""SEC EDGAR assets: ticker->CIK map, filings, XBRL facts and point-in-time fundamentals, with checks.

Per-company requests by default; a run over more than `SecEdgarSource.bulk_min_tickers` tickers reads
EDGAR's nightly bulk archives instead (one conditional download each, then only the run's members),
so a full-universe backfill is not bound by SEC's 10 requests/s.
"""

import contextlib
import datetime as dt
import threading
from collections.abc import Callable

import dagster as dg
import pandas as pd

from finance_assets.defs.sec import documents, edgar, schemas, xbrl
from finance_assets.defs.sec import fundamentals as fundamentals_lib
from finance_assets.defs.sec.edgar_bulk import BulkArchive, member_name
from finance_assets.defs.sec.source import SecEdgarSource
from finance_assets.lib import config
from finance_assets.lib.dagster_schema import schema_checks, schema_metadata
from finance_assets.lib.partition_mappings import md_preview
from finance_assets.lib.partitions import TICKER, per_ticker_asset, per_ticker_check
from finance_assets.lib.prefetch import prefetch
from finance_assets.lib.run_metadata import attach_metadata
from finance_assets.lib.schema import TableSchema

GROUP = "sec"
COMPANY_COLUMNS = edgar.COMPANY_COLUMNS
# Latest annual figures shown in the fundamentals metadata.
HEADLINE_ITEMS = ("revenue", "net_income", "total_assets")
# Relative tolerance of assets = liabilities + equity (rounding, and items outside the three).
BALANCE_TOLERANCE = 0.005


def _previous_map(context: dg.AssetExecutionContext) -> pd.DataFrame | None:
    return context.resources.io_manager.warehouse.read_latest("ticker_cik_map")


@dg.asset(
    group_name=GROUP,
    required_resource_keys={"sec", "io_manager"},
    pool="sec",  # SEC-bound steps share a pool (limit in dagster.yaml)
    code_version="2",
    metadata=schema_metadata(schemas.TICKER_CIK_MAP),
    description="Ticker -> CIK map from EDGAR company_tickers_exchange.json, with first/last seen dates "
    "so a ticker that moves to another CIK still resolves for old filings.",
)
def ticker_cik_map(context: dg.AssetExecutionContext) -> pd.DataFrame:
    sec: SecEdgarSource = context.resources.sec
    raw = sec.company_tickers()
    current = edgar.parse_company_tickers_exchange(raw) if "fields" in raw else edgar.parse_company_tickers(raw)
    seen_on = sec.as_of_date()
    history = edgar.merge_ticker_history(_previous_map(context), current, seen_on)
    moved = history.groupby("ticker")["cik"].nunique()
    attach_metadata(
        context,
        {
            "seen_on": seen_on.isoformat(),
            "tickers": len(current),
            "companies": int(current["cik"].nunique()),
            "history_rows": len(history),
            "tickers_that_changed_cik": int((moved > 1).sum()),
            "rejected_symbols": len(current.attrs.get("rejected_tickers", [])),
            "preview": md_preview(current),
            "http": sec.http_stats(),
        },
    )
    return schemas.TICKER_CIK_MAP.conform(history)


def _mappings(
    ticker_map: pd.DataFrame, ticker: str, today: dt.date
) -> tuple[int | None, list[tuple[int, pd.Timestamp]]]:
    """(current CIK, [(earlier CIK, last day the ticker pointed to it), ...]) for one ticker on `today`
    (the clock's New York date)."""
    current = edgar.resolve_cik(ticker_map, ticker, today)
    rows = ticker_map[(ticker_map["ticker"] == ticker) & (ticker_map["cik"] != (current or -1))]
    return current, [(int(row.cik), pd.Timestamp(row.last_seen)) for row in rows.itertuples(index=False)]


class _Submissions:
    """Submissions documents from the bulk archive when the run uses it, else (or when the archive
    lacks a company, e.g. one registered after the nightly build) from the per-company API. Safe to
    call from the prefetch threads (the counters are locked)."""

    def __init__(self, sec: SecEdgarSource, archive: BulkArchive | None):
        self.sec, self.archive = sec, archive
        self.from_archive = self.from_api = 0
        self._lock = threading.Lock()

    def document(self, cik: int) -> dict:
        data = self.archive.read_json(member_name(cik)) if self.archive is not None else None
        if data is not None:
            with self._lock:
                self.from_archive += 1
            return data
        with self._lock:
            self.from_api += 1
        return self.sec.submissions(cik)

    def page(self, name: str) -> dict:
        data = self.archive.read_json(name) if self.archive is not None else None
        if data is not None:
            return data
        return self.sec.submissions_page(name)


def _per_company(schema: TableSchema, description: str, code_version: str) -> Callable:
    """`@per_ticker_asset` of a table read from EDGAR company by company (the nightly archives on large
    runs): the SEC source, in the pool that SEC-bound steps share (its limit in dagster.yaml)."""
    return per_ticker_asset(
        group_name=GROUP,
        required_resource_keys={"sec"},
        pool="sec",
        code_version=code_version,
        metadata=schema_metadata(schema),
        description=description,
    )


def _company_documents(source: _Submissions, cik: int) -> tuple[dict, list[dict]]:
    """The company's submissions document and its older pages, as fetched (parsed by _company_filings)."""
    data = source.document(cik)
    return data, [source.page(name) for name in edgar.submission_pages(data)]


def _company_filings(documents: tuple[dict, list[dict]], cik: int) -> pd.DataFrame:
    data, pages = documents
    info, recent = edgar.parse_submissions(data)
    frame = edgar.merge_filings([recent, *(edgar.parse_submissions_page(page, cik) for page in pages)])
    frame["company_name"] = info["name"]
    frame["fiscal_year_end"] = info["fiscal_year_end"]
    frame["sic"] = info["sic"]  # the industry code, which the report's sectors come from
    return frame


def _bulk_archive(
    context: dg.AssetExecutionContext, sec: SecEdgarSource, kind: str, ciks: list[int]
) -> BulkArchive | None:
    if not sec.uses_bulk(len(context.partition_keys)):
        return None
    archive, download = sec.bulk_archive(kind, ciks)
    context.log.info(
        f"{kind}.zip {download.status} ({download.bytes:,} bytes); "
        f"{len(archive.members)} members indexed for {len(ciks)} companies"
    )
    return archive


def _closing(archive: BulkArchive | None) -> contextlib.AbstractContextManager:
    """Closes the run's bulk archive when its reading ends (nothing to close on the per-company API)."""
    return archive if archive is not None else contextlib.nullcontext()


def _retrieval(kind: str, archive: BulkArchive | None, from_archive: int, from_api: int) -> dict:
    """Run metadata: where the run's documents came from (the nightly archive or the API), and how many each."""
    return {
        "retrieval": f"bulk {kind}.zip" if archive is not None else "per-company API",
        "documents": dg.MetadataValue.json({"from_archive": from_archive, "from_api": from_api}),
    }


@_per_company(
    schemas.FILINGS,
    "Every filing of the company from EDGAR submissions JSON (older pages included), with the "
    "company's name and fiscal year end. A ticker that moved to a new CIK keeps the old CIK's filings "
    "up to the move. Large runs read the nightly submissions.zip instead of the API.",
    code_version="2",
)
def filings(context: dg.AssetExecutionContext, ticker_cik_map: pd.DataFrame) -> pd.DataFrame:
    sec: SecEdgarSource = context.resources.sec
    plans = {ticker: _mappings(ticker_cik_map, ticker, sec.as_of_date()) for ticker in context.partition_keys}
    ciks = sorted(
        {cik for current, earlier in plans.values() for cik in ([current] if current else []) + [c for c, _ in earlier]}
    )
    archive = _bulk_archive(context, sec, "submissions", ciks)
    source = _Submissions(sec, archive)
    frames = []

    def fetch(item: tuple[str, tuple[int | None, list]]) -> dict[int, tuple[dict, list[dict]]]:
        current, earlier = item[1]
        wanted = ([current] if current is not None else []) + [cik for cik, _ in earlier]
        return {cik: _company_documents(source, cik) for cik in wanted}

    # Per-company API runs fetch the next tickers' submissions while this one parses (bounded:
    # SecEdgarSource.prefetch tickers ahead), so the SEC limiter stays busy; archive runs read local members.
    depth = sec.prefetch if archive is None else 0
    with _closing(archive):
        pipeline = prefetch(plans.items(), fetch, depth=depth, thread_name="filings")
        for (ticker, (current, earlier)), documents in pipeline:
            if current is None:
                context.log.info(f"{ticker}: no CIK in the EDGAR map (index, fund or foreign listing): 0 filings")
            parts = [_company_filings(documents[current], current)] if current is not None else []
            for old_cik, until in earlier:  # filed while the ticker still pointed to the old company
                old = _company_filings(documents[old_cik], old_cik)
                parts.append(old[old["filing_date"] <= until])
            # merge_filings keeps FILING_COLUMNS only: company fields come back by accession (each
            # row keeps its own company's, the old CIK's included)
            lookup = (
                pd.concat([p[["accession_number", *COMPANY_COLUMNS]] for p in parts])
                if parts
                else pd.DataFrame(columns=["accession_number", *COMPANY_COLUMNS])
            )
            frame = edgar.merge_filings(parts).merge(
                lookup.drop_duplicates("accession_number"), on="accession_number", how="left"
            )
            frame.insert(0, "ticker", ticker)
            frames.append(frame)
    out = schemas.FILINGS.conform(pd.concat(frames, ignore_index=True))
    attach_metadata(
        context,
        {
            **_retrieval("submissions", archive, source.from_archive, source.from_api),
            "forms": dg.MetadataValue.json(out["form"].value_counts().head(10).to_dict() if len(out) else {}),
            "latest_filing": str(out["filing_date"].max()) if len(out) else "none",
            "preview": md_preview(out[["ticker", "form", "filing_date", "accession_number"]] if len(out) else out),
            "http": sec.http_stats(),
        },
    )
    return out


@_per_company(
    schemas.XBRL_FACTS,
    "The XBRL companyfacts document as one long table; every filed vintage kept. Large runs "
    "read the nightly companyfacts.zip instead of the API.",
    code_version="2",
)
def xbrl_facts(context: dg.AssetExecutionContext, ticker_cik_map: pd.DataFrame) -> pd.DataFrame:
    sec: SecEdgarSource = context.resources.sec
    ciks = {ticker: _mappings(ticker_cik_map, ticker, sec.as_of_date())[0] for ticker in context.partition_keys}
    archive = _bulk_archive(context, sec, "companyfacts", sorted({c for c in ciks.values() if c}))
    frames, from_archive, from_api = [], 0, 0

    def fetch(item: tuple[str, int | None]) -> tuple[dict | None, str]:
        cik = item[1]
        if cik is None:
            return None, ""
        if archive is not None:
            document = archive.read_json(member_name(cik))
            if document is not None:
                return document, "archive"
        return sec.companyfacts(cik), "api"  # not in tonight's archive, or no archive: the API

    # Per-company API runs fetch the next companies while this one parses, so the SEC limiter stays
    # busy; archive runs read local members one at a time.
    depth = sec.prefetch if archive is None else 0
    with _closing(archive):
        for (ticker, cik), (document, origin) in prefetch(ciks.items(), fetch, depth=depth, thread_name="xbrl"):
            from_archive += origin == "archive"
            from_api += origin == "api"
            frame = xbrl.normalize_companyfacts(document or {"cik": cik or 0, "entityName": "", "facts": {}})
            frame.insert(0, "ticker", ticker)
            frames.append(frame)
    out = schemas.XBRL_FACTS.conform(pd.concat(frames, ignore_index=True))
    attach_metadata(
        context,
        {
            **_retrieval("companyfacts", archive, from_archive, from_api),
            "taxonomies": dg.MetadataValue.json(out["taxonomy"].value_counts().to_dict() if len(out) else {}),
            "concepts": int(out["concept"].nunique()) if len(out) else 0,
            "http": sec.http_stats(),
        },
    )
    return out


def _fiscal_year_end(filings_rows: pd.DataFrame) -> str | None:
    """EDGAR's 'MMDD' from the submissions document (via the filings asset), if known."""
    if "fiscal_year_end" not in filings_rows.columns:
        return None
    values = filings_rows["fiscal_year_end"].dropna().astype(str)
    values = values[values.str.fullmatch(r"\d{4}")]
    return values.iloc[0] if len(values) else None


def latest_annual_table(std: pd.DataFrame) -> pd.DataFrame:
    """Per ticker: the latest fiscal year's revenue, net income and total assets, with the concept used."""
    rows = []
    for ticker, group in std.groupby("ticker", sort=True):
        latest = fundamentals_lib.latest(group.drop(columns=["ticker"]))
        annual = latest[(latest["period_type"] == "annual") & latest["item"].isin(HEADLINE_ITEMS)]
        if annual.empty:
            continue
        last_end = annual["period_end"].max()
        for row in annual[annual["period_end"] == last_end].itertuples(index=False):
            rows.append(
                {
                    "ticker": ticker,
                    "fiscal_period": row.fiscal_period,
                    "item": row.item,
                    "value": row.value,
                    "unit": row.unit,
                    "concept": f"{row.taxonomy}:{row.concept}",
                    "derived": bool(row.derived),
                    "filed": row.filed.date(),
                }
            )
    return pd.DataFrame(
        rows, columns=["ticker", "fiscal_period", "item", "value", "unit", "concept", "derived", "filed"]
    )


@per_ticker_asset(
    group_name=GROUP,
    code_version="3",
    metadata=schema_metadata(schemas.FUNDAMENTALS),
    description="Standardized line items (annual and quarterly), every vintage with its filed date, SEC "
    "acceptance time and `known_at` (the first session whose close follows the acceptance; the next "
    "session after the filed date when there is none), so downstream can ask what was known on any date. "
    "Fiscal periods follow the company's fiscal "
    "year end from its submissions document.",
)
def fundamentals(context: dg.AssetExecutionContext, xbrl_facts: pd.DataFrame, filings: pd.DataFrame) -> pd.DataFrame:
    frames, year_ends = [], {}
    for ticker in context.partition_keys:
        facts = xbrl_facts[xbrl_facts["ticker"] == ticker] if len(xbrl_facts) else xbrl_facts
        company = filings[filings["ticker"] == ticker] if "ticker" in filings.columns else filings
        year_ends[ticker] = _fiscal_year_end(company)
        std = fundamentals_lib.standardize(
            facts.drop(columns=["ticker"], errors="ignore"),
            fiscal_year_end=year_ends[ticker],
            acceptance=fundamentals_lib.acceptance_times(company),  # known_at: SEC acceptance time
        )
        std.insert(0, "ticker", ticker)
        frames.append(std)
    out = schemas.FUNDAMENTALS.conform(pd.concat(frames, ignore_index=True))
    attach_metadata(
        context,
        {
            "items": int(out["item"].nunique()) if len(out) else 0,
            "fiscal_year_ends": dg.MetadataValue.json(year_ends),
            "latest_annual": md_preview(latest_annual_table(out), rows=30),
        },
    )
    return out


# ------------------------------------------------------------------------------------------ checks


def _offending_rows(offending: pd.DataFrame, severity: dg.AssetCheckSeverity, **counts) -> dg.AssetCheckResult:
    """Passes when no row offends; else fails at `severity`. Metadata: `counts`, then the first ten rows."""
    return dg.AssetCheckResult(
        passed=offending.empty,
        severity=severity,
        metadata={**counts, "examples": md_preview(offending.head(10), rows=10)},
    )


@dg.asset_check(
    asset=ticker_cik_map,
    blocking=True,
    description="One row per (ticker, CIK); CIKs are positive and their 10-digit form matches; "
    "first_seen <= last_seen.",
)
def ticker_cik_map_is_consistent(ticker_cik_map: pd.DataFrame) -> dg.AssetCheckResult:
    duplicates = int(ticker_cik_map.duplicated(["ticker", "cik"]).sum())
    ciks = ticker_cik_map["cik"].astype("int64")
    bad_cik = int(
        (~((ciks > 0) & (ciks < 10**10) & (ticker_cik_map["cik_str"] == ciks.map(lambda c: f"{c:010d}")))).sum()
    )
    bad_dates = int((ticker_cik_map["first_seen"] > ticker_cik_map["last_seen"]).sum())
    return dg.AssetCheckResult(
        passed=duplicates == bad_cik == bad_dates == 0,
        metadata={
            "duplicate_ticker_cik_rows": duplicates,
            "bad_cik_rows": bad_cik,
            "first_after_last_seen": bad_dates,
            "rows": len(ticker_cik_map),
        },
    )


@dg.asset_check(
    asset=ticker_cik_map,
    description="Every registered ticker resolves to a CIK today; those "
    "that do not (apart from the benchmark index) are listed. They get empty SEC tables.",
)
def registered_tickers_resolve(
    context: dg.AssetCheckExecutionContext, ticker_cik_map: pd.DataFrame
) -> dg.AssetCheckResult:
    registered = list(context.instance.get_dynamic_partitions(TICKER))
    unresolved = [t for t in registered if edgar.resolve_cik(ticker_cik_map, t, config.settings().now().date()) is None]
    benchmark = config.benchmark_ticker()  # an index or ETF: may have no CIK (the demo's never does)
    unexpected = [t for t in unresolved if t != benchmark]
    return dg.AssetCheckResult(
        passed=not unexpected,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "registered": len(registered),
            "unresolved": dg.MetadataValue.json(unexpected),
            "benchmark_without_cik": benchmark in unresolved,
        },
    )


@per_ticker_check(
    xbrl_facts,
    "No two facts share accession, taxonomy, concept, unit and period with different "
    "values (exact repeats are already dropped); every fact was filed on or after its period end.",
)
def xbrl_facts_are_unique(xbrl_facts: pd.DataFrame) -> dg.AssetCheckResult:
    if xbrl_facts.empty:
        return dg.AssetCheckResult(passed=True, metadata={"rows": 0})
    key = ["ticker", "accession", "taxonomy", "concept", "unit", "start", "end"]
    conflicting = int(xbrl_facts.duplicated(key, keep=False).sum())
    early = int((xbrl_facts["filed"] < xbrl_facts["end"]).sum())
    return dg.AssetCheckResult(
        passed=conflicting == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"rows": len(xbrl_facts), "conflicting_rows": conflicting, "facts_filed_before_period_end": early},
    )


@per_ticker_check(
    fundamentals,
    "Point in time: no standardized value was filed before its period ended. A failure "
    "lists the rows: a mislabelled period would leak future numbers into backtests.",
)
def fundamentals_filed_after_period_end(fundamentals: pd.DataFrame) -> dg.AssetCheckResult:
    # A dividend per share may be declared for a quarter that has not ended yet (NVDA 2013-11-19):
    # known on its filed date, so legitimate; every other item must be reported after its period.
    early = (
        fundamentals[
            (fundamentals["filed"] < fundamentals["period_end"]) & (fundamentals["item"] != "dividends_per_share")
        ]
        if len(fundamentals)
        else fundamentals
    )
    shown = ["ticker", "item", "fiscal_period", "period_end", "filed", "accession"]
    return _offending_rows(
        early[shown] if len(early) else early,
        dg.AssetCheckSeverity.ERROR,
        rows=len(fundamentals),
        filed_before_period_end=len(early),
    )


@per_ticker_check(
    fundamentals,
    f"Balance sheet identity on the latest reported values: total assets within "
    f"{BALANCE_TOLERANCE:.1%} of liabilities + stockholders' equity (derived liabilities excluded, "
    "they satisfy it by construction). Minority interest or temporary equity shows up here.",
)
def fundamentals_balance_sheet_identity(fundamentals: pd.DataFrame) -> dg.AssetCheckResult:
    gaps = _balance_gaps(fundamentals)
    off = gaps[gaps["relative_gap"].abs() > BALANCE_TOLERANCE]
    return _offending_rows(
        off,
        dg.AssetCheckSeverity.WARN,
        periods_checked=len(gaps),
        periods_off=len(off),
        max_relative_gap=float(gaps["relative_gap"].abs().max()) if len(gaps) else 0.0,
    )


def _balance_gaps(std: pd.DataFrame) -> pd.DataFrame:
    columns = ["ticker", "fiscal_period", "relative_gap"]
    if std.empty:
        return pd.DataFrame(columns=columns)
    frames = []
    for ticker, group in std.groupby("ticker"):
        latest = fundamentals_lib.latest(group.drop(columns=["ticker"]))
        latest = latest[latest["period_type"] == "quarterly"]  # year-ends are also their Q4
        reported = latest[~latest["derived"]]
        table = reported.pivot_table(index="fiscal_period", columns="item", values="value")
        needed = {"total_assets", "total_liabilities", "stockholders_equity"}
        if not needed <= set(table.columns):
            continue
        table = table.dropna(subset=list(needed))
        gap = (table["total_assets"] - table["total_liabilities"] - table["stockholders_equity"]) / table[
            "total_assets"
        ].abs()
        frames.append(pd.DataFrame({"ticker": ticker, "fiscal_period": table.index, "relative_gap": gap.values}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


SEC_CHECKS = [
    ticker_cik_map_is_consistent,
    registered_tickers_resolve,
    xbrl_facts_are_unique,
    fundamentals_filed_after_period_end,
    fundamentals_balance_sheet_identity,
]


# The stored tables match their declarations (sec/schemas.py); registered in definitions.py.
SCHEMA_CHECKS = schema_checks(
    (ticker_cik_map, schemas.TICKER_CIK_MAP),
    (filings, schemas.FILINGS),
    (xbrl_facts, schemas.XBRL_FACTS),
    (fundamentals, schemas.FUNDAMENTALS),
    (documents.filing_documents, schemas.FILING_DOCUMENTS),
    (documents.filing_text_signals, schemas.FILING_TEXT_SIGNALS),
)
