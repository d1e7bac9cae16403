"""Tests for the EDGAR parsers: synthetic inputs always, the real EDGAR files when present."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from finance_assets.defs.sec.edgar import (
    FILING_COLUMNS,
    merge_filings,
    merge_ticker_history,
    parse_company_tickers,
    parse_company_tickers_exchange,
    parse_daily_index,
    parse_getcompany_atom,
    parse_getcurrent_atom,
    parse_submissions,
    parse_submissions_page,
    parse_xbrl_index,
    parse_xbrl_rss,
    resolve_cik,
    submission_pages,
)
from finance_assets.lib.tickers import TICKER_PATTERN, normalize_ticker

ACCESSION = re.compile(r"\d{10}-\d{2}-\d{6}")


def _sec_file(realdata: Path, relative: str) -> Path:
    path = realdata / "sec" / relative
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


# --------------------------------------------------------------------------- tickers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("AAPL", "AAPL"),
        ("brk.b", "BRK-B"),
        ("BRK/A", "BRK-A"),
        ("BAC-PL", "BAC-PL"),
        ("DAIC ", "DAIC"),
        ("x", "X"),
        ("GOOGL", "GOOGL"),
    ],
)
def test_normalize_ticker_maps_case_and_class_separators(raw: str, expected: str) -> None:
    assert normalize_ticker(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "../etc/passwd",
        "AAPL;DROP TABLE x",
        "A' OR '1'='1",
        "AA\x00PL",
        "AAPL\n",
        "\tAAPL",
        "\u0410APL",  # Cyrillic capital A
        "ＡＡＰＬ",  # full-width letters
        "A" * 17,
        "ABCDEFGHIJK",  # 11-character root
        "",
        "-A",
        "A--B",
        "A.B.C",
        "BRK-BCDEFG",  # class suffix longer than 5
        "1ABC",
    ],
)
def test_normalize_ticker_rejects_unsafe_or_malformed_symbols(raw: str) -> None:
    with pytest.raises(ValueError, match="ticker"):
        normalize_ticker(raw)


def test_normalize_ticker_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="str"):
        normalize_ticker(123)  # type: ignore[arg-type]


def test_exchange_layout_parses_skips_bad_symbols_and_keeps_many_tickers_per_cik() -> None:
    data = {
        "fields": ["cik", "name", "ticker", "exchange"],
        "data": [
            [1067983, "BERKSHIRE HATHAWAY INC", "BRK.B", "NYSE"],
            [1067983, "BERKSHIRE HATHAWAY INC", "BRK-A", "NYSE"],
            [70858, "BANK OF AMERICA CORP", "BAC-PL", None],
            [99, "EVIL", "../../x", "OTC"],
        ],
    }
    frame = parse_company_tickers_exchange(data)
    assert frame.columns.tolist() == ["ticker", "cik", "cik_str", "name", "exchange"]
    assert frame["ticker"].tolist() == ["BRK-B", "BRK-A", "BAC-PL"]
    assert frame["cik_str"].tolist() == ["0001067983", "0001067983", "0000070858"]
    assert frame["exchange"].tolist() == ["NYSE", "NYSE", None]
    assert frame.attrs["rejected_tickers"] == ["../../x"]
    assert frame["cik"].dtype == "int64"


def test_ticker_layout_parses_and_sets_no_exchange() -> None:
    data = {
        "0": {"cik_str": 320193, "ticker": "AAPL", "title": "Apple Inc."},
        "1": {"cik_str": "789019", "ticker": "msft", "title": "MICROSOFT"},
    }
    frame = parse_company_tickers(data)
    assert frame[["ticker", "cik", "cik_str"]].values.tolist() == [
        ["AAPL", 320193, "0000320193"],
        ["MSFT", 789019, "0000789019"],
    ]
    assert frame["exchange"].isna().all()


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"fields": ["cik"], "data": []},
        {"fields": ["cik", "name", "ticker"], "data": [[1, "x"]]},
        {"fields": ["cik", "name", "ticker"], "data": [["abc", "x", "X"]]},
    ],
)
def test_exchange_layout_rejects_malformed_documents(data) -> None:
    with pytest.raises(ValueError):
        parse_company_tickers_exchange(data)


def test_real_ticker_files_mostly_pass_normalization(realdata: Path) -> None:
    exchange_raw = json.loads(_sec_file(realdata, "company_tickers_exchange.json").read_text())
    tickers_raw = json.loads(_sec_file(realdata, "company_tickers.json").read_text())
    for frame, raw_count in (
        (parse_company_tickers_exchange(exchange_raw), len(exchange_raw["data"])),
        (parse_company_tickers(tickers_raw), len(tickers_raw)),
    ):
        rejected = frame.attrs["rejected_tickers"]
        assert len(rejected) <= raw_count * 0.001
        assert len(frame) + len(rejected) == raw_count  # no row lost silently (no duplicates in these files)
        assert frame["ticker"].str.fullmatch(TICKER_PATTERN).all()
        by_ticker = frame.set_index("ticker")["cik"]
        assert by_ticker["AAPL"] == 320193 and by_ticker["BRK-B"] == 1067983 and by_ticker["NVDA"] == 1045810
    exchange = parse_company_tickers_exchange(exchange_raw)
    assert exchange.groupby("cik")["ticker"].nunique().max() > 1  # one CIK, many tickers
    assert (
        exchange["exchange"].isna().any() and exchange.loc[exchange["ticker"] == "AAPL", "exchange"].item() == "Nasdaq"
    )


def _snapshot(rows: list[tuple[str, int]]) -> pd.DataFrame:
    return parse_company_tickers(
        {str(i): {"cik_str": cik, "ticker": ticker, "title": f"CO {cik}"} for i, (ticker, cik) in enumerate(rows)}
    )


def test_ticker_history_keeps_both_ciks_when_a_ticker_moves() -> None:
    history = merge_ticker_history(None, _snapshot([("META", 1), ("FB", 1)]), date(2022, 1, 1))
    history = merge_ticker_history(history, _snapshot([("META", 1), ("FB", 1)]), date(2022, 6, 1))
    history = merge_ticker_history(history, _snapshot([("META", 1), ("FB", 2)]), date(2023, 1, 1))
    fb = history[history["ticker"] == "FB"].set_index("cik")
    assert fb.loc[1, "first_seen"] == pd.Timestamp("2022-01-01") and fb.loc[1, "last_seen"] == pd.Timestamp(
        "2022-06-01"
    )
    assert fb.loc[2, "first_seen"] == pd.Timestamp("2023-01-01") and fb.loc[2, "last_seen"] == pd.Timestamp(
        "2023-01-01"
    )
    assert history.loc[history["ticker"] == "META", "last_seen"].item() == pd.Timestamp("2023-01-01")
    assert resolve_cik(history, "fb", date(2022, 3, 1)) == 1
    assert resolve_cik(history, "FB", date(2023, 2, 1)) == 2
    assert resolve_cik(history, "FB", date(2021, 12, 31)) is None
    assert resolve_cik(history, "ZZZZ", date(2023, 2, 1)) is None


def test_ticker_history_accepts_an_older_snapshot_late() -> None:
    history = merge_ticker_history(None, _snapshot([("ABC", 5)]), date(2024, 5, 1))
    history = merge_ticker_history(history, _snapshot([("ABC", 5)]), date(2024, 1, 1))
    row = history.iloc[0]
    assert (row["first_seen"], row["last_seen"]) == (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-05-01"))


# --------------------------------------------------------------------------- submissions


def _submissions(arrays: dict, files: list | None = None) -> dict:
    return {
        "cik": "0000000042",
        "name": "Test Co",
        "tickers": ["TST"],
        "exchanges": ["NYSE"],
        "sic": "1234",
        "fiscalYearEnd": "1231",
        "filings": {"recent": arrays, "files": files or []},
    }


def _arrays(**overrides) -> dict:
    arrays = {
        "accessionNumber": ["0000000042-24-000002", "0000950170-24-000001"],
        "filingDate": ["2024-02-01", "2024-01-05"],
        "reportDate": ["2023-12-31", ""],
        "acceptanceDateTime": ["2024-01-31T17:45:00.000Z", "2024-01-05T09:00:00.000Z"],
        "form": ["10-K", "8-K"],
        "items": ["", "2.02,9.01"],
        "size": [1000, 20],
        "isXBRL": [1, 0],
        "isInlineXBRL": [1, 0],
        "primaryDocument": ["tst-20231231.htm", ""],
    }
    return arrays | overrides


def test_parse_submissions_builds_filings_with_urls_and_utc_acceptance() -> None:
    info, filings = parse_submissions(_submissions(_arrays(), files=[{"name": "CIK0000000042-submissions-001.json"}]))
    assert info["cik"] == 42 and info["tickers"] == ["TST"] and info["fiscal_year_end"] == "1231"
    assert info["submission_pages"] == ["CIK0000000042-submissions-001.json"]
    assert filings.columns.tolist() == FILING_COLUMNS
    first = filings.iloc[0]
    assert first["primary_doc_url"] == "https://www.sec.gov/Archives/edgar/data/42/000000004224000002/tst-20231231.htm"
    # EDGAR's 'Z' is Eastern wall time: 17:45 EST is 22:45 UTC.
    assert first["acceptance_datetime"] == pd.Timestamp("2024-01-31 22:45", tz="UTC")
    assert bool(first["is_xbrl"]) and bool(first["is_inline_xbrl"])
    second = filings.iloc[1]
    assert pd.isna(second["report_date"]) and second["primary_doc_url"] is None and second["items"] == "2.02,9.01"


def test_zero_filings_gives_typed_empty_frame() -> None:
    empty_arrays = {key: [] for key in _arrays()}
    _, empty = parse_submissions(_submissions(empty_arrays))
    _, full = parse_submissions(_submissions(_arrays()))
    assert empty.empty and empty.dtypes.to_dict() == full.dtypes.to_dict()


@pytest.mark.parametrize(
    "arrays",
    [
        _arrays(form=["10-K"]),  # unequal lengths
        _arrays(filingDate=["2024-02-01", "yesterday"]),
        _arrays(accessionNumber=["0000000042-24-000002", "../../etc"]),
    ],
)
def test_parse_submissions_rejects_malformed_arrays(arrays: dict) -> None:
    with pytest.raises(ValueError):
        parse_submissions(_submissions(arrays))


def test_page_and_full_document_are_not_confused() -> None:
    with pytest.raises(ValueError, match="parse_submissions_page"):
        parse_submissions(_arrays())
    with pytest.raises(ValueError, match="parse_submissions"):
        parse_submissions_page(_submissions(_arrays()))
    with pytest.raises(ValueError, match="page file name"):
        submission_pages({"filings": {"files": [{"name": "../../secret.json"}]}})


def test_merge_filings_dedupes_and_sorts_newest_first() -> None:
    _, recent = parse_submissions(_submissions(_arrays()))
    page = parse_submissions_page(
        _arrays(
            accessionNumber=["0000950170-24-000001", "0000000042-23-000009"], filingDate=["2024-01-05", "2023-11-01"]
        ),
        cik=42,
    )
    merged = merge_filings([recent, page])
    assert merged["accession_number"].tolist() == [
        "0000000042-24-000002",
        "0000950170-24-000001",
        "0000000042-23-000009",
    ]
    assert merge_filings([]).columns.tolist() == FILING_COLUMNS


def test_real_submissions_all_parse(realdata: Path) -> None:
    folder = _sec_file(realdata, "submissions")
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        if "filings" in data:
            info, filings = parse_submissions(data)
            assert len(filings) == len(data["filings"]["recent"]["accessionNumber"])
            assert info["cik"] == int(data["cik"])
        else:
            filings = parse_submissions_page(data)
            assert len(filings) == len(data["accessionNumber"])
        assert filings.columns.tolist() == FILING_COLUMNS
        assert filings["accession_number"].str.fullmatch(ACCESSION.pattern).all()
        assert filings["acceptance_datetime"].dt.tz is not None


def test_real_aapl_submissions_and_page(realdata: Path) -> None:
    info, recent = parse_submissions(
        json.loads(_sec_file(realdata, "submissions/CIK0000320193_AAPL.edgartools.json").read_text())
    )
    assert info["fiscal_year_end"] == "0926" and info["submission_pages"] == ["CIK0000320193-submissions-001.json"]
    ten_k = recent.set_index("accession_number").loc["0000320193-23-000106"]
    assert (
        ten_k["form"] == "10-K"
        and ten_k["filing_date"] == pd.Timestamp("2023-11-03")
        and ten_k["report_date"] == pd.Timestamp("2023-09-30")
    )
    assert (
        ten_k["primary_doc_url"]
        == "https://www.sec.gov/Archives/edgar/data/320193/000032019323000106/aapl-20230930.htm"
    )
    # Accepted after the 17:30 ET cut-off, so dated the next business day.
    assert ten_k["acceptance_datetime"] == pd.Timestamp("2023-11-02 18:08:27", tz="America/New_York")
    page = parse_submissions_page(
        json.loads(
            _sec_file(realdata, "submissions/CIK0000320193-submissions-001_AAPL.sec-edgar-downloader.json").read_text()
        ),
        cik=320193,
    )
    merged = merge_filings([recent, page])
    assert len(merged) == len(set(recent["accession_number"]) | set(page["accession_number"]))
    assert merged["filing_date"].is_monotonic_decreasing and merged["accession_number"].is_unique
    assert merged["filing_date"].min() == pd.Timestamp("1994-01-26")


def test_real_company_without_filings(realdata: Path) -> None:
    info, filings = parse_submissions(
        json.loads(_sec_file(realdata, "submissions/CIK0000350001_nofilings.edgartools.json").read_text())
    )
    assert info["cik"] == 350001 and filings.empty and filings.columns.tolist() == FILING_COLUMNS


def test_real_acceptance_times_agree_with_the_atom_feed(realdata: Path) -> None:
    """The submissions API and the getcompany Atom feed describe the same filings independently."""
    _, filings = parse_submissions(
        json.loads(_sec_file(realdata, "submissions/CIK0001889983_KVAC.edgarkit.json").read_text())
    )
    atom = parse_getcompany_atom(
        _sec_file(realdata, "feeds/browse-edgar_getcompany_atom_CIK0001889983.edgarkit.xml").read_bytes()
    )
    joined = filings.merge(atom, on="accession_number", suffixes=("", "_atom"))
    assert len(joined) >= 50
    assert (joined["acceptance_datetime"] == joined["updated"]).all()
    assert (joined["filing_date"] == joined["filing_date_atom"]).all() and (joined["form"] == joined["form_atom"]).all()


# --------------------------------------------------------------------------- feeds

_ATOM = b"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>Latest Filings</title>
<entry>
<title>10-K - Caf\xe9 - Holdings, Inc. (0000000042) (Filer)</title>
<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/data/42/000000004224000002/0000000042-24-000002-index.htm"/>
<summary type="html"> &lt;b&gt;Filed:&lt;/b&gt; 2024-02-01 &lt;b&gt;AccNo:&lt;/b&gt; 0000000042-24-000002 &lt;b&gt;Size:&lt;/b&gt; 1 MB</summary>
<updated>2024-01-31T17:45:00-05:00</updated>
<category scheme="https://www.sec.gov/" label="form type" term="10-K"/>
<id>urn:tag:sec.gov,2008:accession-number=0000000042-24-000002</id>
</entry>
</feed>"""


