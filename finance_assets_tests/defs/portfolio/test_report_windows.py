"""Issue #16, problem 1: every report day reads its documented window (the panel and FX history from the
first month up to its own month), however it is launched: alone (automation, the UI), as the first day
of a range or as a middle day of one.

A synthetic warehouse (two years of XNYS sessions, a USD and a EUR holding, a benchmark) is written
through the warehouse API; the report is materialized in process with an IO manager that records which
upstream partitions the run was given. The expected figures are computed here from the same prices.
"""

from __future__ import annotations

import dagster as dg
import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest

from finance_assets.defs.portfolio import assets as report
from finance_assets.defs.portfolio import holdings as book
from finance_assets.defs.portfolio.schemas import FUNDAMENTAL_SNAPSHOTS, MARKET_PANEL
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.partitions import month_partitions, report_day_partitions
from finance_assets.lib.portfolio_settings import PortfolioSettings
from finance_assets.lib.warehouse import Warehouse

FIRST_SESSION, LAST_SESSION = "2023-01-03", "2025-04-30"
PORTFOLIO = "ticker,shares,cost_basis,currency\nAAA,100,50,USD\nBBB,40,90,EUR\n"
SINGLE_DAY = "2025-03-14"
RANGE = ("2025-03-10", "2025-03-21")  # first day Monday 10th, a middle day the 14th


def _sessions() -> pd.DatetimeIndex:
    sessions = xcals.get_calendar("XNYS").sessions_in_range(FIRST_SESSION, LAST_SESSION)
    return pd.DatetimeIndex(sessions.tz_localize(None) if sessions.tz is not None else sessions)


def _panel() -> pd.DataFrame:
    """Random-walk closes with a deep drawdown in mid-2024 (so a short window misses it)."""
    sessions = _sessions()
    rng = np.random.default_rng(16)
    frames = []
    for ticker, start in (("AAA", 60.0), ("BBB", 80.0), ("IDX", 100.0)):
        returns = rng.normal(0.0004, 0.012, len(sessions))
        crash = (sessions >= "2024-05-01") & (sessions < "2024-07-01")
        returns[crash] -= 0.01
        close = start * np.cumprod(1 + returns)
        frames.append(
            pd.DataFrame(
                {
                    "date": sessions,
                    "ticker": ticker,
                    "close": close,
                    "adj_close": close,
                    "volume": 1e6,
                    "source": "synthetic",
                }
            )
        )
    panel = pd.concat(frames, ignore_index=True).reindex(columns=MARKET_PANEL.names)
    return panel.sort_values(["date", "ticker"]).reset_index(drop=True)


def _fx() -> pd.DataFrame:
    days = pd.bdate_range(FIRST_SESSION, LAST_SESSION)
    usd = 1.05 + 0.05 * np.sin(np.arange(len(days)) / 40.0)
    return pd.DataFrame({"date": days, "currency": "USD", "per_eur": usd})


def _write_months(wh: Warehouse, asset: str, frame: pd.DataFrame) -> None:
    months = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-01")
    wh.write_partitions(asset, [({"month": m}, part.reset_index(drop=True)) for m, part in frame.groupby(months)])


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Warehouse:
    root = tmp_path_factory.mktemp("report_windows")
    wh = Warehouse(root / "warehouse")
    _write_months(wh, "market_panel", _panel())
    _write_months(wh, "fx_rates", _fx())
    wh.write("fundamental_snapshots", None, FUNDAMENTAL_SNAPSHOTS.empty())
    (root / "portfolio.csv").write_text(PORTFOLIO)
    return wh


class RecordingIOManager(ParquetWarehouseIOManager):
    """The project's IO manager, recording the upstream partition keys each input was loaded with."""

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        if context.has_asset_partitions:
            LOADED[context.asset_key.path[-1]] = sorted(context.asset_partition_keys)
        return super().load_input(context)


LOADED: dict[str, list[str]] = {}


