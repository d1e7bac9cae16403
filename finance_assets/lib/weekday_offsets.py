"""Weekday partition offsets in constant time instead of one cron step per partition.

The report's weekday partitions (lib/partitions.py `report_day_partitions`, cron "0 0 * * 1-5") read the
whole panel history through a `TimeWindowPartitionMapping` whose offset counts every weekday since the
history starts (~3,100 in live mode). Dagster 1.13 offsets a "basic daily" or "basic hourly" schedule
arithmetically but walks any other schedule one `get_prev_partition_window` at a time: 0.12-0.24 s a call,
~100 s of each session at N = 100 (docs/measurements.md, 2026-12-07).

`install()` wraps Dagster's private `_offsetted_datetime` so that, for a schedule of midnights on Monday to
Friday without exclusions and a datetime on such a midnight, the offset is counted with numpy's business
days. Anything else goes to Dagster's walk unchanged. The result is the same datetime (the tests compare
both over every weekday of 2015-2028, both signs, across DST changes). Where our code is not imported (the
daemon's and the webserver's own processes), Dagster's walk still runs: slower, same partitions.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

WEEKDAY_MIDNIGHTS = "0 0 * * 1-5"
_MIDNIGHT = dt.time(0)


def is_weekday_midnights(partitions_def) -> bool:
    return getattr(partitions_def, "cron_schedule", None) == WEEKDAY_MIDNIGHTS and not getattr(
        partitions_def, "exclusions", None
    )


def offset_weekday_midnight(moment: dt.datetime, offset: int) -> dt.datetime | None:
    """`moment` moved by `offset` weekday partitions, or None when it is not a weekday midnight (left to Dagster)."""
    if moment.tzinfo is None or moment.time() != _MIDNIGHT or moment.weekday() >= 5:
        return None
    day = np.busday_offset(np.datetime64(moment.date(), "D"), offset, roll="raise").astype(dt.date)
    # a local midnight of the partitions' zone (zoneinfo gives the right UTC offset on either side of a DST change)
    return dt.datetime.combine(day, _MIDNIGHT, tzinfo=moment.tzinfo)


def install() -> bool:
    """Route Dagster's offsets of weekday-midnight schedules through `offset_weekday_midnight`; idempotent.
    False when this Dagster has no such function (then its own walk runs, as before)."""
    from dagster._core.definitions.partitions.mapping import time_window as mapping

    walk = getattr(mapping, "_offsetted_datetime", None)
    if walk is None:
        return False
    if getattr(walk, "_weekday_fast_path", False):
        return True

    def offsetted_datetime(partitions_def, moment, offset):
        if offset != 0 and is_weekday_midnights(partitions_def):
            fast = offset_weekday_midnight(moment, offset)
            if fast is not None:
                return fast
        return walk(partitions_def, moment, offset)

    offsetted_datetime._weekday_fast_path = True
    offsetted_datetime.dagster_walk = walk
    mapping._offsetted_datetime = offsetted_datetime
    return True
