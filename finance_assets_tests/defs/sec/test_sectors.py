"""A company's sector from its SEC SIC code: real filers land where GICS puts them."""

from __future__ import annotations

import json

import pytest

from finance_assets.defs.sec import edgar
from finance_assets.defs.sec.sectors import SECTORS, sector_for_sic


@pytest.mark.parametrize(
    ("sic", "sector"),
    [
        ("3571", "Information Technology"),  # Apple: electronic computers
        ("3674", "Information Technology"),  # NVIDIA: semiconductors
        ("7372", "Information Technology"),  # Microsoft: prepackaged software
        ("3711", "Consumer Discretionary"),  # Tesla: motor vehicles (inside transportation equipment)
        ("2834", "Health Care"),  # pharmaceutical preparations (inside chemicals)
        ("6798", "Real Estate"),  # REITs (inside holding and investment offices)
        ("6022", "Financials"),  # state commercial banks
        ("1311", "Energy"),  # crude petroleum and natural gas
        ("4911", "Utilities"),
        ("4813", "Communication Services"),  # telephone communications
        ("5411", "Consumer Staples"),  # grocery stores (inside retail)
        (3841, "Health Care"),  # an int works too
    ],
)
def test_sic_codes_map_to_the_sector_gics_gives_such_companies(sic, sector):
    assert sector_for_sic(sic) == sector


@pytest.mark.parametrize("sic", [None, "", "9999", "abc", "0000"])
def test_unknown_or_missing_codes_have_no_sector(sic):
    assert sector_for_sic(sic) is None


def test_every_two_digit_major_group_of_a_business_has_a_sector():
    """Every SIC major group from agriculture to services (01-89) but the unused ones and the nonprofits."""
    unused = {3, 4, 5, 6, 18, 19, 66, 68, 69, 71, 74, 77, 85, 88}
    nonprofit = {81, 83, 84, 86}  # legal, social services, museums, membership organizations
    for group in range(1, 90):
        if group in unused | nonprofit:
            continue
        assert sector_for_sic(group * 100 + 10) in SECTORS, group


def test_real_submissions_give_their_sector(realdata):
    expected = {"AAPL": "Information Technology", "MSFT": "Information Technology", "TSLA": "Consumer Discretionary"}
    for path in sorted((realdata / "sec" / "submissions").glob("CIK*_*.edgartools.json")):
        ticker = path.name.split("_")[1].split(".")[0]
        if ticker not in expected or "-submissions-" in path.name:
            continue
        info, _ = edgar.parse_submissions(json.loads(path.read_text()))
        assert sector_for_sic(info["sic"]) == expected[ticker], (ticker, info["sic"], info["sic_description"])
