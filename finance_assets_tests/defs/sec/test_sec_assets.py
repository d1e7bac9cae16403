"""SEC assets end to end in-process: bulk archives vs per-company API, ticker history, fiscal year end,
asset checks, and SEC's 403 in live mode."""

from __future__ import annotations

import datetime as dt
import io
import json
import warnings
import zipfile

import dagster as dg
import httpx
import pandas as pd
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.defs.sec import assets as sec
from finance_assets.defs.sec import edgar
from finance_assets.demo import source as demo
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.run_metadata import result_metadata
from finance_assets.lib.warehouse import Warehouse
from finance_assets_tests.scripted_sources import Recorder, ScriptedSec, register_transport, source_dirs

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

NOW = dt.datetime(2025, 6, 2, 22, 0, tzinfo=dt.UTC)  # evening after a session
TODAY = dt.date(2025, 6, 2)
ALL = [sec.ticker_cik_map, sec.filings, sec.xbrl_facts, sec.fundamentals, *sec.SEC_CHECKS]
SEC_PER_TICKER = [sec.filings, sec.xbrl_facts, sec.fundamentals]
CONTACT = "filings.desk@quant-research.example"


def _resources(tmp_path, transport: httpx.BaseTransport, **sec_options) -> dict:
    options = {"mode": "demo", "demo_now": NOW.isoformat(), **source_dirs(tmp_path), **sec_options}
    return {
        "io_manager": ParquetWarehouseIOManager(base_path=str(tmp_path / "warehouse")),
        "sec": ScriptedSec(transport_key=register_transport(transport), **options),
    }


def _run(instance, resources, selection, tickers: list[str] | None = None, **kwargs) -> dg.ExecuteInProcessResult:
    tags = {ASSET_PARTITION_RANGE_START_TAG: tickers[0], ASSET_PARTITION_RANGE_END_TAG: tickers[-1]} if tickers else {}
    return dg.materialize(ALL, selection=selection, resources=resources, instance=instance, tags=tags, **kwargs)


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    return result_metadata(result, asset)


# ------------------------------------------------------------------------------- bulk archives


def _archive(kind: str, ciks: list[int]) -> bytes:
    """A nightly archive in EDGAR's layout: the demo companies asked for plus unrelated members."""
    build = {"companyfacts": demo.companyfacts_json, "submissions": demo.submissions_json}[kind]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for other in range(1_000_001, 1_000_041):  # other filers: present in the file, never read
            archive.writestr(f"CIK{other:010d}.json", json.dumps({"cik": other, "filings": {"recent": {}}}))
        for cik in ciks:
            archive.writestr(f"CIK{cik:010d}.json", json.dumps(build(cik, TODAY)))
    return buffer.getvalue()


class BulkOrigin:
    """Serves companyfacts.zip / submissions.zip like EDGAR (ETag, 304 on If-None-Match)."""

    def __init__(self, ciks: list[int]):
        self.bodies = {path: _archive(kind, ciks) for path, kind in demo.BULK_ARCHIVE_PATHS.items()}
        self.answers: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response | None:
        body = self.bodies.get(request.url.path)
        if body is None:
            return None
        etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
        status = 304 if request.headers.get("If-None-Match") == etag else 200
        self.answers.append(status)
        return httpx.Response(status, headers={"ETag": etag}, content=body if status == 200 else b"")


