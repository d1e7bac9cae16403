"""The portfolio report end to end: one real CLI backfill (demo source, a EUR holding, a purchase date,
a risk-free rate), then every figure recomputed independently from the warehouse's own tables.

The report row of a day must equal risk figures computed here, with empyrical and plain formulas, on a
portfolio value series rebuilt from the warehouse prices and ECB rates; fundamentals must switch on a
10-K's SEC acceptance time (the first session closing after it) and never use a filing filed after the report day.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from statistics import NormalDist

import dagster as dg
import duckdb
import exchange_calendars as xcals
import pandas as pd
import pytest

from finance_assets.defs.portfolio import assets as report
from finance_assets.defs.sec import fundamentals as fundamentals_lib
from finance_assets.lib import coverage
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.partitions import ROWS_BY_TICKER, TICKER, month_partitions
from finance_assets.lib.portfolio_settings import PortfolioSettings
from finance_assets.lib.run_metadata import metadata_per_run
from finance_assets.lib.warehouse import Warehouse
from finance_assets_tests.shared_build import build_once

PORTFOLIO = (
    "ticker,shares,cost_basis,currency,account,purchase_date\n"
    "ACMQ,100,50,USD,,\nBLZQ,20,300,EUR,ira,\nCRXQ,300,30,USD,,2025-03-05\n"
)
RISK_FREE = 0.03
BEFORE_10K, TEN_K_FILED = "2025-02-28", "2025-03-03"  # the demo's FY2024 10-Ks are filed on 2025-03-03
REL = 1e-9


def report_demo_build(tmp_path_factory) -> Path:
    """The root (data/, dagster_home/) of the report's demo build, once per test session: also read by
    test_schemas.py. Tests that write into it work on a copy (_materialize_report)."""
    return build_once(tmp_path_factory, "report_e2e", _register_and_backfill)


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory) -> Path:
    return report_demo_build(tmp_path_factory)


def _register_and_backfill(root: Path) -> None:
    """register + backfill 2025-02..2025-03 through the real CLI (in-process executor)."""
    (root / "data").mkdir()
    (root / "data" / "portfolio.csv").write_text(PORTFOLIO)
    (root / "dagster_home").mkdir()
    (root / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "FINANCE_ASSETS_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "FINANCE_ASSETS_MODE": "demo",
        "FINANCE_ASSETS_RISK_FREE": str(RISK_FREE),
        "PYTHONWARNINGS": "ignore",
        # the demo's own history start (the suite pins 2016): the filing documents of 2025-26, not ten years
        "FINANCE_ASSETS_HISTORY_START": "2025-01-01",
    }
    env.pop("FINANCE_ASSETS_BASE_CURRENCY", None)
    for args in (["register"], ["backfill", "--start", "2025-02", "--end", "2025-03", "--executor", "in_process"]):
        done = subprocess.run(
            [sys.executable, "-m", "finance_assets.cli", *args], env=env, capture_output=True, text=True, timeout=400
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _warehouse(root: Path) -> Warehouse:
    return Warehouse(root / "data" / "warehouse")


def _usd_per_unit(fx_rates: pd.DataFrame, currency: str, dates: pd.DatetimeIndex) -> pd.Series:
    """USD per unit of `currency` at the last ECB fixing on or before each date (computed here)."""
    if currency == "USD":
        return pd.Series(1.0, index=dates)
    per_eur = fx_rates.pivot(index="date", columns="currency", values="per_eur").sort_index()
    per_eur.index = pd.DatetimeIndex(per_eur.index)
    per_eur["EUR"] = 1.0
    cross = (per_eur["USD"] / per_eur[currency]).reindex(per_eur.index.union(dates)).ffill()
    return cross.reindex(dates)


def _independent_values(root: Path, day: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    """The value of the day's holdings over time (adjusted closes x shares x USD rate) and the benchmark."""
    wh = _warehouse(root)
    prices = wh.read("prices")
    prices["date"] = pd.to_datetime(prices["date"])
    adj = prices.pivot(index="date", columns="ticker", values="adj_close").sort_index()
    rates = wh.read("fx_rates").assign(date=lambda f: pd.to_datetime(f["date"]))
    holdings = pd.read_csv(root / "data" / "portfolio.csv", parse_dates=["purchase_date"])
    held = holdings[holdings["purchase_date"].isna() | (holdings["purchase_date"] <= day)]
    value = sum(
        row.shares * adj[row.ticker] * _usd_per_unit(rates, row.currency, adj.index) for row in held.itertuples()
    )
    return value.dropna(), adj["DEMOIDX"]


