"""Measuring a rate limiter from the times its acquisitions were granted (tests and benchmarks)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def max_in_sliding_window(timestamps: Sequence[float] | np.ndarray, window_s: float = 1.0) -> int:
    """Most timestamps inside any half-open window [t, t + window_s)."""
    ordered = np.sort(np.asarray(timestamps, dtype=float))
    if not len(ordered):
        return 0
    ends = np.searchsorted(ordered, ordered + window_s, side="left")
    return int((ends - np.arange(len(ordered))).max())


def steady_rate(timestamps: Sequence[float] | np.ndarray, limit: int) -> float:
    """Acquisitions per second when saturated: `limit` over the mean time from acquisition i to i + limit.

    A saturated sliding-window limiter grants acquisition i + limit exactly one window after i, so
    this reads the same whether a run ends mid-burst or not.
    """
    ordered = np.sort(np.asarray(timestamps, dtype=float))
    return limit / float(np.mean(ordered[limit:] - ordered[:-limit]))
