"""Render the portfolio report as Markdown and as one self-contained HTML page (a tearsheet).

The HTML needs nothing from the network: styles inline, plotly.js inlined from the installed plotly
wheel, every window's figures precomputed as JSON in the page and switched by a few lines of script
(no server). Every value from the data is HTML-escaped; the JSON cannot close its script element.
"""

from __future__ import annotations

import csv
import html
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from finance_assets.defs.portfolio import tearsheet
from finance_assets.defs.portfolio.report_data import (
    DEFAULT_WINDOW,
    WINDOWS,
    ReportData,
    WindowView,
    cumulative,
    drawdown,
    finite,
    rebased,
    window_views,
)

# What the report shows, in display order: report_fields.csv beside this module, one row per field with its
# section (summary cards, risk table, holdings table), key (a column of portfolio_report or portfolio_holdings),
# label, kind (how `fmt` formats it) and, in the holdings table, its column group.
FIELDS_FILE = Path(__file__).with_name("report_fields.csv")
FIELD_KINDS = ("money", "pct", "num", "int", "text", "date", "marker", "link")  # marker: a new filing


def _load_fields(path: Path) -> dict[str, list[tuple[str, ...]]]:
    """The fields of each section: (key, label, kind), and the group too for the holdings."""
    sections: dict[str, list[tuple[str, ...]]] = {"summary": [], "risk": [], "holdings": []}
    with path.open(newline="") as rows:
        for line, row in enumerate(csv.DictReader(rows), start=2):
            section, kind, group = row["section"], row["kind"], row["group"]
            if section not in sections or kind not in FIELD_KINDS or bool(group) != (section == "holdings"):
                raise ValueError(
                    f"{path}, line {line}: expected a section of {', '.join(sections)}, a kind of "
                    f"{', '.join(FIELD_KINDS)} and a group for the holdings only; got {row}"
                )
            field = (row["key"], row["label"], kind)
            sections[section].append((*field, group) if section == "holdings" else field)
    return sections


_FIELDS = _load_fields(FIELDS_FILE)
SUMMARY_FIELDS = _FIELDS["summary"]  # (key, label, kind)
RISK_FIELDS = _FIELDS["risk"]  # (key, label, kind)
# How each figure of the report is formatted (a kind of `fmt`), for other views of the same figures.
FIGURE_KINDS = {key: kind for key, _, kind in SUMMARY_FIELDS + RISK_FIELDS}
HOLDING_FIELDS = _FIELDS["holdings"]  # (key, label, kind, group)
FILINGS_GROUP = "Latest filing (known by the day's close)"
# Columns where a missing value means "none" (no filing, no marker): shown as a dash, never n/a or NaN.
DASH = "\u2014"
DASH_KEYS = {key for key, _, _, group in HOLDING_FIELDS if group == FILINGS_GROUP} | {"new_filing"}
MARKDOWN_HOLDING_KEYS = [
    "ticker",
    "market_value",
    "weight",
    "unrealized_pnl_pct",
    "day_change_pct",
    "day_change_value",
    "day_change_price_value",
    "day_change_fx_value",
    "new_filing",
    "rsi_14",
    "sentiment_7d",
    "pe_ttm",
    "price_to_book",
    "roe",
]
MARKDOWN_FILING_KEYS = [
    "ticker",
    "filing_form",
    "filing_date",
    "filing_known_at",
    "filing_section",
    "filing_net_tone",
    "filing_change",
    "filing_items",
    "filing_accession",
]
# Cells coloured by sign: gains and losses, and distances from the moving averages; not weights or ratios.
_SIGNED_COLUMNS = {
    "unrealized_pnl",
    "unrealized_pnl_pct",
    "day_change_pct",
    "day_change_value",
    "day_change_price_value",
    "day_change_fx_value",
    "price_vs_sma50",
    "price_vs_sma200",
    "sentiment_7d",
    "filing_net_tone",
}
_SIGNED_CARDS = {"unrealized_pnl", "unrealized_pnl_pct", "day_pnl", "day_pnl_price", "day_pnl_fx", "day", "mtd", "ytd"}


def _missing(value) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt(value, kind: str) -> str:
    """Display text for one value; 'n/a' for missing or non-finite numbers."""
    if _missing(value) or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if kind == "money":
        return f"{float(value):,.2f}"
    if kind == "pct":
        return f"{float(value) * 100:.2f}%"
    if kind == "int":
        return f"{int(value):,d}"
    if kind == "num":
        return f"{float(value):,.2f}" if isinstance(value, (int, float)) else str(value)
    if kind == "date":
        return pd.Timestamp(value).date().isoformat()
    if kind == "marker":
        return f"new: {value}"
    return str(value)


