"""The ECB reference-rate parser (real file format, line-numbered errors) and the demo/live FX source."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import httpx
import pandas as pd
import pytest

from finance_assets.defs.market.fx_source import ECB_HIST_ZIP_URL, FxFormatError, FxSource, parse_eurofxref_hist
from finance_assets.demo.source import DemoTransport, ecb_hist_zip

# The published header (41 currencies, trailing comma) and two days in the published format.
HEADER = (
    "Date,USD,JPY,BGN,CYP,CZK,DKK,EEK,GBP,HUF,LTL,LVL,MTL,PLN,ROL,RON,SEK,SIT,SKK,CHF,ISK,NOK,HRK,RUB,"
    "TRL,TRY,AUD,BRL,CAD,CNY,HKD,IDR,ILS,INR,KRW,MXN,MYR,NZD,PHP,SGD,THB,ZAR,"
)
ROWS = [
    "2024-03-15,1.0890,161.69,1.9558,N/A,24.950,7.4570,N/A,0.85458,395.38,N/A,N/A,N/A,4.2908,N/A,4.9698,11.3460,"
    "N/A,N/A,0.9614,149.30,11.5110,N/A,N/A,N/A,35.0430,1.6594,5.4267,1.4735,7.8388,8.5174,17007.55,3.9924,90.2160,"
    "1450.25,18.1891,5.1245,1.7896,60.564,1.4556,39.090,20.4200,",
    "2024-03-14,1.0925,161.68,1.9558,N/A,25.081,7.4566,N/A,0.85485,394.11,N/A,N/A,N/A,4.2850,N/A,4.9715,11.2738,"
    "N/A,N/A,0.9620,149.10,11.4700,N/A,N/A,N/A,35.1620,1.6558,5.4391,1.4730,7.8575,8.5447,17040.70,3.9827,90.4880,"
    "1440.77,18.2081,5.1215,1.7837,60.558,1.4564,39.100,20.3811,",
]
CSV = "\n".join([HEADER, *ROWS]) + "\n"


def zipped(text: str, name: str = "eurofxref-hist.csv") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


def test_parses_the_published_format():
    rates = parse_eurofxref_hist(zipped(CSV))
    assert rates.columns.tolist() == ["date", "currency", "per_eur"]
    assert rates["date"].dtype == "datetime64[ns]"
    assert rates["date"].min() == pd.Timestamp("2024-03-14")  # oldest first, whatever the file order
    march_15 = rates[rates["date"] == "2024-03-15"].set_index("currency")["per_eur"]
    assert march_15["USD"] == 1.0890 and march_15["JPY"] == 161.69 and march_15["GBP"] == 0.85458
    assert march_15["IDR"] == 17007.55
    # N/A currencies (discontinued CYP, EEK, ..., suspended RUB) have no row; 41 columns, 30 quoted
    assert "CYP" not in march_15 and "RUB" not in march_15
    assert len(march_15) == 30 and len(rates) == 60


def test_zip_and_plain_csv_give_the_same_frame():
    pd.testing.assert_frame_equal(parse_eurofxref_hist(zipped(CSV)), parse_eurofxref_hist(CSV.encode()))
    # without the trailing comma (older snapshots) too
    no_trailing = "\n".join(line.rstrip(",") for line in CSV.splitlines())
    pd.testing.assert_frame_equal(parse_eurofxref_hist(no_trailing.encode()), parse_eurofxref_hist(CSV.encode()))


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        (ROWS[1].replace("2024-03-14", "14/03/2024"), "line 3: date '14/03/2024' is not YYYY-MM-DD"),
        (ROWS[1].replace("2024-03-14", "2024-02-30"), "line 3: date '2024-02-30' does not exist"),
        (ROWS[1].replace("1.0925", "-1.0925"), "line 3: USD rate '-1.0925' must be a positive number"),
        (ROWS[1].replace("1.0925", "abc"), "line 3: USD rate 'abc' is not a number"),
        (ROWS[1].replace("1.0925", "inf"), "line 3: USD rate 'inf' must be a positive number"),
        (ROWS[1].replace("1.0925,", ""), "line 3: expected 41 rates, got 40"),
        (ROWS[1] + "1.5,", "line 3: expected 41 rates, got 42"),
        (ROWS[0], "line 3: date 2024-03-15 appears twice"),
    ],
)
def test_bad_rows_name_their_line(row, fragment):
    with pytest.raises(FxFormatError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_eurofxref_hist("\n".join([HEADER, ROWS[0], row]).encode())


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"Datum,USD\n2024-01-02,1.1\n", "line 1: expected a header starting with 'Date'"),
        (b"Date,USD,usd\n", "not ISO currency codes"),
        (b"Date,USD,USD\n", "appears twice"),
        (b"PK\x03\x04 not really a zip", "unreadable ECB zip"),
        (zipped("a,b\n", name="readme.txt"), "expected one CSV in the ECB zip"),
        (b"\xff\xfeD\x00", "not UTF-8"),
    ],
)
def test_bad_files_get_a_clear_error(content, fragment):
    with pytest.raises(FxFormatError, match=fragment):
        parse_eurofxref_hist(content)


# --------------------------------------------------------------------------- demo source


def _demo_get(now: dt.datetime, headers: dict | None = None) -> httpx.Response:
    with httpx.Client(transport=DemoTransport(now=now)) as client:
        return client.get(ECB_HIST_ZIP_URL, headers=headers or {})


def test_demo_file_is_in_the_published_format_and_deterministic():
    body = ecb_hist_zip(dt.date(2025, 12, 31))
    assert body == ecb_hist_zip(dt.date(2025, 12, 31))
    text = zipfile.ZipFile(io.BytesIO(body)).read("eurofxref-hist.csv").decode()
    header, newest = text.splitlines()[:2]
    assert header == HEADER
    assert newest.startswith("2025-12-31,") and newest.endswith(",")
    rates = parse_eurofxref_hist(body)
    days = set(rates["date"].dt.date)
    # TARGET closing days: no fixing on Christmas, Boxing Day, Good Friday, Easter Monday, 1 May, 1 Jan
    for holiday in ("2025-12-25", "2025-12-26", "2025-04-18", "2025-04-21", "2025-05-01", "2025-01-01"):
        assert dt.date.fromisoformat(holiday) not in days
    assert dt.date(2025, 12, 24) in days and not any(d.weekday() >= 5 for d in days)
    bgn = rates[rates["currency"] == "BGN"]["per_eur"]
    assert (bgn == 1.9558).all()  # currency board
    assert rates[rates["currency"] == "RUB"]["date"].max() < pd.Timestamp("2022-03-02")
    # the same day keeps its rates as the demo clock moves on
    later = parse_eurofxref_hist(ecb_hist_zip(dt.date(2026, 6, 30)))
    pd.testing.assert_frame_equal(later[later["date"] <= "2025-12-31"].reset_index(drop=True), rates)


def test_demo_publishes_after_the_afternoon_fixing_and_answers_304():
    morning = _demo_get(dt.datetime(2025, 3, 3, 10, 0, tzinfo=dt.UTC))
    afternoon = _demo_get(dt.datetime(2025, 3, 3, 16, 0, tzinfo=dt.UTC))
    assert morning.status_code == afternoon.status_code == 200
    assert parse_eurofxref_hist(morning.content)["date"].max() == pd.Timestamp("2025-02-28")
    assert parse_eurofxref_hist(afternoon.content)["date"].max() == pd.Timestamp("2025-03-03")
    again = _demo_get(
        dt.datetime(2025, 3, 3, 17, 0, tzinfo=dt.UTC), headers={"If-None-Match": afternoon.headers["ETag"]}
    )
    assert again.status_code == 304


def test_source_goes_through_the_http_client_with_its_own_budget(tmp_path, live_rates_in_demo):
    source = FxSource(
        mode="demo",
        cache_dir=str(tmp_path / "cache"),
        state_dir=str(tmp_path / "state"),
        demo_now="2025-03-03T16:00:00Z",
    )
    first = source.reference_rates()
    second = source.reference_rates()
    pd.testing.assert_frame_equal(first, second)
    assert first["date"].max() == pd.Timestamp("2025-03-03")
    stats = source.http_stats()["by_source"]["ecb"]
    assert stats["requests"] == 2 and stats["cache_hits_304"] == 1  # unchanged file: one conditional request
    assert source.client.limiter.rates_for("ecb") == ((2, 1.0),)
    source.teardown_after_execution(None)


def test_rows_must_follow_the_headers_trailing_comma():
    without = ROWS[1].rstrip(",")  # 41 values: fine alone, but the header promises a trailing comma
    with pytest.raises(FxFormatError, match="line 3: expected 41 rates and a trailing comma, got 41 fields"):
        parse_eurofxref_hist("\n".join([HEADER, ROWS[0], without]).encode())


def test_the_fx_rates_check_flags_bad_and_duplicate_rates():
    from finance_assets.defs.market.fx_assets import fx_rates_are_sane

    good = parse_eurofxref_hist(CSV.encode())
    assert fx_rates_are_sane(good).passed
    bad = pd.concat([good, good.head(1)], ignore_index=True)
    bad.loc[1, "per_eur"] = float("inf")
    bad.loc[2, "per_eur"] = -1.0
    result = fx_rates_are_sane(bad)
    assert not result.passed
    assert result.metadata["bad_rates"].value == 2 and result.metadata["duplicates"].value == 1
