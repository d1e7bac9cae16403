"""Checks on the report's own figures, read back from what `portfolio_report` stored.

Each check loads the run's report days through the IO manager (one day, or every day of a range run)
and fails listing the offending days. None is blocking: nothing reads the report downstream, and a
failed check should flag the stored figures in the UI, not hide them.

The pure halves (`*_problems`) take DataFrames and return the offending rows, so tests can feed them a
crafted bad report.
"""

from collections.abc import Callable

import dagster as dg
import numpy as np
import pandas as pd

from finance_assets.defs.portfolio import holdings as book
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.partition_mappings import md_preview
from finance_assets.lib.partitions import report_day_partitions

REPORT = dg.AssetKey("portfolio_report")
HOLDINGS = dg.AssetKey("portfolio_holdings")
REL_TOL = 1e-9
ABS_TOL = 1e-6  # money, in the base currency
EXAMPLES = 10
_with_holdings = {"portfolio_holdings": dg.AssetIn(key=HOLDINGS)}


def _per_report_day(asset: dg.AssetKey, description: str, **kwargs) -> Callable:
    """`@dg.asset_check` of one of the report's tables, over the run's report days (non-blocking)."""
    return dg.asset_check(asset=asset, partitions_def=report_day_partitions, description=description, **kwargs)


def _close(a: pd.Series, b: pd.Series, abs_tol: float = ABS_TOL) -> pd.Series:
    a, b = a.astype("float64"), b.astype("float64")
    return pd.Series(np.isclose(a, b, rtol=REL_TOL, atol=abs_tol), index=a.index)


def _days(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame["date"]).dt.normalize()


def _result(problems: pd.DataFrame, checked: int, **metadata) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=problems.empty,
        metadata={
            "days_checked": checked,
            "days_failing": len(problems),
            **metadata,
            "examples": md_preview(problems.head(EXAMPLES), rows=EXAMPLES),
        },
    )


# ------------------------------------------------------------------------------------ weights


def weights_problems(holdings: pd.DataFrame) -> pd.DataFrame:
    """Days whose priced holdings' weights do not sum to 1 (days with no priced holding or a zero total
    have no weights and are skipped)."""
    if holdings.empty:
        return pd.DataFrame(columns=["date", "weight_sum", "priced", "unweighted"])
    priced = holdings[holdings["market_value"].notna()]
    priced = priced.assign(date=_days(priced), unweighted=priced["weight"].isna().astype("int64"))
    by_day = priced.groupby("date")
    per_day = pd.DataFrame(
        {
            "weight_sum": by_day["weight"].sum(min_count=1),
            "total": by_day["market_value"].sum(),
            "priced": by_day.size(),
            "unweighted": by_day["unweighted"].sum(),
        }
    )
    per_day = per_day[per_day["total"] != 0]
    bad = ~_close(per_day["weight_sum"], pd.Series(1.0, index=per_day.index), abs_tol=1e-9)  # NaN: bad
    bad |= per_day["unweighted"] > 0
    return per_day[bad].reset_index()[["date", "weight_sum", "priced", "unweighted"]]


@_per_report_day(
    HOLDINGS,
    "Per report day, the weights of the priced holdings sum to 1 (to 1e-9), and every priced "
    "holding has one. Days with nothing priced have no weights and are skipped.",
)
def portfolio_weights_sum_to_one(portfolio_holdings: pd.DataFrame) -> dg.AssetCheckResult:
    days = int(portfolio_holdings["date"].nunique()) if len(portfolio_holdings) else 0  # a row per holding and day
    return _result(weights_problems(portfolio_holdings), days)


# ------------------------------------------------------------------------------ value = sum of holdings


