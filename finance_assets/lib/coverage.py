"""Which tickers each month of a daily-bar asset holds, and with which corporate actions.

A month partition of prices, technicals, headlines or sentiment is written by runs that each process some
tickers: every registered ticker, or those the run's `finance_assets/tickers` tag names (lib/partitions.py).
Dagster records that the month was materialized; the warehouse records which tickers it holds: the IO
manager writes, after the data, one row per (month, ticker) a run wrote into `<asset>_coverage`
(date = the month's first day, ticker, actions_version: the hash of the ticker's corporate actions the
prices reflect, prices only). Coverage is a catalog view like any table.

`plan_sync` turns it into the targeted runs that make the warehouse equal to a fresh build: a ticker
registered after months were built gets those months (and only it is computed), and a ticker whose
corporate actions changed gets every stored month of its prices and technicals again (a split or a
dividend rescales all its earlier adjusted prices). Runs recording one month at once never lose each
other's rows: each file's read-merge-write holds the warehouse's lock (or conditional PUT).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from finance_assets.lib.warehouse import Warehouse, split_partitions

COVERAGE_SUFFIX = "_coverage"
COVERAGE_COLUMNS = ("date", "ticker", "actions_version")
# DataFrame.attrs keys by which an asset hands the IO manager what its frame covers
RUN_TICKERS_ATTR = "finance_assets/run_tickers"
ACTIONS_VERSIONS_ATTR = "finance_assets/actions_versions"


def coverage_table(asset: str) -> str:
    return f"{asset}{COVERAGE_SUFFIX}"


def with_run_tickers(
    frame: pd.DataFrame, tickers: Sequence[str], actions_versions: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Mark `frame` as the run's output for `tickers` (those with no rows included: their months are
    written empty, replacing what was stored)."""
    frame.attrs[RUN_TICKERS_ATTR] = sorted(tickers)
    if actions_versions is not None:
        frame.attrs[ACTIONS_VERSIONS_ATTR] = dict(actions_versions)
    return frame


def run_tickers_of(frame: pd.DataFrame) -> list[str] | None:
    return frame.attrs.get(RUN_TICKERS_ATTR)


def coverage_rows(
    months: Sequence[str], tickers: Sequence[str], actions_versions: Mapping[str, str] | None = None
) -> pd.DataFrame:
    versions = actions_versions or {}
    rows = [(month, ticker, versions.get(ticker)) for month in sorted(months) for ticker in sorted(tickers)]
    frame = pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS))
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    frame["actions_version"] = frame["actions_version"].astype("string")
    return frame


def record(
    warehouse: Warehouse,
    asset: str,
    months: Sequence[str],
    tickers: Sequence[str],
    actions_versions: Mapping[str, str] | None = None,
) -> None:
    """Record that `tickers` x `months` of `asset` were just written (after the data)."""
    table = coverage_table(asset)
    rows = coverage_rows(months, tickers, actions_versions)
    # (month, ticker) selects the rows replaced; the file is the month's year: one read-merge-write per
    # file under the warehouse's lock (or conditional PUT), so concurrent runs never lose each other's rows
    dims = [{"month": month, "ticker": ticker} for month in sorted(months) for ticker in sorted(tickers)]
    parts = split_partitions(rows, dims)
    warehouse.write_partitions(table, list(zip(dims, parts)), path_dims=("month",))
    warehouse.register_view(table)


def read(warehouse: Warehouse, asset: str) -> pd.DataFrame:
    """Every coverage row of `asset` (date as 'YYYY-MM-01' month keys)."""
    frame = warehouse.read(coverage_table(asset))
    if frame.empty:
        return pd.DataFrame(columns=["month", "ticker", "actions_version"])
    return pd.DataFrame(
        {
            "month": pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d"),
            "ticker": frame["ticker"].astype(str),
            "actions_version": frame["actions_version"],
        }
    )