def _report_row(root: Path, day: str) -> pd.Series:
    con = duckdb.connect(str(_warehouse(root).catalog_path), read_only=True)
    try:
        frame = con.execute("SELECT * FROM portfolio_report WHERE date = ?", [pd.Timestamp(day)]).df()
    finally:
        con.close()
    assert len(frame) == 1, frame
    return frame.iloc[0]


@pytest.mark.slow
@pytest.mark.parametrize("day", ["2025-03-04", "2025-03-05", "2025-03-31"])
def test_report_row_equals_an_independent_computation_from_the_warehouse(backfilled, day):
    empyrical = pytest.importorskip("empyrical")
    row = _report_row(backfilled, day)
    stamp = pd.Timestamp(day)
    values, bench = _independent_values(backfilled, stamp)
    window = values[values.index <= stamp].tail(253)
    returns = window.pct_change().dropna()
    bench_returns = bench[bench.index <= stamp].pct_change().reindex(returns.index)
    rf = (1 + RISK_FREE) ** (1 / 252) - 1
    assert row["observations"] == len(returns) >= 20
    expected = {
        "annualized_volatility": empyrical.annual_volatility(returns),
        "sharpe": empyrical.sharpe_ratio(returns, risk_free=rf),
        "sortino": empyrical.sortino_ratio(returns, required_return=rf),
        "beta": empyrical.beta(returns, bench_returns),
        "max_drawdown": empyrical.max_drawdown(returns),
        "var_hist_95": empyrical.value_at_risk(returns, 0.05),
        "var_hist_99": empyrical.value_at_risk(returns, 0.01),
        "cvar_95": empyrical.conditional_value_at_risk(returns, 0.05),
        "cvar_99": empyrical.conditional_value_at_risk(returns, 0.01),
        "var_param_95": returns.mean() + NormalDist().inv_cdf(0.05) * returns.std(ddof=1),
        "var_param_99": returns.mean() + NormalDist().inv_cdf(0.01) * returns.std(ddof=1),
        "day": values[values.index <= stamp].iloc[-1] / values[values.index < stamp].iloc[-1] - 1,
        "mtd": window.iloc[-1] / values[values.index < stamp.replace(day=1)].iloc[-1] - 1,
    }
    for key, value in expected.items():
        assert math.isclose(row[key], value, rel_tol=REL, abs_tol=1e-12), (key, row[key], value)
    # the purchase date: CRXQ is held (and in the totals and the risk window) from 2025-03-05 on
    assert row["holdings"] == (3 if stamp >= pd.Timestamp("2025-03-05") else 2)


