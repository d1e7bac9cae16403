"""Run metadata: on the materialization for one partition, once per run (an observation) for a range."""

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.run_metadata import attach_metadata, metadata_per_run, result_metadata

DAYS = dg.StaticPartitionsDefinition(["d1", "d2", "d3", "d4"])


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def counted(context: dg.AssetExecutionContext) -> None:
    attach_metadata(context, {"rows": 10 * len(context.partition_keys), "source": "unit test"})


def _range(first: str, last: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def test_one_partition_run_keeps_metadata_on_its_materialization():
    with dg.instance_for_test() as instance:
        result = dg.materialize([counted], partition_key="d2", instance=instance)
        [materialization] = result.asset_materializations_for_node("counted")
        assert materialization.partition == "d2"
        assert materialization.metadata["rows"].value == 10
        assert not result.asset_observations_for_node("counted")
        assert result_metadata(result, "counted") == {"rows": 10, "source": "unit test"}


def test_range_run_records_its_summary_once_and_leaves_partitions_bare():
    with dg.instance_for_test() as instance:
        result = dg.materialize([counted], instance=instance, tags=_range("d1", "d3"))
        materializations = result.asset_materializations_for_node("counted")
        assert sorted(m.partition for m in materializations) == ["d1", "d2", "d3"]
        assert all("rows" not in m.metadata for m in materializations)  # no run total posing as a partition's
        [observation] = result.asset_observations_for_node("counted")
        assert observation.metadata["run_partitions"].value == 3
        assert observation.metadata["rows"].value == 30
        assert result_metadata(result, "counted")["rows"] == 30

        single = dg.materialize([counted], partition_key="d4", instance=instance)
        per_run = metadata_per_run(instance, "counted")
        assert per_run[result.run_id]["rows"] == 30 and per_run[result.run_id]["run_partitions"] == 3
        assert per_run[single.run_id] == {"rows": 10, "source": "unit test"}
        assert set(per_run) == {result.run_id, single.run_id}
