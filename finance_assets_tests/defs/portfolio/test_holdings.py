"""The holdings file reader (every malformed case names its line), valuation, FX crossing, the report's
per-holding query (point-in-time fundamentals) and the daily summary against empyrical."""

from __future__ import annotations

import functools

import duckdb
import numpy as np
import pandas as pd
import pytest

from finance_assets.defs.portfolio.holdings import (
    FLOW_ITEMS,
    HOLDING_COLUMNS,
    fundamental_snapshots,
    fx_to_base,
    holdings_table,
    holdings_values,
    portfolio_summary,
    portfolio_value_series,
    value_history,
)
from finance_assets.defs.sec import fundamentals as fundamentals_lib
from finance_assets.lib.holdings_file import PortfolioError, read_portfolio

HEADER = "ticker,shares,cost_basis,currency\n"
VALID = (
    "\ufeffTicker, Shares ,cost_basis,Currency,account,purchase_date\n"
    "# my holdings\n"
    "msft,10,250.5,usd,ira,2021-03-04\n"
    "\n"
    " brk.b ,3,300,USD,,\n"
    "SAP,2.5,120,eur,taxable,\n"
    "MSFT,0,0,USD,taxable,2020-01-02\n"
)


def problems_of(content: str | bytes) -> list[tuple[int, str]]:
    with pytest.raises(PortfolioError) as caught:
        read_portfolio(content)
    return caught.value.problems


# --------------------------------------------------------------------------- reading


def test_reads_and_normalizes_a_valid_file():
    holdings = read_portfolio(VALID)
    assert holdings.columns.tolist() == ["ticker", "shares", "cost_basis", "currency", "account", "purchase_date"]
    assert holdings["ticker"].tolist() == ["MSFT", "BRK-B", "SAP", "MSFT"]
    assert holdings["shares"].tolist() == [10.0, 3.0, 2.5, 0.0]
    assert holdings["cost_basis"].tolist() == [250.5, 300.0, 120.0, 0.0]
    assert holdings["currency"].tolist() == ["USD", "USD", "EUR", "USD"]
    assert holdings["account"].tolist() == ["ira", "", "taxable", "taxable"]
    assert holdings["shares"].dtype == "float64" and holdings["purchase_date"].dtype == "datetime64[ns]"
    assert holdings["purchase_date"].iloc[0] == pd.Timestamp("2021-03-04")
    assert holdings["purchase_date"].isna().tolist() == [False, True, True, False]


def test_path_bytes_and_text_give_the_same_frame(tmp_path):
    path = tmp_path / "portfolio.csv"
    path.write_text(VALID, encoding="utf-8")  # VALID starts with a BOM
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    expected = read_portfolio(VALID)
    pd.testing.assert_frame_equal(read_portfolio(path), expected)
    pd.testing.assert_frame_equal(read_portfolio(str(path)), expected)
    pd.testing.assert_frame_equal(read_portfolio(path.read_bytes()), expected)


def test_minimal_columns_get_empty_optional_columns():
    holdings = read_portfolio(HEADER + "AAPL,1,100,USD\r\nGOOGL,2,90,USD\r\n")
    assert holdings["ticker"].tolist() == ["AAPL", "GOOGL"]
    assert holdings["account"].tolist() == ["", ""]
    assert holdings["purchase_date"].isna().all()


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_portfolio(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("AAPL,1,1,USD\n../etc,1,1,USD\n", 3, "invalid ticker"),
        ("AAPL,1,1,USD\n\u0410APL,1,1,USD\n", 3, "invalid ticker"),  # Cyrillic look-alike
        ("TOOLONGTICKER1,1,1,USD\n", 2, "invalid ticker"),
        (",1,1,USD\n", 2, "missing ticker"),
        ("AAPL,-5,1,USD\n", 2, "shares '-5' is negative"),
        ("AAPL,ten,1,USD\n", 2, "shares 'ten' is not a number"),
        ("AAPL,nan,1,USD\n", 2, "shares 'nan' is not a number"),
        ("AAPL,1_000,1,USD\n", 2, "shares '1_000' is not a number"),
        ("AAPL,,1,USD\n", 2, "missing shares"),
        ("AAPL,1,-0.5,USD\n", 2, "cost_basis '-0.5' is negative"),
        ("AAPL,1,inf,USD\n", 2, "cost_basis 'inf' is not a number"),
        ("AAPL,1,1e999,USD\n", 2, "cost_basis '1e999' is out of range"),
        ("AAPL,1,$100,USD\n", 2, "cost_basis '$100' is not a number"),
        ("AAPL,1,1,USD\nMSFT,1,1,XYZ\n", 3, "unknown currency 'XYZ'"),
        ("AAPL,1,1,\n", 2, "missing currency"),
        ("AAPL,1,1,USD\n\nMSFT,1,1,USD\naapl,2,2,USD\n", 5, "duplicate holding AAPL (no account): already on line 2"),
        ("AAPL,1,1,USD,2\n", 2, "expected 4 fields"),
        ("AAPL,1,1\n", 2, "expected 4 fields"),
        ('AAPL,1,1,USD\n"MSFT,1,1,USD\n', 3, "unreadable CSV"),
    ],
)
def test_malformed_row_names_its_line(body, line, fragment):
    problems = problems_of(HEADER + body)
    assert len(problems) == 1, problems
    assert problems[0][0] == line
    assert fragment in problems[0][1]


def test_duplicate_needs_the_same_account():
    text = "ticker,shares,cost_basis,currency,account\nAAPL,1,1,USD,ira\nAAPL,1,1,USD,taxable\nAAPL,1,1,USD,ira\n"
    assert problems_of(text) == [(4, "duplicate holding AAPL (account 'ira'): already on line 2")]


