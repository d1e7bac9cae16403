"""Issue #19 (last item) and #20: the report shows, per holding, the latest filing known by the day's close
(form, dates, accession and link, net tone of its main section, change vs the previous same-form filing),
a marker on the day a filing became known, and the day P&L split into price and FX parts that add up to
the total exactly.

Point in time: a filing counts from the first session whose 16:00 New York close follows its SEC
acceptance (`first_session_known`, the fundamentals' rule): accepted after the close, it is not shown
that day and is shown (and marked new) from the next session.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from finance_assets.defs.portfolio import filing_signals
from finance_assets.defs.portfolio.report_render import DASH, HOLDING_FIELDS, render_html, render_markdown
from finance_assets.defs.portfolio.schemas import FUNDAMENTAL_SNAPSHOTS
from finance_assets.lib.warehouse import Warehouse
from finance_assets_tests.defs.portfolio import test_report_windows as windows
from finance_assets_tests.defs.portfolio.test_report_render import sample_data

NY = "America/New_York"
TEN_K = "0000000001-25-000010"
EIGHT_K = "0000000001-25-000011"
OLD_10Q = "0000000001-24-000009"


def _section(accession, form, filed, accepted_ny, section, *, words, negative, positive, similarity, items=""):
    accepted = pd.Timestamp(accepted_ny).tz_localize(NY).tz_convert("UTC") if accepted_ny else None
    known_at = accepted if accepted is not None else pd.Timestamp(f"{filed} 23:59").tz_localize(NY).tz_convert("UTC")
    return {
        "ticker": "AAA",
        "cik": 1,
        "accession_number": accession,
        "form": form,
        "filing_date": pd.Timestamp(filed),
        "known_at": known_at,
        "document": "doc.htm",
        "section": section,
        "items": items,
        "previous_accession": None,
        "word_count": words,
        "sentence_count": words // 10,
        "negative": negative,
        "positive": positive,
        "uncertainty": 0.01,
        "litigious": 0.0,
        "constraining": 0.0,
        "fog": 15.0,
        "similarity_prev": similarity,
        "sentences_added": 3,
        "sentences_removed": 1,
    }


def _signals() -> pd.DataFrame:
    """AAA: an old 10-Q; a 10-K accepted Wednesday 2025-03-12 at 15:00 New York (in the session: known
    that day); an 8-K accepted Friday 2025-03-14 at 16:05 (after the close: known Monday 17th)."""
    rows = [
        _section(OLD_10Q, "10-Q", "2024-11-01", "2024-11-01 08:00", "I-2", words=900, negative=0.03, positive=0.01,
                 similarity=np.nan),
        _section(TEN_K, "10-K", "2025-03-12", "2025-03-12 15:00", "1A", words=5000, negative=0.04, positive=0.005,
                 similarity=0.85),
        _section(TEN_K, "10-K", "2025-03-12", "2025-03-12 15:00", "7", words=8000, negative=0.012, positive=0.02,
                 similarity=0.97),
        _section(EIGHT_K, "8-K", "2025-03-14", "2025-03-14 16:05", "2.02", words=80, negative=0.0, positive=0.0,
                 similarity=0.9, items="2.02,9.01"),
        _section(EIGHT_K, "8-K", "2025-03-14", "2025-03-14 16:05", "9.01", words=30, negative=0.0, positive=0.0,
                 similarity=1.0, items="2.02,9.01"),
        _section(EIGHT_K, "EX-99.1", "2025-03-14", "2025-03-14 16:05", "EX-99.1", words=700, negative=0.01,
                 positive=0.035, similarity=0.6, items="2.02,9.01"),
    ]  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["form"] = frame["form"].replace({"EX-99.1": "8-K"})  # an exhibit row carries its filing's form
    return frame


# --------------------------------------------------------------------------- pure: which section, which filing


def test_headline_signals_pick_the_main_and_change_sections_per_form():
    headlines = filing_signals.headline_signals(_signals()).set_index("accession_number")
    ten_k = headlines.loc[TEN_K]
    assert ten_k["tone_section"] == "7" and ten_k["net_tone"] == pytest.approx(0.02 - 0.012)  # MD&A
    assert ten_k["change_section"] == "1A" and ten_k["change_prev"] == pytest.approx(1 - 0.85)  # risk factors
    eight_k = headlines.loc[EIGHT_K]
    assert eight_k["tone_section"] == "EX-99.1" and eight_k["net_tone"] == pytest.approx(0.035 - 0.01)
    assert eight_k["items"] == "2.02,9.01" and eight_k["change_prev"] == pytest.approx(0.4)
    old = headlines.loc[OLD_10Q]
    assert old["tone_section"] == "I-2" and np.isnan(old["change_prev"]) and old["change_section"] is None
    assert pd.isna(old["items"])  # item codes only for 8-Ks
    assert ten_k["url"] == (
        "https://www.sec.gov/Archives/edgar/data/1/000000000125000010/0000000001-25-000010-index.htm"
    )
    # the session each counts from: in the session that day; after the close the next session (Monday)
    assert ten_k["known_session"] == pd.Timestamp("2025-03-12")
    assert eight_k["known_session"] == pd.Timestamp("2025-03-17")


def test_a_10q_without_item_2_falls_back_and_its_change_is_the_risk_factors():
    rows = [
        _section("q1", "10-Q", "2025-05-01", "2025-05-01 10:00", "I-1", words=400, negative=0.01, positive=0.0,
                 similarity=0.99),
        _section("q1", "10-Q", "2025-05-01", "2025-05-01 10:00", "II-1A", words=300, negative=0.05, positive=0.0,
                 similarity=0.7),
    ]  # fmt: skip
    row = filing_signals.headline_signals(pd.DataFrame(rows)).iloc[0]
    assert row["tone_section"] == "I-1"  # no part I item 2: the longest section
    assert row["change_section"] == "II-1A" and row["change_prev"] == pytest.approx(0.3)


def test_latest_filing_is_point_in_time_and_a_late_filing_counts_from_the_next_session():
    headlines = filing_signals.headline_signals(_signals())
    days = pd.to_datetime(["2025-03-11", "2025-03-12", "2025-03-14", "2025-03-17", "2025-03-18"])
    rows = pd.DataFrame({"date": list(days) + [days[-1]], "ticker": ["AAA"] * 5 + ["ZZZ"]})
    out = filing_signals.latest_filings(rows, headlines)
    assert list(out.columns) == filing_signals.FILING_COLUMNS
    assert out["filing_accession"].tolist()[:5] == [OLD_10Q, TEN_K, TEN_K, EIGHT_K, EIGHT_K]
    # the 8-K accepted at 16:05 on the 14th is not that day's latest filing; it is the next session's
    assert out.loc[2, "filing_form"] == "10-K" and out.loc[3, "filing_form"] == "8-K"
    assert out.loc[3, "filing_known_at"] == pd.Timestamp("2025-03-17")
    assert out["new_filing"].tolist()[:5] == [pd.NA, "10-K", pd.NA, "8-K", pd.NA]
    # a holding without filings: missing values (a dash in the report), never the text 'nan'
    assert out.loc[5].isna().all()
    assert "nan" not in out.astype("string").fillna("").to_numpy().ravel().tolist()


def test_two_filings_in_one_session_the_later_accepted_is_the_latest():
    rows = [
        _section("a", "8-K", "2025-03-12", "2025-03-12 09:00", "EX-99.1", words=10, negative=0.0, positive=0.1,
                 similarity=np.nan),
        _section("b", "10-K", "2025-03-11", "2025-03-11 17:30", "7", words=10, negative=0.1, positive=0.0,
                 similarity=np.nan),
    ]  # fmt: skip
    headlines = filing_signals.headline_signals(pd.DataFrame(rows))
    out = filing_signals.latest_filings(
        pd.DataFrame({"date": [pd.Timestamp("2025-03-12")], "ticker": ["AAA"]}), headlines
    )
    assert out.loc[0, "filing_accession"] == "a"  # both count from the 12th; 'a' was accepted later
    assert out.loc[0, "new_filing"] == "10-K, 8-K"


def test_the_marker_also_flags_new_fundamentals_without_a_text_filing():
    rows = pd.DataFrame({"date": pd.to_datetime(["2025-03-18", "2025-03-19"]), "ticker": ["BBB", "BBB"]})
    known = pd.DataFrame({"ticker": ["BBB"], "known_at": [pd.Timestamp("2025-03-19")]})
    out = filing_signals.latest_filings(rows, filing_signals.headline_signals(pd.DataFrame()), known)
    assert out["new_filing"].tolist() == [pd.NA, filing_signals.NEW_FUNDAMENTALS]


# --------------------------------------------------------------------------- rendering


def _with_filings(holdings: pd.DataFrame) -> pd.DataFrame:
    """The sample holdings with the first one's latest filing (the others have none)."""
    out = holdings.copy()
    rows = pd.DataFrame({"date": pd.Timestamp("2025-03-17"), "ticker": ["AAA"] + ["ZZZ"] * (len(out) - 1)})
    filings = filing_signals.latest_filings(rows, filing_signals.headline_signals(_signals()))
    return pd.concat([out.reset_index(drop=True), filings], axis=1)


