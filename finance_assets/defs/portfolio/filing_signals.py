"""The latest filing's headline text signals per holding and report day (pure: no Dagster).

`filing_text_signals` (defs/sec/documents.py) has one row per filing and section. The report shows,
per holding, one line for the latest filing known by the report day's close:

- the filing: form, filing date, the session it counts from (`filing_known_at`), accession and link;
- its net tone: positive − negative Loughran–McDonald share of its *main section* (10-K family:
  item 7, MD&A, else 1A; 10-Q: part I item 2, MD&A; 8-K / 6-K: the longest EX-99 press release, else
  the longest item other than 9.01; else the longest section);
- its change versus the previous filing of the same form: 1 − cosine similarity of the *change
  section* ("Lazy Prices": 10-K family item 1A, else 7; 10-Q part II item 1A, else part I item 2;
  8-K / 6-K the main section);
- for 8-Ks and 6-Ks, EDGAR's item codes.

Point in time: a filing counts from `first_session_known` (defs/sec/fundamentals.py, the rule the
fundamentals use): the first session whose 16:00 New York close (early closes count) comes after its
SEC acceptance time. A filing accepted after the close, on a weekend or a holiday counts from the next
session; one without an acceptance time from the session after its filing date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finance_assets.defs.sec import fundamentals as fundamentals_lib
from finance_assets.defs.sec.document_store import base_form

ARCHIVES_URL = "https://www.sec.gov/Archives/edgar/data"
# The columns of filing_text_signals this module reads.
SIGNAL_INPUT_COLUMNS = [
    "ticker",
    "cik",
    "accession_number",
    "form",
    "filing_date",
    "known_at",
    "section",
    "items",
    "word_count",
    "negative",
    "positive",
    "similarity_prev",
]
# One row per ticker and filing (`headline_signals`).
HEADLINE_COLUMNS = [
    "ticker",
    "accession_number",
    "form",
    "filing_date",
    "accepted_at",
    "known_session",
    "url",
    "tone_section",
    "net_tone",
    "change_section",
    "change_prev",
    "items",
]
# What the report adds to each holding row (`latest_filings`).
FILING_COLUMNS = [
    "filing_form",
    "filing_date",
    "filing_known_at",
    "filing_accession",
    "filing_url",
    "filing_section",
    "filing_net_tone",
    "filing_change_section",
    "filing_change",
    "filing_items",
    "new_filing",
]
_TEXT = ("filing_form", "filing_accession", "filing_url", "filing_section", "filing_change_section", "filing_items")
_DATES = ("filing_date", "filing_known_at")
_NUMBERS = ("filing_net_tone", "filing_change")
NEW_FUNDAMENTALS = "fundamentals"  # the marker when only the XBRL fundamentals of a filing became known

# (main section candidates, change section candidates) per kind of form
_PERIODIC = {"10-K": (("7", "1A"), ("1A", "7")), "10-Q": (("I-2",), ("II-1A", "I-2"))}


def _kind(form: str) -> str:
    base = base_form(form)
    if base.startswith("10-Q"):
        return "10-Q"
    if base.startswith(("8-K", "6-K")):
        return "8-K"
    return "10-K"  # 10-K, 10-KT, 20-F, 40-F: sections keyed like a 10-K


def filing_url(cik, accession: str) -> str | None:
    """The filing's EDGAR index page."""
    if cik is None or pd.isna(cik) or not accession:
        return None
    return f"{ARCHIVES_URL}/{int(cik)}/{accession.replace('-', '')}/{accession}-index.htm"


_FILING = ["ticker", "accession_number"]


def _first_by(frame: pd.DataFrame, priority: np.ndarray) -> pd.DataFrame:
    """Per filing, the row of lowest `priority`, the longest section among equals (then the first)."""
    ordered = frame.assign(_priority=priority, _words=-frame["word_count"].fillna(0).astype("float64"))
    ordered = ordered.sort_values([*_FILING, "_priority", "_words"], kind="stable")
    return ordered.drop_duplicates(_FILING).drop(columns=["_priority", "_words"]).set_index(_FILING)


