"""Filing documents and the signals read from their text.

`filing_documents` (ticker partitions, like `filings`) downloads the primary document of each 10-K,
10-Q, 8-K, 20-F, 40-F and 6-K filed in a date window, plus the exhibits of the selected types (default
EX-99, press releases) listed on the filing's index page. Documents are stored once by sha256 under
the data dir (see document_store.py); a document already stored is never downloaded again, so a run
that stops half way resumes where it was. Every request goes through the SEC resource's one HTTP
client and so the machine-wide 10 requests/s limit; a few threads keep the limiter busy while
responses are in flight.

`filing_text_signals` reads the stored documents: sections (extract_sections) and, for exhibits, the
whole text; per filing and section, tone, readability and change against the same section of the
company's previous filing of the same form, each row `known_at` the filing's acceptance time.
"""

import datetime as dt
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from finance_assets.defs.sec import sections as sections_lib
from finance_assets.defs.sec import text_signals
from finance_assets.defs.sec.document_store import (
    DEFAULT_EXHIBITS,
    DOCUMENT_FORMS,
    DocumentStore,
    StoredDocument,
    base_form,
    exhibit_selected,
    parse_filing_index,
    wants_primary,
)
from finance_assets.defs.sec.schemas import FILING_DOCUMENTS, FILING_TEXT_SIGNALS
from finance_assets.defs.sec.source import SecEdgarSource
from finance_assets.lib import config as lib_config
from finance_assets.lib.dagster_schema import schema_metadata
from finance_assets.lib.partition_mappings import md_preview
from finance_assets.lib.partitions import per_ticker_asset
from finance_assets.lib.run_metadata import attach_metadata

GROUP = "sec"
INDEX_TYPE = "index"  # doc_type of a stored filing index page


class FilingDocumentsConfig(dg.Config):
    since: str = Field(
        default="",
        description="First filing date (YYYY-MM-DD); '' = lookback_days before `until` when lookback_days is "
        "set, else the configured history start (FINANCE_ASSETS_HISTORY_START)",
    )
    until: str = Field(default="", description="Last filing date (YYYY-MM-DD); '' = the clock's date")
    lookback_days: int = Field(
        default=0,
        ge=0,
        description="Window length when `since` is empty; 0 = from the history start. A window that moves "
        "with the clock makes a warehouse kept current differ from one built fresh (documents that left it stay)",
    )
    forms: list[str] = Field(default=list(DOCUMENT_FORMS), description="Forms whose primary document is fetched")
    exhibits: list[str] = Field(
        default=list(DEFAULT_EXHIBITS), description="Exhibit types to fetch ('EX-99' takes EX-99.1, EX-99.2 ...)"
    )
    exhibit_forms: list[str] = Field(
        default=["8-K", "6-K"], description="Forms whose index page is read for exhibits (one more request each)"
    )
    threads: int = Field(default=4, ge=1, le=16, description="Concurrent downloads (all share the SEC limiter)")


def documents_root(sec: SecEdgarSource) -> Path:
    return Path(sec.documents_dir) if sec.documents_dir else lib_config.data_dir() / "sec-documents"


