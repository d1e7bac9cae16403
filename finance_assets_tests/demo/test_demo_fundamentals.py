"""The demo's filings look like real ones (#20): sector-shaped statements that differ by company and
evolve, 10-Q/10-K cadence and filing lags, real companyfacts shapes, a restatement known from its
filing's acceptance on, splits restated the way filers restate them, and a sector for every ticker."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import json
import re

import duckdb
import numpy as np
import pandas as pd
import pytest

from finance_assets.defs.market import corporate_actions
from finance_assets.defs.portfolio import holdings as book
from finance_assets.defs.sec import edgar, xbrl
from finance_assets.defs.sec import fundamentals as fundamentals_lib
from finance_assets.defs.sec.sectors import sector_for_sic
from finance_assets.demo import source as demo
from finance_assets_tests.conftest import realdata_dir

TODAY = dt.date(2026, 12, 4)  # the demo window: 2025-01 (demo history start) to here
WINDOW = pd.date_range("2025-01-31", "2026-11-30", freq="ME")


def _now(day: dt.date, hour: int = 18, minute: int = 0) -> dt.datetime:
    return pd.Timestamp(dt.datetime.combine(day, dt.time(hour, minute)), tz="America/New_York").to_pydatetime()


@functools.cache
def _filings(ticker: str) -> pd.DataFrame:
    cik = demo.COMPANIES_BY_TICKER[ticker].cik
    return edgar.parse_submissions(demo.submissions_json(cik, TODAY))[1]


@functools.cache
def _standardized(ticker: str) -> pd.DataFrame:
    """The product's standardization of the demo's companyfacts, with SEC acceptance times."""
    facts = xbrl.normalize_companyfacts(demo.companyfacts_json(demo.COMPANIES_BY_TICKER[ticker].cik, TODAY))
    return fundamentals_lib.standardize(facts, "1231", fundamentals_lib.acceptance_times(_filings(ticker)))


@functools.cache
def _actions(ticker: str) -> pd.DataFrame:
    """The ticker's corporate_actions as the product parses them from the demo's bars, as of TODAY."""
    return corporate_actions.actions_from_bars(ticker, demo.demo_bars_as_of(ticker, TODAY), "demo")


@pytest.fixture(scope="module")
def snapshots() -> pd.DataFrame:
    """The report's point-in-time fundamentals (fundamental_snapshots) of the demo portfolio, on the share
    basis of the corporate actions known TODAY (the basis of the stored split-adjusted prices)."""
    funds = pd.concat([_standardized(c.ticker).assign(ticker=c.ticker) for c in demo.DEMO_COMPANIES])
    actions = pd.concat([_actions(c.ticker) for c in demo.DEMO_COMPANIES])
    con = duckdb.connect()
    try:
        con.register("fundamentals", funds)
        return book.fundamental_snapshots(con, actions)
    finally:
        con.close()


def _known_on(snapshots: pd.DataFrame, ticker: str, day: pd.Timestamp) -> pd.Series:
    rows = snapshots[(snapshots["ticker"] == ticker) & (snapshots["known_at"] <= day)]
    return rows.sort_values("known_at").iloc[-1]


def _profitable_quarters(ticker: str, day: pd.Timestamp) -> bool:
    known = fundamentals_lib.as_of(_standardized(ticker), day)
    return bool((fundamentals_lib.wide(known, "quarterly")["net_income"].tail(4) > 0).all())


@functools.cache
def _adjusted_closes(ticker: str) -> pd.Series:
    bars = demo.adjusted_bars_as_of(ticker, TODAY)
    return pd.Series(bars["close"].to_numpy(), index=pd.DatetimeIndex(pd.to_datetime(bars["date"])))


def _close(ticker: str, day: pd.Timestamp) -> float:
    """The day's close as the report values it: split-adjusted as of TODAY (the stored prices)."""
    closes = _adjusted_closes(ticker)
    return float(closes[closes.index <= day].iloc[-1])


