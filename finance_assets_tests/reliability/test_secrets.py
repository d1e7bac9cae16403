"""Secrets stay secret: a live-mode backfill with a SEC contact e-mail and an Alpha Vantage key, through
injected faults, retries and a ticker that every provider refuses, leaves neither in anything it wrote.

Live mode needs the network, so the test sets FINANCE_ASSETS_TRANSPORT=demo: the live code path runs
unchanged (live User-Agent in every SEC request, the key in the Alpha Vantage URL, live limits) but
the requests are answered by the offline demo transport. NOPEQ is a valid symbol no provider knows,
so its prices fall through to Alpha Vantage and fail there: the URL with the key ends up in an
exception, a Dagster step failure and the CLI's output, which is where a leak would show.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from urllib.parse import quote, quote_plus

import pandas as pd
import pyarrow.parquet as pq
import pytest

from finance_assets.lib.warehouse import Warehouse
from finance_assets_tests.fault_injection import fault_env

from .conftest import base_env, cli, http_stats_per_run, write_portfolio

SEC_USER_AGENT = "Test Corp secret-contact@example.com"
API_KEY = "AVKEY9F3C1D7E5B2SECRET"


def _needles() -> list[bytes]:
    out = set()
    for secret in (SEC_USER_AGENT, "secret-contact@example.com", "secret-contact", API_KEY):
        for variant in (secret, quote(secret, safe=""), quote_plus(secret), secret.lower(), secret.upper()):
            out.add(variant.encode())
            out.add(variant.encode("utf-16-le"))
    return sorted(out)


def _texts_inside(path: Path, raw: bytes) -> list[bytes]:
    """The bytes of a file plus what compression would hide: Parquet cells and gzip members."""
    texts = [raw]
    if raw[:4] == b"PAR1":
        table = pq.read_table(path)
        texts.append(table.to_pandas().to_csv().encode())
        texts.append(str(table.schema.metadata).encode())
    if raw[:2] == b"\x1f\x8b":
        try:
            texts.append(gzip.decompress(raw))
        except OSError:
            pass
    return texts


def find_secrets(roots: list[Path], outputs: list[str]) -> list[str]:
    """Every place (file or output) where a secret appears, raw, encoded or compressed."""
    found = []
    needles = _needles()
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            for text in _texts_inside(path, path.read_bytes()):
                found += [f"{path}: {needle!r}" for needle in needles if needle in text]
    for i, output in enumerate(outputs):
        found += [f"output {i}: {needle!r}" for needle in needles if needle in output.encode()]
    return found


def test_the_scanner_finds_a_planted_secret_even_compressed(tmp_path):
    pd.DataFrame({"note": [f"contact {SEC_USER_AGENT}"]}).to_parquet(tmp_path / "a.parquet", compression="snappy")
    (tmp_path / "b.gz").write_bytes(gzip.compress(f"apikey={API_KEY}".encode()))
    (tmp_path / "c.txt").write_text("nothing here")
    found = find_secrets([tmp_path], [f"url?apikey={quote(API_KEY)}"])
    assert any("a.parquet" in f for f in found) and any("b.gz" in f for f in found)
    assert any(f.startswith("output 0") for f in found) and not any("c.txt" in f for f in found)


@pytest.mark.slow
def test_live_mode_run_leaks_no_secret_anywhere(isolated_home, instance):
    data = isolated_home / "data"
    write_portfolio(data, ["ACMQ", "BLZQ", "NOPEQ"])  # NOPEQ: a valid symbol no provider knows
    env = base_env(
        FINANCE_ASSETS_MODE="live",
        FINANCE_ASSETS_TRANSPORT="demo",
        FINANCE_ASSETS_BENCHMARK="DEMOIDX",
        **fault_env(fault_rate=0.2),
        SEC_USER_AGENT=SEC_USER_AGENT,
        ALPHAVANTAGE_API_KEY=API_KEY,
        # filing documents from 2025-01 only: the suite's 2016 history start would fetch ten years of them
        FINANCE_ASSETS_HISTORY_START="2025-01-01",
    )
    outputs = []
    for args in (
        ["register", "--unchecked"],  # NOPEQ must get through to the price providers
        ["backfill", "--start", "2025-03", "--end", "2025-03", "--chunk-tickers", "2", "--executor", "in_process"],
        ["catalog"],
        ["report"],
    ):
        done = cli(args, env)
        outputs += [done.stdout, done.stderr]
        if args[0] == "backfill":
            backfill = done

    # the secrets were really used: live SEC requests went out with the declared User-Agent (live mode
    # refuses to build a SEC client without one), and the key travelled to Alpha Vantage
    failed_line = next((line for line in backfill.stdout.splitlines() if " FAILED: " in line), "")
    # the month run of the chunk holding NOPEQ failed (chunks of 2 tickers, tagged, in the order of their
    # shards: DEMOIDX 00, BLZQ 02, ACMQ 07, NOPEQ 12)
    assert backfill.returncode == 2 and "market ACMQ..NOPEQ 2025-03" in failed_line, backfill.stdout[-3000:]
    assert "SourceFailed: all price providers failed for NOPEQ" in backfill.stdout
    assert "www.alphavantage.co/query?function=TIME_SERIES_DAILY_ADJUSTED&symbol=NOPEQ" in backfill.stdout
    assert "apikey=***" in backfill.stdout  # the failing URL is in the error, with the key redacted
    warehouse = Warehouse(data / "warehouse")
    assert set(warehouse.read("prices")["ticker"]) == {"DEMOIDX", "BLZQ"}  # the chunk without NOPEQ
    assert {"ACMQ", "BLZQ"} <= set(warehouse.read("filings")["ticker"])
    retried = [
        http.get("retries", 0)
        for asset in ("ticker_cik_map", "filings", "xbrl_facts", "prices", "headlines")
        for http in http_stats_per_run(instance, asset)
    ]
    assert sum(retried) > 0  # faults were injected and retried: retry logs were written too

    leaks = find_secrets([isolated_home / "dagster_home", data], outputs)
    assert leaks == []
    # positive control: the redacted URL sits in the event log the scan read, where a raw key would be
    event_logs = [p for p in (isolated_home / "dagster_home").rglob("*.db") if b"apikey=***" in p.read_bytes()]
    assert event_logs
    # the scan covered what the run wrote: the event log, compute logs, warehouse, cache, reports
    written = {p.relative_to(isolated_home).parts[:2] for p in isolated_home.rglob("*") if p.is_file()}
    assert {
        ("dagster_home", "history"),
        ("dagster_home", "storage"),
        ("data", "warehouse"),
        ("data", "cache"),
        ("data", "reports"),
    } <= written
