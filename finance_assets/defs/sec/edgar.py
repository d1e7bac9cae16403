"""Pure parsers for SEC EDGAR responses: ticker maps, submissions, feeds and daily indexes.

Input is bytes/str/parsed JSON exactly as EDGAR serves it, output is a pandas DataFrame.
No HTTP here: the resources layer fetches, these functions only parse and validate.

Conventions:
* date columns are ``datetime64[ns]`` at midnight (naive); timestamps are tz-aware UTC.
* ``cik`` is an int, ``cik_str`` the 10-digit zero-padded form EDGAR uses in URLs/file names.
* malformed input raises ``ValueError`` naming what is wrong; nothing is silently coerced.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

import feedparser
import pandas as pd

from finance_assets.defs.sec.schemas import FILINGS, TICKER_CIK_MAP
from finance_assets.lib.tickers import normalize_ticker

logger = logging.getLogger(__name__)

ARCHIVES_URL = "https://www.sec.gov/Archives/edgar/data"

_ACCESSION_RE = re.compile(r"(\d{10}-\d{2}-\d{6})")
_DTD_RE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_EDGAR_TZ = "America/New_York"

# The stored ticker_cik_map (schemas.TICKER_CIK_MAP), and what one company_tickers file parses to.
HISTORY_COLUMNS = TICKER_CIK_MAP.names
TICKER_COLUMNS = [name for name in HISTORY_COLUMNS if name not in ("first_seen", "last_seen")]
# What submissions parse to: the stored `filings` table (schemas.FILINGS) without the ticker and the
# company fields the asset adds.
COMPANY_COLUMNS = ["company_name", "fiscal_year_end", "sic"]
FILING_COLUMNS = [name for name in FILINGS.names if name not in ("ticker", *COMPANY_COLUMNS)]


# --------------------------------------------------------------------------- tickers


def _cik_to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"CIK must be an integer or digit string, got {value!r}")
    if isinstance(value, int):
        cik = value
    elif isinstance(value, str) and value.strip().isdigit():
        cik = int(value.strip())
    else:
        raise ValueError(f"CIK must be an integer or digit string, got {value!r}")
    if not 0 < cik < 10**10:
        raise ValueError(f"CIK {value!r} is out of range")
    return cik


def _ticker_frame(rows: Iterable[tuple[Any, Any, Any, Any]], source: str) -> pd.DataFrame:
    """Build the ticker table from (raw ticker, cik, name, exchange) rows, skipping bad symbols."""
    records: list[tuple[str, int, str, str, Any]] = []
    rejected: list[str] = []
    for raw_ticker, raw_cik, name, exchange in rows:
        try:
            ticker = normalize_ticker(raw_ticker)
        except ValueError:
            rejected.append(str(raw_ticker))
            continue
        cik = _cik_to_int(raw_cik)
        records.append((ticker, cik, f"{cik:010d}", name, exchange or None))
    frame = pd.DataFrame.from_records(records, columns=TICKER_COLUMNS)
    frame["cik"] = frame["cik"].astype("int64")
    frame = frame.drop_duplicates(["ticker", "cik"]).reset_index(drop=True)
    if rejected:
        logger.warning("%s: skipped %d invalid ticker symbols: %s", source, len(rejected), rejected[:20])
    frame.attrs["rejected_tickers"] = rejected
    return frame


def parse_company_tickers_exchange(data: dict) -> pd.DataFrame:
    """Parse company_tickers_exchange.json ({"fields": [...], "data": [[cik, name, ticker, exchange], ...]}).

    Invalid symbols are skipped; their raw values are in ``frame.attrs["rejected_tickers"]``.
    """
    if not isinstance(data, dict) or not isinstance(data.get("fields"), list) or not isinstance(data.get("data"), list):
        raise ValueError("company_tickers_exchange: expected a dict with 'fields' and 'data' lists")
    fields = data["fields"]
    missing = {"cik", "name", "ticker"} - set(fields)
    if missing:
        raise ValueError(f"company_tickers_exchange: missing fields {sorted(missing)}")
    index = {name: position for position, name in enumerate(fields)}
    exchange_at = index.get("exchange")
    for row in data["data"]:
        if not isinstance(row, list) or len(row) != len(fields):
            raise ValueError(f"company_tickers_exchange: row {row!r} does not have {len(fields)} fields")
    rows = (
        (
            row[index["ticker"]],
            row[index["cik"]],
            row[index["name"]],
            row[exchange_at] if exchange_at is not None else None,
        )
        for row in data["data"]
    )
    return _ticker_frame(rows, "company_tickers_exchange")


def parse_company_tickers(data: dict) -> pd.DataFrame:
    """Parse company_tickers.json ({"0": {"cik_str", "ticker", "title"}, ...}); exchange is None."""
    if not isinstance(data, dict):
        raise ValueError("company_tickers: expected a dict of {index: {cik_str, ticker, title}}")
    for key, entry in data.items():
        if not isinstance(entry, dict) or not {"cik_str", "ticker", "title"} <= entry.keys():
            raise ValueError(f"company_tickers: entry {key!r} lacks cik_str/ticker/title")
    rows = ((entry["ticker"], entry["cik_str"], entry["title"], None) for entry in data.values())
    return _ticker_frame(rows, "company_tickers")


def merge_ticker_history(previous: pd.DataFrame | None, current: pd.DataFrame, seen_on: date) -> pd.DataFrame:
    """Fold a ticker snapshot into the history with ``first_seen``/``last_seen`` per (ticker, cik).

    A (ticker, cik) pair in ``current`` gets ``last_seen = seen_on`` (and ``first_seen`` if new);
    pairs absent from ``current`` keep their dates, so when a ticker moves to another CIK both rows
    remain and the old one stops advancing. Name/exchange take the latest snapshot's values.
    """
    seen = pd.Timestamp(seen_on).normalize()
    snapshot = current[TICKER_COLUMNS].drop_duplicates(["ticker", "cik"]).assign(first_seen=seen, last_seen=seen)
    if previous is None or previous.empty:
        return snapshot[HISTORY_COLUMNS].sort_values(["ticker", "first_seen", "cik"]).reset_index(drop=True)
    combined = pd.concat([previous[HISTORY_COLUMNS], snapshot[HISTORY_COLUMNS]], ignore_index=True)
    # Later snapshots win for descriptive fields; dates are the envelope of all sightings.
    combined = combined.sort_values("last_seen", kind="stable")
    grouped = combined.groupby(["ticker", "cik"], sort=False)
    merged = grouped.agg(
        cik_str=("cik_str", "last"),
        name=("name", "last"),
        exchange=("exchange", "last"),
        first_seen=("first_seen", "min"),
        last_seen=("last_seen", "max"),
    ).reset_index()
    merged["exchange"] = merged["exchange"].astype(object).where(merged["exchange"].notna(), None)
    return merged[HISTORY_COLUMNS].sort_values(["ticker", "first_seen", "cik"]).reset_index(drop=True)


def resolve_cik(history: pd.DataFrame, ticker: str, on: date) -> int | None:
    """CIK that held ``ticker`` on date ``on``: the (ticker, cik) row first seen most recently on or
    before ``on`` (ties: latest last_seen). Between snapshots a mapping is carried forward.
    Returns None when the ticker was never seen on or before ``on``.
    """
    symbol = normalize_ticker(ticker)
    day = pd.Timestamp(on).normalize()
    rows = history[(history["ticker"] == symbol) & (history["first_seen"] <= day)]
    if rows.empty:
        return None
    best = rows.sort_values(["first_seen", "last_seen"]).iloc[-1]
    return int(best["cik"])


# --------------------------------------------------------------------------- submissions


def _empty_filings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cik": pd.Series(dtype="Int64"),
            "accession_number": pd.Series(dtype=object),
            "form": pd.Series(dtype=object),
            "filing_date": pd.Series(dtype="datetime64[ns]"),
            "report_date": pd.Series(dtype="datetime64[ns]"),
            "acceptance_datetime": pd.Series(dtype="datetime64[ns, UTC]"),
            "primary_document": pd.Series(dtype=object),
            "primary_doc_url": pd.Series(dtype=object),
            "is_xbrl": pd.Series(dtype=bool),
            "is_inline_xbrl": pd.Series(dtype=bool),
            "items": pd.Series(dtype=object),
            "size": pd.Series(dtype="Int64"),
        }
    )[FILING_COLUMNS]


_REQUIRED_FILING_ARRAYS = ("accessionNumber", "filingDate", "form")


def _filings_from_arrays(arrays: dict, cik: int | None) -> pd.DataFrame:
    """Columnar EDGAR arrays (``filings.recent`` or a ``-submissions-NNN`` file) -> filings frame."""
    if not isinstance(arrays, dict):
        raise ValueError("submissions: filings arrays must be a dict of equal-length lists")
    missing = [name for name in _REQUIRED_FILING_ARRAYS if name not in arrays]
    if missing:
        raise ValueError(f"submissions: missing filing arrays {missing}")
    lengths = {name: len(values) for name, values in arrays.items() if isinstance(values, list)}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"submissions: filing arrays have different lengths {lengths}")
    count = lengths.get("accessionNumber", 0)
    if count == 0:
        return _empty_filings()

    def column(name: str, default: Any = "") -> list:
        values = arrays.get(name)
        return values if isinstance(values, list) else [default] * count

    accession = pd.Series(column("accessionNumber"), dtype=object)
    bad_accession = ~accession.astype(str).str.fullmatch(r"\d{10}-\d{2}-\d{6}")
    if bad_accession.any():
        raise ValueError(f"submissions: malformed accession numbers {accession[bad_accession].tolist()[:5]}")
    primary_document = pd.Series(column("primaryDocument"), dtype=object).fillna("")
    frame = pd.DataFrame(
        {
            "cik": pd.Series([cik] * count, dtype="Int64"),
            "accession_number": accession,
            "form": pd.Series(column("form"), dtype=object),
            "filing_date": _parse_dates(column("filingDate"), "filingDate", required=True),
            "report_date": _parse_dates(column("reportDate"), "reportDate", required=False),
            "acceptance_datetime": _eastern_to_utc(
                pd.Series(column("acceptanceDateTime"), dtype=object)
                .replace("", None)
                .str.replace(r"(\.\d+)?Z$", "", regex=True),
                "%Y-%m-%dT%H:%M:%S",
            ),
            "primary_document": primary_document.where(primary_document != "", None),
            "is_xbrl": pd.Series(column("isXBRL", 0)).fillna(0).astype(bool),
            "is_inline_xbrl": pd.Series(column("isInlineXBRL", 0)).fillna(0).astype(bool),
            "items": pd.Series(column("items"), dtype=object).fillna(""),
            "size": pd.to_numeric(pd.Series(column("size", None)), errors="raise").astype("Int64"),
        }
    )
    frame["primary_doc_url"] = _primary_doc_urls(frame, cik)
    return frame[FILING_COLUMNS]


def _parse_dates(values: list, field: str, required: bool) -> pd.Series:
    raw = pd.Series(values, dtype=object).replace("", None)
    parsed = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna() & raw.notna()
    if bad.any():
        raise ValueError(f"submissions: {field} has non-date values {raw[bad].tolist()[:5]}")
    if required and parsed.isna().any():
        raise ValueError(f"submissions: {field} is missing for some filings")
    return parsed


def _primary_doc_urls(frame: pd.DataFrame, cik: int | None) -> pd.Series:
    if cik is None:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    folder = f"{ARCHIVES_URL}/{cik}/" + frame["accession_number"].str.replace("-", "", regex=False)
    urls = folder + "/" + frame["primary_document"].fillna("")
    return urls.where(frame["primary_document"].notna(), None)


def parse_submissions(data: dict) -> tuple[dict, pd.DataFrame]:
    """Parse ``data.sec.gov/submissions/CIK##########.json`` into (company info, filings).

    Filings come from ``filings.recent``; older filings live in the files named by
    :func:`submission_pages` (parse those with :func:`parse_submissions_page`).
    """
    if isinstance(data, dict) and "accessionNumber" in data:
        raise ValueError("submissions: this is a paginated page (flat arrays), use parse_submissions_page")
    if not isinstance(data, dict) or not isinstance(data.get("filings"), dict):
        raise ValueError("submissions: expected a dict with a 'filings' object")
    if "recent" not in data["filings"]:
        raise ValueError("submissions: 'filings.recent' is missing (paginated files go to parse_submissions_page)")
    cik = _cik_to_int(data.get("cik"))
    tickers = list(data.get("tickers") or [])
    info = {
        "cik": cik,
        "cik_str": f"{cik:010d}",
        "name": data.get("name"),
        "entity_type": data.get("entityType"),
        "tickers": tickers,
        "exchanges": list(data.get("exchanges") or []),
        "sic": data.get("sic") or None,
        "sic_description": data.get("sicDescription") or None,
        "fiscal_year_end": data.get("fiscalYearEnd") or None,
        "category": data.get("category") or None,
        "state_of_incorporation": data.get("stateOfIncorporation") or None,
        "ein": data.get("ein") or None,
        "former_names": list(data.get("formerNames") or []),
        "submission_pages": submission_pages(data),
    }
    return info, _filings_from_arrays(data["filings"]["recent"], cik)


def parse_submissions_page(data: dict, cik: int | None = None) -> pd.DataFrame:
    """Parse a paginated ``CIK##########-submissions-NNN.json`` file (flat arrays, no wrapper).

    The page does not carry the company's CIK; pass ``cik`` to get ``primary_doc_url`` filled.
    """
    if not isinstance(data, dict):
        raise ValueError("submissions page: expected a dict of arrays")
    if "filings" in data:
        raise ValueError("submissions page: got a full submissions document, use parse_submissions")
    return _filings_from_arrays(data, None if cik is None else _cik_to_int(cik))


def submission_pages(data: dict) -> list[str]:
    """File names of the paginated older-filings pages listed under ``filings.files``."""
    files = (data.get("filings") or {}).get("files") or []
    names = [entry.get("name") for entry in files if isinstance(entry, dict)]
    for name in names:
        if not isinstance(name, str) or re.fullmatch(r"CIK\d{10}-submissions-\d{3}\.json", name) is None:
            raise ValueError(f"submissions: unexpected page file name {name!r}")
    return names


def merge_filings(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate filings frames, keep the first row per accession, newest filing first."""
    parts = [frame for frame in frames if frame is not None and not frame.empty]
    if not parts:
        return _empty_filings()
    merged = pd.concat(parts, ignore_index=True).drop_duplicates("accession_number", keep="first")
    merged = merged.sort_values(["filing_date", "acceptance_datetime"], ascending=False, kind="stable")
    return merged[FILING_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------- feeds


def _parse_feed(xml: bytes | str, what: str) -> feedparser.FeedParserDict:
    """feedparser on bytes only (a str could be taken for a URL); DTDs/entities are refused."""
    headers = None
    if isinstance(xml, str):
        xml, headers = xml.encode("utf-8"), {"content-type": "application/xml; charset=utf-8"}
    if not isinstance(xml, (bytes, bytearray)):
        raise ValueError(f"{what}: expected bytes, got {type(xml).__name__}")
    if _DTD_RE.search(xml):
        raise ValueError(f"{what}: DOCTYPE/ENTITY declarations are not allowed in EDGAR feeds")
    parsed = feedparser.parse(bytes(xml), response_headers=headers)
    if parsed.bozo and not parsed.entries:
        raise ValueError(f"{what}: not a parseable feed ({parsed.get('bozo_exception')})")
    return parsed


def _eastern_to_utc(values: pd.Series, fmt: str) -> pd.Series:
    """EDGAR wall-clock times are US/Eastern; the submissions API labels them 'Z' but they are not UTC
    (its acceptanceDateTime equals the Atom feeds' -05:00/-04:00 times). The fall-back DST hour,
    when EDGAR is closed, is read as daylight time."""
    naive = pd.to_datetime(pd.Series(values, dtype=object), format=fmt)
    return naive.dt.tz_localize(_EDGAR_TZ, ambiguous=True, nonexistent="shift_forward").dt.tz_convert("UTC")


_GETCURRENT_TITLE = re.compile(r"^(?P<form>.+?) - (?P<company>.*) \((?P<cik>\d{1,10})\) \((?P<role>[^()]*)\)$")
_FILED_IN_SUMMARY = re.compile(r"Filed:</b>\s*(\d{4}-\d{2}-\d{2})")


def parse_getcurrent_atom(xml: bytes) -> pd.DataFrame:
    """Parse the ``browse-edgar?action=getcurrent`` Atom feed (latest filings).

    One row per entry; a filing appears once per role (Filer/Issuer/Reporting/Subject...).
    Columns: form, company_name, cik, role, accession_number, filing_date, updated (UTC), link.
    """
    feed = _parse_feed(xml, "getcurrent atom")
    rows = []
    for entry in feed.entries:
        title = _GETCURRENT_TITLE.match(entry.get("title", "").strip())
        if title is None:
            raise ValueError(f"getcurrent atom: unexpected entry title {entry.get('title')!r}")
        accession = _ACCESSION_RE.search(entry.get("id", "") + " " + entry.get("summary", ""))
        filed = _FILED_IN_SUMMARY.search(entry.get("summary", ""))
        tags = entry.get("tags") or [{}]
        rows.append(
            {
                "form": tags[0].get("term") or title["form"].strip(),
                "company_name": title["company"].strip(),
                "cik": int(title["cik"]),
                "role": title["role"],
                "accession_number": accession.group(1) if accession else None,
                "filing_date": filed.group(1) if filed else None,
                "updated": entry.get("updated"),
                "link": entry.get("link"),
            }
        )
    frame = pd.DataFrame(
        rows, columns=["form", "company_name", "cik", "role", "accession_number", "filing_date", "updated", "link"]
    )
    frame["cik"] = frame["cik"].astype("int64")
    frame["filing_date"] = pd.to_datetime(frame["filing_date"], format="%Y-%m-%d")
    frame["updated"] = pd.to_datetime(frame["updated"], utc=True, format="ISO8601")
    return frame


def parse_getcompany_atom(xml: bytes) -> pd.DataFrame:
    """Parse the ``browse-edgar?action=getcompany&output=atom`` feed (one company's filings).

    Columns: accession_number, form, filing_date, file_number, film_number, items_desc, size, link, updated (UTC).
    """
    feed = _parse_feed(xml, "getcompany atom")
    rows = [
        {
            "accession_number": entry.get("accession-number"),
            "form": entry.get("filing-type") or (entry.get("tags") or [{}])[0].get("term"),
            "filing_date": entry.get("filing-date"),
            "file_number": entry.get("file-number"),
            "film_number": entry.get("film-number"),
            "items_desc": entry.get("items-desc"),
            "size": entry.get("size"),
            "link": entry.get("filing-href") or entry.get("link"),
            "updated": entry.get("updated"),
        }
        for entry in feed.entries
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "accession_number",
            "form",
            "filing_date",
            "file_number",
            "film_number",
            "items_desc",
            "size",
            "link",
            "updated",
        ],
    )
    if frame["accession_number"].isna().any():
        raise ValueError("getcompany atom: entries without accession-number")
    frame["filing_date"] = pd.to_datetime(frame["filing_date"], format="%Y-%m-%d")
    frame["updated"] = pd.to_datetime(frame["updated"], utc=True, format="ISO8601")
    return frame