@pytest.mark.slow
def test_bulk_archives_give_the_same_tables_without_per_company_requests(tmp_path):
    tickers = ["ACMQ", "BLZQ", "CRXQ"]
    ciks = [demo.COMPANIES_BY_TICKER[t].cik for t in tickers]
    origin = BulkOrigin(ciks[:2])  # CRXQ is missing from tonight's archive: it falls back to the API
    bulk_transport = Recorder(NOW, origin)
    bulk = _resources(tmp_path / "bulk", bulk_transport, bulk_min_tickers=2)
    api = _resources(tmp_path / "api", Recorder(NOW), bulk_min_tickers=0)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("ticker", tickers)
        assert _run(instance, bulk, [sec.ticker_cik_map]).success
        ticker_map = Warehouse(tmp_path / "bulk" / "warehouse").read("ticker_cik_map")
        Warehouse(tmp_path / "api" / "warehouse").write("ticker_cik_map", None, ticker_map)  # same map for both
        bulk_transport.requests.clear()

        first = _run(instance, bulk, [sec.filings, sec.xbrl_facts], tickers)
        assert first.success
        per_company = [r for r in bulk_transport.requests if r.url.host == "data.sec.gov"]
        assert sorted(r.url.path for r in per_company) == [
            "/api/xbrl/companyfacts/CIK0009900003.json",
            "/submissions/CIK0009900003.json",
        ]  # CRXQ only
        assert origin.answers == [200, 200]
        assert _metadata(first, "xbrl_facts")["documents"] == {"from_archive": 2, "from_api": 1}
        assert _metadata(first, "filings")["retrieval"] == "bulk submissions.zip"

        archive = tmp_path / "bulk" / "cache" / "sec-bulk" / "companyfacts.zip"
        stamp = (archive.stat().st_ino, archive.stat().st_mtime_ns)
        assert _run(instance, bulk, [sec.xbrl_facts], tickers).success
        assert origin.answers[2:] == [304]  # an unchanged archive: one cheap request, no download
        assert (archive.stat().st_ino, archive.stat().st_mtime_ns) == stamp

        assert _run(instance, api, [sec.filings, sec.xbrl_facts], tickers).success
    for asset, order in (
        ("filings", ["ticker", "accession_number"]),
        ("xbrl_facts", ["ticker", "accession", "taxonomy", "concept", "unit", "start", "end"]),
    ):
        from_bulk = Warehouse(tmp_path / "bulk" / "warehouse").read(asset).sort_values(order, ignore_index=True)
        from_api = Warehouse(tmp_path / "api" / "warehouse").read(asset).sort_values(order, ignore_index=True)
        assert len(from_bulk) > 100 and set(from_bulk["ticker"]) == set(tickers)
        pd.testing.assert_frame_equal(from_bulk, from_api)


def test_small_runs_stay_on_the_per_company_api(tmp_path):
    transport = Recorder(NOW)
    resources = _resources(tmp_path, transport, bulk_min_tickers=5)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("ticker", ["ACMQ"])
        assert _run(instance, resources, [sec.ticker_cik_map]).success
        result = _run(instance, resources, [sec.xbrl_facts], ["ACMQ"])
    assert result.success
    assert not any(r.url.path.endswith(".zip") for r in transport.requests)
    assert _metadata(result, "xbrl_facts")["retrieval"] == "per-company API"


# ------------------------------------------------------------------------------- ticker history


def _tickers_document(ticker_to_cik: dict[str, int]) -> dict:
    rows = [[cik, f"{ticker} Holdings (DEMO)", ticker, "DEMO"] for ticker, cik in ticker_to_cik.items()]
    return {"fields": ["cik", "name", "ticker", "exchange"], "data": rows}