def _no_nan(text: str) -> None:
    assert not re.search(r"\bnan\b", text, re.IGNORECASE), "NaN rendered"


def test_markdown_shows_the_latest_filing_the_marker_and_the_pnl_split():
    data = sample_data()
    holdings = _with_filings(data.holdings).assign(day_change_price_value=12.5, day_change_fx_value=-2.5)
    text = render_markdown(data.summary, holdings)
    for label in ("Day P&L: price", "Day P&L: FX", "New filing", "Form", "Net tone", "Change vs previous"):
        assert f" {label} |" in text, label
    first = holdings.iloc[0]
    line = next(row for row in text.split("## Latest filings")[1].splitlines() if row.startswith(f"| {first.ticker} |"))
    assert "| 8-K | 2025-03-14 | 2025-03-17 | EX-99.1 | 2.50% | 40.00% | 2.02,9.01 |" in line
    assert f"[{EIGHT_K}](https://www.sec.gov/Archives/edgar/data/1/" in line
    holdings_line = next(
        row for row in text.split("## Latest filings")[0].splitlines() if row.startswith(f"| {first.ticker} |")
    )
    assert "| 12.50 | -2.50 | new: 8-K |" in holdings_line
    others = [row for row in text.split("## Latest filings")[1].splitlines() if re.match(r"^\| T0[1-9] \|", row)]
    assert others and all(row.count(DASH) == 8 for row in others)  # every filing column of a holding without one
    _no_nan(text)


