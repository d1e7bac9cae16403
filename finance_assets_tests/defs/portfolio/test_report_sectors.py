"""The report's sectors: each holding's SEC industry (SIC) code, stored with its filings, mapped to a sector."""

from __future__ import annotations

import datetime as dt

from finance_assets.defs.portfolio import assets as portfolio
from finance_assets.defs.sec import assets as sec
from finance_assets.defs.sec import schemas
from finance_assets.demo import source as demo
from finance_assets.lib.warehouse import Warehouse


def _stored_filings(ticker: str) -> object:
    """A demo company's `filings` rows as the asset stores them (from its submissions JSON)."""
    company = demo.COMPANIES_BY_TICKER[ticker]
    frame = sec._company_filings((demo.submissions_json(company.cik, dt.date(2025, 6, 2)), []), company.cik)
    frame.insert(0, "ticker", ticker)
    return schemas.FILINGS.conform(frame)


def test_filings_carry_the_companys_sic_code():
    frame = _stored_filings("CRXQ")
    assert set(frame["sic"]) == {"2834"}


def test_holdings_get_the_sector_of_their_sic_code(tmp_path):
    warehouse = Warehouse(tmp_path)
    tickers = ["KLQX", "MRQX", "DYNQ"]
    warehouse.write_partitions("filings", [({"ticker": t}, _stored_filings(t)) for t in tickers])
    # a partition stored before filings had a `sic` column: no sector, not an error
    old = _stored_filings("FRNQ").drop(columns=["sic"])
    warehouse.write_partitions("filings", [({"ticker": "FRNQ"}, old)])
    sectors = portfolio._sectors(warehouse, [*tickers, "FRNQ", "NOPE"])
    assert sectors == {"KLQX": "Information Technology", "MRQX": "Financials", "DYNQ": "Utilities"}
    assert portfolio._sectors(None, tickers) == {} and portfolio._sectors(warehouse, []) == {}