def show(key: str, value, kind: str) -> str:
    """`fmt`, but a dash for a missing value of a `DASH_KEYS` column (a holding without a filing)."""
    if key in DASH_KEYS and (_missing(value) or (isinstance(value, float) and not math.isfinite(value))):
        return DASH
    return fmt(value, kind)


def _md_cell(key: str, row: dict, kind: str) -> str:
    text = show(key, row.get(key), kind)
    url = row.get("filing_url")
    if kind == "link" and text != DASH and isinstance(url, str) and url.startswith("https://"):
        text = f"[{text}]({url})"
    return text.replace("|", "\\|")


def _day_label(value) -> str:
    return pd.Timestamp(value).date().isoformat()


# --------------------------------------------------------------------------- Markdown


def render_markdown(
    summary: dict, holdings: pd.DataFrame, notes: Sequence[str] = (), base: str = "USD", max_holdings: int | None = None
) -> str:
    """A summary table (values, returns, risk) and the holdings by weight, optionally the top N only."""
    lines = [f"# Portfolio report {_day_label(summary['date'])}", "", f"Base currency: {base}.", ""]
    lines += [f"> {note}" for note in notes]
    if notes:
        lines.append("")
    lines += ["| figure | value |", "|---|---|"]
    lines += [
        f"| {label} | {fmt(summary.get(key), kind)} |"
        for key, label, kind in SUMMARY_FIELDS + RISK_FIELDS
        if key in summary
    ]
    fields = [f for f in HOLDING_FIELDS if f[0] in MARKDOWN_HOLDING_KEYS]
    ranked = holdings.sort_values("weight", ascending=False, na_position="last")
    shown = ranked if max_holdings is None else ranked.head(max_holdings)
    title = "Holdings" if len(shown) == len(ranked) else f"Top {len(shown)} of {len(ranked)} holdings"
    lines += [
        "",
        f"## {title}",
        "",
        "| " + " | ".join(label for _, label, _, _ in fields) + " |",
        "|" + "---|" * len(fields),
    ]
    records = shown.to_dict("records")
    for row in records:
        lines.append("| " + " | ".join(_md_cell(key, row, kind) for key, _, kind, _ in fields) + " |")
    by_key = {f[0]: f for f in HOLDING_FIELDS}
    filing_fields = [by_key[key] for key in MARKDOWN_FILING_KEYS]
    lines += [
        "",
        "## Latest filings (known by the day's close)",
        "",
        "Net tone = positive - negative word share of the main section; change = 1 - similarity of the "
        "change section to the previous filing of the same form (docs/report.md).",
        "",
        "| " + " | ".join(label for _, label, _, _ in filing_fields) + " |",
        "|" + "---|" * len(filing_fields),
    ]
    for row in records:
        lines.append("| " + " | ".join(_md_cell(key, row, kind) for key, _, kind, _ in filing_fields) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- charts (plotly)

PORTFOLIO_COLOUR, BENCHMARK_COLOUR, LOSS_COLOUR, RISK_COLOUR = "#0969da", "#8250df", "#cf222e", "#bf8700"
CHART_HEIGHT = 300
TOP_HOLDINGS = 15
# The page's charts, in order: (id, caption). Every chart exists in every window.
CHARTS = [
    ("chart-cumulative", "Cumulative return against the benchmark"),
    ("chart-value", "Value of today's holdings (adjusted closes)"),
    ("chart-drawdown", "Drawdown from the running peak"),
    ("chart-eoy", "Calendar-year returns"),
    ("chart-histogram", "Distribution of daily returns"),
    ("chart-rolling-volatility", f"Rolling volatility ({tearsheet.ROLLING_WINDOW} sessions, annualized)"),
    ("chart-rolling-sharpe", f"Rolling Sharpe ratio ({tearsheet.ROLLING_WINDOW} sessions, annualized)"),
    ("chart-rolling-sortino", f"Rolling Sortino ratio ({tearsheet.ROLLING_WINDOW} sessions, annualized)"),
    ("chart-rolling-beta", f"Rolling beta ({tearsheet.ROLLING_WINDOW} sessions)"),
    ("chart-contrib-return", "Contribution to return by holding"),
    ("chart-contrib-risk", "Contribution to volatility by holding (Euler)"),
    ("chart-weights", "Weights today"),
]


def _dates(index) -> list[str]:
    return [stamp.strftime("%Y-%m-%d") for stamp in pd.DatetimeIndex(index)]


def _numbers(values, scale: float = 1.0, digits: int = 6) -> list[float | None]:
    return [round(float(v) * scale, digits) if np.isfinite(v) else None for v in np.asarray(values, dtype="float64")]


def _line(name: str, series: pd.Series, colour: str, scale: float = 1.0, fill: bool = False) -> dict:
    trace = {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": _dates(series.index),
        "y": _numbers(series.to_numpy(), scale),
        "line": {"color": colour, "width": 1.6},
        "hovertemplate": "%{y}<extra>" + html.escape(name) + "</extra>",
    }
    if fill:
        trace["fill"] = "tozeroy"
    return trace


def _figure(traces: list[dict], x_title: str, y_title: str, **layout) -> dict:
    """A plotly figure: validated through plotly.graph_objects, axis titles always set, legend always on."""
    empty = not any(len(t.get("x") or t.get("y") or []) for t in traces)
    base = {
        "height": CHART_HEIGHT,
        "autosize": True,
        "margin": {"l": 64, "r": 16, "t": 8, "b": 52},
        "showlegend": True,
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        "xaxis": {"title": {"text": x_title}, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "automargin": True},
        "hovermode": "x unified",
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#fbfcfd",
        "font": {"family": "system-ui, sans-serif", "size": 11, "color": "#1f2328"},
    }
    for key, value in layout.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) and key in base else value
    if empty:
        base["annotations"] = [
            {"text": "Not enough history in this window", "showarrow": False, "xref": "paper", "yref": "paper"}
        ]
    # plotly validates every property name and value; on a two-point sample of each trace (the
    # whole series would cost seconds per page and validates nothing more)
    go.Figure(data=[{**t, **{k: t[k][:2] for k in ("x", "y") if k in t}} for t in traces], layout=base)
    return {"data": traces, "layout": base}