def _window(
    cfg: FilingDocumentsConfig, today: dt.date, history_start: str | None = None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The filing dates fetched. By default from the history start to the clock's date: a start fixed by
    configuration, so a warehouse kept current session by session holds exactly the documents a fresh
    build as of the same clock holds (a window of the last N days would keep documents that left it)."""
    until = pd.Timestamp(cfg.until) if cfg.until else pd.Timestamp(today)
    if cfg.since:
        since = pd.Timestamp(cfg.since)
    elif cfg.lookback_days:
        since = until - pd.Timedelta(days=cfg.lookback_days)
    else:
        since = pd.Timestamp(history_start or lib_config.settings().history_start)
    if since > until:
        raise ValueError(f"filing_documents: since {since.date()} is after until {until.date()}")
    return since.normalize(), until.normalize()


def select_filings(
    filings: pd.DataFrame, cfg: FilingDocumentsConfig, today: dt.date, history_start: str | None = None
) -> pd.DataFrame:
    """Filings of the wanted forms in the window that have a CIK and a primary document, oldest first."""
    if filings.empty:
        return filings
    since, until = _window(cfg, today, history_start)
    dates = pd.to_datetime(filings["filing_date"])
    wanted = (
        filings["form"].map(lambda form: wants_primary(form, cfg.forms))
        & dates.between(since, until)
        & filings["cik"].notna()
        & filings["primary_document"].notna()
    )
    return filings[wanted].sort_values(["filing_date", "accession_number"], kind="stable")


class _Fetcher:
    """Downloads what the store lacks; counts what was downloaded and what was already there."""

    def __init__(self, sec: SecEdgarSource, store: DocumentStore):
        self.sec, self.store = sec, store

    def document(self, cik: int, accession: str, name: str, doc_type: str) -> tuple[StoredDocument, bool]:
        stored = self.store.get(accession, name)
        if stored is not None:
            return stored, False
        body = self.sec.filing_document(cik, accession, name)
        return self.store.put(accession, name, doc_type, body), True

    def exhibits(self, cik: int, accession: str, selectors: list[str]) -> tuple[list[dict], bool]:
        """The selected exhibits listed on the filing's index page (stored like any document)."""
        name = f"{accession}-index.htm"
        stored, downloaded = self.document(cik, accession, name, INDEX_TYPE)
        rows = parse_filing_index(self.store.read(stored.sha256), cik, accession)
        return [row for row in rows if exhibit_selected(row["type"], selectors)], downloaded


def _filing_documents(fetcher: _Fetcher, filing, cfg: FilingDocumentsConfig) -> tuple[list[dict], int]:
    """Rows for one filing's documents (primary first) and the number of requests it took."""
    cik, accession = int(filing.cik), filing.accession_number
    wanted = [(filing.primary_document, filing.form, True)]
    requests = 0
    if cfg.exhibits and base_form(filing.form) in {base_form(f) for f in cfg.exhibit_forms}:
        exhibits, downloaded = fetcher.exhibits(cik, accession, cfg.exhibits)
        requests += downloaded
        wanted += [(row["document"], row["type"], False) for row in exhibits if row["document"] != wanted[0][0]]
    rows = []
    for name, doc_type, primary in wanted:
        stored, downloaded = fetcher.document(cik, accession, name, doc_type)
        requests += downloaded
        rows.append(
            {
                "ticker": filing.ticker,
                "cik": cik,
                "accession_number": accession,
                "form": filing.form,
                "filing_date": filing.filing_date,
                "acceptance_datetime": filing.acceptance_datetime,
                "items": filing.items or "",
                "document": name,
                "doc_type": doc_type,
                "is_primary": primary,
                "sha256": stored.sha256,
                "bytes": stored.bytes,
                "downloaded": downloaded,
            }
        )
    return rows, requests


@per_ticker_asset(
    group_name=GROUP,
    required_resource_keys={"sec"},
    pool="sec",
    code_version="2",  # 2: `downloaded` left the table for the run's metadata
    metadata=schema_metadata(FILING_DOCUMENTS),
    description="Primary documents of 10-K, 10-Q, 8-K, 20-F, 40-F and 6-K filings in a date window (default "
    "from the history start, FINANCE_ASSETS_HISTORY_START, to the clock) plus selected exhibits (default EX-99 press releases), stored once by sha256 "
    "under the data dir; stored documents are never downloaded again. One row per document.",
)
def filing_documents(
    context: dg.AssetExecutionContext, config: FilingDocumentsConfig, filings: pd.DataFrame
) -> pd.DataFrame:
    sec: SecEdgarSource = context.resources.sec
    store = DocumentStore(documents_root(sec))
    tickers = set(context.partition_keys)
    mine = filings[filings["ticker"].isin(tickers)] if "ticker" in filings.columns else filings
    history_start = lib_config.settings().history_start
    chosen = select_filings(mine, config, sec.as_of_date(), history_start)
    fetcher = _Fetcher(sec, store)
    rows: list[dict] = []
    failures: list[str] = []
    requests = 0
    with ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="filing-docs") as pool:
        futures = [(f, pool.submit(_filing_documents, fetcher, f, config)) for f in chosen.itertuples(index=False)]
        for filing, future in futures:
            try:
                filing_rows, filing_requests = future.result()
            except Exception as exc:  # noqa: BLE001 - every other filing is still stored; the run fails below
                failures.append(f"{filing.ticker} {filing.accession_number}: {type(exc).__name__}: {exc}")
                continue
            rows.extend(filing_rows)
            requests += filing_requests
    if failures:
        # What was fetched is in the store; a rerun downloads only the documents that are missing.
        raise RuntimeError(
            f"filing_documents: {len(failures)} of {len(chosen)} filings could not be fetched (the others are "
            "stored and will not be fetched again): " + "; ".join(failures[:5])
        )
    fetched = sum(bool(row["downloaded"]) for row in rows)
    # Whether this run fetched a document is run history, not data: it goes to the run's metadata, so
    # the stored table is the same however many runs built it (a fresh build equals a kept-current one).
    out = FILING_DOCUMENTS.conform(pd.DataFrame(rows)[FILING_DOCUMENTS.names]) if rows else FILING_DOCUMENTS.empty()
    since, until = _window(config, sec.as_of_date(), history_start)
    attach_metadata(
        context,
        {
            "window": f"{since.date()} .. {until.date()}",
            "filings": len(chosen),
            "documents": len(out),
            "downloaded": fetched,
            "already_stored": len(rows) - fetched,
            "document_requests": requests,
            "bytes": int(out["bytes"].sum()) if len(out) else 0,
            "store": str(store.root),
            "by_type": dg.MetadataValue.json(out["doc_type"].value_counts().to_dict() if len(out) else {}),
            "http": sec.http_stats(),
        },
    )
    return out