@pytest.mark.slow
def test_totals_use_closes_converted_at_the_days_ecb_rate(backfilled):
    wh = _warehouse(backfilled)
    day = pd.Timestamp("2025-03-31")
    prices = wh.read("prices").assign(date=lambda f: pd.to_datetime(f["date"]))
    close = prices[prices["date"] == day].set_index("ticker")["close"]
    rates = wh.read("fx_rates").assign(date=lambda f: pd.to_datetime(f["date"]))
    usd_per_eur = _usd_per_unit(rates, "EUR", pd.DatetimeIndex([day])).iloc[0]
    assert rates[rates["date"] <= day]["date"].max() == day  # a TARGET day: that day's fixing
    value = 100 * close["ACMQ"] + 20 * close["BLZQ"] * usd_per_eur + 300 * close["CRXQ"]
    cost = 100 * 50 + 20 * 300 * usd_per_eur + 300 * 30
    row = _report_row(backfilled, "2025-03-31")
    assert row["base_currency"] == "USD"
    assert row["total_value"] == pytest.approx(value, rel=1e-12)
    assert row["total_cost"] == pytest.approx(cost, rel=1e-12)
    assert row["unrealized_pnl"] == pytest.approx(value - cost, rel=1e-12)
    holdings = wh.read("portfolio_holdings")
    day_rows = holdings[pd.to_datetime(holdings["date"]) == day].set_index("ticker")
    assert day_rows["weight"].sum() == pytest.approx(1.0)
    assert day_rows.loc["BLZQ", "fx_rate"] == pytest.approx(usd_per_eur)
    assert day_rows.loc["BLZQ", "account"] == "ira"
    weights = day_rows["market_value"] / value
    assert row["hhi"] == pytest.approx((weights**2).sum(), rel=1e-12)


def _ttm_eps_known_on(fundamentals: pd.DataFrame, ticker: str, day: pd.Timestamp) -> tuple[str, float]:
    """Latest period and trailing-12-month diluted EPS from filings filed on or before `day`:
    the annual figure right after a 10-K, else FY(y-1) + 9M(y) - 9M(y-1) (the demo files Q1-Q3 10-Qs)."""
    std = fundamentals[fundamentals["ticker"] == ticker].drop(columns=["ticker"])
    known = fundamentals_lib.as_of(std, day)
    eps = known[known["item"] == "eps_diluted"].set_index("fiscal_period")["value"]
    # the most recent period; at a fiscal year end the annual label (a derived Q4 ends the same day)
    latest = known.sort_values(["period_end", "period_type"], ascending=[True, False]).iloc[-1]["fiscal_period"]
    if latest.startswith("FY"):
        return latest, float(eps[latest])
    year, quarter = int(latest[:4]), int(latest[-1])
    this_year = sum(eps[f"{year}Q{q}"] for q in range(1, quarter + 1))
    last_year = sum(eps[f"{year - 1}Q{q}"] for q in range(1, quarter + 1))
    return latest, float(eps[f"FY{year - 1}"] + this_year - last_year)


@pytest.mark.slow
def test_fundamentals_are_point_in_time_around_a_10k_filing(backfilled):
    wh = _warehouse(backfilled)
    fundamentals = wh.read("fundamentals")
    for column in ("period_end", "filed"):
        fundamentals[column] = pd.to_datetime(fundamentals[column])
    ten_k = fundamentals[(fundamentals["ticker"] == "ACMQ") & (fundamentals["fiscal_period"] == "FY2024")]
    assert ten_k["filed"].min() == pd.Timestamp(TEN_K_FILED)  # the premise of this test
    holdings = wh.read("portfolio_holdings")
    holdings["date"] = pd.to_datetime(holdings["date"])
    assert (
        holdings["fundamentals_filed"].dropna() <= holdings.loc[holdings["fundamentals_filed"].notna(), "date"]
    ).all()
    # point in time is SEC's acceptance time (#16): the first session whose close follows it
    filings = wh.read("filings")
    accepted = pd.Timestamp(
        filings[
            (filings["ticker"] == "ACMQ")
            & (filings["form"] == "10-K")
            & (pd.to_datetime(filings["filing_date"]) == pd.Timestamp(TEN_K_FILED))
        ]["acceptance_datetime"].iloc[0]
    )
    accepted = accepted.tz_localize("UTC") if accepted.tzinfo is None else accepted  # stored as UTC
    closes = xcals.get_calendar("XNYS", start="2025-01-02", end="2025-06-30").closes
    first_day = closes[closes > accepted].index[0].strftime("%Y-%m-%d")
    rows = holdings[holdings["ticker"] == "ACMQ"].set_index("date")
    before, after = rows.loc[BEFORE_10K], rows.loc[first_day]
    assert before["fiscal_period"] == "2024Q3" and before["fundamentals_filed"] < pd.Timestamp(BEFORE_10K)
    assert after["fiscal_period"] == "FY2024" and after["fundamentals_filed"] == pd.Timestamp(TEN_K_FILED)
    if first_day != TEN_K_FILED:  # accepted after the close: not yet in the filing day's report
        assert rows.loc[TEN_K_FILED, "fiscal_period"] == "2024Q3"
    for day, row in ((BEFORE_10K, before), (first_day, after)):
        period, ttm = _ttm_eps_known_on(fundamentals, "ACMQ", pd.Timestamp(day))
        assert row["fiscal_period"] == period
        assert row["ttm_eps_diluted"] == pytest.approx(ttm, rel=1e-12)
        assert row["pe_ttm"] == pytest.approx(row["price"] / ttm, rel=1e-12)
    assert before["ttm_eps_diluted"] != after["ttm_eps_diluted"] or before["price_to_book"] != after["price_to_book"]