def _pct_axis(title: str) -> dict:
    return {"title": {"text": title}, "tickformat": ".1f", "ticksuffix": "%", "automargin": True}


def _bar_rows(table: pd.DataFrame, column: str, top: int = TOP_HOLDINGS) -> tuple[list[str], list[float]]:
    """Holdings by weight, the tail summed as 'N other'; the values of `column`."""
    labels = table.index[:top].astype(str).tolist()
    values = table[column].iloc[:top].tolist()
    if len(table) > top:
        labels.append(f"{len(table) - top} other")
        values.append(float(table[column].iloc[top:].sum()))
    return labels, values


def _hbar(name: str, labels: list[str], values: list[float], colour: str) -> dict:
    return {
        "type": "bar",
        "orientation": "h",
        "name": name,
        "y": labels,
        "x": _numbers(values, 100.0),
        "marker": {"color": colour},
        "hovertemplate": "%{y}: %{x:.2f}<extra>" + html.escape(name) + "</extra>",
    }


def window_figures(data: ReportData, view: WindowView) -> dict[str, dict]:
    """Every chart of one window as plotly figure JSON, keyed by chart id."""
    bench_name = data.benchmark_name
    has_bench = view.bench_values is not None and len(view.bench_values) >= 2
    figures: dict[str, dict] = {}

    cumulative_traces = [_line("Portfolio", cumulative(view.values), PORTFOLIO_COLOUR, 100.0)]
    value_traces = [_line("Portfolio", view.values, PORTFOLIO_COLOUR)]
    drawdown_traces = [_line("Portfolio", drawdown(view.values), LOSS_COLOUR, 100.0, fill=True)]
    if has_bench:
        cumulative_traces.append(_line(bench_name, cumulative(view.bench_values), BENCHMARK_COLOUR, 100.0))
        value_traces.append(
            _line(f"{bench_name} (rebased)", rebased(view.bench_values, float(view.values.iloc[0])), BENCHMARK_COLOUR)
        )
        drawdown_traces.append(_line(bench_name, drawdown(view.bench_values), BENCHMARK_COLOUR, 100.0))
    figures["chart-cumulative"] = _figure(cumulative_traces, "Date", "", yaxis=_pct_axis("Cumulative return (%)"))
    figures["chart-value"] = _figure(value_traces, "Date", f"Value ({data.base}, adjusted closes)")
    figures["chart-drawdown"] = _figure(drawdown_traces, "Date", "", yaxis=_pct_axis("Drawdown (%)"))

    years = view.monthly["Year"] if len(view.monthly) else pd.Series(dtype="float64")
    eoy = [
        {
            "type": "bar",
            "name": "Portfolio",
            "x": [str(y) for y in years.index],
            "y": _numbers(years.to_numpy(), 100.0),
            "marker": {"color": PORTFOLIO_COLOUR},
        }
    ]
    if has_bench and len(view.bench_monthly):
        bench_years = view.bench_monthly["Year"]
        eoy.append(
            {
                "type": "bar",
                "name": bench_name,
                "x": [str(y) for y in bench_years.index],
                "y": _numbers(bench_years.to_numpy(), 100.0),
                "marker": {"color": BENCHMARK_COLOUR},
            }
        )
    figures["chart-eoy"] = _figure(
        eoy,
        "Calendar year (first and last may be partial)",
        "",
        yaxis=_pct_axis("Return (%)"),
        barmode="group",
        xaxis={"type": "category"},
        hovermode="closest",
    )

    series = {"Portfolio": view.returns}
    if has_bench and view.bench_returns is not None:
        series[bench_name] = view.bench_returns
    edges, counts = tearsheet.histogram(series)
    centres = (edges[:-1] + edges[1:]) / 2
    histogram = [
        {
            "type": "bar",
            "name": name,
            "x": _numbers(centres, 100.0),
            "y": [int(c) for c in counts[name]],
            "width": float((edges[1] - edges[0]) * 100),
            "opacity": 0.6,
            "marker": {"color": PORTFOLIO_COLOUR if name == "Portfolio" else BENCHMARK_COLOUR},
        }
        for name in series
    ]
    figures["chart-histogram"] = _figure(
        histogram,
        "",
        "Sessions (count)",
        xaxis=_pct_axis("Daily return (%)"),
        barmode="overlay",
        hovermode="closest",
    )

    colours = [PORTFOLIO_COLOUR, BENCHMARK_COLOUR]
    for key, axis, scale in (
        ("volatility", "Volatility (% a year)", 100.0),
        ("sharpe", "Sharpe ratio", 1.0),
        ("sortino", "Sortino ratio", 1.0),
        ("beta", "Beta to " + bench_name, 1.0),
    ):
        traces = [
            _line(name, values, colours[i % 2], scale)
            for i, (name, values) in enumerate(view.rolling[key].items())
            if len(values)
        ]
        y_axis = _pct_axis(axis) if scale == 100.0 else {"title": {"text": axis}}
        figures[f"chart-rolling-{key}"] = _figure(traces, "Date", axis, yaxis=y_axis)

    table = view.contributions.table
    figures["chart-contrib-return"] = _contribution_figure(
        table,
        "return_contribution",
        "Contribution to return",
        PORTFOLIO_COLOUR,
        "Contribution to the window's return (percentage points)",
    )
    figures["chart-contrib-risk"] = _contribution_figure(
        table,
        "risk_contribution",
        "Contribution to volatility",
        RISK_COLOUR,
        "Contribution to annualized volatility (percentage points)",
    )
    return figures


