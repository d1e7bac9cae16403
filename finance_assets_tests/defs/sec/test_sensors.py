"""The new_sec_filings sensor with Dagster's sensor test API, on feeds in EDGAR's Atom format (and the real
recorded one when ../shared/realdata is present)."""

from __future__ import annotations

import json
import warnings
from urllib.parse import parse_qs

import dagster as dg
import httpx
import pandas as pd
import pytest

from finance_assets.defs.sec import assets as sec
from finance_assets.defs.sec import edgar
from finance_assets.defs.sec.documents import DOCUMENT_ASSETS
from finance_assets.defs.sec.sensors import new_sec_filings_sensor
from finance_assets.demo import source as demo
from finance_assets.lib.warehouse import Warehouse
from finance_assets_tests.scripted_sources import ScriptedSec, register_transport, source_dirs

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

ACMQ, BLZQ, CRXQ = (demo.COMPANIES_BY_TICKER[t] for t in ("ACMQ", "BLZQ", "CRXQ"))
ALL_SEC = {sec.filings.key, sec.xbrl_facts.key, sec.fundamentals.key, *(a.key for a in DOCUMENT_ASSETS)}


def _entry(form: str, name: str, cik: int, accession: str, updated: str, role: str = "Filer") -> str:
    """One entry exactly as EDGAR's getcurrent Atom feed writes it."""
    folder = accession.replace("-", "")
    return (
        f"<entry><title>{form} - {name} ({cik:010d}) ({role})</title>"
        f'<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/data/{cik}/{folder}/'
        f'{accession}-index.htm"/><summary type="html"> &lt;b&gt;Filed:&lt;/b&gt; {updated[:10]} '
        f"&lt;b&gt;AccNo:&lt;/b&gt; {accession} &lt;b&gt;Size:&lt;/b&gt; 12 KB</summary>"
        f"<updated>{updated}</updated>"
        f'<category scheme="https://www.sec.gov/" label="form type" term="{form}"/>'
        f"<id>urn:tag:sec.gov,2008:accession-number={accession}</id></entry>"
    )


def _feed(entries: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Latest Filings</title><id>https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent</id>"
        "<updated>2025-06-02T18:00:00-04:00</updated>" + "".join(entries) + "</feed>"
    ).encode("latin-1")


class FeedServer:
    """Serves `entries` (newest first) 100 per page by `start`, like EDGAR; records the pages asked for."""

    def __init__(self, entries: list[str] | None = None, raw: bytes | None = None):
        self.entries, self.raw, self.starts = entries or [], raw, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.url.query.decode())
        assert request.url.path == "/cgi-bin/browse-edgar" and query["action"] == ["getcurrent"]
        start = int(query["start"][0])
        self.starts.append(start)
        if self.raw is not None:
            return httpx.Response(200, content=self.raw if start == 0 else _feed([]))
        return httpx.Response(200, content=_feed(self.entries[start : start + int(query["count"][0])]))


@pytest.fixture
def home(isolated_home, tmp_path):
    with dg.instance_for_test() as instance:
        yield instance, tmp_path


def _follow(instance: dg.DagsterInstance, tickers: list[str], ticker_map: pd.DataFrame) -> None:
    from finance_assets.lib import config

    Warehouse(config.warehouse_dir()).write("ticker_cik_map", None, ticker_map)
    instance.add_dynamic_partitions("ticker", tickers)


def _demo_map() -> pd.DataFrame:
    current = edgar.parse_company_tickers_exchange(demo.company_tickers_exchange_json())
    return edgar.merge_ticker_history(None, current, pd.Timestamp("2025-06-01").date())


def _tick(instance, root, server: FeedServer, cursor: str | None = None):
    resource = ScriptedSec(
        transport_key=register_transport(httpx.MockTransport(server)), mode="demo", **source_dirs(root)
    )
    defs = dg.Definitions(
        assets=[sec.ticker_cik_map, sec.filings, sec.xbrl_facts, sec.fundamentals, *DOCUMENT_ASSETS],
        sensors=[new_sec_filings_sensor],
        resources={"sec": resource},
    )
    with dg.build_sensor_context(
        instance_ref=instance.get_ref(), definitions=defs, cursor=cursor, resources={"sec": resource}
    ) as context:  # the resource tears down its client
        return new_sec_filings_sensor.evaluate_tick(context)