def test_every_demo_ticker_has_a_sector_from_its_sic_code():
    """The submissions carry a real SIC code and EDGAR description; the product's SIC rule gives the
    industry's GICS-like sector, for the portfolio and for the extra companies alike."""
    for company in demo.COMPANIES_BY_TICKER.values():
        info, _ = edgar.parse_submissions(demo.submissions_json(company.cik, dt.date(2025, 6, 2)))
        industry = demo.DEMO_INDUSTRIES[company.industry]
        assert (info["sic"], info["sic_description"]) == (industry.sic, industry.sic_description)
        assert sector_for_sic(info["sic"]) == industry.sector, company.ticker
    sectors = {demo.DEMO_INDUSTRIES[c.industry].sector for c in demo.DEMO_COMPANIES}
    assert len(sectors) >= 7  # a diversified demo portfolio


def test_the_industries_file_names_every_parameter_and_loads_typed(tmp_path):
    """industries.csv has a column per DemoIndustry field (the seasonality as four quarters); every number
    loads as a float, the seasonality averages 1, only an insurer lacks a gross margin and a current ratio,
    and an industry listed twice is refused naming the file."""
    fields = [f.name for f in dataclasses.fields(demo.DemoIndustry) if f.name != "seasonality"]
    with demo.INDUSTRIES_FILE.open(newline="") as rows:
        header = next(csv.reader(rows))
    assert header == ["industry", *fields, *(f"seasonality_q{q}" for q in range(1, 5))]
    for key, industry in demo.DEMO_INDUSTRIES.items():
        numbers = [getattr(industry, f) for f in fields if f not in ("sector", "sic", "sic_description")]
        assert all(type(v) is float or (v is None and key == "insurance") for v in numbers), key
        assert len(industry.seasonality) == 4 and sum(industry.seasonality) == pytest.approx(4.0), key
    assert {c.industry for c in demo.DEMO_COMPANIES} == set(demo.DEMO_INDUSTRIES)
    lines = demo.INDUSTRIES_FILE.read_text().splitlines()
    twice = tmp_path / "industries.csv"
    twice.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{twice}: industry 'computers' listed twice")):
        demo._load_industries(twice)


def test_ratios_are_plausible_and_differ_by_company(snapshots):
    """P/E, D/E, current ratio and margins as the report computes them, every month-end of the demo
    window: in the ranges real companies show, and different from company to company."""
    last = {}
    for company in demo.DEMO_COMPANIES:
        industry = demo.DEMO_INDUSTRIES[company.industry]
        for day in WINDOW:
            known = _known_on(snapshots, company.ticker, day)
            debt_to_equity = known["total_liabilities"] / known["stockholders_equity"]
            assert 0.2 < debt_to_equity < 8, (company.ticker, day)
            current = known["current_assets"] / known["current_liabilities"]
            if industry.current_ratio is None:  # an insurer's balance sheet has no current items
                assert np.isnan(current)
            else:
                assert 0.5 < current < 5, (company.ticker, day)
            margin = known["ttm_net_income"] / known["ttm_revenue"]
            assert -0.3 < margin < 0.35, (company.ticker, day)
            # P/E of a firm profitable in each of the last four quarters (one turning to loss has any P/E);
            # every split included: the snapshots' EPS is on the share basis of the split-adjusted closes
            if _profitable_quarters(company.ticker, day):
                assert 5 <= _close(company.ticker, day) / known["ttm_eps_diluted"] <= 60, (company.ticker, day)
        last[company.ticker] = known
    end = pd.DataFrame(last).T
    # a loss maker has a negative trailing EPS, so no P/E (the report leaves it empty), as real data gives
    loss = _known_on(snapshots, "HVQX", pd.Timestamp("2025-12-31"))
    assert loss["ttm_net_income"] < 0 and loss["ttm_eps_diluted"] < 0
    assert end.loc["HVQX", "ttm_net_income"] < 0  # still losing money at the end of the window
    # different companies, different numbers: no two alike, and a wide spread
    debt_to_equity = (end["total_liabilities"] / end["stockholders_equity"]).astype(float)
    assert debt_to_equity.round(2).nunique() == len(end) and debt_to_equity.max() / debt_to_equity.min() > 5
    current = (end["current_assets"] / end["current_liabilities"]).astype(float).dropna()
    assert current.round(2).nunique() == len(current) and current.max() / current.min() > 3
    gross = (end["ttm_gross_profit"] / end["ttm_revenue"]).astype(float).dropna()
    assert gross.max() - gross.min() > 0.4  # software vs logistics
    assert end["fundamentals_filed"].nunique() >= 5  # filers keep their own schedules
    ten_ks = [_filings(t).query("form == '10-K'")["filing_date"].max() for t in end.index]
    assert len(set(ten_ks)) >= 8


