from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from finance_assets.defs.market import prices as pp
from finance_assets.demo import source as demo


def test_yahoo_chart_round_trip_keeps_split_and_dividends():
    start = int(pd.Timestamp("2025-01-01", tz="UTC").timestamp())
    end = int(pd.Timestamp("2025-12-31", tz="UTC").timestamp())
    bars = pp.parse_yahoo_chart(json.dumps(demo.yahoo_chart_json("BLZQ", start, end)))
    truth = demo.adjust_for_splits_and_dividends(demo.demo_ohlcv("BLZQ"))
    truth = truth[(truth["date"] >= dt.date(2025, 1, 1)) & (truth["date"] <= dt.date(2025, 12, 30))]
    assert bars["date"].tolist() == truth["date"].tolist()
    np.testing.assert_allclose(bars["close"], truth["close"], rtol=1e-6)
    np.testing.assert_allclose(bars["adj_close"], truth["adj_close"], rtol=1e-6)
    assert bars.loc[bars["date"] == dt.date(2025, 6, 2), "split_ratio"].item() == 2.0
    assert pp.validate_prices(bars) == []


def test_stooq_csv_and_garbage():
    bars = pp.parse_stooq_csv(demo.stooq_csv("ACMQ"))
    assert len(bars) > 2000 and (bars["adj_close"] == bars["close"]).all()
    for garbage in ("No data", "<html>blocked</html>", "", "Exceeded the daily hits limit"):
        with pytest.raises(pp.PriceFormatError):
            pp.parse_stooq_csv(garbage)


def test_yahoo_error_document_is_rejected():
    with pytest.raises(pp.PriceFormatError, match="Not Found"):
        pp.parse_yahoo_chart({"chart": {"result": None, "error": {"code": "Not Found"}}})
    with pytest.raises(pp.PriceFormatError):
        pp.parse_yahoo_chart(b'{"unexpected": true}')


def test_alphavantage_raw_prices_are_split_adjusted():
    doc = {
        "Time Series (Daily)": {
            "2024-06-07": {
                "1. open": "1200",
                "2. high": "1210",
                "3. low": "1190",
                "4. close": "1200",
                "5. adjusted close": "120",
                "6. volume": "100",
                "7. dividend amount": "0",
                "8. split coefficient": "1.0",
            },
            "2024-06-10": {
                "1. open": "121",
                "2. high": "122",
                "3. low": "119",
                "4. close": "121",
                "5. adjusted close": "121",
                "6. volume": "1000",
                "7. dividend amount": "0",
                "8. split coefficient": "10.0",
            },
        }
    }
    bars = pp.parse_alphavantage_daily(doc)
    assert bars["close"].tolist() == [120.0, 121.0]
    assert bars["volume"].tolist() == [1000, 1000]
    with pytest.raises(pp.PriceFormatError, match="Alpha Vantage"):
        pp.parse_alphavantage_daily({"Note": "Thank you for using Alpha Vantage! rate limit"})


def test_validation_finds_bad_rows():
    bars = pp.parse_stooq_csv(demo.stooq_csv("ACMQ")).head(10).copy()
    bars.loc[3, "close"] = -1.0
    bars.loc[4, "volume"] = -5
    problems = pp.validate_prices(bars)
    assert any("non-positive" in p for p in problems) and "negative volume" in problems
    bars = pp.parse_stooq_csv(demo.stooq_csv("ACMQ")).head(10).copy()
    bars.loc[2, "low"] = bars.loc[2, "high"] * 1.1
    assert len(pp.ohlc_violations(bars)) == 1


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name,parser,rows",
    [
        ("AAPL_2000-2012_yahoo_adjclose.csv", pp.parse_price_csv, 3175),
        ("MSFT_2013-2023_yf_ohlcv.csv", pp.parse_price_csv, 2768),
        ("GSPC_2005-2025_yf.csv", pp.parse_price_csv, 5029),
        ("aapl.us_stooq_1984-2019.txt", pp.parse_stooq_csv, 8806),
        ("spy.us_stooq.txt", pp.parse_stooq_csv, None),
    ],
)
def test_real_price_files_parse(realdata, name, parser, rows):
    bars = parser((realdata / "prices" / name).read_text())
    if rows:
        assert len(bars) == rows
    assert bars["date"].is_monotonic_increasing and not bars["date"].duplicated().any()
    assert (bars[["open", "high", "low", "close", "adj_close"]] > 0).all().all()
    assert list(bars.columns) == pp.PRICE_COLUMNS


