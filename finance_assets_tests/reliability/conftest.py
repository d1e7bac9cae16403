"""Helpers for the reliability tests: the real CLI in a subprocess, the Dagster instance it wrote, and
the fictional universe (12 demo companies, the extra DQXnn companies and DEMOIDX)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from dagster._core.storage.tags import PARTITION_NAME_TAG

from finance_assets.demo import source as demo
from finance_assets.lib.partitions import tickers_tag
from finance_assets.lib.selections import MARKET, SEC

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# 12 demo companies + 7 extra fictional ones + the benchmark = 20 ticker partitions
TWENTY_TICKERS = [c.ticker for c in demo.DEMO_COMPANIES] + [c.ticker for c in demo.DEMO_EXTRA_COMPANIES[:7]]
MARKET_ASSETS = MARKET.assets
SEC_ASSETS = SEC.assets
FAST_RETRIES = "0.01"  # FINANCE_ASSETS_HTTP_BACKOFF: 10 ms backoff base, waits capped at 0.6 s


def write_portfolio(data_dir: Path, tickers: list[str]) -> None:
    rows = "".join(f"{t},{10 + i},{40 + i},USD\n" for i, t in enumerate(tickers))
    (data_dir / "portfolio.csv").write_text("ticker,shares,cost_basis,currency\n" + rows)


# `dagster asset materialize` of prices and technicals, Feb-Mar 2025, as one range run of every registered
# ticker (the crash tests register 2); they run it as of OLD_NOW, then again as of NEW_NOW (new bars to
# write) and kill it mid-write.
MATERIALIZE = [
    "asset",
    "materialize",
    "-m",
    "finance_assets.definitions",
    "--select",
    "prices,technicals",
    "--partition-range",
    "2025-02-01...2025-03-01",
]
OLD_NOW, NEW_NOW = "2025-03-14T22:00:00Z", "2025-04-10T22:00:00Z"


def base_env(**extra: str) -> dict[str, str]:
    """The test's environment (isolated_home already set the data dir, DAGSTER_HOME and demo mode)."""
    env = dict(
        os.environ,
        PYTHONWARNINGS="ignore",
        FINANCE_ASSETS_EXECUTOR="in_process",
        FINANCE_ASSETS_HTTP_BACKOFF=FAST_RETRIES,
        # the demo answers offline: its requests need not wait for the live providers' limits (the limiter
        # has tests of its own; test_rate_limit_under_faults builds its own SEC limiter)
        FINANCE_ASSETS_DEMO_RATES="*=1000",
    )
    for name in (
        "FINANCE_ASSETS_FAULT_RATE",
        "FINANCE_ASSETS_OUTAGE_HOSTS",
        "FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER",
        "FINANCE_ASSETS_TRANSPORT",
        "FINANCE_ASSETS_REQUEST_LOG",
        "SEC_USER_AGENT",
        "ALPHAVANTAGE_API_KEY",
        "FINNHUB_API_KEY",
    ):
        env.pop(name, None)
    env.update(extra)
    return env


def cli(args: list[str], env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "finance_assets.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def dagster_market_run(asset: str, month: str, tickers: list[str], env: dict) -> subprocess.Popen:
    """`dagster job execute` of one market asset for one month and only `tickers` (the run's tickers tag,
    which `dagster asset materialize` cannot set)."""
    tags = {PARTITION_NAME_TAG: month, **tickers_tag(tickers)}
    return subprocess.Popen(
        [
            *(str(BIN / "dagster"), "job", "execute", "-m", "finance_assets.definitions"),
            *("-j", MARKET.job, "-o", asset, "--tags", json.dumps(tags)),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def instance(isolated_home) -> Iterator:
    """The Dagster instance under the test's DAGSTER_HOME (read it after the subprocesses wrote it)."""
    import dagster as dg

    with dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"]) as inst:
        yield inst


def materialized(inst, asset: str) -> set[str]:
    import dagster as dg

    return set(inst.get_materialized_partitions(dg.AssetKey(asset)))


def http_stats_per_run(inst, asset: str) -> list[dict]:
    """The `http` metadata of `asset`, once per run (a range run records it once, as an observation)."""
    from finance_assets.lib.run_metadata import metadata_per_run

    return [m["http"] for m in metadata_per_run(inst, asset).values() if m.get("http")]


def sessions_between(first: str, last: str) -> list:
    """XNYS sessions (the demo's calendar) with first <= date <= last."""
    days = pd.Index(demo.demo_sessions().date)
    return [d for d in days if pd.Timestamp(first).date() <= d <= pd.Timestamp(last).date()]


def expected_adjusted_closes(ticker: str, first: str, last: str, as_of: str | None = None) -> pd.Series:
    """What the demo source serves without faults as of `as_of` (default: the machine clock, as a run
    without FINANCE_ASSETS_AS_OF), indexed by Timestamp like `adjusted_closes`. The demo is point in
    time: adjusted closes hold only the splits and dividends known by then."""
    now = pd.Timestamp(as_of) if as_of else pd.Timestamp.now(tz="UTC")
    now = now.tz_localize("UTC") if now.tzinfo is None else now
    bars = demo.adjusted_bars_as_of(ticker, now.tz_convert("America/New_York").date())
    keep = (bars["date"] >= pd.Timestamp(first).date()) & (bars["date"] <= pd.Timestamp(last).date())
    return bars.loc[keep].set_index(pd.DatetimeIndex(pd.to_datetime(bars.loc[keep, "date"])))["adj_close"]


def adjusted_closes(prices: pd.DataFrame, ticker: str) -> pd.Series:
    rows = prices[prices["ticker"] == ticker]
    return rows.set_index(pd.DatetimeIndex(pd.to_datetime(rows["date"])))["adj_close"].sort_index()
