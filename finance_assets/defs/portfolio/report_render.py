"""Render the portfolio report as Markdown and as one self-contained HTML page.

The HTML needs nothing from the network: styles inline, charts as inline SVG drawn here, and a few
lines of script to sort the holdings table. Every value from the data is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence

import pandas as pd

# (key, label, kind) — kinds: money, pct, num, int, text, date
SUMMARY_FIELDS = [
    ("total_value", "Total value", "money"),
    ("total_cost", "Cost", "money"),
    ("unrealized_pnl", "Unrealized P&L", "money"),
    ("unrealized_pnl_pct", "Unrealized P&L %", "pct"),
    ("day_pnl", "Day P&L", "money"),
    ("day", "Day return", "pct"),
    ("mtd", "MTD return", "pct"),
    ("ytd", "YTD return", "pct"),
]
RISK_FIELDS = [
    ("annualized_volatility", "Volatility (annualized)", "pct"),
    ("var_hist_95", "VaR 95% historical (1 day)", "pct"),
    ("var_hist_99", "VaR 99% historical (1 day)", "pct"),
    ("var_param_95", "VaR 95% parametric (1 day)", "pct"),
    ("var_param_99", "VaR 99% parametric (1 day)", "pct"),
    ("cvar_95", "CVaR / expected shortfall 95%", "pct"),
    ("cvar_99", "CVaR / expected shortfall 99%", "pct"),
    ("beta", "Beta to benchmark", "num"),
    ("sharpe", "Sharpe ratio", "num"),
    ("sortino", "Sortino ratio", "num"),
    ("max_drawdown", "Maximum drawdown", "pct"),
    ("hhi", "Herfindahl-Hirschman index", "num"),
    ("effective_holdings", "Effective number of holdings", "num"),
    ("risk_free_annual", "Risk-free rate (annual)", "pct"),
    ("observations", "Daily returns in the window", "int"),
]
# Holdings table: (key, label, kind, group)
HOLDING_FIELDS = [
    ("ticker", "Ticker", "text", "Position"),
    ("account", "Account", "text", "Position"),
    ("currency", "Ccy", "text", "Position"),
    ("shares", "Shares", "num", "Position"),
    ("price", "Price", "num", "Position"),
    ("price_date", "Price date", "date", "Position"),
    ("market_value", "Value", "money", "Position"),
    ("weight", "Weight", "pct", "Position"),
    ("unrealized_pnl", "P&L", "money", "Position"),
    ("unrealized_pnl_pct", "P&L %", "pct", "Position"),
    ("day_change_pct", "Day", "pct", "Position"),
    ("rsi_14", "RSI 14", "num", "Signals"),
    ("price_vs_sma50", "vs SMA 50", "pct", "Signals"),
    ("price_vs_sma200", "vs SMA 200", "pct", "Signals"),
    ("bb_pctb", "Bollinger %b", "num", "Signals"),
    ("sentiment_7d", "Sentiment 7d", "num", "Signals"),
    ("headlines_7d", "Headlines 7d", "int", "Signals"),
    ("fiscal_period", "Latest period", "text", "Fundamentals (as filed by the report date)"),
    ("fundamentals_filed", "Filed", "date", "Fundamentals (as filed by the report date)"),
    ("pe_ttm", "P/E ttm", "num", "Fundamentals (as filed by the report date)"),
    ("price_to_book", "P/B", "num", "Fundamentals (as filed by the report date)"),
    ("debt_to_equity", "Debt/equity", "num", "Fundamentals (as filed by the report date)"),
    ("current_ratio", "Current ratio", "num", "Fundamentals (as filed by the report date)"),
    ("roa", "ROA", "pct", "Fundamentals (as filed by the report date)"),
    ("roe", "ROE", "pct", "Fundamentals (as filed by the report date)"),
    ("gross_margin", "Gross margin", "pct", "Fundamentals (as filed by the report date)"),
    ("net_margin", "Net margin", "pct", "Fundamentals (as filed by the report date)"),
]
MARKDOWN_HOLDING_KEYS = [
    "ticker",
    "market_value",
    "weight",
    "unrealized_pnl_pct",
    "day_change_pct",
    "rsi_14",
    "sentiment_7d",
    "pe_ttm",
    "price_to_book",
    "roe",
]
# Cells coloured by sign: gains and losses, and distances from the moving averages; not weights or ratios.
_SIGNED_COLUMNS = {
    "unrealized_pnl",
    "unrealized_pnl_pct",
    "day_change_pct",
    "price_vs_sma50",
    "price_vs_sma200",
    "sentiment_7d",
}
_SIGNED_CARDS = {"unrealized_pnl", "unrealized_pnl_pct", "day_pnl", "day", "mtd", "ytd"}


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
    return str(value)


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
    for row in shown.to_dict("records"):
        lines.append(
            "| " + " | ".join(fmt(row.get(key), kind).replace("|", "\\|") for key, _, kind, _ in fields) + " |"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- SVG charts

_CHART_W, _CHART_H = 640, 230
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 64, 12, 24, 26  # the top strip holds the legend


def _ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    if hi == lo:
        return [lo]
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _figure(chart_id: str, title: str, body: str, height: int) -> str:
    return (
        f'<figure class="chart" id="{chart_id}" data-chart="{html.escape(title)}">'
        f"<figcaption>{html.escape(title)}</figcaption>"
        f'<svg viewBox="0 0 {_CHART_W} {height}" width="{_CHART_W}" height="{height}" role="img" '
        f'aria-label="{html.escape(title)}">{body}</svg></figure>'
    )


def _no_data(chart_id: str, title: str) -> str:
    return (
        f'<figure class="chart empty" id="{chart_id}" data-chart="{html.escape(title)}">'
        f"<figcaption>{html.escape(title)}</figcaption><p>Not enough history yet.</p></figure>"
    )


def svg_line_chart(
    chart_id: str,
    title: str,
    series: Sequence[tuple[str, pd.Series, str]],
    kind: str = "money",
    fill_to_zero: bool = False,
) -> str:
    """Lines over a shared date axis; `series` = (name, values with a date index, colour)."""
    series = [(name, values.dropna(), colour) for name, values, colour in series]
    series = [(name, values, colour) for name, values, colour in series if len(values) >= 2]
    if not series:
        return _no_data(chart_id, title)
    dates = pd.DatetimeIndex(sorted(set().union(*(set(pd.DatetimeIndex(v.index)) for _, v, _ in series))))
    lo = min(float(v.min()) for _, v, _ in series)
    hi = max(float(v.max()) for _, v, _ in series)
    if fill_to_zero:
        hi = max(hi, 0.0)
    span = (hi - lo) or abs(hi) or 1.0
    t0, t1 = dates[0].value, dates[-1].value
    width, height = _CHART_W - _PAD_L - _PAD_R, _CHART_H - _PAD_T - _PAD_B

    def x(stamp) -> float:
        return _PAD_L + (pd.Timestamp(stamp).value - t0) / ((t1 - t0) or 1) * width

    def y(value: float) -> float:
        return _PAD_T + (hi - value) / span * height

    parts = [f'<rect x="{_PAD_L}" y="{_PAD_T}" width="{width}" height="{height}" class="plot"/>']
    for tick in _ticks(lo, hi):
        parts.append(
            f'<line x1="{_PAD_L}" x2="{_PAD_L + width}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" class="grid"/>'
            f'<text x="{_PAD_L - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
            f"{html.escape(_axis_label(tick, kind))}</text>"
        )
    for stamp, anchor in ((dates[0], "start"), (dates[len(dates) // 2], "middle"), (dates[-1], "end")):
        parts.append(f'<text x="{x(stamp):.1f}" y="{_CHART_H - 8}" text-anchor="{anchor}">{stamp.date()}</text>')
    for name, values, colour in series:
        points = " ".join(f"{x(t):.1f},{y(float(v)):.1f}" for t, v in values.items())
        if fill_to_zero:
            first, last = x(values.index[0]), x(values.index[-1])
            parts.append(
                f'<polygon class="area" fill="{colour}" points="{first:.1f},{y(0):.1f} {points} '
                f'{last:.1f},{y(0):.1f}"/>'
            )
        parts.append(
            f'<polyline class="series" data-series="{html.escape(name)}" fill="none" stroke="{colour}" '
            f'stroke-width="1.6" points="{points}"><title>{html.escape(name)}</title></polyline>'
        )
    legend_x = _PAD_L + 8
    for name, _, colour in series if len(series) > 1 else []:
        parts.append(
            f'<rect x="{legend_x}" y="6" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="15">{html.escape(name)}</text>'
        )
        legend_x += 14 + 7 * len(name) + 18
    return _figure(chart_id, title, "".join(parts), _CHART_H)


def _axis_label(value: float, kind: str) -> str:
    if kind == "pct":
        return f"{value * 100:.0f}%" if abs(value) >= 0.1 or value == 0 else f"{value * 100:.1f}%"
    magnitude = abs(value)
    if magnitude >= 1e9:
        return f"{value / 1e9:.1f}B"
    if magnitude >= 1e6:
        return f"{value / 1e6:.1f}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.0f}k"
    return f"{value:,.0f}" if magnitude >= 10 else f"{value:.2f}"


def svg_bar_chart(chart_id: str, title: str, labels: list[str], values: list[float]) -> str:
    """Horizontal bars with their percentage (weights)."""
    if not labels:
        return _no_data(chart_id, title)
    row, label_w = 22, 96
    height = row * len(labels) + 12
    peak = max((abs(v) for v in values), default=1.0) or 1.0
    parts = []
    for i, (label, value) in enumerate(zip(labels, values)):
        bar = abs(value) / peak * (_CHART_W - label_w - 70)
        top = 6 + row * i
        parts.append(
            f'<text x="{label_w - 6}" y="{top + 14}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect class="bar" x="{label_w}" y="{top + 3}" width="{bar:.1f}" height="15">'
            f"<title>{html.escape(label)}: {value * 100:.2f}%</title></rect>"
            f'<text x="{label_w + bar + 5:.1f}" y="{top + 14}">{value * 100:.1f}%</text>'
        )
    return _figure(chart_id, title, "".join(parts), height)


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
table.sortable th.sorted-desc::after{content:" \\25BC"}.neg{color:#cf222e}.pos{color:#1a7f37}
.scroll{overflow-x:auto;max-width:100%}footer{margin-top:2rem;color:#57606a;font-size:.8rem}
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
"""


