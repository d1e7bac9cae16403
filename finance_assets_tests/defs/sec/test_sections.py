"""extract_sections on real inline-XBRL filings (when ../shared/realdata is present) and on small
synthetic documents that carry the same traps: a table of contents, page footers and numbers,
hidden ix:header and display:none blocks, headings split across table cells."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from finance_assets import extract_sections
from finance_assets.defs.sec.sections import document_text, html_lines
from finance_assets.demo import source as demo

# A table-of-contents entry as it reads once flattened: "Item 1A. Risk Factors 12"
TOC_LINE = re.compile(r"^item\s+\d{1,2}[a-z]?\.?\s+\S.*\s\d{1,3}$", re.IGNORECASE)
ANY_ITEM_LINE = re.compile(r"^item\s+\d{1,2}(\.\d{2}|[a-z])?\b", re.IGNORECASE)


def _document(realdata, name: str) -> bytes:
    return (realdata / "sec" / "documents" / f"{name}.edgartools.html").read_bytes()


def _assert_clean(sections: dict[str, str]) -> None:
    for key, text in sections.items():
        lines = text.splitlines()
        assert not [line for line in lines if TOC_LINE.match(line)], key
        assert not [line for line in lines if ANY_ITEM_LINE.match(line) and len(line.split()) < 12], key
        assert not [line for line in lines if re.fullmatch(r"\d{1,3}", line.strip())], key  # page numbers


# ------------------------------------------------------------------------------ real documents


@pytest.mark.parametrize(
    ("name", "company_words"),
    [
        ("AAPL_10-K_2024-11-01", "iPhone"),
        ("NVDA_10-K_2025-02-26", "NVIDIA"),
        ("NVDA_10-K_FY2022", "NVIDIA"),
        ("KO_10-K_2025-02-20", "Coca-Cola"),
    ],
)
def test_real_10k_items(realdata, name, company_words):
    sections = extract_sections(_document(realdata, name), "10-K")
    assert {"1", "1A", "7", "7A"} <= set(sections)
    assert list(sections).index("1") < list(sections).index("1A") < list(sections).index("7")
    assert company_words in sections["1"]
    # risk factors are long prose, not a TOC line or a cross-reference
    assert len(sections["1A"].split()) > 5000
    assert "risk" in sections["1A"][:1000].lower()
    assert len(sections["7"].split()) > 1500
    # the next TOC entry after "Risk Factors" never shows up at the start of the section
    assert "Unresolved Staff Comments" not in sections["1A"][:2000]
    _assert_clean(sections)


def test_real_10k_drops_hidden_inline_xbrl(realdata):
    html = _document(realdata, "AAPL_10-K_2024-11-01")
    assert b"ix:header" in html
    text = "\n".join(html_lines(html))
    # the hidden header carries the dei facts in machine form, e.g. the CIK with leading zeros
    assert "0000320193" in html.decode() and "0000320193" not in text


@pytest.mark.parametrize("name", ["AAPL_10-Q_2025-08-01", "NVDA_10-Q_2025-08-27"])
def test_real_10q_parts_and_items(realdata, name):
    sections = extract_sections(_document(realdata, name), "10-Q")
    assert {"I-1", "I-2", "I-4", "II-1A"} <= set(sections)
    assert "results of operations" in sections["I-2"].lower()
    assert len(sections["I-2"].split()) > 1000
    _assert_clean(sections)


def test_real_8k_items(realdata):
    bke = extract_sections(_document(realdata, "BKE_8-K"), "8-K")
    assert set(bke) == {"2.02", "9.01"}
    assert "financial results" in bke["2.02"]
    assert "99.1" in bke["9.01"]
    assert "SIGNATURE" not in bke["9.01"]  # the section ends at the signatures
    orcl = extract_sections(_document(realdata, "ORCL_8-K"), "8-K")
    assert "5.07" in orcl and "Annual Meeting" in orcl["5.07"]
    _assert_clean({**bke, **orcl})


def test_real_press_release_text(realdata):
    text = document_text(_document(realdata, "BKE_8-K_EX99.1"))
    assert "Buckle" in text and len(text.split()) > 300


# ------------------------------------------------------------------------------ synthetic documents


def _footer(page: int) -> str:
    return (
        f'<div style="text-align:center">Demo Corp | 2024 Form 10-K | {page}</div>'
        '<hr style="page-break-after:always"/><div><a href="#toc">Table of Contents</a></div>'
    )


SYNTHETIC_10K = (
    "<html><body>"
    '<div style="display:none"><ix:header><ix:hidden><ix:nonNumeric name="dei:DocumentType">10-K'
    "HIDDENFACT</ix:nonNumeric></ix:hidden></ix:header></div>"
    "<div>FORM 10-K</div><div>Demo Corp</div>" + _footer(1) + '<div id="toc">TABLE OF CONTENTS</div><table>'
    "<tr><td>PART I</td></tr>"
    "<tr><td>Item 1.</td><td>Business</td><td>2</td></tr>"
    "<tr><td>Item 1A.</td><td>Risk Factors</td><td>3</td></tr>"
    "<tr><td>Item 1B.</td><td>Unresolved Staff Comments</td><td>4</td></tr>"
    "<tr><td>PART II</td></tr>"
    "<tr><td>Item 7.</td><td>Management&#8217;s Discussion and Analysis</td><td>5</td></tr>"
    "</table>" + _footer(2) + '<div style="text-align:center"><b>PART I</b></div>'
    "<table><tr><td><b>Item&#160;1.</b></td><td><b>Business</b></td></tr></table>"
    "<p>Demo Corp makes widgets.</p><p>It sells them worldwide.</p>" + _footer(3) + "<div><b>Item 1A.</b></div>"
    "<div><b>Risk Factors</b></div>"
    "<p>Demand may decline.</p>"
    '<p style="display:none">HIDDENNOTE</p>'
    "<p>See Item 7 for our results; Item 1A of this report is incorporated by reference.</p>"
    "<p>Competition could hurt margins.</p>" + _footer(4) + "<div><b>Item 1B. Unresolved Staff Comments</b></div>"
    "<p>None.</p>" + _footer(5) + '<div style="text-align:center"><b>PART II</b></div>'
    "<div><b>ITEM 7. MANAGEMENT&#8217;S DISCUSSION AND ANALYSIS</b></div>"
    "<p>Revenue grew 5%.</p>"
    "<div><b>SIGNATURES</b></div><p>/s/ Demo CEO</p>"
    "</body></html>"
)


def test_synthetic_10k_sections_exactly():
    sections = extract_sections(SYNTHETIC_10K, "10-K")
    assert sections == {
        "1": "Demo Corp makes widgets.\nIt sells them worldwide.",
        "1A": "Demand may decline.\nSee Item 7 for our results; Item 1A of this report is incorporated by reference."
        "\nCompetition could hurt margins.",
        "1B": "None.",
        "7": "Revenue grew 5%.",
    }
    everything = "\n".join(html_lines(SYNTHETIC_10K))
    assert "HIDDENFACT" not in everything and "HIDDENNOTE" not in everything


def test_synthetic_10q_keys_carry_the_part():
    html = (
        "<html><body><table><tr><td>PART I</td></tr><tr><td>Item 1.</td><td>Financial Statements</td><td>3</td></tr>"
        "<tr><td>Item 2.</td><td>MD&amp;A</td><td>9</td></tr><tr><td>PART II</td></tr>"
        "<tr><td>Item 1.</td><td>Legal Proceedings</td><td>20</td></tr>"
        "<tr><td>Item 1A.</td><td>Risk Factors</td><td>21</td></tr></table>"
        "<div>PART I &#8212; FINANCIAL INFORMATION</div><div>Item 1. Financial Statements</div><p>Balance sheet.</p>"
        "<div>Item 2. Management&#8217;s Discussion and Analysis</div><p>Sales rose.</p>"
        "<div>PART II &#8212; OTHER INFORMATION</div><div>Item 1. Legal Proceedings</div><p>A lawsuit.</p>"
        "<div>Item 1A. Risk Factors</div><p>No material changes.</p></body></html>"
    )
    assert extract_sections(html, "10-Q") == {
        "I-1": "Balance sheet.",
        "I-2": "Sales rose.",
        "II-1": "A lawsuit.",
        "II-1A": "No material changes.",
    }


def test_synthetic_8k_items_and_amendments():
    html = (
        "<html><body><div>FORM 8-K/A</div>"
        "<table><tr><td>Item 5.02</td><td>Departure of Directors or Certain Officers</td></tr></table>"
        "<p>On May 1, 2025, the CFO resigned.</p>"
        "<div>Item 9.01 Financial Statements and Exhibits.</div><p>Exhibit 99.1 Press release.</p>"
        "<div>SIGNATURE</div><p>/s/ Secretary</p></body></html>"
    )
    assert extract_sections(html, "8-K/A") == {
        "5.02": "On May 1, 2025, the CFO resigned.",
        "9.01": "Exhibit 99.1 Press release.",
    }
    # a periodic report never reads 8-K style codes, nor the reverse
    assert extract_sections(html, "10-K") == {}


def test_demo_filings_extract_like_real_ones():
    today = dt.date(2025, 6, 2)
    company = demo.COMPANIES_BY_TICKER["ACMQ"]
    seen = set()
    for filing in demo._demo_filings("ACMQ", today)[-8:]:
        for _, (kind, _, html) in demo.filing_documents(company, filing).items():
            if kind.startswith("EX-"):
                continue
            sections = extract_sections(html, kind)
            _assert_clean(sections)
            if kind == "8-K":
                assert set(sections) == set(filing["items"].split(","))
            seen |= {f"{kind}:{key}" for key in sections}
    assert {"10-K:1", "10-K:1A", "10-K:7", "10-Q:I-2", "10-Q:II-1A", "8-K:2.02", "8-K:9.01"} <= seen
