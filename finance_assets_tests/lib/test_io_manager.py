"""The IO manager splits a range run's frame by partition in one pass, stores month partitions by ticker (a run
tagged with tickers rewrites only theirs) and records which tickers each month holds."""

import dagster as dg
import numpy as np
import pandas as pd
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.lib import coverage
from finance_assets.lib.coverage import with_run_tickers
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.partition_mappings import run_tickers
from finance_assets.lib.partitions import MONTH, TICKER, per_month_asset, tickers_tag
from finance_assets.lib.warehouse import (
    StoredPartitions,
    Warehouse,
    connect_stored,
    partition_rows,
    split_partitions,
    ticker_shard,
)

MONTHS = ["2025-01-01", "2025-02-01", "2025-03-01"]


def _bars(tickers: list[str], months: list[str]) -> pd.DataFrame:
    days = pd.bdate_range(months[0], pd.Timestamp(months[-1]) + pd.offsets.MonthEnd(0))
    rows = [(t, d.date(), float(i)) for t in tickers for i, d in enumerate(days)]
    return pd.DataFrame(rows, columns=["ticker", "date", "close"])


def test_split_partitions_equals_one_mask_per_partition():
    frame = _bars(["AAA", "BBB"], MONTHS).sample(frac=1.0, random_state=7)  # order must not matter
    dims_list = [{TICKER: t, MONTH: m} for t in ("AAA", "BBB", "CCC") for m in [*MONTHS, "2025-04-01"]]
    parts = split_partitions(frame, dims_list)
    assert len(parts) == len(dims_list)
    for dims, part in zip(dims_list, parts):
        expected = frame[partition_rows(frame, [dims])]
        pd.testing.assert_frame_equal(part.sort_index(), expected.sort_index())
    assert sum(len(p) for p in parts) == len(frame)  # every row lands in exactly one partition
    assert [len(p) for p in parts][-5:] == [0, 0, 0, 0, 0]  # CCC and April: empty, not an error
    assert np.array_equal(partition_rows(frame, dims_list).to_numpy(), np.ones(len(frame), dtype=bool))


@per_month_asset()
def bars(context: dg.AssetExecutionContext) -> pd.DataFrame:
    tickers = run_tickers(context)
    frame = _bars(tickers, MONTHS)
    frame = frame[~((frame["ticker"] == "BBB") & (frame["date"].astype(str) < "2025-02-01"))]  # BBB lacks January
    return with_run_tickers(frame, tickers)


RANGE = {ASSET_PARTITION_RANGE_START_TAG: MONTHS[0], ASSET_PARTITION_RANGE_END_TAG: MONTHS[-1]}


def test_range_run_reports_rows_per_partition_and_round_trips(tmp_path):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, ["AAA", "BBB"])
        io_manager = ParquetWarehouseIOManager(base_path=str(tmp_path / "warehouse"))
        result = dg.materialize([bars], instance=instance, tags=RANGE, resources={"io_manager": io_manager})
        [summary] = [o for o in result.asset_observations_for_node("bars") if "rows_by_partition" in o.metadata]
        by_partition = summary.metadata["rows_by_partition"].value
        assert summary.metadata["partitions_written"].value == 3
        assert summary.metadata["run_tickers"].value == 2
        assert by_partition == {"2025-01-01": 23, "2025-02-01": 40, "2025-03-01": 42}  # BBB's January gap shows
        assert summary.metadata["dagster/row_count"].value == sum(by_partition.values())

        wh = Warehouse(tmp_path / "warehouse")
        stored = wh.read("bars")
        assert len(stored) == sum(by_partition.values())
        assert set(instance.get_materialized_partitions(dg.AssetKey("bars"))) == set(by_partition)
        # stored by ticker, and the coverage says which tickers each month holds (BBB's empty January too)
        assert coverage.stored_tickers(wh, "bars") == ["AAA", "BBB"]
        held = coverage.read(wh, "bars")
        assert sorted(zip(held["month"], held["ticker"])) == [(m, t) for m in MONTHS for t in ("AAA", "BBB")]


