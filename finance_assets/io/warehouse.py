"""The warehouse: one Parquet file per partition, and a DuckDB catalog of views over them.

Layout under the warehouse root::

    prices/ticker=ACMQ/month=2025-01-01/data.parquet      ticker x month assets
    filings/ticker=ACMQ/data.parquet                      ticker assets
    portfolio_report/date=2025-01-02/data.parquet         report-day assets
    ticker_cik_map/data.parquet                           unpartitioned assets
    finance.duckdb                                        views named after the assets

Writers never share a file: each partition is written to a temp file and renamed into place, so a
killed step leaves the previous version intact and parallel Dask workers never wait on a lock.
DuckDB only holds views (no data), so readers such as notebooks never block a materialization.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import pandas as pd
from filelock import FileLock

CATALOG_FILE = "finance.duckdb"
DATA_FILE = "data.parquet"

# Partition values become directory names: allow only what our partition keys can contain.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
_SAFE_ASSET = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class WarehouseError(ValueError):
    pass


def _check_asset(asset: str) -> str:
    if not _SAFE_ASSET.match(asset):
        raise WarehouseError(f"invalid asset name for the warehouse: {asset!r}")
    return asset


def _check_value(dimension: str, value: str) -> str:
    if not _SAFE_VALUE.match(value) or ".." in value:
        raise WarehouseError(f"invalid {dimension} partition value for a path: {value!r}")
    return value


class Warehouse:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    @property
    def catalog_path(self) -> Path:
        return self.root / CATALOG_FILE

    def partition_dir(self, asset: str, dims: Mapping[str, str] | None = None) -> Path:
        path = self.root / _check_asset(asset)
        # ticker first so one ticker's history sits together on disk
        for name in sorted(dims or {}, key=lambda d: (d != "ticker", d)):
            path = path / f"{name}={_check_value(name, str(dims[name]))}"
        return path

    def partition_file(self, asset: str, dims: Mapping[str, str] | None = None) -> Path:
        return self.partition_dir(asset, dims) / DATA_FILE

    def write(self, asset: str, dims: Mapping[str, str] | None, frame: pd.DataFrame) -> Path:
        """Atomically replace one partition's file (temp file, fsync, rename)."""
        target = self.partition_file(asset, dims)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".tmp-{uuid.uuid4().hex}.parquet"
        try:
            frame.to_parquet(tmp, index=False)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        return target

    def files(self, asset: str, dims_list: Iterable[Mapping[str, str] | None]) -> list[Path]:
        return [f for f in (self.partition_file(asset, d) for d in dims_list) if f.exists()]

    def all_files(self, asset: str) -> list[Path]:
        return sorted((self.root / _check_asset(asset)).rglob(DATA_FILE))

    @staticmethod
    def read_files(files: list[Path], columns: list[str] | None = None) -> pd.DataFrame:
        if not files:
            return pd.DataFrame(columns=columns or [])
        con = duckdb.connect()
        try:
            rel = con.read_parquet([str(f) for f in files], union_by_name=True)
            if columns:
                rel = rel.select(*columns)
            return rel.df()
        finally:
            con.close()

    def read(self, asset: str, where: str | None = None, params: list | None = None) -> pd.DataFrame:
        """Read a whole asset, optionally filtered with a parameterized SQL predicate."""
        files = self.all_files(asset)
        if not files:
            return pd.DataFrame()
        con = duckdb.connect()
        try:
            sql = "SELECT * FROM read_parquet(?, union_by_name = true)"
            if where:
                sql += f" WHERE {where}"
            return con.execute(sql, [[str(f) for f in files], *(params or [])]).df()
        finally:
            con.close()

    def view_sql(self, asset: str) -> str:
        glob = str(self.root / _check_asset(asset) / "**" / DATA_FILE).replace("'", "''")
        return f"CREATE OR REPLACE VIEW {asset} AS SELECT * FROM read_parquet('{glob}', union_by_name = true)"

    def register_view(self, asset: str) -> bool:
        """Create the asset's view in the catalog once. Returns False if another process holds it."""
        marker = self.root / ".views" / _check_asset(asset)
        if marker.exists():
            return True
        marker.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / ".views.lock"), timeout=30):
            if marker.exists():
                return True
            try:
                con = duckdb.connect(str(self.catalog_path))
            except duckdb.IOException:
                return False  # a reader holds the catalog; `finance-assets catalog` retries later
            try:
                con.execute(self.view_sql(asset))
            finally:
                con.close()
            marker.touch()
        return True

    def refresh_catalog(self) -> list[str]:
        """(Re)create a view for every asset that has data; returns the asset names."""
        assets = sorted(p.name for p in self.root.iterdir() if p.is_dir() and _SAFE_ASSET.match(p.name)
                        and any(p.rglob(DATA_FILE))) if self.root.exists() else []
        if not assets:
            return []
        with FileLock(str(self.root / ".views.lock"), timeout=30):
            con = duckdb.connect(str(self.catalog_path))
            try:
                for asset in assets:
                    con.execute(self.view_sql(asset))
            finally:
                con.close()
        (self.root / ".views").mkdir(exist_ok=True)
        for asset in assets:
            (self.root / ".views" / asset).touch()
        return assets

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the catalog (views over the Parquet files)."""
        return duckdb.connect(str(self.catalog_path), read_only=True)
