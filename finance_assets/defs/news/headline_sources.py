"""Headline parsers, one per source, all returning the same table.

Every function returns ``HEADLINE_COLUMNS``: ticker, title, url, source, published_utc (tz-aware UTC).
Sources: a headline RSS/Atom feed (Yahoo Finance), the company's 8-K filings (built from EDGAR
submissions data, item codes turned into their titles), and Finnhub's company-news JSON.
Malformed input raises ``ValueError`` naming the source. No network, no Dagster.
"""

from __future__ import annotations

import calendar
import re
import xml.etree.ElementTree as ET

import feedparser
import pandas as pd

HEADLINE_COLUMNS = ["ticker", "title", "url", "source", "published_utc"]

# Form 8-K items since August 2004 (17 CFR 249.308), as EDGAR lists them in submissions `items`.
EIGHT_K_ITEMS: dict[str, str] = {
    "1.01": "Entry into a Material Definitive Agreement",
    "1.02": "Termination of a Material Definitive Agreement",
    "1.03": "Bankruptcy or Receivership",
    "1.04": "Mine Safety - Reporting of Shutdowns and Patterns of Violations",
    "1.05": "Material Cybersecurity Incidents",
    "2.01": "Completion of Acquisition or Disposition of Assets",
    "2.02": "Results of Operations and Financial Condition",
    "2.03": "Creation of a Direct Financial Obligation or an Obligation under an Off-Balance Sheet "
    "Arrangement of a Registrant",
    "2.04": "Triggering Events That Accelerate or Increase a Direct Financial Obligation or an Obligation "
    "under an Off-Balance Sheet Arrangement",
    "2.05": "Costs Associated with Exit or Disposal Activities",
    "2.06": "Material Impairments",
    "3.01": "Notice of Delisting or Failure to Satisfy a Continued Listing Rule or Standard; Transfer of Listing",
    "3.02": "Unregistered Sales of Equity Securities",
    "3.03": "Material Modification to Rights of Security Holders",
    "4.01": "Changes in Registrant's Certifying Accountant",
    "4.02": "Non-Reliance on Previously Issued Financial Statements or a Related Audit Report or Completed "
    "Interim Review",
    "5.01": "Changes in Control of Registrant",
    "5.02": "Departure of Directors or Certain Officers; Election of Directors; Appointment of Certain "
    "Officers; Compensatory Arrangements of Certain Officers",
    "5.03": "Amendments to Articles of Incorporation or Bylaws; Change in Fiscal Year",
    "5.04": "Temporary Suspension of Trading Under Registrant's Employee Benefit Plans",
    "5.05": "Amendments to the Registrant's Code of Ethics, or Waiver of a Provision of the Code of Ethics",
    "5.06": "Change in Shell Company Status",
    "5.07": "Submission of Matters to a Vote of Security Holders",
    "5.08": "Shareholder Director Nominations",
    "6.01": "ABS Informational and Computational Material",
    "6.02": "Change of Servicer or Trustee",
    "6.03": "Change in Credit Enhancement or Other External Support",
    "6.04": "Failure to Make a Required Distribution",
    "6.05": "Securities Act Updating Disclosure",
    "6.06": "Static Pool",
    "6.10": "Alternative Filings of Asset-Backed Issuers",
    "7.01": "Regulation FD Disclosure",
    "8.01": "Other Events",
    "9.01": "Financial Statements and Exhibits",
}
# The numbering before August 2004 (EDGAR's older submissions pages still carry it, e.g. "5,7").
LEGACY_EIGHT_K_ITEMS: dict[str, str] = {
    "1": "Changes in Control of Registrant",
    "2": "Acquisition or Disposition of Assets",
    "3": "Bankruptcy or Receivership",
    "4": "Changes in Registrant's Certifying Accountant",
    "5": "Other Events",
    "6": "Resignations of Registrant's Directors",
    "7": "Financial Statements and Exhibits",
    "8": "Change in Fiscal Year",
    "9": "Regulation FD Disclosure",
    "10": "Amendments to the Registrant's Code of Ethics, or Waiver of a Provision of the Code of Ethics",
    "11": "Temporary Suspension of Trading Under Registrant's Employee Benefit Plans",
    "12": "Results of Operations and Financial Condition",
}
EXHIBITS_ONLY = {"9.01", "7"}  # "Financial Statements and Exhibits" accompanies most 8-Ks: no news in it
EIGHT_K_FORMS = {"8-K", "8-K/A"}
_ARCHIVES = "https://www.sec.gov/Archives/edgar/data"
_ITEM_CODE = re.compile(r"^\d{1,2}(\.\d{2})?$")
_NY = "America/New_York"