def test_a_run_tagged_with_tickers_rewrites_only_theirs(tmp_path):
    """Adding a ticker to stored months: its rows and coverage appear, every other ticker's rows stay as they
    were (in its shard's files, which it shares with AAA and BBB), and the other shards' files keep their bytes."""
    io_manager = ParquetWarehouseIOManager(base_path=str(tmp_path / "warehouse"))
    wh = Warehouse(tmp_path / "warehouse")
    assert ticker_shard("AAA") == ticker_shard("BBB") == ticker_shard("CCC") != ticker_shard("DDD")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, ["AAA", "BBB", "DDD"])
        assert dg.materialize([bars], instance=instance, tags=RANGE, resources={"io_manager": io_manager}).success
        other_shard = {f: f.read_bytes() for f in wh.all_files("bars") if f"shard={ticker_shard('DDD')}" in str(f)}
        rows_before = wh.read("bars").sort_values(["ticker", "date"], ignore_index=True)
        instance.add_dynamic_partitions(TICKER, ["CCC"])
        result = dg.materialize(
            [bars], instance=instance, tags={**RANGE, **tickers_tag(["CCC"])}, resources={"io_manager": io_manager}
        )
        assert result.success
        assert len(other_shard) == 3 and {f: f.read_bytes() for f in other_shard} == other_shard
        stored = wh.read("bars").sort_values(["ticker", "date"], ignore_index=True)
        others = stored[stored["ticker"] != "CCC"].reset_index(drop=True)
        pd.testing.assert_frame_equal(others, rows_before, check_exact=True)
        assert sorted(stored["ticker"].unique()) == ["AAA", "BBB", "CCC", "DDD"]
        assert len(stored[stored["ticker"] == "CCC"]) == 23 + 20 + 21
        held = coverage.read(wh, "bars")
        assert sorted(zip(held["month"], held["ticker"])) == [
            (m, t) for m in MONTHS for t in ("AAA", "BBB", "CCC", "DDD")
        ]

        bad = dg.materialize(
            [bars],
            instance=instance,
            tags={**RANGE, **tickers_tag(["ZZZ"])},
            resources={"io_manager": io_manager},
            raise_on_error=False,
        )
        assert not bad.success
        [failure] = [e for e in bad.all_events if e.event_type_value == "STEP_FAILURE"]
        assert "run tag finance_assets/tickers: not registered: ZZZ" in str(failure.event_specific_data.error)


@per_month_asset()
def stray_rows(context: dg.AssetExecutionContext) -> pd.DataFrame:
    return with_run_tickers(_bars(["AAA", "BBB"], MONTHS[:1]), ["AAA"])


def test_rows_for_a_ticker_outside_the_run_are_refused(tmp_path):
    io_manager = ParquetWarehouseIOManager(base_path=str(tmp_path / "warehouse"))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, ["AAA", "BBB"])
        result = dg.materialize(
            [stray_rows],
            instance=instance,
            partition_key=MONTHS[0],
            resources={"io_manager": io_manager},
            raise_on_error=False,
        )
        assert not result.success
        assert not Warehouse(tmp_path / "warehouse").all_files("stray_rows")  # nothing written


LOADED: dict[str, object] = {}


@per_month_asset(ins={"bars": dg.AssetIn(partition_mapping=dg.IdentityPartitionMapping())})
def bars_both_ways(context: dg.AssetExecutionContext, bars: pd.DataFrame) -> None:
    LOADED["frame"] = bars


@per_month_asset(ins={"bars": dg.AssetIn(partition_mapping=dg.IdentityPartitionMapping())})
def bars_unread(context: dg.AssetExecutionContext, bars: StoredPartitions) -> None:
    LOADED["unread"] = bars
    with connect_stored([bars]) as con:
        LOADED["queried"] = con.execute("SELECT * FROM bars").df()


@dg.asset
def needs_snapshot(snapshot: StoredPartitions) -> None:
    LOADED["snapshot"] = snapshot


def test_an_input_annotated_stored_partitions_arrives_unread(tmp_path):
    """The same partitions as the DataFrame input, not read until the asset queries them (`connect_stored`); a
    run tagged with tickers reads only theirs; an unpartitioned input that was never materialized still fails at
    load, with the same message."""
    io_manager = ParquetWarehouseIOManager(base_path=str(tmp_path / "warehouse"))
    resources = {"io_manager": io_manager}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, ["AAA", "BBB"])
        assert dg.materialize([bars], instance=instance, tags=RANGE, resources=resources).success
        for reader in (bars_both_ways, bars_unread):
            assert dg.materialize(
                [bars, reader],
                instance=instance,
                partition_key=MONTHS[1],
                resources=resources,
                selection=[reader],
                tags=tickers_tag(["BBB"]),
            ).success
        unread = LOADED["unread"]
        assert isinstance(unread, StoredPartitions)
        assert (unread.asset, unread.partitions) == ("bars", ({TICKER: "BBB", MONTH: MONTHS[1]},))
        assert unread.warehouse.location == io_manager.warehouse.location
        assert len(LOADED["frame"]) == 20 and set(LOADED["frame"]["ticker"]) == {"BBB"}
        pd.testing.assert_frame_equal(LOADED["queried"], LOADED["frame"])
        assert dg.materialize(
            [bars, bars_both_ways],
            instance=instance,
            partition_key=MONTHS[1],
            resources=resources,
            selection=[bars_both_ways],
        ).success
        assert set(LOADED["frame"]["ticker"]) == {"AAA", "BBB"}  # untagged: every registered ticker

        result = dg.materialize(
            [dg.AssetSpec("snapshot"), needs_snapshot],
            instance=instance,
            resources=resources,
            selection=[needs_snapshot],
            raise_on_error=False,
        )
        assert not result.success and "snapshot" not in LOADED
        [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert "input 'snapshot' has never been materialized" in str(failure.event_specific_data.error)