def test_html_shows_the_latest_filings_table_with_links_and_dashes():
    data = sample_data()
    page = render_html(type(data)(**{**data.__dict__, "holdings": _with_filings(data.holdings)}))
    tables = page.split("<h2>Holdings</h2>")[1].split("<footer>")[0]  # plotly.js itself mentions NaN
    _no_nan(tables)
    assert 'id="filings"' in tables and "<h2>Latest filings</h2>" in tables
    for _, label, _, group in HOLDING_FIELDS:
        if group.startswith("Latest filing") or label == "New filing":
            assert f">{label}</th>" in tables, label
    assert f'<a href="https://www.sec.gov/Archives/edgar/data/1/000000000125000011/{EIGHT_K}-index.htm"' in tables
    assert 'class="text marker"' in tables and ">new: 8-K</td>" in tables
    filings_body = tables.split('id="filings"')[1].split("</tbody>")[0]
    assert filings_body.count("<tr>") == len(data.holdings)
    assert filings_body.count(f">{DASH}</td>") == 9 * (len(data.holdings) - 1)


def test_sample_holdings_without_filing_columns_render_dashes():
    data = sample_data()  # holdings from before this change: no filing columns at all
    text = render_markdown(data.summary, data.holdings)
    _no_nan(text)
    assert DASH in text.split("## Latest filings")[1]


