"""Tests for companyfacts normalization: vintages kept, exact duplicates dropped, bad types refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

from finance_assets.defs.sec.xbrl import FACT_COLUMNS, normalize_companyfacts


def _fact(
    end: str,
    val,
    accn: str,
    filed: str,
    start: str | None = None,
    form: str = "10-K",
    fy: int | None = 2023,
    fp: str | None = "FY",
    frame: str | None = None,
) -> dict:
    fact = {"end": end, "val": val, "accn": accn, "fy": fy, "fp": fp, "form": form, "filed": filed}
    if start is not None:
        fact["start"] = start
    if frame is not None:
        fact["frame"] = frame
    return fact


def _document() -> dict:
    revenue = [
        _fact("2022-12-31", 1000, "0000000001-23-000001", "2023-02-15", start="2022-01-01", fy=2022),
        # Same period again as the prior-year comparative of the next 10-K: a second vintage.
        _fact("2022-12-31", 1000, "0000000001-24-000001", "2024-02-15", start="2022-01-01", fy=2023, frame="CY2022"),
        # Restated by a 10-K/A: a third vintage with a different value.
        _fact("2022-12-31", 990, "0000000001-24-000007", "2024-05-01", start="2022-01-01", form="10-K/A", fy=2023),
        # Exact duplicate of the first row (same accession, period, value): dropped.
        _fact("2022-12-31", 1000, "0000000001-23-000001", "2023-02-15", start="2022-01-01", fy=2022),
    ]
    return {
        "cik": "0000000001",
        "entityName": "Synthetic Co",
        "facts": {
            "dei": {
                "EntityCommonStockSharesOutstanding": {
                    "label": "Shares",
                    "units": {"shares": [_fact("2023-02-01", 500, "0000000001-23-000001", "2023-02-15")]},
                }
            },
            "us-gaap": {
                "Revenues": {"label": "Revenues", "units": {"USD": revenue}},
                "Assets": {
                    "label": None,
                    "units": {
                        "USD": [
                            _fact(
                                "2022-12-31", 5000.5, "0000000001-23-000001", "2023-02-15", fy=None, fp=None, form="8-K"
                            )
                        ]
                    },
                },
            },
        },
    }


def test_normalize_keeps_every_vintage_and_drops_only_exact_duplicates() -> None:
    facts = normalize_companyfacts(_document())
    assert facts.columns.tolist() == FACT_COLUMNS
    revenue = facts[facts["concept"] == "Revenues"].sort_values("filed")
    assert revenue["value"].tolist() == [1000.0, 1000.0, 990.0]
    assert revenue["form"].tolist() == ["10-K", "10-K", "10-K/A"]
    assert revenue["fy"].tolist() == [2022, 2023, 2023]
    assert len(facts) == 5


def test_normalize_types_and_instants() -> None:
    facts = normalize_companyfacts(_document())
    assert facts["cik"].unique().tolist() == [1]  # the IFRS-style string cik becomes an int
    assert str(facts["fy"].dtype) == "Int64" and facts["value"].dtype == "float64"
    for column in ("start", "end", "filed"):
        assert str(facts[column].dtype) == "datetime64[ns]"
    assets = facts[facts["concept"] == "Assets"].iloc[0]
    assert bool(assets["is_instant"]) and pd.isna(assets["start"]) and pd.isna(assets["fy"]) and assets["fp"] is None
    assert assets["label"] is None and assets["value"] == 5000.5
    shares = facts[facts["taxonomy"] == "dei"].iloc[0]
    assert (shares["concept"], shares["unit"], shares["value"]) == (
        "EntityCommonStockSharesOutstanding",
        "shares",
        500.0,
    )
    assert facts.loc[facts["frame"].notna(), "frame"].tolist() == ["CY2022"]


def test_normalize_accepts_bytes_and_str() -> None:
    raw = json.dumps(_document())
    pd.testing.assert_frame_equal(normalize_companyfacts(raw.encode()), normalize_companyfacts(raw))


def _broken(mutate) -> dict:
    document = copy.deepcopy(_document())
    mutate(document)
    return document


def _revenue_fact(document: dict) -> dict:
    return document["facts"]["us-gaap"]["Revenues"]["units"]["USD"][0]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: _revenue_fact(d).update(val="1000"), r"us-gaap:Revenues \[USD\]: 'val' is '1000' \(str\)"),
        (lambda d: _revenue_fact(d).update(val=True), r"us-gaap:Revenues \[USD\]: 'val' is True \(bool\)"),
        (lambda d: _revenue_fact(d).update(val=None), r"us-gaap:Revenues .*'val' is None"),
        (lambda d: _revenue_fact(d).update(val=float("nan")), r"us-gaap:Revenues .*not finite"),
        (lambda d: _revenue_fact(d).pop("end"), r"us-gaap:Revenues .*'end' is None"),
        (
            lambda d: _revenue_fact(d).update(end="2022-02-30"),
            r"us-gaap:Revenues .*'end' '2022-02-30' is not a YYYY-MM-DD date",
        ),
        (lambda d: _revenue_fact(d).update(start="2023-06-01"), r"us-gaap:Revenues .*start 2023-06-01 is after end"),
        (lambda d: _revenue_fact(d).update(fy="2023"), r"us-gaap:Revenues .*'fy'"),
        (lambda d: _revenue_fact(d).update(filed=20230215), r"us-gaap:Revenues .*'filed'"),
        (lambda d: _revenue_fact(d).update(accn=""), r"us-gaap:Revenues .*'accn' is empty"),
        (lambda d: d["facts"]["us-gaap"]["Revenues"].update(units=[]), r"us-gaap:Revenues: 'units' must be an object"),
        (
            lambda d: d["facts"]["us-gaap"]["Revenues"]["units"].update(USD={"a": 1}),
            r"us-gaap:Revenues \[USD\]: facts must be a list",
        ),
        (
            lambda d: d["facts"]["us-gaap"]["Revenues"]["units"]["USD"].append("x"),
            r"us-gaap:Revenues \[USD\]: 'fact' is 'x'",
        ),
        (lambda d: d.update(facts=[]), r"'facts' must be an object"),
        (lambda d: d.update(cik="abc"), r"cik"),
    ],
)
def test_normalize_rejects_wrong_types_naming_the_concept(mutate, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_companyfacts(_broken(mutate))


def test_normalize_rejects_invalid_json() -> None:
    with pytest.raises(ValueError, match="invalid JSON"):
        normalize_companyfacts(b"{not json")


def _raw_fact_keys(document: dict) -> set[tuple]:
    """Independent count: distinct (accession, taxonomy, concept, unit, start, end, value) in the raw JSON."""
    return {
        (fact["accn"], taxonomy, concept, unit, fact.get("start"), fact["end"], float(fact["val"]))
        for taxonomy, concepts in document["facts"].items()
        for concept, body in concepts.items()
        for unit, facts in body["units"].items()
        for fact in facts
    }


@pytest.mark.parametrize(
    "name",
    [
        "CIK0000320193_AAPL.edgarkit.json",
        "CIK0001045810_NVDA.edgartools.json",
        "CIK0001997711_LPA_ifrs.edgartools.json",
    ],
)
def test_real_companyfacts_normalize_completely(realdata: Path, name: str) -> None:
    path = realdata / "sec" / "companyfacts" / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    document = json.loads(path.read_bytes())
    facts = normalize_companyfacts(document)
    assert len(facts) == len(_raw_fact_keys(document))
    assert facts["cik"].nunique() == 1 and facts["cik"].iloc[0] == int(document["cik"])
    assert facts["end"].notna().all() and facts["filed"].notna().all()
    assert (facts["is_instant"] == facts["start"].isna()).all()


def test_real_aapl_revenue_vintages(realdata: Path) -> None:
    path = realdata / "sec" / "companyfacts" / "CIK0000320193_AAPL.edgarkit.json"
    if not path.exists():
        pytest.skip(f"{path} not present")
    facts = normalize_companyfacts(path.read_bytes())
    fy2022 = facts[
        (facts["concept"] == "RevenueFromContractWithCustomerExcludingAssessedTax")
        & (facts["start"] == "2021-09-26")
        & (facts["end"] == "2022-09-24")
    ]
    # Reported in the FY2022, FY2023 and FY2024 10-Ks: three vintages, all 394,328 $M.
    assert sorted(fy2022["accession"]) == ["0000320193-22-000108", "0000320193-23-000106", "0000320193-24-000123"]
    assert (fy2022["value"] == 394_328e6).all() and fy2022["fy"].tolist() == [2022, 2023, 2024]


def test_real_ifrs_taxonomy(realdata: Path) -> None:
    path = realdata / "sec" / "companyfacts" / "CIK0001997711_LPA_ifrs.edgartools.json"
    if not path.exists():
        pytest.skip(f"{path} not present")
    facts = normalize_companyfacts(path.read_bytes())
    assert set(facts["taxonomy"]) == {"dei", "ifrs-full"}
    assert facts["cik"].iloc[0] == 1997711 and {"USD", "COP", "USD/shares"} <= set(facts["unit"])
