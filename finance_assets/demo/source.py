"""The offline demo source: deterministic responses in the live formats, served through httpx.

`DemoTransport` answers the same URLs the live sources call (SEC EDGAR JSON, Yahoo chart JSON,
Stooq CSV, Yahoo headline RSS), so `make demo` and the tests run the real parsing code with no
network. Every company here is fictional, every name says DEMO, and the numbers are simulated:
geometric Brownian motion with a shared market factor (so betas mean something), splits (one of
them a reverse split), quarterly dividends and a price correction to exercise adjustment, and
headlines whose tone follows the day's move.

Point in time: `DemoTransport(now)` is a pure function of the seed and `now`. It serves nothing
dated after `now` (no later bar, no split or dividend whose ex-date is later, no later headline or
filing), adjusted prices are adjusted for the events known by then only, and a corrected bar shows
its first-published value until the correction is known (`DEMO_CORRECTIONS`). A filing is in the
submissions, companyfacts and latest-filings answers from its acceptance time on (16:05 New York on
its filing date, after the close, or during the session for `DEMO_ACCEPTED_IN_SESSION`); the bulk
archives and filing documents are served by filing date. `latest_served`
records the latest date the transport served, so tests can check that nothing after `now` was read.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

import httpx
import numpy as np
import pandas as pd

DEMO_EPOCH = dt.date(2015, 1, 2)
DEMO_SOURCE_LABEL = "demo (simulated, not market data)"


@dataclass(frozen=True)
class DemoCompany:
    ticker: str
    name: str
    cik: int
    beta: float
    idio_vol: float
    start_price: float
    revenue_base_musd: float  # annual revenue at the epoch, $M (with the price, it sets the share count)
    net_margin: float  # the company's typical net margin (its statements swing around it)
    dividend_per_quarter: float = 0.0
    split_on: dt.date | None = None  # 2:1 split effective on this session
    industry: str = "computers"  # a key of DEMO_INDUSTRIES: sector, SIC code and the shape of its statements


@dataclass(frozen=True)
class DemoIndustry:
    """What a demo company's statements look like: the shapes of real filers of the industry."""

    sector: str  # GICS-like sector, as the product maps the SIC code (defs/sec/sectors.py)
    sic: str  # SEC Standard Industrial Classification code and its EDGAR description
    sic_description: str
    revenue_growth: float  # typical annual revenue growth
    gross_margin: float | None  # None: no cost of revenue in the filings (insurers)
    pe: float  # the trailing P/E the market typically pays: with the price, it sets the share count
    liabilities_to_equity: float  # total liabilities / stockholders' equity (the report's D/E)
    current_ratio: float | None  # None: an unclassified balance sheet (insurers report no current items)
    current_share: float  # current assets / total assets
    asset_turnover: float  # annual revenue / total assets
    capex_share: float  # capital expenditure / revenue
    cyclical: float  # amplitude of the margin cycle, as a share of the typical margin
    seasonality: tuple[float, float, float, float]  # revenue by calendar quarter, mean 1


# One row per industry in industries.csv beside this module, a column per DemoIndustry field (the seasonality
# as four, seasonality_q1..q4); an empty gross_margin or current_ratio is None.
INDUSTRIES_FILE = Path(__file__).with_name("industries.csv")
_INDUSTRY_TEXT = ("sector", "sic", "sic_description")
_INDUSTRY_MAY_BE_EMPTY = ("gross_margin", "current_ratio")


def _load_industries(path: Path) -> dict[str, DemoIndustry]:
    industries: dict[str, DemoIndustry] = {}
    with path.open(newline="") as rows:
        for row in csv.DictReader(rows):
            key = row.pop("industry")
            seasonality = tuple(float(row.pop(f"seasonality_q{quarter}")) for quarter in range(1, 5))
            values: dict[str, object] = {}
            for name, text in row.items():
                if name in _INDUSTRY_TEXT:
                    values[name] = text
                elif text == "" and name in _INDUSTRY_MAY_BE_EMPTY:
                    values[name] = None
                else:
                    values[name] = float(text)
            if key in industries:
                raise ValueError(f"{path}: industry {key!r} listed twice")
            industries[key] = DemoIndustry(**values, seasonality=seasonality)
    return industries


DEMO_INDUSTRIES: dict[str, DemoIndustry] = _load_industries(INDUSTRIES_FILE)


DEMO_COMPANIES: tuple[DemoCompany, ...] = (
    DemoCompany("ACMQ", "Acme Quantum Systems (DEMO)", 9900001, 1.25, 0.018, 48.0, 1200, 0.12, industry="computers"),
    DemoCompany(
        "BLZQ",
        "Blaze Robotics (DEMO)",
        9900002,
        1.45,
        0.022,
        91.0,
        800,
        0.09,
        split_on=dt.date(2025, 6, 2),
        industry="machinery",
    ),
    DemoCompany("CRXQ", "Crux Pharmaceuticals (DEMO)", 9900003, 0.75, 0.020, 33.0, 2500, 0.15, 0.21, industry="pharma"),
    DemoCompany("DYNQ", "Dynamo Utilities (DEMO)", 9900004, 0.55, 0.010, 27.0, 5200, 0.08, 0.35, industry="utility"),
    DemoCompany("ELQX", "Elque Semiconductors (DEMO)", 9900005, 1.60, 0.024, 62.0, 1900, 0.18, industry="semis"),
    DemoCompany("FRNQ", "Fernquist Foods (DEMO)", 9900006, 0.65, 0.011, 54.0, 7400, 0.05, 0.42, industry="foods"),
    DemoCompany("GLQX", "Glaqix Logistics (DEMO)", 9900007, 1.05, 0.015, 40.0, 3100, 0.06, 0.12, industry="logistics"),
    DemoCompany("HVQX", "Heavex Mining (DEMO)", 9900008, 1.30, 0.026, 18.0, 950, 0.11, industry="mining"),
    DemoCompany("JETQ", "Jetquill Airlines (DEMO)", 9900009, 1.35, 0.021, 22.0, 6100, 0.03, industry="airline"),
    DemoCompany("KLQX", "Kelquix Software (DEMO)", 9900010, 1.15, 0.017, 120.0, 1500, 0.22, 0.30, industry="software"),
    DemoCompany("LUMQ", "Lumquist Retail (DEMO)", 9900011, 0.95, 0.014, 35.0, 9800, 0.04, 0.15, industry="retail"),
    DemoCompany("MRQX", "Marquix Insurance (DEMO)", 9900012, 0.85, 0.012, 71.0, 4300, 0.10, 0.55, industry="insurance"),
)
# Splits in recent history, beyond each company's `split_on` (ratio = new shares per old share;
# below 1 a reverse split), effective at the open of the session given.
DEMO_SPLITS: dict[str, tuple[tuple[dt.date, float], ...]] = {
    "ELQX": ((dt.date(2026, 3, 16), 3.0),),
    "HVQX": ((dt.date(2026, 4, 6), 0.25),),  # 1-for-4 reverse split
}


@dataclass(frozen=True)
class DemoCorrection:
    """A bar first published wrong and corrected by the source later (as providers do)."""

    ticker: str
    day: dt.date
    factor: float  # first-published OHLC = true values x factor
    corrected_on: dt.date  # from this New York day on, the source serves the true bar


DEMO_CORRECTIONS: tuple[DemoCorrection, ...] = (
    DemoCorrection("ACMQ", dt.date(2026, 4, 14), 1.06, dt.date(2026, 4, 17)),
)
# SEC acceptance times, New York wall time (EDGAR's acceptanceDateTime is US/Eastern although labelled
# 'Z'): 16:05:12 (after the 16:00 close: known from the next session, defs/sec/fundamentals.
# first_session_known), except the filings listed here, accepted during the session (known that day).
DEMO_ACCEPTED_IN_SESSION: dict[tuple[str, str, dt.date], dt.time] = {
    ("CRXQ", "10-K", dt.date(2026, 3, 2)): dt.time(10, 12, 30),
}
DEMO_ACCEPTED_AFTER_CLOSE = dt.time(16, 5, 12)
DEMO_BENCHMARK = "DEMOIDX"  # the demo source's fictional index
DEMO_BENCHMARK_NAME = "Demo Composite Index (DEMO)"
EXTRA_DEMO_COUNT = 40


def extra_demo_companies(count: int = EXTRA_DEMO_COUNT) -> tuple[DemoCompany, ...]:
    """More fictional companies for scale and reliability tests, outside the demo portfolio.

    Symbols DQX01, DQX02, ... : no US listing has a letters-then-digits ticker (checked against
    EDGAR's company_tickers.json in the tests), names end in "(DEMO)", CIKs start at 9900101.
    """
    rng = np.random.default_rng(_seed("extra-companies"))
    return tuple(
        DemoCompany(
            f"DQX{i:02d}",
            f"Demo Extra Company {i:02d} (DEMO)",
            9900100 + i,
            beta=round(float(rng.uniform(0.5, 1.6)), 2),
            idio_vol=round(float(rng.uniform(0.01, 0.025)), 3),
            start_price=round(float(rng.uniform(15, 150)), 2),
            revenue_base_musd=round(float(rng.uniform(500, 9000))),
            net_margin=round(float(rng.uniform(0.03, 0.2)), 3),
            dividend_per_quarter=round(float(rng.uniform(0.1, 0.5)), 2) if i % 3 == 0 else 0.0,
            industry=sorted(DEMO_INDUSTRIES)[_seed("extra-industry", i) % len(DEMO_INDUSTRIES)],
        )
        for i in range(1, count + 1)
    )


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


DEMO_EXTRA_COMPANIES = extra_demo_companies()
# The transport serves every fictional company; the demo portfolio and feed use DEMO_COMPANIES only.
COMPANIES_BY_TICKER = {c.ticker: c for c in (*DEMO_COMPANIES, *DEMO_EXTRA_COMPANIES)}
COMPANIES_BY_CIK = {c.cik: c for c in (*DEMO_COMPANIES, *DEMO_EXTRA_COMPANIES)}


def serve_extra_companies(count: int) -> tuple[DemoCompany, ...]:
    """Serve `count` generated companies (DQX01 ... DQX<count>) from now on in this process: the SEC
    ticker map, submissions, facts, bulk archives, prices and headlines then know them (the scale
    benchmark's universe). Deterministic, and the first 40 are the default extras, drawn from the same
    stream in the same order; the demo companies, the benchmark and every default extra answer exactly
    as before. Never serves fewer companies than already served."""
    global DEMO_EXTRA_COMPANIES
    extras = extra_demo_companies(max(count, len(DEMO_EXTRA_COMPANIES)))
    for company in extras:
        COMPANIES_BY_TICKER.setdefault(company.ticker, company)
        COMPANIES_BY_CIK.setdefault(company.cik, company)
    DEMO_EXTRA_COMPANIES = extras
    return extras


