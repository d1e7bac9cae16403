"""Point-in-time standardized fundamentals from normalized companyfacts (see FUNDAMENTALS.md).

``standardize`` turns the long facts table of :func:`finance_assets.defs.sec.xbrl.normalize_companyfacts`
into standardized line items per fiscal period and per *vintage* (filing), so that
``as_of(std, date)`` reproduces exactly what was known on a date and ``latest(std)`` gives
the latest restated values. Derived values (Q4 = FY - 9M, gross profit, total liabilities...)
are computed per knowledge date from inputs filed on or before it and are marked ``derived``.

Point in time is the *acceptance time*, not the filing date: ``accepted_at`` is SEC's acceptance
time of the filing (UTC; from the submissions data, matched by accession) and ``known_at`` the first
XNYS session whose close comes after it, the first report day that may use the value (a 10-K accepted
at 17:30 New York time is first used on the next session). Without an acceptance time (a filing the
submissions data does not list, bulk companyfacts) the rule is conservative: the next session after
the filing date (see :func:`first_session_known`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Literal

import numpy as np
import pandas as pd

from finance_assets.defs.sec.schemas import FUNDAMENTALS, without_ticker
from finance_assets.lib import market_calendar

UnitKind = Literal["currency", "per_share", "shares"]
PeriodKind = Literal["duration", "instant", "cover"]


@dataclass(frozen=True)
class LineItem:
    """A standardized line item: XBRL concepts in priority order and how the item behaves."""

    concepts: tuple[tuple[str, str], ...]  # (taxonomy, concept), first match wins per vintage
    unit_kind: UnitKind
    period_kind: PeriodKind
    additive: bool = False  # quarters sum to the year, so missing quarters can be derived


def _gaap(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple(("us-gaap", name) for name in names)


def _ifrs(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple(("ifrs-full", name) for name in names)


LINE_ITEMS: dict[str, LineItem] = {
    "revenue": LineItem(
        _gaap(
            "Revenues",
            "RevenueFromContractWithCustomerExcludingAssessedTax",
            "SalesRevenueNet",
            "RevenuesNetOfInterestExpense",
            "RevenueFromContractWithCustomerIncludingAssessedTax",
            "SalesRevenueGoodsNet",
        )
        + _ifrs("Revenue", "RevenueFromContractsWithCustomers"),
        "currency",
        "duration",
        additive=True,
    ),
    "cost_of_revenue": LineItem(
        _gaap("CostOfRevenue", "CostOfGoodsAndServicesSold", "CostOfGoodsSold", "CostOfServices")
        + _ifrs("CostOfSales"),
        "currency",
        "duration",
        additive=True,
    ),
    "gross_profit": LineItem(_gaap("GrossProfit") + _ifrs("GrossProfit"), "currency", "duration", additive=True),
    "operating_income": LineItem(
        _gaap("OperatingIncomeLoss") + _ifrs("ProfitLossFromOperatingActivities"), "currency", "duration", additive=True
    ),
    "net_income": LineItem(
        _gaap("NetIncomeLoss", "NetIncomeLossAvailableToCommonStockholdersBasic", "ProfitLoss")
        + _ifrs("ProfitLossAttributableToOwnersOfParent", "ProfitLoss"),
        "currency",
        "duration",
        additive=True,
    ),
    "eps_basic": LineItem(
        _gaap("EarningsPerShareBasic", "EarningsPerShareBasicAndDiluted") + _ifrs("BasicEarningsLossPerShare"),
        "per_share",
        "duration",
    ),
    "eps_diluted": LineItem(
        _gaap("EarningsPerShareDiluted", "EarningsPerShareBasicAndDiluted") + _ifrs("DilutedEarningsLossPerShare"),
        "per_share",
        "duration",
    ),
    "shares_diluted_weighted": LineItem(
        _gaap("WeightedAverageNumberOfDilutedSharesOutstanding")
        + _ifrs("AdjustedWeightedAverageShares", "WeightedAverageShares"),
        "shares",
        "duration",
    ),
    "shares_outstanding": LineItem((("dei", "EntityCommonStockSharesOutstanding"),), "shares", "cover"),
    "total_assets": LineItem(_gaap("Assets") + _ifrs("Assets"), "currency", "instant"),
    "total_liabilities": LineItem(_gaap("Liabilities") + _ifrs("Liabilities"), "currency", "instant"),
    "stockholders_equity": LineItem(
        _gaap("StockholdersEquity", "StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest")
        + _ifrs("EquityAttributableToOwnersOfParent", "Equity"),
        "currency",
        "instant",
    ),
    "current_assets": LineItem(_gaap("AssetsCurrent") + _ifrs("CurrentAssets"), "currency", "instant"),
    "current_liabilities": LineItem(_gaap("LiabilitiesCurrent") + _ifrs("CurrentLiabilities"), "currency", "instant"),
    "cash": LineItem(
        _gaap(
            "CashAndCashEquivalentsAtCarryingValue",
            "Cash",
            "CashCashEquivalentsRestrictedCashAndRestrictedCashEquivalents",
        )
        + _ifrs("CashAndCashEquivalents", "Cash"),
        "currency",
        "instant",
    ),
    "long_term_debt": LineItem(
        _gaap("LongTermDebtNoncurrent", "LongTermDebt", "LongTermDebtAndCapitalLeaseObligations")
        + _ifrs("LongtermBorrowings", "NoncurrentPortionOfNoncurrentBorrowings"),
        "currency",
        "instant",
    ),
    "operating_cash_flow": LineItem(
        _gaap(
            "NetCashProvidedByUsedInOperatingActivities",
            "NetCashProvidedByUsedInOperatingActivitiesContinuingOperations",
        )
        + _ifrs("CashFlowsFromUsedInOperatingActivities", "CashFlowsFromUsedInOperations"),
        "currency",
        "duration",
        additive=True,
    ),
    "capex": LineItem(
        _gaap("PaymentsToAcquirePropertyPlantAndEquipment", "PaymentsToAcquireProductiveAssets")
        + _ifrs(
            "PurchaseOfPropertyPlantAndEquipmentClassifiedAsInvestingActivities", "PurchaseOfPropertyPlantAndEquipment"
        ),
        "currency",
        "duration",
        additive=True,
    ),
    "dividends_per_share": LineItem(
        _gaap("CommonStockDividendsPerShareDeclared", "CommonStockDividendsPerShareCashPaid")
        + _ifrs("DividendsRecognisedAsDistributionsToOwnersPerShare"),
        "per_share",
        "duration",
        additive=True,
    ),
}

# Inputs of derivations only; never in the output.
_HELPER_ITEMS: dict[str, LineItem] = {
    "_equity_including_noncontrolling": LineItem(
        _gaap("StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest") + _ifrs("Equity"),
        "currency",
        "instant",
    ),
    "_noncontrolling_interest": LineItem(
        _gaap("MinorityInterest") + _ifrs("NoncontrollingInterests"), "currency", "instant"
    ),
}

PERIODIC_FORMS = frozenset(
    {"10-K", "10-K/A", "10-Q", "10-Q/A", "10-KT", "10-KT/A", "10-QT", "10-QT/A", "20-F", "20-F/A", "40-F", "40-F/A"}
)
ANNUAL_DAYS = (350, 380)
QUARTER_DAYS = (80, 100)
_YTD_DAYS = {2: (170, 200), 3: (260, 290)}  # six and nine months year-to-date
_DAYS_PER_QUARTER = 365.25 / 4
_ANCHOR_SLACK_DAYS = 45  # half a quarter: absorbs 52/53-week drift around the nominal fiscal year end

STANDARD_COLUMNS = without_ticker(FUNDAMENTALS)  # one company's standardized items: the stored table's
KEY = ["item", "period_type", "fiscal_period"]
_SERIES_COLUMNS = [
    *KEY,
    "fiscal_year",
    "period_start",
    "period_end",
    "value",
    "unit",
    "concept",
    "taxonomy",
    "filed",
    "accession",
    "form",
    "derived",
]
_ONE_DAY = pd.Timedelta(days=1)
_SERIES_DTYPES = {
    "fiscal_year": "int64",
    "period_start": "datetime64[ns]",
    "period_end": "datetime64[ns]",
    "value": "float64",
    "filed": "datetime64[ns]",
    "derived": bool,
}


def _typed(series: pd.DataFrame) -> pd.DataFrame:
    """Series rows with stable dtypes (empty intermediate frames would otherwise be object)."""
    return series[_SERIES_COLUMNS].astype(_SERIES_DTYPES)


def _empty_series() -> pd.DataFrame:
    return _typed(pd.DataFrame(columns=_SERIES_COLUMNS))


# --------------------------------------------------------------------------- fiscal calendar


def parse_fiscal_year_end(mmdd: str) -> tuple[int, int]:
    """'0926' -> (9, 26): EDGAR's ``fiscalYearEnd`` (month and day of the nominal year end)."""
    if not isinstance(mmdd, str) or len(mmdd) != 4 or not mmdd.isdigit():
        raise ValueError(f"fiscal year end must be 'MMDD', got {mmdd!r}")
    month, day = int(mmdd[:2]), int(mmdd[2:])
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise ValueError(f"fiscal year end {mmdd!r} is not a valid month/day")
    return month, day


