"""Issue #16, problems 6 and 7: the day's P&L and return.

6. An exchange holiday has no day P&L and no day return (NaN, stated in a note), instead of repeating
   the previous session's; the next session's move is measured from the last session, so every move
   is counted once.
7. The day P&L of a foreign-currency holding includes the FX move: shares x (price x fx - previous
   close x its fx), split into the local price move (at the previous close's rate) and the FX move (on
   today's value), both shown in the report.

The report is materialized over the synthetic warehouse of test_report_windows (XNYS sessions, a USD
and a EUR holding, daily ECB fixings), for a range around Presidents' Day 2025-02-17, and every figure is
checked against identities computed here from the stored prices and rates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finance_assets.defs.portfolio import report_render
from finance_assets.defs.portfolio.schemas import FUNDAMENTAL_SNAPSHOTS
from finance_assets.lib.warehouse import Warehouse
from finance_assets_tests.defs.portfolio import test_report_windows as windows

HOLIDAY = pd.Timestamp("2025-02-17")  # Presidents' Day: a weekday report partition, no XNYS session
RANGE = ("2025-02-10", "2025-02-21")
SHARES = {"AAA": 100, "BBB": 40}


@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("day_pnl")
    wh = Warehouse(root / "warehouse")
    windows._write_months(wh, "market_panel", windows._panel())
    windows._write_months(wh, "fx_rates", windows._fx())
    wh.write("fundamental_snapshots", None, FUNDAMENTAL_SNAPSHOTS.empty())
    (root / "portfolio.csv").write_text(windows.PORTFOLIO)
    report = windows._run(wh, root, RANGE)
    holdings = pd.read_parquet(sorted((wh.root / "portfolio_holdings").rglob("*.parquet")))
    holdings["date"] = pd.to_datetime(holdings["date"])
    return report, holdings, root


def _closes_and_fx():
    panel, fx = windows._panel(), windows._fx()
    closes = panel.pivot(index="date", columns="ticker", values="close")
    usd_per_eur = fx.set_index("date")["per_eur"]
    return closes, usd_per_eur


def test_a_holiday_has_no_day_pnl_and_no_day_return(report_run):
    report, holdings, _ = report_run
    assert HOLIDAY not in windows._sessions() and HOLIDAY in report.index  # the premise
    row = report.loc[HOLIDAY]
    for key in ("day_pnl", "day_pnl_price", "day_pnl_fx", "day"):
        assert np.isnan(row[key]), key
    on_holiday = holdings[holdings["date"] == HOLIDAY]
    assert len(on_holiday) == 2 and on_holiday["price"].notna().all()  # valued at the last close
    assert on_holiday[["day_change_pct", "day_change_value", "day_change_fx_value"]].isna().all().all()
    # the session after the holiday is measured from the session before it (Friday 14th): counted once
    closes, _ = _closes_and_fx()
    after = holdings[(holdings["date"] == "2025-02-18") & (holdings["ticker"] == "AAA")].iloc[0]
    assert after["prev_close"] == closes.loc["2025-02-14", "AAA"]
    assert after["day_change_pct"] == pytest.approx(
        closes.loc["2025-02-18", "AAA"] / closes.loc["2025-02-14", "AAA"] - 1
    )
    assert report.loc[pd.Timestamp("2025-02-18"), "day"] != pytest.approx(report.loc[pd.Timestamp("2025-02-14"), "day"])


def test_day_returns_compound_to_the_range_return(report_run):
    """No move counted twice: the day returns of the range's sessions compound to its value change."""
    report, _, _ = report_run
    expected = windows._expected  # the same value series the windows test checks against
    closes = windows._panel().pivot(index="date", columns="ticker", values="adj_close")
    fx = windows._fx().set_index("date")["per_eur"].reindex(closes.index)
    value = 100 * closes["AAA"] + 40 * closes["BBB"] * fx
    days = report.loc[RANGE[0] : RANGE[1], "day"]
    assert days.isna().sum() == 1  # the holiday
    growth = float(np.prod(1 + days.dropna()))
    assert growth == pytest.approx(value.loc[RANGE[1]] / value.loc["2025-02-07"], rel=1e-12)
    assert expected(RANGE[1])["observations"] == report.loc[pd.Timestamp(RANGE[1]), "observations"]


def test_day_pnl_of_a_foreign_holding_is_its_base_value_change_price_plus_fx(report_run):
    report, holdings, _ = report_run
    closes, usd_per_eur = _closes_and_fx()
    sessions = [d for d in report.index if d in closes.index]
    for ticker, rate in (("AAA", lambda d: 1.0), ("BBB", lambda d: usd_per_eur.loc[d])):
        mine = holdings[holdings["ticker"] == ticker].set_index("date")
        for prev, day in zip(sessions, sessions[1:], strict=False):
            row = mine.loc[day]
            value_change = mine.loc[day, "market_value"] - mine.loc[prev, "market_value"]
            assert row["day_change_value"] == pytest.approx(value_change, rel=1e-9), (ticker, day)
            price_move = SHARES[ticker] * (closes.loc[day, ticker] - closes.loc[prev, ticker]) * rate(prev)
            fx_move = SHARES[ticker] * closes.loc[day, ticker] * (rate(day) - rate(prev))
            assert row["day_change_price_value"] == pytest.approx(price_move, rel=1e-9)
            assert row["day_change_fx_value"] == pytest.approx(fx_move, rel=1e-9, abs=1e-9)
            if ticker == "BBB":
                assert abs(fx_move) > 0.01  # the FX moved: the old figure (price move only) was wrong
    for day in sessions[1:]:
        parts = holdings[holdings["date"] == day][["day_change_price_value", "day_change_fx_value"]].sum()
        assert report.loc[day, "day_pnl"] == pytest.approx(parts.sum(), rel=1e-12)
        assert report.loc[day, "day_pnl_price"] == pytest.approx(parts["day_change_price_value"], rel=1e-12)
        assert report.loc[day, "day_pnl_fx"] == pytest.approx(parts["day_change_fx_value"], rel=1e-12)


def test_the_page_shows_the_price_and_fx_parts(report_run):
    _, _, root = report_run
    html = (root / "reports" / f"portfolio_report_{RANGE[1]}.html").read_text()
    for label in ("Day P&amp;L: prices", "Day P&amp;L: FX", "Day P&amp;L: price"):
        assert label in html, label
    cards = [key for key, _, _ in report_render.SUMMARY_FIELDS]
    assert cards.index("day_pnl_price") == cards.index("day_pnl") + 1


def test_a_holiday_report_says_why_it_has_no_day_figures(tmp_path):
    root = tmp_path
    wh = Warehouse(root / "warehouse")
    windows._write_months(wh, "market_panel", windows._panel())
    windows._write_months(wh, "fx_rates", windows._fx())
    wh.write("fundamental_snapshots", None, FUNDAMENTAL_SNAPSHOTS.empty())
    (root / "portfolio.csv").write_text(windows.PORTFOLIO)
    windows._run(wh, root, (str(HOLIDAY.date()),) * 2)
    markdown = (root / "reports" / "portfolio_report_2025-02-17.md").read_text()
    assert "No exchange session on 2025-02-17" in markdown
