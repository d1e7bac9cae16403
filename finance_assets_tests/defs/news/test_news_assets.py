"""headlines and sentiment in-process on the demo source: every provider merged and de-duplicated,
8-K item titles, the keyed API skipped without a key and parsed with one, sentiment metadata."""

from __future__ import annotations

import datetime as dt
import warnings

import dagster as dg
import httpx
import pandas as pd
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.defs.news import assets as news
from finance_assets.defs.news.headline_sources import EIGHT_K_ITEMS
from finance_assets.defs.news.headlines import normalize_title
from finance_assets.defs.news.source import NewsSource
from finance_assets.defs.sec import assets as sec
from finance_assets.defs.sec.source import SecEdgarSource
from finance_assets.demo import source as demo
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.run_metadata import result_metadata
from finance_assets.lib.warehouse import Warehouse
from finance_assets_tests.scripted_sources import Recorder, ScriptedNews, register_transport, source_dirs

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

NOW = "2025-06-02T22:00:00+00:00"
ALL = [sec.ticker_cik_map, sec.filings, news.headlines, news.sentiment]
MONTHS = ("2025-02-01", "2025-03-01")  # ACMQ: earnings 8-K (2.02) on Feb 24, restructuring 8-K (2.05) on Feb 28
FINNHUB_KEY = "fh-demo-4e1f9c2b7a"
# month runs process every registered ticker: ACMQ alone here
RANGE = {ASSET_PARTITION_RANGE_START_TAG: MONTHS[0], ASSET_PARTITION_RANGE_END_TAG: MONTHS[-1]}


@pytest.fixture(scope="module")
def sec_ready(tmp_path_factory):
    """An instance and warehouse in which ACMQ's filings are materialized (headlines read them)."""
    root = tmp_path_factory.mktemp("news")
    resources = {
        "io_manager": ParquetWarehouseIOManager(base_path=str(root / "warehouse")),
        "sec": SecEdgarSource(mode="demo", demo_now=NOW, **source_dirs(root)),
        "news_source": NewsSource(mode="demo", demo_now=NOW, **source_dirs(root)),
    }
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("ticker", ["ACMQ"])
        assert dg.materialize(ALL, selection=[sec.ticker_cik_map], resources=resources, instance=instance).success
        assert dg.materialize(
            ALL, selection=[sec.filings], resources=resources, instance=instance, partition_key="ACMQ"
        ).success
        yield instance, root


def _run_news(instance, root, news_source: NewsSource) -> dg.ExecuteInProcessResult:
    resources = {
        "io_manager": ParquetWarehouseIOManager(base_path=str(root / "warehouse")),
        "sec": SecEdgarSource(mode="demo", demo_now=NOW, **source_dirs(root)),
        "news_source": news_source,
    }
    return dg.materialize(
        ALL,
        selection=[news.headlines, news.sentiment],
        resources=resources,
        instance=instance,
        tags=RANGE,
        raise_on_error=False,
    )


def _metadata(result, asset: str) -> dict:
    return result_metadata(result, asset)


def _headlines(root) -> pd.DataFrame:
    return Warehouse(root / "warehouse").read("headlines")


