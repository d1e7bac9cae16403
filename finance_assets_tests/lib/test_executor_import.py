"""The definitions import dagster-dask's executor without dask.dataframe, and the package still works whole."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import finance_assets.definitions
before = "dask.dataframe" in sys.modules
import dagster_dask
from finance_assets.lib import executor
print(json.dumps({
    "dataframe_at_import": before,
    "same_executor_class": dagster_dask.executor.DaskExecutor is executor.DaskExecutor,
    "package_names": [n for n in ("dask_executor", "dask_resource", "DataFrame") if hasattr(dagster_dask, n)],
    "dataframe_after_use": "dask.dataframe" in sys.modules,
}))
"""


def test_definitions_skip_dask_dataframe_and_dagster_dask_stays_usable():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found == {
        "dataframe_at_import": False,
        "same_executor_class": True,
        "package_names": ["dask_executor", "dask_resource", "DataFrame"],
        "dataframe_after_use": True,
    }
