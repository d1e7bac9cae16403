"""How long a backfill has left: pure arithmetic over the plan and the runs seen so far (no Dagster).

A backfill is a list of runs (planning.RunStep: a job and its asset partition count). Each run's
cost is modeled as

    seconds = fixed + compute * partitions + waiting_per_year * partitions * years of history

`fixed` is the run's start-up, `compute` the work per asset partition and `waiting_per_year` the time
per partition and year of history spent waiting on SEC's 10 requests/s (the SEC run's
`filing_documents` fetches every document filed since the history start, however fast the machine).

Where the costs come from: the Dagster instance's own earlier successful runs of the same job
(`learned_costs` over `PastRun`s the CLI reads from the instance: each run's length, partitions and
when each tenth of its partitions came in), so they follow the code and the machine without anyone
refitting them; RUN_COSTS, fitted by hand once, only for a job the instance has never run. A learned
cost already holds the run's waiting at the history length it ran with.

How the estimate moves during a backfill (`EtaEstimator`): runs not yet started add their cost at the
speed the finished runs showed against their modeled cost (an earlier run on this machine counts as
evidence too: LEARNED_PRIOR). The run in progress: with learned costs, its length is the expected one
blended with its own pace (when its latest tenth of partitions came in, against when the earlier runs
had it) and kept between what its tenths so far allow; with the table, its expected length counts
down, corrected by its own partition rate past half its partitions. Past its expected end it is judged
by its own progress alone: never 0 while it runs. `Countdown` is what the progress line shows: it falls
with the clock at once and follows a rising estimate only gradually.

Measured on two recorded `finance-assets demo` runs (finance_assets_tests/lib/test_progress.py): after
20 % of the time, 90.6 % and 99.7 % of the ETAs within 50 % of the real time left with the costs learned
from the other run; 36.2 % and 86.2 % with the table alone; the estimator before (table only, no
countdown) 34.0 % and 88.0 %, and it showed 0:00 for 31 and 9 s while the last run still went on. A
`backfill --force` after a demo on the month partition scheme, learning from the demo's runs (it ran
faster: SEC documents already stored, less load): 86.4 % (the table: 38.6 %).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RunCost:
    """Seconds of one run at the reference speed: start-up plus, per asset partition, compute and
    time spent waiting on a rate limit."""

    fixed: float
    compute: float = 0.0
    waiting_per_year: float = 0.0
    # learned from this many earlier runs (0: the hand-fitted table), and the share of their time by
    # which each tenth of their partitions was in (PastRun.progress, averaged)
    runs: int = 0
    progress: tuple[float, ...] = ()

    def scaled_seconds(self, partitions: int) -> float:
        """The part that follows the machine's speed."""
        return self.fixed + self.compute * partitions

    def waiting_seconds(self, partitions: int, history_years: float) -> float:
        return self.waiting_per_year * partitions * history_years


# The fallback for a job this instance has never run: measured by hand on `finance-assets demo`
# (13 tickers, 2025-01..2026-11: 2,318 asset partitions, 1.9 years of SEC documents; 2 cores shared
# with other work; 2026-12-06 17:00). It goes stale whenever a run group's code changes; the costs
# learned from the instance's own runs (learned_costs) do not.
RUN_COSTS: dict[str, RunCost] = {
    "ticker_map_job": RunCost(fixed=6.7),
    # 22.6 documents per ticker and year at 10 requests/s, over the run's 5 partitions per ticker
    "sec_job": RunCost(fixed=8.0, compute=0.42, waiting_per_year=0.45),
    "snapshots_job": RunCost(fixed=3.1),
    "actions_job": RunCost(fixed=5.0, compute=0.5),
    "market_job": RunCost(fixed=58.0, compute=0.141),
    "panel_job": RunCost(fixed=6.0, compute=0.117),
    "report_job": RunCost(fixed=30.0, compute=0.023),
}
UNKNOWN_RUN = RunCost(fixed=10.0, compute=0.3)  # a job neither in the table nor run before


# ---------------------------------------------------------------------------------------------
# Costs learned from the instance's earlier runs

