"""Where a step's metadata goes: on the materialization for a one-partition run, once per run for a range.

Dagster copies output metadata onto the materialization event of *every* partition of a single-run
backfill, and each entry costs ~0.4 ms per event in the SQLite event log: ~11 s of a 2,400-partition
backfill of prices + technicals (`benchmarks/bench_orchestration.py`). It would also be wrong there:
a run's total row count shown on each month's partition. So a range run records its summary once,
as an `AssetObservation` of the asset carrying `run_partitions`, next to bare per-partition
materializations; a one-partition run (the daily automation case, a click in the UI) keeps
everything on the materialization.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg


def _partitions_in_run(context: dg.AssetExecutionContext | dg.OutputContext) -> int:
    if isinstance(context, dg.OutputContext):
        return len(context.asset_partition_keys) if context.has_asset_partitions else 1
    if not context.has_partition_key_range:
        return 1
    return len(context.partition_keys)


def attach_metadata(
    context: dg.AssetExecutionContext | dg.OutputContext, metadata: Mapping[str, Any], output_name: str | None = None
) -> None:
    """Output metadata for a one-partition (or unpartitioned) run; one observation for a range run.

    `output_name` picks the output of a multi-asset (asset contexts only).
    """
    partitions = _partitions_in_run(context)
    if partitions <= 1:
        if output_name is None:
            context.add_output_metadata(dict(metadata))
        else:
            context.add_output_metadata(dict(metadata), output_name=output_name)
        return
    asset_key = context.asset_key if output_name is None else context.asset_key_for_output(output_name)
    context.log_event(dg.AssetObservation(asset_key=asset_key, metadata={"run_partitions": partitions, **metadata}))


def _unwrapped(metadata: Mapping[str, Any]) -> dict:
    return {name: getattr(value, "value", value) for name, value in metadata.items()}


def metadata_per_run(instance: dg.DagsterInstance, asset: str | dg.AssetKey, limit: int = 10_000) -> dict[str, dict]:
    """{run_id: metadata} of an asset's runs, values unwrapped, wherever `attach_metadata` put them."""
    key = dg.AssetKey.from_coercible(asset)
    per_run: dict[str, dict] = {}
    for records, event in (
        (instance.fetch_materializations(key, limit=limit).records, "asset_materialization"),
        (instance.fetch_observations(key, limit=limit).records, "asset_observation"),
    ):
        for record in records:
            metadata = getattr(record, event).metadata
            if event == "asset_observation" and "run_partitions" not in metadata:
                continue
            per_run.setdefault(record.run_id, {}).update(_unwrapped(metadata))
    return per_run


def result_metadata(result: dg.ExecuteInProcessResult, step: str) -> dict:
    """One step's run metadata from an in-process result (materialization and run observations merged)."""
    merged: dict = {}
    events = [
        *result.asset_materializations_for_node(step)[:1],
        *(o for o in result.asset_observations_for_node(step) if "run_partitions" in o.metadata),
    ]
    for event in events:
        merged.update(_unwrapped(event.metadata))
    return merged


def attach_partition_metadata(
    context: dg.AssetExecutionContext, metadata: Mapping[str, Any], partition_key: str, asset_key: str | None = None
) -> None:
    """`metadata` on the materialization of one partition of the run (a range run's summary goes to an
    observation, see above, which the asset's overview does not show).

    A directly invoked asset (`dagster.build_asset_context`, as tests and benchmarks call it) records no
    materializations, and Dagster 1.13's direct context has no per-partition metadata: nothing to do there.
    """
    from dagster._core.execution.context.invocation import BaseDirectExecutionContext

    if isinstance(context, BaseDirectExecutionContext):
        return
    if asset_key is None:
        context.add_asset_metadata(dict(metadata), partition_key=partition_key)
    else:
        context.add_asset_metadata(dict(metadata), asset_key=asset_key, partition_key=partition_key)
