"""filing_documents and filing_text_signals in-process on the demo source: what is downloaded, that a
stored document is never fetched again, and that faults lose nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings

import dagster as dg
import httpx
import pandas as pd
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.defs.sec import assets as sec
from finance_assets.defs.sec import documents
from finance_assets.defs.sec.document_store import DocumentStore, parse_filing_index
from finance_assets.demo import source as demo
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.rate_windows import max_in_sliding_window
from finance_assets.lib.request_log import RequestLogTransport
from finance_assets.lib.run_metadata import result_metadata
from finance_assets.lib.sources import BACKOFF_ENV
from finance_assets_tests.fault_injection import FaultInjectingTransport
from finance_assets_tests.scripted_sources import Recorder, ScriptedSec, register_transport, source_dirs

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

NOW = dt.datetime(2025, 6, 2, 22, 0, tzinfo=dt.UTC)
ALL = [sec.ticker_cik_map, sec.filings, *documents.DOCUMENT_ASSETS]
# two 10-Ks (Dec 2023, Dec 2024) so the second one has a previous one to compare with
WINDOW = {"since": "2024-01-01", "until": "2025-06-02"}
TICKERS = ["ACMQ", "BLZQ"]


def _resources(tmp_path, transport: httpx.BaseTransport) -> dict:
    return {
        "io_manager": ParquetWarehouseIOManager(base_path=str(tmp_path / "warehouse")),
        "sec": ScriptedSec(
            transport_key=register_transport(transport),
            mode="demo",
            demo_now=NOW.isoformat(),
            documents_dir=str(tmp_path / "documents"),
            **source_dirs(tmp_path),
        ),
    }


def _run(instance, resources, selection, tickers=None, **kwargs) -> dg.ExecuteInProcessResult:
    tags = {ASSET_PARTITION_RANGE_START_TAG: tickers[0], ASSET_PARTITION_RANGE_END_TAG: tickers[-1]} if tickers else {}
    config = {"ops": {"filing_documents": {"config": WINDOW}}} if documents.filing_documents in selection else None
    return dg.materialize(
        ALL, selection=selection, resources=resources, instance=instance, tags=tags, run_config=config, **kwargs
    )


def _archive_requests(transport: Recorder) -> list[str]:
    return [r.url.path for r in transport.requests if r.url.path.startswith("/Archives/edgar/data/")]


def _expected(ticker: str) -> tuple[set[str], int]:
    """Documents the demo serves for the window (primary of each filing, EX-99 of earnings 8-Ks) and the
    number of index pages read (one per 8-K)."""
    company = demo.COMPANIES_BY_TICKER[ticker]
    names, indexes = set(), 0
    for filing in demo._demo_filings(ticker, NOW.date()):
        if not dt.date(2024, 1, 1) <= filing["filed"] <= NOW.date():
            continue
        indexes += filing["form"] == "8-K"
        names |= set(demo.filing_documents(company, filing))
    return names, indexes


def _prepare(instance, resources) -> None:
    instance.add_dynamic_partitions("ticker", TICKERS)
    assert _run(instance, resources, [sec.ticker_cik_map]).success
    assert _run(instance, resources, [sec.filings], TICKERS).success


def _stored(tmp_path) -> pd.DataFrame:
    return pd.read_json(tmp_path / "documents" / "manifest.jsonl", lines=True)


def test_documents_and_signals_materialize_and_documents_are_never_fetched_twice(tmp_path, live_rates_in_demo):
    transport = Recorder(NOW)
    log = tmp_path / "requests.log"
    resources = _resources(tmp_path, RequestLogTransport(transport, str(log)))
    with dg.instance_for_test() as instance:
        _prepare(instance, resources)
        before = len(transport.requests)
        first = _run(instance, resources, list(documents.DOCUMENT_ASSETS), TICKERS)
        assert first.success
        fetched = _archive_requests(transport)[:]
        assert len(transport.requests) - before == len(fetched)  # nothing but archive documents

        table = first.output_for_node("filing_documents")
        for ticker in TICKERS:
            names, indexes = _expected(ticker)
            mine = table[table["ticker"] == ticker]
            assert set(mine["document"]) == names
            assert set(mine.loc[~mine["is_primary"], "doc_type"]) == {"EX-99.1"}
        # every document once, plus one index page per 8-K: no request twice
        assert len(fetched) == len(set(fetched)) == len(table) + sum(_expected(t)[1] for t in TICKERS)
        store = DocumentStore(tmp_path / "documents")
        for row in table.itertuples():
            assert hashlib.sha256(store.read(row.sha256)).hexdigest() == row.sha256
        # four download threads, one limiter: never more than SEC's 10 requests in any second
        stamps = [float(line.split()[0]) for line in log.read_text().splitlines()]
        assert max_in_sliding_window(stamps, 1.0) <= 10
        meta = result_metadata(first, "filing_documents")
        assert meta["downloaded"] == len(table) and meta["already_stored"] == 0

        # a second run (and a wider selection) fetches nothing from the archive
        again = _run(instance, resources, [sec.filings, *documents.DOCUMENT_ASSETS], TICKERS)
        assert again.success
        assert _archive_requests(transport) == fetched
        assert result_metadata(again, "filing_documents")["downloaded"] == 0
        # the stored table does not say which run fetched a document: the rerun's equals the first
        assert "downloaded" not in table.columns
        pd.testing.assert_frame_equal(again.output_for_node("filing_documents"), table)

    signals = first.output_for_node("filing_text_signals")
    assert set(signals["ticker"]) == set(TICKERS)
    acmq = signals[signals["ticker"] == "ACMQ"]
    tenk = acmq[(acmq["form"] == "10-K") & (acmq["section"] == "1A")].sort_values("known_at")
    assert len(tenk) == 2
    first_10k, second_10k = tenk.iloc[0], tenk.iloc[1]
    assert pd.isna(first_10k["previous_accession"]) and pd.isna(first_10k["similarity_prev"])
    assert second_10k["previous_accession"] == first_10k["accession_number"]
    assert 0 < second_10k["similarity_prev"] <= 1
    # known_at is the acceptance time of the filing (the demo accepts at 16:05:12 New York time)
    accepted = table.drop_duplicates("accession_number").set_index("accession_number")["acceptance_datetime"]
    assert (signals["known_at"].values == accepted.loc[signals["accession_number"]].values).all()
    assert (signals["known_at"].dt.tz_convert("America/New_York").dt.strftime("%H:%M:%S") == "16:05:12").all()
    earnings = acmq[acmq["section"] == "2.02"]
    assert len(earnings) and (earnings["items"] == "2.02,9.01").all()
    press = acmq[acmq["section"] == "EX-99.1"]
    assert len(press) == len(earnings) and (press["word_count"] > 20).all()
    for column in ("negative", "positive", "uncertainty", "litigious", "constraining"):
        assert signals[column].between(0, 1).all()
    assert (signals["word_count"] > 0).all()


def test_faults_during_download_lose_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(BACKOFF_ENV, "0.01")
    clean_dir, faulty_dir = tmp_path / "clean", tmp_path / "faulty"
    with dg.instance_for_test() as instance:
        clean = _resources(clean_dir, Recorder(NOW))
        _prepare(instance, clean)
        assert _run(instance, clean, [documents.filing_documents], TICKERS).success
    # while documents download, 30 % of answers are 500/503/429, timeouts, resets or truncated bodies
    faults = FaultInjectingTransport(Recorder(NOW), failure_rate=0.0, seed=7)
    with dg.instance_for_test() as instance:
        faulty = _resources(faulty_dir, faults)
        _prepare(instance, faulty)
        faults.failure_rate = 0.3
        # faults are transient (at most three in a row per URL), so retries absorb them; the loop is
        # the user's recourse if a document still failed: the rerun fetches only what is missing
        for _ in range(3):
            result = _run(instance, faulty, [documents.filing_documents], TICKERS, raise_on_error=False)
            if result.success:
                break
    assert result.success
    assert sum(faults.injected.values()) >= 5 and faults.injected["truncated"] >= 1
    key = ["accession", "document", "sha256", "bytes"]
    clean_docs = _stored(clean_dir).sort_values(key)[key].reset_index(drop=True)
    faulty_docs = _stored(faulty_dir).sort_values(key)[key].reset_index(drop=True)
    pd.testing.assert_frame_equal(faulty_docs, clean_docs)  # same documents, byte for byte


def test_a_failed_run_keeps_what_it_stored_and_the_rerun_fetches_only_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv(BACKOFF_ENV, "0.001")
    broken = {"on": True}
    target = {}

    def handler(request: httpx.Request) -> httpx.Response | None:
        # every 10-Q of ACMQ answers 503 while the origin is "broken"
        if broken["on"] and request.url.path.startswith("/Archives/") and "acmq-" in request.url.path:
            if request.url.path.endswith(("0331.htm", "0630.htm", "0930.htm")):
                target.setdefault(request.url.path, 0)
                target[request.url.path] += 1
                return httpx.Response(503, text="Service Unavailable")
        return None

    transport = Recorder(NOW, handler)
    resources = _resources(tmp_path, transport)
    with dg.instance_for_test() as instance:
        _prepare(instance, resources)
        failed = _run(instance, resources, [documents.filing_documents], TICKERS, raise_on_error=False)
        assert not failed.success
        stored_after_failure = _stored(tmp_path)
        assert len(target) >= 3  # the 10-Qs of the window were tried ...
        assert not stored_after_failure["document"].isin([p.rsplit("/", 1)[-1] for p in target]).any()
        assert len(stored_after_failure) > 20  # ... and everything else was stored

        broken["on"] = False
        before = len(_archive_requests(transport))
        rerun = _run(instance, resources, [documents.filing_documents], TICKERS)
        assert rerun.success
        refetched = _archive_requests(transport)[before:]
        assert sorted(refetched) == sorted(target)  # only the documents that were missing
        assert result_metadata(rerun, "filing_documents")["downloaded"] == len(target)


def test_filing_index_parsing_keeps_only_this_filings_documents():
    html = (
        '<table class="tableFile" summary="Document Format Files"><tr><th>Seq</th><th>Description</th>'
        "<th>Document</th><th>Type</th><th>Size</th></tr>"
        '<tr><td>1</td><td>10-K</td><td><a href="/ix?doc=/Archives/edgar/data/320193/000032019324000123/'
        'aapl-20240928.htm">aapl-20240928.htm</a> iXBRL</td><td>10-K</td><td>1000</td></tr>'
        '<tr><td>2</td><td>PRESS RELEASE</td><td><a href="/Archives/edgar/data/320193/000032019324000123/'
        'ex991.htm">ex991.htm</a></td><td>EX-99.1</td><td>200</td></tr>'
        '<tr><td>3</td><td>OTHER</td><td><a href="/Archives/edgar/data/1/000000000124000001/x.htm">x.htm</a>'
        "</td><td>EX-99.2</td><td>5</td></tr>"
        '<tr><td>4</td><td>BAD</td><td><a href="../../etc/passwd">p</a></td><td>EX-99.3</td><td>5</td></tr>'
        "</table>"
    )
    rows = parse_filing_index(html, 320193, "0000320193-24-000123")
    assert [(r["document"], r["type"]) for r in rows] == [("aapl-20240928.htm", "10-K"), ("ex991.htm", "EX-99.1")]
    with pytest.raises(ValueError, match="Document Format Files"):
        parse_filing_index("<html>Too many requests</html>", 320193, "0000320193-24-000123")
