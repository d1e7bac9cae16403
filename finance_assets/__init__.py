"""finance_assets: a Dagster financial data platform. Public functions for notebooks and scripts are
importable from here (loaded on first use, so importing a submodule stays cheap)."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

# Beta/preview Dagster APIs are used on purpose (multi-partition mappings, backfill policies, partitioned
# checks; docs/operations.md). Their warnings fire wherever the definitions load, Dask workers and the
# code server included, where no CLI flag reaches: matched by message, so this costs no dagster import.
# `finance-assets -v` shows them again.
QUIET_DAGSTER_WARNINGS = r".*is currently in (beta|preview)"
warnings.filterwarnings("ignore", message=QUIET_DAGSTER_WARNINGS)

# Public name -> module that defines it.
_PUBLIC = {
    "compute_indicators": "finance_assets.defs.market.indicators",  # docs/indicators.md
    "extract_sections": "finance_assets.defs.sec.sections",  # docs/sec.md
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'finance_assets' has no attribute {name!r}")
