"""The scale benchmark's universe (demo.serve_extra_companies): thousands of generated companies, with
the 12 demo companies, the benchmark and the 40 default extras answering byte for byte as before.

Each side runs in its own process: serving more companies changes module state (the ticker map lists
them), which other tests in this worker must not see."""

from __future__ import annotations

import json
import subprocess
import sys

from finance_assets.demo import source as demo

# Fingerprints (sha256) of every response a source asks the transport for, per ticker, as of a fixed
# clock; with argv[1] > 0 the transport first serves that many generated companies.
_RESPONSES = r"""
import datetime as dt, hashlib, json, sys
import httpx
from finance_assets.demo import source as demo

count = int(sys.argv[1])
if count:
    demo.serve_extra_companies(count)
transport = demo.DemoTransport(now=dt.datetime(2026, 6, 10, 22, 0, tzinfo=dt.UTC))
def digest(url, **params):
    response = transport.handle_request(httpx.Request("GET", url, params=params))
    return response.status_code, hashlib.sha256(response.content).hexdigest()
out = {}
for company in (*demo.DEMO_COMPANIES, *demo.extra_demo_companies()):
    cik = f"{company.cik:010d}"
    out[company.ticker] = [
        digest(f"https://data.sec.gov/submissions/CIK{cik}.json"),
        digest(f"https://data.sec.gov/api/xbrl/companyfacts/CIK{cik}.json"),
    ]
for ticker in [c.ticker for c in demo.DEMO_COMPANIES] + [demo.DEMO_BENCHMARK]:
    out.setdefault(ticker, []).extend([
        digest(f"https://query1.finance.yahoo.com/v8/finance/chart/{ticker}", period1=0, period2=2**31,
               interval="1d", events="div,splits"),
        digest("https://stooq.com/q/d/l/", s=f"{ticker.lower()}.us", i="d"),
        digest("https://feeds.finance.yahoo.com/rss/2.0/headline", s=ticker, region="US", lang="en-US"),
    ])
out["getcurrent"] = [digest("https://www.sec.gov/cgi-bin/browse-edgar", action="getcurrent", count=100)]
out["DQX4321"] = [digest("https://query1.finance.yahoo.com/v8/finance/chart/DQX4321", period1=0, period2=2**31)]
tickers = demo.company_tickers_exchange_json()["data"]
out["ticker_map"] = [len(tickers), [row[2] for row in tickers[:52]]]
print(json.dumps(out))
"""


def _responses(extra_companies: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _RESPONSES, str(extra_companies)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_a_6000_company_universe_leaves_every_existing_answer_unchanged():
    default, scaled = _responses(0), _responses(6000)
    existing = [c.ticker for c in demo.DEMO_COMPANIES] + [demo.DEMO_BENCHMARK]
    existing += [c.ticker for c in demo.extra_demo_companies()]
    assert all(all(status == 200 for status, _ in default[t]) for t in existing)
    assert {t: scaled[t] for t in existing} == {t: default[t] for t in existing}
    assert scaled["getcurrent"] == default["getcurrent"]  # the feed lists the demo companies only
    # the ticker map keeps its first 52 rows (demo companies, then DQX01..DQX40) and gains the rest
    assert default["ticker_map"][0] == 52 and scaled["ticker_map"][0] == 12 + 6000
    assert scaled["ticker_map"][1] == default["ticker_map"][1]
    assert default["DQX4321"][0][0] == 404 and scaled["DQX4321"][0][0] == 200


def test_generated_companies_are_deterministic_and_extend_the_defaults():
    many = demo.extra_demo_companies(1000)
    assert many[:40] == demo.extra_demo_companies()
    assert many == demo.extra_demo_companies(1000)
    assert len({c.ticker for c in many}) == len({c.cik for c in many}) == 1000
    assert {c.cik for c in many}.isdisjoint(c.cik for c in demo.DEMO_COMPANIES)
    assert all(c.name.endswith("(DEMO)") for c in many)