def _sort_value(value, kind: str) -> str:
    if _missing(value) or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if kind == "date":
        return pd.Timestamp(value).date().isoformat()
    if kind in ("text",):
        return str(value)
    return repr(float(value))


def _cell(key: str, value, kind: str) -> str:
    text = html.escape(fmt(value, kind))
    classes = ["text"] if kind in ("text", "date") else []
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
        f'<th class="{"text" if kind in ("text", "date") else ""}">{html.escape(label)}</th>'
        for _, label, kind, _ in fields
    )
    ordered = holdings.sort_values("weight", ascending=False, na_position="last")
    body = "".join(
        "<tr>" + "".join(_cell(key, row.get(key), kind) for key, _, kind, _ in fields) + "</tr>"
        for row in ordered.to_dict("records")
    )
    return (
        f'<div class="scroll"><table id="{table_id}" class="sortable"><thead><tr class="groups">{group_row}</tr>'
        f'<tr class="columns">{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def _holdings_tables(holdings: pd.DataFrame) -> str:
    """Positions and signals, then the fundamentals (with the ticker and weight again to read across)."""
    positions = [f for f in HOLDING_FIELDS if f[3] != FUNDAMENTALS_GROUP]
    fundamentals = [
        ("ticker", "Ticker", "text", "Holding"),
        ("weight", "Weight", "pct", "Holding"),
        *(f for f in HOLDING_FIELDS if f[3] == FUNDAMENTALS_GROUP),
    ]
    return (
        f"{_table('holdings', positions, holdings)}\n<h2>Fundamentals</h2>\n"
        f"{_table('fundamentals', fundamentals, holdings)}"
    )


def _card(key: str, label: str, value, kind: str) -> str:
    css = ""
    if key in _SIGNED_CARDS and not _missing(value) and math.isfinite(float(value)) and float(value) != 0:
        css = " neg" if float(value) < 0 else " pos"
    return (
        f'<div class="card"><div class="label">{html.escape(label)}</div>'
        f'<div class="value{css}">{html.escape(fmt(value, kind))}</div></div>'
    )


def render_html(
    summary: dict,
    holdings: pd.DataFrame,
    values: pd.Series,
    benchmark: pd.Series | None = None,
    *,
    base: str = "USD",
    benchmark_name: str = "benchmark",
    notes: Sequence[str] = (),
    banner: str = "",
    generated_at: dt.datetime | None = None,
) -> str:
    """The page for one report day.

    `values`: the portfolio's value history (date index) behind the value and drawdown charts;
    `benchmark`: the benchmark's closes, drawn rebased to the portfolio's first value.
    """
    values = values.dropna() if isinstance(values, pd.Series) else pd.Series(dtype="float64")
    drawdown = values / values.cummax() - 1.0 if len(values) else values
    lines = [("Portfolio", values, "#0969da")]
    if benchmark is not None and len(values):
        bench = benchmark.dropna()
        bench = bench[(bench.index >= values.index[0]) & (bench.index <= values.index[-1])]
        if len(bench) >= 2:
            lines.append(
                (f"{benchmark_name} (rebased)", bench / float(bench.iloc[0]) * float(values.iloc[0]), "#8250df")
            )
    labels, weights = weight_bars(holdings)
    day = _day_label(summary["date"])
    cards = "".join(_card(key, label, summary.get(key), kind) for key, label, kind in SUMMARY_FIELDS if key in summary)
    risk_rows = "".join(
        f'<tr><th>{html.escape(label)}</th><td data-key="{key}">{html.escape(fmt(summary.get(key), kind))}</td></tr>'
        for key, label, kind in RISK_FIELDS
        if key in summary
    )
    note_items = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
    generated = (generated_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portfolio report {day}</title><link rel="icon" href="data:,"><style>{_STYLE}</style></head>
<body>
<h1>Portfolio report {day}</h1>
<p class="sub">Base currency {html.escape(base)} &middot; {len(holdings)} holdings &middot; closes on or before {day}
&middot; risk over the last {html.escape(fmt(summary.get("observations"), "int"))} daily returns of today's holdings</p>
{f'<p class="banner">{html.escape(banner)}</p>' if banner else ""}
{f'<ul class="notes">{note_items}</ul>' if note_items else ""}
<section class="cards" id="summary">{cards}</section>
<div class="grid">
{svg_line_chart("chart-value", f"Value of today's holdings ({base}, total return)", lines)}
{
        svg_line_chart(
            "chart-drawdown",
            "Drawdown from the running peak",
            [("Drawdown", drawdown, "#cf222e")],
            kind="pct",
            fill_to_zero=True,
        )
    }
{svg_bar_chart("chart-weights", "Weights", labels, weights)}
</div>
<h2>Risk</h2>
<table class="risk" id="risk"><tbody>{risk_rows}</tbody></table>
<h2>Holdings</h2>
{_holdings_tables(holdings)}
<footer>VaR and CVaR are one-day returns (negative = loss): historical = the empirical quantile, parametric =
Gaussian. Sharpe and Sortino are annualized (252 days) against the risk-free rate. Fundamentals are the latest values
filed on or before the report date: P/E = price / trailing-12-month diluted EPS, P/B = price x cover-page shares /
equity, debt/equity = total liabilities / equity, ROA and ROE = trailing-12-month net income / latest assets or equity.
Generated {generated}.</footer>
<script>{_SCRIPT}</script>
</body></html>
"""