def test_getcurrent_atom_synthetic_entry() -> None:
    frame = parse_getcurrent_atom(_ATOM)
    row = frame.iloc[0]
    assert (row["form"], row["company_name"], row["cik"], row["role"]) == (
        "10-K",
        "Caf\u00e9 - Holdings, Inc.",
        42,
        "Filer",
    )
    assert row["accession_number"] == "0000000042-24-000002" and row["filing_date"] == pd.Timestamp("2024-02-01")
    assert row["updated"] == pd.Timestamp("2024-01-31 22:45", tz="UTC")


@pytest.mark.parametrize(
    "payload",
    [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><feed xmlns="http://www.w3.org/2005/Atom"><title>&lol2;</title></feed>',
        b'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><rss><channel><item><title>&xxe;</title></item></channel></rss>',
        b"this is not xml at all",
        "https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent",  # a str must never be fetched as a URL
    ],
)
def test_feed_parsers_refuse_entities_and_garbage(payload) -> None:
    for parser in (parse_getcurrent_atom, parse_xbrl_rss, parse_getcompany_atom):
        with pytest.raises(ValueError):
            parser(payload)


_RSS = b"""<?xml version="1.0" encoding="windows-1252"?>
<rss version="2.0"><channel><title>XBRL</title>
<item><title>TEST CO (0000000042) (Filer)</title>
<link>https://www.sec.gov/Archives/edgar/data/42/000000004224000002/0000000042-24-000002-index.htm</link>
<description>10-Q</description>
<edgar:xbrlFiling xmlns:edgar="https://www.sec.gov/Archives/edgar">
<edgar:companyName>TEST CO</edgar:companyName><edgar:formType>10-Q</edgar:formType>
<edgar:filingDate>07/15/2024</edgar:filingDate><edgar:cikNumber>0000000042</edgar:cikNumber>
<edgar:accessionNumber>0000000042-24-000002</edgar:accessionNumber><edgar:fileNumber>001-00001</edgar:fileNumber>
<edgar:acceptanceDatetime>20240715161500</edgar:acceptanceDatetime><edgar:period>20240630</edgar:period>
<edgar:assignedSic>1234</edgar:assignedSic><edgar:fiscalYearEnd>1231</edgar:fiscalYearEnd>
</edgar:xbrlFiling></item></channel></rss>"""