def infer_fiscal_year_end(facts: pd.DataFrame) -> str:
    """Circular mean of the end dates of annual (350-380 day) periods, as 'MMDD'."""
    durations = facts[~facts["is_instant"] & facts["form"].isin(PERIODIC_FORMS)]
    days = (durations["end"] - durations["start"]).dt.days
    ends = durations.loc[days.between(*ANNUAL_DAYS), "end"].drop_duplicates()
    if ends.empty:
        raise ValueError("cannot infer the fiscal year end (no annual periods): pass fiscal_year_end='MMDD'")
    angle = 2 * np.pi * (ends.dt.dayofyear.to_numpy() - 1) / 365.25
    mean_angle = np.arctan2(np.sin(angle).mean(), np.cos(angle).mean()) % (2 * np.pi)
    day_of_year = int(round(mean_angle * 365.25 / (2 * np.pi))) % 365
    return (pd.Timestamp("2001-01-01") + pd.Timedelta(days=day_of_year)).strftime("%m%d")


def _anniversaries(years: pd.Series, month: int, day: int) -> pd.Series:
    first_of_month = pd.to_datetime(pd.DataFrame({"year": years, "month": month, "day": 1}))
    month_end = first_of_month + pd.offsets.MonthEnd(0)
    return (first_of_month + pd.Timedelta(days=day - 1)).where(lambda d: d <= month_end, month_end)