def totals_problems(report: pd.DataFrame, holdings: pd.DataFrame) -> pd.DataFrame:
    """Days whose stored total value (or cost) differs from the sum over that day's priced holdings, or whose
    holding counts disagree with the holdings table."""
    rows = report.assign(date=_days(report)).set_index("date")
    if holdings.empty:
        sums = pd.DataFrame(index=rows.index, data={"value_sum": 0.0, "cost_sum": 0.0, "rows": 0, "unpriced": 0})
    else:
        priced = holdings["market_value"].notna()
        frame = holdings.assign(
            date=_days(holdings), priced_cost=holdings["cost"].where(priced), unpriced=(~priced).astype("int64")
        )
        sums = frame.groupby("date").agg(
            value_sum=("market_value", "sum"),
            cost_sum=("priced_cost", "sum"),
            rows=("ticker", "size"),
            unpriced=("unpriced", "sum"),
        )
        sums = sums.reindex(rows.index).fillna({"value_sum": 0.0, "cost_sum": 0.0, "rows": 0, "unpriced": 0})
    out = rows[["total_value", "total_cost", "holdings", "holdings_unpriced"]].join(sums)
    bad = ~_close(out["total_value"], out["value_sum"]) | ~_close(out["total_cost"], out["cost_sum"])
    bad |= (out["holdings"] != out["rows"]) | (out["holdings_unpriced"] != out["unpriced"])
    return out[bad].reset_index()


@_per_report_day(
    REPORT,
    "Per report day, the stored total value and cost equal the sums over that day's priced "
    "holdings in portfolio_holdings (to 1e-9 relative), and the holding counts match.",
    additional_ins=_with_holdings,
)
def portfolio_value_is_sum_of_holdings(
    portfolio_report: pd.DataFrame, portfolio_holdings: pd.DataFrame
) -> dg.AssetCheckResult:
    problems = totals_problems(portfolio_report, portfolio_holdings)
    return _result(problems, len(portfolio_report))


# ------------------------------------------------------------------------------------ drawdown


def drawdown_problems(report: pd.DataFrame) -> pd.DataFrame:
    """Days whose maximum drawdown is positive or below -100 %, or missing although returns exist."""
    drawdown = report["max_drawdown"].astype("float64")
    bad = (drawdown > 0) | (drawdown < -1) | (drawdown.isna() & (report["observations"] > 0))
    return report.loc[bad, ["date", "max_drawdown", "observations"]].reset_index(drop=True)


@_per_report_day(
    REPORT,
    "Maximum drawdown is never positive (and never below -100 %); it is missing only on a day "
    "without a single daily return.",
)
def portfolio_drawdown_never_positive(portfolio_report: pd.DataFrame) -> dg.AssetCheckResult:
    problems = drawdown_problems(portfolio_report)
    worst = portfolio_report["max_drawdown"].astype("float64").min() if len(portfolio_report) else float("nan")
    return _result(problems, len(portfolio_report), deepest=float(worst) if np.isfinite(worst) else None)


# ------------------------------------------------------------------------------------ risk window


def available_returns(holdings: pd.DataFrame, closes: pd.DataFrame, fx_quotes: pd.DataFrame, base: str) -> pd.DataFrame:
    """Per report day: the daily returns of its holdings' value history, from the stored data alone.

    `holdings`: portfolio_holdings rows (date, ticker, currency); `closes`: market_panel rows with an
    adjusted close (date, ticker); `fx_quotes`: fx_rates rows (date, currency). A day's history is the
    sessions on or before it on which one of its holdings that has any close by then has a close, from
    the first session on which all of those have had one and every foreign currency (and the base
    currency, if a foreign holding needs a cross through EUR) has had an ECB rate. Its returns are the
    sessions less one.
    """
    columns = ["date", "history_returns"]
    if holdings.empty:
        return pd.DataFrame(columns=columns)
    closes = closes.assign(date=_days(closes)).sort_values("date")
    first_close = closes.groupby("ticker")["date"].min()
    quotes = fx_quotes.assign(date=_days(fx_quotes)) if len(fx_quotes) else fx_quotes
    first_quote = quotes.groupby("currency")["date"].min() if len(quotes) else pd.Series(dtype="datetime64[ns]")
    base = base.upper()
    held = holdings.assign(date=_days(holdings), first=lambda f: f["ticker"].map(first_close))
    priced = held[held["first"].notna() & (held["first"] <= held["date"])]
    per_day = priced.groupby("date").agg(
        start=("first", "max"), tickers=("ticker", frozenset), currencies=("currency", frozenset)
    )
    sessions_of: dict[frozenset, np.ndarray] = {}  # the held set changes seldom: its sessions once

    def sessions(tickers: frozenset) -> np.ndarray:
        if tickers not in sessions_of:
            dates = closes.loc[closes["ticker"].isin(tickers), "date"].unique()
            sessions_of[tickers] = np.sort(np.asarray(dates, dtype="datetime64[ns]"))
        return sessions_of[tickers]

    quoted_from = first_quote.to_dict()
    by_day = dict(zip(per_day.index, per_day.itertuples(index=False), strict=True))
    out = []
    for day in sorted(pd.DatetimeIndex(held["date"].unique())):
        if day not in by_day:
            out.append((day, 0))  # nothing priced by the day
            continue
        start, tickers, currencies = by_day[day]
        foreign = set(currencies) - {base}
        if foreign:
            needed = (foreign | {base}) - {"EUR"}
            if not needed <= quoted_from.keys():
                out.append((day, 0))  # a rate never quoted: no value at all
                continue
            start = max(start, *(quoted_from[c] for c in needed))
        dates = sessions(tickers)
        count = int(dates.searchsorted(np.datetime64(day), "right") - dates.searchsorted(np.datetime64(start), "left"))
        out.append((day, max(count, 1) - 1))
    return pd.DataFrame(out, columns=columns)


