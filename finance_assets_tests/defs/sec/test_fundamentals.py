"""Tests for point-in-time standardized fundamentals: a hand-built companyfacts document covering
comparatives, amendments, concept switches and Q4 derivation, and the real AAPL/NVDA/IFRS filings."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from finance_assets.defs.sec.fundamentals import (
    KEY,
    LINE_ITEMS,
    STANDARD_COLUMNS,
    acceptance_times,
    as_of,
    first_session_known,
    fiscal_position,
    infer_fiscal_year_end,
    latest,
    parse_fiscal_year_end,
    standardize,
    wide,
)
from finance_assets.defs.sec.xbrl import normalize_companyfacts

# --------------------------------------------------------------------------- fiscal calendar


@pytest.mark.parametrize(
    ("end", "fiscal_year_end", "fiscal_year", "quarter"),
    [
        ("2023-09-30", "0926", 2023, 4),  # Apple 53-week year ends after the nominal date
        ("2022-09-24", "0926", 2022, 4),
        ("2023-12-30", "0926", 2024, 1),
        ("2024-06-29", "0926", 2024, 3),
        ("2024-01-28", "0131", 2024, 4),  # NVIDIA: last Sunday of January
        ("2023-10-29", "0131", 2024, 3),
        ("2024-04-28", "0131", 2025, 1),
        ("2021-01-02", "1231", 2020, 4),  # 52/53-week year ending just after Dec 31
        ("2024-03-30", "1231", 2024, 1),
        ("2024-12-31", "1231", 2024, 4),
        ("2024-06-30", "0630", 2024, 4),
        ("2024-02-29", "0229", 2024, 4),
        ("2023-02-28", "0229", 2023, 4),  # a Feb-29 year end in a common year
    ],
)
def test_fiscal_position_from_end_dates(end: str, fiscal_year_end: str, fiscal_year: int, quarter: int) -> None:
    position = fiscal_position(pd.Series(pd.to_datetime([end])), fiscal_year_end).iloc[0]
    assert (position["fiscal_year"], position["quarter"]) == (fiscal_year, quarter)


@pytest.mark.parametrize("bad", ["1331", "09-26", "926", "0900", None])
def test_parse_fiscal_year_end_rejects_garbage(bad) -> None:
    with pytest.raises(ValueError, match="fiscal year end"):
        parse_fiscal_year_end(bad)


# --------------------------------------------------------------------------- hand-built document

A22, A23, A23_AMENDED = "0000000123-23-000001", "0000000123-24-000001", "0000000123-24-000009"
Q1_22, Q2_22, Q3_22 = "0000000123-22-000001", "0000000123-22-000002", "0000000123-22-000003"
Q1_23, Q2_23, Q3_23 = "0000000123-23-000011", "0000000123-23-000012", "0000000123-23-000013"
TEN_K_2023_FILED, AMENDMENT_FILED = "2024-02-15", "2024-06-01"
# companyfacts gives no acceptance time: a value is known from the next session after its filing date
# (issue #16: conservative), so the Saturday amendment is first used on Monday
AMENDMENT_KNOWN = "2024-06-03"


def _fact(start: str | None, end: str, val, accn: str, fy: int, fp: str, form: str, filed: str) -> dict:
    fact = {"end": end, "val": val, "accn": accn, "fy": fy, "fp": fp, "form": form, "filed": filed}
    if start is not None:
        fact["start"] = start
    return fact


def _hand_built_document() -> dict:
    """FY = calendar year. 2022 uses `Revenues`; 2023 switches to the ASC 606 concept, and the
    FY2023 10-K repeats FY2022 (fy=2023, restated, with its Q4) under the new concept; a 10-K/A
    restates FY2023."""
    ten_k = dict(accn=A23, fy=2023, fp="FY", form="10-K", filed=TEN_K_2023_FILED)
    return {
        "cik": 123,
        "entityName": "Hand Built Co",
        "facts": {
            "dei": {
                "EntityCommonStockSharesOutstanding": {
                    "label": "Shares",
                    "units": {"shares": [_fact(None, "2024-02-01", 5000, **ten_k)]},
                }
            },
            "us-gaap": {
                "Revenues": {
                    "label": "Revenues",
                    "units": {
                        "USD": [
                            _fact("2022-01-01", "2022-03-31", 200, Q1_22, 2022, "Q1", "10-Q", "2022-05-01"),
                            _fact("2022-04-01", "2022-06-30", 250, Q2_22, 2022, "Q2", "10-Q", "2022-08-01"),
                            _fact("2022-01-01", "2022-06-30", 450, Q2_22, 2022, "Q2", "10-Q", "2022-08-01"),
                            _fact("2022-07-01", "2022-09-30", 260, Q3_22, 2022, "Q3", "10-Q", "2022-11-01"),
                            _fact("2022-01-01", "2022-09-30", 710, Q3_22, 2022, "Q3", "10-Q", "2022-11-01"),
                            _fact("2022-01-01", "2022-12-31", 1000, A22, 2022, "FY", "10-K", "2023-02-15"),
                        ]
                    },
                },
                "RevenueFromContractWithCustomerExcludingAssessedTax": {
                    "label": "Revenue from contracts",
                    "units": {
                        "USD": [
                            _fact(
                                "2022-01-01", "2022-12-31", 1005, **ten_k
                            ),  # restated prior-year comparative, fy=2023
                            _fact("2022-10-01", "2022-12-31", 295, **ten_k),  # a reported Q4 (quarterly data note)
                            _fact("2023-01-01", "2023-03-31", 280, Q1_23, 2023, "Q1", "10-Q", "2023-05-01"),
                            _fact("2023-04-01", "2023-06-30", 300, Q2_23, 2023, "Q2", "10-Q", "2023-08-01"),
                            _fact("2023-07-01", "2023-09-30", 310, Q3_23, 2023, "Q3", "10-Q", "2023-11-01"),
                            _fact("2023-01-01", "2023-12-31", 1200, **ten_k),
                            _fact("2023-01-01", "2023-12-31", 1150, A23_AMENDED, 2023, "FY", "10-K/A", AMENDMENT_FILED),
                        ]
                    },
                },
                "CostOfRevenue": {"label": "Cost", "units": {"USD": [_fact("2023-01-01", "2023-12-31", 700, **ten_k)]}},
                "NetIncomeLoss": {
                    "label": "Net income",
                    "units": {
                        "USD": [
                            _fact("2023-01-01", "2023-12-31", 90, **ten_k),
                            _fact(
                                "2023-01-01", "2023-12-31", 95, "0000000123-24-000050", None, None, "8-K", "2024-01-20"
                            ),
                        ]
                    },
                },
                "Assets": {"label": "Assets", "units": {"USD": [_fact(None, "2023-12-31", 5000, **ten_k)]}},
                "StockholdersEquity": {"label": "Equity", "units": {"USD": [_fact(None, "2023-12-31", 3000, **ten_k)]}},
                "MinorityInterest": {"label": "NCI", "units": {"USD": [_fact(None, "2023-12-31", 200, **ten_k)]}},
                # A balance at a date that ends no reported period: not a period value.
                "AssetsCurrent": {"label": "Current", "units": {"USD": [_fact(None, "2023-11-15", 10, **ten_k)]}},
            },
        },
    }


@pytest.fixture(scope="module")
def hand_std() -> pd.DataFrame:
    return standardize(normalize_companyfacts(_hand_built_document()), fiscal_year_end="1231")


def _value(view: pd.DataFrame, item: str, fiscal_period: str, period_type: str = "annual") -> pd.Series:
    rows = view[
        (view["item"] == item) & (view["fiscal_period"] == fiscal_period) & (view["period_type"] == period_type)
    ]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_output_schema(hand_std: pd.DataFrame) -> None:
    assert hand_std.columns.tolist() == STANDARD_COLUMNS
    assert set(hand_std["period_type"]) == {"annual", "quarterly"}
    assert hand_std.duplicated([*KEY, "filed", "accession"]).sum() == 0
    assert hand_std["derived"].dtype == bool and hand_std["vintage_rank"].min() == 1


def test_prior_year_comparative_with_later_fy_is_a_vintage_of_the_right_period(hand_std: pd.DataFrame) -> None:
    fy2022 = hand_std[(hand_std["item"] == "revenue") & (hand_std["fiscal_period"] == "FY2022")].sort_values(
        "vintage_rank"
    )
    assert fy2022["value"].tolist() == [1000.0, 1005.0]
    assert fy2022["accession"].tolist() == [A22, A23]
    assert fy2022["concept"].tolist() == ["Revenues", "RevenueFromContractWithCustomerExcludingAssessedTax"]
    assert "FY2023" not in set(fy2022["fiscal_period"])


def test_amendment_changes_the_value_only_from_its_filing_date(hand_std: pd.DataFrame) -> None:
    before = _value(as_of(hand_std, "2024-05-31"), "revenue", "FY2023")
    after = _value(as_of(hand_std, AMENDMENT_KNOWN), "revenue", "FY2023")
    assert (before["value"], before["form"]) == (1200.0, "10-K")
    assert _value(as_of(hand_std, AMENDMENT_FILED), "revenue", "FY2023")["value"] == 1200.0  # not yet known
    assert (after["value"], after["form"], after["vintage_rank"]) == (1150.0, "10-K/A", 2)
    assert _value(latest(hand_std), "revenue", "FY2023")["value"] == 1150.0
    assert not (as_of(hand_std, "2024-02-14")["fiscal_period"] == "FY2023").any()


def test_revenue_concept_is_chosen_per_period(hand_std: pd.DataFrame) -> None:
    view = latest(hand_std)
    assert _value(view, "revenue", "2022Q1", "quarterly")["concept"] == "Revenues"
    assert (
        _value(view, "revenue", "2023Q1", "quarterly")["concept"]
        == "RevenueFromContractWithCustomerExcludingAssessedTax"
    )


def test_q4_from_nine_month_total(hand_std: pd.DataFrame) -> None:
    q4 = _value(as_of(hand_std, "2023-03-01"), "revenue", "2022Q4", "quarterly")
    assert q4["value"] == 1000 - 710 and bool(q4["derived"])
    assert (q4["period_start"], q4["period_end"]) == (pd.Timestamp("2022-10-01"), pd.Timestamp("2022-12-31"))
    assert q4["filed"] == pd.Timestamp("2023-02-15") and q4["accession"] == A22


def test_reported_q4_replaces_the_derived_one_from_its_filing_date(hand_std: pd.DataFrame) -> None:
    q4 = hand_std[(hand_std["item"] == "revenue") & (hand_std["fiscal_period"] == "2022Q4")]
    # The restated FY (1005) would derive 295 too, but once a Q4 is reported it is used as is.
    assert q4[["value", "derived", "filed"]].values.tolist() == [
        [290.0, True, pd.Timestamp("2023-02-15")],
        [295.0, False, pd.Timestamp(TEN_K_2023_FILED)],
    ]


def test_q4_from_three_quarters_is_point_in_time(hand_std: pd.DataFrame) -> None:
    """2023 has only 3-month quarters: Q4 = FY - (Q1 + Q2 + Q3), recomputed when the 10-K/A lands."""
    original = _value(as_of(hand_std, "2024-03-01"), "revenue", "2023Q4", "quarterly")
    amended = _value(as_of(hand_std, AMENDMENT_KNOWN), "revenue", "2023Q4", "quarterly")
    assert original["value"] == 1200 - (280 + 300 + 310) and original["filed"] == pd.Timestamp(TEN_K_2023_FILED)
    assert amended["value"] == 1150 - (280 + 300 + 310) and amended["filed"] == pd.Timestamp(AMENDMENT_FILED)
    assert bool(original["derived"]) and bool(amended["derived"])
    assert not (as_of(hand_std, "2024-02-14")["fiscal_period"] == "2023Q4").any()


def test_gross_profit_and_total_liabilities_are_derived_and_marked(hand_std: pd.DataFrame) -> None:
    before, after = as_of(hand_std, "2024-03-01"), as_of(hand_std, AMENDMENT_KNOWN)
    gross = _value(before, "gross_profit", "FY2023")
    assert gross["value"] == 1200 - 700 and bool(gross["derived"])
    assert _value(after, "gross_profit", "FY2023")["value"] == 1150 - 700
    liabilities = _value(before, "total_liabilities", "FY2023")
    assert liabilities["value"] == 5000 - (3000 + 200) and bool(
        liabilities["derived"]
    )  # noncontrolling interest is equity
    assert not bool(_value(before, "total_assets", "FY2023")["derived"])


def test_instants_take_period_end_values_and_cover_shares_move_to_the_report_period(hand_std: pd.DataFrame) -> None:
    view = latest(hand_std)
    assert _value(view, "total_assets", "FY2023")["period_end"] == pd.Timestamp("2023-12-31")
    assert _value(view, "total_assets", "2023Q4", "quarterly")["value"] == 5000
    shares = _value(view, "shares_outstanding", "FY2023")
    assert shares["value"] == 5000 and shares["period_end"] == pd.Timestamp("2023-12-31")
    assert "current_assets" not in set(view["item"])  # 2023-11-15 ends no period


def test_non_periodic_forms_are_ignored(hand_std: pd.DataFrame) -> None:
    net_income = hand_std[(hand_std["item"] == "net_income") & (hand_std["fiscal_period"] == "FY2023")]
    assert net_income["value"].tolist() == [90.0] and net_income["form"].tolist() == ["10-K"]


def test_wide_pivots_one_row_per_period(hand_std: pd.DataFrame) -> None:
    annual = wide(as_of(hand_std, "2024-03-01"), "annual")
    assert annual.index.tolist() == ["FY2022", "FY2023"]
    assert annual.columns.tolist() == ["period_end", *LINE_ITEMS]
    assert annual.loc["FY2023", "revenue"] == 1200 and annual.loc["FY2023", "gross_profit"] == 500
    quarterly = wide(latest(hand_std), "quarterly")
    assert quarterly["period_end"].is_monotonic_increasing and quarterly.loc["2023Q4", "revenue"] == 260
    with pytest.raises(ValueError, match="one vintage"):
        wide(hand_std, "annual")


def test_as_of_equals_standardizing_only_what_was_known(hand_std: pd.DataFrame) -> None:
    facts = normalize_companyfacts(_hand_built_document())
    no_time = pd.Series(pd.NaT, index=range(len(facts)), dtype="datetime64[ns, UTC]")
    known_at = first_session_known(no_time, facts["filed"]).to_numpy()
    for when in ["2022-08-01", "2023-02-15", "2023-02-16", "2024-03-01", "2024-06-01", "2024-06-03"]:
        expected = latest(standardize(facts[known_at <= pd.Timestamp(when)], "1231"))
        _assert_same_view(as_of(hand_std, when), expected)


def _assert_same_view(left: pd.DataFrame, right: pd.DataFrame) -> None:
    columns = ["value", "filed", "accession", "concept", "derived"]
    pd.testing.assert_frame_equal(left.set_index(KEY).sort_index()[columns], right.set_index(KEY).sort_index()[columns])


def _dividend_document(fy_2022_in_10k: float) -> dict:
    """Dividends per share with a 2:1 split reflected in next year's comparatives."""
    dps = [
        _fact("2022-01-01", "2022-09-30", 0.75, Q3_22, 2022, "Q3", "10-Q", "2022-11-01"),
        _fact("2022-01-01", "2022-12-31", fy_2022_in_10k, A22, 2022, "FY", "10-K", "2023-02-15"),
        _fact("2022-01-01", "2022-09-30", 0.375, Q3_23, 2023, "Q3", "10-Q", "2023-11-01"),  # split-adjusted comparative
        _fact(
            "2022-01-01", "2022-12-31", 0.50, A23, 2023, "FY", "10-K", TEN_K_2023_FILED
        ),  # split-adjusted comparative
    ]
    return {
        "cik": 7,
        "entityName": "Split Co",
        "facts": {"us-gaap": {"CommonStockDividendsPerShareDeclared": {"label": "DPS", "units": {"USD/shares": dps}}}},
    }