@functools.lru_cache(maxsize=1)
def demo_sessions() -> pd.DatetimeIndex:
    """XNYS sessions from the demo epoch to the calendar's end: the demo never invents a holiday."""
    import exchange_calendars as xcals

    cal = xcals.get_calendar("XNYS")
    return cal.sessions_in_range(pd.Timestamp(DEMO_EPOCH), cal.last_session)


@functools.lru_cache(maxsize=1)
def _market_returns() -> np.ndarray:
    rng = np.random.default_rng(_seed("market"))
    return rng.normal(0.00035, 0.0095, size=len(demo_sessions()))


@functools.lru_cache(maxsize=64)
def demo_ohlcv(ticker: str) -> pd.DataFrame:
    """Full simulated history for a demo ticker (raw, unadjusted prices, plus events).

    Columns: date, open, high, low, close (as traded), volume, dividend, split_ratio.
    The same ticker always yields the same numbers: draws are a fixed-length stream per ticker.
    """
    sessions = demo_sessions()
    n = len(sessions)
    market = _market_returns()
    if ticker == DEMO_BENCHMARK:
        returns, start, company = market, 1000.0, None
    else:
        company = COMPANIES_BY_TICKER.get(ticker)
        if company is None:
            raise KeyError(f"{ticker!r} is not a demo ticker")
        rng = np.random.default_rng(_seed("idio", ticker))
        returns = 0.0001 + company.beta * market + rng.normal(0.0, company.idio_vol, size=n)
        start = company.start_price
    rng = np.random.default_rng(_seed("bars", ticker))
    close = start * np.cumprod(1.0 + returns)
    gap = rng.normal(0.0, 0.004, size=n)
    open_ = np.concatenate([[start], close[:-1]]) * (1.0 + gap)
    wick_hi = np.abs(rng.normal(0.0, 0.006, size=n))
    wick_lo = np.abs(rng.normal(0.0, 0.006, size=n))
    high = np.maximum(open_, close) * (1.0 + wick_hi)
    low = np.minimum(open_, close) * (1.0 - wick_lo)
    volume = np.round(rng.lognormal(13.5 if company else 18.0, 0.35, size=n)).astype("int64")
    frame = pd.DataFrame(
        {"date": sessions.date, "open": open_, "high": high, "low": low, "close": close, "volume": volume}
    )
    frame["dividend"] = 0.0
    frame["split_ratio"] = 1.0
    if company is not None and company.dividend_per_quarter:
        # Ex-dividend on the first session of Feb/May/Aug/Nov.
        months = pd.Series(sessions.month, index=frame.index)
        first_of_month = ~pd.Series(sessions.to_period("M")).duplicated().to_numpy()
        mask = first_of_month & months.isin([2, 5, 8, 11]).to_numpy()
        frame.loc[mask, "dividend"] = company.dividend_per_quarter
    for day, ratio in demo_splits(ticker):
        # The simulated path is the post-split economic path; before a split of `ratio` new shares per
        # old one, a share traded at `ratio` times the later price (a 1-for-4 reverse split: a quarter).
        split_idx = int(np.searchsorted(frame["date"].to_numpy(), day))
        frame.loc[: split_idx - 1, ["open", "high", "low", "close"]] *= ratio
        if ratio >= 1:
            frame.loc[: split_idx - 1, "volume"] //= int(ratio)
        else:
            frame.loc[: split_idx - 1, "volume"] *= int(round(1 / ratio))
        frame.loc[: split_idx - 1, "dividend"] *= ratio
        frame.loc[split_idx, "split_ratio"] = ratio
    return frame


def demo_splits(ticker: str) -> list[tuple[dt.date, float]]:
    """(effective session, ratio) of every split of a demo ticker, oldest first."""
    company = COMPANIES_BY_TICKER.get(ticker)
    splits = list(DEMO_SPLITS.get(ticker, ()))
    if company is not None and company.split_on is not None:
        splits.append((company.split_on, 2.0))
    return sorted(splits)


def demo_bars_as_of(ticker: str, until: dt.date | None) -> pd.DataFrame:
    """The as-traded bars the source knows on New York day `until` (None: the whole simulated history):
    sessions up to that day, events up to that day, corrections only once made."""
    raw = demo_ohlcv(ticker)
    if until is None:
        return raw
    bars = raw[raw["date"] <= until].copy()
    for fix in DEMO_CORRECTIONS:
        if fix.ticker == ticker and fix.day <= until < fix.corrected_on:
            row = bars["date"] == fix.day
            bars.loc[row, ["open", "high", "low", "close"]] *= fix.factor
    return bars


@functools.lru_cache(maxsize=256)
def adjusted_bars_as_of(ticker: str, until: dt.date | None) -> pd.DataFrame:
    """`adjust_for_splits_and_dividends` over what is known on `until`: later events never reach it."""
    return adjust_for_splits_and_dividends(demo_bars_as_of(ticker, until))


def adjust_for_splits_and_dividends(bars: pd.DataFrame) -> pd.DataFrame:
    """Split-adjusted OHLC and volume plus a split-and-dividend adjusted close (CRSP/Yahoo method)."""
    out = bars.copy()
    split_factor = out["split_ratio"][::-1].cumprod()[::-1].shift(-1, fill_value=1.0)
    for col in ("open", "high", "low", "close"):
        out[col] = out[col] / split_factor
    out["volume"] = (out["volume"] * split_factor).round().astype("int64")
    out["dividend"] = out["dividend"] / split_factor
    prev_close = out["close"].shift(1)
    ratio = (1.0 - out["dividend"] / prev_close).fillna(1.0)
    div_factor = ratio[::-1].cumprod()[::-1].shift(-1, fill_value=1.0)
    out["adj_close"] = out["close"] * div_factor
    return out


# ---------------------------------------------------------------------------------------------
# Response bodies in the live formats
# ---------------------------------------------------------------------------------------------


def company_tickers_exchange_json() -> dict:
    rows = [[c.cik, c.name, c.ticker, "DEMO"] for c in (*DEMO_COMPANIES, *DEMO_EXTRA_COMPANIES)]
    return {"fields": ["cik", "name", "ticker", "exchange"], "data": rows}


def _quarters(until: dt.date) -> list[tuple[dt.date, dt.date]]:
    """Calendar quarters (start, end) from the epoch year whose 10-Q/10-K is filed by `until`."""
    out = []
    for year in range(DEMO_EPOCH.year, until.year + 1):
        for q in range(4):
            start = dt.date(year, 3 * q + 1, 1)
            end = (pd.Timestamp(start) + pd.offsets.QuarterEnd(0)).date()
            out.append((start, end))
    return out


# Days from the period end to the 10-Q and to the 10-K, per filer: the SEC's deadlines are 40 days for a
# 10-Q and 60 (large accelerated filers) or 75 (accelerated) for a 10-K, and filers keep to their habit.
DEMO_FILING_LAGS: dict[str, tuple[int, int]] = {
    "ACMQ": (38, 60),
    "BLZQ": (35, 57),
    "CRXQ": (38, 60),
    "DYNQ": (34, 52),
    "ELQX": (33, 54),
    "FRNQ": (37, 63),
    "GLQX": (40, 72),
    "HVQX": (40, 74),
    "JETQ": (32, 50),
    "KLQX": (36, 58),
    "LUMQ": (40, 68),
    "MRQX": (36, 59),
}


def filing_lags(ticker: str) -> tuple[int, int]:
    """(10-Q, 10-K) days after the period end a demo company files (a weekend moves it to Monday)."""
    if ticker in DEMO_FILING_LAGS:
        return DEMO_FILING_LAGS[ticker]
    draw = _seed("filing-lags", ticker)
    return 30 + draw % 11, 50 + (draw >> 8) % 26


def _filed_on(ticker: str, period_end: dt.date, annual: bool) -> dt.date:
    filed = period_end + dt.timedelta(days=filing_lags(ticker)[1 if annual else 0])
    while filed.weekday() >= 5:
        filed += dt.timedelta(days=1)
    return filed


def _accepted(ticker: str, form: str, filed: dt.date) -> pd.Timestamp:
    """When SEC accepted a demo filing, in New York (see DEMO_ACCEPTED_IN_SESSION)."""
    at = DEMO_ACCEPTED_IN_SESSION.get((ticker, form, filed), DEMO_ACCEPTED_AFTER_CLOSE)
    return pd.Timestamp(dt.datetime.combine(filed, at), tz="America/New_York")


def _accession(cik: int, filed: dt.date, seq: int) -> str:
    return f"{cik:010d}-{filed.year % 100:02d}-{seq:06d}"


@functools.lru_cache(maxsize=64)
def _demo_filings(ticker: str, until: dt.date) -> list[dict]:
    """Every demo filing (10-Q, 10-K, 8-K) filed on or before `until`, oldest first."""
    company = COMPANIES_BY_TICKER[ticker]
    filings = []
    for number, (start, end) in enumerate(_quarters(until)):
        seq = 3 * number  # three accession numbers per quarter: stable whatever `until` is
        annual = end.month == 12
        filed = _filed_on(ticker, end, annual)
        earnings = filed - dt.timedelta(days=7)
        while earnings.weekday() >= 5:
            earnings -= dt.timedelta(days=1)
        # one other current report a quarter (officer change, contract, vote results, ...), mid-quarter
        event = start + dt.timedelta(days=45 + _seed("8-K day", ticker, start) % 20)
        while event.weekday() >= 5:
            event += dt.timedelta(days=1)
        candidates = sorted(
            [  # numbered in filing order, as EDGAR numbers a filer's own submissions
                ("10-K" if annual else "10-Q", start, end, filed, ""),
                ("8-K", None, earnings, earnings, "2.02,9.01"),
                ("8-K", None, event, event, _EVENT_8K_ITEMS[_seed("8-K items", ticker, start) % len(_EVENT_8K_ITEMS)]),
            ],
            key=lambda candidate: candidate[3],
        )
        for offset, (form, period_start, report_date, filed_on, items) in enumerate(candidates, start=1):
            if filed_on <= until:
                filings.append(
                    {
                        "form": form,
                        "period_start": period_start,
                        "report_date": report_date,
                        "filed": filed_on,
                        "accession": _accession(company.cik, filed_on, seq + offset),
                        "items": items,
                        "accepted": _accepted(ticker, form, filed_on),
                    }
                )
    return sorted(filings, key=lambda f: (f["filed"], f["accession"]))