def window_problems(report: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Days whose `observations` differ from min(RISK_WINDOW_DAYS, the returns their history holds)."""
    rows = report.assign(date=_days(report))[["date", "observations"]].merge(
        history.assign(date=_days(history)), on="date", how="left"
    )
    rows["history_returns"] = rows["history_returns"].fillna(0).astype("int64")
    rows["expected"] = rows["history_returns"].clip(upper=book.RISK_WINDOW_DAYS)
    return rows[rows["observations"] != rows["expected"]].reset_index(drop=True)


@_per_report_day(
    REPORT,
    f"The stored risk figures use the documented window (docs/report.md): the last "
    f"{book.RISK_WINDOW_DAYS} daily returns of the day's holdings' value, or every return the stored "
    "history holds when it is shorter (the sessions of market_panel on or before the day, from the first "
    "one on which every held ticker has a close and every foreign currency an ECB rate, less one). Read "
    "from the warehouse, not through the report's own partition mapping, so a report that loaded too "
    "little history fails here.",
    additional_ins=_with_holdings,
    required_resource_keys={"io_manager"},
)
def portfolio_risk_window_as_documented(
    context: dg.AssetCheckExecutionContext, portfolio_report: pd.DataFrame, portfolio_holdings: pd.DataFrame
) -> dg.AssetCheckResult:
    io_manager: ParquetWarehouseIOManager = context.resources.io_manager
    history = stored_history(io_manager, portfolio_report, portfolio_holdings)
    problems = window_problems(portfolio_report, history)
    observations = portfolio_report["observations"] if len(portfolio_report) else pd.Series(dtype="int64")
    return _result(
        problems,
        len(portfolio_report),
        window=book.RISK_WINDOW_DAYS,
        fewest_observations=int(observations.min()) if len(observations) else 0,
    )


def stored_history(io_manager: ParquetWarehouseIOManager, report: pd.DataFrame, holdings: pd.DataFrame) -> pd.DataFrame:
    """`available_returns` of the report's days, from the warehouse's market_panel and fx_rates."""
    if report.empty or holdings.empty:
        return pd.DataFrame(columns=["date", "history_returns"])
    wh = io_manager.warehouse
    last_day = _days(report).max()
    tickers = sorted(holdings["ticker"].unique())
    closes = wh.read(
        "market_panel", "adj_close IS NOT NULL AND date <= ? AND list_contains(?, ticker)", [last_day, tickers]
    )
    closes = closes[["date", "ticker"]] if len(closes) else pd.DataFrame(columns=["date", "ticker"])
    quotes = wh.read("fx_rates", "date <= ? AND per_eur > 0", [last_day])
    quotes = quotes[["date", "currency"]] if len(quotes) else pd.DataFrame(columns=["date", "currency"])
    base = str(report["base_currency"].iloc[0])
    return available_returns(holdings, closes, quotes, base)


PORTFOLIO_CHECKS = [
    portfolio_weights_sum_to_one,
    portfolio_value_is_sum_of_holdings,
    portfolio_drawdown_never_positive,
    portfolio_risk_window_as_documented,
]