def _contribution_figure(table: pd.DataFrame, column: str, name: str, colour: str, axis: str) -> dict:
    """One contribution per holding as horizontal bars, the largest on top (no bars: an empty chart)."""
    labels, values = _bar_rows(table, column) if len(table) else ([], [])
    return _figure(
        [_hbar(name, labels[::-1], values[::-1], colour)] if labels else [],
        "",
        "Holding",
        xaxis={"title": {"text": axis}},
        height=max(CHART_HEIGHT, 26 * len(labels) + 90),
        hovermode="closest",
    )


def weights_figure(holdings: pd.DataFrame) -> dict:
    labels, values = weight_bars(holdings)
    return _figure(
        [_hbar("Weight", labels[::-1], values[::-1], "#2da44e")] if labels else [],
        "",
        "Holding",
        xaxis={"title": {"text": "Weight (% of value)"}},
        height=max(CHART_HEIGHT, 26 * len(labels) + 90),
        hovermode="closest",
    )


def weight_bars(holdings: pd.DataFrame, top: int = 15) -> tuple[list[str], list[float]]:
    """Weights by ticker, largest first; the rest summed as 'other'."""
    weights = holdings.groupby("ticker")["weight"].sum().dropna().sort_values(ascending=False)
    labels, values = weights.index[:top].astype(str).tolist(), weights.iloc[:top].tolist()
    if len(weights) > top:
        labels.append(f"{len(weights) - top} other")
        values.append(float(weights.iloc[top:].sum()))
    return labels, values


