"""A warehouse written before month-and-shard files (daily bars in a file per ticker and year): the IO manager
refuses it with the command that fixes it, and `finance-assets migrate-warehouse` moves every row, types
included, into the new layout (lib/warehouse.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import pandas as pd
import pytest

from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.partitions import TICKER
from finance_assets.lib.warehouse import LegacyLayoutError, Warehouse, ticker_shard
from finance_assets_tests.lib.test_io_manager import RANGE, bars
from finance_assets_tests.lib.test_object_store import _warehouse, bucket_url, s3_endpoint, s3_env  # noqa: F401
from finance_assets_tests.lib.test_warehouse import _frame

KEYS = ["ticker", "date"]


def _legacy_frames() -> dict[tuple[str, str], pd.DataFrame]:
    """What the old layout held: AAA's 2024 (two months) and 2025 (one), XYZ's 2024 (one), by ticker and year."""
    return {
        ("AAA", "2024"): pd.concat([_frame("AAA", "2024-01-01"), _frame("AAA", "2024-02-01", offset=50)]),
        ("AAA", "2025"): _frame("AAA", "2025-01-01", offset=7),
        ("XYZ", "2024"): _frame("XYZ", "2024-01-01", offset=3),
    }


def _write_legacy(root, asset: str) -> pd.DataFrame:
    frames = _legacy_frames()
    for (ticker, year), frame in frames.items():
        folder = root / asset / f"ticker={ticker}" / f"year={year}"
        folder.mkdir(parents=True)
        frame.to_parquet(folder / "data.parquet", index=False)
    return pd.concat(frames.values()).sort_values(KEYS, ignore_index=True)


def test_legacy_files_are_refused_then_moved_with_every_row(tmp_path):
    root = tmp_path / "warehouse"
    expected = _write_legacy(root, "bars")
    wh = Warehouse(root)
    with pytest.raises(LegacyLayoutError, match="bars: 3 file.*finance-assets migrate-warehouse"):
        wh.check_layout("bars")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, ["AAA"])
        result = dg.materialize(
            [bars],
            instance=instance,
            tags=RANGE,
            resources={"io_manager": ParquetWarehouseIOManager(base_path=str(root))},
            raise_on_error=False,
        )
    assert not result.success  # nothing written over the old files
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "migrate-warehouse" in str(failure.event_specific_data.error)
    assert len(wh.legacy_files("bars")) == 3

    assert wh.migrate_legacy_layout() == {"bars": 3}
    assert wh.legacy_files("bars") == []
    moved = pd.concat([pd.read_parquet(f) for f in wh.all_files("bars")]).sort_values(KEYS, ignore_index=True)
    pd.testing.assert_frame_equal(moved, expected, check_exact=True)  # same rows, same types
    folders = sorted(str(f.parent.relative_to(root / "bars")) for f in wh.all_files("bars"))
    assert folders == sorted(
        {f"month={m}/shard={ticker_shard(t)}" for t, m in [("AAA", "2024-01"), ("AAA", "2024-02"), ("AAA", "2025-01")]}
        | {f"month=2024-01/shard={ticker_shard('XYZ')}"}
    )
    wh.check_layout("bars")  # no longer refused
    assert wh.migrate_legacy_layout() == {}


def test_the_cli_command_migrates_the_settings_warehouse(isolated_home):
    root = isolated_home / "data" / "warehouse"
    expected = _write_legacy(root, "prices")
    catalog = [sys.executable, "-m", "finance_assets.cli", "catalog"]
    warned = subprocess.run(catalog, env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert warned.returncode == 0 and "warning: prices still hold files of the layout before" in warned.stderr
    command = [sys.executable, "-m", "finance_assets.cli", "migrate-warehouse"]
    done = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "prices: 3 ticker-year file(s) moved into month-and-shard files" in done.stdout
    wh = Warehouse(root)
    assert wh.legacy_files("prices") == []
    pd.testing.assert_frame_equal(
        wh.read("prices").sort_values(KEYS, ignore_index=True)[["close"]], expected[["close"]]
    )
    again = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "nothing to migrate" in again.stdout
    quiet = subprocess.run(catalog, env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and "warning" not in quiet.stderr


def test_an_object_store_warehouse_migrates_alike(bucket_url, s3_endpoint, tmp_path):  # noqa: F811
    wh = _warehouse(bucket_url, s3_endpoint, tmp_path)
    frames = _legacy_frames()
    for (ticker, year), frame in frames.items():
        wh.store.put(f"prices/ticker={ticker}/year={year}/data.parquet", frame.to_parquet(index=False))
    with pytest.raises(LegacyLayoutError, match="migrate-warehouse"):
        wh.check_layout("prices")
    assert wh.migrate_legacy_layout() == {"prices": 3}
    assert wh.legacy_files("prices") == [] and len(wh.all_files("prices")) == 4  # 3 months of AAA, 1 of XYZ
    expected = pd.concat(frames.values()).sort_values(KEYS, ignore_index=True)
    moved = pd.concat([wh._read_exact(f) for f in wh.all_files("prices")]).sort_values(KEYS, ignore_index=True)
    pd.testing.assert_frame_equal(moved, expected, check_exact=True)