HISTORY_RUNS = 3  # the newest successful runs of a job its cost is learned from
TENTHS = 10  # a run's progress is kept as the share of its time by which each tenth of its partitions was in


@dataclass(frozen=True)
class PastRun:
    """An earlier successful run of a job, as the Dagster instance recorded it."""

    job: str
    partitions: int  # asset partitions it materialized
    seconds: float  # from its start to its end
    first_partition_after: float  # seconds from its start to its first materialization
    # the share of its time by which each tenth of its partitions was in: a run's partitions come in
    # batches (the market run's prices, a quarter of them, at a third of its time; its sentiment last)
    progress: tuple[float, ...] = ()

    @classmethod
    def from_times(cls, job: str, seconds: float, partition_seconds: Sequence[float]) -> PastRun:
        """From its length and when (seconds from its start) each partition was materialized."""
        times = sorted(partition_seconds)
        progress = tuple(
            min(times[max(math.ceil(tenth * len(times) / TENTHS) - 1, 0)] / seconds, 1.0)
            for tenth in range(1, TENTHS + 1)
        )
        return cls(job, len(times), seconds, times[0], progress)


def learned_costs(history: Iterable[PastRun], table: Mapping[str, RunCost] = RUN_COSTS) -> dict[str, RunCost]:
    """Each job's cost from its own earlier runs (`history`: the newest HISTORY_RUNS per job); the
    table's entry for a job with none. Only runs like the coming ones belong in `history` (the CLI
    passes runs whose partition keys have the same form: a new partition scheme starts afresh)."""
    by_job: dict[str, list[PastRun]] = {}
    for run in history:
        if run.partitions > 0 and run.seconds > 0:
            by_job.setdefault(run.job, []).append(run)
    costs = dict(table)
    costs.update({job: _fit(runs) for job, runs in by_job.items()})
    return costs


def _fit(runs: Sequence[PastRun]) -> RunCost:
    """Start-up plus a cost per partition, and the runs' progress averaged. Runs of different sizes
    give both costs by least squares; runs of one size split at the first materialization (the time
    before it does not grow with the partitions left)."""
    profiles = [run.progress for run in runs if len(run.progress) == TENTHS]
    progress = tuple(statistics.fmean(shares) for shares in zip(*profiles, strict=True)) if profiles else ()
    if len({run.partitions for run in runs}) > 1:
        mean_p = statistics.fmean(run.partitions for run in runs)
        mean_s = statistics.fmean(run.seconds for run in runs)
        spread = sum((run.partitions - mean_p) ** 2 for run in runs)
        compute = sum((run.partitions - mean_p) * (run.seconds - mean_s) for run in runs) / spread
        fixed = mean_s - compute * mean_p
        if compute >= 0 and fixed >= 0:
            return RunCost(fixed=fixed, compute=compute, runs=len(runs), progress=progress)
    fixed = statistics.median(min(run.first_partition_after, run.seconds) for run in runs)
    per_partition = [(run.seconds - fixed) / run.partitions for run in runs]
    return RunCost(fixed=fixed, compute=max(statistics.fmean(per_partition), 0.0), runs=len(runs), progress=progress)


# ---------------------------------------------------------------------------------------------
# The estimate during a backfill

# How many reference seconds of evidence the reference speed (1.0) counts for while the finished runs'
# modeled seconds are fewer: the ticker-map run alone does not set the speed of everything after it.
PRIOR_SECONDS = 30.0
# An earlier run's modeled seconds count as this share of evidence for the speed: a little, so that one
# run slowed by a passing load does not rescale all the rest, and not more, or a history slower than now
# (a loaded machine then, stored SEC documents now) holds the estimate up. Chosen for the best worst case
# over four recorded pairs (history -> run: 90.6, 99.7, 86.4, 99.2 %; 0.5: 97.8, 96.0, 56.4, 99.2 %;
# 0: 87.2, 99.7, 91.4, 98.3 %).
LEARNED_PRIOR = 0.1

# A run's own partition rate is trusted once this share of its partitions is in: before that, the
# partitions that come first (prices before headlines, filings before documents) are the cheap ones.
RATE_FROM = 0.5
CHECKS_SHARE = 0.1  # of a run's expected length, for its asset checks after the last partition
FLOOR_SECONDS = 1.0  # the least a run still going is said to have left