def test_xbrl_rss_synthetic_item_converts_eastern_daylight_time() -> None:
    row = parse_xbrl_rss(_RSS).iloc[0]
    assert (row["cik"], row["form"], row["accession_number"]) == (42, "10-Q", "0000000042-24-000002")
    assert row["filing_date"] == pd.Timestamp("2024-07-15") and row["period"] == pd.Timestamp("2024-06-30")
    assert row["acceptance_datetime"] == pd.Timestamp("2024-07-15 20:15", tz="UTC")  # EDT is UTC-4


def test_real_getcurrent_atom(realdata: Path) -> None:
    frame = parse_getcurrent_atom(_sec_file(realdata, "feeds/getcurrent_atom_start0.edgartools.xml").read_bytes())
    assert len(frame) == 100
    assert frame["accession_number"].str.fullmatch(ACCESSION.pattern).all()
    # The link path carries the same CIK and accession as the title and id.
    expected = "/data/" + frame["cik"].astype(str) + "/" + frame["accession_number"].str.replace("-", "") + "/"
    assert all(part in link for part, link in zip(expected, frame["link"]))
    assert set(frame["role"]) >= {"Reporting", "Issuer"} and frame["updated"].dt.tz is not None


def test_real_xbrl_rss(realdata: Path) -> None:
    frame = parse_xbrl_rss(_sec_file(realdata, "feeds/usgaap.rss.edgarkit.xml").read_bytes())
    assert len(frame) == 200 and frame["accession_number"].is_unique
    expected = "/data/" + frame["cik"].astype(str) + "/" + frame["accession_number"].str.replace("-", "") + "/"
    assert all(part in link for part, link in zip(expected, frame["link"]))
    first = frame.iloc[0]
    assert (first["cik"], first["form"], first["company_name"]) == (1915657, "8-K", "HF Sinclair Corp")
    assert first["acceptance_datetime"] == pd.Timestamp("2025-01-24 22:08:44", tz="UTC")  # 17:08:44 EST
    assert frame["period"].notna().all() and (frame["filing_date"] >= frame["period"] - pd.Timedelta(days=400)).all()