@pytest.mark.parametrize("value", ["2024-13-01", "01/02/2024", "yesterday", "2024-02-30"])
def test_bad_purchase_date(value):
    problems = problems_of(f"ticker,shares,cost_basis,currency,purchase_date\nAAPL,1,1,USD,{value}\n")
    assert problems == [(2, f"purchase_date {value!r} is not a valid YYYY-MM-DD date")]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "file is empty"),
        ("\ufeff", "file is empty"),
        ("\n \n# only a comment\n", "file is empty"),
        (HEADER, "no holdings"),
        ("ticker,shares\nAAPL,1\n", "missing required column(s): cost_basis, currency"),
        ("ticker,shares,cost basis,currency\nAAPL,1,1,USD\n", "missing required column(s): cost_basis"),
        ("ticker,shares,cost_basis,currency,notes\nAAPL,1,1,USD,x\n", "unknown column(s): notes"),
        ("ticker,shares,cost_basis,currency,Ticker\nAAPL,1,1,USD,A\n", "repeated column(s): ticker"),
    ],
)
def test_bad_file_or_header_is_line_one(content, fragment):
    problems = problems_of(content)
    assert problems[0][0] == 1
    assert any(fragment in message for _, message in problems), problems


def test_bom_only_bytes_and_invalid_utf8_line():
    assert problems_of(b"\xef\xbb\xbf")[0][0] == 1
    assert problems_of(HEADER.encode() + b"AAPL,1,1,USD\nM\xe9SFT,1,1,USD\n") == [(3, "not valid UTF-8 (byte 0xe9)")]


def test_all_problems_are_collected_in_one_error():
    text = HEADER + "AAPL,1,1,USD\nBAD TICKER,1,1,USD\nMSFT,-1,x,USD\nGOOG,1,1,ABC\nAAPL,2,2,USD\n"
    with pytest.raises(PortfolioError) as caught:
        read_portfolio(text)
    error = caught.value
    assert isinstance(error, ValueError)
    assert [line for line, _ in error.problems] == [3, 4, 4, 5, 6]
    message = str(error)
    assert "5 problem(s)" in message
    for line in (3, 4, 5, 6):
        assert f"line {line}:" in message


# --------------------------------------------------------------------------- valuation


@pytest.fixture
def two_currency_book() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    holdings = read_portfolio(HEADER + "MSFT,10,100,USD\nSAP,2,120,EUR\n")
    dates = pd.bdate_range("2024-01-01", periods=4)
    prices = pd.DataFrame(
        {"MSFT": [100.0, 110.0, np.nan, 121.0], "SAP": [100.0, 101.0, 102.0, 103.0], "UNHELD": [1.0, 2.0, 3.0, 4.0]},
        index=dates,
    )
    fx = pd.DataFrame({"EUR": [1.10, 1.20]}, index=[dates[0], dates[2]])  # USD per EUR, sparse
    return holdings, prices, fx


def test_holdings_values_by_hand(two_currency_book):
    holdings, prices, fx = two_currency_book
    values = holdings_values(holdings, prices, fx, base="USD")
    assert len(values) == 8
    third_day = values[values["date"] == pd.Timestamp("2024-01-03")].set_index("ticker")
    # MSFT has no quote on day 3: the day-2 price (110) carries over; EUR rate 1.20 from day 3 on.
    assert third_day.loc["MSFT", "price"] == 110.0
    assert third_day.loc["MSFT", "market_value"] == pytest.approx(1100.0)
    assert third_day.loc["SAP", "market_value"] == pytest.approx(2 * 102.0 * 1.20)
    assert third_day.loc["SAP", "cost"] == pytest.approx(2 * 120.0 * 1.20)
    assert third_day.loc["SAP", "unrealized_pnl"] == pytest.approx(2 * (102.0 - 120.0) * 1.20)
    assert third_day.loc["SAP", "unrealized_pnl_pct"] == pytest.approx(102.0 / 120.0 - 1)
    assert third_day.loc["SAP", "day_change_pct"] == pytest.approx(102.0 / 101.0 - 1)
    assert third_day.loc["SAP", "day_change_value"] == pytest.approx(2 * 102.0 * 1.20 - 2 * 101.0 * 1.10)
    assert third_day.loc["MSFT", "weight"] == pytest.approx(1100.0 / (1100.0 + 244.8))
    assert values.groupby("date")["weight"].sum().to_numpy() == pytest.approx(np.ones(4))
    assert values.groupby("date")["day_change_pct"].apply(lambda s: s.isna().all()).tolist() == [
        True,
        False,
        False,
        False,
    ]


def test_value_series_is_the_sum_of_holding_values(two_currency_book):
    holdings, prices, fx = two_currency_book
    series = portfolio_value_series(holdings, prices, fx)
    expected = [10 * 100 + 2 * 100 * 1.1, 10 * 110 + 2 * 101 * 1.1, 10 * 110 + 2 * 102 * 1.2, 10 * 121 + 2 * 103 * 1.2]
    np.testing.assert_allclose(series.to_numpy(), expected, rtol=1e-12)
    by_date = holdings_values(holdings, prices, fx).groupby("date")["market_value"].sum()
    np.testing.assert_allclose(series.to_numpy(), by_date.to_numpy(), rtol=1e-12)


