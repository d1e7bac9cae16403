"""Run metadata: on the materialization for one partition, once per run (an observation) for a range."""

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.lib.run_metadata import attach_metadata, metadata_per_run, result_metadata

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


@dg.multi_asset(
    partitions_def=DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    outs={"summary": dg.AssetOut(), "detail": dg.AssetOut()},
)
def two_outputs(context: dg.AssetExecutionContext):
    attach_metadata(context, {"what": "summary"}, output_name="summary")
    attach_metadata(context, {"what": "detail"}, output_name="detail")
    yield dg.Output(None, output_name="summary")
    yield dg.Output(None, output_name="detail")


class StoresNothing(dg.ConfigurableIOManager):
    def handle_output(self, context: dg.OutputContext, obj) -> None:
        return None

    def load_input(self, context: dg.InputContext) -> None:
        return None


def test_multi_asset_outputs_get_their_own_metadata_in_both_modes():
    resources = {"io_manager": StoresNothing()}
    with dg.instance_for_test() as instance:
        one = dg.materialize([two_outputs], partition_key="d1", instance=instance, resources=resources)
        materialized = [e.event_specific_data.materialization for e in one.get_asset_materialization_events()]
        assert {m.asset_key.to_user_string(): m.metadata["what"].value for m in materialized} == {
            "summary": "summary",
            "detail": "detail",
        }
        ranged = dg.materialize([two_outputs], instance=instance, tags=_range("d1", "d4"), resources=resources)
        observed = {
            o.asset_key.to_user_string(): (o.metadata["what"].value, o.metadata["run_partitions"].value)
            for o in ranged.asset_observations_for_node("two_outputs")
        }
        assert observed == {"summary": ("summary", 4), "detail": ("detail", 4)}
