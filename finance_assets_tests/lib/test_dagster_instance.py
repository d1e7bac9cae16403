"""The instance of dagster.yaml (finance_assets/lib/dagster_instance.py) stores a step's partition events in
one batch, and every record a query reads is the one Dagster's own SQLite storage writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from finance_assets.lib import dagster_instance
from finance_assets.lib.dagster_instance import BatchedSqliteEventLogStorage, FinanceAssetsInstance

REPO = Path(__file__).resolve().parents[2]
DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-02-10")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily_rows(context) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


@dg.asset_check(asset=daily_rows, partitions_def=DAYS)
def daily_rows_counted(context) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True, metadata={"days": len(context.partition_keys)})


def _instance(home: Path, yaml_text: str) -> dg.DagsterInstance:
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(yaml_text)
    return dg.DagsterInstance.from_config(str(home))


def _materialize_every_day(instance: dg.DagsterInstance) -> str:
    keys = DAYS.get_partition_keys()
    result = dg.materialize(
        [daily_rows, daily_rows_counted],
        instance=instance,
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
    )
    assert result.success
    return result.run_id


def _what_queries_see(instance: dg.DagsterInstance, run_id: str) -> dict:
    key = daily_rows.key
    records = instance.fetch_materializations(key, limit=1000).records
    latest = instance.get_latest_materialization_event(key)
    return {
        "materialized": sorted(instance.get_materialized_partitions(key)),
        "records": sorted((r.partition_key, r.run_id == run_id) for r in records),
        # the tags table (read by data-version queries); a data version hashes the run's id
        "tags_table": sorted(
            tuple(sorted((k, "<hash>" if k == "dagster/data_version" else v) for k, v in tags.items()))
            for tags in instance.event_log_storage.get_event_tags_for_asset(key)
        ),
        "latest_partition": latest.dagster_event.partition if latest else None,
        # the asset table's row (its latest materialization and planned run), read by the UI and automation
        "asset_record": [
            (
                entry.last_materialization_record.partition_key if entry.last_materialization_record else None,
                entry.last_run_id == run_id,
                entry.last_planned_materialization_run_id == run_id,
            )
            for entry in (record.asset_entry for record in instance.get_asset_records([key]))
        ],
        "run_events": [e.dagster_event_type for e in instance.all_logs(run_id) if e.is_dagster_event],
        # the planned check's rows, one per partition (the UI's check history, automation)
        "check_executions": sorted(
            (
                (record.partition, record.status.value, record.run_id == run_id)
                for record in instance.event_log_storage.get_asset_check_execution_history(
                    dg.AssetCheckKey(key, "daily_rows_counted"), limit=1000
                )
            ),
            key=repr,
        ),
        "last_materialization_by_partition": sorted(
            instance.get_latest_storage_id_by_partition(key, dg.DagsterEventType.ASSET_MATERIALIZATION)
        ),
    }


def test_the_repos_dagster_yaml_selects_the_batched_storage(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance, FinanceAssetsInstance)
        assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage)
        assert Path(instance.event_log_storage._base_dir).resolve() == (home / "history" / "runs").resolve()


def test_a_runs_partition_events_are_stored_in_one_batch_with_the_records_of_dagsters_storage(tmp_path, monkeypatch):
    monkeypatch.delenv(dagster_instance.BATCH_SIZE_ENV, raising=False)
    batches: list[tuple[int, set]] = []
    store_batch = BatchedSqliteEventLogStorage._store_asset_events

    def counting(self, events):
        batches.append((len(events), {e.dagster_event_type for e in events}))
        return store_batch(self, events)

    monkeypatch.setattr(BatchedSqliteEventLogStorage, "_store_asset_events", counting)
    instance_class = "instance_class:\n  module: finance_assets.lib.dagster_instance\n  class: FinanceAssetsInstance\n"
    with _instance(tmp_path / "batched", "telemetry:\n  enabled: false\n" + instance_class) as batched:
        seen_batched = _what_queries_see(batched, _materialize_every_day(batched))
    days = len(DAYS.get_partition_keys())
    planned, materialized = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, dg.DagsterEventType.ASSET_MATERIALIZATION
    assert batches == [(days, {planned}), (days, {materialized})], "one batch for each kind of partition event"

    monkeypatch.delenv(dagster_instance.BATCH_SIZE_ENV, raising=False)  # Dagster's storage: one write per event
    with _instance(tmp_path / "default", "telemetry:\n  enabled: false\n") as default:
        assert type(default.event_log_storage).__name__ == "SqliteEventLogStorage"
        seen_default = _what_queries_see(default, _materialize_every_day(default))

    assert seen_batched["materialized"] == DAYS.get_partition_keys()
    assert len(seen_batched["records"]) == days
    assert seen_batched["latest_partition"] == DAYS.get_partition_keys()[-1]
    assert len(seen_batched["tags_table"]) == days and all(seen_batched["tags_table"])
    assert seen_batched["asset_record"][0][:2] == (DAYS.get_partition_keys()[-1], True)
    planned_rows = [partition for partition, status, ours in seen_batched["check_executions"] if status == "PLANNED"]
    assert sorted(planned_rows) == DAYS.get_partition_keys()
    assert seen_batched == seen_default


def _engine_event(run_id: str, message: str):
    import time

    from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
    from dagster._core.events.log import EventLogEntry

    event = DagsterEvent(
        DagsterEventType.ENGINE_EVENT.value, "job", message=message, event_specific_data=EngineEventData()
    )
    return EventLogEntry(
        error_info=None, level=10, user_message=message, run_id=run_id, timestamp=time.time(), dagster_event=event
    )


def test_each_database_keeps_one_engine_a_bounded_number_of_them_and_a_wipe_initializes_again(tmp_path, monkeypatch):
    monkeypatch.setattr(dagster_instance, "ENGINES_KEPT", 3)
    created = []
    real_create = dagster_instance.create_engine
    monkeypatch.setattr(dagster_instance, "create_engine", lambda *a, **k: created.append(a[0]) or real_create(*a, **k))
    storage = BatchedSqliteEventLogStorage(str(tmp_path / "events"))
    runs = [f"{i:08d}-0000-0000-0000-000000000000" for i in range(5)]
    for _ in range(3):
        storage.store_event(_engine_event(runs[0], "again"))
    assert sum(runs[0] in url for url in created) == 1  # three events, one engine for the run's database
    for run_id in runs:
        storage.store_event(_engine_event(run_id, "one"))
    assert list(storage._engines) == runs[2:]  # the three most recently used
    storage.store_event(_engine_event(runs[0], "evicted, then built again"))
    assert sum(runs[0] in url for url in created) == 2
    assert [len(storage.get_logs_for_run(r)) for r in runs] == [5, 1, 1, 1, 1]

    storage.wipe()  # deletes the run databases: the next event creates and initializes the database again
    storage.store_event(_engine_event(runs[1], "after the wipe"))
    assert [e.user_message for e in storage.get_logs_for_run(runs[1])] == ["after the wipe"]
