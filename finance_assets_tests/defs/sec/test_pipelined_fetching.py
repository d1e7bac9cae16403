"""Pipelined SEC fetching (issue #19): filings and xbrl_facts fetch ahead (bounded) and give the same
tables as one-at-a-time; companyfacts decoded concept by concept equals json.loads; a limiter caller
that takes its slot late never lets more than the limit through in a real second."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import warnings
from pathlib import Path

import dagster as dg
import httpx
import pandas as pd
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.defs.sec import assets as sec
from finance_assets.defs.sec.xbrl import loads_companyfacts, normalize_companyfacts
from finance_assets.demo import source as demo
from finance_assets.lib import limiter as limiter_module
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.limiter import SourceLimiter
from finance_assets.lib.rate_windows import max_in_sliding_window
from finance_assets.lib.warehouse import Warehouse
from finance_assets_tests.scripted_sources import Recorder, ScriptedSec, register_transport, source_dirs

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

NOW = dt.datetime(2025, 6, 2, 22, 0, tzinfo=dt.UTC)
TICKERS = [c.ticker for c in demo.DEMO_COMPANIES[:6]]
REAL_FACTS = Path(__file__).resolve().parents[3] / "../shared/realdata/sec/companyfacts"


# ------------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b'{"a":1,}',
        b"[1]",
        b'{"facts": {"x": [1, 2]}}',
        b'{"facts": {"dei": {"A": {"u": 1}}}} trailing',
        b'\xef\xbb\xbf{"a": 1}',
        '{"a": NaN, "b": -Infinity}',
        b'{"facts": {}}',
        b' { "facts" : { "d" : { } , "e" : {"X" : {}, "X": {"y": 2}} } , "cik": 7 } ',
        b'{"a": 1, "a": 2, "facts": 3}',
        '{"entityName": "Caf\\u00e9 \u00e9", "facts": {"us-gaap": {"A": {"units": {"USD": []}}}}}'.encode("utf-16"),
    ],
)
def test_loads_companyfacts_is_json_loads(raw):
    def outcome(loads):
        try:
            value = loads(raw)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            return "error", type(exc).__name__
        return "ok", value, list(value) if isinstance(value, dict) else None

    assert outcome(loads_companyfacts) == outcome(json.loads)


def test_loads_companyfacts_on_generated_and_real_documents():
    documents = [json.dumps(demo.companyfacts_json(c.cik, NOW.date())).encode() for c in demo.DEMO_COMPANIES[:3]]
    documents += [path.read_bytes() for path in sorted(REAL_FACTS.glob("*.json"))] if REAL_FACTS.exists() else []
    for raw in documents:
        assert loads_companyfacts(raw) == json.loads(raw)
        pd.testing.assert_frame_equal(normalize_companyfacts(raw), normalize_companyfacts(json.loads(raw)))


# ------------------------------------------------------------------------------- the assets


class _InFlight(Recorder):
    """Counts requests in flight at once (each answered after a short delay)."""

    def __init__(self, now):
        super().__init__(now)
        self.lock = threading.Lock()
        self.current = self.peak = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
        try:
            time.sleep(0.02)
            return super().handle_request(request)
        finally:
            with self.lock:
                self.current -= 1


def _materialize(tmp_path: Path, prefetch: int) -> tuple[_InFlight, dict[str, pd.DataFrame]]:
    transport = _InFlight(NOW)
    resources = {
        "io_manager": ParquetWarehouseIOManager(base_path=str(tmp_path / "warehouse")),
        "sec": ScriptedSec(
            transport_key=register_transport(transport),
            mode="demo",
            demo_now=NOW.isoformat(),
            prefetch=prefetch,
            **source_dirs(tmp_path),
        ),
    }
    tags = {ASSET_PARTITION_RANGE_START_TAG: TICKERS[0], ASSET_PARTITION_RANGE_END_TAG: TICKERS[-1]}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("ticker", TICKERS)
        assets = [sec.ticker_cik_map, sec.filings, sec.xbrl_facts]
        assert dg.materialize(assets, selection=[sec.ticker_cik_map], resources=resources, instance=instance).success
        transport.peak = 0
        for asset in (sec.filings, sec.xbrl_facts):
            result = dg.materialize(assets, selection=[asset], resources=resources, instance=instance, tags=tags)
            assert result.success
    warehouse = Warehouse(tmp_path / "warehouse")
    return transport, {name: warehouse.read(name) for name in ("filings", "xbrl_facts")}


def test_filings_and_facts_fetch_ahead_with_the_same_tables(tmp_path):
    one_at_a_time, expected = _materialize(tmp_path / "sequential", prefetch=0)
    ahead, actual = _materialize(tmp_path / "pipelined", prefetch=3)
    assert one_at_a_time.peak == 1
    assert 1 < ahead.peak <= 3  # bounded: never more than `prefetch` documents in flight
    for name in ("filings", "xbrl_facts"):
        assert set(actual[name]["ticker"]) == set(TICKERS)
        pd.testing.assert_frame_equal(actual[name], expected[name])
    submissions = [r.url.path for r in ahead.requests if r.url.path.startswith("/submissions/")]
    assert sorted(submissions) == sorted(
        f"/submissions/CIK{demo.COMPANIES_BY_TICKER[t].cik:010d}.json" for t in TICKERS
    )


# ------------------------------------------------------------------------------- the limiter


def test_a_late_caller_takes_a_fresh_slot(tmp_path, monkeypatch):
    """A caller that wakes 100 ms after its slot (a loaded machine, another thread holding the GIL)
    must not send in the same real second as the request `limit` slots later."""
    real_sleep = time.sleep
    late = {"left": 1}

    def oversleep(seconds: float) -> None:
        extra = 0.1 if late["left"] and seconds > 0.2 else 0.0
        late["left"] -= bool(extra)
        real_sleep(seconds + extra)

    monkeypatch.setattr(limiter_module.time, "sleep", oversleep)
    limiter = SourceLimiter(tmp_path, rates={"probe": [(2, 1.0)]})  # a sub-second source, like SEC
    sent = []
    for _ in range(6):
        limiter.acquire("probe", timeout=10)
        sent.append(time.monotonic())
    assert late["left"] == 0  # the late wake-up happened
    assert max_in_sliding_window(sent, 1.0) <= 2