def test_pe_and_market_cap_stay_on_one_share_basis_across_the_demo_splits(snapshots):
    """ELQX (3:1, 2026-03-16) and HVQX (1-for-4, 2026-04-06): every month-end around the split, the report's
    P/E (split-adjusted close / trailing EPS) stays in range and its market cap moves with the price, not by
    the ratio; HVQX's trailing EPS has the sign of its trailing net income (it was +0.32 while losing money
    when FY2025 came on the old basis)."""
    months = pd.date_range("2025-12-31", "2026-11-30", freq="ME")
    for ticker, split_day in (("ELQX", "2026-03-16"), ("HVQX", "2026-04-06")):
        assert [str(day) for day, _ in demo.demo_splits(ticker)] == [split_day]
        caps = []
        for day in months:
            known = _known_on(snapshots, ticker, day)
            price = _close(ticker, day)
            caps.append(price * known["shares_outstanding"])
            assert np.sign(known["ttm_eps_diluted"]) == np.sign(known["ttm_net_income"]), (ticker, day)
            if ticker == "ELQX":
                assert 8 <= price / known["ttm_eps_diluted"] <= 40, (ticker, day)
        moves = pd.Series(caps).pct_change().abs().dropna()
        assert moves.max() < 0.4, (ticker, moves.round(2).tolist())  # a 3x or 4x jump would be a basis change
    hvqx = snapshots[(snapshots["ticker"] == "HVQX") & (snapshots["known_at"] >= pd.Timestamp("2026-04-06"))]
    losing = hvqx[hvqx["ttm_net_income"] < 0]
    assert len(losing) >= 3 and (losing["ttm_eps_diluted"] < 0).all()


def test_statements_evolve_with_growth_and_seasonality():
    revenue = demo.demo_statements("LUMQ").set_index("end")["Revenues"]
    quarters = revenue[[end.year in (2023, 2024, 2025) for end in revenue.index]]
    # a retailer's fourth quarter is its biggest, every year
    for year in (2023, 2024, 2025):
        year_quarters = quarters[[end.year == year for end in quarters.index]]
        assert year_quarters.idxmax().month == 12, year
    # revenue changes quarter to quarter and year to year for every company
    for company in demo.DEMO_COMPANIES:
        statements = demo.demo_statements(company.ticker)
        assert statements["Revenues"].nunique() == len(statements)
        yearly = statements.groupby([end.year for end in statements["end"]])["Revenues"].sum()
        assert yearly.pct_change().dropna().abs().min() > 0


def test_filing_cadence_and_lags_follow_the_sec_deadlines():
    """Three 10-Qs and one 10-K a fiscal year; a 10-Q within ~40 days of the quarter's end, a 10-K
    within 60 (large accelerated filers) or 75 days (accelerated), on a weekday, each filer on its own
    schedule; the submissions list the filer category its lags imply."""
    ten_k_lags = set()
    for company in demo.DEMO_COMPANIES:
        filings = _filings(company.ticker)
        periodic = filings[filings["form"].isin(["10-Q", "10-K"])]
        for year in range(2016, 2026):
            of_year = periodic[periodic["report_date"].dt.year == year]
            assert sorted(of_year["form"]) == ["10-K", "10-Q", "10-Q", "10-Q"], (company.ticker, year)
        lags = (periodic["filing_date"] - periodic["report_date"]).dt.days
        quarterly = lags[periodic["form"] == "10-Q"]
        annual = lags[periodic["form"] == "10-K"]
        assert quarterly.between(30, 43).all() and annual.between(50, 77).all(), company.ticker
        assert (periodic["filing_date"].dt.weekday < 5).all()
        ten_k_lags.add(int(annual.min()))
        category = edgar.parse_submissions(demo.submissions_json(company.cik, TODAY))[0]["category"]
        assert category == ("Large accelerated filer" if annual.max() <= 62 else "Accelerated filer")
    assert len(ten_k_lags) >= 6