@pytest.mark.slow
def test_outputs_are_queryable_and_described_in_dagster(backfilled):
    wh = _warehouse(backfilled)
    con = duckdb.connect(str(wh.catalog_path), read_only=True)
    try:
        joined = con.execute("""
            SELECT h.ticker, h.weight, h.rsi_14, h.pe_ttm, r.total_value
            FROM portfolio_holdings h JOIN portfolio_report r USING (date)
            WHERE date = DATE '2025-03-31' ORDER BY h.weight DESC""").df()
        snapshots = con.execute("SELECT count(*), count(DISTINCT ticker) FROM fundamental_snapshots").fetchone()
        fx_days = con.execute("SELECT count(DISTINCT date) FROM fx_rates WHERE currency = 'USD'").fetchone()[0]
    finally:
        con.close()
    assert joined["ticker"].tolist()[0] in {"ACMQ", "BLZQ", "CRXQ"} and len(joined) == 3
    assert snapshots[1] == 3 and snapshots[0] > 3 * 8  # every company (the index files nothing), every filing
    assert fx_days == 41  # TARGET days in Feb + Mar 2025 (every weekday: no TARGET holiday falls in them)
    reports = backfilled / "data" / "reports"
    latest = json.loads((reports / "latest.json").read_text())
    assert latest["date"] == "2025-03-31" and Path(latest["html"]).exists()
    html = (reports / "latest.html").read_text()
    assert "<svg" in html and 'id="holdings"' in html and 'id="fundamentals"' in html and "DEMO DATA" in html
    markdown = (reports / "portfolio_report_2025-03-31.md").read_text()
    assert markdown.startswith("# Portfolio report 2025-03-31") and "| Sharpe ratio |" in markdown

    os.environ["DAGSTER_HOME"] = str(backfilled / "dagster_home")
    try:
        with dg.DagsterInstance.get() as instance:
            per_run = metadata_per_run(instance, "portfolio_report")
    finally:
        os.environ.pop("DAGSTER_HOME", None)
    [metadata] = [m for m in per_run.values() if m.get("latest_day") == "2025-03-31"]
    assert metadata["report_html"] == latest["html"]
    assert "| Total value |" in metadata["summary"]
    assert metadata["total_value"] == pytest.approx(_report_row(backfilled, "2025-03-31")["total_value"])


def _materialize_report(root: Path, tmp_path: Path, portfolio: str, day: str = "2025-03-31") -> dg.ExecuteInJobResult:
    """The report alone, in process, over a copy of the backfilled warehouse (the shared build stays as the
    backfill left it), with another holdings file."""
    path = tmp_path / "portfolio.csv"
    path.write_text(portfolio)
    warehouse = shutil.copytree(root / "data" / "warehouse", tmp_path / "warehouse")
    resources = {
        "io_manager": ParquetWarehouseIOManager(base_path=str(warehouse)),
        "portfolio": PortfolioSettings(path=str(path), reports_dir=str(tmp_path / "reports"), benchmark="DEMOIDX"),
    }
    with dg.instance_for_test() as instance:
        # the inputs are already in the warehouse: declare them, run only the report (the panel is stored by
        # ticker: the run reads the registered tickers' files, of which the report keeps its own)
        instance.add_dynamic_partitions(TICKER, coverage.stored_tickers(Warehouse(warehouse), "market_panel"))
        inputs = [
            dg.AssetSpec("market_panel", partitions_def=month_partitions, metadata={ROWS_BY_TICKER: True}),
            dg.AssetSpec("fx_rates", partitions_def=month_partitions),
            dg.AssetSpec("fundamental_snapshots"),
        ]
        return dg.materialize(
            [*inputs, report.portfolio_report],
            partition_key=day,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )


