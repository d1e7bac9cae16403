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

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd
import pyarrow as pa

from finance_assets.lib.warehouse import Warehouse, shard_order

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
    warehouse.write_split_counts(table, rows, dims, path_dims=("month",))
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


def stored_tickers(warehouse: Warehouse, asset: str) -> list[str]:
    """The tickers a daily-bar asset holds months of (its files are by ticker shard, not by ticker)."""
    frame = warehouse.read(coverage_table(asset))
    return sorted(frame["ticker"].astype(str).unique()) if len(frame) else []


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
    their followers. `coverage`: asset -> its rows as `read` returns them (month, ticker, actions_version);
    `needed_in_warehouse` answers the same from the stored files without loading them into pandas."""
    with duckdb.connect() as con:
        relations = {}
        for asset, rows in coverage.items():
            if asset in stored_months and rows is not None:
                relations[asset] = f"coverage_{len(relations)}"
                con.register(relations[asset], _as_coverage_rows(rows))
        keys = {asset: {month: month for month in months} for asset, months in stored_months.items()}
        return _needed_sql(con, tickers, keys, relations, current_versions, versioned, version_followers, pa.string())


def needed_in_warehouse(
    warehouse: Warehouse,
    tickers: Iterable[str],
    stored_months: Mapping[str, set[str]],
    current_versions: Mapping[str, str] | None = None,
    versioned: str = "prices",
    version_followers: Sequence[str] = ("technicals",),
) -> dict[str, dict[str, set[str]]]:
    """`needed` over the stored coverage tables, in DuckDB straight from their files (on object storage,
    local copies fetched for the query): the ~3 M rows of 6,000 tickers x 132 months x 4 assets never
    reach pandas."""
    # the coverage dates' day ('YYYY-MM-DD', as `read` formats them) against each stored month key, as DATEs:
    # a key that is no ISO day equals no formatted date, so it matches no row (NULL joins nothing)
    keys = {asset: {month: _iso_day(month) for month in months} for asset, months in stored_months.items()}
    # the yearly files of the stored months, whole: rows of months not stored join no stored month anyway
    # (selected by the file's `year` dimension, so no per-row partition predicate is evaluated)
    tables = {
        coverage_table(asset): [{"year": str(year)} for year in sorted({day.year for day in days.values() if day})]
        for asset, days in keys.items()
        if any(days.values())
    }
    if not tables:
        with duckdb.connect() as con:
            return _needed_sql(con, tickers, keys, {}, current_versions, versioned, version_followers, pa.date32())
    con = warehouse.connect_partitions(tables, {table: _stored_empty() for table in tables})
    try:
        relations = {}
        for asset in keys:
            if coverage_table(asset) in tables:
                relations[asset] = f"coverage_{len(relations)}"
                con.execute(
                    f"CREATE TEMP VIEW {relations[asset]} AS SELECT CAST(date AS DATE) AS month, "
                    f"CAST(ticker AS VARCHAR) AS ticker, CAST(actions_version AS VARCHAR) AS actions_version "
                    f"FROM {coverage_table(asset)}"
                )
        return _needed_sql(con, tickers, keys, relations, current_versions, versioned, version_followers, pa.date32())
    finally:
        con.close()


def lacking_in_warehouse(
    warehouse: Warehouse, held_by: str, lacking_in: str, months: Iterable[str], tickers: Iterable[str]
) -> dict[str, set[str]]:
    """ticker -> the `months` whose coverage of `held_by` holds it and whose coverage of `lacking_in` does not
    (e.g. the panel months lacking a ticker its prices hold), in DuckDB straight from the stored files of
    those months' years: neither coverage table is loaded into pandas."""
    days = {month: day for month in set(months) if (day := _iso_day(month)) is not None}
    wanted = list(dict.fromkeys(tickers))
    if not days or not wanted:
        return {}
    years = [{"year": str(year)} for year in sorted({day.year for day in days.values()})]
    tables = {coverage_table(held_by): years, coverage_table(lacking_in): years}
    with warehouse.connect_partitions(tables, dict.fromkeys(tables, _stored_empty())) as con:
        con.register(
            "wanted_months",
            pa.table({"month": pa.array(list(days), pa.string()), "day": pa.array(list(days.values()), pa.date32())}),
        )
        con.register("wanted_tickers", pa.table({"ticker": pa.array(wanted, pa.string())}))
        rows = con.execute(
            f"""
            WITH held AS (
                SELECT DISTINCT m.month, CAST(h.ticker AS VARCHAR) AS ticker
                FROM {coverage_table(held_by)} h
                JOIN wanted_months m ON m.day = CAST(h.date AS DATE)
                SEMI JOIN wanted_tickers w ON w.ticker = CAST(h.ticker AS VARCHAR)
            )
            SELECT held.ticker, held.month FROM held
            ANTI JOIN (
                SELECT m.month, CAST(c.ticker AS VARCHAR) AS ticker
                FROM {coverage_table(lacking_in)} c
                JOIN wanted_months m ON m.day = CAST(c.date AS DATE)
            ) covered ON covered.month = held.month AND covered.ticker = held.ticker
            """
        ).fetchall()
    out: dict[str, set[str]] = defaultdict(set)
    for ticker, month in rows:
        out[ticker].add(month)
    return dict(out)


