"""Markdown and HTML rendering: formats, every section present, escaping, charts that fit their data."""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from finance_assets.defs.portfolio import tearsheet
from finance_assets.defs.portfolio.report_data import ReportData, window_views
from finance_assets.defs.portfolio.report_render import (
    CHARTS,
    FIELDS_FILE,
    FILINGS_GROUP,
    FUNDAMENTALS_GROUP,
    HOLDING_FIELDS,
    RISK_FIELDS,
    SUMMARY_FIELDS,
    _load_fields,
    fmt,
    render_html,
    render_markdown,
    weight_bars,
)
from finance_assets.defs.portfolio.schemas import PORTFOLIO_HOLDINGS, PORTFOLIO_REPORT


def sample_report(n_holdings: int = 4) -> tuple[dict, pd.DataFrame, pd.Series, pd.Series]:
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2025-01-02", periods=120)
    values = pd.Series(1e5 * np.cumprod(1 + rng.normal(0.0005, 0.01, len(dates))), index=dates)
    bench = pd.Series(5000 * np.cumprod(1 + rng.normal(0.0004, 0.008, len(dates))), index=dates)
    tickers = [f"T{i:02d}" for i in range(n_holdings)]
    weights = rng.dirichlet(np.ones(n_holdings))
    holdings = pd.DataFrame(
        {
            "ticker": tickers,
            "account": ["ira"] + [""] * (n_holdings - 1),
            "currency": ["USD"] * n_holdings,
            "shares": 10.0,
            "price": 100.0,
            "price_date": dates[-1],
            "market_value": weights * 1e5,
            "weight": weights,
            "unrealized_pnl": rng.normal(0, 1000, n_holdings),
            "unrealized_pnl_pct": rng.normal(0, 0.2, n_holdings),
            "day_change_pct": rng.normal(0, 0.01, n_holdings),
            "rsi_14": 50.0,
            "price_vs_sma50": 0.02,
            "price_vs_sma200": np.nan,
            "bb_pctb": 0.5,
            "sentiment_7d": 0.1,
            "headlines_7d": 3.0,
            "fiscal_period": "2024Q3",
            "fundamentals_filed": pd.Timestamp("2024-11-07"),
            "pe_ttm": 21.5,
            "price_to_book": 3.2,
            "debt_to_equity": 1.1,
            "current_ratio": 1.6,
            "roa": 0.08,
            "roe": 0.18,
            "gross_margin": 0.4,
            "net_margin": 0.12,
        }
    )
    summary = {
        "date": dates[-1],
        "total_value": 1e5,
        "total_cost": 9e4,
        "unrealized_pnl": 1e4,
        "unrealized_pnl_pct": 1 / 9,
        "day_pnl": -120.0,
        "day": -0.0012,
        "mtd": 0.01,
        "ytd": 0.05,
        "annualized_volatility": 0.16,
        "var_hist_95": -0.015,
        "var_hist_99": -0.025,
        "var_param_95": -0.016,
        "var_param_99": -0.023,
        "cvar_95": -0.021,
        "cvar_99": -0.03,
        "beta": 1.1,
        "sharpe": 1.3,
        "sortino": 1.9,
        "max_drawdown": -0.08,
        "hhi": float((weights**2).sum()),
        "effective_holdings": float(1 / (weights**2).sum()),
        "risk_free_annual": 0.03,
        "observations": 119,
    }
    return summary, holdings, values, bench


SECTORS = ["Technology", "Energy", "Health care"]


def sample_data(n_holdings: int = 4, sessions: int = 820, **options) -> ReportData:
    """A report over `sessions` business days (> 3 years: YTD, 1 y, 3 y and all are available), the
    value the sum of simulated holdings, a benchmark on the same dates and three sectors."""
    summary, holdings, _, _ = sample_report(n_holdings)
    rng = np.random.default_rng(11)
    dates = pd.bdate_range(end="2025-06-20", periods=sessions)
    market = rng.normal(0.0003, 0.009, sessions)
    returns = market[:, None] * rng.uniform(0.5, 1.5, n_holdings) + rng.normal(0.0002, 0.01, (sessions, n_holdings))
    holding_values = pd.DataFrame(
        holdings["market_value"].to_numpy() * np.cumprod(1 + returns, axis=0) / np.prod(1 + returns, axis=0),
        index=dates,
        columns=holdings["ticker"],
    )
    benchmark = pd.Series(5000 * np.cumprod(1 + market), index=dates)
    summary["date"] = dates[-1]
    defaults = {
        "summary": summary,
        "holdings": holdings,
        "values": holding_values.sum(axis=1),
        "benchmark": benchmark,
        "holding_values": holding_values,
        "sectors": {t: SECTORS[i % 3] for i, t in enumerate(holdings["ticker"])},
        "base": "USD",
        "benchmark_name": "DEMOIDX",
        "risk_free_annual": 0.03,
    }
    return ReportData(**{**defaults, **options})


