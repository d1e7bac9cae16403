"""FINANCE_ASSETS_SEC_WWW / FINANCE_ASSETS_SEC_DATA: every SEC request goes to the configured hosts
(tickers, submissions, companyfacts, the latest-filings feed, bulk archives, filing documents), and a
malformed URL is refused with a message that says what is wrong."""

from __future__ import annotations

import datetime as dt

import pytest

from finance_assets.defs.sec.source import SecEdgarSource
from finance_assets.lib.config import Settings, SettingsError, parse_base_url
from finance_assets.lib.sources import REQUEST_LOG_ENV, SourceConfigError

SEC_WWW_ENV, SEC_DATA_ENV = "FINANCE_ASSETS_SEC_WWW", "FINANCE_ASSETS_SEC_DATA"

NOW = dt.datetime(2025, 6, 2, 22, 0, tzinfo=dt.UTC)
MIRROR_WWW = "http://edgar-mirror.internal:8080/sec/"
MIRROR_DATA = "https://edgar-data.internal"


def _source(tmp_path, **options) -> SecEdgarSource:
    return SecEdgarSource(
        mode="demo",
        demo_now=NOW.isoformat(),
        cache_dir=str(tmp_path / "cache"),
        state_dir=str(tmp_path / "state"),
        **options,
    )


def test_defaults_are_sec_hosts():
    settings = Settings.from_env({})
    assert (settings.sec_www_url, settings.sec_data_url) == ("https://www.sec.gov", "https://data.sec.gov")


def test_every_sec_request_goes_to_the_configured_hosts(tmp_path, monkeypatch):
    log = tmp_path / "requests.log"
    monkeypatch.setenv(REQUEST_LOG_ENV, str(log))
    monkeypatch.setenv(SEC_WWW_ENV, MIRROR_WWW)
    monkeypatch.setenv(SEC_DATA_ENV, MIRROR_DATA)
    settings = Settings.from_env({SEC_WWW_ENV: MIRROR_WWW, SEC_DATA_ENV: MIRROR_DATA})
    sec = _source(tmp_path, www_url=settings.sec_www_url, data_url=settings.sec_data_url)
    assert sec.www == "http://edgar-mirror.internal:8080/sec"  # trailing slash dropped
    tickers = sec.company_tickers()
    cik = tickers["data"][0][0]
    submissions = sec.submissions(cik)
    assert sec.companyfacts(cik)["cik"] == cik
    assert b"<feed" in sec.latest_filings_atom()
    assert sec.download_bulk_archive("submissions").bytes > 0
    recent = submissions["filings"]["recent"]
    accession, document = recent["accessionNumber"][0], recent["primaryDocument"][0]
    assert b"<html" in sec.filing_document(cik, accession, document).lower()
    index = sec.filing_index(cik, accession)
    assert index and index[0]["document"] == document

    lines = [line.split() for line in log.read_text().splitlines()]
    hosts = {host for _, host, _ in lines}
    assert hosts == {"edgar-mirror.internal", "edgar-data.internal"}, hosts
    www_paths = [path for _, host, path in lines if host == "edgar-mirror.internal"]
    assert www_paths and all(path.startswith("/sec/") for path in www_paths)
    assert len(lines) == 7  # tickers, submissions, companyfacts, feed, bulk archive, document, index


def test_definitions_build_the_sec_resource_from_the_environment(monkeypatch):
    from finance_assets.definitions import build_resources

    monkeypatch.setenv(SEC_WWW_ENV, MIRROR_WWW)
    monkeypatch.setenv(SEC_DATA_ENV, MIRROR_DATA)
    sec = build_resources("demo")["sec"]
    assert (sec.www_url, sec.data_url) == (MIRROR_WWW.rstrip("/"), MIRROR_DATA)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("www.sec.gov", "http:// or https://"),
        ("ftp://www.sec.gov", "http:// or https://"),
        ("https://", "no host name"),
        ("https://www.sec.gov?x=1", "no query string"),
        ("https://www.sec.gov/#top", "no query string or fragment"),
        ("https://www.sec.gov:99999", "not a valid URL"),
        ("https://sec .gov", "white space"),
    ],
)
def test_malformed_urls_are_refused_saying_why(value, reason):
    with pytest.raises(SettingsError, match="FINANCE_ASSETS_SEC_WWW") as info:
        parse_base_url(value, SEC_WWW_ENV)
    assert reason in str(info.value)
    assert "https://www.sec.gov" in str(info.value)  # an example of what is expected


def test_credentials_in_the_url_are_refused_without_echoing_them():
    with pytest.raises(SettingsError) as info:
        Settings.from_env({SEC_DATA_ENV: "https://alice:s3cret@mirror.internal"})
    assert "credentials" in str(info.value) and "s3cret" not in str(info.value)


def test_a_bad_environment_value_stops_the_definitions(monkeypatch):
    from finance_assets.definitions import build_resources

    monkeypatch.setenv(SEC_WWW_ENV, "sec.internal/edgar")
    with pytest.raises(SettingsError, match=SEC_WWW_ENV):
        build_resources("demo")


def test_a_bad_field_on_the_resource_fails_before_any_request(tmp_path):
    sec = _source(tmp_path, data_url="data.sec.gov")
    with pytest.raises(SourceConfigError, match="data_url"):
        sec.submissions(9900001)
