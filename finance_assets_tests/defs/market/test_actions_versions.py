"""versions_by_ticker hashes the whole stored table in one pass: each ticker's version must be exactly
the hash of that ticker's rows alone, as `actions_version` always computed it (what the prices record in
their coverage, what the market sync compares, what a ticker's corporate_actions partition reports as its
data version): a version that changed its formula would re-fetch every stored month of every ticker."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pandas as pd

from finance_assets.defs.market import corporate_actions as ca
from finance_assets.lib.warehouse import Warehouse

TICKERS = ["AAA", "BBB", "C.X", "DD-1", "EEE"]


def _version_as_defined(actions: pd.DataFrame) -> str:
    """actions_version as it was first written (pandas' CSV writer with strftime dates), verbatim."""
    text = ca.normalized(actions).to_csv(index=False, float_format="%.12g", date_format="%Y-%m-%dT%H:%M:%S")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _one_by_one(table: pd.DataFrame, tickers) -> dict[str, str]:
    """The definition: each ticker's rows alone, hashed (what versions_by_ticker did ticker by ticker)."""
    groups = {ticker: rows for ticker, rows in table.groupby("ticker", sort=False)}
    return {ticker: _version_as_defined(groups.get(ticker, ca.empty_actions())) for ticker in tickers}


def _random_actions(rng: random.Random) -> pd.DataFrame:
    """Splits, reverse splits and dividends in no particular order, a ticker with one row, amounts that
    need all 12 significant digits, sources with commas and quotes (quoted in CSV), missing sources."""
    rows = []
    for ticker in rng.sample(TICKERS, k=rng.randint(1, len(TICKERS))):
        for _ in range(rng.choice([1, 2, 5, 9])):
            kind = rng.choice(["split", "reverse_split", "cash_dividend"])
            ex_date = pd.Timestamp("2016-01-04") + pd.Timedelta(days=rng.randrange(0, 3800))
            ratio = {"split": rng.choice([2.0, 3.0, 1.5]), "reverse_split": 0.25}.get(kind, np.nan)
            amount = round(rng.uniform(0.01, 3), rng.choice([2, 6, 11])) if kind == "cash_dividend" else np.nan
            source = rng.choice(["yahoo", "alphavantage", 'odd, "quoted"', None])
            rows.append((ticker, ex_date, kind, ratio, amount, source))
    frame = pd.DataFrame(rows, columns=["ticker", "ex_date", "kind", "ratio", "amount", "source"])
    frame = frame.drop_duplicates(["ticker", "ex_date", "kind"]).sample(frac=1, random_state=rng.randrange(1000))
    frame["known_at"] = (
        (pd.DatetimeIndex(frame["ex_date"]) + ca.KNOWN_AT_TIME).tz_localize(ca.NEW_YORK).tz_convert("UTC")
    )
    return frame.reset_index(drop=True)


def test_each_tickers_version_is_the_hash_of_its_rows_alone(tmp_path):
    rng = random.Random(2016)
    for _ in range(40):
        table = _random_actions(rng)
        asked = rng.sample([*TICKERS, "NONE"], k=rng.randint(1, len(TICKERS) + 1))
        assert ca.versions_by_ticker(table, asked) == _one_by_one(table, asked)
        assert ca.actions_version(table) == _version_as_defined(table)
    # as the sync reads it: one file per ticker, read back through the warehouse
    wh = Warehouse(tmp_path)
    for ticker, rows in table.groupby("ticker"):
        wh.write("corporate_actions", {"ticker": ticker}, ca.normalized(rows))
    stored = wh.read("corporate_actions")
    assert ca.versions_by_ticker(stored, TICKERS) == _one_by_one(stored, TICKERS)
    assert ca.versions_by_ticker(stored, TICKERS) == _one_by_one(table, TICKERS)


def test_a_version_moves_with_its_own_tickers_rows_only():
    table = ca.normalized(_random_actions(random.Random(7)))
    before = ca.versions_by_ticker(table, TICKERS)
    first = table["ticker"].iloc[0]
    changed = table.copy()
    changed.loc[0, "amount"] = (0 if pd.isna(changed.loc[0, "amount"]) else changed.loc[0, "amount"]) + 0.01
    after = ca.versions_by_ticker(changed, TICKERS)
    assert after[first] != before[first]
    assert {t: v for t, v in after.items() if t != first} == {t: v for t, v in before.items() if t != first}


def test_no_rows_a_missing_time_and_a_line_break_in_a_value():
    empty = _version_as_defined(ca.empty_actions())
    assert ca.actions_version(ca.empty_actions()) == empty
    assert ca.versions_by_ticker(ca.empty_actions(), ["AAA"]) == {"AAA": empty}
    table = _random_actions(random.Random(3))
    assert ca.versions_by_ticker(table, ["NONE"]) == {"NONE": empty}
    table.loc[1, "known_at"] = pd.NaT
    asked = sorted(set(table["ticker"]))
    assert ca.versions_by_ticker(table, asked) == _one_by_one(table, asked)
    # a source holding a line break spans two CSV lines: still each ticker's own hash
    table.loc[0, "source"] = "two\nlines"
    asked = sorted(set(table["ticker"]))
    assert ca.versions_by_ticker(table, asked) == _one_by_one(table, asked)