# --------------------------------------------------------------------------- HTML

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem 2rem;color:#1f2328;background:#fff}
h1{margin:0 0 .2rem;font-size:1.6rem}h2{font-size:1.15rem;margin:1.6rem 0 .5rem}
.sub{color:#57606a;margin:0 0 1rem}.banner{background:#fff8c5;border:1px solid #d4a72c;padding:.5rem .8rem;
border-radius:6px;margin:.6rem 0}.notes li{color:#9a6700}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}.card{border:1px solid #d0d7de;border-radius:8px;
padding:.6rem .9rem;min-width:9rem}.card .label{font-size:.78rem;color:#57606a}.card .value{font-size:1.2rem;
font-weight:600}.grid{display:flex;flex-wrap:wrap;gap:1.2rem}figure{margin:0}figcaption{font-weight:600;
margin-bottom:.3rem}svg text{font-size:11px;fill:#57606a}svg .plot{fill:#fbfcfd;stroke:#d0d7de}
svg .grid{stroke:#eaeef2}svg .bar{fill:#2da44e}svg .area{opacity:.25}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #d0d7de;padding:3px 7px;text-align:right;
white-space:nowrap}th{background:#f6f8fa}td.text,th.text{text-align:left}table.risk th{text-align:left}
table.sortable tr.columns th{cursor:pointer}table.sortable th.sorted-asc::after{content:" \\25B2"}
table.sortable th.sorted-desc::after{content:" \\25BC"}.neg{color:#cf222e}.pos{color:#1a7f37}td.marker{font-weight:600;color:#9a6700}
.scroll{overflow-x:auto;max-width:100%}footer{margin-top:2rem;color:#57606a;font-size:.8rem}
h3{font-size:.95rem;margin:.8rem 0 .3rem}.prices{color:#57606a;font-size:.85rem;margin:.2rem 0 .8rem}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,540px),1fr));gap:1.2rem;margin:1rem 0}
.chart{min-width:0;border:1px solid #d0d7de;border-radius:8px;padding:.5rem .6rem}.plot{width:100%;min-height:300px}
nav.windows{position:sticky;top:0;z-index:10;background:#fff;padding:.5rem 0;display:flex;flex-wrap:wrap;gap:.4rem;
border-bottom:1px solid #d0d7de}nav.windows button{font:inherit;border:1px solid #d0d7de;background:#f6f8fa;
border-radius:6px;padding:.3rem .9rem;cursor:pointer}nav.windows button[aria-pressed="true"]{background:#0969da;
color:#fff;border-color:#0969da}nav.windows button:disabled{opacity:.45;cursor:not-allowed}
table.metrics th{text-align:left;font-weight:normal}table.metrics thead th{font-weight:600}
table.monthly td{min-width:3.6rem}table.contrib tr.total{font-weight:600}
@media (max-width:640px){body{margin:.6rem .7rem}h1{font-size:1.25rem}.cards{display:grid;
grid-template-columns:1fr 1fr;gap:.4rem}.card{min-width:0;padding:.35rem .5rem}.card .value{font-size:1rem}
.sub,.prices{font-size:.8rem}}
"""

# Click a column header of a holdings table to sort; numbers sort by their raw value (data-v), missing last.
_SCRIPT = """
(function () {
  function sortable(table) {
    var body = table.tBodies[0];
    var headers = table.querySelectorAll("thead tr.columns th");
    Array.prototype.forEach.call(headers, function (th, index) {
      th.addEventListener("click", function () {
        var ascending = !th.classList.contains("sorted-asc");
        Array.prototype.forEach.call(headers, function (other) {
          other.classList.remove("sorted-asc", "sorted-desc");
        });
        th.classList.add(ascending ? "sorted-asc" : "sorted-desc");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[index].getAttribute("data-v"), y = b.cells[index].getAttribute("data-v");
          if (x === y) { return 0; }
          if (x === "") { return 1; }
          if (y === "") { return -1; }
          var nx = Number(x), ny = Number(y);
          var order = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), sortable);
})();
// Windows: every window's figures are in the page; a button shows its tables and redraws the charts.
(function () {
  var payload = JSON.parse(document.getElementById("figures").textContent);
  var config = {responsive: true, displayModeBar: false};
  var drawn = {};
  function draw(id, figure) {
    var div = document.querySelector("#" + id + " .plot");
    if (!div || !figure) { return; }
    if (drawn[id]) { Plotly.react(div, figure.data, figure.layout, config); }
    else { Plotly.newPlot(div, figure.data, figure.layout, config); drawn[id] = true; }
  }
  function show(key) {
    document.querySelectorAll("section.pane").forEach(function (pane) { pane.hidden = pane.dataset.window !== key; });
    document.querySelectorAll("nav.windows button").forEach(function (button) {
      button.setAttribute("aria-pressed", button.dataset.window === key ? "true" : "false");
    });
    var figures = payload.windows[key] || {};
    Object.keys(figures).forEach(function (id) { draw(id, figures[id]); });
    document.body.dataset.window = key;
  }
  Object.keys(payload.static).forEach(function (id) { draw(id, payload.static[id]); });
  document.querySelectorAll("nav.windows button").forEach(function (button) {
    button.addEventListener("click", function () { if (!button.disabled) { show(button.dataset.window); } });
  });
  if (payload["default"]) { show(payload["default"]); }
})();
"""


def _sort_value(value, kind: str) -> str:
    if _missing(value) or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if kind == "date":
        return pd.Timestamp(value).date().isoformat()
    if kind in _TEXT_KINDS:
        return str(value)
    return repr(float(value))


_TEXT_KINDS = ("text", "marker", "link")


def _cell(key: str, value, kind: str, url=None) -> str:
    text = html.escape(show(key, value, kind))
    if kind == "link" and not _missing(value) and isinstance(url, str) and url.startswith("https://"):
        text = f'<a href="{html.escape(url)}" rel="noopener">{text}</a>'
    classes = ["text"] if kind in (*_TEXT_KINDS, "date") else []
    if kind == "marker" and not _missing(value):
        classes.append("marker")
    if key in _SIGNED_COLUMNS and not _missing(value) and isinstance(value, (int, float)) and math.isfinite(value):
        classes.append("neg" if value < 0 else "pos" if value > 0 else "")
    attribute = f' class="{" ".join(c for c in classes if c)}"' if any(classes) else ""
    return f'<td{attribute} data-v="{html.escape(_sort_value(value, kind))}">{text}</td>'


FUNDAMENTALS_GROUP = "Fundamentals (as filed by the report date)"


def _table(table_id: str, fields: list[tuple[str, str, str, str]], holdings: pd.DataFrame) -> str:
    """A sortable table with a row of column groups over the column labels, heaviest holding first."""
    groups: list[tuple[str, int]] = []
    for _, _, _, group in fields:
        if groups and groups[-1][0] == group:
            groups[-1] = (group, groups[-1][1] + 1)
        else:
            groups.append((group, 1))
    group_row = "".join(f'<th colspan="{span}" class="text">{html.escape(name)}</th>' for name, span in groups)
    head = "".join(
        f'<th class="{"text" if kind in (*_TEXT_KINDS, "date") else ""}">{html.escape(label)}</th>'
        for _, label, kind, _ in fields
    )
    ordered = holdings.sort_values("weight", ascending=False, na_position="last")
    body = "".join(
        "<tr>" + "".join(_cell(key, row.get(key), kind, row.get("filing_url")) for key, _, kind, _ in fields) + "</tr>"
        for row in ordered.to_dict("records")
    )
    return (
        f'<div class="scroll"><table id="{table_id}" class="sortable"><thead><tr class="groups">{group_row}</tr>'
        f'<tr class="columns">{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def _holdings_tables(holdings: pd.DataFrame) -> str:
    """Positions and signals, then the fundamentals and the latest filings (with the ticker and weight again
    to read across)."""
    positions = [f for f in HOLDING_FIELDS if f[3] not in (FUNDAMENTALS_GROUP, FILINGS_GROUP)]
    holding = [("ticker", "Ticker", "text", "Holding"), ("weight", "Weight", "pct", "Holding")]
    fundamentals = [*holding, *(f for f in HOLDING_FIELDS if f[3] == FUNDAMENTALS_GROUP)]
    filings = [*holding, *(f for f in HOLDING_FIELDS if f[3] == FILINGS_GROUP)]
    return (
        f"{_table('holdings', positions, holdings)}\n<h2>Fundamentals</h2>\n"
        f"{_table('fundamentals', fundamentals, holdings)}\n<h2>Latest filings</h2>\n"
        '<p class="sub">The latest 10-K, 10-Q or 8-K known by the close (accepted after it: from the next session '
        "on). Net tone = positive &minus; negative Loughran&ndash;McDonald word share of its main section; change "
        "vs previous = 1 &minus; cosine similarity of its change section (risk factors) to the previous filing of "
        "the same form.</p>\n"
        f"{_table('filings', filings, holdings)}"
    )


def _card(key: str, label: str, value, kind: str) -> str:
    css = ""
    if key in _SIGNED_CARDS and not _missing(value) and math.isfinite(float(value)) and float(value) != 0:
        css = " neg" if float(value) < 0 else " pos"
    return (
        f'<div class="card"><div class="label">{html.escape(label)}</div>'
        f'<div class="value{css}">{html.escape(fmt(value, kind))}</div></div>'
    )


_DISABLED = ' disabled title="not enough history for this window"'
_CARD_LABELS = {"total_value": "Total value (as-traded closes)"}


def _metric_cell(value, kind: str) -> str:
    css = ""
    if kind == "pct" and finite(value) and value != 0:
        css = ' class="neg"' if value < 0 else ""
    return f"<td{css}>{html.escape(fmt(value, kind))}</td>"


def _metrics_table(data: ReportData, view: WindowView) -> str:
    bench = data.benchmark_name
    rows = []
    for key, label, kind, relative in tearsheet.METRICS:
        bench_value = None if relative else view.bench_metrics.get(key)
        rows.append(
            f'<tr data-key="{key}"><th>{html.escape(label)}</th>{_metric_cell(view.metrics.get(key), kind)}'
            f"{_metric_cell(bench_value, kind) if view.bench_metrics else '<td>n/a</td>'}</tr>"
        )
    return (
        f'<div class="scroll"><table class="metrics" id="metrics-{view.key}"><thead><tr><th class="text">Metric</th>'
        f"<th>Portfolio</th><th>{html.escape(bench)}</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _drawdowns_table(view: WindowView) -> str:
    if view.drawdowns.empty:
        return "<p>No drawdown in this window.</p>"
    rows = "".join(
        f"<tr><td>{i + 1}</td><td class='text'>{fmt(r.start, 'date')}</td><td class='text'>{fmt(r.trough, 'date')}</td>"
        f"<td class='text'>{fmt(r.end, 'date')}</td><td class='text'>"
        f"{fmt(r.recovery, 'date') if not _missing(r.recovery) else 'not yet'}</td>"
        f"<td class='neg'>{fmt(r.depth, 'pct')}</td><td>{fmt(r.days, 'int')}</td></tr>"
        for i, r in enumerate(view.drawdowns.itertuples())
    )
    return (
        f'<div class="scroll"><table class="drawdowns" id="drawdowns-{view.key}"><thead><tr><th>#</th>'
        '<th class="text">Start</th><th class="text">Trough</th><th class="text">Last day under</th>'
        '<th class="text">Recovered</th><th>Depth</th><th>Days</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _heat(value) -> str:
    if not finite(value):
        return ""
    strength = min(abs(float(value)) / 0.1, 1.0)
    colour = "207,34,46" if value < 0 else "26,127,55"
    return f' style="background:rgba({colour},{0.08 + 0.5 * strength:.2f})"'


def _monthly_table(view: WindowView, table_id: str, monthly: pd.DataFrame) -> str:
    if monthly.empty:
        return "<p>No returns in this window.</p>"
    head = "".join(f"<th>{m}</th>" for m in monthly.columns)
    rows = "".join(
        f"<tr><th>{year}</th>"
        + "".join(f"<td{_heat(v)}>{'' if _missing(v) else fmt(v, 'pct')}</td>" for v in row)
        + "</tr>"
        for year, row in zip(monthly.index, monthly.to_numpy())
    )
    return (
        f'<div class="scroll"><table class="monthly" id="{table_id}"><thead><tr><th>Year</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _contribution_table(table_id: str, label: str, result) -> str:
    table = result.table
    if table.empty:
        return "<p>No holding history in this window.</p>"
    rows = "".join(
        f"<tr><th class='text'>{html.escape(str(name))}</th><td>{fmt(r.weight, 'pct')}</td>"
        f"<td>{fmt(r.return_contribution, 'pct')}</td><td>{fmt(r.risk_contribution, 'pct')}</td>"
        f"<td>{fmt(r.risk_share, 'pct')}</td></tr>"
        for name, r in zip(table.index, table.itertuples())
    )
    total = (
        f"<tr class='total'><th class='text'>Portfolio</th><td>{fmt(table['weight'].sum(), 'pct')}</td>"
        f"<td>{fmt(result.total_return, 'pct')}</td><td>{fmt(result.volatility, 'pct')}</td><td>100.00%</td></tr>"
    )
    return (
        f'<div class="scroll"><table class="contrib" id="{table_id}"><thead><tr><th class="text">{label}</th>'
        "<th>Weight (end)</th><th>Contribution to return</th><th>Contribution to volatility</th>"
        f"<th>Share of volatility</th></tr></thead><tbody>{rows}{total}</tbody></table></div>"
    )


def _pane(data: ReportData, view: WindowView, active: bool) -> str:
    span = f"{fmt(view.start, 'date')} to {fmt(view.end, 'date')}"
    bench_monthly = (
        f"<h3>{html.escape(data.benchmark_name)}</h3>{_monthly_table(view, f'monthly-bench-{view.key}', view.bench_monthly)}"
        if len(view.bench_monthly)
        else ""
    )
    return f"""<section class="pane" data-window="{view.key}"{"" if active else " hidden"}>
<p class="sub">Window {html.escape(view.label)}: {span}, {len(view.returns)} daily returns of today's holdings
(adjusted closes), against {html.escape(data.benchmark_name)} on the same dates.</p>
<h2>Tearsheet</h2>
{_metrics_table(data, view)}
<h2>Worst drawdowns</h2>
{_drawdowns_table(view)}
<h2>Monthly returns</h2>
<h3>Portfolio</h3>
{_monthly_table(view, f"monthly-{view.key}", view.monthly)}
{bench_monthly}
<h2>Contribution by sector</h2>
{_contribution_table(f"contrib-sector-{view.key}", "Sector", view.sector_contributions)}
<h2>Contribution by holding</h2>
{_contribution_table(f"contrib-holding-{view.key}", "Holding", view.contributions)}
</section>"""


def _json_for_script(payload) -> str:
    """JSON safe inside <script type="application/json">: no '<' so no '</script>' can end it early."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def render_html(data: ReportData) -> str:
    """The page for one report day: cards, tearsheet per window (client-side switching), charts, holdings."""
    summary, holdings = data.summary, data.holdings
    views = window_views(data)
    default = next((v.key for v in views if v.key == DEFAULT_WINDOW), views[-1].key if views else "")
    figures = {view.key: window_figures(data, view) for view in views}
    payload = {"windows": figures, "static": {"chart-weights": weights_figure(holdings)}, "default": default}
    day = _day_label(summary["date"])
    cards = "".join(
        _card(key, _CARD_LABELS.get(key, label), summary.get(key), kind)
        for key, label, kind in SUMMARY_FIELDS
        if key in summary
    )
    risk_rows = "".join(
        f'<tr><th>{html.escape(label)}</th><td data-key="{key}">{html.escape(fmt(summary.get(key), kind))}</td></tr>'
        for key, label, kind in RISK_FIELDS
        if key in summary
    )
    buttons = "".join(
        f'<button type="button" data-window="{key}" aria-pressed="{"true" if key == default else "false"}"'
        f"{'' if key in figures else _DISABLED}>{html.escape(label)}</button>"
        for key, label, _ in WINDOWS
    )
    panes = "\n".join(_pane(data, view, view.key == default) for view in views)
    charts = "\n".join(
        f'<figure class="chart" id="{chart_id}" data-chart="{html.escape(caption)}">'
        f'<figcaption>{html.escape(caption)}</figcaption><div class="plot"></div></figure>'
        for chart_id, caption in CHARTS
    )
    note_items = "".join(f"<li>{html.escape(note)}</li>" for note in data.notes)
    # No machine clock in the page: two builds of the same inputs give the same bytes (#16).
    generated = f" Generated {data.generated_at:%Y-%m-%d %H:%M UTC}." if data.generated_at else ""
    no_history = "" if views else '<p class="banner">Not enough history yet: the charts need two days of values.</p>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portfolio report {day}</title><link rel="icon" href="data:,"><style>{_STYLE}</style>
<script>{_plotly_js()}</script></head>
<body>
<h1>Portfolio report {day}</h1>
<p class="sub">Base currency {html.escape(data.base)} &middot; {len(holdings)} holdings &middot; closes on or before {day}
&middot; benchmark {html.escape(data.benchmark_name)} &middot; risk-free rate {fmt(data.risk_free_annual, "pct")} a year</p>
{f'<p class="banner">{html.escape(data.banner)}</p>' if data.banner else ""}
{f'<ul class="notes">{note_items}</ul>' if note_items else ""}
<section class="cards" id="summary">{cards}</section>
<p class="prices">Cards, the risk table and the holdings use as-traded closes; the charts and the tearsheet use
adjusted closes (dividends and splits reinvested), so the value chart can end away from the Total value card.</p>
{no_history}
<nav class="windows" aria-label="Window">{buttons}</nav>
<div class="charts">
{charts}
</div>
{panes}
<h2>Risk of the stored report row</h2>
<p class="sub">The figures stored in portfolio_report for {day}: the last
{html.escape(fmt(summary.get("observations"), "int"))} daily returns of today's holdings.</p>
<div class="scroll"><table class="risk" id="risk"><tbody>{risk_rows}</tbody></table></div>
<h2>Holdings</h2>
{_holdings_tables(holdings)}
<footer>VaR and expected shortfall are one-day returns (negative = loss): historical = the empirical quantile and the
mean beyond it, parametric Gaussian = a normal distribution with the window's mean and standard deviation. Ratios are
annualized with 252 sessions a year; Sharpe, Sortino and Omega use the risk-free rate compounded to a daily rate,
alpha, beta and the information ratio use raw returns. Fundamentals are the latest values filed on or before the
report date: P/E = price / trailing-12-month diluted EPS, P/B = price x cover-page shares / equity, debt/equity =
total liabilities / equity, ROA and ROE = trailing-12-month net income / latest assets or equity. Every formula:
docs/report.md.{generated}</footer>
<script type="application/json" id="figures">{_json_for_script(payload)}</script>
<script>{_SCRIPT}</script>
</body></html>
"""


def _plotly_js() -> str:
    """plotly.js from the installed plotly wheel, inlined so the page works offline."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().replace("</script", "<\\/script")
