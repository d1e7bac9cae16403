"""The filing documents' default window starts at the configured history start, not N days before the
clock: a warehouse kept current (documents built as of T1, still current at T2 because no filing came
in between) holds exactly what a fresh build as of T2 holds (#16). A window of the last 730 days would
keep, at T2, a filing that a fresh build as of T2 has already dropped."""

from __future__ import annotations

import datetime as dt
import warnings

import dagster as dg
import pandas as pd
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.defs.sec import assets as sec
from finance_assets.defs.sec import documents
from finance_assets.defs.sec.source import SecEdgarSource
from finance_assets.demo import source as demo
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.limiter import DEFAULT_RATES
from finance_assets.lib.warehouse import Warehouse
from finance_assets_tests.scripted_sources import source_dirs

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

TICKER = "ACMQ"
HISTORY_START = "2023-01-01"
# ACMQ files nothing between these two clocks, and its 8-K of 2023-05-19 is inside "the last 730 days"
# at T1 and outside it at T2
T1, T2 = dt.date(2025, 5, 16), dt.date(2025, 5, 30)
GRAPH = [sec.ticker_cik_map, sec.filings, documents.filing_documents]


class UnthrottledSec(SecEdgarSource):
    """The demo's requests not held to SEC's 10 requests/s (nothing leaves the machine)."""

    def _rates(self) -> dict:
        return {name: [(10_000, 1.0)] for name in {*DEFAULT_RATES, *super()._rates()}}


def _build(home, instance, day: dt.date, selection) -> None:
    now = dt.datetime.combine(day, dt.time(22, 0), tzinfo=dt.UTC)
    resources = {
        "io_manager": ParquetWarehouseIOManager(base_path=str(home / "warehouse")),
        "sec": UnthrottledSec(
            mode="demo",
            demo_now=now.isoformat(),
            documents_dir=str(home / "documents"),
            **source_dirs(home),
        ),
    }
    tags = {ASSET_PARTITION_RANGE_START_TAG: TICKER, ASSET_PARTITION_RANGE_END_TAG: TICKER}
    result = dg.materialize(GRAPH, selection=selection, resources=resources, instance=instance, tags=tags)
    assert result.success


def _table(home, name: str) -> pd.DataFrame:
    frame = Warehouse(home / "warehouse").read(name)
    return frame.drop(columns=["downloaded"], errors="ignore").sort_values(list(frame.columns[:4]), ignore_index=True)


def test_the_default_window_is_from_the_history_start_to_the_clock(monkeypatch):
    monkeypatch.setenv("FINANCE_ASSETS_HISTORY_START", HISTORY_START)
    since, until = documents._window(documents.FilingDocumentsConfig(), T2)
    assert (since, until) == (pd.Timestamp(HISTORY_START), pd.Timestamp(T2))
    # an explicit length or start still wins
    assert documents._window(documents.FilingDocumentsConfig(lookback_days=30), T2)[0] == pd.Timestamp("2025-04-30")
    assert documents._window(documents.FilingDocumentsConfig(since="2024-02-01"), T2)[0] == pd.Timestamp("2024-02-01")


@pytest.mark.slow
def test_documents_kept_current_equal_a_fresh_build(tmp_path, monkeypatch):
    monkeypatch.setenv("FINANCE_ASSETS_HISTORY_START", HISTORY_START)
    filed = [f["filed"] for f in demo._demo_filings(TICKER, T2)]
    assert not [d for d in filed if T1 < d <= T2]  # no filing in between: nothing makes the documents re-run
    left = [d for d in filed if T1 - dt.timedelta(days=730) <= d < T2 - dt.timedelta(days=730)]
    assert left, "a filing must leave a 730-day window between T1 and T2 for this test to mean anything"

    kept, fresh = tmp_path / "kept", tmp_path / "fresh"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("ticker", [TICKER])
        _build(kept, instance, T1, GRAPH)
        _build(kept, instance, T2, [sec.ticker_cik_map, sec.filings])  # the filings refresh finds nothing new
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("ticker", [TICKER])
        _build(fresh, instance, T2, GRAPH)

    pd.testing.assert_frame_equal(_table(kept, "filings"), _table(fresh, "filings"))
    kept_docs, fresh_docs = _table(kept, "filing_documents"), _table(fresh, "filing_documents")
    assert pd.to_datetime(fresh_docs["filing_date"]).min() >= pd.Timestamp(HISTORY_START)
    assert pd.Timestamp(left[0]) in set(pd.to_datetime(fresh_docs["filing_date"]))
    pd.testing.assert_frame_equal(kept_docs, fresh_docs)
