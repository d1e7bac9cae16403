"""Headline parsers: 8-K item titles (current and pre-2004 numbering), Finnhub JSON, RSS, and real EDGAR data."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from finance_assets.defs.news.headline_sources import (
    EIGHT_K_ITEMS,
    HEADLINE_COLUMNS,
    HeadlineFormatError,
    eight_k_headlines,
    eight_k_item_titles,
    parse_finnhub_company_news,
    parse_headline_feed,
)
from finance_assets.defs.sec import edgar


def test_item_codes_become_their_titles():
    assert eight_k_item_titles("2.02,9.01") == ["Item 2.02 Results of Operations and Financial Condition"]
    assert eight_k_item_titles("9.01") == ["Item 9.01 Financial Statements and Exhibits"]  # alone it stays
    assert eight_k_item_titles("5.02, 5.07") == [
        f"Item 5.02 {EIGHT_K_ITEMS['5.02']}",
        "Item 5.07 Submission of Matters to a Vote of Security Holders",
    ]
    assert eight_k_item_titles("5,7") == ["Item 5 Other Events"]  # pre-August-2004 numbering
    assert eight_k_item_titles("12") == ["Item 12 Results of Operations and Financial Condition"]
    assert eight_k_item_titles("7.09") == ["Item 7.09"]  # unknown code kept, not dropped
    assert eight_k_item_titles("") == []
    with pytest.raises(HeadlineFormatError, match="not an item code"):
        eight_k_item_titles("2.02;DROP TABLE")


def _filings(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["filing_date"] = pd.to_datetime(frame["filing_date"])
    frame["acceptance_datetime"] = pd.to_datetime(frame["acceptance_datetime"], utc=True)
    return frame


def test_eight_k_headlines_carry_items_time_and_link():
    filings = _filings(
        [
            {
                "cik": 320193,
                "accession_number": "0000320193-25-000071",
                "form": "8-K",
                "items": "5.02",
                "filing_date": "2025-06-02",
                "acceptance_datetime": "2025-06-02T20:31:05Z",
                "primary_doc_url": "https://www.sec.gov/Archives/edgar/data/320193/000032019325000071/a.htm",
            },
            {
                "cik": 320193,
                "accession_number": "0000320193-25-000070",
                "form": "8-K/A",
                "items": "2.02,9.01",
                "filing_date": "2025-05-01",
                "acceptance_datetime": None,
                "primary_doc_url": None,
            },
            {
                "cik": 320193,
                "accession_number": "0000320193-25-000069",
                "form": "10-Q",
                "items": "",
                "filing_date": "2025-05-02",
                "acceptance_datetime": "2025-05-02T20:00:00Z",
                "primary_doc_url": None,
            },
        ]
    )
    heads = eight_k_headlines("AAPL", filings, "Apple Inc.", "sec-8k")
    assert list(heads.columns) == HEADLINE_COLUMNS and len(heads) == 2  # the 10-Q is not news here
    first, amended = heads.iloc[0], heads.iloc[1]
    assert first["title"].startswith("Apple Inc. files 8-K on 2025-06-02: Item 5.02 Departure of Directors")
    assert first["published_utc"] == pd.Timestamp("2025-06-02T20:31:05Z")
    assert first["url"].endswith("/a.htm") and first["source"] == "sec-8k"
    assert "8-K (amended)" in amended["title"] and "Results of Operations" in amended["title"]
    assert "Exhibits" not in amended["title"]
    # no acceptance time: the end of the filing day in New York, never earlier than the filing
    assert amended["published_utc"] == pd.Timestamp("2025-05-02T03:59:00Z")
    assert amended["url"] == (
        "https://www.sec.gov/Archives/edgar/data/320193/000032019325000070/0000320193-25-000070-index.htm"
    )


def test_finnhub_json_and_its_errors():
    payload = [
        {
            "category": "company news",
            "datetime": 1748880000,
            "headline": "Apple raises buyback",
            "id": 1,
            "image": "",
            "related": "AAPL",
            "source": "Reuters",
            "summary": "",
            "url": "https://example.com/a",
        },
        {"category": "company news", "datetime": 0, "headline": "no time", "url": "https://example.com/b"},
        {"category": "company news", "datetime": 1748880100, "headline": "  ", "url": "https://example.com/c"},
    ]
    heads = parse_finnhub_company_news("AAPL", payload, "finnhub")
    assert heads[["title", "url", "source"]].values.tolist() == [
        ["Apple raises buyback", "https://example.com/a", "finnhub/Reuters"]
    ]
    assert heads["published_utc"].iloc[0] == pd.Timestamp(1748880000, unit="s", tz="UTC")
    assert parse_finnhub_company_news("AAPL", [], "finnhub").empty
    with pytest.raises(HeadlineFormatError, match="API limit reached"):
        parse_finnhub_company_news("AAPL", {"error": "API limit reached. Please try again later."}, "finnhub")
    with pytest.raises(HeadlineFormatError, match="must be a JSON list"):
        parse_finnhub_company_news("AAPL", {"news": []}, "finnhub")
    with pytest.raises(HeadlineFormatError, match="article 0"):
        parse_finnhub_company_news("AAPL", ["headline"], "finnhub")


def test_rss_feed_parses_and_garbage_fails():
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Acme beats estimates</title><link>https://e.com/1</link>"
        b"<pubDate>Mon, 02 Jun 2025 20:30:00 GMT</pubDate></item></channel></rss>"
    )
    heads = parse_headline_feed("ACMQ", rss, "yahoo-rss")
    assert heads.iloc[0][["title", "url"]].tolist() == ["Acme beats estimates", "https://e.com/1"]
    assert heads.iloc[0]["published_utc"] == pd.Timestamp("2025-06-02T20:30:00Z")
    with pytest.raises(HeadlineFormatError, match="unreadable headline feed"):
        parse_headline_feed("ACMQ", b"\x00\x01 not xml at all <<<", "yahoo-rss")


def test_real_apple_8ks_from_edgar_submissions(realdata):
    folder = realdata / "sec" / "submissions"
    current, older = (
        folder / "CIK0000320193_AAPL.edgartools.json",
        folder / ("CIK0000320193-submissions-001_AAPL.sec-edgar-downloader.json"),
    )
    if not (current.exists() and older.exists()):
        pytest.skip("AAPL submissions not present")
    info, recent = edgar.parse_submissions(json.loads(current.read_text()))
    page = edgar.parse_submissions_page(json.loads(older.read_text()), 320193)
    filings = edgar.merge_filings([recent, page])
    heads = eight_k_headlines("AAPL", filings, info["name"], "sec-8k")
    assert len(heads) == int(filings["form"].isin(["8-K", "8-K/A"]).sum()) > 100
    assert heads["title"].str.contains("Results of Operations and Financial Condition").sum() > 50
    assert heads["title"].str.contains(r"Item 5 Other Events").any()  # a pre-2004 8-K from the older page
    assert not heads["title"].str.contains(r"Item \d+(?:\.\d+)?$").any()  # every code found its title
    assert heads["published_utc"].dt.tz is not None and heads["url"].str.startswith("https://www.sec.gov/").all()
