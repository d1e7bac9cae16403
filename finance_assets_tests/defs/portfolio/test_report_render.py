"""Markdown and HTML rendering: formats, every section present, escaping, charts that fit their data."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from finance_assets.defs.portfolio.report_render import (
    HOLDING_FIELDS,
    RISK_FIELDS,
    fmt,
    render_html,
    render_markdown,
    svg_line_chart,
    weight_bars,
)


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
    rows = [line for line in text.splitlines() if re.match(r"^\| T\d\d \|", line)]
    heaviest = holdings.sort_values("weight", ascending=False)["ticker"].tolist()
    assert [row.split("|")[1].strip() for row in rows] == heaviest
    top = render_markdown(summary, holdings, max_holdings=2)
    assert "## Top 2 of 4 holdings" in top
    assert len([line for line in top.splitlines() if re.match(r"^\| T\d\d \|", line)]) == 2


def test_html_is_well_formed_and_complete():
    summary, holdings, values, bench = sample_report()
    page = render_html(
        summary, holdings, values, bench, base="USD", benchmark_name="DEMOIDX", notes=["note one"], banner="DEMO DATA"
    )
    doc = parse(page)
    assert doc.errors == [] and doc.stack == []  # every element closed, in order
    assert {"summary", "chart-value", "chart-drawdown", "chart-weights", "risk", "holdings", "fundamentals"} <= doc.ids
    text = " ".join(doc.text)
    assert "DEMO DATA" in text and "note one" in text
    assert "P/E ttm" in text and "Sentiment 7d" in text and "RSI 14" in text
    polylines = [attrs for tag, attrs in doc.tags if tag == "polyline"]
    assert {p["data-series"] for p in polylines} == {"Portfolio", "DEMOIDX (rebased)", "Drawdown"}
    portfolio = next(p for p in polylines if p["data-series"] == "Portfolio")
    assert len(portfolio["points"].split()) == len(values)
    assert len([1 for tag, attrs in doc.tags if tag == "rect" and attrs.get("class") == "bar"]) == len(holdings)
    body_rows = page.split('id="holdings"')[1].split("</tbody>")[0].count("<tr>")
    assert body_rows == len(holdings)
    assert "<script" in page and "http://" not in page and "https://" not in page  # self-contained


def test_everything_from_the_data_is_escaped():
    summary, holdings, values, bench = sample_report(2)
    holdings.loc[0, "account"] = '<script>alert("x")</script>'
    page = render_html(summary, holdings, values, bench, notes=["<b>bold</b> & more"])
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in page
    assert parse(page).errors == []


def test_charts_scale_to_the_data_and_degrade_without_history():
    dates = pd.bdate_range("2025-01-01", periods=3)
    chart = svg_line_chart("c", "Value", [("Portfolio", pd.Series([100.0, 150.0, 125.0], index=dates), "#000")])
    points = [tuple(map(float, p.split(","))) for p in re.search(r'points="([^"]+)"', chart).group(1).split()]
    ys = [y for _, y in points]
    assert ys[1] < ys[2] < ys[0]  # higher values are drawn higher up
    xs = [x for x, _ in points]
    assert xs == sorted(xs) and xs[0] < xs[-1]
    empty = svg_line_chart("c", "Value", [("Portfolio", pd.Series([1.0], index=dates[:1]), "#000")])
    assert "Not enough history yet" in empty and "<svg" not in empty
    summary, holdings, _, _ = sample_report(3)
    page = render_html(summary, holdings, pd.Series(dtype=float))
    assert page.count("Not enough history yet") == 2 and parse(page).errors == []


def test_weights_chart_groups_the_tail():
    holdings = pd.DataFrame({"ticker": [f"T{i}" for i in range(20)] + ["T0"], "weight": [0.05] * 20 + [0.0]})
    labels, values = weight_bars(holdings, top=15)
    assert len(labels) == 16 and labels[-1] == "5 other"
    assert sum(values) == pytest.approx(1.0)


def test_holdings_tables_cover_every_field_once():
    summary, holdings, values, _ = sample_report()
    page = render_html(summary, holdings, values)
    heads = re.findall(r'<tr class="columns">(.*?)</tr>', page)
    labels = [[html.unescape(label) for label in re.findall(r"<th[^>]*>([^<]*)</th>", head)] for head in heads]
    rendered = [label for table in labels for label in table if label not in ("Ticker", "Weight")]
    expected = [label for _, label, _, _ in HOLDING_FIELDS if label not in ("Ticker", "Weight")]
    assert sorted(rendered) == sorted(expected)