# --------------------------------------------------------------------------- the asset, end to end

RANGE = ("2025-03-10", "2025-03-21")


@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("filing_signals")
    wh = Warehouse(root / "warehouse")
    windows._write_months(wh, "market_panel", windows._panel())
    windows._write_months(wh, "fx_rates", windows._fx())
    snapshots = FUNDAMENTAL_SNAPSHOTS.empty()
    snapshots.loc[0, ["ticker", "known_at"]] = ["BBB", pd.Timestamp("2025-03-19")]  # BBB: new fundamentals
    wh.write("fundamental_snapshots", None, snapshots)
    wh.write("filing_text_signals", {"ticker": "AAA"}, _signals())
    (root / "portfolio.csv").write_text(windows.PORTFOLIO)
    report = windows._run(wh, root, RANGE)
    holdings = pd.read_parquet(sorted((wh.root / "portfolio_holdings").rglob("*.parquet")))
    holdings["date"] = pd.to_datetime(holdings["date"])
    return report, holdings, root


def test_the_report_shows_each_days_latest_filing_point_in_time(report_run):
    _, holdings, _ = report_run
    aaa = holdings[holdings["ticker"] == "AAA"].set_index("date")
    assert aaa.loc["2025-03-11", "filing_accession"] == OLD_10Q
    assert aaa.loc["2025-03-12", "filing_accession"] == TEN_K and aaa.loc["2025-03-12", "new_filing"] == "10-K"
    # accepted 16:05 on Friday 14th, after the close: not that day's, Monday's (marked new then)
    assert aaa.loc["2025-03-14", "filing_accession"] == TEN_K and pd.isna(aaa.loc["2025-03-14", "new_filing"])
    assert aaa.loc["2025-03-17", "filing_accession"] == EIGHT_K and aaa.loc["2025-03-17", "new_filing"] == "8-K"
    assert aaa.loc["2025-03-17", "filing_net_tone"] == pytest.approx(0.025)
    bbb = holdings[holdings["ticker"] == "BBB"].set_index("date")
    assert bbb["filing_accession"].isna().all()
    assert bbb.loc["2025-03-19", "new_filing"] == "fundamentals" and bbb["new_filing"].notna().sum() == 1
    assert set(filing_signals.FILING_COLUMNS) <= set(holdings.columns)


def test_day_pnl_is_price_plus_fx_exactly(report_run):
    report, holdings, _ = report_run
    traded = holdings[holdings["day_change_value"].notna()]
    assert len(traded) >= 16 and (traded["currency"] == "EUR").any()
    parts = traded["day_change_price_value"] + traded["day_change_fx_value"]
    assert (parts == traded["day_change_value"]).all()  # exactly, not within rounding
    eur = traded[traded["currency"] == "EUR"]
    assert (eur["day_change_fx_value"].abs() > 0).all()  # the FX part is real for the EUR holding
    days = report.dropna(subset=["day_pnl"])
    assert len(days) == len(report)
    assert ((days["day_pnl_price"] + days["day_pnl_fx"]) == days["day_pnl"]).all()
    by_day = traded.groupby("date")["day_change_value"].sum()
    assert np.allclose(days["day_pnl"], by_day.reindex(days.index), rtol=1e-12)


def test_the_written_report_files_show_the_filings(report_run):
    _, _, root = report_run
    markdown = (root / "reports" / f"portfolio_report_{RANGE[1]}.md").read_text()
    page = (root / "reports" / f"portfolio_report_{RANGE[1]}.html").read_text()
    assert "## Latest filings" in markdown and f"[{EIGHT_K}](" in markdown
    _no_nan(markdown)
    tables = page.split("<h2>Holdings</h2>")[1].split("<footer>")[0]
    _no_nan(tables)
    assert f">{EIGHT_K}</a>" in tables and f">{DASH}</td>" in tables  # BBB has no filing