def test_a_ticker_that_moves_to_a_new_cik_keeps_its_old_filings(tmp_path):
    """XOM-style reorganisation: the symbol moves from the old company's CIK to a new holding company."""
    old_cik, new_cik = demo.COMPANIES_BY_TICKER["ACMQ"].cik, demo.COMPANIES_BY_TICKER["BLZQ"].cik
    snapshots = {
        "2025-03-03": {"XOMQ": old_cik, "KLQX": demo.COMPANIES_BY_TICKER["KLQX"].cik},
        "2025-06-02": {"XOMQ": new_cik, "KLQX": demo.COMPANIES_BY_TICKER["KLQX"].cik},
    }

    def tickers_for(day: str):
        def handler(request: httpx.Request) -> httpx.Response | None:
            if request.url.path == "/files/company_tickers_exchange.json":
                return httpx.Response(200, json=_tickers_document(snapshots[day]))
            return None

        return handler

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("ticker", ["XOMQ"])
        for day in snapshots:
            resources = _resources(tmp_path, Recorder(NOW, tickers_for(day)), demo_now=f"{day}T22:00:00+00:00")
            result = _run(instance, resources, [sec.ticker_cik_map])
            assert result.success and all(c.passed for c in _checks(result).values())
        ticker_map = Warehouse(tmp_path / "warehouse").read("ticker_cik_map")
        moved = ticker_map[ticker_map["ticker"] == "XOMQ"].set_index("cik")
        assert moved.loc[old_cik, "first_seen"] == moved.loc[old_cik, "last_seen"] == pd.Timestamp("2025-03-03")
        assert moved.loc[new_cik, "first_seen"] == pd.Timestamp("2025-06-02")
        assert edgar.resolve_cik(ticker_map, "XOMQ", dt.date(2025, 4, 1)) == old_cik
        assert edgar.resolve_cik(ticker_map, "XOMQ", dt.date(2025, 6, 2)) == new_cik
        assert _metadata(result, "ticker_cik_map")["tickers_that_changed_cik"] == 1

        result = _run(instance, _resources(tmp_path, Recorder(NOW)), [sec.filings], ["XOMQ"])
    assert result.success
    filings = Warehouse(tmp_path / "warehouse").read("filings")
    by_cik = {int(cik): rows for cik, rows in filings.groupby("cik")}
    assert set(by_cik) == {old_cik, new_cik}
    assert by_cik[old_cik]["filing_date"].max() <= pd.Timestamp("2025-03-03")  # up to the move only
    assert by_cik[new_cik]["filing_date"].max() == pd.Timestamp("2025-06-02")
    assert not filings["accession_number"].duplicated().any()
    assert set(by_cik[old_cik]["company_name"]) == {demo.COMPANIES_BY_TICKER["ACMQ"].name}


# ------------------------------------------------------------------------------- fundamentals


def _patched_sec(request: httpx.Request) -> httpx.Response | None:
    """BLZQ reports on a June fiscal year; ACMQ's companyfacts gains a fact dated after its filing."""
    blzq, acmq = demo.COMPANIES_BY_TICKER["BLZQ"].cik, demo.COMPANIES_BY_TICKER["ACMQ"].cik
    if request.url.path == f"/submissions/CIK{blzq:010d}.json":
        document = demo.submissions_json(blzq, TODAY)
        document["fiscalYearEnd"] = "0630"
        return httpx.Response(200, json=document)
    if request.url.path == f"/api/xbrl/companyfacts/CIK{acmq:010d}.json":
        document = demo.companyfacts_json(acmq, TODAY)
        document["facts"]["us-gaap"]["Revenues"]["units"]["USD"].append(
            {
                "start": "2025-04-01",
                "end": "2025-06-30",
                "val": 1.0,
                "accn": "0009900001-25-999999",
                "fy": 2025,
                "fp": "Q2",
                "form": "10-Q",
                "filed": "2025-05-20",
                "frame": "CY2025Q2",
            }
        )
        return httpx.Response(200, json=document)
    return None