@pytest.mark.slow
def test_every_provider_merges_into_one_deduplicated_table(sec_ready):
    instance, root = sec_ready
    result = _run_news(
        instance, root, NewsSource(mode="demo", demo_now=NOW, finnhub_api_key=FINNHUB_KEY, **source_dirs(root))
    )
    assert result.success
    heads = _headlines(root)
    provider = heads["source"].str.split("/").str[0]
    assert set(provider) == {"yahoo-rss (demo)", "sec-8k (demo)", "finnhub (demo)"}
    assert not heads["url"].duplicated().any()
    # de-duplicated within each month (a month's rows never depend on the other months of its run)
    month = pd.to_datetime(heads["date"]).dt.to_period("M")
    assert not heads.assign(k=heads["title"].map(normalize_title), m=month).duplicated(["k", "m"]).any()

    # Finnhub re-publishes some RSS stories under the same URL and re-titles others: the first copy wins
    start, end = dt.date(2025, 1, 28), dt.date(2025, 3, 31)
    articles = demo.finnhub_company_news_json("ACMQ", start, end, pd.Timestamp(NOW).to_pydatetime())
    rss_urls = set(heads.loc[provider == "yahoo-rss (demo)", "url"])
    syndicated = [a["url"] for a in articles if a["url"] in rss_urls]
    assert syndicated and set(heads.loc[heads["url"].isin(syndicated), "source"]) == {"yahoo-rss (demo)"}
    retitled = {a["url"] for a in articles if a["headline"] == a["headline"].upper()}
    assert retitled and not retitled & set(heads["url"])
    meta = _metadata(result, "headlines")
    assert meta["duplicates_removed"] >= len(syndicated) + len(retitled & set(a["url"] for a in articles))
    assert meta["skipped_providers"] == {}
    assert set(meta["by_source"]) == set(provider)

    # the 8-Ks: item titles, the trading day after an after-close acceptance, the filing's own document
    filings = heads[provider == "sec-8k (demo)"].set_index("date")
    assert EIGHT_K_ITEMS["2.02"] in filings.loc[pd.Timestamp("2025-02-25"), "title"]
    restructuring = filings.loc[pd.Timestamp("2025-03-03")]  # accepted 16:05 New York on Friday Feb 28
    assert "Item 2.05 Costs Associated with Exit or Disposal Activities" in restructuring["title"]
    assert restructuring["url"].startswith("https://www.sec.gov/Archives/edgar/data/9900001/")

    # the key is sent in a header, and appears nowhere in logs or metadata
    logs = " ".join(entry.message or "" for entry in instance.all_logs(result.run_id))
    every_metadata = " ".join(
        str(m.metadata)
        for asset in ("headlines", "sentiment")
        for m in (*result.asset_materializations_for_node(asset), *result.asset_observations_for_node(asset))
    )
    assert FINNHUB_KEY not in logs and FINNHUB_KEY not in every_metadata

    sentiment = _metadata(result, "sentiment")
    month_scores = heads["score"]
    assert f"{month_scores.max():.4g}" in sentiment["most_positive"]
    assert f"{month_scores.min():.4g}" in sentiment["most_negative"]
    daily = Warehouse(root / "warehouse").read("sentiment")
    assert daily["headline_count"].sum() == len(heads)


def test_a_months_headlines_do_not_depend_on_the_other_months_of_its_run(sec_ready):
    """#16: ACMQ's "files Q1 2025 report" runs on 02-19 and again on 03-19. March's rows are the same
    whether March is built with February (a backfill) or alone (the after-close run of the open month),
    so continuous operation and a fresh build agree."""
    instance, root = sec_ready
    source = NewsSource(mode="demo", demo_now=NOW, **source_dirs(root))
    assert _run_news(instance, root, source).success  # February and March in one run
    together = _headlines(root)
    alone = dg.materialize(
        ALL,
        selection=[news.headlines],
        resources={
            "io_manager": ParquetWarehouseIOManager(base_path=str(root / "warehouse")),
            "sec": SecEdgarSource(mode="demo", demo_now=NOW, **source_dirs(root)),
            "news_source": source,
        },
        instance=instance,
        partition_key=MONTHS[1],
    )
    assert alone.success
    march = _headlines(root)
    columns = ["date", "published_utc", "title", "url", "source", "score", "label"]

    def in_march(frame):
        rows = frame[pd.to_datetime(frame["date"]) >= pd.Timestamp(MONTHS[1])]
        return rows.sort_values(["published_utc", "url"], ignore_index=True)[columns]

    pd.testing.assert_frame_equal(in_march(together), in_march(march))
    assert (in_march(march)["title"] == "[DEMO] Acme Quantum Systems files Q1 2025 report").any()


def test_keyed_api_is_skipped_cleanly_without_a_key(sec_ready):
    instance, root = sec_ready
    result = _run_news(instance, root, NewsSource(mode="demo", demo_now=NOW, **source_dirs(root)))
    assert result.success
    meta = _metadata(result, "headlines")
    assert meta["skipped_providers"] == {"finnhub": "no FINNHUB_API_KEY configured"}
    assert "finnhub" not in meta["http"]["by_source"]  # not a single request
    heads = _headlines(root)
    assert set(heads["source"]) == {"yahoo-rss (demo)", "sec-8k (demo)"}
    assert set(heads["date"].dt.strftime("%Y-%m-01")) == set(MONTHS)


def test_a_rejected_key_fails_the_run_with_a_clear_error(sec_ready):
    instance, root = sec_ready
    bad_key = "fh-revoked-000111"

    def finnhub_rejects(request: httpx.Request) -> httpx.Response | None:
        if request.url.host == "finnhub.io":
            assert request.headers["X-Finnhub-Token"] == bad_key and bad_key not in str(request.url)
            return httpx.Response(401, json={"error": "Invalid API key."})
        return None

    transport = Recorder(pd.Timestamp(NOW).to_pydatetime(), finnhub_rejects)
    source = ScriptedNews(
        transport_key=register_transport(transport),
        mode="demo",
        demo_now=NOW,
        finnhub_api_key=bad_key,
        **source_dirs(root),
    )
    result = _run_news(instance, root, source)
    assert not result.success
    error = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    text = error.message + (error.cause.message if error.cause else "")
    assert "finnhub.io/api/v1/company-news" in text and "401" in text
    assert bad_key not in text