@dataclass(frozen=True)
class SyncRun:
    """One targeted run: these assets, for these tickers, over a contiguous range of months."""

    assets: tuple[str, ...]
    tickers: tuple[str, ...]
    months: tuple[str, ...]

    @property
    def label(self) -> str:
        names = self.tickers[0] if len(self.tickers) == 1 else f"{self.tickers[0]}..{self.tickers[-1]}"
        span = self.months[0][:7] if len(self.months) == 1 else f"{self.months[0][:7]}..{self.months[-1][:7]}"
        return f"sync {','.join(self.assets)} {names} ({len(self.tickers)} ticker(s)) {span}"


def needed(
    tickers: Iterable[str],
    stored_months: Mapping[str, set[str]],
    coverage: Mapping[str, pd.DataFrame],
    current_versions: Mapping[str, str] | None = None,
    versioned: str = "prices",
    version_followers: Sequence[str] = ("technicals",),
) -> dict[str, dict[str, set[str]]]:
    """ticker -> asset -> months to (re)build for that ticker alone.

    A stored month of an asset that does not hold the ticker, and every stored month after it (a month
    reads earlier months, so one built while they lacked the ticker is stale); and, when the ticker's current corporate
    actions differ from those some of its stored prices reflect, every stored month of the prices and
    their followers."""
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    tickers = list(tickers)
    wanted = set(tickers)
    for asset, months in stored_months.items():
        rows = coverage.get(asset)
        held: dict[str, set[str]] = defaultdict(set)
        if rows is not None and len(rows):
            rows = rows[rows["ticker"].isin(wanted)]
            for ticker, month in zip(rows["ticker"], rows["month"]):
                held[ticker].add(month)
        for ticker in tickers:
            gap = months - held[ticker]
            if gap:
                # and every stored month after the first gap: a later month reads earlier ones (technicals'
                # lookback, sentiment's decay over the previous month), so one built without them is redone
                out[ticker][asset] |= {month for month in months if month >= min(gap)}
    if current_versions and versioned in coverage and versioned in stored_months:
        rows = coverage[versioned]
        rows = rows[rows["ticker"].isin(wanted) & rows["month"].isin(stored_months[versioned])]
        stale = {
            ticker
            for ticker, version in zip(rows["ticker"], rows["actions_version"])
            if ticker in current_versions and (pd.isna(version) or version != current_versions[ticker])
        }
        # every stored month of a stale ticker, the months already on the new actions too: the followers
        # (technicals) of those read the restated earlier months, and are recomputed in the same run
        for ticker in stale:
            for asset in (versioned, *version_followers):
                if asset in stored_months:
                    out[ticker][asset] |= stored_months[asset]
    return {ticker: dict(assets) for ticker, assets in out.items() if assets}


def contiguous(items: Sequence[str], order: Sequence[str]) -> list[list[str]]:
    """Split `items` into runs that are consecutive in `order` (a Dagster range run covers every key between
    its first and last)."""
    position = {v: i for i, v in enumerate(order)}
    runs: list[list[str]] = []
    for item in sorted(items, key=position.__getitem__):
        if runs and position[item] == position[runs[-1][-1]] + 1:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def plan_sync(
    need: Mapping[str, Mapping[str, set[str]]],
    asset_order: Sequence[str],
    month_order: Sequence[str],
    chunk: int = 500,
) -> list[SyncRun]:
    """The needs packed into runs: tickers needing the same assets and months share a run (at most
    `chunk` tickers each), one run per contiguous month range. Within a run every asset covers all of
    the run's months (a month already held is rewritten with the same rows)."""
    by_shape: dict[tuple[tuple[str, ...], frozenset], list[str]] = defaultdict(list)
    for ticker in sorted(need):
        assets = tuple(a for a in asset_order if a in need[ticker])
        months = frozenset().union(*need[ticker].values())
        by_shape[(assets, months)].append(ticker)
    runs = []
    for (assets, months), tickers in sorted(by_shape.items(), key=lambda item: (item[1][0], item[0][0])):
        for month_run in contiguous(sorted(months), month_order):
            for i in range(0, len(tickers), chunk):
                runs.append(SyncRun(assets, tuple(tickers[i : i + chunk]), tuple(month_run)))
    return runs
