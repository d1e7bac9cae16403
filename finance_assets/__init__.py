"""finance_assets: a Dagster financial data platform. Public functions for notebooks and scripts are
importable from here (loaded on first use, so importing a submodule stays cheap)."""

from __future__ import annotations

import importlib
from typing import Any

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