def fiscal_position(ends: pd.Series, fiscal_year_end: str) -> pd.DataFrame:
    """Fiscal year and quarter (1-4) of period end dates, from the nominal fiscal year end.

    The fiscal year is the year of the first nominal year-end on or after ``end - 45 days``
    (so 52/53-week years ending a few days either side of it keep their label); the quarter
    counts whole quarters between the end date and that year-end.
    """
    month, day = parse_fiscal_year_end(fiscal_year_end)
    ends = pd.Series(pd.to_datetime(ends), copy=False)
    anchor = ends - pd.Timedelta(days=_ANCHOR_SLACK_DAYS)
    candidate = _anniversaries(anchor.dt.year, month, day)
    later = _anniversaries(anchor.dt.year + 1, month, day)
    year_end = candidate.where(candidate >= anchor, later)
    quarters_before = np.clip(np.rint((year_end - ends).dt.days / _DAYS_PER_QUARTER), 0, 3)
    return pd.DataFrame(
        {"fiscal_year": year_end.dt.year.astype("int64"), "quarter": (4 - quarters_before).astype("int64")},
        index=ends.index,
    )


def _label(period_type: str, fiscal_year: pd.Series, quarter: pd.Series) -> pd.Series:
    years = fiscal_year.astype(str)
    if period_type == "annual":
        return "FY" + years
    if period_type == "quarterly":
        return years + "Q" + quarter.astype(str)
    return years + "YTD" + quarter.astype(str)


# --------------------------------------------------------------------------- reported series


def _concept_table(items: dict[str, LineItem]) -> pd.DataFrame:
    rows = [
        (item, taxonomy, concept, priority, spec.unit_kind, spec.period_kind)
        for item, spec in items.items()
        for priority, (taxonomy, concept) in enumerate(spec.concepts)
    ]
    return pd.DataFrame(rows, columns=["item", "taxonomy", "concept", "priority", "unit_kind", "period_kind"])


def _reporting_currency(mapped: pd.DataFrame) -> str | None:
    """The most used ISO currency among monetary facts (else per-share facts): facts in other
    currencies (e.g. a subsidiary's local currency) are dropped, not mixed in."""
    for kind, pattern in (("currency", r"[A-Z]{3}"), ("per_share", r"[A-Z]{3}/shares")):
        units = mapped.loc[mapped["unit_kind"] == kind, "unit"]
        units = units[units.str.fullmatch(pattern)]
        if not units.empty:
            return str(units.value_counts().idxmax())[:3]
    return None


def _map_concepts(facts: pd.DataFrame) -> pd.DataFrame:
    mapped = facts.merge(_concept_table({**LINE_ITEMS, **_HELPER_ITEMS}), on=["taxonomy", "concept"], how="inner")
    currency = _reporting_currency(mapped)
    expected_unit = mapped["unit_kind"].map(
        {"currency": currency, "per_share": f"{currency}/shares", "shares": "shares"}
    )
    return mapped[mapped["unit"] == expected_unit]


