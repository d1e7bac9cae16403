"""Benchmark: SEC requests/s of the companyfacts fetch-then-parse loop, one at a time vs pipelined.

Several worker processes (as Dask workers would be) each fetch companyfacts documents through the
real `HttpClient` and the machine-wide `SourceLimiter` (10 requests/s for `sec`) and parse each one
with `normalize_companyfacts`, exactly as `xbrl_facts` does. The origin is in-process: it answers
after a fixed latency with a generated companyfacts document (parsing it takes a fraction of a
second, like a large filer's). Every request that reaches the origin is timestamped
(`RequestLogTransport`); the run reports requests/s over the run, the most requests in any 1-s
window, and the ratio to the limit, for prefetch depth 0 (the old loop) and the `SecEdgarSource`
default.

Run alone: `python -m benchmarks.bench_xbrl_pipeline`.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

from benchmarks.bench_xbrl import generated_companyfacts
from finance_assets.lib.rate_windows import max_in_sliding_window

SEC_LIMIT = 10
WORKERS = 2  # a 2-core machine runs 2 Dask worker processes
COMPANIES_PER_WORKER = 30
LATENCY_S = 0.12  # a typical EDGAR round trip from a US host
CONCEPTS = 400  # document size: parsing takes ~0.1-0.2 s, like a large filer (issue #19: ~0.2 s)
DEFAULT_DEPTH = 3  # SecEdgarSource.prefetch


def _worker(state_dir: str, log_path: str, body: bytes, ciks: list[int], depth: int, results) -> None:
    import httpx

    from finance_assets.defs.sec.xbrl import normalize_companyfacts
    from finance_assets.lib.http import HttpClient
    from finance_assets.lib.limiter import SourceLimiter
    from finance_assets.lib.prefetch import prefetch
    from finance_assets.lib.request_log import RequestLogTransport

    def origin(request: httpx.Request) -> httpx.Response:
        time.sleep(LATENCY_S)
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    client = HttpClient(
        user_agent="Benchmark bench@example.com",
        limiter=SourceLimiter(state_dir),
        transport=RequestLogTransport(httpx.MockTransport(origin), log_path),
    )

    def fetch(cik: int) -> dict:
        return client.get(f"https://data.sec.gov/api/xbrl/companyfacts/CIK{cik:010d}.json", source="sec").json()

    parse_s, rows = 0.0, 0
    for _, document in prefetch(ciks, fetch, depth=depth):
        t0 = time.perf_counter()
        rows += len(normalize_companyfacts(document))
        parse_s += time.perf_counter() - t0
    client.close()
    results.put({"parse_s": parse_s, "rows": rows, "documents": len(ciks)})


def measure(depth: int, workers: int = WORKERS, per_worker: int = COMPANIES_PER_WORKER) -> dict:
    document = generated_companyfacts(9_900_001, concepts=CONCEPTS, years=12)
    body = json.dumps(document).encode()
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "requests.log"
        results = ctx.Queue()
        procs = [
            ctx.Process(
                target=_worker,
                args=(
                    str(Path(tmp) / "state"),
                    str(log_path),
                    body,
                    [9_900_001 + w * 1000 + i for i in range(per_worker)],
                    depth,
                    results,
                ),
            )
            for w in range(workers)
        ]
        for proc in procs:
            proc.start()
        stats = [results.get(timeout=600) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
        stamps = sorted(float(line.split()[0]) for line in log_path.read_text().splitlines())
    span = stamps[-1] - stamps[0]
    rate = (len(stamps) - 1) / span if span > 0 else float("nan")
    return {
        "depth": depth,
        "requests": len(stamps),
        "seconds": round(span, 2),
        "requests_per_s": round(rate, 2),
        "max_in_1s": max_in_sliding_window(stamps, 1.0),
        "ratio_to_limit": round(rate / SEC_LIMIT, 3),
        "parse_s_per_document": round(sum(s["parse_s"] for s in stats) / sum(s["documents"] for s in stats), 3),
    }


def run() -> list[dict]:
    before, after = measure(0), measure(DEFAULT_DEPTH)
    rows = []
    for label, result in (("sequential", before), (f"prefetch {DEFAULT_DEPTH}", after)):
        rows.append(
            {
                "benchmark": "xbrl_pipeline",
                "metric": f"SEC requests/s, {label} ({WORKERS} processes, {result['requests']} documents, "
                f"parse {result['parse_s_per_document']} s each, max {result['max_in_1s']} in 1 s)",
                "ours": result["requests_per_s"],
                "reference": SEC_LIMIT,
                "unit": "requests/s",
                "ratio": result["ratio_to_limit"],
                "goal": 0.95 if label != "sequential" else None,
                "met": (result["ratio_to_limit"] >= 0.95 and result["max_in_1s"] <= SEC_LIMIT)
                if label != "sequential"
                else None,
            }
        )
    return rows


if __name__ == "__main__":
    for depth in (0, DEFAULT_DEPTH):
        print(json.dumps(measure(depth)))