def _stored_empty() -> pd.DataFrame:
    """A coverage table with no rows, as stored (the view of an asset with no coverage file yet)."""
    return pd.DataFrame(
        {
            "date": pd.Series(dtype="datetime64[ns]"),
            "ticker": pd.Series(dtype="string"),
            "actions_version": pd.Series(dtype="string"),
        }
    )


def _iso_day(month: str) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(month)
    except (TypeError, ValueError):
        return None
    return day if day.isoformat() == month else None


def _as_coverage_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """(month, ticker, actions_version) as strings, a missing version as NULL."""
    if not len(rows):
        return pd.DataFrame({c: pd.Series(dtype="string") for c in ("month", "ticker", "actions_version")})
    versions = rows["actions_version"] if "actions_version" in rows.columns else pd.Series(pd.NA, index=rows.index)
    return pd.DataFrame(
        {
            "month": rows["month"].astype(str).astype("string"),
            "ticker": rows["ticker"].astype(str).astype("string"),
            "actions_version": versions.astype("string"),
        }
    ).reset_index(drop=True)


def _needed_sql(
    con: duckdb.DuckDBPyConnection,
    tickers: Iterable[str],
    stored_months: Mapping[str, Mapping[str, object]],
    relations: Mapping[str, str],
    current_versions: Mapping[str, str] | None,
    versioned: str,
    version_followers: Sequence[str],
    month_type: pa.DataType,
) -> dict[str, dict[str, set[str]]]:
    """`needed` as set-based SQL. `stored_months`: asset -> stored month key -> the value its coverage
    rows' `month` column equals for that month; `relations`: asset -> a relation of its coverage rows
    (month, ticker, actions_version); an asset without one holds no ticker. `month_type`: the type of
    those month values (strings from frames, DATEs from stored files; typed here as they may all be NULL)."""
    tickers = list(dict.fromkeys(tickers))
    assets = list(stored_months)
    # assets and stored months as integers (a month's number is its rank among the asset's sorted keys, so
    # the smallest number missing is the earliest month missing), tickers as they are
    month_keys = {asset: sorted(stored_months[asset]) for asset in assets}
    stored = [
        (asset_id, month_id, stored_months[asset][key])
        for asset_id, asset in enumerate(assets)
        for month_id, key in enumerate(month_keys[asset])
    ]
    con.register(
        "stored_months",
        pa.table(
            {
                "asset_id": pa.array([row[0] for row in stored], pa.int32()),
                "month_id": pa.array([row[1] for row in stored], pa.int32()),
                "month": pa.array([row[2] for row in stored], month_type),
            }
        ),
    )
    con.register("wanted_tickers", pa.table({"ticker": pa.array(tickers, pa.string())}))
    widest = max((len(keys) for keys in month_keys.values()), default=0)
    if not widest:
        return {}  # no stored month anywhere: nothing to hold, nothing stale
    # per asset and ticker, the stored months it holds as a bit string (bit i: the asset's month i), in one
    # pass over the rows (duplicates set a bit twice); a ticker with fewer bits set than the asset has
    # stored months has a gap, and its first '0' is the earliest. Tickers with no row hold no month.
    held = " UNION ALL ".join(
        f"SELECT {assets.index(asset)} AS asset_id, s.month_id, c.ticker FROM {relation} c "
        f"JOIN stored_months s ON s.asset_id = {assets.index(asset)} AND s.month = c.month"
        for asset, relation in relations.items()
    )
    masks = (
        f"SELECT asset_id, ticker, bitstring_agg(month_id, 0, {widest - 1}) AS months FROM ({held}) "
        "GROUP BY asset_id, ticker"
        if held
        else "SELECT NULL::INTEGER AS asset_id, NULL::VARCHAR AS ticker, NULL::BIT AS months LIMIT 0"
    )
    short = con.execute(
        f"""
        WITH masks AS ({masks}),
        stored_counts AS (SELECT asset_id, count(*) AS n FROM stored_months GROUP BY asset_id)
        SELECT s.asset_id, w.ticker, CAST(m.months AS VARCHAR)
        FROM stored_counts s CROSS JOIN wanted_tickers w
        LEFT JOIN masks m ON m.asset_id = s.asset_id AND m.ticker = w.ticker
        WHERE m.months IS NULL OR bit_count(m.months) < s.n
        """
    ).fetchall()
    out: dict[str, dict[str, set[str]]] = defaultdict(dict)
    position = {ticker: i for i, ticker in enumerate(tickers)}
    # in the order the per-ticker loop built them: asset by asset, then ticker by ticker
    for asset_id, ticker, months in sorted(short, key=lambda row: (row[0], position[row[1]])):
        # the first gap, and every stored month after it: a later month reads earlier ones (technicals'
        # lookback, sentiment's decay over the previous month), so one built without them is redone
        asset = assets[asset_id]
        first_gap = months.index("0") if months else 0
        out[ticker][asset] = set(month_keys[asset][first_gap:])
    if current_versions and versioned in relations and versioned in stored_months:
        current = [(t, current_versions[t]) for t in tickers if t in current_versions]
        con.register("current_versions", pd.DataFrame(current, columns=["ticker", "version"], dtype="string"))
        stale = con.execute(
            f"""
            SELECT DISTINCT c.ticker
            FROM {relations[versioned]} c
            SEMI JOIN stored_months s ON s.asset_id = {assets.index(versioned)} AND s.month = c.month
            JOIN current_versions v ON v.ticker = c.ticker
            WHERE c.actions_version IS NULL OR c.actions_version IS DISTINCT FROM v.version
            """
        ).fetchall()
        # every stored month of a stale ticker, the months already on the new actions too: the followers
        # (technicals) of those read the restated earlier months, and are recomputed in the same run
        for (ticker,) in sorted(stale, key=lambda row: position[row[0]]):
            for asset in (versioned, *version_followers):
                if asset in stored_months:
                    out[ticker].setdefault(asset, set()).update(stored_months[asset])
    return {ticker: assets_of for ticker, assets_of in out.items() if assets_of}


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
    for ticker in sorted(need, key=shard_order):
        assets = tuple(a for a in asset_order if a in need[ticker])
        months = frozenset().union(*need[ticker].values())
        by_shape[(assets, months)].append(ticker)
    runs = []
    for (assets, months), tickers in sorted(by_shape.items(), key=lambda item: (item[1][0], item[0][0])):
        for month_run in contiguous(sorted(months), month_order):
            for i in range(0, len(tickers), chunk):
                runs.append(SyncRun(assets, tuple(tickers[i : i + chunk]), tuple(month_run)))
    return runs