def parse_xbrl_rss(xml: bytes) -> pd.DataFrame:
    """Parse the XBRL RSS feed (``usgaap.rss.xml`` / monthly ``xbrlrss-YYYY-MM.xml``).

    Columns: cik, company_name, form, filing_date, accession_number, period (date|NaT),
    acceptance_datetime (UTC; EDGAR gives US/Eastern wall time), file_number, sic, fiscal_year_end, link.
    """
    feed = _parse_feed(xml, "xbrl rss")
    rows = []
    for entry in feed.entries:
        if "edgar_accessionnumber" not in entry or "edgar_ciknumber" not in entry:
            raise ValueError(f"xbrl rss: item {entry.get('title')!r} has no edgar:xbrlFiling block")
        rows.append(
            {
                "cik": entry["edgar_ciknumber"],
                "company_name": entry.get("edgar_companyname"),
                "form": entry.get("edgar_formtype"),
                "filing_date": entry.get("edgar_filingdate"),
                "accession_number": entry["edgar_accessionnumber"],
                "period": entry.get("edgar_period") or None,
                "acceptance_datetime": entry.get("edgar_acceptancedatetime") or None,
                "file_number": entry.get("edgar_filenumber"),
                "sic": entry.get("edgar_assignedsic") or None,
                "fiscal_year_end": entry.get("edgar_fiscalyearend") or None,
                "link": entry.get("link"),
            }
        )
    columns = [
        "cik",
        "company_name",
        "form",
        "filing_date",
        "accession_number",
        "period",
        "acceptance_datetime",
        "file_number",
        "sic",
        "fiscal_year_end",
        "link",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["cik"] = frame["cik"].map(_cik_to_int).astype("int64")
    frame["filing_date"] = pd.to_datetime(frame["filing_date"], format="%m/%d/%Y")
    frame["period"] = pd.to_datetime(frame["period"], format="%Y%m%d")
    frame["acceptance_datetime"] = _eastern_to_utc(frame["acceptance_datetime"], "%Y%m%d%H%M%S")
    return frame


# --------------------------------------------------------------------------- index files

INDEX_COLUMNS = ["cik", "company_name", "form", "date_filed", "filename", "accession_number"]
_INDEX_RIGHT = r"^\s*(?P<cik>\d{1,10})\s+(?P<date>\d{4}-?\d{2}-?\d{2})\s+(?P<filename>edgar/\S+)\s*$"


def _index_body(text: str, header_starts: tuple[str, ...], what: str) -> tuple[str, list[str]]:
    """Return (header line, data lines) of an EDGAR index: data follows the dashed rule."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.startswith(header_starts)), None)
    if header_at is None:
        raise ValueError(f"{what}: header line starting with {header_starts} not found")
    rule_at = next((i for i in range(header_at, len(lines)) if lines[i].startswith("---")), None)
    if rule_at is None:
        raise ValueError(f"{what}: dashed separator line not found")
    return lines[header_at], [line for line in lines[rule_at + 1 :] if line.strip()]


def _finish_index(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    frame["cik"] = frame["cik"].astype("int64")
    frame["date_filed"] = pd.to_datetime(frame["date_filed"].str.replace("-", "", regex=False), format="%Y%m%d")
    accession = frame["filename"].str.extract(r"(\d{10}-\d{2}-\d{6})", expand=False)
    if accession.isna().any():
        raise ValueError(
            f"{what}: file names without accession number {frame.loc[accession.isna(), 'filename'].tolist()[:3]}"
        )
    frame["accession_number"] = accession
    return frame[INDEX_COLUMNS].reset_index(drop=True)


def _bad_lines(lines: pd.Series, mask: pd.Series, what: str) -> None:
    if mask.any():
        raise ValueError(f"{what}: {int(mask.sum())} malformed lines, e.g. {lines[mask].iloc[0]!r}")


def parse_daily_index(text: str) -> pd.DataFrame:
    """Parse a fixed-width ``company.idx`` or ``form.idx`` (daily-index or full-index).

    Column starts come from the header line (company.idx wraps 'Date Filed  File Name' onto
    the next line, so CIK/date/file name are read from the CIK column onwards).
    Columns: cik, company_name, form, date_filed, filename, accession_number.
    """
    header, data = _index_body(text, ("Company Name", "Form Type"), "daily index")
    if "CIK" not in header:
        raise ValueError("daily index: header has no CIK column")
    lines = pd.Series(data, dtype=object)
    if lines.empty:
        return _finish_index(pd.DataFrame(columns=INDEX_COLUMNS), "daily index")
    cik_at = header.index("CIK")
    right = lines.str[cik_at:].str.extract(_INDEX_RIGHT)
    _bad_lines(lines, right["cik"].isna() | (lines.str[cik_at - 1 : cik_at] != " "), "daily index")
    left = lines.str[:cik_at]
    if header.startswith("Company Name"):
        form_at = header.index("Form Type")
        company, form = left.str[:form_at], left.str[form_at:]
    else:
        company_at = header.index("Company Name")
        form, company = left.str[:company_at], left.str[company_at:]
    frame = pd.DataFrame(
        {
            "cik": right["cik"],
            "company_name": company.str.strip(),
            "form": form.str.strip(),
            "date_filed": right["date"],
            "filename": right["filename"],
        }
    )
    return _finish_index(frame, "daily index")


def parse_xbrl_index(text: str) -> pd.DataFrame:
    """Parse a pipe-delimited ``xbrl.idx`` / ``master.idx`` (CIK|Company Name|Form Type|Date Filed|Filename).

    A '|' inside a company name is tolerated (company is everything between the CIK and the form).
    """
    _, data = _index_body(text, ("CIK|",), "xbrl index")
    lines = pd.Series(data, dtype=object)
    if lines.empty:
        return _finish_index(pd.DataFrame(columns=INDEX_COLUMNS), "xbrl index")
    # rsplit from the right: only the company name may contain '|'.
    right = lines.str.rsplit("|", n=3, expand=True).reindex(columns=range(4))
    left = right[0].str.split("|", n=1, expand=True).reindex(columns=range(2))
    frame = pd.DataFrame(
        {
            "cik": left[0],
            "company_name": left[1].str.strip(),
            "form": right[1].str.strip(),
            "date_filed": right[2],
            "filename": right[3],
        }
    )
    malformed = ~(
        frame["cik"].fillna("").str.fullmatch(r"\d{1,10}")
        & frame["date_filed"].fillna("").str.fullmatch(r"\d{4}-?\d{2}-?\d{2}")
        & frame["filename"].fillna("").str.fullmatch(r"edgar/\S+")
        & frame["company_name"].notna()
    )
    _bad_lines(lines, malformed, "xbrl index")
    return _finish_index(frame, "xbrl index")
