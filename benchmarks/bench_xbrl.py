"""Benchmark: companyfacts normalization and standardization throughput (facts per second).

Uses the real AAPL + NVDA companyfacts from ../shared/realdata when present, else a generated
document of similar shape (about 25k facts over 500 concepts per company).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from benchmarks._timing import median_seconds
from finance_assets.defs.sec.fundamentals import standardize
from finance_assets.defs.sec.xbrl import normalize_companyfacts

REAL_FILES = {"CIK0000320193_AAPL.edgarkit.json": "0926", "CIK0001045810_NVDA.edgartools.json": "0131"}
NORMALIZE_GOAL = 50_000.0  # facts/s: a large filer (~30k facts) in well under a second
STANDARDIZE_GOAL = 10_000.0
REPEATS = 5


def _realdata_dir() -> Path:
    env = os.environ.get("FINANCE_ASSETS_REALDATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


def generated_companyfacts(cik: int, concepts: int = 500, years: int = 15, seed: int = 0) -> dict:
    """A synthetic companyfacts document: per concept, quarterly/annual durations or instants,
    each reported in its own filing and again as a comparative a year later."""
    rng = np.random.default_rng(seed)
    facts: dict[str, dict] = {}
    for number in range(concepts):
        instant = number % 3 == 0
        rows = []
        for year in range(2010, 2010 + years):
            for quarter in range(1, 5):
                end = f"{year}-{3 * quarter:02d}-{30 if quarter in (2, 3) else 31}"
                start = f"{year}-{3 * quarter - 2:02d}-01"
                form, fp = ("10-K", "FY") if quarter == 4 else ("10-Q", f"Q{quarter}")
                value = int(rng.integers(1, 10**11))
                for lag, accession_year in ((0, year), (1, year + 1)):
                    fact = {
                        "end": end,
                        "val": value,
                        "accn": f"{cik:010d}-{accession_year % 100:02d}-{quarter:06d}",
                        "fy": year + lag,
                        "fp": fp,
                        "form": form,
                        "filed": f"{year + lag + (quarter == 4)}-{(3 * quarter) % 12 + 1:02d}-15",
                    }
                    if not instant:
                        fact["start"] = start
                    rows.append(fact)
        facts[f"Concept{number}"] = {"label": f"Concept {number}", "description": "generated", "units": {"USD": rows}}
    facts["Revenues"] = facts.pop("Concept1")
    return {"cik": cik, "entityName": f"Generated {cik}", "facts": {"us-gaap": facts}}


def _documents() -> tuple[list[tuple[dict, str]], str]:
    folder = _realdata_dir() / "sec" / "companyfacts"
    paths = [(folder / name, fiscal_year_end) for name, fiscal_year_end in REAL_FILES.items()]
    if all(path.exists() for path, _ in paths):
        return [(json.loads(path.read_bytes()), fye) for path, fye in paths], "real AAPL+NVDA companyfacts"
    return [
        (generated_companyfacts(1, seed=1), "1231"),
        (generated_companyfacts(2, concepts=600, seed=2), "1231"),
    ], "generated companyfacts (realdata absent)"


def _row(benchmark: str, ours: float, goal: float, source: str) -> dict:
    return {
        "benchmark": benchmark,
        "metric": f"facts_per_second ({source}, median of {REPEATS})",
        "ours": ours,
        "reference": None,
        "unit": "facts/s",
        "ratio": None,
        "goal": f">= {goal:,.0f} facts/s",
        "met": ours >= goal,
    }


def run() -> list[dict]:
    documents, source = _documents()
    normalized = [normalize_companyfacts(document) for document, _ in documents]
    fact_count = sum(len(frame) for frame in normalized)
    normalize_seconds = median_seconds(lambda: [normalize_companyfacts(document) for document, _ in documents], REPEATS)
    standardize_seconds = median_seconds(
        lambda: [standardize(frame, fye) for frame, (_, fye) in zip(normalized, documents)], REPEATS
    )
    return [
        _row("xbrl_normalize_companyfacts", fact_count / normalize_seconds, NORMALIZE_GOAL, source),
        _row("fundamentals_standardize", fact_count / standardize_seconds, STANDARDIZE_GOAL, source),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