@dataclass
class _Run:
    job: str
    partitions: int
    cost: RunCost
    started: float | None = None
    finished: float | None = None
    done: int = 0  # partitions materialized so far
    first_done: float | None = None  # when the first one was
    last_change: float | None = None  # when `done` last grew
    tenths: int = 0  # tenths of its partitions in
    tenths_at: float | None = None  # when the last of them came in


class EtaEstimator:
    """Feed it the runs' starts, partitions and ends as they happen; `remaining(now)` is the time left
    in seconds.

    The speed factor is (actual - waiting) / (modeled start-up + compute) over the finished runs,
    pulled toward 1.0 by PRIOR_SECONDS at first and by the learned costs' own runs (LEARNED_PRIOR); a
    run still going past its expected end raises it (the machine is slower than measured so far). The
    run in progress: with learned costs, its own pace against its earlier runs' (_left_by_progress);
    with the table, its expected duration counted down and corrected by its own rate (_left_in_run).
    Runs not yet started add their modeled cost at that speed plus their waiting."""

    def __init__(self, runs: Sequence[tuple[str, int]], history_years: float, costs: Mapping[str, RunCost] = RUN_COSTS):
        """`runs`: (job, asset partitions) in order; `history_years`: from the history start to the clock;
        `costs`: RUN_COSTS, or learned_costs(the instance's earlier runs)."""
        self.runs = [_Run(job, partitions, costs.get(job, UNKNOWN_RUN)) for job, partitions in runs]
        self.history_years = history_years

    def _waiting(self, run: _Run) -> float:
        return run.cost.waiting_seconds(run.partitions, self.history_years)

    def start(self, index: int, now: float) -> None:
        self.runs[index].started = now

    def progress(self, index: int, done_partitions: int, now: float) -> None:
        """`done_partitions` of run `index` are materialized by `now`."""
        run = self.runs[index]
        if done_partitions > 0 and run.first_done is None:
            run.first_done = now
        done = min(done_partitions, run.partitions)
        if done > run.done:
            run.last_change = now
        run.done = done
        tenths = min(done * TENTHS // run.partitions, TENTHS) if run.partitions else 0
        if tenths > run.tenths:
            run.tenths, run.tenths_at = tenths, now

    def finish(self, index: int, now: float) -> None:
        run = self.runs[index]
        if run.started is None:
            run.started = now
        run.finished = now

    def speed(self, now: float) -> float:
        """Seconds per reference second of the scaled work (1.0: as fast as the costs say)."""
        actual = modeled = 0.0
        for run in self.runs:
            if run.finished is not None:
                actual += max(run.finished - run.started - self._waiting(run), 0.0)
                modeled += run.cost.scaled_seconds(run.partitions)
        if modeled < PRIOR_SECONDS:  # the prior only while the evidence is smaller than it
            actual, modeled = actual + PRIOR_SECONDS, modeled + PRIOR_SECONDS
        # costs learned on this machine are evidence of the same kind: the earlier runs count for
        # LEARNED_PRIOR of the plan's modeled seconds (a run slowed by a passing load does not rescale
        # all the rest at once)
        learned = LEARNED_PRIOR * sum(run.cost.scaled_seconds(run.partitions) for run in self.runs if run.cost.runs)
        actual, modeled = actual + learned, modeled + learned
        speed = actual / modeled
        current = self._current()
        if current is not None:
            # the run in progress, if already past its expected end, shows the speed is at most this
            elapsed = now - current.started - self._waiting(current)
            scaled = current.cost.scaled_seconds(current.partitions)
            if elapsed > speed * scaled:
                speed = max(speed, (actual + elapsed) / (modeled + scaled))
        return speed

    def remaining(self, now: float) -> float:
        speed = self.speed(now)
        left = 0.0
        for run in self.runs:
            expected = self._waiting(run) + speed * run.cost.scaled_seconds(run.partitions)
            if run.finished is not None:
                continue
            if run.started is None:
                left += expected
            else:
                left += self._left_in_run(run, expected, now)
        return left

    def finishing(self) -> bool:
        """Only the last run's asset checks are left: every run started, the last one's partitions in."""
        unfinished = [run for run in self.runs if run.finished is None]
        return (
            len(unfinished) == 1
            and unfinished[0].started is not None
            and unfinished[0].done >= unfinished[0].partitions
        )

    @staticmethod
    def _left_in_run(run: _Run, expected: float, now: float) -> float:
        """The run's expected duration counted down; once RATE_FROM of its partitions are in, the mean of
        that and what its own rate since the first one says. Past its expected end: its own rate (since
        its start while fewer than RATE_FROM are in: the cheap partitions come first), or with nothing
        in yet, as long again as it has taken. Never below FLOOR_SECONDS: the run is still going."""
        elapsed = now - run.started
        if run.cost.progress:
            return EtaEstimator._left_by_progress(run, expected, elapsed)
        countdown = expected - elapsed
        checks = CHECKS_SHARE * expected  # asset checks after the last partition
        if run.done >= run.partitions:
            since_last = now - (run.last_change if run.last_change is not None else now)
            return max(checks - since_last, FLOOR_SECONDS)
        if run.first_done is None or run.done == 0:
            return countdown if countdown > FLOOR_SECONDS else max(elapsed, FLOOR_SECONDS)
        trusted = run.done >= RATE_FROM * run.partitions
        measured_over = now - run.first_done if trusted else elapsed
        by_rate = measured_over * (run.partitions - run.done) / run.done + checks
        if countdown > FLOOR_SECONDS:
            return (countdown + by_rate) / 2 if trusted else countdown
        return max(by_rate, FLOOR_SECONDS)

    @staticmethod
    def _left_by_progress(run: _Run, expected: float, elapsed: float) -> float:
        """A run whose earlier runs showed when each tenth of their partitions came in: its length is
        the expected one, kept between what its partitions so far say. With k tenths in, it is at least
        at the share of its time where the earlier runs had k tenths (length <= elapsed / that share)
        and short of where they had the next tenth (length > elapsed / that share)."""
        tenths = run.tenths
        reached = run.cost.progress[tenths - 1] if tenths else 0.0
        next_share = run.cost.progress[tenths] if tenths < TENTHS else 1.0
        length = expected
        if reached > 0 and run.tenths_at is not None:
            # its own pace (when its last tenth came in, against when the earlier runs had it) counts for
            # as much as the run is through
            own = (run.tenths_at - run.started) / reached
            length = reached * own + (1 - reached) * expected
        if next_share > 0:
            length = max(length, elapsed / next_share)
        if reached > 0:
            length = min(length, elapsed / reached)
        return max(length - elapsed, FLOOR_SECONDS)

    def fraction_done(self, now: float) -> float:
        """Share of the modeled time behind us, at the current speed (for deciding when to show an ETA)."""
        left = self.remaining(now)
        behind = sum((run.finished or now) - run.started for run in self.runs if run.started is not None)
        return behind / (behind + left) if behind + left > 0 else 1.0

    def _current(self) -> _Run | None:
        return next((r for r in self.runs if r.started is not None and r.finished is None), None)


# ---------------------------------------------------------------------------------------------
# What the progress line shows

RISE_PER_SECOND = 0.2  # a rising estimate is followed by at most this share of the shown value a second


class Countdown:
    """The ETA as shown: it falls with the clock, drops at once to a lower estimate, and follows a
    higher one by at most RISE_PER_SECOND of itself per second (plus a second), so one late poll or
    one batch of partitions does not make it jump up; an estimate that stays higher is reached within
    seconds. It is never 0 while the estimate is not."""

    def __init__(self) -> None:
        self.shown: float | None = None
        self.at: float | None = None

    def show(self, estimate: float, now: float) -> float:
        if self.shown is None:
            shown = estimate
        else:
            step = max(now - self.at, 0.0)
            counted = max(self.shown - step, 0.0)
            ceiling = counted + (RISE_PER_SECOND * counted + 1.0) * step
            shown = min(estimate, ceiling)
            if estimate > 0:
                shown = max(shown, min(estimate, FLOOR_SECONDS))
        self.shown, self.at = shown, now
        return shown
