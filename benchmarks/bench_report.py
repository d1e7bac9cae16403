"""Benchmark: the report's main query for 500 holdings, DuckDB over the Parquet warehouse vs pandas.

The query (`analytics.portfolio.holdings_table`, the one the report asset runs) builds the
per-holding table for one day: last close and previous close, indicators, 7-day sentiment, the FX
rate to the base currency and point-in-time fundamentals (trailing-12-month EPS, P/E, P/B, ...).
A synthetic warehouse of 500 tickers is written through the project's `Warehouse` (its real file
layout): two years of `market_panel`, ten years of quarterly/annual `fundamentals` with
restatements, two years of ECB `fx_rates`; 100 of the 500 holdings are in EUR, GBP or JPY.

ours: the query through the DuckDB catalog (views over the Parquet files), best of 7 after a warm-up.
reference: the same table in pandas from the same files (pyarrow filter pushdown), best of 5.
Before timing counts, the two results are compared cell by cell (rel. 1e-9), and the snapshots the
query reads are checked against TTM figures computed in pandas from the raw per-ticker filings.
The report reads `fundamental_snapshots` (one file) rather than `fundamentals` (a file per ticker):
opening 500 per-ticker files alone took 60-230 ms here, more than the whole budget.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from finance_assets.defs.market.fx_source import parse_eurofxref_hist
from finance_assets.defs.portfolio.holdings import BALANCE_ITEMS, FLOW_ITEMS, fundamental_snapshots, holdings_table
from finance_assets.defs.sec.fundamentals import first_session_known
from finance_assets.demo.source import ecb_hist_zip
from finance_assets.lib.warehouse import Warehouse

N_TICKERS = 500
REPORT_DAY = pd.Timestamp("2025-06-13")
PANEL_START = pd.Timestamp("2023-07-01")
FUNDAMENTAL_YEARS = range(2015, 2026)
GOAL_MS = 100.0
SEED = 20250613
NUMERIC_TOLERANCE = 1e-9
SNAPSHOT_BUILD_MS: list[float] = []


# --------------------------------------------------------------------------- synthetic warehouse


def tickers(n: int = N_TICKERS) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return [f"{letters[i // 26 % 26]}{letters[i % 26]}X{i // 676}" for i in range(n)]


def make_panel(names: list[str], rng: np.random.Generator) -> pd.DataFrame:
    days = pd.bdate_range(PANEL_START, REPORT_DAY)
    n, m = len(days), len(names)
    closes = 20 + 80 * rng.random(m) * np.cumprod(1 + rng.normal(0.0003, 0.015, (n, m)), axis=0)
    frame = pd.DataFrame(
        {"date": np.repeat(days.to_numpy(), m), "ticker": np.tile(names, n), "close": closes.reshape(-1)}
    )
    frame["adj_close"] = frame["close"] * 0.99
    frame["volume"] = 1_000_000
    frame["source"] = "synthetic"
    frame["ret_simple"] = rng.normal(0, 0.015, len(frame))
    frame["rsi_14"] = rng.uniform(20, 80, len(frame))
    frame["sma_50"] = frame["adj_close"] * rng.uniform(0.9, 1.1, len(frame))
    frame["sma_200"] = frame["adj_close"] * rng.uniform(0.8, 1.2, len(frame))
    frame["bb_pctb"] = rng.uniform(-0.2, 1.2, len(frame))
    frame["rv_20"] = rng.uniform(0.1, 0.6, len(frame))
    news = rng.random(len(frame)) < 0.3
    frame["headline_count"] = np.where(news, rng.integers(1, 5, len(frame)), np.nan)
    frame["decayed_7d_score"] = np.where(news, rng.uniform(-1, 1, len(frame)), np.nan)
    return frame


def make_fundamentals(names: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """Calendar-year companies: 10-Qs 40 days after the quarter, 10-Ks 60 days after the year, and a
    later restated vintage for ~15% of values (filed a year on, as next year's comparatives)."""
    rows = []
    for year in FUNDAMENTAL_YEARS:
        for quarter in (1, 2, 3, 4):
            end = pd.Timestamp(year, 3 * quarter, 1) + pd.offsets.MonthEnd(0)
            annual = quarter == 4
            filed = end + pd.Timedelta(days=60 if annual else 40)
            labels = [("quarterly", f"{year}Q{quarter}")] + ([("annual", f"FY{year}")] if annual else [])
            for period_type, label in labels:
                scale = 4.0 if period_type == "annual" else 1.0
                for item in (*FLOW_ITEMS, *BALANCE_ITEMS):
                    if item == "eps_diluted" and period_type == "quarterly" and annual:
                        continue  # as in SEC data: no reported Q4 EPS
                    flow = item in FLOW_ITEMS
                    rows.append(
                        (
                            item,
                            period_type,
                            label,
                            end,
                            filed,
                            scale if flow else 1.0,
                            "shares"
                            if item == "shares_outstanding"
                            else "USD/shares"
                            if item == "eps_diluted"
                            else "USD",
                        )
                    )
    template = pd.DataFrame(
        rows, columns=["item", "period_type", "fiscal_period", "period_end", "filed", "scale", "unit"]
    )
    base = {
        "eps_diluted": 1.2,
        "revenue": 2e9,
        "gross_profit": 8e8,
        "net_income": 2e8,
        "total_assets": 9e9,
        "total_liabilities": 5e9,
        "stockholders_equity": 4e9,
        "current_assets": 3e9,
        "current_liabilities": 2e9,
        "shares_outstanding": 5e8,
    }
    frames = []
    for ticker in names:
        company = template.assign(ticker=ticker)
        company["value"] = company["item"].map(base) * company["scale"] * rng.uniform(0.5, 1.5, len(company))
        restated = company[(rng.random(len(company)) < 0.15) & (company["filed"] < REPORT_DAY - pd.Timedelta(days=400))]
        restated = restated.assign(
            filed=restated["filed"] + pd.Timedelta(days=365),
            value=restated["value"] * rng.uniform(0.95, 1.05, len(restated)),
        )
        frames += [company, restated]
    out = pd.concat(frames, ignore_index=True).drop(columns="scale")
    out = out.sort_values(["ticker", "item", "period_type", "fiscal_period", "filed"], kind="stable")
    out["vintage_rank"] = out.groupby(["ticker", "item", "period_type", "fiscal_period"]).cumcount() + 1
    out = out.reset_index(drop=True)
    # the knowledge date the snapshots need: no acceptance times here, so the next session after the filing
    # date (no filing is within a session of REPORT_DAY, so the pandas reference's `filed <= day` agrees)
    out["known_at"] = first_session_known(pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]"), out["filed"])
    return out


def make_holdings(names: list[str], rng: np.random.Generator) -> pd.DataFrame:
    currencies = np.array(["USD"] * 4 + ["EUR"])[rng.integers(0, 5, len(names))]
    currencies[::37] = "GBP"
    currencies[::53] = "JPY"
    return pd.DataFrame(
        {
            "ticker": names,
            "shares": rng.integers(1, 1000, len(names)).astype(float),
            "cost_basis": rng.uniform(10, 100, len(names)),
            "currency": currencies,
            "account": "",
            "purchase_date": pd.NaT,
        }
    )


def build_warehouse(root: Path) -> tuple[Warehouse, pd.DataFrame]:
    rng = np.random.default_rng(SEED)
    names = tickers()
    wh = Warehouse(root)
    panel = make_panel(names, rng)
    months = panel["date"].dt.strftime("%Y-%m-01")
    wh.write_partitions("market_panel", [({"month": m}, part) for m, part in panel.groupby(months)])
    funds = make_fundamentals(names, rng)
    wh.write_partitions("fundamentals", [({"ticker": t}, part) for t, part in funds.groupby("ticker")])
    con = duckdb.connect()
    con.register("fundamentals", funds)
    start = time.perf_counter()
    snapshots = fundamental_snapshots(con)  # what the fundamental_snapshots asset computes
    SNAPSHOT_BUILD_MS.append((time.perf_counter() - start) * 1000)
    con.close()
    wh.write("fundamental_snapshots", None, snapshots)
    fx = parse_eurofxref_hist(ecb_hist_zip(REPORT_DAY.date()))
    fx = fx[fx["date"] >= PANEL_START].assign(source="ecb (demo)")
    wh.write_partitions(
        "fx_rates", [({"month": m}, part) for m, part in fx.groupby(fx["date"].dt.strftime("%Y-%m-01"))]
    )
    wh.refresh_catalog()
    return wh, make_holdings(names, rng)


# --------------------------------------------------------------------------- the reference: pandas


def _read(wh: Warehouse, asset: str, filters: list | None = None) -> pd.DataFrame:
    import pyarrow.dataset as ds

    dataset = ds.dataset([str(f) for f in wh.all_files(asset)], format="parquet")
    expression = None
    for column, op, value in filters or []:
        term = {">=": ds.field(column) >= value, "<=": ds.field(column) <= value}[op]
        expression = term if expression is None else expression & term
    return dataset.to_table(filter=expression).to_pandas()


def pandas_holdings(wh: Warehouse, day: pd.Timestamp, holdings: pd.DataFrame, base: str = "USD") -> pd.DataFrame:
    """The report's main query for one day (no purchase dates), step by step in pandas, same tables."""
    panel = _read(wh, "market_panel", [("date", ">=", day - pd.Timedelta(days=31)), ("date", "<=", day)])
    panel = panel[panel["ticker"].isin(holdings["ticker"]) & (panel["date"] > day - pd.Timedelta(days=31))]
    panel = panel.sort_values(["ticker", "date"])
    panel["prev_close"] = panel.groupby("ticker")["close"].shift()
    quote = panel.groupby("ticker").tail(1).set_index("ticker")
    week = panel[panel["date"] > day - pd.Timedelta(days=7)]
    sentiment = week[week["decayed_7d_score"].notna()].groupby("ticker").tail(1).set_index("ticker")["decayed_7d_score"]
    headlines = week.groupby("ticker")["headline_count"].sum()

    fx = _read(wh, "fx_rates", [("date", ">=", day - pd.Timedelta(days=10)), ("date", "<=", day)])
    fx = fx[fx["date"] > day - pd.Timedelta(days=10)].sort_values("date").groupby("currency").tail(1)
    per_eur = {**fx.set_index("currency")["per_eur"].to_dict(), "EUR": 1.0}

    snapshots = _read(wh, "fundamental_snapshots", [("known_at", "<=", day)])
    snapshots = snapshots[snapshots["superseded_at"].isna() | (snapshots["superseded_at"] > day)]
    snap = snapshots.set_index("ticker").reindex(holdings["ticker"])

    out = holdings.reset_index(drop=True).copy()
    q = quote.reindex(out["ticker"])
    out["price"] = q["close"].to_numpy()
    out["prev_close"] = q["prev_close"].to_numpy()
    rate = np.array([1.0 if c == base else per_eur[base] / per_eur[c] for c in out["currency"]])
    out["market_value"] = out["shares"] * out["price"] * rate
    out["weight"] = out["market_value"] / out["market_value"].sum()
    out["price_vs_sma50"] = (q["adj_close"] / q["sma_50"] - 1).to_numpy()
    out["sentiment_7d"] = sentiment.reindex(out["ticker"]).to_numpy()
    out["headlines_7d"] = headlines.reindex(out["ticker"]).fillna(0).to_numpy()
    to_reporting = np.array(
        [1.0 if c == r else per_eur[r] / per_eur[c] for c, r in zip(out["currency"], snap["reporting_currency"])]
    )
    price_reporting = out["price"].to_numpy() * to_reporting
    eps, equity = snap["ttm_eps_diluted"].to_numpy(), snap["stockholders_equity"].to_numpy()
    out["pe_ttm"] = np.where(eps > 0, price_reporting / eps, np.nan)
    out["price_to_book"] = np.where(
        equity > 0, price_reporting * snap["shares_outstanding"].to_numpy() / equity, np.nan
    )
    out["roe"] = np.where(equity > 0, snap["ttm_net_income"].to_numpy() / equity, np.nan)
    out["net_margin"] = snap["ttm_net_income"].to_numpy() / snap["ttm_revenue"].to_numpy()
    return out


def pandas_ttm_from_raw_filings(wh: Warehouse, day: pd.Timestamp, names: list[str]) -> pd.DataFrame:
    """An independent check of the snapshots: TTM figures and the balance sheet known on `day`,
    computed in pandas straight from the per-ticker `fundamentals` files."""
    funds = _read(wh, "fundamentals", [("filed", "<=", day)])
    funds = funds[funds["item"].isin(FLOW_ITEMS + BALANCE_ITEMS) & funds["ticker"].isin(names)]
    funds = funds[funds["period_end"] > day - pd.DateOffset(years=3)]
    key = ["ticker", "item", "period_type", "fiscal_period"]
    known = funds.sort_values([*key, "vintage_rank"]).groupby(key).tail(1)
    balance = (
        known[known["item"].isin(BALANCE_ITEMS)]
        .sort_values("period_end")
        .groupby(["ticker", "item"])["value"]
        .last()
        .unstack()
    )
    flows = known[known["item"].isin(FLOW_ITEMS)].copy()
    flows["year"] = flows["fiscal_period"].str.extract(r"(\d{4})")[0].astype(int)
    flows["quarter"] = pd.to_numeric(np.where(flows["period_type"] == "annual", "4", flows["fiscal_period"].str[-1:]))
    latest = flows.sort_values("period_end").groupby(["ticker", "item"])[["year", "quarter"]].last()
    merged = flows.merge(latest, left_on=["ticker", "item"], right_index=True, suffixes=("", "_latest"))
    annual = merged[merged["period_type"] == "annual"]
    quarterly = merged[(merged["period_type"] == "quarterly") & (merged["quarter"] <= merged["quarter_latest"])]
    ytd_now = quarterly[quarterly["year"] == quarterly["year_latest"]].groupby(["ticker", "item"])["value"]
    ytd_before = quarterly[quarterly["year"] == quarterly["year_latest"] - 1].groupby(["ticker", "item"])["value"]
    parts = pd.DataFrame(
        {
            "fy_now": annual[annual["year"] == annual["year_latest"]].set_index(["ticker", "item"])["value"],
            "fy_before": annual[annual["year"] == annual["year_latest"] - 1].set_index(["ticker", "item"])["value"],
            "ytd_now": ytd_now.sum(),
            "n_now": ytd_now.size(),
            "ytd_before": ytd_before.sum(),
            "n_before": ytd_before.size(),
        }
    ).join(latest, how="right")
    complete = (parts["n_now"] == parts["quarter"]) & (parts["n_before"] == parts["quarter"])
    parts["ttm"] = np.where(
        parts["quarter"] == 4,
        parts["fy_now"],
        np.where(complete, parts["fy_before"] + parts["ytd_now"] - parts["ytd_before"], np.nan),
    )
    ttm = parts["ttm"].unstack().add_prefix("ttm_").rename(columns={"ttm_eps_diluted": "ttm_eps_diluted"})
    return ttm.join(balance).reindex(names)


# --------------------------------------------------------------------------- timing

COMPARED = [
    "price",
    "prev_close",
    "market_value",
    "weight",
    "price_vs_sma50",
    "sentiment_7d",
    "headlines_7d",
    "pe_ttm",
    "price_to_book",
    "roe",
    "net_margin",
]


def _best_ms(fn, repetitions: int) -> float:
    best = float("inf")
    for _ in range(repetitions):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        SNAPSHOT_BUILD_MS.clear()
        wh, holdings = build_warehouse(Path(tmp) / "warehouse")
        con = wh.connect()
        try:
            ours = holdings_table(con, [REPORT_DAY], holdings, "USD")  # warm-up, and the result to compare
            reference = pandas_holdings(wh, REPORT_DAY, holdings, "USD")
            if len(ours) != N_TICKERS or ours["pe_ttm"].notna().sum() < N_TICKERS * 0.9:
                raise AssertionError(f"unexpected result: {len(ours)} rows, {ours['pe_ttm'].notna().sum()} P/E values")
            for column in COMPARED:
                np.testing.assert_allclose(
                    ours[column].to_numpy(float),
                    reference[column].to_numpy(float),
                    rtol=NUMERIC_TOLERANCE,
                    equal_nan=True,
                    err_msg=column,
                )
            # the snapshots themselves against pandas on the raw per-ticker filings
            raw = pandas_ttm_from_raw_filings(wh, REPORT_DAY, holdings["ticker"].tolist())
            snapshots = (
                con.execute(
                    "SELECT * FROM fundamental_snapshots WHERE known_at <= ? AND "
                    "(superseded_at IS NULL OR superseded_at > ?)",
                    [REPORT_DAY, REPORT_DAY],
                )
                .df()
                .set_index("ticker")
                .reindex(raw.index)
            )
            for column in (
                "ttm_eps_diluted",
                "ttm_revenue",
                "ttm_net_income",
                "stockholders_equity",
                "shares_outstanding",
            ):
                np.testing.assert_allclose(
                    snapshots[column].to_numpy(float),
                    raw[column].to_numpy(float),
                    rtol=NUMERIC_TOLERANCE,
                    equal_nan=True,
                    err_msg=column,
                )
            ours_ms = _best_ms(lambda: holdings_table(con, [REPORT_DAY], holdings, "USD"), 7)
            reference_ms = _best_ms(lambda: pandas_holdings(wh, REPORT_DAY, holdings, "USD"), 5)
            files = sum(len(wh.all_files(a)) for a in ("market_panel", "fundamental_snapshots", "fx_rates"))
        finally:
            con.close()
    return [
        {
            "benchmark": "report",
            "metric": f"main query: holdings table, 1 day x {N_TICKERS} holdings ({files} files)",
            "ours": round(ours_ms, 1),
            "reference": round(reference_ms, 1),
            "unit": "ms",
            "ratio": round(reference_ms / ours_ms, 2),
            "goal": f"< {GOAL_MS:.0f} ms",
            "met": ours_ms < GOAL_MS,
        },
        {
            "benchmark": "report",
            "metric": f"fundamental_snapshots build, {N_TICKERS} tickers x 11 years (batch)",
            "ours": round(SNAPSHOT_BUILD_MS[0]),
            "reference": None,
            "unit": "ms",
            "ratio": None,
            "goal": "informational",
            "met": None,
        },
    ]


if __name__ == "__main__":
    for result in run():
        print(result)