def test_companyfacts_has_the_shapes_of_a_real_filers():
    """A Q2 10-Q: the quarter and its comparative, the six months and theirs (cash flows six months
    only), balance sheets at the quarter's and the last year's end; a 10-K: three years and two
    balance sheets. Every fact names its filing as the submissions list it; a frame once per period,
    on the latest filed fact; the same fields as EDGAR's."""
    cik = demo.COMPANIES_BY_TICKER["ACMQ"].cik
    document = demo.companyfacts_json(cik, TODAY)
    filings = _filings("ACMQ").set_index("accession_number")
    q2 = filings[(filings["form"] == "10-Q") & (filings["report_date"] == "2025-06-30")].index[0]
    k = filings[(filings["form"] == "10-K") & (filings["report_date"] == "2025-12-31")].index[0]
    gaap = document["facts"]["us-gaap"]

    def periods(concept: str, accession: str) -> set[tuple[str | None, str]]:
        facts = next(iter(gaap[concept]["units"].values()))
        return {(f.get("start"), f["end"]) for f in facts if f["accn"] == accession}

    assert periods("Revenues", q2) == {
        ("2025-04-01", "2025-06-30"),
        ("2024-04-01", "2024-06-30"),
        ("2025-01-01", "2025-06-30"),
        ("2024-01-01", "2024-06-30"),
    }
    assert periods("NetCashProvidedByUsedInOperatingActivities", q2) == {
        ("2025-01-01", "2025-06-30"),
        ("2024-01-01", "2024-06-30"),
    }
    assert periods("Assets", q2) == {(None, "2025-06-30"), (None, "2024-12-31")}
    assert periods("NetIncomeLoss", k) == {(f"{y}-01-01", f"{y}-12-31") for y in (2023, 2024, 2025)}
    assert periods("StockholdersEquity", k) == {(None, "2025-12-31"), (None, "2024-12-31")}
    fields = set()
    for taxonomy in document["facts"].values():
        for concept in taxonomy.values():
            for facts in concept["units"].values():
                frames = [f["frame"] for f in facts if "frame" in f]
                assert len(frames) == len(set(frames))
                for fact in facts:
                    fields |= set(fact)
                    filing = filings.loc[fact["accn"]]
                    assert fact["form"] == filing["form"] and fact["filed"] == f"{filing['filing_date']:%Y-%m-%d}"
                    if "frame" in fact:  # the latest filed fact of its period carries the frame
                        same = [f for f in facts if (f.get("start"), f["end"]) == (fact.get("start"), fact["end"])]
                        assert fact["filed"] == max(f["filed"] for f in same)
    real = realdata_dir()
    if real is not None:
        nvda = json.loads((real / "sec" / "companyfacts" / "CIK0001045810_NVDA.edgartools.json").read_text())
        real_fields = {key for fact in nvda["facts"]["us-gaap"]["Revenues"]["units"]["USD"] for key in fact}
        assert fields == real_fields