class HeadlineFormatError(ValueError):
    pass


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=HEADLINE_COLUMNS)
    frame["published_utc"] = pd.to_datetime(frame["published_utc"], utc=True)
    return frame


def parse_headline_feed(ticker: str, body: bytes, source_name: str) -> pd.DataFrame:
    """RSS/Atom bytes (Yahoo Finance headline feed) -> headlines. An unreadable feed raises."""
    plain = plain_rss_headlines(ticker, body, source_name)
    return plain if plain is not None else headlines_of_feed(ticker, feedparser.parse(body), source_name)


# What plain_rss_headlines reads itself: an item's children without a namespace, none of which gives
# feedparser another title, link or date; RFC 822 dates in the one form feeds use, with a numeric or UTC zone
# (seconds 00-59: a leap second is left to feedparser).
_PLAIN_ITEM_CHILDREN = {"title", "link", "guid", "pubDate", "description", "category", "source", "author", "comments"}
_RFC822 = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d{2}:\d{2}:[0-5]\d (?:[+-]\d{4}|GMT|UTC)"
)
_ABSOLUTE_URL = re.compile(r"https?://[^\s<>\"]+")


def plain_rss_headlines(ticker: str, body: bytes, source_name: str) -> pd.DataFrame | None:
    """The headlines of a plain RSS 2.0 feed, read with ElementTree (~50x faster than feedparser, whose
    pure-Python handlers took ~5 s for a demo feed of 1,200 items), or None when feedparser must read it:
    not well-formed, a DOCTYPE, not RSS 2.0, or an item with markup in its title, a relative link, a
    namespaced child, a repeated or missing field, a guid that would stand for its link, or a date in
    another form. What it returns is what `headlines_of_feed(feedparser.parse(body))` returns."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return None
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    channels = root.findall("channel")
    if root.tag != "rss" or len(channels) != 1:
        return None
    items = channels[0].findall("item")
    if len(items) != sum(1 for _ in root.iter("item")):
        return None  # an item outside the channel: feedparser's business
    titles, links, dates = [], [], []
    for item in items:
        tags = [child.tag for child in item]
        if not set(tags) <= _PLAIN_ITEM_CHILDREN or any(
            tags.count(t) > 1 for t in ("title", "link", "pubDate", "guid")
        ):
            return None
        title, link, published = item.findtext("title"), item.findtext("link"), item.findtext("pubDate")
        if title is None or link is None or published is None or "<" in title:
            return None
        link = link.strip()
        guid = item.find("guid")
        if guid is not None and guid.get("isPermaLink", "true") != "false" and (guid.text or "").strip() != link:
            return None
        published = published.strip()
        if not _ABSOLUTE_URL.fullmatch(link) or not _RFC822.fullmatch(published):
            return None
        title = title.strip()
        if title:  # an empty title: feedparser's entry is skipped alike
            titles.append(title)
            links.append(link)
            dates.append(published)
    if not titles:
        return _frame([])
    stamps = _rfc822_instants(dates)
    if stamps is None:
        return None
    return pd.DataFrame(
        {"ticker": ticker, "title": titles, "url": links, "source": source_name, "published_utc": stamps},
        columns=HEADLINE_COLUMNS,
    )


def _rfc822_instants(dates: list[str]) -> pd.Series | None:
    """UTC instants (whole seconds) of dates in `_RFC822`'s form, parsed in one pass, as
    `email.utils.parsedate_to_datetime` reads them (the weekday is not checked; -0000, GMT and UTC are UTC);
    None when one is not a real date or time (31 Feb, 25:00), which that function refuses too."""
    text = pd.Series(dates, dtype=object).str.slice(5).str.replace(r" (?:GMT|UTC)$", " +0000", regex=True)
    parsed = pd.to_datetime(text, format="%d %b %Y %H:%M:%S %z", errors="coerce", utc=True)
    if parsed.isna().any():
        return None
    seconds = parsed.astype("int64").to_numpy() // 1_000_000_000
    return pd.to_datetime(seconds, unit="s", utc=True)


def headlines_of_feed(ticker: str, feed: feedparser.FeedParserDict, source_name: str) -> pd.DataFrame:
    """A parsed RSS/Atom feed (feedparser.parse) -> headlines. An unreadable feed raises."""
    if feed.bozo and not feed.entries:
        raise HeadlineFormatError(f"{ticker}: unreadable headline feed ({feed.get('bozo_exception')})")
    rows = []
    for entry in feed.entries:
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        title = (entry.get("title") or "").strip()
        if not stamp or not title:
            continue
        rows.append(
            {
                "ticker": ticker,
                "title": title,
                "url": entry.get("link", ""),
                "source": source_name,
                "published_utc": pd.Timestamp(calendar.timegm(stamp), unit="s", tz="UTC"),
            }
        )
    return _frame(rows)


def eight_k_item_titles(items: str) -> list[str]:
    """'2.02,9.01' -> ['Item 2.02 Results of Operations and Financial Condition'].

    The exhibits item is dropped when the filing reports anything else; unknown codes are kept
    as 'Item X' so nothing silently disappears.
    """
    codes = [code.strip() for code in str(items or "").split(",") if code.strip()]
    for code in codes:
        if not _ITEM_CODE.match(code):
            raise HeadlineFormatError(f"8-K items: {code!r} is not an item code (e.g. '2.02' or legacy '5')")
    if len(codes) > 1:
        codes = [code for code in codes if code not in EXHIBITS_ONLY] or codes
    table = EIGHT_K_ITEMS if all("." in code for code in codes) else LEGACY_EIGHT_K_ITEMS
    return [
        f"Item {code} {table.get(code) or EIGHT_K_ITEMS.get(code) or LEGACY_EIGHT_K_ITEMS.get(code, '')}".strip()
        for code in codes
    ]


def eight_k_headlines(ticker: str, filings: pd.DataFrame, company_name: str | None, source_name: str) -> pd.DataFrame:
    """One headline per 8-K / 8-K/A in a `filings` table (columns of analytics.edgar.FILING_COLUMNS).

    Title: "<company> files 8-K on 2025-05-01: Item 2.02 Results of Operations and Financial
    Condition; ..." (the date keeps each quarter's routine 8-K distinct for title de-duplication).
    Published time: EDGAR's acceptance time (UTC; a naive value is read as UTC); when it is missing,
    the end of the filing day in New York, so a headline is never dated before the filing was public.
    """
    required = {"form", "items", "accession_number", "filing_date", "acceptance_datetime", "cik"}
    missing = required - set(filings.columns)
    if missing:
        raise HeadlineFormatError(f"{ticker}: filings table lacks columns {sorted(missing)}")
    rows = []
    who = (company_name or ticker).strip()
    for filing in filings[filings["form"].isin(EIGHT_K_FORMS)].itertuples(index=False):
        titles = eight_k_item_titles(filing.items)
        amended = " (amended)" if filing.form.endswith("/A") else ""
        day = pd.Timestamp(filing.filing_date).date().isoformat()
        title = f"{who} files 8-K{amended} on {day}: " + ("; ".join(titles) if titles else "current report")
        published = pd.Timestamp(filing.acceptance_datetime) if pd.notna(filing.acceptance_datetime) else None
        if published is None:
            published = pd.Timestamp(filing.filing_date).tz_localize(_NY) + pd.Timedelta(hours=23, minutes=59)
        elif published.tzinfo is None:  # the warehouse (DuckDB) returns UTC instants without their zone
            published = published.tz_localize("UTC")
        url = getattr(filing, "primary_doc_url", None)
        if not isinstance(url, str) or not url:
            folder = filing.accession_number.replace("-", "")
            url = f"{_ARCHIVES}/{int(filing.cik)}/{folder}/{filing.accession_number}-index.htm"
        rows.append(
            {
                "ticker": ticker,
                "title": title,
                "url": url,
                "source": source_name,
                "published_utc": pd.Timestamp(published).tz_convert("UTC"),
            }
        )
    return _frame(rows)


def parse_finnhub_company_news(ticker: str, payload: object, source_name: str) -> pd.DataFrame:
    """Finnhub `/api/v1/company-news` JSON (a list of articles with unix-second `datetime`).

    Finnhub answers errors as an object ({"error": "..."}); that raises with its message.
    """
    if isinstance(payload, dict) and "error" in payload:
        raise HeadlineFormatError(f"{ticker}: Finnhub answered an error: {str(payload['error'])[:200]}")
    if not isinstance(payload, list):
        raise HeadlineFormatError(f"{ticker}: Finnhub company-news must be a JSON list, got {type(payload).__name__}")
    rows = []
    for position, article in enumerate(payload):
        if not isinstance(article, dict):
            raise HeadlineFormatError(f"{ticker}: Finnhub article {position} is not an object")
        title, stamp = (article.get("headline") or "").strip(), article.get("datetime")
        if not title or not isinstance(stamp, (int, float)) or isinstance(stamp, bool) or stamp <= 0:
            continue  # Finnhub occasionally lists items without a headline or time: nothing to score
        publisher = str(article.get("source") or "").strip()
        rows.append(
            {
                "ticker": ticker,
                "title": title,
                "url": str(article.get("url") or ""),
                "source": f"{source_name}/{publisher}" if publisher else source_name,
                "published_utc": pd.Timestamp(int(stamp), unit="s", tz="UTC"),
            }
        )
    return _frame(rows)