def test_real_getcompany_atom(realdata: Path) -> None:
    frame = parse_getcompany_atom(
        _sec_file(realdata, "feeds/browse-edgar_getcompany_atom_CIK0001889983.edgarkit.xml").read_bytes()
    )
    assert len(frame) == 55 and frame["accession_number"].str.fullmatch(ACCESSION.pattern).all()


# --------------------------------------------------------------------------- index files

_COMPANY_IDX = """Description:           Daily Index of EDGAR Dissemination Feed by Company Name
Last Data Received:    Oct  3, 2022

Company Name                                                  Form Type   CIK
      Date Filed  File Name
-------------------------------------------------------------------------------------------------------------------------------------------------
ACME  CORP  (double spaces)                                   SC 13D/A    1700461     20221003    edgar/data/1700461/0001104659-22-105357.txt
van Kesteren Gerard                                           4           1696354     20221003    edgar/data/1696354/0001116354-22-000030.txt
"""

_FORM_IDX = """Description:           Daily Index of EDGAR Dissemination Feed by Form Type

Form Type   Company Name                                                  CIK         Date Filed  File Name
---------------------------------------------------------------------------------------------------------------------------------------------
1-A POS     DELHI BANK CORP                                               927719      20200318    edgar/data/927719/0001213900-20-006773.txt
"""


