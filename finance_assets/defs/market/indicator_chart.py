"""A small SVG chart of one ticker's month for the technicals' run metadata (pure: no Dagster).

The Dagster UI renders Markdown metadata with images from `data:` URIs (its Markdown sanitizer allows
that protocol for `src`), so the chart travels inside the metadata as a base64 SVG: no file, no server.
Two panels share the date axis: the price with its overlay (e.g. SMA 50) above an oscillator (e.g.
RSI 14) on 0..100 with its two reference levels.
"""

from __future__ import annotations

import base64
from html import escape

import numpy as np
import pandas as pd

WIDTH, HEIGHT = 560, 300
LEFT, RIGHT = 64, 16  # room for the value labels on the left
PRICE_TOP, PRICE_BOTTOM = 44, 184
OSC_TOP, OSC_BOTTOM = 206, 262
COLORS = {"price": "#1f77b4", "overlay": "#ff7f0e", "oscillator": "#7b3fa0", "grid": "#c8c8c8", "text": "#333"}


def _x(count: int) -> np.ndarray:
    span = WIDTH - LEFT - RIGHT
    return LEFT + (np.arange(count) * span / max(count - 1, 1))


def _path(xs: np.ndarray, ys: np.ndarray) -> str:
    """An SVG path through the points, broken where a value is missing (NaN)."""
    parts, pen_down = [], False
    for x, y in zip(xs, ys):
        if np.isnan(y):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
        pen_down = True
    return " ".join(parts)


def _scale(values: np.ndarray, low: float, high: float, top: float, bottom: float) -> np.ndarray:
    span = (high - low) or 1.0
    return bottom - (values - low) / span * (bottom - top)


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 11, color: str = COLORS["text"]) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{color}" '
        f'font-family="sans-serif">{escape(text)}</text>'
    )


def svg_chart(
    frame: pd.DataFrame,
    price: str,
    overlay: str,
    oscillator: str,
    title: str,
    unit: str = "",
    levels: tuple[float, float] = (30, 70),
) -> str:
    """The SVG of `price` and `overlay` over `oscillator`, one point per row of `frame` (which has a
    `date` column), with the first and last date, value range labels and a legend."""
    frame = frame.dropna(subset=[price]).reset_index(drop=True)
    if frame.empty:
        raise ValueError("no prices to chart")
    xs = _x(len(frame))
    lines = frame[[price, overlay]].to_numpy(dtype=float)
    low, high = float(np.nanmin(lines)), float(np.nanmax(lines))
    pad = (high - low) * 0.05 or 1.0
    low, high = low - pad, high + pad
    osc = frame[oscillator].to_numpy(dtype=float)
    first, last = (pd.Timestamp(frame["date"].iloc[i]).date().isoformat() for i in (0, -1))
    suffix = f" ({unit})" if unit else ""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}"><rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        _text(LEFT, 18, title, size=13),
        # price panel: frame, value labels, the two lines
        f'<rect x="{LEFT}" y="{PRICE_TOP}" width="{WIDTH - LEFT - RIGHT}" height="{PRICE_BOTTOM - PRICE_TOP}" '
        f'fill="none" stroke="{COLORS["grid"]}"/>',
        _text(LEFT - 6, PRICE_TOP + 4, f"{high:,.2f}", anchor="end"),
        _text(LEFT - 6, PRICE_BOTTOM, f"{low:,.2f}", anchor="end"),
        _text(12, (PRICE_TOP + PRICE_BOTTOM) / 2, f"price{suffix}", size=10),
        f'<path d="{_path(xs, _scale(lines[:, 1], low, high, PRICE_TOP, PRICE_BOTTOM))}" fill="none" '
        f'stroke="{COLORS["overlay"]}" stroke-width="2" stroke-dasharray="5,3"/>',
        f'<path d="{_path(xs, _scale(lines[:, 0], low, high, PRICE_TOP, PRICE_BOTTOM))}" fill="none" '
        f'stroke="{COLORS["price"]}" stroke-width="2"/>',
        # oscillator panel on 0..100 with its reference levels
        f'<rect x="{LEFT}" y="{OSC_TOP}" width="{WIDTH - LEFT - RIGHT}" height="{OSC_BOTTOM - OSC_TOP}" '
        f'fill="none" stroke="{COLORS["grid"]}"/>',
    ]
    for level in levels:
        y = _scale(np.array([level]), 0, 100, OSC_TOP, OSC_BOTTOM)[0]
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{COLORS["grid"]}" '
            'stroke-dasharray="2,2"/>'
        )
        parts.append(_text(LEFT - 6, y + 4, f"{level:g}", anchor="end", size=10))
    parts += [
        _text(12, (OSC_TOP + OSC_BOTTOM) / 2 + 4, oscillator, size=10),
        f'<path d="{_path(xs, _scale(osc, 0, 100, OSC_TOP, OSC_BOTTOM))}" fill="none" '
        f'stroke="{COLORS["oscillator"]}" stroke-width="1.5"/>',
        _text(LEFT, OSC_BOTTOM + 16, first, size=10),
        _text(WIDTH - RIGHT, OSC_BOTTOM + 16, last, anchor="end", size=10),
        _text((LEFT + WIDTH - RIGHT) / 2, OSC_BOTTOM + 16, "date (trading sessions)", anchor="middle", size=10),
        # legend
        f'<line x1="{LEFT}" x2="{LEFT + 22}" y1="32" y2="32" stroke="{COLORS["price"]}" stroke-width="2"/>',
        _text(LEFT + 26, 36, price, size=10),
        f'<line x1="{LEFT + 110}" x2="{LEFT + 132}" y1="32" y2="32" stroke="{COLORS["overlay"]}" '
        'stroke-width="2" stroke-dasharray="5,3"/>',
        _text(LEFT + 136, 36, overlay, size=10),
        f'<line x1="{LEFT + 220}" x2="{LEFT + 242}" y1="32" y2="32" stroke="{COLORS["oscillator"]}" '
        'stroke-width="1.5"/>',
        _text(LEFT + 246, 36, f"{oscillator} (0..100, levels {levels[0]:g}/{levels[1]:g})", size=10),
        "</svg>",
    ]
    return "".join(parts)


def markdown_image(svg: str, alt: str) -> str:
    """Markdown showing `svg` inline (a base64 `data:` URI the Dagster UI renders as an image)."""
    encoded = base64.b64encode(svg.encode()).decode()
    return f"![{escape(alt)}](data:image/svg+xml;base64,{encoded})"
