"""The Dask executor submits each step with the number of steps downstream of it as its priority, so a
ready asset that others read runs before checks that nothing reads (finance_assets/lib/executor.py)."""

from __future__ import annotations

from dagster._core.execution.api import create_execution_plan

from finance_assets import definitions
from finance_assets.lib.executor import _downstream_counts


def test_every_step_outranks_the_steps_that_read_it_and_unread_steps_come_last():
    plan = create_execution_plan(definitions.defs.get_job_def("market_job"))
    steps = [step for level in plan.get_steps_to_execute_by_level() for step in level]
    priority = _downstream_counts(steps)
    readers = {step.key: {p for i in step.step_inputs for p in i.dependency_keys} for step in steps}
    read = {parent for parents in readers.values() for parent in parents}
    for key, parents in readers.items():
        assert all(priority[parent] > priority[key] for parent in parents), (key, parents)
    assert {key for key in priority if key not in read} == {key for key, n in priority.items() if n == 0}
    # the market run: prices first (technicals and its checks wait on it), then headlines, then the rest
    assert max(priority, key=priority.get) == "prices"
    assert (
        priority["prices"] > priority["headlines"] > priority["technicals"] > priority["prices_prices_matches_schema"]
    )
