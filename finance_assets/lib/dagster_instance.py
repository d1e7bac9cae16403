"""The Dagster instance of `dagster.yaml`: Dagster's own SQLite storage, with a step's partition events
written in one transaction per database instead of two per event.

A step that writes many partitions (a ticker's ten years: 126 months of prices) reports one
materialization per partition. Dagster's SQLite event log stores each in its own transactions, on the
run's database and on the index, opening both databases each time: 26 ms per partition here, 3.3 s of a
one-ticker, ten-year prices step whose compute and writes take 2.5 s. Dagster already hands such events
(and a run's planned partitions) over as one batch when `DAGSTER_EVENT_BATCH_SIZE` is set; its Postgres
storage writes a batch in one statement, its SQLite one stores the events one at a time. Here a batch goes
into each database in one transaction, each event indexed as `SqliteEventLogStorage.store_event` indexes
it and the asset's row written once (its last event), so every query (partition status, automation, the
UI) sees the same records. A run's planned partitions come in one batch with its checks' planned
evaluations: the asset events of a batch are written together and the others one at a time, in order; a check
planned over many partitions has its event serialized once (Dagster serializes it once per partition).
Each database's SQLAlchemy engine is kept rather than built per connection (`_connect`).

Selected by `instance_class` in dagster.yaml; every other part of the instance is Dagster's default.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Iterator, Mapping, Sequence

import yaml
from dagster import DagsterInstance
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData, serialize_value
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from finance_assets.lib import config

BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
# events kept in memory before a write: a 10-year run of 20 tickers reports ~2,500 partitions per asset
EVENT_BATCH_SIZE = 1000
# SQLAlchemy engines kept per event log (one per database: the index and each recent run's)
ENGINES_KEPT = 64


def _is_asset_event(event: EventLogEntry) -> bool:
    return event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        """Dagster's, with each database's SQLAlchemy engine kept (the last `ENGINES_KEPT`) instead of one
        engine per connection: an engine initializes its dialect on its first connection, which cost more than
        the statements (one event stored: 7.7 -> 5.5 ms on disk, 3.8 -> 1.8 ms in /dev/shm). Connections are still
        not pooled (NullPool, as Dagster): each use opens and closes its own."""
        with self._db_lock:
            engine = self._engines.pop(shard, None) or create_engine(
                self.conn_string_for_shard(shard),
                poolclass=NullPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            self._engines[shard] = engine  # most recently used last
            while len(self._engines) > ENGINES_KEPT:
                self._engines.pop(next(iter(self._engines))).dispose()
            if shard not in self._initialized_dbs:  # emptied by wipe() and upgrade(), as Dagster's
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    @functools.cached_property
    def _engines(self) -> dict:
        return {}

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Consecutive asset events of one run in one transaction per database; any other event (a check's
        planned evaluation comes in the batch of a run's planned partitions) on its own, in order."""
        if len({event.run_id for event in events}) != 1:
            super().store_event_batch(events)  # one store_event each
            return
        for is_asset_event, group in itertools.groupby(events, key=_is_asset_event):
            group = list(group)
            if is_asset_event and len(group) > 1:
                self._store_asset_events(group)
            else:
                for event in group:
                    self.store_event(event)

    def _store_asset_events(self, events: Sequence[EventLogEntry]) -> None:
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(self.prepare_insert_event_batch(events))
        # asset events only (materializations, planned ones, observations): store_event mirrors them in the
        # cross-run index as below, one at a time, and does nothing else with them
        with self.index_transaction() as conn:
            event_ids = []
            for event in events:
                with db_result(conn, self.prepare_insert_event(event)) as result:
                    event_ids.append(result.inserted_primary_key[0])
            self._store_asset_event_tags(conn, events, event_ids)
            # the asset table keeps each asset's latest event: writing its last one in the batch leaves the
            # rows each event in turn would (as Dagster's Postgres storage does)
            last = {event.dagster_event.asset_key: (event, event_id) for event, event_id in zip(events, event_ids)}
            for event, event_id in last.values():
                self._store_asset_event(conn, event, event_id)

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        """Dagster's own, with the event serialized once instead of once per partition: a check planned over
        a ticker's 126 months serialized the event (and its 126-month subset) 126 times, 0.2 s per check of
        each run that creates it. Same rows (tested against Dagster's storage)."""
        planned = event.dagster_event.event_specific_data  # AssetCheckEvaluationPlanned
        partition_keys = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        row = dict(
            asset_key=planned.asset_key.to_string(),
            check_name=planned.check_name,
            run_id=event.run_id,
            execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
            evaluation_event=serialize_value(event),
            evaluation_event_timestamp=self._event_insert_timestamp(event),
            evaluation_event_storage_id=event_id,
        )
        with self.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.insert().values([{**row, "partition": key} for key in partition_keys])
            )


class BatchedSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage with the batched event log; turns Dagster's event batching on in each
    process that opens it (Dask workers included: they store their steps' events themselves)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir, inst_data)
        self._event_log_storage = BatchedSqliteEventLogStorage(_event_logs_directory(base_dir))
        config.default_dagster_setting(BATCH_SIZE_ENV, str(EVENT_BATCH_SIZE))

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value) -> BatchedSqliteStorage:  # type: ignore[override]
        return cls.from_local(inst_data=inst_data, **config_value)


class FinanceAssetsInstance(DagsterInstance):
    """A DagsterInstance whose default storage (no `storage:` in dagster.yaml) is BatchedSqliteStorage
    under the instance's folder; a configured storage (PostgreSQL) is used as configured."""

    @classmethod
    def config_schema(cls) -> dict:
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> Mapping[str, ConfigurableClassData | None]:
        defaults = dict(InstanceRef.config_defaults(base_dir))
        defaults["storage"] = ConfigurableClassData(
            __name__, BatchedSqliteStorage.__name__, yaml.dump({"base_dir": base_dir}, default_flow_style=False)
        )
        return defaults
