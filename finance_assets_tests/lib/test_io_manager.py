"""The IO manager splits a range run's frame by partition in one pass and reports each partition's rows."""

import dagster as dg
import numpy as np
import pandas as pd
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.partitions import MONTH, TICKER, ticker_month_partitions
from finance_assets.lib.warehouse import StoredPartitions, Warehouse, connect_stored, partition_rows, split_partitions

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


@dg.asset(partitions_def=ticker_month_partitions, backfill_policy=dg.BackfillPolicy.single_run())
def bars(context: dg.AssetExecutionContext) -> pd.DataFrame:
    frame = _bars(["AAA", "BBB"], MONTHS)
    return frame[~((frame["ticker"] == "BBB") & (frame["date"].astype(str) < "2025-02-01"))]  # BBB lacks January


def test_range_run_reports_rows_per_partition_and_round_trips(tmp_path):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, ["AAA", "BBB"])
        tags = {ASSET_PARTITION_RANGE_START_TAG: f"{MONTHS[0]}|AAA", ASSET_PARTITION_RANGE_END_TAG: f"{MONTHS[-1]}|BBB"}
        io_manager = ParquetWarehouseIOManager(base_path=str(tmp_path / "warehouse"))
        result = dg.materialize([bars], instance=instance, tags=tags, resources={"io_manager": io_manager})
        [summary] = [o for o in result.asset_observations_for_node("bars") if "rows_by_partition" in o.metadata]
        by_partition = summary.metadata["rows_by_partition"].value
        assert summary.metadata["partitions_written"].value == 6
        assert by_partition["2025-01-01|BBB"] == 0  # the gap shows
        assert by_partition["2025-02-01|AAA"] == 20 and by_partition["2025-03-01|BBB"] == 21
        assert summary.metadata["dagster/row_count"].value == sum(by_partition.values())

        stored = Warehouse(tmp_path / "warehouse").read("bars")
        assert len(stored) == sum(by_partition.values())
        assert set(instance.get_materialized_partitions(dg.AssetKey("bars"))) == set(by_partition)


LOADED: dict[str, object] = {}


@dg.asset(
    partitions_def=ticker_month_partitions,
    ins={"bars": dg.AssetIn(partition_mapping=dg.IdentityPartitionMapping())},
)
def bars_both_ways(context: dg.AssetExecutionContext, bars: pd.DataFrame) -> None:
    LOADED["frame"] = bars


@dg.asset(
    partitions_def=ticker_month_partitions,
    ins={"bars": dg.AssetIn(partition_mapping=dg.IdentityPartitionMapping())},
)
def bars_unread(context: dg.AssetExecutionContext, bars: StoredPartitions) -> None:
    LOADED["unread"] = bars
    with connect_stored([bars]) as con:
        LOADED["queried"] = con.execute("SELECT * FROM bars").df()


@dg.asset
def needs_snapshot(snapshot: StoredPartitions) -> None:
    LOADED["snapshot"] = snapshot


def test_an_input_annotated_stored_partitions_arrives_unread(tmp_path):
    """The same partitions as the DataFrame input, not read until the asset queries them (`connect_stored`); an
    unpartitioned input that was never materialized still fails at load, with the same message."""
    io_manager = ParquetWarehouseIOManager(base_path=str(tmp_path / "warehouse"))
    resources = {"io_manager": io_manager}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, ["AAA", "BBB"])
        tags = {ASSET_PARTITION_RANGE_START_TAG: f"{MONTHS[0]}|AAA", ASSET_PARTITION_RANGE_END_TAG: f"{MONTHS[-1]}|BBB"}
        assert dg.materialize([bars], instance=instance, tags=tags, resources=resources).success
        key = f"{MONTHS[1]}|BBB"
        for reader in (bars_both_ways, bars_unread):
            assert dg.materialize(
                [bars, reader], instance=instance, partition_key=key, resources=resources, selection=[reader]
            ).success
        unread = LOADED["unread"]
        assert isinstance(unread, StoredPartitions)
        assert (unread.asset, unread.partitions) == ("bars", ({TICKER: "BBB", MONTH: MONTHS[1]},))
        assert unread.warehouse.location == io_manager.warehouse.location
        assert len(LOADED["frame"]) == 20 and set(LOADED["frame"]["ticker"]) == {"BBB"}
        pd.testing.assert_frame_equal(LOADED["queried"], LOADED["frame"])

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