def _run(wh: Warehouse, tmp_path, days: tuple[str, str]) -> pd.DataFrame:
    LOADED.clear()
    resources = {
        "io_manager": RecordingIOManager(base_path=str(wh.root)),
        "portfolio": PortfolioSettings(
            path=str(wh.root.parent / "portfolio.csv"), reports_dir=str(tmp_path / "reports"), benchmark="IDX"
        ),
    }
    inputs = [
        dg.AssetSpec("market_panel", partitions_def=month_partitions),
        dg.AssetSpec("fx_rates", partitions_def=month_partitions),
        dg.AssetSpec("fundamental_snapshots"),
    ]
    tags = (
        {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[1]}
        if days[0] != days[1]
        else {}
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*inputs, report.portfolio_report],
            partition_key=days[0] if days[0] == days[1] else None,
            tags=tags,
            resources=resources,
            instance=instance,
            selection=[dg.AssetKey("portfolio_report"), dg.AssetKey("portfolio_holdings")],
        )
    assert result.success
    return result.output_for_node("portfolio_report", "portfolio_report").set_index("date")


def _expected(day: str) -> dict:
    """Figures from the synthetic prices, computed here: today's holdings over the last 252 returns."""
    panel, fx = _panel(), _fx()
    closes = panel.pivot(index="date", columns="ticker", values="adj_close")
    usd_per_eur = fx.set_index("date")["per_eur"].reindex(closes.index.union(fx["date"])).ffill()
    value = 100 * closes["AAA"] + 40 * closes["BBB"] * usd_per_eur.reindex(closes.index)
    value = value[value.index <= pd.Timestamp(day)]
    returns = value.tail(253).pct_change().dropna()
    wealth = (1 + returns).cumprod()
    drawdown = (wealth / np.maximum(wealth.cummax(), 1.0) - 1).min()
    ytd = value.iloc[-1] / value[value.index < pd.Timestamp(day[:4] + "-01-01")].iloc[-1] - 1
    return {"observations": len(returns), "max_drawdown": drawdown, "ytd": ytd}


def _months(first: str, last: str) -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in pd.date_range(first, last, freq="MS")]


def test_dagster_resolves_the_full_history_up_to_the_days_month():
    """The mapping Dagster (UI, CLI, automation, backfills) uses: first month .. the day's month."""
    graph = dg.Definitions(
        assets=[
            dg.AssetSpec("market_panel", partitions_def=month_partitions),
            dg.AssetSpec("fx_rates", partitions_def=month_partitions),
            dg.AssetSpec("fundamental_snapshots"),
            report.portfolio_report,
        ],
        resources={"portfolio": dg.ResourceDefinition.none_resource()},
    ).resolve_asset_graph()
    first = month_partitions.get_first_partition_key()
    for parent in ("market_panel", "fx_rates"):
        for day in (SINGLE_DAY, "2025-03-03", "2025-03-31", "2024-12-02"):
            upstream = graph.get_parent_partition_keys_for_child(
                day, dg.AssetKey(parent), dg.AssetKey("portfolio_report")
            )
            assert sorted(upstream.partitions_subset.get_partition_keys()) == _months(first, day[:8] + "01")
        # a Friday's partition window runs to Monday: a month-end Friday also maps to the next month
        # (whose rows, all after the day, the report does not use)
        upstream = graph.get_parent_partition_keys_for_child(
            "2025-02-28", dg.AssetKey(parent), dg.AssetKey("portfolio_report")
        )
        assert sorted(upstream.partitions_subset.get_partition_keys()) == _months(first, "2025-03-01")
        # the other direction (what automation re-runs after a month changes): every day from that month on
        children = graph.get_child_partition_keys_of_parent(
            "2024-06-01", dg.AssetKey(parent), dg.AssetKey("portfolio_report")
        )
        # (and Friday 2024-05-31, whose partition window runs to Monday 2024-06-03)
        existing = report_day_partitions.get_partition_keys()
        assert sorted(children) == [d for d in existing if d >= "2024-05-31"]


