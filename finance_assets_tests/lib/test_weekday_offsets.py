"""lib/weekday_offsets.py: the constant-time offset of weekday partitions gives Dagster's own answer.

Dagster's walk (`_offsetted_datetime` before install) is the reference: the fast path is compared with it for
every weekday of 2015-2028 one and seven steps either way, for the report's whole-history offset from days spread
over the years (across DST changes and year ends), and through the report's partition mapping in both directions.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest
from dagster._core.definitions.partitions.mapping import time_window as mapping

from finance_assets.lib import weekday_offsets
from finance_assets.lib.partitions import month_partitions, report_day_partitions

NOW = dt.datetime(2026, 12, 7, 18, tzinfo=dt.UTC)


def _walk():
    """Dagster's own offset (the function the fast path wraps)."""
    assert weekday_offsets.install()
    return mapping._offsetted_datetime.dagster_walk


def _weekday_midnights(start: str, end: str) -> list[dt.datetime]:
    keys = report_day_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))
    return [report_day_partitions.time_window_for_partition_key(key).start for key in keys]


def test_installed_where_the_partitions_are_defined():
    assert getattr(mapping._offsetted_datetime, "_weekday_fast_path", False)
    assert weekday_offsets.is_weekday_midnights(report_day_partitions)
    assert not weekday_offsets.is_weekday_midnights(month_partitions)


def test_every_weekday_one_and_seven_steps_either_way():
    walk = _walk()
    days = [
        dt.datetime.combine(
            day.date(), dt.time(0), tzinfo=report_day_partitions.get_first_partition_window().start.tzinfo
        )
        for day in pd.bdate_range("2015-01-01", "2028-12-31")
    ]
    assert len(days) > 3_600
    for day in days:
        for offset in (-7, -1, 1, 7):
            fast = weekday_offsets.offset_weekday_midnight(day, offset)
            slow = walk(report_day_partitions, day, offset)
            assert fast == slow and fast.utcoffset() == slow.utcoffset(), (day, offset, fast, slow)


@pytest.mark.parametrize("offset", [-3_114, -260, 260, 1_000])
def test_whole_history_offsets_from_days_across_the_years(offset):
    walk = _walk()
    # one day every half year, plus the days around the 2024 DST changes and a year end
    days = _weekday_midnights("2016-01-04", "2026-12-04")[::126]
    days += _weekday_midnights("2024-03-08", "2024-03-12") + _weekday_midnights("2024-10-31", "2024-11-05")
    days += _weekday_midnights("2025-12-31", "2026-01-02")
    for day in days:
        assert weekday_offsets.offset_weekday_midnight(day, offset) == walk(report_day_partitions, day, offset)


def test_anything_else_is_left_to_dagster():
    zone = report_day_partitions.get_first_partition_window().start.tzinfo
    saturday = dt.datetime(2026, 6, 13, tzinfo=zone)
    noon = dt.datetime(2026, 6, 10, 12, tzinfo=zone)
    naive = dt.datetime(2026, 6, 10)
    for moment in (saturday, noon, naive):
        assert weekday_offsets.offset_weekday_midnight(moment, -5) is None
    # through the wrapper: Dagster's answer for a moment the fast path declines
    assert mapping._offsetted_datetime(report_day_partitions, saturday, -5) == _walk()(
        report_day_partitions, saturday, -5
    )


def _mapped(history: dg.TimeWindowPartitionMapping, report_days: list[str], panel_month: str):
    up = history.get_upstream_mapped_partitions_result_for_partitions(
        report_day_partitions.empty_subset().with_partition_keys(report_days),
        report_day_partitions,
        month_partitions,
        current_time=NOW,
    )
    down = history.get_downstream_partitions_for_partitions(
        month_partitions.empty_subset().with_partition_keys([panel_month]),
        month_partitions,
        report_day_partitions,
        current_time=NOW,
    )
    return sorted(up.partitions_subset.get_partition_keys()), sorted(down.get_partition_keys())


def test_the_report_mapping_resolves_the_same_partitions(monkeypatch):
    from finance_assets.defs.portfolio.assets import _report_history

    cases = [
        (["2016-01-04"], "2016-01-01"),
        (["2020-03-06", "2020-03-09"], "2020-02-01"),
        (["2026-12-04"], "2026-11-01"),
    ]
    fast = [_mapped(_report_history, days, month) for days, month in cases]
    monkeypatch.setattr(mapping, "_offsetted_datetime", _walk())
    slow = [_mapped(_report_history, days, month) for days, month in cases]
    assert fast == slow
    # and what they resolve to: the history from its first month to the day's month; every day from the month on
    (first_up, first_down), *_ = fast
    assert first_up[0] == month_partitions.get_first_partition_key() and first_up[-1] == "2016-01-01"
    assert first_down[0] == "2016-01-01" and first_down[-1] == "2026-12-04"
