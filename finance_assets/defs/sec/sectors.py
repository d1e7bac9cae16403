"""A company's sector from its SEC Standard Industrial Classification code (submissions ``sic``).

EDGAR assigns every registrant a four-digit SIC code (``sic`` and ``sicDescription`` in the
submissions JSON). GICS sectors are proprietary, so this maps SIC ranges to GICS-like sector names,
the way the code's industry groups fall: e.g. 2834 pharmaceutical preparations -> Health Care,
3674 semiconductors -> Information Technology, 4911 electric services -> Utilities. The same rule
serves live and demo data. Unknown or missing codes give None (the report shows "Unclassified").
"""

from __future__ import annotations

SECTORS = (
    "Communication Services",
    "Consumer Discretionary",
    "Consumer Staples",
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Information Technology",
    "Materials",
    "Real Estate",
    "Utilities",
)

# (first code, last code, sector), the narrowest range that holds a code wins.
_RANGES: tuple[tuple[int, int, str], ...] = (
    (100, 999, "Consumer Staples"),  # agriculture, forestry, fishing
    (1000, 1099, "Materials"),  # metal mining
    (1100, 1299, "Energy"),  # coal
    (1300, 1399, "Energy"),  # oil and gas extraction
    (1400, 1499, "Materials"),  # nonmetallic minerals
    (1500, 1799, "Industrials"),  # construction
    (2000, 2199, "Consumer Staples"),  # food, beverages, tobacco
    (2200, 2399, "Consumer Discretionary"),  # textiles, apparel
    (2400, 2499, "Materials"),  # lumber and wood
    (2500, 2599, "Consumer Discretionary"),  # furniture
    (2600, 2699, "Materials"),  # paper
    (2700, 2799, "Communication Services"),  # printing and publishing
    (2800, 2899, "Materials"),  # chemicals
    (2830, 2836, "Health Care"),  # drugs
    (2840, 2844, "Consumer Staples"),  # soap, detergents, cosmetics
    (2900, 2999, "Energy"),  # petroleum refining
    (3000, 3099, "Materials"),  # rubber and plastics
    (3100, 3199, "Consumer Discretionary"),  # leather, footwear
    (3200, 3399, "Materials"),  # stone, glass, primary metals
    (3400, 3599, "Industrials"),  # fabricated metal, machinery
    (3570, 3579, "Information Technology"),  # computers and office equipment
    (3600, 3699, "Information Technology"),  # electronic equipment
    (3630, 3639, "Consumer Discretionary"),  # household appliances
    (3700, 3799, "Industrials"),  # transportation equipment
    (3710, 3716, "Consumer Discretionary"),  # motor vehicles
    (3750, 3751, "Consumer Discretionary"),  # motorcycles, bicycles
    (3800, 3899, "Information Technology"),  # instruments
    (3840, 3851, "Health Care"),  # medical instruments and supplies
    (3900, 3999, "Consumer Discretionary"),  # miscellaneous manufacturing (toys, jewelry, ...)
    (4000, 4799, "Industrials"),  # transportation
    (4800, 4899, "Communication Services"),  # communications
    (4900, 4999, "Utilities"),  # electric, gas, water, sanitary
    (4950, 4961, "Industrials"),  # waste management
    (5000, 5199, "Industrials"),  # wholesale
    (5120, 5122, "Health Care"),  # wholesale drugs
    (5140, 5149, "Consumer Staples"),  # wholesale groceries
    (5170, 5172, "Energy"),  # wholesale petroleum
    (5200, 5999, "Consumer Discretionary"),  # retail
    (5400, 5499, "Consumer Staples"),  # food stores
    (5900, 5912, "Consumer Staples"),  # drug stores
    (6000, 6499, "Financials"),  # banks, credit, brokers, insurance
    (6500, 6599, "Real Estate"),  # real estate
    (6700, 6799, "Financials"),  # holding and investment offices
    (6798, 6798, "Real Estate"),  # real estate investment trusts
    (7000, 7099, "Consumer Discretionary"),  # hotels
    (7200, 7299, "Consumer Discretionary"),  # personal services
    (7300, 7399, "Industrials"),  # business services
    (7370, 7379, "Information Technology"),  # computer programming, software, data processing
    (7500, 7599, "Consumer Discretionary"),  # automotive repair and services
    (7600, 7699, "Industrials"),  # miscellaneous repair
    (7800, 7899, "Communication Services"),  # motion pictures
    (7900, 7999, "Consumer Discretionary"),  # amusement and recreation
    (8000, 8099, "Health Care"),  # health services
    (8200, 8299, "Consumer Discretionary"),  # education
    (8700, 8799, "Industrials"),  # engineering, accounting, research, management
    (8730, 8731, "Health Care"),  # commercial physical and biological research
    (8900, 8999, "Industrials"),  # services not elsewhere classified
)


def sector_for_sic(sic: str | int | None) -> str | None:
    """The GICS-like sector of a SIC code ('2834' -> 'Health Care'); None when unknown or missing."""
    try:
        code = int(str(sic).strip())
    except (TypeError, ValueError):
        return None
    matches = [(last - first, sector) for first, last, sector in _RANGES if first <= code <= last]
    return min(matches)[1] if matches else None