@pytest.mark.parametrize(
    "launch, days, day",
    [
        ("a day alone", (SINGLE_DAY, SINGLE_DAY), SINGLE_DAY),
        ("the first day of a range", RANGE, RANGE[0]),
        ("a middle day of a range", RANGE, SINGLE_DAY),
    ],
)
def test_every_launch_reads_the_same_window(warehouse, tmp_path, launch, days, day):
    rows = _run(warehouse, tmp_path, days)
    first = month_partitions.get_first_partition_key()
    for parent in ("market_panel", "fx_rates"):  # the run's input: every month up to the last day's month
        assert LOADED[parent] == _months(first, days[1][:8] + "01"), launch
    row = rows.loc[pd.Timestamp(day)]
    expected = _expected(day)
    assert row["observations"] == expected["observations"] == book.RISK_WINDOW_DAYS, launch
    assert row["max_drawdown"] == pytest.approx(expected["max_drawdown"], rel=1e-9), launch
    assert row["ytd"] == pytest.approx(expected["ytd"], rel=1e-9), launch


def test_the_daemon_and_the_ui_see_the_same_mapping():
    """The automation daemon and the UI work from the serialized repository snapshot, which keeps only
    Dagster's built-in mappings (a custom PartitionMapping would silently become the default there)."""
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster._serdes import deserialize_value, serialize_value

    defs = dg.Definitions(
        assets=[
            dg.AssetSpec("market_panel", partitions_def=month_partitions),
            dg.AssetSpec("fx_rates", partitions_def=month_partitions),
            dg.AssetSpec("fundamental_snapshots"),
            report.portfolio_report,
        ],
        resources={"portfolio": dg.ResourceDefinition.none_resource()},
    )
    snap = deserialize_value(serialize_value(RepositorySnap.from_def(defs.get_repository_def())), RepositorySnap)
    [node] = [n for n in snap.asset_nodes if n.asset_key == dg.AssetKey("portfolio_report")]
    mappings = {edge.parent_asset_key.path[-1]: edge.partition_mapping for edge in node.parent_edges}
    for parent in ("market_panel", "fx_rates"):
        assert mappings[parent] == report._report_history
        resolved = mappings[parent].get_upstream_mapped_partitions_result_for_partitions(
            report_day_partitions.empty_subset().with_partition_keys([SINGLE_DAY]),
            report_day_partitions,
            month_partitions,
        )
        first = month_partitions.get_first_partition_key()
        assert sorted(resolved.partitions_subset.get_partition_keys()) == _months(first, "2025-03-01")


def test_the_history_offset_reaches_the_first_month_from_any_day_up_to_a_year_past_the_clock():
    import datetime as dt

    now = dt.datetime(2026, 12, 6, 15, tzinfo=dt.UTC)
    weekdays = report.history_weekdays("2016-01-01", now)
    assert weekdays == len(pd.bdate_range("2016-01-01", "2027-12-07"))
    # the last day covered is a year past the clock; its window still starts at the first month
    assert pd.bdate_range(end="2027-12-07", periods=weekdays)[0] == pd.Timestamp("2016-01-01")
    # a shorter history costs a shorter walk (the replay's 2026-01 start: about a sixth of 2016's offset)
    assert report.history_weekdays("2026-01-01", now) == 504 < weekdays / 6


def test_a_report_day_reads_the_panel_rows_of_its_holdings_and_benchmark_only(tmp_path):
    """The panel is stored by ticker (#17): the report's connection holds the holdings' and the benchmark's
    rows of the months its day resolved, nothing of a ticker nobody holds, which therefore cannot change a
    report day (automation recomputes none when such a ticker is added or restated)."""
    from finance_assets.lib.warehouse import StoredPartitions

    wh = Warehouse(tmp_path / "warehouse")
    month = "2025-03-01"
    panel = _panel()
    panel = panel[pd.to_datetime(panel["date"]).dt.strftime("%Y-%m-01") == month]
    partitions = tuple({"ticker": ticker, "month": month} for ticker in ("AAA", "BBB", "IDX"))
    wh.write_split("market_panel", panel, partitions)
    empty = [StoredPartitions(wh, name, ()) for name in ("fx_rates", "fundamental_snapshots")]
    with report._report_tables(StoredPartitions(wh, "market_panel", partitions), *empty, ["AAA"], "IDX") as con:
        read = con.execute("SELECT ticker, count(*) AS n FROM market_panel GROUP BY ticker ORDER BY ticker").df()
    assert read["ticker"].tolist() == ["AAA", "IDX"]
    assert read["n"].tolist() == [int((panel["ticker"] == t).sum()) for t in ("AAA", "IDX")]
