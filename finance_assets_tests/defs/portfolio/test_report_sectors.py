"""The report's sectors: each holding's SEC industry (SIC) code, stored with its filings, mapped to a sector,
point in time (the latest filing known by the report day's close), through a declared dependency."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from finance_assets.defs.portfolio import assets as portfolio
from finance_assets.defs.sec import assets as sec
from finance_assets.defs.sec import schemas
from finance_assets.demo import source as demo
from finance_assets.lib.warehouse import StoredPartitions, Warehouse


def _stored_filings(ticker: str) -> object:
    """A demo company's `filings` rows as the asset stores them (from its submissions JSON)."""
    company = demo.COMPANIES_BY_TICKER[ticker]
    frame = sec._company_filings((demo.submissions_json(company.cik, dt.date(2025, 6, 2)), []), company.cik)
    frame.insert(0, "ticker", ticker)
    return schemas.FILINGS.conform(frame)


def _sectors(warehouse: Warehouse, tickers: list[str], day: pd.Timestamp) -> dict[str, str]:
    """The report's sectors from `warehouse`'s filings of `tickers`, read as the report reads them (its one
    connection, `_report_tables`, with empty panel, FX and snapshot inputs)."""
    inputs = [StoredPartitions(warehouse, name, ()) for name in ("market_panel", "fx_rates", "fundamental_snapshots")]
    with portfolio._report_tables(*inputs, tickers, "DEMOIDX") as con:
        return portfolio._sectors(con.execute(f"SELECT * FROM {portfolio.SECTOR_SOURCE}").df(), day)


DAY = pd.Timestamp("2025-06-02")  # the submissions' date: every stored filing is known by then


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
    sectors = _sectors(warehouse, [*tickers, "FRNQ", "NOPE"], DAY)
    assert sectors == {"KLQX": "Information Technology", "MRQX": "Financials", "DYNQ": "Utilities"}
    assert _sectors(warehouse, [], DAY) == {}
    # before any of their filings was known: no sector yet
    assert _sectors(warehouse, tickers, pd.Timestamp("2000-01-03")) == {}


def test_a_sic_change_moves_the_sector_only_from_the_session_its_filing_became_known(tmp_path):
    """KLQX (software, SIC 7372) files a 10-Q accepted Tuesday 2025-06-10 at 17:10 New York (after the close)
    under SIC 2834 (pharmaceuticals): Health Care from Wednesday's session on, Information Technology on
    Tuesday and before, whatever is stored."""
    warehouse = Warehouse(tmp_path)
    stored = _stored_filings("KLQX")
    later = stored.iloc[[0]].assign(
        accession_number="0009999999-25-000001",
        form="10-Q",
        filing_date=pd.Timestamp("2025-06-10"),
        acceptance_datetime=pd.Timestamp("2025-06-10 17:10", tz="America/New_York").tz_convert("UTC"),
        sic="2834",
    )
    assert (stored["filing_date"] < pd.Timestamp("2025-06-10")).all()
    warehouse.write_partitions("filings", [({"ticker": "KLQX"}, schemas.FILINGS.conform(pd.concat([stored, later])))])
    on = {day: _sectors(warehouse, ["KLQX"], pd.Timestamp(day)) for day in ("2025-06-09", "2025-06-10", "2025-06-11")}
    assert on == {
        "2025-06-09": {"KLQX": "Information Technology"},
        "2025-06-10": {"KLQX": "Information Technology"},  # accepted after Tuesday's close
        "2025-06-11": {"KLQX": "Health Care"},
    }


def test_the_report_declares_the_filings_it_reads_sectors_from():
    from finance_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    parents = {key.to_user_string() for key in graph.get(dg.AssetKey("portfolio_report")).parent_keys}
    assert portfolio.SECTOR_SOURCE == "filings" and "filings" in parents
