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
from finance_assets.defs.portfolio.report_render import CHARTS, render_html
from finance_assets_tests.defs.portfolio.test_report_render import sample_data, sample_report

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
        for domain in ("Page", "Runtime", "Log", "Network"):
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

    def viewport(self, width: int, height: int = 900, mobile: bool = False) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)

    def requests(self) -> list[str]:
        """URLs the page requested since the last `open`."""
        self.call("Runtime.evaluate", expression="0")
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

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
  const box = (el) => { const r = el.getBoundingClientRect(); return {left: r.left, right: r.right, width: r.width,
                                                                      height: r.height}; };
  const visible = (el) => { const b = box(el); return b.width > 0 && b.height > 0 && b.left >= -1
                                                      && b.right <= window.innerWidth + 1; };
  const text = (el) => (el ? el.textContent.trim() : "");
  const charts = [...document.querySelectorAll("figure.chart")].map((f) => {
    const plot = f.querySelector(".js-plotly-plot");
    const x = f.querySelector(".g-xtitle text"), y = f.querySelector(".g-ytitle text");
    return {id: f.id, plot: plot ? box(plot) : null, figure: box(f),
            x: text(x), y: text(y), xVisible: !!x && visible(x), yVisible: !!y && visible(y),
            legend: f.querySelectorAll(".legend .traces").length,
            traces: plot && plot.data ? plot.data.map((t) => [t.name, (t.x || []).length]) : []};
  });
  const tables = [...document.querySelectorAll("table")].filter((t) => t.offsetParent !== null).map((t) => {
    const scroller = t.closest(".scroll");
    const style = scroller ? getComputedStyle(scroller).overflowX : "visible";
    return {id: t.id || t.className, table: box(t), scroller: scroller ? box(scroller) : null, overflow: style,
            scrollable: !!scroller && ["auto", "scroll"].includes(style)};
  });
  const rows = (id) => document.querySelectorAll(`#${id} tbody tr`).length;
  return {title: document.title, charts, tables, viewport: window.innerWidth,
          pageWidth: document.documentElement.scrollWidth, risk: rows("risk"), holdings: rows("holdings"),
          fundamentals: rows("fundamentals"), cards: document.querySelectorAll("#summary .card").length,
          window: document.body.dataset.window,
          banner: (document.querySelector(".banner") || {}).textContent || ""};
})()"""

# The visible window's figures: its metrics table and the last point of its cumulative-return chart.
WINDOW_FIGURES = """(() => {
  const pane = document.querySelector("section.pane:not([hidden])");
  const cells = [...pane.querySelectorAll("table.metrics tbody tr")].map((tr) => [tr.dataset.key,
                  tr.cells[1].textContent]);
  const plot = document.querySelector("#chart-cumulative .js-plotly-plot");
  const portfolio = plot.data.find((t) => t.name === "Portfolio");
  return {window: pane.dataset.window, cells: Object.fromEntries(cells), firstDate: portfolio.x[0],
          points: portfolio.x.length, last: portfolio.y[portfolio.y.length - 1],
          pressed: [...document.querySelectorAll("nav.windows button[aria-pressed=true]")].map((b) => b.dataset.window)};
})()"""


def _check_layout(facts: dict, width: int) -> None:
    """No horizontal clipping: the page never scrolls sideways, and a table wider than its box is in a
    scroll container (overflow-x auto) that itself fits the viewport. Every chart is laid out inside the
    viewport with visible axis titles and a legend."""
    assert facts["viewport"] == width
    assert facts["pageWidth"] <= width, facts["pageWidth"]
    for table in facts["tables"]:
        if table["table"]["right"] > width + 1:
            assert table["scrollable"], table
            assert table["scroller"]["right"] <= width + 1, table
    charts = {chart["id"]: chart for chart in facts["charts"]}
    assert set(charts) == {chart_id for chart_id, _ in CHARTS}
    for chart in charts.values():
        assert chart["plot"] is not None, chart["id"]
        assert chart["plot"]["width"] > min(300, width - 60) and chart["plot"]["height"] >= 250, chart
        assert chart["figure"]["right"] <= width + 1, chart
        assert chart["y"] and chart["yVisible"], chart
        if chart["id"] not in ("chart-contrib-return", "chart-contrib-risk", "chart-weights"):
            assert chart["x"] and chart["xVisible"], chart
        if chart["traces"]:
            assert chart["legend"] >= 1, chart  # a legend names every series


@pytest.mark.parametrize(("width", "mobile"), [(1280, False), (390, True)])
def test_the_report_renders_without_errors_at_desktop_and_phone_width(browser, tmp_path, width, mobile):
    data = sample_data(18, notes=["Converted to USD at the ECB rate of the day."], banner="DEMO DATA: simulated")
    page = tmp_path / "report.html"
    page.write_text(render_html(data), encoding="utf-8")
    browser.viewport(width, mobile=mobile)
    browser.open(page.as_uri())
    facts = browser.evaluate(PAGE_FACTS)
    assert browser.problems() == []
    assert [url for url in browser.requests() if not url.startswith(("file:", "data:"))] == []  # offline
    day = pd.Timestamp(data.summary["date"]).date().isoformat()
    assert facts["title"] == f"Portfolio report {day}"
    _check_layout(facts, width)
    value = dict(next(c for c in facts["charts"] if c["id"] == "chart-value")["traces"])
    assert "DEMOIDX (rebased)" in value and value["Portfolio"] > 200  # the 1 y window by default
    weights = dict(next(c for c in facts["charts"] if c["id"] == "chart-weights")["traces"])
    assert weights["Weight"] == 16  # 15 largest and '3 other'
    assert facts["risk"] >= 14 and facts["cards"] == 8 and facts["window"] == "1y"
    assert facts["holdings"] == facts["fundamentals"] == 18
    assert facts["banner"].startswith("DEMO DATA")
    png = browser.screenshot(_screenshot_dir(tmp_path) / f"portfolio_report_{width}.png")
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


@pytest.mark.parametrize("width", [1280, 390])
def test_window_buttons_switch_the_figures(browser, tmp_path, width):
    page = tmp_path / "report.html"
    page.write_text(render_html(sample_data(6)), encoding="utf-8")
    browser.viewport(width, mobile=width < 600)
    browser.open(page.as_uri())
    seen = {}
    for key in ("ytd", "1y", "3y", "all"):
        browser.evaluate(f"""document.querySelector('nav.windows button[data-window="{key}"]').click()""")
        seen[key] = browser.evaluate(WINDOW_FIGURES)
        assert seen[key]["window"] == key and seen[key]["pressed"] == [key]
        _check_layout(browser.evaluate(PAGE_FACTS), width)  # still nothing clipped in this window
    points = [seen[key]["points"] for key in ("ytd", "1y", "3y", "all")]
    assert points == sorted(points) and len(set(points)) == 4  # longer windows, more history drawn
    assert len({seen[key]["cells"]["total_return"] for key in seen}) == 4  # the figures change
    assert len({seen[key]["cells"]["sharpe"] for key in seen}) == 4
    assert seen["all"]["cells"]["observations"] != seen["1y"]["cells"]["observations"]
    # the chart's last cumulative return is the table's total return of the same window
    for figures in seen.values():
        assert f"{figures['last']:.2f}%" == figures["cells"]["total_return"]
    assert browser.evaluate("document.querySelector('nav.windows button[data-window=\"5y\"]').disabled")
    assert browser.problems() == []


def test_the_report_written_by_the_asset_code_opens(browser, tmp_path):
    summary, holdings, values, bench = sample_report(n_holdings=5)
    paths = write_report_files(tmp_path, summary, holdings, values, bench, benchmark_name="DEMOIDX")
    browser.viewport(1280)
    browser.open(paths["html"].as_uri())
    facts = browser.evaluate(PAGE_FACTS)
    assert browser.problems() == []
    _check_layout(facts, 1280)


def test_clicking_a_header_sorts_the_table(browser, tmp_path):
    summary, holdings, values, bench = sample_report(n_holdings=6)
    paths = write_report_files(tmp_path, summary, holdings, values, bench)
    browser.viewport(1280)
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
