"""Issue #16, problem 9: FINANCE_ASSETS_RISK_FREE has one convention everywhere: an annual rate.

Every paragraph of the README, docs/ and the package's code (docstrings, comments, messages) that names
the variable must call it annual (or yearly) and never a daily rate; and the code must use it as one:
the stored report row carries the annual rate and Sharpe uses (1 + rf)^(1/252) - 1 per day.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from finance_assets.defs.portfolio import holdings as book
from finance_assets.defs.portfolio import risk

REPO = Path(__file__).resolve().parents[3]
NAME = "FINANCE_ASSETS_RISK_FREE"
DAILY = re.compile(r"RISK_FREE`?\s*(?:\(|,)?\s*(?:as|is)\s+(?:a\s+)?(?:daily|per[- ]day)", re.IGNORECASE)


def _paragraphs() -> list[tuple[Path, str]]:
    files = [
        REPO / "README.md",
        *sorted((REPO / "docs").rglob("*.md")),
        *sorted((REPO / "finance_assets").rglob("*.py")),
    ]
    out = []
    for path in files:
        for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            # in code, only the places that describe it (a bare list of variable names does not)
            if NAME in block and (path.suffix == ".md" or re.search(r"\brate\b", block)):
                out.append((path, block))
    return out


def test_every_mention_calls_it_an_annual_rate():
    mentions = _paragraphs()
    assert len(mentions) >= 4  # README/docs and the config all describe it
    for path, block in mentions:
        where = f"{path.relative_to(REPO)}: {block[:200]!r}"
        assert not DAILY.search(block), where
        assert re.search(r"annual|yearly", block, re.IGNORECASE), where


def test_the_report_uses_it_as_an_annual_rate():
    rng = np.random.default_rng(9)
    days = pd.bdate_range("2024-01-01", periods=300)
    values = pd.Series(100 * np.cumprod(1 + rng.normal(0.0005, 0.01, len(days))), index=days)
    rows = pd.DataFrame({"ticker": ["A"], "market_value": [values.iloc[-1]], "cost": [90.0], "day_change_value": [0.0]})
    summary = book.portfolio_summary(days[-1], rows, values, None, risk_free_annual=0.04)
    returns = values.tail(253).pct_change().dropna()
    assert summary["risk_free_annual"] == 0.04
    assert summary["sharpe"] == pytest.approx(risk.sharpe(returns, 1.04 ** (1 / 252) - 1), rel=1e-12)
    assert summary["sharpe"] != pytest.approx(risk.sharpe(returns, 0.04), rel=1e-3)
