"""Dagster IO manager over the Parquet warehouse (see warehouse.py for the layout).

An asset returns one DataFrame for all the partitions of its run (a single-run backfill may hold
hundreds); the IO manager splits it by the partition columns and rewrites each yearly file once:

- `ticker` dimension  -> column `ticker`
- `month` dimension   -> month of column `date`
- report-day assets   -> column `date`

Loading reads every mapped upstream partition that exists in one DuckDB scan, filtered to exactly
the requested partitions. An input annotated `StoredPartitions` gets those partitions unread instead, for
an asset that queries several inputs in one DuckDB connection (`warehouse.connect_stored`).
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from finance_assets.lib.run_metadata import attach_metadata
from finance_assets.lib.warehouse import StoredPartitions, Warehouse


def partition_dims(partitions_def: dg.PartitionsDefinition, key: str) -> dict[str, str]:
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return dict(partitions_def.get_partition_key_from_str(key).keys_by_dimension)
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        # a fixed day-of-month in the cron ("0 0 1 * *") means monthly windows
        monthly = partitions_def.cron_schedule.split()[2] != "*"
        return {"month" if monthly else "date": key}
    if isinstance(partitions_def, dg.DynamicPartitionsDefinition):
        return {partitions_def.name or "partition": key}
    return {"partition": key}


def _summary_metadata(frame: pd.DataFrame) -> dict:
    meta: dict = {"dagster/row_count": len(frame)}
    if len(frame) and "date" in frame.columns:
        dates = pd.to_datetime(frame["date"])
        meta["first_date"] = str(dates.min().date())
        meta["last_date"] = str(dates.max().date())
    if len(frame) and "ticker" in frame.columns:
        meta["tickers"] = int(frame["ticker"].nunique())
    return meta


class ParquetWarehouseIOManager(dg.ConfigurableIOManager):
    """Hive-style Parquet files under `base_path`, atomic writes, DuckDB reads and catalog views.

    `base_path` is a folder or an object-store URL (s3://bucket/prefix: every process and Dask worker
    then writes and reads one warehouse; its endpoint and credentials come from each process's own
    environment, never from this config, so the UI shows no secret)."""

    base_path: str
    as_of: str = ""  # the clock (lib/clock.py): recorded on every materialization as `as_of`
    # an object-store warehouse's server and region ('': this process's FINANCE_ASSETS_S3_* settings), so a
    # Dask worker writes where the run's settings say; the access key never travels in config
    s3_endpoint_url: str = ""
    s3_region: str = ""

    @property
    def warehouse(self) -> Warehouse:
        if self.base_path.startswith("s3://"):
            return Warehouse(self.base_path, endpoint_url=self.s3_endpoint_url or None, region=self.s3_region or None)
        return Warehouse(self.base_path)

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | None) -> None:
        if obj is None:
            return
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"{context.asset_key.to_user_string()} must return a pandas DataFrame, got {type(obj)}")
        asset = context.asset_key.path[-1]
        wh = self.warehouse
        metadata = _summary_metadata(obj)
        if not context.has_asset_partitions:
            wh.write(asset, None, obj)
            written = 1
        else:
            pdef = context.asset_partitions_def
            keys = context.asset_partition_keys
            dims_list = [partition_dims(pdef, key) for key in keys]
            parts = wh.write_split(asset, obj, dims_list)
            written = len(keys)
            if written > 1:  # a range run's one summary still shows each partition's rows (0 = a gap)
                metadata["rows_by_partition"] = dg.MetadataValue.json(
                    {key: len(part) for key, part in zip(keys, parts)}
                )
        wh.register_view(asset)
        from finance_assets.lib.clock import now

        attach_metadata(
            context,
            {
                **metadata,
                "as_of": now(self.as_of).isoformat(),
                "partitions_written": written,
                "warehouse_path": dg.MetadataValue.path(wh.asset_location(asset)),
            },
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame | StoredPartitions:
        asset = context.asset_key.path[-1]
        wh = self.warehouse
        unread = getattr(context.dagster_type, "typing_type", None) is StoredPartitions
        if not context.has_asset_partitions:
            files = wh.files(asset, [None])
            if not files:
                # An empty frame here would surface downstream as a puzzling KeyError on a column.
                raise FileNotFoundError(
                    f"input {asset!r} has never been materialized (no {wh.partition_file(asset)}); "
                    f"materialize {asset} first (its last run may have failed)"
                )
            return StoredPartitions(wh, asset, (None,)) if unread else wh.read_files(files)
        pdef = context.asset_partitions_def
        dims_list = [partition_dims(pdef, k) for k in context.asset_partition_keys]
        return StoredPartitions(wh, asset, tuple(dims_list)) if unread else wh.read_partitions(asset, dims_list)