def _report_period_ends(facts: pd.DataFrame) -> pd.Series:
    """Per accession, the end of the latest quarter/annual period it reports (the report date).

    Only periods ending on or before the filing count: a 10-Q can also report a dividend declared
    for the next quarter (NVDA, filed 2013-11-19), which would otherwise date its cover page ahead.
    """
    durations = facts[~facts["is_instant"]]
    days = (durations["end"] - durations["start"]).dt.days
    in_range = days.between(QUARTER_DAYS[0], ANNUAL_DAYS[1]) & (durations["end"] <= durations["filed"])
    return durations[in_range].groupby("accession")["end"].max()


def _period_end_dates(facts: pd.DataFrame) -> pd.Index:
    durations = facts[~facts["is_instant"]]
    days = (durations["end"] - durations["start"]).dt.days
    standard = (
        days.between(*ANNUAL_DAYS)
        | days.between(*QUARTER_DAYS)
        | days.between(*_YTD_DAYS[2])
        | days.between(*_YTD_DAYS[3])
    )
    return pd.Index(durations.loc[standard, "end"].unique())


def _duration_rows(mapped: pd.DataFrame, fiscal_year_end: str) -> pd.DataFrame:
    """Duration facts classified by length (annual, quarter, 6/9-month YTD) and labelled by end date.

    An annual period must end at a fiscal year-end; one that does not (an old fiscal calendar)
    is dropped rather than mislabelled.
    """
    rows = mapped[(mapped["period_kind"] == "duration") & ~mapped["is_instant"]]
    days = (rows["end"] - rows["start"]).dt.days
    position = fiscal_position(rows["end"], fiscal_year_end)
    rows = rows.assign(fiscal_year=position["fiscal_year"])
    quarter = position["quarter"]
    classes = [  # (period type, selection, nominal length in days)
        ("annual", days.between(*ANNUAL_DAYS) & (quarter == 4), 365),
        ("quarterly", days.between(*QUARTER_DAYS), 91),
        *(
            ("ytd", days.between(*bounds) & (quarter == ytd_quarter), 91 * ytd_quarter)
            for ytd_quarter, bounds in _YTD_DAYS.items()
        ),
    ]
    parts = [
        rows[selected].assign(
            period_type=period_type,
            fiscal_period=_label(period_type, rows["fiscal_year"], quarter)[selected],
            nominal_gap=(days[selected] - nominal_days).abs(),
        )
        for period_type, selected, nominal_days in classes
    ]
    return pd.concat(parts, ignore_index=True).rename(columns={"start": "period_start", "end": "period_end"})


def _instant_rows(instants: pd.DataFrame, fiscal_year_end: str) -> pd.DataFrame:
    """Instant values labelled with the quarter ending on their date, and with the year when it is Q4."""
    position = fiscal_position(instants["end"], fiscal_year_end)
    rows = instants.assign(fiscal_year=position["fiscal_year"], nominal_gap=0.0, start=pd.NaT)
    rows = rows.rename(columns={"start": "period_start", "end": "period_end"})
    quarterly = rows.assign(
        period_type="quarterly", fiscal_period=_label("quarterly", position["fiscal_year"], position["quarter"])
    )
    year_end = position["quarter"] == 4
    annual = rows[year_end].assign(
        period_type="annual", fiscal_period=_label("annual", position["fiscal_year"], position["quarter"])[year_end]
    )
    return pd.concat([quarterly, annual], ignore_index=True)


def _cover_rows(mapped: pd.DataFrame, report_ends: pd.Series) -> pd.DataFrame:
    """Cover-page values (dated after the period) moved to their filing's report period end.

    Several values in one filing at one date are share classes and are summed.
    """
    cover = mapped[mapped["period_kind"] == "cover"]
    group = ["item", "taxonomy", "concept", "priority", "unit", "accession", "filed", "form", "end"]
    cover = cover.groupby(group, as_index=False, dropna=False)["value"].sum()
    cover = cover.sort_values("end").drop_duplicates(["item", "accession"], keep="last")
    cover["end"] = cover["accession"].map(report_ends)
    return cover.dropna(subset=["end"]).assign(is_instant=True, start=pd.NaT)


def _reported_series(facts: pd.DataFrame, fiscal_year_end: str) -> pd.DataFrame:
    """One row per (item, period, filing): the highest-priority concept that filing reports."""
    mapped = _map_concepts(facts)
    period_ends = _period_end_dates(facts)
    instants = mapped[(mapped["period_kind"] == "instant") & mapped["is_instant"] & mapped["end"].isin(period_ends)]
    cover = _cover_rows(mapped, _report_period_ends(facts))
    rows = pd.concat(
        [
            _duration_rows(mapped, fiscal_year_end),
            _instant_rows(pd.concat([instants, cover], ignore_index=True), fiscal_year_end),
        ],
        ignore_index=True,
    )
    rows = rows.sort_values(["priority", "nominal_gap", "period_end"], ascending=[True, True, False], kind="stable")
    chosen = rows.drop_duplicates([*KEY, "accession"], keep="first").assign(derived=False)
    return _typed(chosen).reset_index(drop=True)