def _rank(sections: pd.Series, names: tuple[str, ...]) -> np.ndarray:
    """Position of each section in `names`, len(names) for any other."""
    return sections.map({name: rank for rank, name in enumerate(names)}).fillna(len(names)).to_numpy()


def _number(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    return numbers.where(np.isfinite(numbers))


def headline_signals(signals: pd.DataFrame) -> pd.DataFrame:
    """One row per ticker and filing: its headline signals and the session it counts from (HEADLINE_COLUMNS)."""
    if signals is None or signals.empty:
        return _empty_headlines()
    frame = signals.reindex(columns=SIGNAL_INPUT_COLUMNS).reset_index(drop=True)
    frame["section"] = frame["section"].astype(str)
    forms = frame["form"].astype(str)
    frame["_kind"] = forms.map({form: _kind(form) for form in forms.unique()})
    # main section: the kind's list in order (else the longest section); 8-K: a press release, an item, 9.01
    main_rank = np.zeros(len(frame))
    change_rank = np.full(len(frame), np.inf)  # the change section's list; inf: not in it (8-Ks: none)
    for kind, (main_names, change_names) in _PERIODIC.items():
        mine = (frame["_kind"] == kind).to_numpy()
        main_rank[mine] = _rank(frame["section"][mine], main_names)
        ranks = _rank(frame["section"][mine], change_names)
        change_rank[mine] = np.where(ranks < len(change_names), ranks, np.inf)
    current = (frame["_kind"] == "8-K").to_numpy()
    release = frame["section"].str.upper().str.startswith("EX-99").to_numpy()
    main_rank[current] = np.where(release, 0, np.where(frame["section"] == "9.01", 2, 1))[current]
    main = _first_by(frame, main_rank)
    # the change section: the first of the kind's list the filing has, else its main section
    listed = np.isfinite(change_rank)
    change = _first_by(frame[listed], change_rank[listed]).reindex(main.index)
    change = change.where(change["section"].notna(), main)
    similarity = _number(change["similarity_prev"])
    out = main.reset_index()[_FILING].copy()
    out["form"] = main["form"].to_numpy()
    out["filing_date"] = pd.to_datetime(main["filing_date"].to_numpy()).normalize()
    out["accepted_at"] = pd.to_datetime(main["known_at"].to_numpy(), utc=True)
    out["url"] = [
        filing_url(cik, accession) for cik, accession in zip(main["cik"], out["accession_number"], strict=True)
    ]
    out["tone_section"] = main["section"].to_numpy()
    out["net_tone"] = (_number(main["positive"]) - _number(main["negative"])).to_numpy()
    out["change_section"] = change["section"].where(similarity.notna(), None).to_numpy()
    out["change_prev"] = (1.0 - similarity).to_numpy()
    eight_k = (main["_kind"] == "8-K").to_numpy()
    items = main["items"].where(main["items"].astype(str).str.len() > 0)
    out["items"] = items.where(eight_k & items.notna().to_numpy(), None).to_numpy()
    out["known_session"] = fundamentals_lib.first_session_known(out["accepted_at"], out["filing_date"]).to_numpy()
    out["known_session"] = out["known_session"].astype("datetime64[ns]")
    return out[HEADLINE_COLUMNS].sort_values(["ticker", "known_session", "accepted_at", "accession_number"])


def _empty_headlines() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype="object") for column in HEADLINE_COLUMNS})
    frame["filing_date"] = frame["filing_date"].astype("datetime64[ns]")
    frame["known_session"] = frame["known_session"].astype("datetime64[ns]")
    frame["accepted_at"] = frame["accepted_at"].astype("datetime64[ns, UTC]")
    for column in ("net_tone", "change_prev"):
        frame[column] = frame[column].astype("float64")
    return frame