def test_a_restated_comparative_is_known_from_its_filings_acceptance():
    """GLQX's FY2025 10-K presents FY2024 revenue net (agent, not principal): the restated FY2024 value
    is a new vintage, used from the session after that 10-K's acceptance; before it, the first value."""
    fiscal_year, share = demo.DEMO_NET_PRESENTATION["GLQX"]
    filings = _filings("GLQX")
    ten_k = filings[(filings["form"] == "10-K") & (filings["report_date"].dt.year == fiscal_year)].iloc[0]
    std = _standardized("GLQX")
    vintages = std[(std["fiscal_period"] == f"FY{fiscal_year - 1}") & (std["period_type"] == "annual")]
    revenue = vintages[vintages["item"] == "revenue"].sort_values("vintage_rank")
    restated = revenue[revenue["accession"] == ten_k["accession_number"]].iloc[0]
    known = restated["known_at"]
    before = fundamentals_lib.as_of(std, known - pd.Timedelta(days=1))
    after = fundamentals_lib.as_of(std, known)

    def value(view: pd.DataFrame, item: str) -> float:
        row = view[(view["item"] == item) & (view["fiscal_period"] == f"FY{fiscal_year - 1}")]
        return float(row["value"].iloc[0])

    assert value(after, "revenue") == restated["value"] < value(before, "revenue")
    assert value(after, "revenue") == pytest.approx(value(before, "revenue") * (1 - share), rel=1e-3)
    assert value(after, "net_income") == value(before, "net_income")  # a presentation change: income unchanged
    assert known == pd.Timestamp(ten_k["filing_date"]) + pd.offsets.BDay(1)  # accepted 16:05: next session
    # the source itself: just before the acceptance the restated value is nowhere
    cik = demo.COMPANIES_BY_TICKER["GLQX"].cik
    day = ten_k["filing_date"].date()
    for now, expected in ((_now(day, 16, 0), False), (_now(day, 16, 10), True)):
        facts = demo.companyfacts_json(cik, day, now)["facts"]["us-gaap"]["Revenues"]["units"]["USD"]
        assert any(f["val"] == restated["value"] for f in facts) is expected


def test_per_share_figures_are_restated_for_a_split_from_the_first_filing_after_it():
    """ELQX splits 3:1 on 2026-03-16: the Q1 2026 10-Q reports Q1 2025 EPS a third of what the Q1 2025
    10-Q said (the comparative on the new share basis), and its cover page three times the shares."""
    std = _standardized("ELQX")
    eps = std[(std["item"] == "eps_diluted") & (std["fiscal_period"] == "2025Q1")].sort_values("vintage_rank")
    first, restated = eps["value"].iloc[0], eps["value"].iloc[-1]
    assert eps["filed"].iloc[-1] > pd.Timestamp("2026-03-16") > eps["filed"].iloc[0]
    assert restated == pytest.approx(first / 3, abs=0.01)
    shares = std[std["item"] == "shares_outstanding"].sort_values("period_end")
    before = shares[shares["fiscal_period"] == "FY2025"]["value"].iloc[-1]
    after = shares[shares["fiscal_period"] == "2026Q1"]["value"].iloc[-1]
    assert after / before == pytest.approx(3, rel=0.02)


def test_companyfacts_as_of_t_hold_only_facts_filed_by_t_and_are_the_same_bytes_each_time():
    cik = demo.COMPANIES_BY_TICKER["KLQX"].cik
    now = _now(dt.date(2025, 11, 3), 12)
    document = demo.companyfacts_json(cik, now.date(), now)
    accepted = set(edgar.parse_submissions(demo.submissions_json(cik, now.date(), now))[1]["accession_number"])
    for taxonomy in document["facts"].values():
        for concept in taxonomy.values():
            for facts in concept["units"].values():
                assert all(f["filed"] <= "2025-11-03" and f["accn"] in accepted for f in facts)
    body = json.dumps(document)
    demo.demo_statements.cache_clear()
    demo._statement_columns.cache_clear()
    demo._demo_filings.cache_clear()
    assert json.dumps(demo.companyfacts_json(cik, now.date(), now)) == body


def test_filing_documents_quote_the_statements_from_the_first_year_on():
    """The 10-Q's narrative quotes its quarter's revenue, also in the epoch year (no year before it)."""
    company = demo.COMPANIES_BY_TICKER["ACMQ"]
    statements = demo.demo_statements("ACMQ").set_index("end")
    for filing in demo._demo_filings("ACMQ", dt.date(2016, 6, 1)):
        if filing["form"] == "10-Q":
            html = next(iter(demo.filing_documents(company, filing).values()))[2]
            revenue = statements.loc[filing["report_date"], "Revenues"] / 1e6
            assert f"Revenue was ${revenue:,.0f} million" in html