def _known_at(row) -> pd.Timestamp:
    """The acceptance time; without it, the end of the filing day in New York (never earlier than known)."""
    stamp = row.acceptance_datetime
    if stamp is not None and not pd.isna(stamp):
        stamp = pd.Timestamp(stamp)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    day = pd.Timestamp(row.filing_date).normalize() + pd.Timedelta(hours=23, minutes=59)
    return day.tz_localize("America/New_York").tz_convert("UTC")


def document_sections(html: bytes, doc_type: str, form: str, primary: bool) -> dict[str, str]:
    """Sections of a primary document; an exhibit is one section named by its type (e.g. EX-99.1)."""
    if primary:
        found = sections_lib.extract_sections(html, form)
        return found or {"document": sections_lib.document_text(html)}
    return {doc_type.upper(): sections_lib.document_text(html)}


def text_signal_rows(
    documents: pd.DataFrame, store: DocumentStore, lexicon: text_signals.Lexicon | None
) -> pd.DataFrame:
    """Rows per filing x section, each compared with the same section of the company's previous filing
    of the same form (amendments count as their form)."""
    rows = []
    previous: dict[tuple, tuple[str, str]] = {}  # (ticker, form, section) -> (accession, text)
    if documents.empty:
        return FILING_TEXT_SIGNALS.empty()
    ordered = documents.assign(known_at_=[_known_at(r) for r in documents.itertuples(index=False)]).sort_values(
        ["ticker", "known_at_", "accession_number", "is_primary", "document"],
        ascending=[True, True, True, False, True],
        kind="stable",
    )
    for doc in ordered.itertuples(index=False):
        html = store.read(doc.sha256)
        form = base_form(doc.form)
        items = ",".join(text_signals.eight_k_items(doc.items)) if form in ("8-K", "6-K") else ""
        for section, text in document_sections(html, doc.doc_type, doc.form, bool(doc.is_primary)).items():
            key = (doc.ticker, form, section)
            before = previous.get(key)
            signals = text_signals.section_signals(text, before[1] if before else None, lexicon)
            rows.append(
                {
                    "ticker": doc.ticker,
                    "cik": int(doc.cik),
                    "accession_number": doc.accession_number,
                    "form": doc.form,
                    "filing_date": pd.Timestamp(doc.filing_date),
                    "known_at": doc.known_at_,
                    "document": doc.document,
                    "section": section,
                    "items": items,
                    "previous_accession": before[0] if before else None,
                    **signals,
                }
            )
            previous[key] = (doc.accession_number, text)
    out = pd.DataFrame(rows, columns=FILING_TEXT_SIGNALS.names)  # ends with text_signals.SIGNAL_COLUMNS
    for column in ("sentences_added", "sentences_removed"):
        out[column] = out[column].astype("Int64")
    return out


@per_ticker_asset(
    group_name=GROUP,
    required_resource_keys={"sec"},
    code_version="1",
    metadata=schema_metadata(FILING_TEXT_SIGNALS),
    description="Per filing and section: word count, Loughran-McDonald tone shares, Gunning fog, and the "
    "'Lazy Prices' change against the same section of the previous filing of the same form (cosine "
    "similarity, sentences added / removed); 8-K item codes. known_at = the filing's acceptance time.",
)
def filing_text_signals(context: dg.AssetExecutionContext, filing_documents: pd.DataFrame) -> pd.DataFrame:
    sec: SecEdgarSource = context.resources.sec
    store = DocumentStore(documents_root(sec))
    try:
        lexicon = text_signals.lm_lexicon(lib_config.settings().lm_dictionary)
        lexicon_note = Path(lexicon.source).name
    except text_signals.LexiconError as exc:  # the word list is an optional extra (its licence: docs/sec.md)
        lexicon, lexicon_note = None, f"unavailable, tone shares left empty: {exc}"
        context.log.warning(f"Loughran-McDonald word list {lexicon_note}")
    out = FILING_TEXT_SIGNALS.conform(text_signal_rows(filing_documents, store, lexicon))
    changed = out.dropna(subset=["similarity_prev"]).sort_values("similarity_prev").head(10)
    attach_metadata(
        context,
        {
            "rows": len(out),
            "filings": int(out["accession_number"].nunique()) if len(out) else 0,
            "sections": dg.MetadataValue.json(out["section"].value_counts().head(20).to_dict() if len(out) else {}),
            "lexicon": lexicon_note,
            "most_changed": md_preview(
                changed[["ticker", "form", "filing_date", "section", "similarity_prev", "sentences_added"]]
                if len(changed)
                else changed
            ),
            "mean_negative": float(out["negative"].mean())
            if len(out) and not math.isnan(out["negative"].mean())
            else 0.0,
        },
    )
    return out


DOCUMENT_ASSETS = [filing_documents, filing_text_signals]