def test_fundamentals_follow_the_fiscal_year_and_checks_catch_look_ahead(tmp_path):
    resources = _resources(tmp_path, Recorder(NOW, _patched_sec))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("ticker", ["ACMQ", "BLZQ", "DEMOIDX", "NOPEQ"])
        mapped = _run(instance, resources, [sec.ticker_cik_map])
        result = _run(instance, resources, SEC_PER_TICKER, ["ACMQ", "NOPEQ"], raise_on_error=False)
    assert result.success  # the look-ahead check is an ERROR but does not block
    meta = _metadata(result, "fundamentals")
    assert meta["fiscal_year_ends"] == {"ACMQ": "1231", "BLZQ": "0630", "DEMOIDX": None, "NOPEQ": None}
    std = Warehouse(tmp_path / "warehouse").read("fundamentals")
    blzq, acmq = std[std["ticker"] == "BLZQ"], std[std["ticker"] == "ACMQ"]
    # calendar Q4 2024 is BLZQ's second fiscal quarter of FY2025; ACMQ's is its Q4 of FY2024
    assert set(blzq.loc[blzq["period_end"] == "2024-12-31", "fiscal_period"]) == {"2025Q2"}
    assert "2024Q4" in set(acmq.loc[acmq["period_end"] == "2024-12-31", "fiscal_period"])
    annual = blzq[blzq["period_type"] == "annual"]
    assert (annual["period_end"].dt.strftime("%m-%d") == "06-30").all()  # June year-end balances only:
    assert annual["period_start"].isna().all()  # its calendar-year durations are not fiscal years

    latest_annual = meta["latest_annual"]
    assert "| ACMQ" in latest_annual and "us-gaap:Revenues" in latest_annual and "us-gaap:Assets" in latest_annual
    fy2024 = acmq[(acmq["fiscal_period"] == "FY2024") & (acmq["item"] == "revenue")]["value"]
    assert f"{fy2024.iloc[-1]:.4g}" in latest_annual

    checks = _checks(result)
    early = checks["fundamentals_filed_after_period_end"]
    assert not early.passed and early.severity == dg.AssetCheckSeverity.ERROR
    assert early.metadata["filed_before_period_end"].value >= 1
    assert "0009900001-25-999999" in early.metadata["examples"].value
    assert checks["fundamentals_balance_sheet_identity"].passed
    assert checks["xbrl_facts_are_unique"].passed

    resolve = _checks(mapped)["registered_tickers_resolve"]
    assert not resolve.passed and resolve.severity == dg.AssetCheckSeverity.WARN
    assert resolve.metadata["unresolved"].value == ["NOPEQ"]  # the benchmark index is expected to lack a CIK
    assert resolve.metadata["benchmark_without_cik"].value is True
    assert _checks(mapped)["ticker_cik_map_is_consistent"].passed


def test_ticker_map_check_rejects_duplicates_and_bad_ciks():
    good = edgar.merge_ticker_history(
        None, edgar.parse_company_tickers_exchange(demo.company_tickers_exchange_json()), TODAY
    )
    assert sec.ticker_cik_map_is_consistent(good).passed
    duplicated = pd.concat([good, good.head(1)], ignore_index=True)
    result = sec.ticker_cik_map_is_consistent(duplicated)
    assert not result.passed and result.metadata["duplicate_ticker_cik_rows"].value == 1
    bad = good.copy()
    bad.loc[0, "cik_str"] = "123"
    assert sec.ticker_cik_map_is_consistent(bad).metadata["bad_cik_rows"].value == 1


def test_balance_sheet_identity_reports_gaps():
    rows = []
    for item, value in (("total_assets", 100.0), ("total_liabilities", 60.0), ("stockholders_equity", 30.0)):
        rows.append(
            {
                "ticker": "ACMQ",
                "item": item,
                "period_type": "quarterly",
                "fiscal_period": "2024Q4",
                "period_start": pd.NaT,
                "period_end": pd.Timestamp("2024-12-31"),
                "value": value,
                "unit": "USD",
                "concept": item,
                "taxonomy": "us-gaap",
                "filed": pd.Timestamp("2025-02-01"),
                "accession": "0009900001-25-000001",
                "form": "10-K",
                "derived": False,
                "vintage_rank": 1,
            }
        )
    result = sec.fundamentals_balance_sheet_identity(pd.DataFrame(rows))
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["max_relative_gap"].value == pytest.approx(0.10)


# ------------------------------------------------------------------------------- live mode


def test_live_sec_403_fails_with_the_user_agent_rule_and_no_contact_leak(tmp_path):
    transport = Recorder(NOW, lambda request: httpx.Response(403, text="<html>Request Rate Threshold Exceeded</html>"))
    resources = _resources(tmp_path, transport, mode="live", user_agent=f"Quant Research {CONTACT}")
    with dg.instance_for_test() as instance:
        result = _run(instance, resources, [sec.ticker_cik_map], raise_on_error=False)
        logs = [entry.message or "" for entry in instance.all_logs(result.run_id)]
    assert not result.success
    error, parts = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error, []
    while error is not None:  # Dagster wraps the asset's exception: read the whole chain
        parts.append(error.message)
        error = error.cause
    message = "\n".join(parts)
    assert "SEC EDGAR refused" in message and "User-Agent" in message and "10 requests per second" in message
    assert all(CONTACT in r.headers["User-Agent"] for r in transport.requests)  # sent to SEC...
    assert CONTACT not in message and not any(CONTACT in line for line in logs)  # ...but never logged