def test_base_currency_conversion_and_no_fx_needed_for_base():
    holdings = read_portfolio(HEADER + "SAP,1,100,EUR\n")
    prices = pd.DataFrame({"SAP": [100.0]}, index=pd.to_datetime(["2024-01-02"]))
    fx = pd.DataFrame({"EUR": [1.0]}, index=prices.index)
    assert portfolio_value_series(holdings, prices, fx, base="EUR").iloc[0] == 100.0
    usd_only = read_portfolio(HEADER + "AAPL,2,100,USD\n")
    assert portfolio_value_series(usd_only, pd.DataFrame({"AAPL": [150.0]}, index=prices.index)).iloc[0] == 300.0


def test_unpriced_dates_give_nan_totals_and_weights():
    holdings = read_portfolio(HEADER + "AAPL,1,100,USD\nNEWCO,1,10,USD\n")
    prices = pd.DataFrame(
        {"AAPL": [100.0, 101.0], "NEWCO": [np.nan, 12.0]}, index=pd.to_datetime(["2024-01-02", "2024-01-03"])
    )
    assert portfolio_value_series(holdings, prices).isna().tolist() == [True, False]
    values = holdings_values(holdings, prices)
    assert values["weight"].isna().tolist() == [True, True, False, False]


def test_zero_cost_basis_gives_nan_pnl_percent():
    holdings = read_portfolio(HEADER + "AAPL,1,0,USD\n")
    values = holdings_values(holdings, pd.DataFrame({"AAPL": [5.0]}, index=pd.to_datetime(["2024-01-02"])))
    assert np.isnan(values["unrealized_pnl_pct"].iloc[0])
    assert values["unrealized_pnl"].iloc[0] == 5.0


def test_missing_prices_or_fx_raise(two_currency_book):
    holdings, prices, fx = two_currency_book
    with pytest.raises(ValueError, match="no prices for: SAP"):
        holdings_values(holdings, prices.drop(columns="SAP"), fx)
    with pytest.raises(ValueError, match="no FX rates to USD for: EUR"):
        portfolio_value_series(holdings, prices, None)
    with pytest.raises(ValueError, match="unknown base currency"):
        portfolio_value_series(holdings, prices, fx, base="XXX")


def _returns_identity_holds(holdings: pd.DataFrame, prices: pd.DataFrame) -> None:
    """Portfolio return = sum of yesterday's weights x today's price returns (single currency)."""
    values = holdings_values(holdings, prices)
    weights = values.pivot(index="date", columns="ticker", values="weight")
    price_returns = values.pivot(index="date", columns="ticker", values="day_change_pct")
    implied = (weights.shift(1) * price_returns).sum(axis=1, min_count=1).iloc[1:]
    actual = portfolio_value_series(holdings, prices).pct_change().iloc[1:]
    np.testing.assert_allclose(implied.to_numpy(), actual.to_numpy(), rtol=1e-9, atol=1e-12)


def test_return_identity_on_synthetic_prices():
    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2022-01-03", periods=300)
    prices = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.02, (300, 3)), axis=0)), index=dates, columns=["AAA", "BBB", "CCC"]
    )
    holdings = read_portfolio(HEADER + "AAA,10,90,USD\nBBB,3,120,USD\nCCC,7.5,80,USD\n")
    _returns_identity_holds(holdings, prices)


@pytest.mark.realdata
def test_return_identity_on_real_prices(realdata):
    closes = {
        ticker: pd.read_csv(
            realdata / "prices" / f"{ticker}_2013-2023_yf_ohlcv.csv", parse_dates=["Date"], index_col="Date"
        )["Close"]
        for ticker in ("MSFT", "AAPL", "NVDA")
    }
    prices = pd.DataFrame(closes)
    assert len(prices) > 2500
    holdings = read_portfolio(HEADER + "MSFT,10,250,USD\nAAPL,25,150,USD\nNVDA,5,400,USD\n")
    _returns_identity_holds(holdings, prices)
    values = holdings_values(holdings, prices)
    last = values[values["date"] == prices.index[-1]].set_index("ticker")
    assert last.loc["AAPL", "market_value"] == pytest.approx(25 * prices["AAPL"].iloc[-1])


# --------------------------------------------------------------------------- FX crossing