_EVENT_8K_ITEMS = ("5.02", "1.01,9.01", "8.01,9.01", "7.01,9.01", "5.07", "2.05,9.01", "1.02", "5.02,9.01")


def _accepted_by(filings: list[dict], now: dt.datetime | None) -> list[dict]:
    """The filings SEC had accepted at `now` (None: all of them)."""
    return filings if now is None else [f for f in filings if f["accepted"] <= pd.Timestamp(now)]


def submissions_json(cik: int, until: dt.date, now: dt.datetime | None = None) -> dict:
    company = COMPANIES_BY_CIK[cik]
    # EDGAR lists newest first
    filings = list(reversed(_accepted_by(_demo_filings(company.ticker, until), now)))
    recent = {
        "accessionNumber": [f["accession"] for f in filings],
        "filingDate": [f["filed"].isoformat() for f in filings],
        "reportDate": [f["report_date"].isoformat() for f in filings],
        "acceptanceDateTime": [f"{f['accepted']:%Y-%m-%dT%H:%M:%S}.000Z" for f in filings],  # Eastern, as EDGAR
        "act": ["34"] * len(filings),
        "form": [f["form"] for f in filings],
        "fileNumber": ["001-99999"] * len(filings),
        "filmNumber": [""] * len(filings),
        "items": [f["items"] for f in filings],
        "core_type": [f["form"] for f in filings],
        "size": [250_000 if f["form"] != "8-K" else 30_000 for f in filings],
        "isXBRL": [1 if f["form"] != "8-K" else 0 for f in filings],
        "isInlineXBRL": [1 if f["form"] != "8-K" else 0 for f in filings],
        "primaryDocument": [f"{company.ticker.lower()}-{f['report_date']:%Y%m%d}.htm" for f in filings],
        "primaryDocDescription": [f["form"] for f in filings],
    }
    industry = DEMO_INDUSTRIES[company.industry]
    return {
        "cik": str(cik),
        "entityType": "operating",
        "sic": industry.sic,
        "sicDescription": industry.sic_description,
        "name": company.name,
        "tickers": [company.ticker],
        "exchanges": ["DEMO"],
        "fiscalYearEnd": "1231",
        # a 10-K within 60 days is a large accelerated filer's deadline, within 75 an accelerated filer's
        "category": "Large accelerated filer" if filing_lags(company.ticker)[1] <= 60 else "Accelerated filer",
        "stateOfIncorporation": "DE",
        "filings": {"recent": recent, "files": []},
    }


# ------------------------------------------------------------------------- financial statements
# Each company's quarterly statements follow its industry (DEMO_INDUSTRIES): margins, leverage,
# liquidity, asset turnover, seasonality and a margin cycle, with noise drawn from the seed. Revenue
# grows at the industry's rate but leans on what the price implies at the industry's P/E, so P/E, P/B
# and the rest stay in the ranges real companies show while the numbers evolve quarter by quarter.

_TAX_RATE = 0.21
_INTEREST_RATE = 0.05  # a year, on long-term debt
# Loss-making stretches: (first quarter start, last quarter start, net margin, revenue factor).
DEMO_LOSSES: dict[str, tuple[tuple[dt.date, dt.date, float, float], ...]] = {
    "JETQ": (  # airlines in the pandemic
        (dt.date(2020, 4, 1), dt.date(2020, 10, 1), -0.35, 0.45),
        (dt.date(2021, 1, 1), dt.date(2021, 4, 1), -0.12, 0.75),
    ),
    "HVQX": ((dt.date(2025, 1, 1), dt.date(2026, 4, 1), -0.07, 0.85),),  # a commodity downturn, impairments
}
# A restatement: from the 10-K for this fiscal year on, the company presents a freight-brokerage line net
# of purchased transportation (agent, not principal), and its comparatives are restated the same way:
# revenue and cost of revenue both lower by this share of revenue; gross profit and net income unchanged.
DEMO_NET_PRESENTATION: dict[str, tuple[int, float]] = {"GLQX": (2025, 0.05)}

_FLOW_CONCEPTS = ("Revenues", "CostOfRevenue", "GrossProfit", "OperatingIncomeLoss", "NetIncomeLoss")
_CASH_FLOW_CONCEPTS = ("NetCashProvidedByUsedInOperatingActivities", "PaymentsToAcquirePropertyPlantAndEquipment")
_INSTANT_CONCEPTS = (
    "Assets",
    "Liabilities",
    "StockholdersEquity",
    "AssetsCurrent",
    "LiabilitiesCurrent",
    "CashAndCashEquivalentsAtCarryingValue",
    "LongTermDebtNoncurrent",
)


def _thousands(values: np.ndarray) -> np.ndarray:
    """Filers report in thousands (or millions): values rounded to whole thousands of dollars."""
    return np.round(values / 1000.0) * 1000.0


@functools.lru_cache(maxsize=64)
def demo_statements(ticker: str) -> pd.DataFrame:
    """A demo company's quarterly statements, one row per calendar quarter from the epoch year to the
    price calendar's last complete quarter, as first reported (`DEMO_NET_PRESENTATION` applies later).

    Columns: start, end (dates), the us-gaap concepts of `_FLOW_CONCEPTS`, `_CASH_FLOW_CONCEPTS` and
    `_INSTANT_CONCEPTS` in USD (NaN where the industry reports no such line), and on today's share basis
    (after every split): shares (weighted average, basic), shares_diluted, dividend (declared per share).
    """
    company = COMPANIES_BY_TICKER[ticker]
    industry = DEMO_INDUSTRIES[company.industry]
    rng = np.random.default_rng(_seed("statements", ticker))
    bars = adjusted_bars_as_of(ticker, None)  # split-adjusted closes: the price path on today's share basis
    days = pd.DatetimeIndex(pd.to_datetime(bars["date"]))
    starts = pd.date_range(f"{DEMO_EPOCH.year}-01-01", days[-1], freq="QS")
    ends = starts + pd.offsets.QuarterEnd(0)
    starts, ends = starts[ends <= days[-1]], ends[ends <= days[-1]]
    n = len(starts)
    closes = bars["close"].to_numpy()
    price = closes[np.maximum(days.searchsorted(ends, side="right") - 1, 0)]
    years = np.asarray((ends - pd.Timestamp(DEMO_EPOCH)).days, dtype="float64") / 365.25

    pe = industry.pe * np.exp(rng.normal(0.0, 0.12))
    margin = company.net_margin
    base_revenue = company.revenue_base_musd * 1e6
    shares = base_revenue * margin * pe / closes[0] * (1 + rng.uniform(-0.02, 0.01)) ** years
    implied = np.log(price * shares / (pe * margin))  # the annual revenue the price implies
    trend = np.log(base_revenue) + years * np.log1p(industry.revenue_growth) + np.cumsum(rng.normal(0, 0.02, n))
    smoothed = np.empty(n)
    smoothed[0] = implied[0]
    for k in range(1, n):  # revenue follows the market's view with a lag, not day by day
        smoothed[k] = 0.55 * smoothed[k - 1] + 0.45 * implied[k]
    level = np.exp(0.7 * smoothed + 0.3 * trend)  # annual revenue run rate
    season = np.asarray(industry.seasonality)[starts.quarter - 1]
    revenue = level / 4 * season * np.exp(rng.normal(0.0, 0.015, n))
    cycle = industry.cyclical * np.sin(2 * np.pi * years / 5 + rng.uniform(0, 2 * np.pi))  # a five-year cycle
    net_margin = margin * (1 + cycle) + rng.normal(0.0, 0.08 * margin, n)
    for first, last, loss_margin, revenue_factor in DEMO_LOSSES.get(ticker, ()):
        hit = (starts >= pd.Timestamp(first)) & (starts <= pd.Timestamp(last))
        net_margin[hit] = loss_margin * (1 + rng.normal(0.0, 0.2, int(hit.sum())))
        revenue[hit] *= revenue_factor
    net_income = revenue * net_margin

    assets = level / (industry.asset_turnover * np.exp(rng.normal(0.0, 0.1))) * np.exp(rng.normal(0.0, 0.01, n))
    drift = np.cumsum(rng.normal(0.0, 0.03, n))
    leverage = industry.liabilities_to_equity * np.exp(rng.normal(0.0, 0.12) + drift - drift.mean())
    equity = assets / (1 + leverage)
    liabilities = assets - equity
    if industry.current_ratio is not None:
        current_assets = assets * industry.current_share * np.exp(rng.normal(0.0, 0.05, n))
        ratio = industry.current_ratio * np.exp(rng.normal(0.0, 0.1) + rng.normal(0.0, 0.04, n))
        current_liabilities = np.minimum(current_assets / ratio, 0.9 * liabilities)
        cash = current_assets * 0.3
        noncurrent = liabilities - current_liabilities
    else:  # an insurer: no current items; cash and a little debt
        current_assets = current_liabilities = np.full(n, np.nan)
        cash = assets * 0.04
        noncurrent = liabilities * 0.15
    long_term_debt = noncurrent * 0.55
    pretax = np.where(net_income > 0, net_income / (1 - _TAX_RATE), net_income)
    operating = pretax + long_term_debt * _INTEREST_RATE / 4
    if industry.gross_margin is not None:
        gross_margin = industry.gross_margin * np.exp(rng.normal(0.0, 0.06)) + rng.normal(0.0, 0.005, n)
        gross = revenue * np.maximum(gross_margin, operating / revenue + 0.05)
        cost = revenue - gross
    else:
        gross = cost = np.full(n, np.nan)
    capex = revenue * industry.capex_share * np.exp(rng.normal(0.0, 0.1, n))
    operating_cash = net_income + capex * 0.8 + revenue * rng.normal(0.0, 0.01, n)  # + depreciation, working capital

    columns = {
        "Revenues": revenue,
        "CostOfRevenue": cost,
        "GrossProfit": gross,
        "OperatingIncomeLoss": operating,
        "NetIncomeLoss": net_income,
        "NetCashProvidedByUsedInOperatingActivities": operating_cash,
        "PaymentsToAcquirePropertyPlantAndEquipment": capex,
        "Assets": assets,
        "Liabilities": liabilities,
        "StockholdersEquity": equity,
        "AssetsCurrent": current_assets,
        "LiabilitiesCurrent": current_liabilities,
        "CashAndCashEquivalentsAtCarryingValue": cash,
        "LongTermDebtNoncurrent": long_term_debt,
    }
    frame = pd.DataFrame({name: _thousands(values) for name, values in columns.items()})
    frame["GrossProfit"] = frame["Revenues"] - frame["CostOfRevenue"]  # the rounded lines still add up
    frame["Liabilities"] = frame["Assets"] - frame["StockholdersEquity"]
    frame.insert(0, "start", starts.date)
    frame.insert(1, "end", ends.date)
    frame["shares"] = np.round(shares, -3)
    frame["shares_diluted"] = np.round(shares * (1 + rng.uniform(0.005, 0.03)), -3)
    frame["dividend"] = company.dividend_per_quarter
    return frame


