"""Benchmark: reading a run's companies from an EDGAR-layout bulk archive.

Builds a 100,000-member archive (submissions.zip holds ~900,000, companyfacts.zip ~19,000) with 500
"run" companies carrying a demo companyfacts document, then measures:
- indexing the central directory for the run's members vs `zipfile.ZipFile` indexing every member;
- reading and parsing the 500 companies vs the per-company API floor at SEC's 10 requests/s
  (submissions + companyfacts = 2 requests per company, before any older-filings pages).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import zipfile
from pathlib import Path

from benchmarks._timing import median_seconds
from finance_assets.defs.sec.edgar_bulk import BulkArchive, member_name
from finance_assets.defs.sec.xbrl import normalize_companyfacts
from finance_assets.demo import source as demo

MEMBERS = 100_000
RUN_COMPANIES = 500
SEC_REQUESTS_PER_SECOND = 10
REPEATS = 3


def _build(path: Path) -> list[int]:
    template = demo.companyfacts_json(demo.DEMO_COMPANIES[0].cik, dt.date(2025, 6, 2))
    run_ciks = list(range(1_000_000, 1_000_000 + MEMBERS, MEMBERS // RUN_COMPANIES))
    wanted = set(run_ciks)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for cik in range(1_000_000, 1_000_000 + MEMBERS):
            body = json.dumps({**template, "cik": cik}) if cik in wanted else f'{{"cik": {cik}, "facts": {{}}}}'
            archive.writestr(member_name(cik), body)
    return run_ciks


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "companyfacts.zip"
        ciks = _build(path)

        def index_ours():
            with BulkArchive(path, ciks) as archive:
                assert len(archive.members) == RUN_COMPANIES

        def index_zipfile():
            with zipfile.ZipFile(path) as archive:
                assert len(archive.infolist()) == MEMBERS

        def read_run():
            with BulkArchive(path, ciks) as archive:
                facts = sum(len(normalize_companyfacts(archive.read(member_name(cik)))) for cik in ciks)
                assert facts > 0

        ours_index, zipfile_index = median_seconds(index_ours, REPEATS), median_seconds(index_zipfile, REPEATS)
        ours_read = median_seconds(read_run, 1)
    api_floor = RUN_COMPANIES * 2 / SEC_REQUESTS_PER_SECOND
    return [
        {
            "benchmark": "edgar_bulk",
            "metric": f"index {RUN_COMPANIES} of {MEMBERS:,} archive members",
            "ours": round(ours_index, 3),
            "reference": round(zipfile_index, 3),
            "unit": "s (vs zipfile.ZipFile)",
            "ratio": round(zipfile_index / ours_index, 2),
            "goal": ">= 1 (and memory independent of the archive)",
            "met": ours_index <= zipfile_index,
        },
        {
            "benchmark": "edgar_bulk",
            "metric": f"read + normalize {RUN_COMPANIES} companies from the archive",
            "ours": round(ours_read, 2),
            "reference": api_floor,
            "unit": "s (vs API at 10 req/s)",
            "ratio": round(api_floor / ours_read, 1),
            "goal": ">= 10x faster than the request floor",
            "met": ours_read * 10 <= api_floor,
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