def figures_of(page: str) -> dict:
    """The per-window chart JSON embedded in the page."""
    raw = page.split('<script type="application/json" id="figures">')[1].split("</script>")[0]
    return json.loads(raw)


class _Collector(HTMLParser):
    """Tags, ids and text of a page, and whether every opened element was closed."""

    VOID = {"meta", "link", "br", "img", "input", "hr"}

    def __init__(self):
        super().__init__()
        self.stack, self.ids, self.tags, self.text, self.errors = [], set(), [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if "id" in dict(attrs):
            self.ids.add(dict(attrs)["id"])
        if tag not in self.VOID and not tag.endswith("/"):
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (1234567.891, "money", "1,234,567.89"),
        (-0.01234, "pct", "-1.23%"),
        (3, "int", "3"),
        (2.5, "num", "2.50"),
        (float("nan"), "num", "n/a"),
        (None, "pct", "n/a"),
        (pd.NaT, "date", "n/a"),
        (float("inf"), "money", "n/a"),
        (pd.Timestamp("2025-03-03 00:00"), "date", "2025-03-03"),
        ("ACMQ", "text", "ACMQ"),
    ],
)
def test_formats(value, kind, text):
    assert fmt(value, kind) == text


def test_markdown_has_every_figure_and_the_holdings_by_weight():
    summary, holdings, _, _ = sample_report()
    text = render_markdown(summary, holdings, notes=["a note"], base="EUR")
    assert text.startswith(f"# Portfolio report {summary['date'].date()}\n")
    assert "Base currency: EUR." in text and "> a note" in text
    for _, label, _ in RISK_FIELDS:
        assert f"| {label} |" in text
    holdings_part, filings_part = text.split("## Latest filings")
    rows = [line for line in holdings_part.splitlines() if re.match(r"^\| T\d\d \|", line)]
    heaviest = holdings.sort_values("weight", ascending=False)["ticker"].tolist()
    assert [row.split("|")[1].strip() for row in rows] == heaviest
    filing_rows = [line for line in filings_part.splitlines() if re.match(r"^\| T\d\d \|", line)]
    assert [row.split("|")[1].strip() for row in filing_rows] == heaviest  # the same holdings, same order
    top = render_markdown(summary, holdings, max_holdings=2)
    assert "## Top 2 of 4 holdings" in top
    top_holdings = top.split("## Latest filings")[0]
    assert len([line for line in top_holdings.splitlines() if re.match(r"^\| T\d\d \|", line)]) == 2


def test_html_is_well_formed_and_complete():
    data = sample_data(notes=["note one"], banner="DEMO DATA")
    page = render_html(data)
    doc = parse(page)
    assert doc.errors == [] and doc.stack == []  # every element closed, in order
    chart_ids = {chart_id for chart_id, _ in CHARTS}
    assert {"summary", "risk", "holdings", "fundamentals", *chart_ids} <= doc.ids
    text = " ".join(doc.text)
    assert "DEMO DATA" in text and "note one" in text
    assert "P/E ttm" in text and "Sentiment 7d" in text and "RSI 14" in text
    assert "as-traded closes" in text and "adjusted closes" in text  # which prices each figure uses
    body_rows = page.split('id="holdings"')[1].split("</tbody>")[0].count("<tr>")
    assert body_rows == len(data.holdings)
    # self-contained: nothing is loaded from elsewhere (plotly.js is inlined)
    markup = re.sub(r"<script[^>]*>.*?</script>", "<script></script>", page, flags=re.S)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", markup) and "<script src" not in page
    assert "Plotly.newPlot" in page and "plotly.js v" in page


def test_every_window_has_every_chart_with_axis_titles_and_a_legend():
    data = sample_data()
    payload = figures_of(render_html(data))
    assert set(payload["windows"]) == {"ytd", "1y", "3y", "all"}  # 5 y needs more history
    assert payload["default"] == "1y"
    for key, figures in payload["windows"].items():
        assert set(figures) == {chart_id for chart_id, _ in CHARTS} - {"chart-weights"}, key
        for chart_id, figure in figures.items():
            layout = figure["layout"]
            assert layout["xaxis"]["title"]["text"] or layout["yaxis"]["title"]["text"], chart_id
            assert layout["yaxis"]["title"]["text"] and layout["showlegend"] is True, chart_id
            if chart_id not in ("chart-contrib-return", "chart-contrib-risk"):
                assert layout["xaxis"]["title"]["text"], chart_id
    weights = payload["static"]["chart-weights"]
    assert weights["layout"]["xaxis"]["title"]["text"] == "Weight (% of value)"


