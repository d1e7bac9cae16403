"""How long a backfill has left: pure arithmetic over the plan and the runs seen so far (no Dagster).

A backfill is a list of runs (planning.RunStep: a job and its asset partition count). Each run's
cost is modeled as

    seconds = fixed + compute * partitions + waiting_per_year * partitions * years of history

`fixed` is the run's start-up (launch, loading the job on the workers, the first step), `compute`
the work per asset partition and `waiting_per_year` the time per partition and year of history spent
waiting on a rate limit: the SEC run's `filing_documents` fetches every document filed since the
history start (FINANCE_ASSETS_HISTORY_START) through SEC's 10 requests/s, however fast the machine
is (the demo: 22.6 documents per ticker and year, 3,171 documents in 5.7 min from 2016, 565 in 64 s
from 2025). Compute and start-up are scaled by the speed this machine shows on the runs already
finished; waiting is not.

Within a run, its expected duration counts down; once half its partitions are in, the estimate is the
mean of that countdown and what the run's own rate since its first partition says (before that, the
partitions that came first are the cheap ones: filings before documents, prices before headlines), and
the rate alone once the run is past its expected end.

Why the estimate before this was off (`finance-assets demo` on 2 cores shared with other work,
2026-12-06, every printed ETA against the real time left): it scaled one fixed table (fitted before
`filing_documents` existed, the SEC run at 17 s) by a single machine-speed factor. The SEC run took
368 s, 21 times its table entry, almost all of it waiting on SEC, while the other runs took 5 to 8
times theirs; the speed measured on the SEC run made every later run look slower than it was: once
20 % of the partitions were done, 346 of the 378 ETAs printed were off by more than 50 %, up to 3.7
times the real time left (counting partitions alike: 375 of 378, up to 5.6 times; a SEC partition cost
17 times a market one). Here the waiting is kept apart from the speed, the table holds each run group's
measured cost, and a run's own rate corrects its countdown. Replayed over the run the table was measured
on, 3 of the 266 ETAs after 20 % of the time are off by more than 50 % (at most 1.56 times, while the
market run waits on its headlines); over the runs recorded on older code that day, whose report run cost
2.7 times more, up to half of them are: a stale table entry is the error left (see RUN_COSTS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RunCost:
    """Seconds of one run at the reference speed: start-up plus, per asset partition, compute and
    time spent waiting on a rate limit."""

    fixed: float
    compute: float = 0.0
    waiting_per_year: float = 0.0

    def scaled_seconds(self, partitions: int) -> float:
        """The part that follows the machine's speed."""
        return self.fixed + self.compute * partitions

    def waiting_seconds(self, partitions: int, history_years: float) -> float:
        return self.waiting_per_year * partitions * history_years


# Measured on `finance-assets demo` (13 tickers, 2025-01..2026-11: 2,318 asset partitions, 1.9 years of
# SEC documents; 2 cores shared with other work; 2026-12-06 17:00, after the report run started reading
# its inputs in one DuckDB connection, which made it 2.7 times faster): ticker map 6.7 s; SEC 65 partitions
# 91 s, of which ~56 s waiting on SEC's 10 requests/s for 565 documents; corporate actions 13 partitions
# 11.6 s; snapshots 3.1 s; market 1,196 partitions 227 s (first partition 59 s in); panel 46 partitions
# 11.4 s; report 996 partitions 53 s (first partition 31 s in). Only the scaled parts' ratios matter: the
# estimate rescales them by the speed of the runs already finished. A run group whose cost changes
# (new assets, faster code) needs its entry measured again: a stale entry is the largest error left.
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
UNKNOWN_RUN = RunCost(fixed=10.0, compute=0.3)  # a job not in the table (update's single-asset jobs)

# How many reference seconds of evidence the reference speed (1.0) counts for while the finished runs'
# modeled seconds are fewer: the ticker-map run alone (start-up only: 3.6 s on one version of the code,
# 10.7 s on the next) does not set the speed of everything after it.
PRIOR_SECONDS = 30.0


# A run's own partition rate is trusted once this share of its partitions is in: before that, the
# partitions that come first (prices before headlines, filings before documents) are the cheap ones.
RATE_FROM = 0.5
CHECKS_SHARE = 0.1  # of a run's expected length, for its asset checks after the last partition


@dataclass
class _Run:
    job: str
    partitions: int
    cost: RunCost
    started: float | None = None
    finished: float | None = None
    done: int = 0  # partitions materialized so far
    first_done: float | None = None  # when the first one was


class EtaEstimator:
    """Feed it the runs' starts, partitions and ends as they happen; `remaining(now)` is the time left
    in seconds.

    The speed factor is (actual - waiting) / (modeled start-up + compute) over the finished runs,
    pulled toward 1.0 by PRIOR_SECONDS at first; a run still going past its expected end raises it (the
    machine is slower than measured so far). The run in progress counts down from its expected
    duration, corrected by its own rate past half its partitions (_left_in_run); runs not yet started
    add their modeled cost at that speed plus their waiting."""

    def __init__(self, runs: Sequence[tuple[str, int]], history_years: float, costs: Mapping[str, RunCost] = RUN_COSTS):
        """`runs`: (job, asset partitions) in order; `history_years`: from the history start to the clock."""
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
        run.done = min(done_partitions, run.partitions)

    def finish(self, index: int, now: float) -> None:
        run = self.runs[index]
        if run.started is None:
            run.started = now
        run.finished = now

    def speed(self, now: float) -> float:
        """Seconds per reference second of the scaled work (1.0: as fast as the table)."""
        actual = modeled = 0.0
        for run in self.runs:
            if run.finished is not None:
                actual += max(run.finished - run.started - self._waiting(run), 0.0)
                modeled += run.cost.scaled_seconds(run.partitions)
        if modeled < PRIOR_SECONDS:  # the prior only while the evidence is smaller than it
            actual, modeled = actual + PRIOR_SECONDS, modeled + PRIOR_SECONDS
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

    @staticmethod
    def _left_in_run(run: _Run, expected: float, now: float) -> float:
        """The run's expected duration counted down; once RATE_FROM of its partitions are in, the mean of
        that and what its own rate since the first one says; past its expected end, the rate alone."""
        countdown = max(expected - (now - run.started), 0.0)
        if run.first_done is None or run.done < RATE_FROM * run.partitions:
            return countdown
        # after its last partition a run still evaluates its asset checks: up to a tenth of its length
        by_rate = (now - run.first_done) * (run.partitions - run.done) / run.done + CHECKS_SHARE * expected
        return (countdown + by_rate) / 2 if countdown > 0 else by_rate

    def fraction_done(self, now: float) -> float:
        """Share of the modeled time behind us, at the current speed (for deciding when to show an ETA)."""
        left = self.remaining(now)
        behind = sum((run.finished or now) - run.started for run in self.runs if run.started is not None)
        return behind / (behind + left) if behind + left > 0 else 1.0

    def _current(self) -> _Run | None:
        return next((r for r in self.runs if r.started is not None and r.finished is None), None)
