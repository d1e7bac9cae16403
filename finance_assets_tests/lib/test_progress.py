"""The backfill ETA (lib/progress.py) replayed over real and simulated `finance-assets demo` runs.

Issue #20 asks for an ETA within 50 % of the real time left once 20 % of the work is done. The real
runs are in data/demo_run_timelines.json: two `finance-assets demo` runs recorded on this project's
2-core machine, shared with other work, one after the other, each in a fresh home (read from the
Dagster instance after the run: each run's job, asset partitions, creation and end, and how many of its
partitions were materialized by each whole second, what the CLI's 1 s poll sees). The second ran
while other tests loaded the machine: its market run took 360 s against the first's 202 s.

The learned model estimates each run with the costs learned from the other's runs (what the instance
would hold had the other run there before) and is held to >= 90 % of its ETAs within 50 % after the
first 20 % of the time. Measured (2026-12-06): first -> second 454 of 501 (90.6 %), second -> first
328 of 329 (99.7 %). The hand-fitted table on the same runs: 119 of 329 (36.2 %) and 432 of 501
(86.2 %); the estimator before this change (table, no countdown): 112 of 329 (34.0 %) and 441 of 501
(88.0 %), and it printed 0:00 for 31 and 9 seconds while a run still went on.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from finance_assets.lib.progress import (
    CHECKS_SHARE,
    FLOOR_SECONDS,
    RISE_PER_SECOND,
    RUN_COSTS,
    UNKNOWN_RUN,
    Countdown,
    EtaEstimator,
    PastRun,
    RunCost,
    learned_costs,
)

RECORDED = json.loads((Path(__file__).parent / "data" / "demo_run_timelines.json").read_text())
DEMO_YEARS = RECORDED["history_years"]
FIRST, SECOND = RECORDED["demos"]


def past_runs(demo: list[dict]) -> list[PastRun]:
    """What the CLI reads from an instance that holds `demo`'s runs (each partition's time to the second)."""
    return [PastRun.from_times(r["job"], r["end"] - r["start"], _partition_seconds(r)) for r in demo]


def _partition_seconds(run: dict) -> list[float]:
    by_second = run["done_by_second"]
    return [float(s) for s in range(len(by_second)) for _ in range(by_second[s] - (by_second[s - 1] if s else 0))]


def replay(
    demo: list[dict], costs=RUN_COSTS, shown_from_start: bool = False
) -> list[tuple[float, float | None, float]]:
    """(time, ETA shown or None, real time left) at every whole second of `demo`, fed to the estimator
    and the countdown as the CLI's Progress feeds them: each run's start, its partitions as polled
    each second, its end. Like the CLI, no ETA before the first run has finished unless every job's
    cost was learned (`shown_from_start`)."""
    estimator = EtaEstimator([(r["job"], r["partitions"]) for r in demo], DEMO_YEARS, costs)
    countdown = Countdown()
    end = demo[-1]["end"]
    samples, t = [], 0.0
    while t < end:
        for index, run in enumerate(demo):
            if run["start"] <= t and estimator.runs[index].started is None:
                estimator.start(index, run["start"])
            if run["end"] <= t and estimator.runs[index].finished is None:
                estimator.finish(index, run["end"])
            if run["start"] <= t < run["end"]:
                by_second = run["done_by_second"]
                estimator.progress(index, by_second[min(int(t - run["start"]), len(by_second) - 1)], t)
        finished = any(r.finished is not None for r in estimator.runs)
        shown = countdown.show(estimator.remaining(t), t) if finished or shown_from_start else None
        samples.append((t, shown, end - t))
        t += 1.0
    return samples


def share_within_half(samples, after: float = 0.2) -> tuple[int, int]:
    """(ETAs within 50 % of the real time left, ETAs) once `after` of the time has passed; a second
    with no ETA shown counts as a miss."""
    total = samples[-1][0] + samples[-1][2]
    late = [(eta, left) for t, eta, left in samples if t >= after * total]
    within = sum(1 for eta, left in late if eta is not None and abs(eta - left) <= 0.5 * left)
    return within, len(late)


# ---------------------------------------------------------------------------------------------
# The recorded runs


@pytest.mark.parametrize(
    ("history", "timeline"), [(FIRST, SECOND), (SECOND, FIRST)], ids=["first->second", "second->first"]
)
def test_learned_costs_put_nine_in_ten_etas_within_half_after_a_fifth(history, timeline):
    within, count = share_within_half(replay(timeline, learned_costs(past_runs(history)), shown_from_start=True))
    assert within >= 0.9 * count, f"{within} of {count} within 50 %"


def test_the_measure_tells_a_good_model_from_a_bad_one():
    """The same count falls short when one job's learned cost is stale: a history in which the market
    runs cost a third of what they cost now (as runs of another partition scheme could, which is why the
    CLI learns only from runs whose keys have the plan's form). A machine uniformly faster or slower
    than its history is what the speed factor corrects; one job off is not. So the test above can fail,
    and so does the hand-fitted table on these runs (the report's figures)."""
    stale = [
        replace(r, seconds=r.seconds / 3, first_partition_after=r.first_partition_after / 3)
        if r.job == "market_job"
        else r
        for r in past_runs(FIRST)
    ]
    within, count = share_within_half(replay(SECOND, learned_costs(stale), shown_from_start=True))
    assert within < 0.9 * count, f"{within} of {count} within 50 %"
    within, count = share_within_half(replay(SECOND))
    assert within < 0.9 * count, f"the table: {within} of {count} within 50 %"


@pytest.mark.parametrize("demo", [FIRST, SECOND], ids=["first", "second"])
@pytest.mark.parametrize("learned", [True, False], ids=["learned", "table"])
def test_never_zero_while_a_run_goes_on_and_never_jumps_up_twofold(demo, learned):
    costs = learned_costs(past_runs(SECOND if demo is FIRST else FIRST)) if learned else RUN_COSTS
    shown = [eta for _, eta, _ in replay(demo, costs, shown_from_start=learned) if eta is not None]
    assert min(shown) >= FLOOR_SECONDS
    rises = [later / earlier for earlier, later in zip(shown, shown[1:], strict=False)]
    assert max(rises) <= 2.0


def test_recorded_runs_are_whole():
    """The fixture holds what the CLI plans for the demo: the seven run groups, every partition in."""
    for demo in (FIRST, SECOND):
        assert [r["job"] for r in demo] == [
            "ticker_map_job",
            "sec_job",
            "actions_job",
            "snapshots_job",
            "market_job",
            "panel_job",
            "report_job",
        ]
        for run in demo:
            assert run["done_by_second"][-1] == run["partitions"]
            assert len(run["done_by_second"]) == math.ceil(run["end"] - run["start"]) + 1


# ---------------------------------------------------------------------------------------------
# Learning the costs


def test_runs_of_different_sizes_give_start_up_and_per_partition_cost():
    history = [PastRun("market_job", p, 20.0 + 0.5 * p, 5.0) for p in (10, 40, 100)]
    cost = learned_costs(history)["market_job"]
    assert cost.fixed == pytest.approx(20.0) and cost.compute == pytest.approx(0.5)
    assert cost.waiting_per_year == 0.0  # the measured seconds hold the wait already


def test_a_past_runs_progress_is_the_share_of_its_time_by_each_tenth_of_its_partitions():
    # 20 partitions: 5 at 10 s, 5 at 30 s, 10 at 90 s of a 100 s run
    run = PastRun.from_times("market_job", 100.0, [10.0] * 5 + [30.0] * 5 + [90.0] * 10)
    assert run.partitions == 20 and run.first_partition_after == 10.0
    assert run.progress == (0.1, 0.1, 0.3, 0.3, 0.3, 0.9, 0.9, 0.9, 0.9, 0.9)
    cost = learned_costs([run, PastRun.from_times("market_job", 100.0, [30.0] * 20)])["market_job"]
    assert cost.runs == 2 and cost.progress[0] == pytest.approx(0.2) and cost.progress[-1] == pytest.approx(0.6)


def test_between_its_tenths_a_run_is_kept_where_its_earlier_runs_say():
    """Half its partitions in at 50 s, where the earlier runs had them at a quarter of their time, the
    next tenth at half: the run takes 100 to 200 s, whatever its expected length."""
    progress = (0.1, 0.1, 0.2, 0.2, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9)
    for expected, length in ((60.0, 100.0), (150.0, None), (500.0, 200.0)):
        estimator = EtaEstimator(
            [("market_job", 100)], 1.0, {"market_job": RunCost(expected, runs=1, progress=progress)}
        )
        estimator.start(0, 0.0)
        estimator.progress(0, 50, 50.0)
        left = estimator.remaining(50.0)
        if length is None:
            assert 50.0 < left < 150.0
        else:
            assert left == pytest.approx(length - 50.0)


def test_runs_of_one_size_split_at_their_first_partition():
    history = [PastRun("panel_job", 40, 30.0, 10.0), PastRun("panel_job", 40, 34.0, 12.0)]
    cost = learned_costs(history)["panel_job"]
    assert cost.fixed == pytest.approx(11.0)
    assert cost.scaled_seconds(40) == pytest.approx(32.0)  # the mean of the two
    assert cost.progress == ()  # no partition times given


def test_a_job_never_run_keeps_the_table():
    costs = learned_costs([PastRun("market_job", 100, 60.0, 20.0)])
    assert costs["report_job"] == RUN_COSTS["report_job"]
    assert costs["market_job"] != RUN_COSTS["market_job"]
    assert costs.get("prices_job", UNKNOWN_RUN) == UNKNOWN_RUN


def test_the_cli_learns_only_from_runs_whose_keys_have_the_plans_form():
    """A run group whose partition scheme changed (ticker x month -> month) starts afresh."""
    from finance_assets.cli import _key_form

    assert _key_form("2025-01|ACMQ") == ("date", "name")
    assert _key_form("2025-01") == ("date",) != _key_form("2025-01|ACMQ")
    assert _key_form("ACMQ") == ("name",)
    assert _key_form(None) == ()


# ---------------------------------------------------------------------------------------------
# Within a run


def test_past_half_its_partitions_a_run_is_also_judged_by_its_own_rate():
    """Past half of its partitions: the mean of the countdown and the run's own rate since its first
    partition (plus a tenth of the run for its checks)."""
    estimator = EtaEstimator([("report_job", 1000)], history_years=2.0)
    expected = RUN_COSTS["report_job"].scaled_seconds(1000)
    estimator.start(0, 0.0)
    estimator.progress(0, 1, 10.0)
    estimator.progress(0, 400, 40.0)
    assert estimator.remaining(40.0) == pytest.approx(expected - 40.0)  # under half: the countdown
    estimator.progress(0, 900, 50.0)
    by_rate = 40.0 * 100 / 900 + CHECKS_SHARE * expected
    assert estimator.remaining(50.0) == pytest.approx(((expected - 50.0) + by_rate) / 2)


def test_past_its_expected_end_a_run_is_judged_by_its_rate_since_its_start_not_zero():
    """A fifth of its partitions in at twice its expected length: four times as long again (the rate
    since its start: the first partitions are the cheap ones), where the countdown alone says 0."""
    estimator = EtaEstimator([("report_job", 1000)], history_years=2.0)
    late = 2 * RUN_COSTS["report_job"].scaled_seconds(1000)
    estimator.start(0, 0.0)
    estimator.progress(0, 200, late)
    expected_now = estimator.speed(late) * RUN_COSTS["report_job"].scaled_seconds(1000)
    assert expected_now < late  # the countdown is over
    assert estimator.remaining(late) == pytest.approx(late * 800 / 200 + CHECKS_SHARE * expected_now)


def test_past_its_expected_end_with_nothing_in_a_run_is_as_long_again():
    estimator = EtaEstimator([("panel_job", 50)], history_years=2.0)
    expected = RUN_COSTS["panel_job"].scaled_seconds(50)
    estimator.start(0, 0.0)
    assert estimator.remaining(3 * expected) == pytest.approx(3 * expected)


def test_with_every_partition_in_only_the_checks_are_left_and_the_last_run_is_finishing():
    estimator = EtaEstimator([("panel_job", 50), ("report_job", 100)], history_years=2.0)
    estimator.start(0, 0.0)
    estimator.progress(0, 50, 10.0)
    assert not estimator.finishing()  # the report run is still to come
    estimator.finish(0, 12.0)
    estimator.start(1, 12.0)
    estimator.progress(1, 100, 40.0)
    assert estimator.finishing()
    assert estimator.remaining(40.0 + 1e6) == FLOOR_SECONDS  # checks past their time: never 0


def test_counts_down_within_a_run_and_is_zero_when_all_finished():
    estimator = EtaEstimator([("panel_job", 50)], history_years=2.0)
    assert estimator.remaining(0.0) == pytest.approx(RUN_COSTS["panel_job"].scaled_seconds(50))
    estimator.start(0, 0.0)
    assert estimator.remaining(10.0) == pytest.approx(RUN_COSTS["panel_job"].scaled_seconds(50) - 10.0)
    estimator.finish(0, 30.0)
    assert estimator.remaining(31.0) == 0.0


def test_the_countdown_falls_at_once_and_rises_gradually():
    countdown = Countdown()
    assert countdown.show(100.0, 0.0) == 100.0
    assert countdown.show(50.0, 1.0) == 50.0  # good news at once
    rising = countdown.show(400.0, 2.0)  # one poll later the estimate is 8 times higher
    assert rising == pytest.approx(49.0 + RISE_PER_SECOND * 49.0 + 1.0)
    shown = [countdown.show(400.0, 2.0 + s) for s in range(1, 30)]
    assert shown[-1] == pytest.approx(400.0)  # an estimate that stays is reached


# ---------------------------------------------------------------------------------------------
# The table on simulated machines (a job never run before: the table and the speed factor alone)


def simulated(plan, speed: float, years: float = DEMO_YEARS) -> list[dict]:
    """A demo on a machine `speed` times slower than the table, partitions coming in evenly after the
    first 30 % of each run; SEC's rate limit is the same everywhere."""
    runs, t = [], 0.0
    for job, partitions in plan:
        cost = RUN_COSTS[job]
        seconds = speed * cost.scaled_seconds(partitions) + cost.waiting_seconds(partitions, years)
        by_second = [
            min(partitions, int(partitions * max(s - 0.3 * seconds, 0.0) / (0.65 * seconds)))
            for s in range(math.ceil(seconds) + 1)
        ]
        by_second[-1] = partitions
        runs.append({"job": job, "partitions": partitions, "start": t, "end": t + seconds, "done_by_second": by_second})
        t += seconds
    return runs


DEMO_PLAN = [(r["job"], r["partitions"]) for r in SECOND]


@pytest.mark.parametrize("speed", [1.0, 3.0, 6.0])
def test_on_a_machine_never_run_before_the_table_is_rescaled_by_the_runs_finished(speed):
    """As fast as the table or slower. On a machine several times faster, the SEC run's wait (the same
    everywhere) fills the first fifth of the time and the prior speed holds until then (0.25: 66 %)."""
    runs = simulated(DEMO_PLAN, speed)
    within, count = share_within_half(replay(runs))
    assert within >= 0.9 * count, f"{within} of {count} within 50 %"


def test_the_sec_runs_waiting_does_not_set_the_speed_of_the_others():
    """With ten years of SEC documents the SEC run waits minutes on SEC's 10 requests/s whatever the
    machine; counted as compute, that wait would say a machine 4 times faster than the table is slow."""
    years = 10.92
    runs = simulated(DEMO_PLAN, speed=0.25, years=years)
    as_compute = {
        job: RunCost(cost.fixed, cost.compute + cost.waiting_seconds(1, years)) for job, cost in RUN_COSTS.items()
    }
    apart = EtaEstimator(DEMO_PLAN, years)
    lumped = EtaEstimator(DEMO_PLAN, years, as_compute)
    for estimator in (apart, lumped):
        estimator.start(0, 0.0)
        estimator.finish(0, runs[0]["end"])
        estimator.start(1, runs[1]["start"])
        estimator.finish(1, runs[1]["end"])
    truth = runs[-1]["end"] - runs[1]["end"]
    assert abs(apart.remaining(runs[1]["end"]) - truth) <= 0.5 * truth
    assert abs(lumped.remaining(runs[1]["end"]) - truth) > 0.5 * truth


def test_sec_waiting_follows_the_history_length():
    short = EtaEstimator([("sec_job", 65)], history_years=1.0).remaining(0.0)
    long = EtaEstimator([("sec_job", 65)], history_years=10.0).remaining(0.0)
    assert long - short == pytest.approx(RUN_COSTS["sec_job"].waiting_per_year * 65 * 9.0)
