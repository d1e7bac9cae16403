"""The holdings file reader (every malformed case names its line) and the valuation helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finance_assets.analytics.portfolio import (
    PortfolioError,
    holdings_values,
    portfolio_value_series,
    read_portfolio,
)

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
    prices = pd.DataFrame({"MSFT": [100.0, 110.0, np.nan, 121.0], "SAP": [100.0, 101.0, 102.0, 103.0],
                           "UNHELD": [1.0, 2.0, 3.0, 4.0]}, index=dates)
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
    assert values.groupby("date")["day_change_pct"].apply(lambda s: s.isna().all()).tolist() == [True, False, False,
                                                                                                  False]


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
    prices = pd.DataFrame({"AAPL": [100.0, 101.0], "NEWCO": [np.nan, 12.0]},
                          index=pd.to_datetime(["2024-01-02", "2024-01-03"]))
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
    prices = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.02, (300, 3)), axis=0)), index=dates,
                          columns=["AAA", "BBB", "CCC"])
    holdings = read_portfolio(HEADER + "AAA,10,90,USD\nBBB,3,120,USD\nCCC,7.5,80,USD\n")
    _returns_identity_holds(holdings, prices)


@pytest.mark.realdata
def test_return_identity_on_real_prices(realdata):
    closes = {ticker: pd.read_csv(realdata / "prices" / f"{ticker}_2013-2023_yf_ohlcv.csv", parse_dates=["Date"],
                                  index_col="Date")["Close"] for ticker in ("MSFT", "AAPL", "NVDA")}
    prices = pd.DataFrame(closes)
    assert len(prices) > 2500
    holdings = read_portfolio(HEADER + "MSFT,10,250,USD\nAAPL,25,150,USD\nNVDA,5,400,USD\n")
    _returns_identity_holds(holdings, prices)
    values = holdings_values(holdings, prices)
    last = values[values["date"] == prices.index[-1]].set_index("ticker")
    assert last.loc["AAPL", "market_value"] == pytest.approx(25 * prices["AAPL"].iloc[-1])