def _share_basis(ticker: str, day: dt.date) -> float:
    """Shares on `day`'s basis per share on today's: the ratios of the splits effective after `day`."""
    return float(np.prod([ratio for effective, ratio in demo_splits(ticker) if effective > day]))


def _quarter_figures(company: DemoCompany, start: dt.date) -> dict[str, float]:
    """The quarter starting at `start` as first reported (for the filing documents' narrative)."""
    quarter = _quarters_by_start(company.ticker).get(start)
    if quarter is None:
        raise KeyError(f"{company.ticker}: no demo statements for the quarter starting {start}")
    return dict(quarter)


@functools.lru_cache(maxsize=64)
def _quarters_by_start(ticker: str) -> dict[dt.date, dict[str, float]]:
    """`demo_statements` rows by quarter start (the first row of a start), built once per ticker: every
    filing document and index page looks up two quarters, ~290 filings a ticker over ten years."""
    statements = demo_statements(ticker)
    rows: dict[dt.date, dict[str, float]] = {}
    for position, start in enumerate(statements["start"]):
        if start not in rows:
            rows[start] = statements.iloc[position].to_dict()
    return rows


@functools.lru_cache(maxsize=64)
def _statement_columns(ticker: str) -> dict[str, np.ndarray]:
    """`demo_statements` as plain arrays: companyfacts sums thousands of small slices of them."""
    statements = demo_statements(ticker)
    return {column: statements[column].to_numpy() for column in statements.columns}


def _period_facts(ticker: str, span: slice, filing: dict, restated: bool) -> dict[tuple[str, str], float]:
    """(concept, unit) -> value over the quarters `span` of the statements, as `filing` reports it:
    per-share figures and share counts on the basis of its filing date."""
    columns = _statement_columns(ticker)
    values = {(concept, "USD"): float(columns[concept][span].sum()) for concept in _FLOW_CONCEPTS}
    if restated:
        _, share = DEMO_NET_PRESENTATION[ticker]
        moved = float(_thousands(columns["Revenues"][span] * share).sum())
        values[("Revenues", "USD")] -= moved
        values[("CostOfRevenue", "USD")] -= moved
    basis = _share_basis(ticker, filing["filed"])
    weighted, diluted = columns["shares"][span].mean() / basis, columns["shares_diluted"][span].mean() / basis
    income = values[("NetIncomeLoss", "USD")]
    values[("EarningsPerShareBasic", "USD/shares")] = round(float(income / weighted), 2)
    values[("EarningsPerShareDiluted", "USD/shares")] = round(float(income / (diluted if income > 0 else weighted)), 2)
    values[("WeightedAverageNumberOfDilutedSharesOutstanding", "shares")] = float(np.round(diluted, -3))
    if columns["dividend"][span.start]:
        dividends = float(columns["dividend"][span].sum()) * basis
        values[("CommonStockDividendsPerShareDeclared", "USD/shares")] = round(dividends, 4)
    return {key: value for key, value in values.items() if value == value}  # NaN: a line the filer has not


def _frame_label(start: str | None, end: str) -> str | None:
    """The calendar frame of a period (CY2024, CY2024Q3, CY2024Q3I), None for a 6- or 9-month one."""
    last = dt.date.fromisoformat(end)
    quarter = f"CY{last.year}Q{(last.month - 1) // 3 + 1}"
    if start is None:
        return quarter + "I"
    days = (last - dt.date.fromisoformat(start)).days
    return f"CY{last.year}" if 350 <= days <= 380 else quarter if 80 <= days <= 100 else None


def companyfacts_json(cik: int, until: dt.date, now: dt.datetime | None = None) -> dict:
    """A companyfacts document as EDGAR serves it, of the 10-Qs and 10-Ks filed by `until` (and accepted
    by `now`, when given).

    Like a real filer's: a 10-Q reports its quarter and the same quarter a year before, the year to date
    and its comparative (cash flows year to date only), the balance sheet at the quarter's end and at the
    last year end; a 10-K three years of income and cash flows and two balance sheets; the cover page the
    shares outstanding a few days before filing. Every fact carries its filing's accn/fy/fp/form/filed,
    and the calendar `frame` goes to the latest filed fact of each period (as the frames API assigns it).
    """
    company = COMPANIES_BY_CIK[cik]
    ticker = company.ticker
    columns = _statement_columns(ticker)
    index_of = {start: i for i, start in enumerate(columns["start"])}
    reports = [f for f in _accepted_by(_demo_filings(ticker, until), now) if f["form"] in ("10-Q", "10-K")]
    net_from = DEMO_NET_PRESENTATION.get(ticker)
    restating_filed = next(
        (f["filed"] for f in reports if net_from and f["form"] == "10-K" and f["report_date"].year == net_from[0]),
        None,
    )
    facts: dict[tuple[str, str, str], list[dict]] = {}

    def add(taxonomy: str, concept: str, unit: str, fact: dict) -> None:
        if unit in ("USD", "shares"):  # whole dollars and shares, as EDGAR's JSON has them
            fact["val"] = int(fact["val"])
        facts.setdefault((taxonomy, concept, unit), []).append(fact)

    for f in reports:
        end, annual = f["report_date"], f["form"] == "10-K"
        quarter = (end.month - 1) // 3 + 1
        base = {"accn": f["accession"], "fy": end.year, "fp": "FY" if annual else f"Q{quarter}"}
        base |= {"form": f["form"], "filed": f["filed"].isoformat()}
        last = index_of[f["period_start"]]
        if annual:  # three fiscal years
            durations = [(last - 3 - 4 * back, last - 4 * back, True) for back in range(3)]
        else:  # the quarter, the year to date, and each a year before
            durations = [(last, last, quarter == 1), (last - 4, last - 4, quarter == 1)]
            if quarter > 1:
                durations += [(last - quarter + 1, last, True), (last - 3 - quarter, last - 4, True)]
        restated = restating_filed is not None and f["filed"] >= restating_filed
        for first, final, year_to_date in durations:
            if first < 0:
                continue
            span = slice(first, final + 1)
            period = {"start": columns["start"][first].isoformat(), "end": columns["end"][final].isoformat()}
            for (concept, unit), value in _period_facts(ticker, span, f, restated).items():
                add("us-gaap", concept, unit, {**period, "val": value, **base})
            if year_to_date:  # the cash-flow statement is year to date
                for concept in _CASH_FLOW_CONCEPTS:
                    add("us-gaap", concept, "USD", {**period, "val": float(columns[concept][span].sum()), **base})
        for position in (last, last - quarter):  # the period's end and the last year end
            if position < 0:
                continue
            day = columns["end"][position].isoformat()
            for concept in _INSTANT_CONCEPTS:
                value = float(columns[concept][position])
                if value == value:  # NaN: a line the filer has not
                    add("us-gaap", concept, "USD", {"end": day, "val": value, **base})
        cover_day = f["filed"] - dt.timedelta(days=10)
        cover_shares = columns["shares"][last] / _share_basis(ticker, cover_day)
        add(
            "dei",
            "EntityCommonStockSharesOutstanding",
            "shares",
            {"end": cover_day.isoformat(), "val": float(np.round(cover_shares, -3)), **base},
        )

    document: dict[str, dict] = {"dei": {}, "us-gaap": {}}
    for (taxonomy, concept, unit), rows in sorted(facts.items()):
        rows = sorted(rows, key=lambda fact: (fact["end"], fact.get("start", ""), fact["filed"], fact["accn"]))
        latest: dict[str, dict] = {}
        for fact in rows:  # the latest filed fact of each calendar frame carries it
            label = _frame_label(fact.get("start"), fact["end"])
            if label is not None:
                latest[label] = fact
        for label, fact in latest.items():
            fact["frame"] = label
        entry = document[taxonomy].setdefault(
            concept, {"label": concept, "description": f"{concept} (DEMO)", "units": {}}
        )
        entry["units"][unit] = rows
    return {"cik": cik, "entityName": company.name, "facts": document}


def _epoch_seconds(day: dt.date, hour: int = 9, minute: int = 30) -> int:
    ts = pd.Timestamp(dt.datetime.combine(day, dt.time(hour, minute)), tz="America/New_York")
    return int(ts.timestamp())