# --------------------------------------------------------------------------- point-in-time derivations


@dataclass(frozen=True)
class _Input:
    rows: pd.DataFrame  # series rows already re-keyed to the target (item, period_type, fiscal_period)
    sign: int
    tag: str = ""
    required: bool = True


_CARRIED = ["value", "filed", "accession", "form", "concept", "taxonomy", "unit", "period_start", "period_end"]


def _combine(inputs: list[_Input], period: str, driver: int = 0) -> pd.DataFrame:
    """Signed sum of input series, evaluated at every vintage of the ``driver`` input.

    At each driver vintage the latest vintage of every other input filed on or before it is
    used, so the result's ``filed`` is the driver's, the max of its inputs' ``filed``. Only the
    driver (the later-filed input, e.g. FY for Q4 = FY - 9M) triggers re-evaluation: a later
    comparative of the other input alone (e.g. a split-adjusted 9M in next year's 10-Q) would
    otherwise be mixed with a stale, differently based driver value. ``period`` says where the
    result's dates come from: "first" (same period as input 0), "span" (input 0's start to
    input 1's end, e.g. 6M = Q1 + Q2) or "after" (the day after input 1's end to input 0's end,
    e.g. Q4 = FY - 9M).
    """
    if any(part.required and part.rows.empty for part in inputs):
        return _empty_series()
    merged = _latest_inputs_at_driver_vintages(inputs, driver)
    merged = merged.dropna(subset=[f"value_{n}" for n, part in enumerate(inputs) if part.required])
    if merged.empty:
        return _empty_series()
    period_start, period_end = {
        "first": (merged["period_start_0"], merged["period_end_0"]),
        "span": (merged["period_start_0"], merged["period_end_1"]),
        "after": (merged["period_end_1"] + _ONE_DAY, merged["period_end_0"]),
    }[period]
    result = pd.DataFrame(
        {
            **{column: merged[column] for column in [*KEY, "fiscal_year"]},
            "period_start": period_start,
            "period_end": period_end,
            "value": sum(part.sign * merged[f"value_{n}"].fillna(0.0) for n, part in enumerate(inputs)),
            "unit": merged["unit_0"],
            "concept": _formula(merged, inputs),
            "taxonomy": merged["taxonomy_0"],
            "filed": merged[f"filed_{driver}"],
            "accession": merged[f"accession_{driver}"],
            "form": merged[f"form_{driver}"],
            "derived": True,
        }
    )
    return _drop_repeated_values(result)


def _series_key(rows: pd.DataFrame) -> pd.Series:
    return rows["item"] + "|" + rows["period_type"] + "|" + rows["fiscal_period"]


def _latest_inputs_at_driver_vintages(inputs: list[_Input], driver: int) -> pd.DataFrame:
    """One row per driver vintage with ``<column>_<n>`` = input n's latest vintage filed by then."""
    events = inputs[driver].rows[[*KEY, "fiscal_year", "filed"]].drop_duplicates([*KEY, "filed"])
    merged = events.assign(_key=_series_key(events)).sort_values("filed")
    for number, part in enumerate(inputs):
        right = part.rows.assign(_key=_series_key(part.rows)).sort_values(["filed", "accession"])[["_key", *_CARRIED]]
        right = right.rename(columns={column: f"{column}_{number}" for column in _CARRIED}).assign(filed=right["filed"])
        merged = pd.merge_asof(merged, right, on="filed", by="_key", direction="backward")
    return merged


def _formula(merged: pd.DataFrame, inputs: list[_Input]) -> pd.Series:
    """Readable provenance, e.g. 'Revenues[FY] - Revenues[YTD3]'; derived inputs are parenthesized."""
    formula = pd.Series("", index=merged.index)
    for number, part in enumerate(inputs):
        names = merged[f"concept_{number}"]
        compound = names.fillna("").str.contains(" ", regex=False)
        term = np.where(
            compound, "(" + names.fillna("") + ")", names.fillna("") + (f"[{part.tag}]" if part.tag else "")
        )
        operator = (" - " if part.sign < 0 else " + ") if number else ("-" if part.sign < 0 else "")
        formula = formula + np.where(names.notna(), operator + term, "")
    return formula


