"""Render the portfolio report as Markdown and as one self-contained HTML page (inline SVG, no CDN)."""

from __future__ import annotations

import html
import math

import pandas as pd

_SUMMARY_FIELDS = [
    ("total_value", "Total value", "money"), ("total_cost", "Cost", "money"),
    ("unrealized_pnl", "Unrealized P&L", "money"), ("day", "Day return", "pct"), ("mtd", "MTD return", "pct"),
    ("ytd", "YTD return", "pct"), ("annualized_volatility", "Volatility (ann.)", "pct"),
    ("var_hist_95", "VaR 95% (hist, 1d)", "pct"), ("var_hist_99", "VaR 99% (hist, 1d)", "pct"),
    ("var_param_95", "VaR 95% (param, 1d)", "pct"), ("var_param_99", "VaR 99% (param, 1d)", "pct"),
    ("cvar_95", "CVaR 95% (1d)", "pct"), ("cvar_99", "CVaR 99% (1d)", "pct"), ("beta", "Beta", "num"),
    ("sharpe", "Sharpe", "num"), ("sortino", "Sortino", "num"), ("max_drawdown", "Max drawdown", "pct"),
    ("hhi", "Herfindahl (HHI)", "num"), ("effective_holdings", "Effective holdings", "num"),
    ("observations", "Return observations", "int"),
]

_HOLDING_FIELDS = [
    ("ticker", "Ticker", "text"), ("shares", "Shares", "num"), ("price", "Price", "num"),
    ("market_value", "Value", "money"), ("weight", "Weight", "pct"), ("unrealized_pnl", "P&L", "money"),
    ("unrealized_pnl_pct", "P&L %", "pct"), ("day_change_pct", "Day", "pct"), ("rsi_14", "RSI 14", "num"),
    ("price_vs_sma50", "vs SMA50", "pct"), ("price_vs_sma200", "vs SMA200", "pct"), ("bb_pctb", "BB %b", "num"),
    ("decayed_7d_score", "Sentiment 7d", "num"),
]


def fmt(value, kind: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "pct":
        return f"{value * 100:.2f}%"
    if kind == "int":
        return f"{int(value)}"
    if kind == "num":
        return f"{value:,.3f}" if isinstance(value, float) else str(value)
    return str(value)


def render_markdown(summary: dict, holdings: pd.DataFrame) -> str:
    lines = [f"# Portfolio report {summary['date']}", "", "| figure | value |", "|---|---|"]
    lines += [f"| {label} | {fmt(summary.get(key), kind)} |" for key, label, kind in _SUMMARY_FIELDS if key in summary]
    lines += ["", "| " + " | ".join(label for _, label, _ in _HOLDING_FIELDS) + " |",
              "|" + "---|" * len(_HOLDING_FIELDS)]
    for row in holdings.to_dict("records"):
        lines.append("| " + " | ".join(fmt(row.get(key), kind) for key, _, kind in _HOLDING_FIELDS) + " |")
    return "\n".join(lines) + "\n"


def _svg_line(values: pd.Series, title: str, width: int = 640, height: int = 200) -> str:
    values = values.dropna()
    if len(values) < 2:
        return f'<figure class="chart"><figcaption>{html.escape(title)}</figcaption><p>not enough data</p></figure>'
    lo, hi = float(values.min()), float(values.max())
    span = (hi - lo) or 1.0
    xs = [i * (width - 20) / (len(values) - 1) + 10 for i in range(len(values))]
    ys = [height - 10 - (float(v) - lo) / span * (height - 20) for v in values]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    return (f'<figure class="chart" data-chart="{html.escape(title)}"><figcaption>{html.escape(title)}</figcaption>'
            f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">'
            f'<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="{points}"/></svg></figure>')


def _svg_bars(labels: list[str], values: list[float], title: str, width: int = 640) -> str:
    height = 24 * len(labels) + 20
    peak = max((abs(v) for v in values), default=1.0) or 1.0
    bars = []
    for i, (label, value) in enumerate(zip(labels, values)):
        w = abs(value) / peak * (width - 160)
        bars.append(f'<text x="0" y="{24 * i + 26}">{html.escape(label)}</text>'
                    f'<rect x="90" y="{24 * i + 12}" width="{w:.1f}" height="16" fill="#2da44e"/>'
                    f'<text x="{95 + w:.1f}" y="{24 * i + 26}">{value * 100:.1f}%</text>')
    return (f'<figure class="chart" data-chart="{html.escape(title)}"><figcaption>{html.escape(title)}</figcaption>'
            f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">{"".join(bars)}</svg>'
            f"</figure>")


def render_html(summary: dict, holdings: pd.DataFrame, values: pd.Series) -> str:
    """`values`: the portfolio value series (date index) behind the charts."""
    values = values if isinstance(values, pd.Series) else pd.Series(dtype=float)
    drawdown = values / values.cummax() - 1.0 if len(values) else values
    summary_rows = "".join(f"<tr><th>{html.escape(label)}</th><td>{fmt(summary.get(key), kind)}</td></tr>"
                           for key, label, kind in _SUMMARY_FIELDS if key in summary)
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _ in _HOLDING_FIELDS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(row.get(key), kind))}</td>"
                                    for key, _, kind in _HOLDING_FIELDS) + "</tr>"
                   for row in holdings.to_dict("records"))
    weights = holdings.sort_values("weight", ascending=False)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portfolio report {summary['date']}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}}table{{border-collapse:collapse;margin:1rem 0}}
td,th{{border:1px solid #d0d7de;padding:4px 8px;text-align:right}}th{{background:#f6f8fa}}
.grid{{display:flex;flex-wrap:wrap;gap:2rem}}figcaption{{font-weight:600}}svg text{{font-size:12px}}</style></head>
<body><h1>Portfolio report {summary['date']}</h1>
<div class="grid">
{_svg_line(values, "Portfolio value")}
{_svg_line(drawdown, "Drawdown")}
{_svg_bars(weights["ticker"].astype(str).tolist(), weights["weight"].fillna(0).tolist(), "Weights")}
</div>
<h2>Risk</h2><table id="risk">{summary_rows}</table>
<h2>Holdings</h2><table id="holdings"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
</body></html>
"""