@pytest.mark.realdata
def test_real_yahoo_adj_close_differs_from_close(realdata):
    bars = pp.parse_price_csv((realdata / "prices" / "SPY_2000-2012_yahoo_adjclose.csv").read_text())
    first = bars.iloc[0]
    assert first["close"] == pytest.approx(140.9375) and first["adj_close"] == pytest.approx(93.857681)


def test_yahoo_chart_events_nulls_and_repeated_days():
    """Events land on their exchange day (a UTC stamp after midnight is still the New York day before), an
    event on a day without a bar is dropped, a null bar is dropped, and the repeated last bar (Yahoo's live
    quote) keeps its day's dividend and split."""
    day = lambda iso, hour: int(pd.Timestamp(f"{iso} {hour:02d}:00", tz="America/New_York").timestamp())  # noqa: E731
    stamps = [
        day("2025-03-03", 9),
        day("2025-03-04", 9),
        day("2025-03-05", 9),
        day("2025-03-06", 9),
        day("2025-03-06", 15),
    ]
    document = {
        "chart": {
            "result": [
                {
                    "meta": {"exchangeTimezoneName": "America/New_York"},
                    "timestamp": stamps,
                    "indicators": {
                        "quote": [
                            {
                                "open": [10.0, None, 11.0, 12.0, 12.5],
                                "high": [10.5, None, 11.5, 13.0, 13.0],
                                "low": [9.5, None, 10.5, 11.5, 12.0],
                                "close": [10.0, None, 11.0, 12.5, 12.8],
                                "volume": [1000, None, 3000, 4000, 4500],
                            }
                        ],
                        "adjclose": [{"adjclose": [9.9, None, 10.9, 12.5, 12.8]}],
                    },
                    "events": {
                        # 21:00 New York on the 3rd is 02:00 UTC on the 4th
                        "dividends": {"a": {"amount": 0.25, "date": day("2025-03-03", 21)}},
                        "splits": {
                            "b": {"numerator": 2, "denominator": 1, "date": day("2025-03-06", 9)},
                            "c": {"numerator": 3, "denominator": 1, "date": day("2025-03-08", 9)},  # a Saturday
                        },
                    },
                }
            ]
        }
    }
    bars = pp.parse_yahoo_chart(json.dumps(document))
    assert bars["date"].tolist() == [dt.date(2025, 3, 3), dt.date(2025, 3, 5), dt.date(2025, 3, 6)]
    assert bars["dividend"].tolist() == [0.25, 0.0, 0.0]
    assert bars["split_ratio"].tolist() == [1.0, 1.0, 2.0]
    assert bars["close"].tolist() == [10.0, 11.0, 12.8]  # the day's last bar
    assert bars["volume"].tolist() == [1000, 3000, 4500] and bars["volume"].dtype == "int64"
    assert bars["adj_close"].tolist() == [9.9, 10.9, 12.8]


def test_yahoo_chart_without_adjclose_or_with_text_numbers():
    document = {
        "chart": {
            "result": [
                {
                    "timestamp": [1741010400, 1741096800],
                    "indicators": {
                        "quote": [{"open": ["10", "x"], "high": [11, 12], "low": [9, 10], "close": [10, 11]}]
                    },
                }
            ]
        }
    }
    bars = pp.parse_yahoo_chart(document)
    assert bars["close"].tolist() == [10.0]  # "x" is no price: the row goes
    assert bars["adj_close"].tolist() == [10.0] and bars["volume"].tolist() == [0]