def _drop_repeated_values(series: pd.DataFrame) -> pd.DataFrame:
    """Keep a derived vintage only when its value differs from the previous one for the same period."""
    series = series.sort_values([*KEY, "filed"], kind="stable")
    same_key = (series[KEY] == series[KEY].shift()).all(axis=1)
    repeated = same_key & (series["value"] == series["value"].shift())
    return _typed(series[~repeated])


def _prefer(primary: pd.DataFrame, fallback: pd.DataFrame) -> pd.DataFrame:
    """Primary vintages, plus fallback vintages filed before the primary first became known."""
    if fallback.empty:
        return primary
    if primary.empty:
        return fallback
    first_known = primary.groupby(KEY)["filed"].min().rename("_first_primary").reset_index()
    fallback = fallback.merge(first_known, on=KEY, how="left")
    keep = fallback["_first_primary"].isna() | (fallback["filed"] < fallback["_first_primary"])
    return pd.concat([primary, fallback.loc[keep, _SERIES_COLUMNS]], ignore_index=True)


def _rekey(
    rows: pd.DataFrame, item: str | None = None, period_type: str | None = None, quarter: int | None = None
) -> pd.DataFrame:
    """Point rows at a target key: another item and/or the same fiscal year's period ``quarter``."""
    rows = rows.copy()
    if item is not None:
        rows["item"] = item
    if period_type is not None:
        rows["period_type"] = period_type
        rows["fiscal_period"] = _label(period_type, rows["fiscal_year"], pd.Series(quarter, index=rows.index))
    return rows


def _select(
    series: pd.DataFrame, items: str | list[str], period_types: str | list[str], quarter: int | None = None
) -> pd.DataFrame:
    items = [items] if isinstance(items, str) else items
    period_types = [period_types] if isinstance(period_types, str) else period_types
    rows = series[series["item"].isin(items) & series["period_type"].isin(period_types)]
    if quarter is not None:
        rows = rows[
            rows["fiscal_period"].str.endswith(f"Q{quarter}") | rows["fiscal_period"].str.endswith(f"YTD{quarter}")
        ]
    return rows


def _quarter_length_ok(rows: pd.DataFrame) -> pd.DataFrame:
    days = (rows["period_end"] - rows["period_start"]).dt.days
    return rows[days.between(*QUARTER_DAYS)]


def _plausible(rows: pd.DataFrame) -> pd.DataFrame:
    """Drop derived per-share quarters below zero: the sign of inputs on different split bases."""
    per_share = rows["unit"].str.endswith("/shares")
    return rows[~(per_share & (rows["value"] < 0))]