def test_chart_data_is_the_window_figures():
    data = sample_data()
    payload = figures_of(render_html(data))
    views = {view.key: view for view in window_views(data)}
    for key, view in views.items():
        value = payload["windows"][key]["chart-value"]["data"]
        portfolio = next(t for t in value if t["name"] == "Portfolio")
        assert len(portfolio["x"]) == len(view.values) and portfolio["x"][0] == str(view.start.date())
        cumulative = next(t for t in payload["windows"][key]["chart-cumulative"]["data"] if t["name"] == "Portfolio")
        assert cumulative["y"][0] == 0.0
        assert math.isclose(cumulative["y"][-1] / 100, view.metrics["total_return"], abs_tol=1e-8)
        histogram = payload["windows"][key]["chart-histogram"]["data"]
        assert sum(next(t for t in histogram if t["name"] == "Portfolio")["y"]) == len(view.returns)
    assert len(views["ytd"].returns) < len(views["1y"].returns) < len(views["3y"].returns) < len(views["all"].returns)


def test_window_tables_hold_the_tearsheet_of_the_window():
    data = sample_data()
    page = render_html(data)
    for view in window_views(data):
        table = page.split(f'id="metrics-{view.key}"')[1].split("</table>")[0]
        for key, _, kind, _ in tearsheet.METRICS:
            row = table.split(f'data-key="{key}"')[1].split("</tr>")[0]
            cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>([^<]*)</td>", row)]
            assert cells[0] == fmt(view.metrics[key], kind), (view.key, key)
        assert f'id="drawdowns-{view.key}"' in page and f'id="monthly-{view.key}"' in page
        assert f'id="contrib-sector-{view.key}"' in page
    # only the default window's tables are visible before any click
    panes = re.findall(r'<section class="pane" data-window="(\w+)"( hidden)?>', page)
    assert [key for key, hidden in panes if not hidden] == ["1y"]


def test_estimators_are_named():
    page = render_html(sample_data())
    for name in (
        "VaR 95% historical",
        "VaR 95% parametric Gaussian",
        "Expected shortfall 95% historical",
        "Expected shortfall 95% parametric Gaussian",
    ):
        assert name in page, name
    assert "CVaR / expected shortfall" not in page  # the old unnamed label


def test_everything_from_the_data_is_escaped():
    data = sample_data(2, notes=["<b>bold</b> & more"])
    data.holdings.loc[0, "account"] = '<script>alert("x")</script>'
    sectors = {data.holdings.loc[0, "ticker"]: "</script><script>alert(1)</script>"}
    page = render_html(dataclasses.replace(data, sectors=sectors))
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in page
    assert parse(page).errors == []


def test_without_history_the_page_still_renders():
    data = sample_data(3, values=pd.Series(dtype=float), holding_values=None, benchmark=None)
    page = render_html(data)
    assert "Not enough history yet" in page and parse(page).errors == []
    assert figures_of(page)["windows"] == {}
    short = render_html(sample_data(3, sessions=40))  # only YTD/all: rolling charts say so
    payload = figures_of(short)
    assert set(payload["windows"]) <= {"ytd", "all"} and "all" in payload["windows"]
    rolling = payload["windows"]["all"]["chart-rolling-volatility"]
    assert rolling["data"] == [] and "Not enough history" in rolling["layout"]["annotations"][0]["text"]


def test_weights_chart_groups_the_tail():
    holdings = pd.DataFrame({"ticker": [f"T{i}" for i in range(20)] + ["T0"], "weight": [0.05] * 20 + [0.0]})
    labels, values = weight_bars(holdings, top=15)
    assert len(labels) == 16 and labels[-1] == "5 other"
    assert sum(values) == pytest.approx(1.0)


def test_holdings_tables_cover_every_field_once():
    page = render_html(sample_data())
    heads = re.findall(r'<tr class="columns">(.*?)</tr>', page)
    labels = [[html.unescape(label) for label in re.findall(r"<th[^>]*>([^<]*)</th>", head)] for head in heads]
    rendered = [label for table in labels for label in table if label not in ("Ticker", "Weight")]
    expected = [label for _, label, _, _ in HOLDING_FIELDS if label not in ("Ticker", "Weight")]
    assert sorted(rendered) == sorted(expected)


def test_the_fields_file_names_stored_columns_and_refuses_an_unknown_kind(tmp_path):
    """report_fields.csv: each key once per section and a column of the table it shows (portfolio_report
    for the summary and risk figures, portfolio_holdings for the holdings), the groups the page lays out by
    name are among the holdings' groups, and a row of an unknown kind is refused naming the file and line."""
    for fields, table in ((SUMMARY_FIELDS + RISK_FIELDS, PORTFOLIO_REPORT), (HOLDING_FIELDS, PORTFOLIO_HOLDINGS)):
        keys = [field[0] for field in fields]
        assert len(keys) == len(set(keys))
        assert [key for key in keys if key not in table] == []
    assert {FUNDAMENTALS_GROUP, FILINGS_GROUP} <= {group for *_, group in HOLDING_FIELDS}
    lines = FIELDS_FILE.read_text().splitlines()
    wrong = tmp_path / "report_fields.csv"
    wrong.write_text("\n".join([*lines, "risk,beta,Beta,percent,"]) + "\n")
    with pytest.raises(ValueError, match=rf"{re.escape(str(wrong))}, line {len(lines) + 1}: expected"):
        _load_fields(wrong)
