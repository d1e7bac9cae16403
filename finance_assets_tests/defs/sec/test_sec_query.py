"""The DuckDB query documented in docs/sec.md, run as written on a warehouse with known prices and
signals: point in time (entry after the day the filing became public), 20 sessions, ranked by change."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from finance_assets.lib.warehouse import Warehouse

DOC = Path(__file__).resolve().parents[3] / "docs" / "sec.md"
TICKERS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]


def documented_query(name: str) -> str:
    text = DOC.read_text()
    match = re.search(rf"<!-- query: {name} -->\s*```sql\n(.*?)```", text, re.DOTALL)
    assert match, f"docs/sec.md has no query {name}"
    return match.group(1)


def _prices(ticker: str, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    rng = np.random.default_rng(TICKERS.index(ticker))
    closes = 50 * np.cumprod(1 + rng.normal(0, 0.01, len(sessions)))
    return pd.DataFrame({"ticker": ticker, "date": sessions, "adj_close": closes, "close": closes})


def _signal(ticker, accession, known_at, similarity, form="10-K", section="1A") -> dict:
    return {
        "ticker": ticker,
        "accession_number": accession,
        "form": form,
        "section": section,
        "known_at": pd.Timestamp(known_at, tz="UTC"),
        "similarity_prev": similarity,
        "sentences_added": 3,
        "sentences_removed": 1,
    }


@pytest.fixture
def warehouse(tmp_path) -> tuple[Warehouse, pd.DataFrame, dict]:
    wh = Warehouse(tmp_path / "warehouse")
    sessions = pd.bdate_range("2024-01-02", "2024-06-28")
    prices = {t: _prices(t, sessions) for t in TICKERS}
    for ticker, frame in prices.items():
        wh.write("prices", {"ticker": ticker}, frame)
    signals = pd.DataFrame(
        [
            # accepted 16:05 in New York on Friday 2024-03-01 (after the close): entry Monday 03-04
            _signal("AAA", "a-1", "2024-03-01 21:05:12", 0.62),
            # accepted 09:00 New York on Tuesday 03-05 (before the open): entry is still the next day
            _signal("BBB", "b-1", "2024-03-05 14:00:00", 0.91),
            # 23:30 New York on 03-06 is 04:30 UTC on 03-07: the New York day decides, entry 03-07
            _signal("CCC", "c-1", "2024-03-07 04:30:00", 0.75),
            _signal("DDD", "d-1", "2024-02-15 21:00:00", 0.99),
            _signal("EEE", "e-1", "2024-02-20 21:00:00", 0.83),
            # excluded: no previous 10-K, another section, another form, too recent for 20 sessions
            _signal("FFF", "f-0", "2024-02-01 21:00:00", float("nan")),
            _signal("FFF", "f-1", "2024-02-01 21:00:00", 0.10, section="7"),
            _signal("FFF", "f-2", "2024-02-01 21:00:00", 0.10, form="10-Q", section="II-1A"),
            _signal("FFF", "f-3", "2024-06-20 21:00:00", 0.20),
        ]
    )
    for ticker, frame in signals.groupby("ticker"):
        wh.write("filing_text_signals", {"ticker": ticker}, frame.reset_index(drop=True))
    wh.refresh_catalog()
    return wh, signals, prices


def _expected(signals: pd.DataFrame, prices: dict) -> pd.DataFrame:
    rows = []
    wanted = signals[(signals["form"] == "10-K") & (signals["section"] == "1A") & signals["similarity_prev"].notna()]
    for s in wanted.itertuples():
        px = prices[s.ticker].reset_index(drop=True)
        known_day = s.known_at.tz_convert("America/New_York").normalize().tz_localize(None)
        entry = int(px.index[px["date"] > known_day][0])
        if entry + 20 >= len(px):
            continue
        rows.append(
            {
                "accession_number": s.accession_number,
                "entry_day": px.loc[entry, "date"].date(),
                "exit_day": px.loc[entry + 20, "date"].date(),
                "return_20d": px.loc[entry + 20, "adj_close"] / px.loc[entry, "adj_close"] - 1,
                "similarity_prev": s.similarity_prev,
            }
        )
    return pd.DataFrame(rows).sort_values("similarity_prev").reset_index(drop=True)


def test_documented_query_joins_signals_to_prices_point_in_time(warehouse):
    wh, signals, prices = warehouse
    con = wh.connect()
    try:
        result = con.execute(documented_query("risk_factor_changes")).df()
    finally:
        con.close()
    expected = _expected(signals, prices)
    assert list(result["accession_number"]) == list(expected["accession_number"]) == ["a-1", "c-1", "e-1", "b-1", "d-1"]
    assert [d.date() for d in pd.to_datetime(result["entry_day"])] == list(expected["entry_day"])
    assert str(pd.Timestamp(result.loc[0, "entry_day"]).date()) == "2024-03-04"  # a-1: Monday after Friday 16:05
    assert str(pd.Timestamp(result.loc[1, "entry_day"]).date()) == "2024-03-07"  # c-1: 23:30 NY on 03-06
    assert str(pd.Timestamp(result.loc[3, "entry_day"]).date()) == "2024-03-06"  # b-1: before the open, next day
    assert [d.date() for d in pd.to_datetime(result["exit_day"])] == list(expected["exit_day"])
    np.testing.assert_allclose(result["return_20d"], expected["return_20d"])
    assert list(result["change_quintile"]) == [1, 2, 3, 4, 5]  # most changed first