def _derive_quarters(series: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    """Discrete quarters of additive items: reported 3-month values, else differences of
    year-to-date totals (Q2 = 6M - Q1, Q3 = 9M - 6M, Q4 = FY - 9M); a missing 6M/9M total is
    itself built from the reported quarters, so Q4 = FY - (Q1 + Q2 + Q3) when only those exist.
    """
    quarter = {q: _select(series, items, "quarterly", q) for q in range(1, 5)}
    cumulative = {1: _rekey(quarter[1], period_type="ytd", quarter=1)}
    for q in (2, 3):

        def to_ytd(rows, q=q):
            return _rekey(rows, period_type="ytd", quarter=q)

        previous_tag = "Q1" if q == 2 else f"YTD{q - 1}"
        summed = _combine(
            [_Input(to_ytd(cumulative[q - 1]), +1, previous_tag), _Input(to_ytd(quarter[q]), +1, f"Q{q}")],
            "span",
            driver=1,
        )
        cumulative[q] = _prefer(_select(series, items, "ytd", q), summed)
    cumulative[4] = _rekey(_select(series, items, "annual"), period_type="ytd", quarter=4)
    derived = []
    for q in (2, 3, 4):

        def to_quarter(rows, q=q):
            return _rekey(rows, period_type="quarterly", quarter=q)

        difference = _combine(
            [
                _Input(to_quarter(cumulative[q]), +1, "FY" if q == 4 else f"YTD{q}"),
                _Input(to_quarter(cumulative[q - 1]), -1, "Q1" if q == 2 else f"YTD{q - 1}"),
            ],
            "after",
        )
        derived.append(_prefer(quarter[q], _plausible(_quarter_length_ok(difference))))
    replaced = (
        series["item"].isin(items)
        & (series["period_type"] == "quarterly")
        & ~series["fiscal_period"].str.endswith("Q1")
    )
    return pd.concat([series[~replaced], *derived], ignore_index=True)


def _derive_cross_items(series: pd.DataFrame) -> pd.DataFrame:
    """gross_profit = revenue - cost_of_revenue; total_liabilities = assets - total equity
    (equity including noncontrolling interest, else parent equity + noncontrolling interest)."""
    periods = ["annual", "quarterly"]

    def pick(item, target):
        return _rekey(_select(series, item, periods), target)

    gross = _combine(
        [_Input(pick("revenue", "gross_profit"), +1), _Input(pick("cost_of_revenue", "gross_profit"), -1)], "first"
    )
    equity_total = _prefer(
        pick("_equity_including_noncontrolling", "_equity_total"),
        _combine(
            [
                _Input(pick("stockholders_equity", "_equity_total"), +1),
                _Input(pick("_noncontrolling_interest", "_equity_total"), +1, required=False),
            ],
            "first",
        ),
    )
    liabilities = _combine(
        [_Input(pick("total_assets", "total_liabilities"), +1), _Input(_rekey(equity_total, "total_liabilities"), -1)],
        "first",
    )
    for item, derived in (("gross_profit", gross), ("total_liabilities", liabilities)):
        mask = (series["item"] == item) & series["period_type"].isin(periods)
        series = pd.concat([series[~mask], _prefer(series[mask], derived)], ignore_index=True)
    return series


# --------------------------------------------------------------------------- public API


def standardize(
    facts: pd.DataFrame, fiscal_year_end: str | None = None, acceptance: pd.Series | None = None
) -> pd.DataFrame:
    """Standardized line items for every period and every vintage (filing) that reported them.

    ``facts`` is the output of ``normalize_companyfacts`` for one company. ``fiscal_year_end``
    is EDGAR's 'MMDD' (submissions ``fiscalYearEnd``); inferred from annual periods when None.
    ``acceptance``: SEC acceptance times (UTC) indexed by accession number (``acceptance_times``
    of the company's filings); a vintage without one is known from the next session after its filing
    date. Only periodic reports (``PERIODIC_FORMS``) count. Output columns: ``STANDARD_COLUMNS``;
    ``vintage_rank`` is 1 for the first-filed value of an (item, period) and increases; ``accepted_at``
    and ``known_at`` as in the module docstring.
    """
    if facts["cik"].nunique() > 1:
        raise ValueError("standardize expects the facts of one company (one cik)")
    periodic = facts[facts["form"].isin(PERIODIC_FORMS)]
    if periodic.empty:
        return _empty_standard()
    fiscal_year_end = fiscal_year_end or infer_fiscal_year_end(periodic)
    series = _reported_series(periodic, fiscal_year_end)
    series = _derive_quarters(series, [item for item, spec in LINE_ITEMS.items() if spec.additive])
    series = _derive_cross_items(series)
    output = series[series["item"].isin(LINE_ITEMS.keys()) & series["period_type"].isin(["annual", "quarterly"])]
    return _finalize(output, acceptance)


def _empty_standard() -> pd.DataFrame:
    return _finalize(_empty_series())


# ------------------------------------------------------------------------------------------ knowledge time

CALENDAR = "XNYS"


def acceptance_times(filings: pd.DataFrame) -> pd.Series:
    """Acceptance time (UTC) per accession number from a company's ``filings`` rows (submissions data:
    ``accession_number``, ``acceptance_datetime``); empty when the columns are absent."""
    if filings is None or not {"accession_number", "acceptance_datetime"} <= set(filings.columns):
        return pd.Series(dtype="datetime64[ns, UTC]")
    rows = filings[["accession_number", "acceptance_datetime"]].dropna().drop_duplicates("accession_number")
    times = pd.to_datetime(rows["acceptance_datetime"], utc=True).astype("datetime64[ns, UTC]")
    return pd.Series(times.to_numpy(), index=rows["accession_number"].astype(str).to_numpy(), name="accepted_at")


def _sessions_and_closes(
    calendar: str, first: pd.Timestamp, last: pd.Timestamp
) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """(session dates, their closes as naive UTC instants) of a calendar covering first..last (the process's
    calendar: lib/market_calendar.py); dates before EDGAR's first electronic filings map to its first session."""
    return _naive_sessions_and_closes(market_calendar.covering(calendar, max(first, market_calendar.EARLIEST), last))


@cache
def _naive_sessions_and_closes(cal: market_calendar.ExchangeCalendar) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    sessions = pd.DatetimeIndex(cal.sessions)
    sessions = sessions.tz_localize(None) if sessions.tz is not None else sessions
    closes = pd.DatetimeIndex(cal.closes.to_numpy())
    return sessions, closes.tz_localize(None) if closes.tz is not None else closes


def first_session_known(accepted_at: pd.Series, filed: pd.Series, calendar: str = CALENDAR) -> pd.Series:
    """The first session (a date) on which a value may be used: the first session whose close comes
    after the acceptance time (accepted during a session: that day; at or after the close, on a weekend
    or a holiday: the next session; early closes count), or, where the acceptance time is NaT, the next
    session after the filing date (conservative: the filing may have been accepted after the close).
    """
    accepted = pd.to_datetime(pd.Series(accepted_at, dtype="datetime64[ns, UTC]"), utc=True).reset_index(drop=True)
    filed = pd.to_datetime(pd.Series(filed)).dt.normalize().reset_index(drop=True)
    out = pd.Series(pd.NaT, index=range(len(filed)), dtype="datetime64[ns]")
    days = pd.concat([accepted.dt.tz_convert(None).dt.normalize(), filed]).dropna()
    if days.empty:
        return out
    # a session after the last day (its next session), within the same cached calendar for most runs
    sessions, closes = _sessions_and_closes(calendar, days.min(), days.max() + pd.Timedelta(days=10))
    has_time = accepted.notna()
    at = closes.searchsorted(accepted[has_time].dt.tz_convert(None).to_numpy(), side="right")
    out[has_time] = sessions[at].to_numpy()
    no_time = ~has_time & filed.notna()
    after = sessions.searchsorted(filed[no_time].to_numpy(), side="right")
    out[no_time] = sessions[after].to_numpy()
    return out


def _with_knowledge_time(series: pd.DataFrame, acceptance: pd.Series | None) -> pd.DataFrame:
    series = series.copy()
    if acceptance is None or acceptance.empty:
        accepted = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns, UTC]")
    else:
        accepted = series["accession"].astype(str).map(acceptance).astype("datetime64[ns, UTC]")
    series["accepted_at"] = accepted
    known = first_session_known(accepted, series["filed"])
    series["known_at"] = known.to_numpy() if len(series) else pd.Series(dtype="datetime64[ns]")
    series["known_at"] = series["known_at"].astype("datetime64[ns]")
    return series