def test_derived_q4_is_only_recomputed_when_the_year_total_is_refiled() -> None:
    std = standardize(normalize_companyfacts(_dividend_document(1.00)), "1231")
    q4 = std[(std["item"] == "dividends_per_share") & (std["fiscal_period"] == "2022Q4")].sort_values("filed")
    # Not 1.00 - 0.375 on 2023-11-01: the split-adjusted 9M alone must not be mixed with the old FY.
    assert q4["value"].tolist() == [0.25, 0.125]
    assert q4["filed"].tolist() == [pd.Timestamp("2023-02-15"), pd.Timestamp(TEN_K_2023_FILED)]


def test_negative_derived_per_share_quarter_is_dropped() -> None:
    # The split happened between the Q3 10-Q and the 10-K: FY (post-split) - 9M (pre-split) < 0.
    std = standardize(normalize_companyfacts(_dividend_document(0.50)), "1231")
    q4 = std[(std["item"] == "dividends_per_share") & (std["fiscal_period"] == "2022Q4")]
    assert q4["value"].tolist() == [0.125] and q4["filed"].tolist() == [pd.Timestamp(TEN_K_2023_FILED)]


def test_empty_and_unusable_inputs() -> None:
    facts = normalize_companyfacts(_hand_built_document())
    assert standardize(facts.iloc[:0], "1231").columns.tolist() == STANDARD_COLUMNS
    assert standardize(facts[facts["form"] == "8-K"], "1231").empty
    with pytest.raises(ValueError, match="one company"):
        standardize(pd.concat([facts, facts.assign(cik=456)]), "1231")
    with pytest.raises(ValueError, match="fiscal_year_end"):
        infer_fiscal_year_end(facts[facts["is_instant"]])