def test_new_filing_of_a_followed_company_requests_one_run_once(home):
    instance, root = home
    _follow(instance, ["ACMQ", "BLZQ"], _demo_map())  # CRXQ is in the map but not followed
    server = FeedServer(
        [
            _entry("10-Q", ACMQ.name, ACMQ.cik, "0009900001-25-000123", "2025-06-02T16:05:12-04:00"),
            _entry("10-Q", CRXQ.name, CRXQ.cik, "0009900003-25-000123", "2025-06-02T16:04:00-04:00"),
            _entry("4", "Doe Jane", 1_990_001, "0001990001-25-000001", "2025-06-02T16:03:00-04:00", "Reporting"),
        ]
    )
    first = _tick(instance, root, server)
    assert [(r.partition_key, r.run_key) for r in first.run_requests] == [("ACMQ", "0009900001-25-000123")]
    assert set(first.run_requests[0].asset_selection) == ALL_SEC
    assert first.run_requests[0].tags["finance_assets/ticker"] == "ACMQ"

    again = _tick(instance, root, server, first.cursor)  # same feed on the next tick
    assert again.run_requests == [] and "no new filings" in again.skip_message

    server.entries.insert(
        0, _entry("4", BLZQ.name, BLZQ.cik, "0001234567-25-000042", "2025-06-02T17:30:00-04:00", "Issuer")
    )
    later = _tick(instance, root, server, again.cursor)
    assert [(r.partition_key, r.run_key) for r in later.run_requests] == [("BLZQ", "0001234567-25-000042")]
    assert list(later.run_requests[0].asset_selection) == [sec.filings.key]  # an insider trade: filings only


def test_a_busy_feed_is_read_back_to_the_last_tick(home):
    instance, root = home
    _follow(instance, ["ACMQ"], _demo_map())
    seen = [_entry("10-Q", CRXQ.name, CRXQ.cik, "0009900003-25-000001", "2025-06-02T15:00:00-04:00")]
    server = FeedServer(seen)
    cursor = _tick(instance, root, server).cursor
    burst = [
        _entry(
            "4",
            f"Insider {i}",
            1_800_000 + i,
            f"0001800000-25-{i:06d}",
            f"2025-06-02T17:{59 - i // 5:02d}:{59 - i % 5:02d}-04:00",
            "Reporting",
        )
        for i in range(230)
    ]
    # ACMQ's 8-K sits on the third page, behind 230 newer filings of other companies
    server.entries = (
        burst[:200]
        + [_entry("8-K", ACMQ.name, ACMQ.cik, "0009900001-25-000124", "2025-06-02T16:30:00-04:00")]
        + burst[200:]
        + seen
    )
    result = _tick(instance, root, server, cursor)
    assert server.starts[1:] == [0, 100, 200]
    assert [(r.partition_key, r.run_key) for r in result.run_requests] == [("ACMQ", "0009900001-25-000124")]
    assert set(result.run_requests[0].asset_selection) == ALL_SEC


def test_share_classes_of_one_company_each_get_their_run(home):
    instance, root = home
    ticker_map = _demo_map()
    extra = ticker_map[ticker_map["ticker"] == "ACMQ"].assign(ticker="ACMQ-B")
    _follow(instance, ["ACMQ", "ACMQ-B"], pd.concat([ticker_map, extra], ignore_index=True))
    server = FeedServer([_entry("10-K", ACMQ.name, ACMQ.cik, "0009900001-25-000200", "2025-06-02T16:05:00-04:00")])
    result = _tick(instance, root, server)
    assert sorted((r.partition_key, r.run_key) for r in result.run_requests) == [
        ("ACMQ", "0009900001-25-000200:ACMQ"),
        ("ACMQ-B", "0009900001-25-000200:ACMQ-B"),
    ]


def test_real_getcurrent_feed(home, realdata):
    feed_file = realdata / "sec" / "feeds" / "getcurrent_atom_start0.edgartools.xml"
    tickers_file = realdata / "sec" / "company_tickers_exchange.json"
    if not (feed_file.exists() and tickers_file.exists()):
        pytest.skip("real getcurrent feed or company_tickers_exchange.json not present")
    instance, root = home
    current = edgar.parse_company_tickers_exchange(json.loads(tickers_file.read_text()))
    _follow(instance, ["WMT", "CVNA", "MSFT"], edgar.merge_ticker_history(None, current, pd.Timestamp("2025-12-01")))
    result = _tick(instance, root, FeedServer(raw=feed_file.read_bytes()))
    requests = {r.partition_key: r for r in result.run_requests}
    # Friday evening, 12 Dec 2025: a Form 4 for Walmart, five for Carvana, nothing from Microsoft
    assert set(requests) == {"WMT", "CVNA"}
    assert requests["WMT"].run_key == "0000104169-25-000205"
    assert requests["CVNA"].tags["finance_assets/new_filings"] == "5"
    assert requests["CVNA"].run_key == "0001702455-25-000007"  # the newest of the five
    assert all(list(r.asset_selection) == [sec.filings.key] for r in result.run_requests)  # Forms 4: no XBRL
    assert result.cursor == "2025-12-12T23:02:43+00:00"