def test_daily_index_company_and_form_layouts() -> None:
    by_company = parse_daily_index(_COMPANY_IDX)
    assert by_company[["company_name", "form", "cik"]].values.tolist() == [
        ["ACME  CORP  (double spaces)", "SC 13D/A", 1700461],
        ["van Kesteren Gerard", "4", 1696354],
    ]
    assert by_company["accession_number"].tolist() == ["0001104659-22-105357", "0001116354-22-000030"]
    assert (by_company["date_filed"] == pd.Timestamp("2022-10-03")).all()
    by_form = parse_daily_index(_FORM_IDX).iloc[0]
    assert (by_form["form"], by_form["company_name"], by_form["cik"]) == ("1-A POS", "DELHI BANK CORP", 927719)


def test_daily_index_rejects_malformed_lines() -> None:
    broken = _FORM_IDX + "garbage line without the columns\n"
    with pytest.raises(ValueError, match="malformed"):
        parse_daily_index(broken)
    with pytest.raises(ValueError, match="header"):
        parse_daily_index("no header here\n")


def test_xbrl_index_tolerates_pipes_in_company_names() -> None:
    text = "Description: XBRL Index\n\nCIK|Company Name|Form Type|Date Filed|Filename\n" + "-" * 80 + "\n"
    text += "9984|BARNES | GROUP INC|DEF 14A|2023-03-24|edgar/data/9984/0001206774-23-000410.txt\n"
    row = parse_xbrl_index(text).iloc[0]
    assert (row["cik"], row["company_name"], row["form"], row["accession_number"]) == (
        9984,
        "BARNES | GROUP INC",
        "DEF 14A",
        "0001206774-23-000410",
    )
    assert row["date_filed"] == pd.Timestamp("2023-03-24")
    with pytest.raises(ValueError, match="malformed"):
        parse_xbrl_index(text + "9984|only|three\n")


@pytest.mark.parametrize(
    ("name", "parser", "rows"),
    [
        ("company.20221003.idx", parse_daily_index, 4925),
        ("form.20200318.idx", parse_daily_index, 4084),
        ("xbrl.2023QTR1.edgarkit.idx", parse_xbrl_index, 27606),
    ],
)
def test_real_index_files(realdata: Path, name: str, parser, rows: int) -> None:
    frame = parser(_sec_file(realdata, f"feeds/{name}").read_text(encoding="latin-1"))
    assert len(frame) == rows
    # The file name repeats the CIK: an independent check that the fixed-width split is right.
    assert (frame["filename"].str.extract(r"edgar/data/(\d+)/", expand=False).astype(int) == frame["cik"]).all()
    assert frame["company_name"].str.len().gt(0).all() and frame["form"].str.len().gt(0).all()
    assert not frame["form"].str.contains("  ").any() and frame["date_filed"].notna().all()