def test_infer_fiscal_year_end_from_annual_periods() -> None:
    facts = normalize_companyfacts(_hand_built_document())
    assert infer_fiscal_year_end(facts) in {"1230", "1231", "0101"}


# --------------------------------------------------------------------------- real filings

COMPANYFACTS = {
    "AAPL": ("CIK0000320193_AAPL.edgarkit.json", "0926"),
    "NVDA": ("CIK0001045810_NVDA.edgartools.json", "0131"),
    "LPA": ("CIK0001997711_LPA_ifrs.edgartools.json", "1231"),
}

# (revenue, net income, total assets) in $M as printed in each company's 10-K.
TEN_K_FIGURES = {
    "AAPL": {
        "FY2019": (260_174, 55_256, 338_516),
        "FY2020": (274_515, 57_411, 323_888),
        "FY2021": (365_817, 94_680, 351_002),
        "FY2022": (394_328, 99_803, 352_755),
        "FY2023": (383_285, 96_995, 352_583),
        "FY2024": (391_035, 93_736, 364_980),
    },
    "NVDA": {
        "FY2021": (16_675, 4_332, 28_791),
        "FY2022": (26_914, 9_752, 44_187),
        "FY2023": (26_974, 4_368, 41_182),
        "FY2024": (60_922, 29_760, 65_728),
        "FY2025": (130_497, 72_880, 111_601),
    },
}