def _finalize(series: pd.DataFrame, acceptance: pd.Series | None = None) -> pd.DataFrame:
    series = series.astype(
        {
            "period_start": "datetime64[ns]",
            "period_end": "datetime64[ns]",
            "filed": "datetime64[ns]",
            "value": "float64",
            "derived": bool,
        }
    )
    series = series.sort_values([*KEY, "filed", "accession"], kind="stable").reset_index(drop=True)
    series["vintage_rank"] = series.groupby(KEY).cumcount().astype("int64") + 1
    series = _with_knowledge_time(series, acceptance)
    item_order = {item: position for position, item in enumerate(LINE_ITEMS)}
    series = series.sort_values(
        ["period_end", "period_type", "item", "vintage_rank"],
        key=lambda column: column.map(item_order) if column.name == "item" else column,
        kind="stable",
    )
    return series[STANDARD_COLUMNS].reset_index(drop=True)


def _last_vintage(std: pd.DataFrame) -> pd.DataFrame:
    return std.sort_values([*KEY, "vintage_rank"]).drop_duplicates(KEY, keep="last").sort_index()


def as_of(std: pd.DataFrame, when: date | str | pd.Timestamp) -> pd.DataFrame:
    """What was known on ``when`` (a report day, at its close): per item and period, the latest vintage
    with ``known_at`` on or before it (frames without ``known_at``: filed on or before it)."""
    column = "known_at" if "known_at" in std.columns else "filed"
    known = std[std[column] <= pd.Timestamp(when)]
    return _last_vintage(known).reset_index(drop=True)


def latest(std: pd.DataFrame) -> pd.DataFrame:
    """Latest (restated) value per item and period."""
    return _last_vintage(std).reset_index(drop=True)


def wide(std_view: pd.DataFrame, period_type: Literal["annual", "quarterly"]) -> pd.DataFrame:
    """One row per fiscal period (sorted by end date), a ``period_end`` column and one column per
    line item (all of ``LINE_ITEMS``, NaN when absent), from an ``as_of``/``latest`` view."""
    if period_type not in ("annual", "quarterly"):
        raise ValueError(f"period_type must be 'annual' or 'quarterly', got {period_type!r}")
    rows = std_view[std_view["period_type"] == period_type]
    if rows.duplicated(KEY).any():
        raise ValueError("wide() needs one vintage per item and period: pass as_of(...) or latest(...)")
    table = rows.pivot(index="fiscal_period", columns="item", values="value")
    table = table.reindex(columns=list(LINE_ITEMS))  # stable schema: absent items are NaN
    period_end = rows.groupby("fiscal_period")["period_end"].max()
    table.insert(0, "period_end", period_end)
    table.columns.name = None
    return table.sort_values("period_end")