def latest_filings(
    rows: pd.DataFrame, headlines: pd.DataFrame, fundamentals_known: pd.DataFrame | None = None
) -> pd.DataFrame:
    """FILING_COLUMNS for each row of `rows` (columns date, ticker; index kept): the latest filing of
    `headlines` (`headline_signals`) counting from a session on or before the row's date, and
    `new_filing`, the marker of a filing that became known on the date itself: the forms of the filings
    counting from that session (e.g. "10-Q"), else "fundamentals" when only `fundamentals_known`
    (columns ticker, known_at: fundamental_snapshots' knowledge sessions) has one, else missing.
    Missing values are <NA> / NaT / NaN, never the string 'nan'."""
    out = pd.DataFrame(index=rows.index)
    keys = pd.DataFrame(
        {"date": pd.to_datetime(rows["date"]).dt.normalize(), "ticker": rows["ticker"]}, index=rows.index
    )
    known = headlines.dropna(subset=["known_session"]) if headlines is not None else _empty_headlines()
    if len(known) and len(keys):
        right = known.sort_values(["known_session", "accepted_at", "accession_number"], kind="stable")
        left = keys.reset_index(names="_row").sort_values("date", kind="stable")
        left["date"] = left["date"].astype("datetime64[ns]")
        right = right.assign(known_session=right["known_session"].astype("datetime64[ns]"))
        # the last filing (in session, then acceptance order) counting from a session on or before the day
        matched = pd.merge_asof(
            left, right, left_on="date", right_on="known_session", by="ticker", direction="backward"
        )
        matched = matched.set_index("_row").reindex(rows.index)
    else:
        matched = pd.DataFrame(index=rows.index, columns=HEADLINE_COLUMNS)
    out["filing_form"] = matched["form"]
    out["filing_date"] = matched["filing_date"]
    out["filing_known_at"] = matched["known_session"]
    out["filing_accession"] = matched["accession_number"]
    out["filing_url"] = matched["url"]
    out["filing_section"] = matched["tone_section"]
    out["filing_net_tone"] = matched["net_tone"]
    out["filing_change_section"] = matched["change_section"]
    out["filing_change"] = matched["change_prev"]
    out["filing_items"] = matched["items"]
    out["new_filing"] = _new_filing_marker(keys, known, fundamentals_known)
    return _typed(out)


def _new_filing_marker(keys: pd.DataFrame, known: pd.DataFrame, fundamentals_known: pd.DataFrame | None) -> pd.Series:
    marker = pd.Series(pd.NA, index=keys.index, dtype="string")
    if len(known):
        forms = (
            known.assign(known_session=known["known_session"].astype("datetime64[ns]"))
            .groupby(["ticker", "known_session"])["form"]
            .agg(lambda f: ", ".join(dict.fromkeys(f)))
        )
        index = pd.MultiIndex.from_arrays([keys["ticker"], keys["date"].astype("datetime64[ns]")])
        marker = pd.Series(forms.reindex(index).to_numpy(), index=keys.index, dtype="string")
    if fundamentals_known is not None and len(fundamentals_known):
        sessions = set(
            zip(
                fundamentals_known["ticker"], pd.to_datetime(fundamentals_known["known_at"]).dt.normalize(), strict=True
            )
        )
        new = pd.Series(
            [(t, d) in sessions for t, d in zip(keys["ticker"], keys["date"], strict=True)],
            index=keys.index,
            dtype=bool,
        )
        marker = marker.mask(marker.isna() & new, NEW_FUNDAMENTALS)
    return marker


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Text as pandas strings (stored as Parquet strings even when every row is empty), dates, floats."""
    for column in (*_TEXT, "new_filing"):
        frame[column] = frame[column].astype("string")
    for column in _DATES:
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    for column in _NUMBERS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame[FILING_COLUMNS]