@cache
def _real(ticker: str, realdata_path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    name, fiscal_year_end = COMPANYFACTS[ticker]
    facts = normalize_companyfacts((Path(realdata_path) / "sec" / "companyfacts" / name).read_bytes())
    return facts, standardize(facts, fiscal_year_end)


def _real_or_skip(realdata: Path, ticker: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not (realdata / "sec" / "companyfacts" / COMPANYFACTS[ticker][0]).exists():
        pytest.skip(f"companyfacts for {ticker} not present")
    return _real(ticker, str(realdata))


@pytest.mark.parametrize("ticker", ["AAPL", "NVDA"])
def test_real_annual_figures_match_the_10k(realdata: Path, ticker: str) -> None:
    _, std = _real_or_skip(realdata, ticker)
    annual = std[std["period_type"] == "annual"]
    for fiscal_period, figures in TEN_K_FIGURES[ticker].items():
        rows = annual[annual["fiscal_period"] == fiscal_period]
        first_filed = rows[rows["vintage_rank"] == 1].set_index("item")
        restated = latest(rows).set_index("item")
        for item, expected in zip(("revenue", "net_income", "total_assets"), figures):
            assert first_filed.loc[item, "value"] == expected * 1e6, (fiscal_period, item)
            assert first_filed.loc[item, "form"] == "10-K" and not first_filed.loc[item, "derived"]
            assert restated.loc[item, "value"] == expected * 1e6, (fiscal_period, item)
        days = (first_filed.loc["revenue", "period_end"] - first_filed.loc["revenue", "period_start"]).days
        assert 350 <= days <= 380


@pytest.mark.parametrize(
    ("ticker", "fiscal_period", "revenue_musd"),
    [("AAPL", "2023Q4", 89_498), ("NVDA", "2024Q4", 22_103), ("NVDA", "2025Q4", 39_331)],
)
def test_real_derived_q4_revenue(realdata: Path, ticker: str, fiscal_period: str, revenue_musd: int) -> None:
    _, std = _real_or_skip(realdata, ticker)
    q4 = _value(latest(std), "revenue", fiscal_period, "quarterly")
    assert q4["value"] == revenue_musd * 1e6 and bool(q4["derived"])
    assert 80 <= (q4["period_end"] - q4["period_start"]).days <= 100


@pytest.mark.parametrize("ticker", ["AAPL", "NVDA"])
def test_real_quarters_add_up_to_the_year(realdata: Path, ticker: str) -> None:
    _, std = _real_or_skip(realdata, ticker)
    view = latest(std)
    annual, quarterly = wide(view, "annual"), wide(view, "quarterly")
    for fiscal_period in TEN_K_FIGURES[ticker]:
        year = fiscal_period[2:]
        quarters = quarterly.loc[[f"{year}Q{q}" for q in range(1, 5)]]
        for item in ("revenue", "net_income", "operating_cash_flow"):
            # Filings round to $1M: reported 3-month quarters may differ from the 9M total by a unit or two.
            assert quarters[item].sum() == pytest.approx(annual.loc[fiscal_period, item], abs=2e6), (
                fiscal_period,
                item,
            )
        assert quarters["total_assets"].iloc[-1] == annual.loc[fiscal_period, "total_assets"]


@pytest.mark.parametrize(
    ("ticker", "dates"), [("AAPL", ["2016-01-15", "2023-12-31"]), ("NVDA", ["2019-11-30", "2024-03-01"])]
)
def test_real_as_of_uses_nothing_filed_later(realdata: Path, ticker: str, dates: list[str]) -> None:
    """as_of(d) on the full history equals standardizing only the facts known by d (companyfacts has no
    acceptance time: the next session after the filing date)."""
    facts, std = _real_or_skip(realdata, ticker)
    no_time = pd.Series(pd.NaT, index=range(len(facts)), dtype="datetime64[ns, UTC]")
    known_at = first_session_known(no_time, facts["filed"]).to_numpy()
    for when in dates:
        view = as_of(std, when)
        assert (view["filed"] < pd.Timestamp(when)).all()
        known = facts[known_at <= pd.Timestamp(when)]
        _assert_same_view(view, latest(standardize(known, COMPANYFACTS[ticker][1])))


def test_real_ifrs_filer(realdata: Path) -> None:
    facts, std = _real_or_skip(realdata, "LPA")
    view = latest(std)
    annual = wide(view, "annual")
    assert set(view["taxonomy"]) <= {"ifrs-full", "dei"} and set(view.loc[view["unit"] != "shares", "unit"]) <= {
        "USD",
        "USD/shares",
    }
    assert annual.loc["FY2024", "revenue"] == 43_862_372
    assert _value(view, "revenue", "FY2024")["concept"] == "Revenue"
    # Independent identity from the raw facts: assets - liabilities = total equity (incl. NCI).
    equity = (
        facts[(facts["concept"] == "Equity") & facts["is_instant"]].drop_duplicates("end").set_index("end")["value"]
    )
    for fiscal_period in ("FY2022", "FY2023", "FY2024"):
        row = annual.loc[fiscal_period]
        assert row["total_assets"] - row["total_liabilities"] == equity[row["period_end"]]
    assert infer_fiscal_year_end(facts) == "1231"


# ------------------------------------------------------------------------------------------ acceptance time (#16)


def _accepted(accession: str, new_york: str) -> pd.DataFrame:
    """A filings row (submissions data) with its acceptance time, given in New York wall time."""
    when = pd.Timestamp(new_york, tz="America/New_York").tz_convert("UTC")
    return pd.DataFrame({"accession_number": [accession], "acceptance_datetime": [when]})


@pytest.mark.parametrize(
    "accepted, first_day",
    [
        ("2024-02-15 17:30", "2024-02-16"),  # after the 16:00 close: the next session
        ("2024-02-15 16:00", "2024-02-16"),  # at the close: too late for that day's close
        ("2024-02-15 15:59", "2024-02-15"),  # during the session: that day's report uses it
        ("2024-02-16 18:00", "2024-02-20"),  # Friday evening, Monday 19th is Presidents' Day: Tuesday
        ("2023-11-24 13:30", "2023-11-27"),  # after the 13:00 early close on Black Friday
    ],
)
def test_known_at_is_the_first_session_closing_after_the_acceptance_time(accepted, first_day):
    facts = normalize_companyfacts(_hand_built_document())
    std = standardize(facts, "1231", acceptance=acceptance_times(_accepted(A23, accepted)))
    ten_k = std[std["accession"] == A23]
    assert len(ten_k) and (ten_k["known_at"] == pd.Timestamp(first_day)).all()
    assert (ten_k["accepted_at"] == pd.Timestamp(accepted, tz="America/New_York").tz_convert("UTC")).all()
    day_before = (pd.Timestamp(first_day) - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    assert _value(as_of(std, first_day), "revenue", "FY2023")["accession"] == A23
    assert not (as_of(std, day_before)["fiscal_period"] == "FY2023").any()
    # other filings have no acceptance time here: the next session after their filing date
    other = std[std["accession"] != A23]
    expected = first_session_known(
        pd.Series(pd.NaT, index=range(len(other)), dtype="datetime64[ns, UTC]"), other["filed"]
    )
    assert other["accepted_at"].isna().all() and (other["known_at"].to_numpy() == expected.to_numpy()).all()
    assert (other["known_at"] > other["filed"]).all()


def test_a_filing_without_acceptance_time_is_known_the_next_session():
    filed = pd.Series(pd.to_datetime(["2024-02-15", "2024-02-16", "2024-06-01", "2024-12-24"]))
    no_time = pd.Series(pd.NaT, index=range(4), dtype="datetime64[ns, UTC]")
    assert first_session_known(no_time, filed).dt.strftime("%Y-%m-%d").tolist() == [
        "2024-02-16",
        "2024-02-20",  # over the weekend and Presidents' Day
        "2024-06-03",
        "2024-12-26",  # Christmas
    ]


def test_known_at_works_past_the_calendars_default_end():
    """exchange_calendars ends a year after the machine's date by default; a clock set later still works."""
    accepted = pd.Series(pd.to_datetime(["2031-06-13 21:00"], utc=True))  # Friday 17:00 New York
    assert first_session_known(accepted, pd.Series(pd.to_datetime(["2031-06-13"])))[0] == pd.Timestamp("2031-06-16")
