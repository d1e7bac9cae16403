"""The HTML report in a real browser: headless Chromium (Debian's `chromium`) driven over the DevTools
protocol, so console errors and uncaught exceptions are caught, the charts' rendered sizes measured, the
table sorting clicked, and a full-page screenshot taken. Skips when Chromium is not installed.

Set FINANCE_ASSETS_SCREENSHOT_DIR to keep the screenshots.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from finance_assets.defs.portfolio.assets import write_report_files
from finance_assets_tests.defs.portfolio.test_report_render import sample_report

CHROMIUM = next(
    (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")


class Browser:
    """One headless Chromium page over the DevTools protocol; records console errors and exceptions."""

    def __init__(self, profile: Path, timeout: float = 30.0):
        from websockets.sync.client import connect

        self.timeout = timeout
        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                "--window-size=1400,1000",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = self._devtools_port(profile / "DevToolsActivePort")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:  # local browser
            page = next(t for t in json.load(answer) if t["type"] == "page")
        self.socket = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self.next_id, self.events = 0, []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def _devtools_port(self, port_file: Path) -> int:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if port_file.exists() and port_file.read_text().strip():
                return int(port_file.read_text().split()[0])
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}")
            time.sleep(0.05)
        raise TimeoutError("chromium did not open its DevTools port")

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while True:
            message = json.loads(self.socket.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == event for e in self.events):
            self.events.append(json.loads(self.socket.recv(timeout=max(deadline - time.monotonic(), 0.1))))

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors/warnings, uncaught exceptions and failed loads seen since the last `open`."""
        self.call("Runtime.evaluate", expression="0")  # drain events queued so far
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('exception', {}).get('description')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                found.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(f"log {params['entry']['level']}: {params['entry']['text']}")
        return found

    def screenshot(self, path: Path) -> bytes:
        width, height = self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        shot = self.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        )
        data = base64.b64decode(shot["data"])
        path.write_bytes(data)
        return data

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    pytest.importorskip("websockets")
    session = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield session
    session.close()


def _screenshot_dir(tmp_path: Path) -> Path:
    keep = os.environ.get("FINANCE_ASSETS_SCREENSHOT_DIR")
    return Path(keep) if keep else tmp_path


# What the page must show, measured by the browser after layout.
PAGE_FACTS = """(() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
  const charts = [...document.querySelectorAll("figure.chart")].map((f) => ({
    id: f.id, svg: f.querySelector("svg") ? box(f.querySelector("svg")) : null,
    lines: [...f.querySelectorAll("polyline")].map((p) => [p.dataset.series, p.points.numberOfItems,
                                                             box(p)[0], box(p)[1]]),
    bars: [...f.querySelectorAll("rect.bar")].map((r) => box(r)[0])}));
  const rows = (id) => document.querySelectorAll(`#${id} tbody tr`).length;
  return {title: document.title, charts, risk: rows("risk"), holdings: rows("holdings"),
          fundamentals: rows("fundamentals"), cards: document.querySelectorAll("#summary .card").length,
          banner: (document.querySelector(".banner") || {}).textContent || ""};
})()"""


def test_the_report_renders_without_errors_with_its_charts_and_tables(browser, tmp_path):
    summary, holdings, values, bench = sample_report(n_holdings=18)
    paths = write_report_files(
        tmp_path / "reports",
        summary,
        holdings,
        values,
        bench,
        base="USD",
        benchmark_name="DEMOIDX",
        notes=["Converted to USD at the ECB rate of the day."],
        banner="DEMO DATA: simulated",
    )
    browser.open(paths["html"].as_uri())
    facts = browser.evaluate(PAGE_FACTS)
    assert browser.problems() == []
    day = pd.Timestamp(summary["date"]).date().isoformat()
    assert facts["title"] == f"Portfolio report {day}"
    charts = {chart["id"]: chart for chart in facts["charts"]}
    assert set(charts) == {"chart-value", "chart-drawdown", "chart-weights"}
    for chart in charts.values():
        width, height = chart["svg"]
        assert width > 300 and height > 100, chart["id"]  # laid out at a readable size
    value_lines = {series: (points, w, h) for series, points, w, h in charts["chart-value"]["lines"]}
    assert value_lines["Portfolio"][0] == len(values) and value_lines["Portfolio"][1] > 300
    assert value_lines["Portfolio"][2] > 20  # the line spans real height, not a flat stroke
    assert "DEMOIDX (rebased)" in value_lines
    bars = charts["chart-weights"]["bars"]
    assert len(bars) == 16 and all(width > 0 for width in bars)  # 15 largest and '3 other'
    assert facts["risk"] >= 14 and facts["cards"] == 8
    assert facts["holdings"] == facts["fundamentals"] == 18
    assert facts["banner"].startswith("DEMO DATA")
    png = browser.screenshot(_screenshot_dir(tmp_path) / "portfolio_report.png")
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


def test_clicking_a_header_sorts_the_table(browser, tmp_path):
    summary, holdings, values, bench = sample_report(n_holdings=6)
    paths = write_report_files(tmp_path, summary, holdings, values, bench)
    browser.open(paths["html"].as_uri())
    column = browser.evaluate("""[...document.querySelectorAll('#holdings tr.columns th')]
                                 .findIndex((th) => th.textContent === 'Day')""")
    read = f"[...document.querySelectorAll('#holdings tbody tr')].map((tr) => Number(tr.cells[{column}].dataset.v))"
    browser.evaluate(f"document.querySelectorAll('#holdings tr.columns th')[{column}].click()")
    ascending = browser.evaluate(read)
    browser.evaluate(f"document.querySelectorAll('#holdings tr.columns th')[{column}].click()")
    descending = browser.evaluate(read)
    assert ascending == sorted(holdings["day_change_pct"].tolist())
    assert descending == ascending[::-1]
    assert browser.problems() == []


def test_a_broken_page_is_caught(browser, tmp_path):
    """The checks above can fail: a script error and a console error on a page are both reported."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!doctype html><html><head><title>x</title></head><body>"
        "<script>console.error('boom'); undefinedFunction();</script></body></html>"
    )
    browser.open(page.as_uri())
    problems = browser.problems()
    assert any("boom" in p for p in problems) and any("undefinedFunction" in p for p in problems)