def _quotes(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    """{date: {currency: units per EUR}} -> the ECB long format."""
    return pd.DataFrame(
        [
            {"date": pd.Timestamp(day), "currency": c, "per_eur": v}
            for day, quoted in rows.items()
            for c, v in quoted.items()
        ]
    )


def test_fx_to_base_crosses_through_eur_by_hand():
    quotes = _quotes(
        {"2024-01-02": {"USD": 1.10, "GBP": 0.86, "JPY": 160.0}, "2024-01-04": {"USD": 1.08, "GBP": 0.85, "JPY": 158.0}}
    )
    dates = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-20"])
    usd = fx_to_base(quotes, ["GBP", "EUR", "JPY", "USD"], "USD", dates)
    assert usd.loc["2024-01-02", "GBP"] == pytest.approx(1.10 / 0.86)  # USD per GBP
    assert usd.loc["2024-01-02", "EUR"] == pytest.approx(1.10)
    assert usd.loc["2024-01-03", "JPY"] == pytest.approx(1.10 / 160.0)  # no fixing that day: the last one
    assert usd.loc["2024-01-04", "GBP"] == pytest.approx(1.08 / 0.85)
    assert (usd["USD"] == 1.0).all()
    assert np.isnan(usd.loc["2024-01-20", "GBP"])  # 16 days without a fixing: stale, not carried
    eur = fx_to_base(quotes, ["USD", "GBP"], "EUR", dates[:3])
    assert eur.loc["2024-01-04", "USD"] == pytest.approx(1 / 1.08)
    assert eur.loc["2024-01-04", "GBP"] == pytest.approx(1 / 0.85)
    # base currency only: no quotes needed at all
    only = fx_to_base(quotes.iloc[0:0], ["USD"], "USD", dates)
    assert (only["USD"] == 1.0).all()


def test_fx_to_base_names_what_is_missing():
    quotes = _quotes({"2024-01-02": {"USD": 1.1}})
    with pytest.raises(ValueError, match=r"no ECB reference rate for TWD \(quoted: EUR, USD\)"):
        fx_to_base(quotes, ["TWD", "USD"], "USD", pd.to_datetime(["2024-01-02"]))
    with pytest.raises(ValueError, match="unknown base currency"):
        fx_to_base(quotes, ["USD"], "XXX", pd.to_datetime(["2024-01-02"]))


# --------------------------------------------------------------------------- the per-holding query

DAYS = pd.bdate_range("2023-12-01", "2024-03-29")


def _panel(prices: dict[str, list[float]], **extra) -> pd.DataFrame:
    frames = []
    for ticker, closes in prices.items():
        frame = pd.DataFrame({"date": DAYS[: len(closes)], "ticker": ticker, "close": closes})
        frame["adj_close"] = frame["close"] * 0.98
        frame["rsi_14"], frame["sma_50"], frame["sma_200"], frame["bb_pctb"] = (
            55.0,
            frame["adj_close"] / 1.1,
            np.nan,
            0.4,
        )
        frame["headline_count"], frame["decayed_7d_score"] = np.nan, np.nan
        frames.append(frame)
    panel = pd.concat(frames, ignore_index=True)
    for column, values in extra.items():
        for (ticker, day), value in values.items():
            panel.loc[(panel["ticker"] == ticker) & (panel["date"] == pd.Timestamp(day)), column] = value
    return panel


def _fundamental_rows(ticker: str, rows: list[tuple], accepted_at: str = "10:00") -> pd.DataFrame:
    """(item, period_type, fiscal_period, period_end, value, unit, filed) -> the standardized layout.

    Every filing is accepted at `accepted_at` New York time on its filing date (10:00: during the
    session, so a filing on a session day is used in that day's report)."""
    frame = pd.DataFrame(rows, columns=["item", "period_type", "fiscal_period", "period_end", "value", "unit", "filed"])
    frame.insert(0, "ticker", ticker)
    frame["period_end"] = pd.to_datetime(frame["period_end"])
    frame["filed"] = pd.to_datetime(frame["filed"])
    frame = frame.sort_values(["item", "period_type", "fiscal_period", "filed"], kind="stable")
    frame["vintage_rank"] = frame.groupby(["item", "period_type", "fiscal_period"]).cumcount() + 1
    frame = frame.reset_index(drop=True)
    accepted = (frame["filed"] + pd.Timedelta(accepted_at + ":00")).dt.tz_localize("America/New_York")
    frame["known_at"] = fundamentals_lib.first_session_known(accepted.dt.tz_convert("UTC"), frame["filed"])
    return frame


def _company(ticker: str = "AAA", unit: str = "USD") -> pd.DataFrame:
    """Two fiscal years of a calendar-year company: 10-Qs ~40 days after the quarter, the 10-K on Feb 20."""
    rows = []
    quarter_end = {1: "03-31", 2: "06-30", 3: "09-30", 4: "12-31"}
    filed = {1: "05-08", 2: "08-08", 3: "11-08"}
    eps = {2022: [0.50, 0.60, 0.70, 0.80], 2023: [0.55, 0.65, 0.75, 0.85]}
    for year in (2022, 2023):
        for q in (1, 2, 3):
            end, when = f"{year}-{quarter_end[q]}", f"{year}-{filed[q]}"
            rows += [
                ("eps_diluted", "quarterly", f"{year}Q{q}", end, eps[year][q - 1], f"{unit}/shares", when),
                ("revenue", "quarterly", f"{year}Q{q}", end, 100.0 * q + year - 2022, unit, when),
                ("net_income", "quarterly", f"{year}Q{q}", end, 10.0 * q, unit, when),
                ("gross_profit", "quarterly", f"{year}Q{q}", end, 40.0 * q, unit, when),
                ("total_assets", "quarterly", f"{year}Q{q}", end, 1000.0 + q, unit, when),
                ("stockholders_equity", "quarterly", f"{year}Q{q}", end, 400.0 + q, unit, when),
                ("total_liabilities", "quarterly", f"{year}Q{q}", end, 600.0, unit, when),
                ("current_assets", "quarterly", f"{year}Q{q}", end, 300.0, unit, when),
                ("current_liabilities", "quarterly", f"{year}Q{q}", end, 200.0, unit, when),
                ("shares_outstanding", "quarterly", f"{year}Q{q}", end, 1000.0, "shares", when),
            ]
        end, when = f"{year}-12-31", f"{year + 1}-02-20"
        rows += [
            ("eps_diluted", "annual", f"FY{year}", end, sum(eps[year]), f"{unit}/shares", when),
            ("revenue", "annual", f"FY{year}", end, 1000.0 + year - 2022, unit, when),
            ("net_income", "annual", f"FY{year}", end, 100.0, unit, when),
            ("gross_profit", "annual", f"FY{year}", end, 400.0, unit, when),
        ]
        for period_type, label in (("annual", f"FY{year}"), ("quarterly", f"{year}Q4")):
            rows += [
                ("total_assets", period_type, label, end, 1100.0, unit, when),
                ("stockholders_equity", period_type, label, end, 500.0, unit, when),
                ("total_liabilities", period_type, label, end, 600.0, unit, when),
                ("current_assets", period_type, label, end, 330.0, unit, when),
                ("current_liabilities", period_type, label, end, 220.0, unit, when),
                ("shares_outstanding", period_type, label, end, 1100.0, "shares", when),
            ]
    return _fundamental_rows(ticker, rows)


def run_query(
    days,
    holdings: pd.DataFrame,
    panel: pd.DataFrame,
    fx: pd.DataFrame | None = None,
    fundamentals: pd.DataFrame | None = None,
    base: str = "USD",
) -> pd.DataFrame:
    con = duckdb.connect()
    con.register("market_panel", panel)
    con.register(
        "fx_rates",
        fx
        if fx is not None
        else pd.DataFrame(
            {
                "date": pd.Series(dtype="datetime64[ns]"),
                "currency": pd.Series(dtype="object"),
                "per_eur": pd.Series(dtype="float64"),
            }
        ),
    )
    con.register("fundamentals", fundamentals if fundamentals is not None else _company().iloc[0:0])
    try:
        con.register("fundamental_snapshots", fundamental_snapshots(con))
        return holdings_table(con, days, holdings, base)
    finally:
        con.close()


def test_the_query_gives_the_same_bits_whatever_the_order_of_its_input_rows():
    """Float sums (a day's total behind the weights, a TTM's quarters) add in a fixed order, not in the order
    DuckDB's threads meet the rows: the same inputs give bit-identical tables run after run (#15: a build
    before and after a change compares cell by cell)."""
    rng = np.random.default_rng(7)
    tickers = [f"T{i:03d}" for i in range(150)]
    closes = {t: list(10.0 ** rng.uniform(-1, 4) * np.cumprod(1 + rng.normal(0, 0.02, len(DAYS)))) for t in tickers}
    panel = _panel(closes)
    holdings = pd.DataFrame(
        {
            "ticker": tickers,
            "shares": rng.integers(1, 10_000, len(tickers)).astype(float),
            "cost_basis": 10.0,
            "currency": "USD",
            "account": "",
            "purchase_date": pd.NaT,
        }
    )
    fundamentals = pd.concat([_company(t) for t in tickers[:40]], ignore_index=True)
    flows = fundamentals["item"].isin(FLOW_ITEMS)  # (a balance item's FY and Q4 rows stay equal, as filed)
    fundamentals.loc[flows, "value"] *= rng.uniform(0.9, 1.1, int(flows.sum()))  # sums that depend on their order
    tables = [
        run_query(
            DAYS[5:],
            holdings,
            panel.sample(frac=1.0, random_state=seed),
            None,
            fundamentals.sample(frac=1.0, random_state=seed),
        )
        for seed in range(5)
    ]
    assert tables[0]["weight"].notna().all() and tables[0]["ttm_eps_diluted"].notna().any()
    for table in tables[1:]:
        pd.testing.assert_frame_equal(table, tables[0], check_exact=True)


def test_valuation_and_signals_by_hand():
    holdings = read_portfolio(
        "ticker,shares,cost_basis,currency,account,purchase_date\n"
        "AAA,10,90,USD,ira,\nBBB,4,50,EUR,,\nAAA,5,100,USD,taxable,2024-01-10\n"
    )
    panel = _panel(
        {"AAA": [100.0 + i for i in range(30)], "BBB": [60.0 + i / 10 for i in range(25)]},
        headline_count={("AAA", "2024-01-02"): 3, ("AAA", "2024-01-05"): 2, ("BBB", "2023-12-20"): 1},
        decayed_7d_score={("AAA", "2024-01-02"): 0.4, ("AAA", "2024-01-05"): -0.2, ("BBB", "2023-12-20"): 0.9},
    )
    fx = _quotes({"2024-01-04": {"USD": 1.10}, "2024-01-05": {"USD": 1.12}})
    rows = run_query(["2024-01-05", "2024-01-08"], holdings, panel, fx)
    day = rows[rows["date"] == "2024-01-05"].set_index(["ticker", "account"])
    assert len(day) == 2  # the taxable AAA lot is bought on 2024-01-10
    aaa, bbb = day.loc[("AAA", "ira")], day.loc[("BBB", "")]
    # AAA: 2024-01-05 is the 26th session from 2023-12-01 -> close 125, previous 124
    assert aaa["price"] == 125.0 and aaa["prev_close"] == 124.0 and aaa["price_date"] == pd.Timestamp("2024-01-05")
    assert aaa["market_value"] == 1250.0 and aaa["cost"] == 900.0 and aaa["unrealized_pnl"] == 350.0
    assert aaa["unrealized_pnl_pct"] == pytest.approx(125 / 90 - 1)
    assert aaa["day_change_pct"] == pytest.approx(125 / 124 - 1) and aaa["day_change_value"] == pytest.approx(10.0)
    assert aaa["price_vs_sma50"] == pytest.approx(0.1) and aaa["rsi_14"] == 55.0 and aaa["bb_pctb"] == 0.4
    assert aaa["sentiment_7d"] == -0.2 and aaa["headlines_7d"] == 5  # last 7 calendar days
    # BBB: its prices stop on 2024-01-04 (25 sessions): valued at that close, converted at 1.12 USD/EUR
    assert bbb["price"] == pytest.approx(62.4) and bbb["price_date"] == pd.Timestamp("2024-01-04")
    assert bbb["fx_rate"] == pytest.approx(1.12)
    assert bbb["market_value"] == pytest.approx(4 * 62.4 * 1.12)
    assert bbb["unrealized_pnl_pct"] == pytest.approx(62.4 / 50 - 1)  # in the holding's currency
    assert np.isnan(bbb["sentiment_7d"]) and bbb["headlines_7d"] == 0  # its news is older than a week
    total = 1250.0 + 4 * 62.4 * 1.12
    assert aaa["weight"] == pytest.approx(1250.0 / total) and bbb["weight"] == pytest.approx(4 * 62.4 * 1.12 / total)
    # the next Monday: FX fixing of Friday carries over the weekend
    monday = rows[rows["date"] == "2024-01-08"].set_index(["ticker", "account"])
    assert monday.loc[("BBB", ""), "fx_rate"] == pytest.approx(1.12)
    assert list(rows.columns) == HOLDING_COLUMNS


def test_holdings_without_prices_or_fx_are_reported_not_dropped():
    holdings = read_portfolio("ticker,shares,cost_basis,currency\nAAA,1,1,USD\nNOPX,1,1,USD\nBBB,1,1,GBP\n")
    rows = run_query(
        ["2024-01-05"], holdings, _panel({"AAA": [10.0] * 30, "BBB": [5.0] * 30}), _quotes({"2024-01-05": {"USD": 1.1}})
    )
    by_ticker = rows.set_index("ticker")
    assert len(rows) == 3
    assert np.isnan(by_ticker.loc["NOPX", "price"]) and np.isnan(by_ticker.loc["NOPX", "market_value"])
    assert by_ticker.loc["BBB", "price"] == 5.0 and np.isnan(by_ticker.loc["BBB", "fx_rate"])  # no GBP fixing
    assert by_ticker.loc["AAA", "weight"] == 1.0  # weights over what can be valued


def test_fundamentals_switch_on_the_10k_filing_date_by_hand():
    holdings = read_portfolio("ticker,shares,cost_basis,currency\nAAA,10,90,USD\n")
    panel = _panel({"AAA": [100.0] * len(DAYS)})
    rows = run_query(["2024-02-16", "2024-02-20"], holdings, panel, fundamentals=_company()).set_index("date")
    before, after = rows.loc["2024-02-16"], rows.loc["2024-02-20"]
    # before the 10-K (filed 2024-02-20): Q3 2023 is the latest; TTM = FY2022 + 9M 2023 - 9M 2022
    assert before["fiscal_period"] == "2023Q3" and before["fundamentals_filed"] == pd.Timestamp("2023-11-08")
    ttm_eps = (0.5 + 0.6 + 0.7 + 0.8) + (0.55 + 0.65 + 0.75) - (0.5 + 0.6 + 0.7)
    assert before["ttm_eps_diluted"] == pytest.approx(ttm_eps)
    assert before["pe_ttm"] == pytest.approx(100.0 / ttm_eps)
    assert before["price_to_book"] == pytest.approx(100.0 * 1000.0 / 403.0)  # Q3 cover shares and equity
    assert before["debt_to_equity"] == pytest.approx(600.0 / 403.0)
    assert before["current_ratio"] == pytest.approx(300.0 / 200.0)
    ttm_income = 100.0 + 60.0 - 60.0
    ttm_revenue = 1000.0 + (101 + 201 + 301) - (100 + 200 + 300)
    assert before["roa"] == pytest.approx(ttm_income / 1003.0) and before["roe"] == pytest.approx(ttm_income / 403.0)
    assert before["net_margin"] == pytest.approx(ttm_income / ttm_revenue)
    assert before["gross_margin"] == pytest.approx((400.0 + 240.0 - 240.0) / ttm_revenue)
    # from the filing day on: FY2023 is known
    assert after["fiscal_period"] == "FY2023" and after["fundamentals_filed"] == pd.Timestamp("2024-02-20")
    assert after["ttm_eps_diluted"] == pytest.approx(0.55 + 0.65 + 0.75 + 0.85)
    assert after["price_to_book"] == pytest.approx(100.0 * 1100.0 / 500.0)
    assert after["market_cap"] == pytest.approx(100.0 * 1100.0)
    assert after["net_margin"] == pytest.approx(100.0 / 1001.0)


def test_a_filing_after_the_report_date_changes_nothing():
    """A restatement filed on 2024-03-01 with absurd values must not leak into earlier days."""
    holdings = read_portfolio("ticker,shares,cost_basis,currency\nAAA,10,90,USD\n")
    panel = _panel({"AAA": [100.0] * len(DAYS)})
    clean = _company()
    poison = [
        ("eps_diluted", "annual", "FY2023", "2023-12-31", 999.0, "USD/shares", "2024-03-01"),
        ("stockholders_equity", "annual", "FY2023", "2023-12-31", 1.0, "USD", "2024-03-01"),
        ("revenue", "quarterly", "2024Q1", "2024-03-31", 1e12, "USD", "2024-03-01"),
    ]
    restated = _fundamental_rows(
        "AAA", [*clean.drop(columns=["ticker", "vintage_rank", "known_at"]).itertuples(index=False), *poison]
    )
    days = ["2024-02-16", "2024-02-20", "2024-02-29", "2024-03-01"]
    before = run_query(days, holdings, panel, fundamentals=clean)
    after = run_query(days, holdings, panel, fundamentals=restated)
    fundamentals_columns = [
        "fiscal_period",
        "fundamentals_filed",
        "ttm_eps_diluted",
        "pe_ttm",
        "price_to_book",
        "roe",
        "net_margin",
    ]
    early = after["date"] < "2024-03-01"
    pd.testing.assert_frame_equal(after.loc[early, fundamentals_columns], before.loc[early, fundamentals_columns])
    last = after[after["date"] == "2024-03-01"].iloc[0]
    assert last["ttm_eps_diluted"] == 999.0 and last["fundamentals_filed"] == pd.Timestamp("2024-03-01")
    assert last["fiscal_period"] == "2024Q1"


def test_price_is_converted_to_the_reporting_currency_for_valuation_ratios():
    holdings = read_portfolio("ticker,shares,cost_basis,currency\nAAA,10,90,USD\n")
    panel = _panel({"AAA": [100.0] * len(DAYS)})
    fx = _quotes({"2024-02-20": {"USD": 1.25}})
    rows = run_query(["2024-02-20"], holdings, panel, fx, fundamentals=_company(unit="EUR"))
    row = rows.iloc[0]
    assert row["reporting_currency"] == "EUR"
    price_in_eur = 100.0 / 1.25
    assert row["pe_ttm"] == pytest.approx(price_in_eur / (0.55 + 0.65 + 0.75 + 0.85))
    assert row["price_to_book"] == pytest.approx(price_in_eur * 1100.0 / 500.0)
    assert row["market_value"] == 1000.0  # the holding itself is in USD = base


def _independent_ttm_eps(std: pd.DataFrame, day: pd.Timestamp) -> tuple[str, float]:
    """Sum of the last four quarters known on `day` (Q4 = FY - Q1 - Q2 - Q3), via fundamentals.as_of/wide."""
    known = fundamentals_lib.as_of(std, day)
    if known.empty:
        return "", float("nan")
    quarterly = fundamentals_lib.wide(known, "quarterly")["eps_diluted"].dropna()
    annual = fundamentals_lib.wide(known, "annual")["eps_diluted"].dropna()
    quarters = {(int(label[:4]), int(label[-1])): value for label, value in quarterly.items()}
    for label, value in annual.items():
        year = int(label[2:])
        parts = [quarters.get((year, q)) for q in (1, 2, 3)]
        if (year, 4) not in quarters and all(p is not None for p in parts):
            quarters[(year, 4)] = value - sum(parts)
    latest_end = known["period_end"].max()
    latest = known[known["period_end"] == latest_end]
    label = latest.sort_values("period_type")["fiscal_period"].iloc[0]  # 'annual' sorts first
    year, quarter = (int(label[2:]), 4) if label.startswith("FY") else (int(label[:4]), int(label[-1]))
    chain = [(year - (quarter - k <= 0), (quarter - k - 1) % 4 + 1) for k in range(4)]
    values = [quarters.get(key) for key in chain]
    return label, float(sum(values)) if all(v is not None for v in values) else float("nan")


def test_fundamentals_match_an_independent_point_in_time_computation_on_demo_filings():
    """Real standardization of the demo's companyfacts; every weekday over two years, three companies."""
    import datetime as dt

    from finance_assets.defs.sec import xbrl
    from finance_assets.demo import source as demo

    tickers = ["ACMQ", "CRXQ", "MRQX"]
    standardized = {}
    for ticker in tickers:
        facts = xbrl.normalize_companyfacts(
            demo.companyfacts_json(demo.COMPANIES_BY_TICKER[ticker].cik, dt.date(2025, 12, 31))
        )
        standardized[ticker] = fundamentals_lib.standardize(facts)
    funds = pd.concat([std.assign(ticker=t) for t, std in standardized.items()], ignore_index=True)
    days = pd.bdate_range("2024-01-01", "2025-12-31")
    panel = pd.concat([pd.DataFrame({"date": days, "ticker": t, "close": 50.0, "adj_close": 50.0}) for t in tickers])
    for column in ("rsi_14", "sma_50", "sma_200", "bb_pctb", "headline_count", "decayed_7d_score"):
        panel[column] = np.nan
    holdings = read_portfolio("ticker,shares,cost_basis,currency\n" + "".join(f"{t},1,1,USD\n" for t in tickers))
    rows = run_query(days, holdings, panel, fundamentals=funds)

    @functools.cache
    def expected(ticker: str, known_at: pd.Timestamp) -> tuple[str, float, float]:
        std = standardized[ticker]
        label, ttm = _independent_ttm_eps(std, known_at)
        known = fundamentals_lib.as_of(std, known_at)
        latest = known[known["period_end"] == known["period_end"].max()].set_index(["item", "period_type"])["value"]
        equity = latest.xs("stockholders_equity", level="item").iloc[0]
        shares = latest.xs("shares_outstanding", level="item").iloc[0]
        return label, ttm, 50.0 * shares / equity

    checked = 0
    for row in rows.itertuples(index=False):
        assert row.fundamentals_filed < row.date  # no acceptance times here: known the session after filing
        # what is known on a day only changes on knowledge dates: evaluate at the last one on or before it
        known_at = standardized[row.ticker]["known_at"]
        label, ttm, price_to_book = expected(row.ticker, known_at[known_at <= row.date].max())
        assert row.fiscal_period == label
        assert row.ttm_eps_diluted == pytest.approx(ttm, rel=1e-12), (row.ticker, row.date)
        assert row.price_to_book == pytest.approx(price_to_book, rel=1e-12)
        checked += 1
    assert checked == len(days) * len(tickers)
    assert rows["fiscal_period"].nunique() >= 8  # the snapshot really moves with the filings


# --------------------------------------------------------------------------- the portfolio per day


def test_summary_matches_empyrical_on_the_same_returns():
    empyrical = pytest.importorskip("empyrical")
    rng = np.random.default_rng(5)
    dates = pd.bdate_range("2023-01-02", periods=400)
    values = pd.Series(1e6 * np.cumprod(1 + rng.normal(0.0004, 0.011, 400)), index=dates)
    bench = pd.Series(4000 * np.cumprod(1 + rng.normal(0.0003, 0.009, 400)), index=dates)
    rows = pd.DataFrame(
        {
            "ticker": ["A", "B", "A"],
            "market_value": [50.0, 30.0, 20.0],
            "cost": [40.0, 40.0, 10.0],
            "day_change_value": [1.0, -2.0, 0.5],
        }
    )
    day = dates[-1]
    summary = portfolio_summary(day, rows, values, bench, risk_free_annual=0.04)
    returns = values.pct_change().dropna().tail(252)
    bench_returns = bench.pct_change().dropna().tail(252)
    rf = 1.04 ** (1 / 252) - 1
    assert summary["observations"] == 252
    assert summary["annualized_volatility"] == pytest.approx(empyrical.annual_volatility(returns), rel=1e-9)
    assert summary["sharpe"] == pytest.approx(empyrical.sharpe_ratio(returns, risk_free=rf), rel=1e-9)
    assert summary["sortino"] == pytest.approx(empyrical.sortino_ratio(returns, required_return=rf), rel=1e-9)
    assert summary["beta"] == pytest.approx(empyrical.beta(returns, bench_returns), rel=1e-9)
    assert summary["max_drawdown"] == pytest.approx(empyrical.max_drawdown(returns), rel=1e-9)
    assert summary["var_hist_95"] == pytest.approx(empyrical.value_at_risk(returns, 0.05), rel=1e-9)
    assert summary["cvar_99"] == pytest.approx(empyrical.conditional_value_at_risk(returns, 0.01), rel=1e-9)
    # totals, and concentration by ticker (two lots of A are one exposure)
    assert summary["total_value"] == 100.0 and summary["total_cost"] == 90.0 and summary["unrealized_pnl"] == 10.0
    assert summary["day_pnl"] == -0.5
    assert summary["hhi"] == pytest.approx(0.7**2 + 0.3**2) and summary["effective_holdings"] == pytest.approx(
        1 / (0.7**2 + 0.3**2)
    )
    year_start = values[values.index < "2024-01-01"].iloc[-1]
    assert summary["ytd"] == pytest.approx(values.iloc[-1] / year_start - 1)
    # a day inside the history only sees values up to that day
    earlier = portfolio_summary(dates[300], rows, values, bench)
    assert earlier["annualized_volatility"] == pytest.approx(
        empyrical.annual_volatility(values.iloc[:301].pct_change().dropna().tail(252)), rel=1e-9
    )


def test_value_history_uses_priced_holdings_and_fx():
    holdings = read_portfolio(HEADER + "AAA,2,1,USD\nBBB,3,1,EUR\nZZZ,1,1,USD\n")
    dates = pd.bdate_range("2024-01-01", periods=3)
    closes = pd.DataFrame({"AAA": [10.0, 11.0, 12.0], "BBB": [np.nan, 5.0, 6.0]}, index=dates)
    fx = pd.DataFrame({"USD": 1.0, "EUR": [1.1, 1.2, 1.3]}, index=dates)
    values = value_history(holdings, closes, fx, "USD")
    assert values.index.tolist() == list(dates[1:])  # BBB has no price on day one
    assert values.tolist() == pytest.approx([2 * 11 + 3 * 5 * 1.2, 2 * 12 + 3 * 6 * 1.3])


def test_a_10k_accepted_after_the_close_is_first_used_on_the_next_session():
    """Issue #16, problem 5: point in time is SEC's acceptance time, not the filing date. The FY2023 10-K
    is filed on Tuesday 2024-02-20; accepted at 17:30 New York time (after the 16:00 close) it is not in
    that day's report but in the next session's; accepted at 10:00 it is in that day's."""
    holdings = read_portfolio("ticker,shares,cost_basis,currency\nAAA,10,90,USD\n")
    panel = _panel({"AAA": [100.0] * len(DAYS)})
    rows = _company().drop(columns=["ticker", "vintage_rank", "known_at"]).itertuples(index=False)
    rows = list(rows)
    for accepted, first_day in (("17:30", "2024-02-21"), ("10:00", "2024-02-20")):
        funds = _fundamental_rows("AAA", rows, accepted_at=accepted)
        ten_k = funds[funds["filed"] == "2024-02-20"]
        assert (ten_k["known_at"] == pd.Timestamp(first_day)).all()
        out = run_query(["2024-02-20", "2024-02-21"], holdings, panel, fundamentals=funds).set_index("date")
        for day in ("2024-02-20", "2024-02-21"):
            expected = "FY2023" if day >= first_day else "2023Q3"
            assert out.loc[day, "fiscal_period"] == expected, (accepted, day)


def test_snapshots_of_fundamentals_stored_without_known_at_use_the_next_session_rule():
    """Rows stored before `known_at` existed (or from a source without acceptance times) are known from
    the next session after their filing date, never on the filing date itself."""
    import dagster as dg

    from finance_assets.defs.market.schemas import CORPORATE_ACTIONS
    from finance_assets.defs.portfolio import assets as report

    stored = _company().drop(columns=["known_at"])
    out = report.fundamental_snapshots(dg.build_asset_context(), stored, CORPORATE_ACTIONS.empty())
    ten_k = out[out["fundamentals_filed"] == pd.Timestamp("2024-02-20")]  # filed Tuesday 2024-02-20
    assert ten_k["known_at"].tolist() == [pd.Timestamp("2024-02-21")]
    assert (out["known_at"] > out["fundamentals_filed"]).all()
