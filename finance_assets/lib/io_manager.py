"""Dagster IO manager over the Parquet warehouse (see warehouse.py for the layout).

An asset returns one DataFrame for all the partitions of its run (a single-run backfill may hold
hundreds); the IO manager splits it by the partition columns and rewrites each file once (warehouse.py:
a file per month and ticker shard, per ticker, or per year):

- `ticker` dimension  -> column `ticker`
- `month` dimension   -> month of column `date`
- report-day assets   -> column `date`
- month-partitioned daily bars (definition metadata `ROWS_BY_TICKER`) are also stored by ticker: a
  run writes exactly its tickers' months (the tickers the asset's frame names in its attrs, else the run's
  tickers), leaving every other ticker's rows untouched, then records them in `<asset>_coverage`
  (lib/coverage.py). An input of such an asset is read for the run's tickers only, and so is an input
  partitioned by ticker read by such an asset (headlines read their tickers' filings).

Loading reads every mapped upstream partition that exists in one DuckDB scan, filtered to exactly
the requested partitions. An input annotated `StoredPartitions` gets those partitions unread instead, for
an asset that queries several inputs in one DuckDB connection (`warehouse.connect_stored`).
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from finance_assets.lib import coverage
from finance_assets.lib.partitions import ROWS_BY_TICKER, TICKER, TICKERS_TAG, tickers_of_run
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


def _run_tickers(context: dg.InputContext | dg.OutputContext) -> list[str] | None:
    """The run's tickers (its tag, else every registered ticker); None outside a run (direct invocation)."""
    try:
        step = context.step_context
    except Exception:  # noqa: BLE001 - built contexts (tests, direct invocation) have no step
        return None
    return tickers_of_run(step.dagster_run.tags, step.instance.get_dynamic_partitions(TICKER))


def _is_targeted(context: dg.InputContext) -> bool:
    try:
        return bool(context.step_context.dagster_run.tags.get(TICKERS_TAG))
    except Exception:  # noqa: BLE001
        return False


def _rows_by_ticker(metadata) -> bool:
    return bool((metadata or {}).get(ROWS_BY_TICKER))


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
            tickers = None
            if _rows_by_ticker(context.definition_metadata):
                wh.check_layout(asset)
                tickers = self._output_tickers(context, obj)
                dims_list = [{TICKER: ticker, **dims} for dims in dims_list for ticker in tickers]
            parts = wh.write_split_counts(asset, obj, dims_list)
            if tickers is not None:
                coverage.record(wh, asset, list(keys), tickers, obj.attrs.get(coverage.ACTIONS_VERSIONS_ATTR))
                metadata["run_tickers"] = len(tickers)
                parts = [sum(parts[i : i + len(tickers)]) for i in range(0, len(parts), len(tickers))]
            written = len(keys)
            if written > 1:  # a range run's one summary still shows each partition's rows (0 = a gap)
                metadata["rows_by_partition"] = dg.MetadataValue.json(dict(zip(keys, parts)))
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

    @staticmethod
    def _output_tickers(context: dg.OutputContext, frame: pd.DataFrame) -> list[str]:
        tickers = coverage.run_tickers_of(frame)
        if tickers is None:
            tickers = _run_tickers(context)
        if tickers is None:
            tickers = sorted(frame["ticker"].unique()) if len(frame) else []
        extra = set(frame["ticker"].unique()) - set(tickers) if len(frame) else set()
        if extra:
            raise ValueError(
                f"{context.asset_key.to_user_string()} returned rows for tickers outside its run: {sorted(extra)[:5]}"
            )
        return list(tickers)

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
        keys = list(context.asset_partition_keys)
        upstream_meta = context.upstream_output.definition_metadata if context.upstream_output else None
        if isinstance(pdef, dg.DynamicPartitionsDefinition) and pdef.name == TICKER and _is_targeted(context):
            wanted = set(_run_tickers(context) or [])
            keys = [key for key in keys if key in wanted]  # a targeted run reads its tickers' rows only
        dims_list = [partition_dims(pdef, k) for k in keys]
        if _rows_by_ticker(upstream_meta):
            wh.check_layout(asset)
            tickers = _run_tickers(context)
            if tickers is None:  # outside a run: every ticker stored
                tickers = coverage.stored_tickers(wh, asset)
            dims_list = [{TICKER: ticker, **dims} for dims in dims_list for ticker in tickers]
        return StoredPartitions(wh, asset, tuple(dims_list)) if unread else wh.read_partitions(asset, dims_list)