@pytest.mark.slow
def test_a_currency_without_an_ecb_rate_fails_with_a_clear_error(backfilled, tmp_path):
    result = _materialize_report(backfilled, tmp_path, "ticker,shares,cost_basis,currency\nACMQ,1,1,TWD\n")
    assert not result.success
    error, messages = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error, []
    while error is not None:  # Dagster wraps the asset's own exception
        messages.append(error.message)
        error = error.cause
    message = " ".join(messages)
    assert "the ECB publishes no reference rate for TWD (it quotes AUD, BGN, BRL" in message
    assert "holdings in it cannot be valued in USD" in message
    assert not (tmp_path / "reports").exists()  # nothing half-written


@pytest.mark.slow
def test_unpriced_holdings_are_flagged_and_excluded_not_fatal(backfilled, tmp_path):
    result = _materialize_report(
        backfilled, tmp_path, "ticker,shares,cost_basis,currency\nACMQ,10,1,USD\nNOPX,5,1,USD\n"
    )
    assert result.success
    summary = result.output_for_node("portfolio_report", "portfolio_report").iloc[0]
    assert summary["holdings"] == 2 and summary["holdings_unpriced"] == 1
    html = (tmp_path / "reports" / "latest.html").read_text()
    assert "No price on or before 2025-03-31 for NOPX" in html


def test_latest_report_only_moves_forward(tmp_path):
    def write(day: str) -> None:
        summary = {"date": pd.Timestamp(day), "total_value": 1.0}
        holdings = pd.DataFrame({"ticker": ["AAA"], "weight": [1.0], "market_value": [1.0]})
        report.write_report_files(tmp_path, summary, holdings, pd.Series(dtype=float))

    write("2025-03-31")
    write("2025-01-15")  # a backfill of an older range
    assert json.loads((tmp_path / "latest.json").read_text())["date"] == "2025-03-31"
    assert "Portfolio report 2025-03-31" in (tmp_path / "latest.html").read_text()
    assert (tmp_path / "portfolio_report_2025-01-15.html").exists()
    write("2025-04-01")
    assert "Portfolio report 2025-04-01" in (tmp_path / "latest.md").read_text()
    assert not list(tmp_path.glob(".*.tmp"))


def test_missing_fx_rates_are_explained_before_any_work():
    empty = pd.DataFrame(
        {
            "date": pd.Series(dtype="datetime64[ns]"),
            "currency": pd.Series(dtype="object"),
            "per_eur": pd.Series(dtype="float64"),
        }
    )
    report._check_currencies(empty, {"USD"}, "USD")  # base only: nothing to convert
    with pytest.raises(
        ValueError,
        match="holdings in EUR, GBP need ECB rates to be valued in USD, and fx_rates "
        "has no rows for these months: materialize fx_rates",
    ):
        report._check_currencies(empty, {"USD", "GBP", "EUR"}, "USD")
    quoted = pd.DataFrame({"date": [pd.Timestamp("2025-03-03")] * 2, "currency": ["USD", "GBP"], "per_eur": [1.1, 0.8]})
    report._check_currencies(quoted, {"GBP", "EUR"}, "USD")
    with pytest.raises(ValueError, match="no reference rate for CHF"):
        report._check_currencies(quoted, {"GBP"}, "CHF")  # the base currency itself must be quoted