def yahoo_chart_json(ticker: str, period1: int, period2: int, until: dt.date | None = None) -> dict:
    """Yahoo v8 chart JSON as published on New York day `until` (None: the whole simulated history):
    split-adjusted OHLCV in `quote`, split+dividend adjusted `adjclose`, split and dividend `events`."""
    bars = adjusted_bars_as_of(ticker, until)
    opens = pd.to_datetime(bars["date"]) + pd.Timedelta(hours=9, minutes=30)  # 09:30 New York, as Yahoo stamps
    stamps = (opens.dt.tz_localize("America/New_York").astype("int64") // 10**9).to_numpy()
    sel = bars[(stamps >= period1) & (stamps < period2)]
    sel_stamps = stamps[(stamps >= period1) & (stamps < period2)]
    events: dict[str, dict] = {}
    raw = demo_bars_as_of(ticker, until)
    raw_sel = raw.loc[sel.index]
    divs = {
        str(s): {"amount": round(float(a), 6), "date": int(s)} for s, a in zip(sel_stamps, sel["dividend"]) if a > 0
    }
    splits = {str(s): _split_event(int(s), float(r)) for s, r in zip(sel_stamps, raw_sel["split_ratio"]) if r != 1.0}
    if divs:
        events["dividends"] = divs
    if splits:
        events["splits"] = splits
    result = {
        "meta": {
            "currency": "USD",
            "symbol": ticker,
            "exchangeName": "DEMO",
            "instrumentType": "EQUITY",
            "timezone": "EST",
            "exchangeTimezoneName": "America/New_York",
            "dataGranularity": "1d",
            "longName": (COMPANIES_BY_TICKER[ticker].name if ticker in COMPANIES_BY_TICKER else DEMO_BENCHMARK_NAME),
        },
        "timestamp": [int(s) for s in sel_stamps],
        "indicators": {
            "quote": [
                {c: [round(float(v), 6) for v in sel[c]] for c in ("open", "high", "low", "close")}
                | {"volume": [int(v) for v in sel["volume"]]}
            ],
            "adjclose": [{"adjclose": [round(float(v), 6) for v in sel["adj_close"]]}],
        },
    }
    if events:
        result["events"] = events
    return {"chart": {"result": [result], "error": None}}


def _split_event(stamp: int, ratio: float) -> dict:
    """Yahoo's split event: numerator new shares for denominator old ones (1:4 for a reverse split)."""
    numerator, denominator = (ratio, 1.0) if ratio >= 1 else (1.0, round(1 / ratio))
    return {
        "date": stamp,
        "numerator": float(numerator),
        "denominator": float(denominator),
        "splitRatio": f"{int(numerator)}:{int(denominator)}",
    }


def stooq_csv(ticker: str, until: dt.date | None = None) -> str:
    """Stooq daily CSV (split and dividend adjusted), the whole history known on `until`."""
    bars = adjusted_bars_as_of(ticker, until)
    factor = bars["adj_close"] / bars["close"]
    lines = ["Date,Open,High,Low,Close,Volume"]
    for row, f in zip(bars.itertuples(index=False), factor):
        lines.append(
            f"{row.date:%Y-%m-%d},{row.open * f:.4f},{row.high * f:.4f},{row.low * f:.4f},"
            f"{row.adj_close:.4f},{row.volume}"
        )
    return "\n".join(lines) + "\n"


def alphavantage_daily_json(ticker: str, until: dt.date) -> dict:
    """Alpha Vantage TIME_SERIES_DAILY_ADJUSTED: as-traded OHLCV, adjusted close, dividend, split coefficient."""
    raw = demo_bars_as_of(ticker, until)
    adjusted = adjusted_bars_as_of(ticker, until)
    keep = raw["date"] <= until
    series = {}
    for row, adj_close in zip(raw[keep].itertuples(index=False), adjusted.loc[keep, "adj_close"]):
        series[row.date.isoformat()] = {
            "1. open": f"{row.open:.4f}",
            "2. high": f"{row.high:.4f}",
            "3. low": f"{row.low:.4f}",
            "4. close": f"{row.close:.4f}",
            "5. adjusted close": f"{adj_close:.4f}",
            "6. volume": str(row.volume),
            "7. dividend amount": f"{row.dividend:.4f}",
            "8. split coefficient": f"{row.split_ratio:.1f}",
        }
    return {
        "Meta Data": {
            "1. Information": "Daily Time Series with Splits and Dividend Events (DEMO)",
            "2. Symbol": ticker,
            "3. Last Refreshed": until.isoformat(),
        },
        "Time Series (Daily)": dict(reversed(series.items())),
    }  # newest first, as Alpha Vantage sends


_POSITIVE = [
    "{name} beats estimates as {q} profit rose {pct}%",
    "{name} raises full-year guidance to ${amount}M",
    "Analysts upgrade {name} to buy, lift price target to ${price}",
    "{name} shares jump {pct}% after record {q} revenue",
    "{name} wins ${amount}M contract; stock gains {pct}%",
]
_NEGATIVE = [
    "{name} misses {q} estimates, cuts its guidance by ${amount}M",
    "{name} shares fall {pct}% on weak demand",
    "Analysts downgrade {name} to sell, cut price target to ${price}",
    "{name} reports widening {q} loss",
    "{name} faces ${amount}M regulatory probe; stock slides {pct}%",
]
_NEUTRAL = [
    "{name} to present at {venue} conference",
    "{name} announces date of {q} results",
    "{name} appoints new board member from {venue}",
    "{name} files {q} report",
    "{name} completes previously announced ${amount}M share exchange",
]
_VENUES = ["Boston", "Chicago", "London", "Denver", "Austin", "Toronto", "Zurich", "Singapore", "Oslo", "Dallas"]


@functools.lru_cache(maxsize=64)
def demo_headlines(ticker: str) -> pd.DataFrame:
    """Deterministic headlines: on big moves the tone follows the move, otherwise mostly neutral."""
    bars = adjust_for_splits_and_dividends(demo_ohlcv(ticker))
    ret = bars["adj_close"].pct_change().fillna(0.0).to_numpy()
    percents = np.round(np.abs(ret) * 100, 1)  # as round(numpy float, 1) gives them, without a call per row
    rng = np.random.default_rng(_seed("news", ticker))
    name = COMPANIES_BY_TICKER[ticker].name.replace(" (DEMO)", "") if ticker in COMPANIES_BY_TICKER else "Demo index"
    days = pd.to_datetime(bars["date"]).dt.date.tolist()
    titles, local_times, links = [], [], []
    for i, day in enumerate(days):  # the draws in this order make the demo's headlines: keep it
        draw = rng.random()
        if abs(ret[i]) > 0.025:
            templates = _POSITIVE if ret[i] > 0 else _NEGATIVE
        elif draw < 0.25:
            templates = _NEUTRAL
        else:
            continue
        title = templates[int(rng.integers(len(templates)))].format(
            name=name,
            pct=percents[i],
            q=f"Q{(day.month - 1) // 3 + 1} {day.year}",
            amount=int(rng.integers(10, 990)),
            price=int(rng.integers(10, 400)),
            venue=_VENUES[int(rng.integers(len(_VENUES)))],
        )
        minute = int(rng.integers(6 * 60, 20 * 60))  # 06:00-20:00 New York: some after the close
        local_times.append(dt.datetime.combine(day, dt.time(minute // 60, minute % 60)))
        slug = _NOT_SLUG.sub("-", title.lower()).strip("-")
        titles.append(f"[DEMO] {title}")
        links.append(f"https://demo.invalid/news/{ticker.lower()}/{day:%Y%m%d}/{slug}")
    # one conversion for all rows (per-row zone lookups were half the cost); 06:00-20:00 never meets a DST gap
    published = pd.DatetimeIndex(local_times, dtype="datetime64[ns]").tz_localize("America/New_York")
    return pd.DataFrame({"title": titles, "published": published, "link": links})


_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_DAY_NAMES = np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], dtype=object)
_MONTH_NAMES = np.array(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], dtype=object
)


def rfc822_utc(instants: pd.Series) -> list[str]:
    """`email.utils.format_datetime` of each UTC instant ("Wed, 10 Jun 2026 18:05:00 +0000"), in one pass and
    in English whatever the process's locale."""
    utc = instants.dt.tz_convert("UTC")
    days = _DAY_NAMES[utc.dt.dayofweek.to_numpy()]
    months = _MONTH_NAMES[utc.dt.month.to_numpy() - 1]
    return [
        f"{day}, {rest[:2]} {month} {rest[3:]} +0000"
        for day, month, rest in zip(days, months, utc.dt.strftime("%d %Y %H:%M:%S"), strict=True)
    ]


def yahoo_rss_xml(ticker: str, until: dt.datetime) -> str:
    heads = demo_headlines(ticker)
    heads = heads[heads["published"] <= pd.Timestamp(until)].iloc[::-1]
    items = [
        "<item>"
        f"<title>{escape(title)}</title><link>{escape(link)}</link>"
        f'<guid isPermaLink="false">{escape(link)}</guid>'
        f"<pubDate>{published}</pubDate>"
        "<description>Simulated headline from the finance_assets demo source.</description>"
        "</item>"
        for title, link, published in zip(heads["title"], heads["link"], rfc822_utc(heads["published"]), strict=True)
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Yahoo! Finance: {escape(ticker)} News (DEMO)</title>"
        "<link>https://demo.invalid/</link><description>Demo headlines (fictional)</description>"
        "<language>en-US</language>" + "".join(items) + "</channel></rss>"
    )


def getcurrent_atom(now: dt.datetime, days: int = 5, start: int = 0, count: int = 100) -> str:
    """EDGAR's 'Latest Filings' Atom feed: the demo companies' filings of the last `days` days,
    newest first, entries `start` .. `start + count` as EDGAR pages them."""
    today = pd.Timestamp(now).tz_convert("America/New_York").date()
    entries = []
    for company in DEMO_COMPANIES:
        for f in _accepted_by(_demo_filings(company.ticker, today), now):
            if (today - f["filed"]).days > days:
                continue
            acc = f["accession"]
            in_session = (company.ticker, f["form"], f["filed"]) in DEMO_ACCEPTED_IN_SESSION
            updated = f["accepted"].isoformat() if in_session else f"{f['filed'].isoformat()}T16:05:12-05:00"
            entries.append(
                (
                    updated,
                    (
                        "<entry>"
                        f"<title>{escape(f['form'])} - {escape(company.name)} ({company.cik:010d}) (Filer)</title>"
                        f'<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/data/'
                        f'{company.cik}/{acc.replace("-", "")}/{acc}-index.htm"/>'
                        f'<summary type="html"> &lt;b&gt;Filed:&lt;/b&gt; {f["filed"].isoformat()} '
                        f"&lt;b&gt;AccNo:&lt;/b&gt; {acc} &lt;b&gt;Size:&lt;/b&gt; 250 KB</summary>"
                        f"<updated>{updated}</updated>"
                        f'<category scheme="https://www.sec.gov/" label="form type" term="{escape(f["form"])}"/>'
                        f"<id>urn:tag:sec.gov,2008:accession-number={acc}</id></entry>"
                    ),
                )
            )
    body = "".join(e for _, e in sorted(entries, reverse=True)[start : start + count])
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Latest Filings (DEMO)</title><id>https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent</id>"
        f"<updated>{pd.Timestamp(now).isoformat()}</updated>{body}</feed>"
    )


BULK_ARCHIVE_PATHS = {
    "/Archives/edgar/daily-index/xbrl/companyfacts.zip": "companyfacts",
    "/Archives/edgar/daily-index/bulkdata/submissions.zip": "submissions",
}


