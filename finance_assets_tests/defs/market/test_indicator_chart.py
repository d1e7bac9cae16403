"""The technicals' metadata chart: an SVG the Dagster UI shows as an image (issue #20)."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from finance_assets.defs.market import indicator_chart

SVG = "{http://www.w3.org/2000/svg}"


def _month(days: int = 21) -> pd.DataFrame:
    dates = pd.bdate_range("2025-03-03", periods=days)
    close = np.linspace(100.0, 120.0, days)
    sma = np.where(np.arange(days) < 5, np.nan, close - 2)  # an overlay that starts late
    rsi = np.linspace(20.0, 80.0, days)
    return pd.DataFrame({"date": dates, "close": close, "sma_50": sma, "rsi_14": rsi})


def _points(path: str) -> list[tuple[str, float, float]]:
    return [(cmd, float(x), float(y)) for cmd, x, y in re.findall(r"([ML])([\d.]+),([\d.]+)", path)]


def test_the_chart_draws_each_series_over_the_months_sessions():
    frame = _month()
    svg = ET.fromstring(indicator_chart.svg_chart(frame, "close", "sma_50", "rsi_14", "ACMQ, 2025-03"))
    overlay, price, oscillator = (_points(p.get("d")) for p in svg.iter(f"{SVG}path"))
    assert len(price) == len(oscillator) == len(frame) and len(overlay) == len(frame) - 5
    assert overlay[0][0] == "M" and all(cmd == "L" for cmd, *_ in overlay[1:])  # starts where it has values
    # the price rises: each point is higher on the page (smaller y) than the one before, left to right
    xs, ys = [x for _, x, _ in price], [y for *_, y in price]
    assert xs == sorted(xs) and ys == sorted(ys, reverse=True)
    # the oscillator is on 0..100: 20 sits lower than 30's guide line, 80 higher than 70's
    guides = {float(t.text): float(t.get("y")) - 4 for t in svg.iter(f"{SVG}text") if t.text in ("30", "70")}
    assert oscillator[0][2] > guides[30] and oscillator[-1][2] < guides[70]
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    # value labels: the range of both lines (100 .. 120) widened by 5 % of it on each side
    assert {"ACMQ, 2025-03", "2025-03-03", "2025-03-31", "121.00", "99.00"} <= set(texts)


def test_the_markdown_carries_the_svg_as_a_data_uri():
    svg = indicator_chart.svg_chart(_month(), "close", "sma_50", "rsi_14", "T")
    markdown = indicator_chart.markdown_image(svg, "T <chart>")
    alt, encoded = re.fullmatch(r"!\[(.*)\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", markdown).groups()
    assert alt == "T &lt;chart&gt;" and base64.b64decode(encoded).decode() == svg


def test_no_prices_no_chart():
    with pytest.raises(ValueError, match="no prices"):
        indicator_chart.svg_chart(_month().assign(close=np.nan), "close", "sma_50", "rsi_14", "T")