@functools.lru_cache(maxsize=2)
def bulk_archive_zip(kind: str, until: dt.date) -> bytes:
    """EDGAR's nightly bulk archive layout: one deflated `CIK##########.json` per company.

    Member timestamps are the build day, so the same day always yields the same bytes (and ETag).
    """
    build = {"companyfacts": companyfacts_json, "submissions": submissions_json}[kind]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for cik in sorted(COMPANIES_BY_CIK):
            info = zipfile.ZipInfo(f"CIK{cik:010d}.json", date_time=(until.year, until.month, until.day, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, json.dumps(build(cik, until), separators=(",", ":")))
    return buffer.getvalue()


# ------------------------------------------------------------------------- filing documents
# The primary document of each demo filing and the press release (EX-99.1) of each earnings 8-K,
# laid out as EDGAR serves inline-XBRL filings: a hidden ix:header block, a cover page, a table of
# contents, "Item" headings in table cells, page footers with page numbers and page breaks. The text
# is fictional; the 10-K risk factors change a little from year to year (what "Lazy Prices" measures).

_ARCHIVE_PATH = re.compile(r"^/Archives/edgar/data/(\d{1,10})/(\d{18})/([A-Za-z0-9._-]+)$")

_RISKS_CORE = (
    "Our results of operations may fluctuate significantly from quarter to quarter.",
    "We face intense competition, which could adversely affect our revenue and margins.",
    "A disruption at a key supplier could delay shipments and increase our costs.",
    "We may be unable to protect our intellectual property, and litigation to defend it is costly.",
    "Changes in tax laws or regulations could reduce our net income.",
    "Cybersecurity incidents could harm our reputation and result in liability.",
)
_RISKS_VARIABLE = (
    "Rising interest rates could increase our borrowing costs and reduce demand from customers.",
    "Adverse economic conditions in our principal markets could cause losses.",
    "We are subject to pending lawsuits, and an unfavorable judgment could require us to pay damages.",
    "Uncertainty about tariffs and trade restrictions may impair our supply chain.",
    "We may not realize the anticipated benefits of recent acquisitions.",
    "The loss of key personnel could disrupt our operations.",
    "Currency fluctuations could negatively impact our reported results.",
    "Regulators may impose restrictions that limit how we may operate certain products.",
    "Climate-related events could damage facilities and interrupt production.",
    "Our indebtedness contains covenants that restrict our ability to pay dividends.",
    "Failure to comply with data protection laws could result in penalties.",
    "Demand for our products may decline if customers delay purchases during a recession.",
)
_BUSINESS = (
    "{name} designs, manufactures and sells products to customers in many countries.",
    "The Company reports its results in one segment and sells through direct and indirect channels.",
    "Our strategy is to invest in research and development and to expand our installed base.",
    "We had approximately {staff:,} full-time employees at the end of the fiscal year.",
)
_MDNA = (
    "Revenue was ${revenue:,.0f} million for the period, {direction} {change:.1f}% from the prior year.",
    "Net income was ${income:,.0f} million, reflecting {tone} operating performance.",
    "We believe our cash, cash equivalents and operating cash flow will be sufficient for our needs.",
    "Gross margin {margin_verb} as a result of product mix and improved efficiency.",
)
_EIGHT_K_ITEMS = {
    "1.01": "Entry into a Material Definitive Agreement",
    "1.02": "Termination of a Material Definitive Agreement",
    "2.02": "Results of Operations and Financial Condition",
    "2.05": "Costs Associated with Exit or Disposal Activities",
    "5.02": "Departure of Directors or Certain Officers; Election of Directors; Appointment of Certain Officers",
    "5.07": "Submission of Matters to a Vote of Security Holders",
    "7.01": "Regulation FD Disclosure",
    "8.01": "Other Events",
    "9.01": "Financial Statements and Exhibits",
}
_EIGHT_K_TEXT = {
    "1.01": "On {day}, the Company entered into a supply agreement with a customer (DEMO) for a term of three years.",
    "1.02": "On {day}, the Company terminated its distribution agreement; no early termination penalties were incurred.",
    "2.02": "On {day}, the Company issued a press release announcing its financial results for the quarter. "
    "A copy of the press release is furnished as Exhibit 99.1 to this Current Report.",
    "2.05": "On {day}, the Board approved a restructuring plan and expects to incur charges and impairment losses.",
    "5.02": "On {day}, the Company announced that its Chief Financial Officer will resign, effective at the end "
    "of the quarter. The Board appointed a successor.",
    "5.07": "At the annual meeting held on {day}, stockholders elected each director nominee and approved the "
    "compensation of the named executive officers.",
    "7.01": "On {day}, the Company presented at an investor conference. The presentation is furnished as Exhibit 99.1.",
    "8.01": "On {day}, the Company announced a share repurchase program of up to $500 million.",
    "9.01": "(d) Exhibits. The following exhibits are furnished with this report.",
}


def _demo_filing(cik: int, accession: str, until: dt.date) -> dict:
    company = COMPANIES_BY_CIK[cik]
    for filing in _demo_filings(company.ticker, until):
        if filing["accession"] == accession:
            return filing
    raise KeyError(accession)


def primary_document_name(ticker: str, filing: dict) -> str:
    return f"{ticker.lower()}-{filing['report_date']:%Y%m%d}.htm"


def _risk_factors(ticker: str, year: int) -> list[str]:
    """The core risks every year, plus some that come and go: each year keeps most of last year's."""
    chosen = list(_RISKS_CORE)
    for i, risk in enumerate(_RISKS_VARIABLE):
        # a risk is on in a run of years: it flips state with probability 1/4 each year
        state = _seed("risk", ticker, i, DEMO_EPOCH.year) % 2
        for y in range(DEMO_EPOCH.year + 1, year + 1):
            state ^= int(_seed("flip", ticker, i, y) % 4 == 0)
        if state:
            chosen.append(risk)
    return chosen


def _period_numbers(company: DemoCompany, filing: dict) -> dict:
    end = filing["report_date"]
    start = (pd.Timestamp(end) - pd.offsets.QuarterBegin(startingMonth=1)).date()
    now = _quarter_figures(company, start)
    first_year = start.year == DEMO_EPOCH.year  # the statements start at the epoch: no year before to compare
    before = now if first_year else _quarter_figures(company, dt.date(start.year - 1, start.month, 1))
    change = (now["Revenues"] / before["Revenues"] - 1) * 100
    return {
        "name": company.name,
        "staff": 1000 * (company.cik % 9 + 3),
        "revenue": now["Revenues"] / 1e6,
        "income": now["NetIncomeLoss"] / 1e6,
        "change": abs(change),
        "direction": "up" if change >= 0 else "down",
        "tone": "strong" if change >= 0 else "weaker",
        "margin_verb": "improved" if change >= 0 else "declined",
    }


def _ix_header(company: DemoCompany, filing: dict) -> str:
    return (
        '<div style="display:none"><ix:header><ix:hidden>'
        f'<ix:nonNumeric name="dei:EntityCentralIndexKey" contextRef="c-1">{company.cik:010d}</ix:nonNumeric>'
        f'<ix:nonNumeric name="dei:DocumentType" contextRef="c-1">{filing["form"]}</ix:nonNumeric>'
        '<ix:nonNumeric name="dei:AmendmentFlag" contextRef="c-1">false</ix:nonNumeric>'
        '</ix:hidden><ix:references><link:schemaRef xlink:href="demo-20240101.xsd" xlink:type="simple"/>'
        '</ix:references><ix:resources><xbrli:context id="c-1"><xbrli:entity>'
        f'<xbrli:identifier scheme="http://www.sec.gov/CIK">{company.cik:010d}</xbrli:identifier>'
        "</xbrli:entity><xbrli:period><xbrli:instant>"
        f"{filing['report_date']:%Y-%m-%d}</xbrli:instant></xbrli:period></xbrli:context>"
        "</ix:resources></ix:header></div>"
    )


def _heading(anchor: str, label: str, title: str) -> str:
    return (
        f'<div id="{anchor}"><table style="width:100%"><tr>'
        f'<td style="width:10%"><span style="font-weight:700">{escape(label)}</span></td>'
        f'<td><span style="font-weight:700">{escape(title)}</span></td></tr></table></div>'
    )


def _paragraphs(sentences: list[str]) -> str:
    return "".join(f'<div><span style="font-family:Helvetica">{escape(s)}</span></div>' for s in sentences)


def _page_break(company: DemoCompany, filing: dict, page: int) -> str:
    footer = f"{company.name} | {filing['report_date'].year} Form {filing['form']} | {page}"
    return (
        f'<div style="text-align:center"><span>{escape(footer)}</span></div>'
        '<hr style="page-break-after:always"/>'
        '<div><a href="#toc"><span>Table of Contents</span></a></div>'
    )


def _periodic_document(company: DemoCompany, filing: dict) -> str:
    """A 10-K or 10-Q: cover, table of contents, items with page footers between them."""
    numbers = _period_numbers(company, filing)
    annual = filing["form"] == "10-K"
    risks = _risk_factors(company.ticker, filing["report_date"].year)
    mdna = [s.format(**numbers) for s in _MDNA]
    if annual:
        parts = [
            (
                "PART I",
                [
                    ("1", "Business", [s.format(**numbers) for s in _BUSINESS]),
                    ("1A", "Risk Factors", risks),
                    ("2", "Properties", ["Our headquarters are leased. We believe our facilities are adequate."]),
                    ("3", "Legal Proceedings", ["See Note 9 for a description of legal proceedings."]),
                ],
            ),
            (
                "PART II",
                [
                    (
                        "7",
                        "Management's Discussion and Analysis of Financial Condition and Results of Operations",
                        mdna,
                    ),
                    (
                        "7A",
                        "Quantitative and Qualitative Disclosures About Market Risk",
                        ["We are exposed to interest rate and foreign currency risk."],
                    ),
                    ("8", "Financial Statements and Supplementary Data", ["The financial statements follow."]),
                ],
            ),
        ]
    else:
        parts = [
            (
                "PART I — FINANCIAL INFORMATION",
                [
                    ("1", "Financial Statements", ["The condensed consolidated financial statements are unaudited."]),
                    (
                        "2",
                        "Management's Discussion and Analysis of Financial Condition and Results of Operations",
                        mdna,
                    ),
                    (
                        "3",
                        "Quantitative and Qualitative Disclosures About Market Risk",
                        ["There have been no material changes to our market risk during the quarter."],
                    ),
                    ("4", "Controls and Procedures", ["Our disclosure controls and procedures were effective."]),
                ],
            ),
            (
                "PART II — OTHER INFORMATION",
                [
                    ("1", "Legal Proceedings", ["See Note 9 for a description of legal proceedings."]),
                    ("1A", "Risk Factors", risks[:8]),
                    ("6", "Exhibits", ["31.1 Certification of the Chief Executive Officer (DEMO)."]),
                ],
            ),
        ]
    toc, body, page = [], [], 2
    for part, items in parts:
        toc.append(f'<tr><td colspan="3"><span style="font-weight:700">{escape(part)}</span></td></tr>')
        body.append(f'<div style="text-align:center"><span style="font-weight:700">{escape(part)}</span></div>')
        for number, title, sentences in items:
            anchor = f"i{part.split()[1]}-{number}".lower()
            toc.append(
                f'<tr><td><span>Item {number}.</span></td><td><a href="#{anchor}"><span>{escape(title)}</span></a>'
                f"</td><td><span>{page}</span></td></tr>"
            )
            body.append(_heading(anchor, f"Item {number}.", title) + _paragraphs(sentences))
            body.append(_page_break(company, filing, page))
            page += 1
    kind = "ANNUAL REPORT" if annual else "QUARTERLY REPORT"
    cover = (
        '<div style="text-align:center"><span style="font-weight:700">UNITED STATES<br/>SECURITIES AND EXCHANGE '
        "COMMISSION</span></div>"
        f'<div style="text-align:center"><span style="font-weight:700">FORM {filing["form"]}</span></div>'
        f"<div><span>{kind} PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934 for the "
        f"period ended {filing['report_date']:%B %d, %Y}</span></div>"
        f"<div><span>{escape(company.name)}</span></div>"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml" '
        'xmlns:ix="http://www.xbrl.org/2013/inlineXBRL"><head><title>'
        f"{escape(company.ticker.lower())}-{filing['report_date']:%Y%m%d}</title></head><body>"
        + _ix_header(company, filing)
        + cover
        + _page_break(company, filing, 1)
        + '<div id="toc"><span style="font-weight:700">TABLE OF CONTENTS</span></div><table>'
        + "".join(toc)
        + "</table>"
        + "".join(body)
        + '<div><span style="font-weight:700">SIGNATURES</span></div>'
        + _paragraphs([f"{company.name} — By: /s/ Chief Executive Officer (DEMO)"])
        + "</body></html>"
    )


def _current_report(company: DemoCompany, filing: dict) -> str:
    day = f"{filing['report_date']:%B %d, %Y}"
    items = [code for code in filing["items"].split(",") if code]
    body = []
    for code in items:
        text = [_EIGHT_K_TEXT[code].format(day=day)]
        if code == "9.01" and "2.02" in items:
            text.append("Exhibit 99.1 Press release dated " + day + " (furnished).")
        body.append(_heading(f"item{code}", f"Item {code}", _EIGHT_K_ITEMS[code]) + _paragraphs(text))
    return (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml" '
        'xmlns:ix="http://www.xbrl.org/2013/inlineXBRL"><head><title>8-K</title></head><body>'
        + _ix_header(company, filing)
        + '<div style="text-align:center"><span style="font-weight:700">UNITED STATES SECURITIES AND EXCHANGE '
        "COMMISSION</span></div>"
        + '<div style="text-align:center"><span style="font-weight:700">FORM 8-K</span></div>'
        + f"<div><span>CURRENT REPORT Date of Report: {day}</span></div>"
        + f"<div><span>{escape(company.name)}</span></div>"
        + "".join(body)
        + '<div><span style="font-weight:700">SIGNATURE</span></div>'
        + _paragraphs([f"{company.name} — By: /s/ Chief Financial Officer (DEMO)"])
        + "</body></html>"
    )


def _press_release(company: DemoCompany, filing: dict) -> str:
    quarter_end = (pd.Timestamp(filing["report_date"]) - pd.offsets.QuarterEnd(1)).date()
    numbers = _period_numbers(company, {**filing, "report_date": quarter_end})
    sentences = [
        f"{company.name} reports results for the quarter ended {quarter_end:%B %d, %Y}.",
        "Revenue of ${revenue:,.0f} million, {direction} {change:.1f}% year over year.".format(**numbers),
        "Net income of ${income:,.0f} million.".format(**numbers),
        "We delivered strong growth and record results."
        if numbers["direction"] == "up"
        else "Results were weaker than expected amid difficult conditions.",
        "This press release contains forward-looking statements that involve risks and uncertainties.",
    ]
    return (
        "<html><head><title>EX-99.1</title></head><body>"
        '<div style="text-align:right"><span>Exhibit 99.1</span></div>' + _paragraphs(sentences) + "</body></html>"
    )


def filing_documents(company: DemoCompany, filing: dict) -> dict[str, tuple[str, str, str]]:
    """name -> (EDGAR document type, description, HTML) for one demo filing."""
    primary = primary_document_name(company.ticker, filing)
    if filing["form"] == "8-K":
        out = {primary: ("8-K", "8-K", _current_report(company, filing))}
        if "2.02" in filing["items"].split(","):
            out[f"{company.ticker.lower()}-ex991_{filing['report_date']:%Y%m%d}.htm"] = (
                "EX-99.1",
                "PRESS RELEASE",
                _press_release(company, filing),
            )
        return out
    return {primary: (filing["form"], filing["form"], _periodic_document(company, filing))}


def filing_index_html(company: DemoCompany, filing: dict) -> str:
    """The filing's index page (`{accession}-index.htm`) with EDGAR's "Document Format Files" table."""
    folder = f"/Archives/edgar/data/{company.cik}/{filing['accession'].replace('-', '')}"
    rows = []
    for seq, (name, (kind, description, html)) in enumerate(filing_documents(company, filing).items(), start=1):
        href = f"/ix?doc={folder}/{name}" if seq == 1 and filing["form"] != "8-K" else f"{folder}/{name}"
        rows.append(
            f'<tr><td scope="row">{seq}</td><td scope="row">{escape(description)}</td>'
            f'<td scope="row"><a href="{href}">{name}</a></td><td scope="row">{escape(kind)}</td>'
            f'<td scope="row">{len(html.encode())}</td></tr>'
        )
    return (
        f"<html><head><title>EDGAR Filing Index {filing['accession']}</title></head><body>"
        f'<div id="formDiv"><div class="formGrouping"><div class="infoHead">Filing Date</div>'
        f'<div class="info">{filing["filed"].isoformat()}</div></div>'
        '<table class="tableFile" summary="Document Format Files"><tr><th scope="col">Seq</th>'
        '<th scope="col">Description</th><th scope="col">Document</th><th scope="col">Type</th>'
        '<th scope="col">Size</th></tr>' + "".join(rows) + "</table></div></body></html>"
    )


def archive_file(cik: int, folder: str, name: str, until: dt.date) -> tuple[str, str]:
    """(content type, body) of a file in a demo filing's archive folder; KeyError when there is none."""
    company = COMPANIES_BY_CIK[cik]
    accession = f"{folder[:10]}-{folder[10:12]}-{folder[12:]}"
    filing = _demo_filing(cik, accession, until)
    if name == f"{accession}-index.htm":
        return "text/html", filing_index_html(company, filing)
    return "text/html", filing_documents(company, filing)[name][2]


_FINNHUB_ONLY = (
    "[DEMO] {name} stock: what analysts watch after the {day} session",
    "[DEMO] Why {name} shares are in focus on {day}",
    "[DEMO] {name} draws fresh institutional buying, filings show ({day})",
)


def finnhub_company_news_json(ticker: str, start: dt.date, end: dt.date, now: dt.datetime) -> list[dict]:
    """Finnhub company-news for the demo: some stories syndicated from the RSS feed (same URL, later),
    some re-titled copies (new URL, same words in capitals) and some of its own, newest first."""
    heads = demo_headlines(ticker)
    name = COMPANIES_BY_TICKER[ticker].name.replace(" (DEMO)", "")
    articles = []
    for i, row in enumerate(heads.itertuples(index=False)):
        kind = i % 3
        published = row.published + pd.Timedelta(minutes=(20, 35, 50)[kind])
        if kind == 0:
            title, url, publisher = row.title, row.link, "Demo Wire"
        elif kind == 1:
            title, url, publisher = (
                row.title.upper(),
                f"https://demo.invalid/finnhub/{ticker.lower()}/{i}",
                "Demo Daily",
            )
        else:
            title = _FINNHUB_ONLY[i % len(_FINNHUB_ONLY)].format(name=name, day=f"{row.published:%B %d, %Y}")
            url, publisher = f"https://demo.invalid/finnhub/{ticker.lower()}/{i}", "Demo Markets"
        day = published.tz_convert("UTC").date()
        if start <= day <= end and published <= pd.Timestamp(now):
            articles.append(
                {
                    "category": "company news",
                    "datetime": int(published.timestamp()),
                    "headline": title,
                    "id": _seed("finnhub", ticker, i) % 10**8,
                    "image": "",
                    "related": ticker,
                    "source": publisher,
                    "summary": "Simulated article from the finance_assets demo.",
                    "url": url,
                }
            )
    return sorted(articles, key=lambda a: a["datetime"], reverse=True)


# ---------------------------------------------------------------------------------------------
# Transport
# ---------------------------------------------------------------------------------------------

_CIK_PATH = re.compile(r"CIK(\d{10})\.json$")


# ECB euro reference rates (eurofxref-hist.zip): the published column order, units per 1 EUR at the
# demo epoch, and currencies with no rate (legacy ones always; others from the date they stopped).
_ECB_COLUMNS = (
    "USD JPY BGN CYP CZK DKK EEK GBP HUF LTL LVL MTL PLN ROL RON SEK SIT SKK CHF ISK NOK HRK RUB TRL "
    "TRY AUD BRL CAD CNY HKD IDR ILS INR KRW MXN MYR NZD PHP SGD THB ZAR"
).split()
_ECB_EPOCH_RATES = {
    "USD": 1.2043,
    "JPY": 144.62,
    "BGN": 1.9558,
    "CZK": 27.725,
    "DKK": 7.4427,
    "GBP": 0.7789,
    "HUF": 315.98,
    "PLN": 4.3036,
    "RON": 4.5045,
    "SEK": 9.4412,
    "CHF": 1.2022,
    "ISK": 155.0,
    "NOK": 9.007,
    "HRK": 7.66,
    "RUB": 72.02,
    "TRY": 2.8093,
    "AUD": 1.4757,
    "BRL": 3.2214,
    "CAD": 1.4063,
    "CNY": 7.4835,
    "HKD": 9.3395,
    "IDR": 14946.0,
    "ILS": 4.7182,
    "INR": 76.19,
    "KRW": 1320.2,
    "MXN": 17.7981,
    "MYR": 4.2251,
    "NZD": 1.5447,
    "PHP": 53.922,
    "SGD": 1.6008,
    "THB": 39.65,
    "ZAR": 14.0174,
}
_ECB_STOPPED = {"HRK": dt.date(2023, 1, 1), "RUB": dt.date(2022, 3, 2), "BGN": dt.date(2026, 1, 1)}
_ECB_FIXED = {"BGN"}  # currency board: the same rate every day


def _target_holidays(year: int) -> set[dt.date]:
    from dateutil.easter import easter

    good_friday = easter(year) - dt.timedelta(days=2)
    return {
        dt.date(year, 1, 1),
        good_friday,
        good_friday + dt.timedelta(days=3),
        dt.date(year, 5, 1),
        dt.date(year, 12, 25),
        dt.date(year, 12, 26),
    }


@functools.lru_cache(maxsize=1)
def demo_ecb_rates() -> pd.DataFrame:
    """Simulated ECB reference rates (date x currency, units per EUR) on TARGET business days.

    Drawn once for a fixed span, so a day's rates never change as the demo clock moves; N/A (NaN)
    for currencies the ECB does not quote on that day. Not market data.
    """
    days = pd.bdate_range(DEMO_EPOCH, DEMO_EPOCH + dt.timedelta(days=365 * 20))
    holidays = set().union(*(_target_holidays(year) for year in range(days[0].year, days[-1].year + 1)))
    days = days[~days.to_series().dt.date.isin(holidays).to_numpy()]
    rng = np.random.default_rng(_seed("ecb-fx"))
    rates = pd.DataFrame(np.nan, index=days, columns=_ECB_COLUMNS)
    for currency, start in _ECB_EPOCH_RATES.items():
        steps = np.zeros(len(days)) if currency in _ECB_FIXED else rng.normal(0.0, 0.004, len(days))
        path = start * np.exp(np.cumsum(steps) - steps[0])
        stopped = _ECB_STOPPED.get(currency)
        rates[currency] = np.where(days.date < stopped, path, np.nan) if stopped else path
    return rates


@functools.lru_cache(maxsize=4)
def ecb_hist_zip(until: dt.date) -> bytes:
    """eurofxref-hist.zip as published on `until`: one CSV, newest day first, trailing commas, and the
    ECB's precision (five significant figures, at least two decimals)."""
    import io
    import zipfile

    rates = demo_ecb_rates()
    rates = rates[rates.index.date <= until].iloc[::-1]
    values = rates.to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        decimals = np.maximum(2, 4 - np.floor(np.log10(values))).astype("int64", copy=False)
    lines = ["Date," + ",".join(_ECB_COLUMNS) + ","]
    for day, row, places in zip(rates.index, values.tolist(), decimals.tolist()):
        cells = ["N/A" if value != value else f"{value:.{digits}f}" for value, digits in zip(row, places)]
        lines.append(f"{day:%Y-%m-%d}," + ",".join(cells) + ",")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        # a fixed timestamp keeps the bytes (and so the ETag) identical for the same day
        archive.writestr(
            zipfile.ZipInfo("eurofxref-hist.csv", date_time=(2015, 1, 2, 0, 0, 0)),
            "\n".join(lines) + "\n",
            compress_type=zipfile.ZIP_DEFLATED,
        )
    return buffer.getvalue()


def last_closed_session(now: dt.datetime) -> dt.date:
    """The latest XNYS session whose 16:00 New York close is at or before `now`."""
    sessions = demo_sessions()
    closes = sessions.tz_localize("America/New_York") + pd.Timedelta(hours=16)
    idx = int(np.searchsorted(closes, pd.Timestamp(now).tz_convert("America/New_York"), side="right")) - 1
    return sessions[max(idx, 0)].date()


class DemoTransport(httpx.BaseTransport):
    """Routes the live URLs to the generators above, as the sources would answer at `now`."""

    def __init__(self, now: dt.datetime | None = None):
        self.now = now or dt.datetime.now(dt.UTC)
        self.last_session = last_closed_session(self.now)
        self.today = pd.Timestamp(self.now).tz_convert("America/New_York").date()
        self.requests: list[str] = []
        self.latest_served: dt.date | None = None  # the latest date in anything served (point-in-time tests)
        # base URL -> the live base URL it stands for (a configured mirror of EDGAR answers like EDGAR)
        self.aliases: dict[str, str] = {}

    def _canonical(self, url: str) -> str:
        for alias, live in self.aliases.items():
            if alias != live and (url == alias or url.startswith(alias + "/") or url.startswith(alias + "?")):
                return live + url[len(alias) :]
        return url

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = urlparse(self._canonical(str(request.url)))
        self.requests.append(str(request.url))
        query = parse_qs(url.query)
        host, path = url.hostname or "", url.path
        try:
            if host == "www.sec.gov" and path == "/files/company_tickers_exchange.json":
                return self._json(request, company_tickers_exchange_json())
            if host == "www.sec.gov" and path == "/cgi-bin/browse-edgar" and query.get("action") == ["getcurrent"]:
                start = int(query.get("start", ["0"])[0])
                count = min(int(query.get("count", ["40"])[0]), 100)
                return httpx.Response(
                    200,
                    text=getcurrent_atom(self.now, start=start, count=count),
                    headers={"Content-Type": "application/atom+xml"},
                )
            if host == "www.sec.gov" and path in BULK_ARCHIVE_PATHS:
                return self._archive(request, bulk_archive_zip(BULK_ARCHIVE_PATHS[path], self.today))
            if host == "www.sec.gov" and _ARCHIVE_PATH.match(path):
                cik, folder, name = _ARCHIVE_PATH.match(path).groups()
                content_type, text = archive_file(int(cik), folder, name, self.today)
                return httpx.Response(200, text=text, headers={"Content-Type": content_type})
            if host == "finnhub.io" and path == "/api/v1/company-news":
                token = request.headers.get("X-Finnhub-Token") or query.get("token", [""])[0]
                if not token:  # Finnhub's answer to a missing or wrong key
                    return httpx.Response(401, json={"error": "Invalid API key."})
                return self._json(
                    request,
                    finnhub_company_news_json(
                        query["symbol"][0].upper(),
                        dt.date.fromisoformat(query["from"][0]),
                        dt.date.fromisoformat(query["to"][0]),
                        self.now,
                    ),
                )
            if host == "data.sec.gov" and path.startswith("/submissions/"):
                return self._json(request, submissions_json(self._cik(path), self.today, self.now))
            if host == "data.sec.gov" and path.startswith("/api/xbrl/companyfacts/"):
                return self._json(request, companyfacts_json(self._cik(path), self.today, self.now))
            if host.endswith("finance.yahoo.com") and path.startswith("/v8/finance/chart/"):
                ticker = path.rsplit("/", 1)[-1].upper()
                p1 = int(query.get("period1", ["0"])[0])
                p2 = int(query.get("period2", [str(2**31)])[0])
                p2 = min(p2, _epoch_seconds(self.last_session + dt.timedelta(days=1), 0, 0))
                chart = yahoo_chart_json(ticker, p1, p2, until=self.today)
                stamps = chart["chart"]["result"][0]["timestamp"]
                if stamps:
                    self._served(pd.Timestamp(max(stamps), unit="s", tz="UTC").tz_convert("America/New_York").date())
                return self._json(request, chart)
            if host == "stooq.com" and path == "/q/d/l/":
                ticker = query["s"][0].upper().removesuffix(".US")
                lines = stooq_csv(ticker, until=self.today).splitlines()
                cut = [lines[0]] + [ln for ln in lines[1:] if ln[:10] <= self.last_session.isoformat()]
                if len(cut) > 1:
                    self._served(dt.date.fromisoformat(cut[-1][:10]))
                return httpx.Response(200, text="\n".join(cut) + "\n", headers={"Content-Type": "text/csv"})
            if host == "www.alphavantage.co" and path == "/query":
                if not query.get("apikey", [""])[0]:  # what Alpha Vantage answers without a key
                    return self._json(request, {"Information": "the parameter apikey is invalid or missing."})
                self._served(self.last_session)
                return self._json(request, alphavantage_daily_json(query["symbol"][0].upper(), self.last_session))
            if host == "www.ecb.europa.eu" and path == "/stats/eurofxref/eurofxref-hist.zip":
                # the ECB publishes around 16:00 CET; before 15:00 UTC today's rates are not out yet
                published = self.now.astimezone(dt.UTC)
                until = published.date() - dt.timedelta(days=0 if published.hour >= 15 else 1)
                self._served(until)
                body = ecb_hist_zip(until)
                etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                if request.headers.get("If-None-Match") == etag:
                    return httpx.Response(304, headers={"ETag": etag})
                return httpx.Response(200, content=body, headers={"Content-Type": "application/zip", "ETag": etag})
            if host == "feeds.finance.yahoo.com" and path == "/rss/2.0/headline":
                ticker = query["s"][0].upper()
                heads = demo_headlines(ticker)
                published = heads["published"][heads["published"] <= pd.Timestamp(self.now)] if len(heads) else []
                if len(published):
                    self._served(published.max().tz_convert("America/New_York").date())
                return httpx.Response(
                    200, text=yahoo_rss_xml(ticker, self.now), headers={"Content-Type": "application/rss+xml"}
                )
        except KeyError:
            return httpx.Response(404, text="Not found (demo source knows only the fictional demo tickers)")
        return httpx.Response(404, text=f"Demo source has no route for {url.hostname}{url.path}")

    def _served(self, day: dt.date) -> None:
        if self.latest_served is None or day > self.latest_served:
            self.latest_served = day

    @staticmethod
    def _cik(path: str) -> int:
        match = _CIK_PATH.search(path)
        if not match:
            raise KeyError(path)
        cik = int(match.group(1))
        if cik not in COMPANIES_BY_CIK:
            raise KeyError(cik)
        return cik

    @staticmethod
    def _archive(request: httpx.Request, body: bytes) -> httpx.Response:
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        if request.headers.get("If-None-Match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(
            200,
            content=body,
            headers={"Content-Type": "application/zip", "ETag": etag, "Content-Length": str(len(body))},
        )

    @staticmethod
    def _json(request: httpx.Request, payload: dict | list) -> httpx.Response:
        body = json.dumps(payload, separators=(",", ":")).encode()
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        if request.headers.get("If-None-Match") == etag:  # as EDGAR does for an unchanged file
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json", "ETag": etag})


def demo_portfolio_rows() -> list[dict]:
    """The committed data/portfolio.csv is built from this (see README)."""
    rows = []
    for i, c in enumerate(DEMO_COMPANIES):
        rows.append(
            {"ticker": c.ticker, "shares": 100 + 25 * i, "cost_basis": round(c.start_price * 1.4, 2), "currency": "USD"}
        )
    return rows
