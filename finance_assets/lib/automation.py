"""Declarative automation: what keeps every asset current by itself, and how fresh each must be.

Dagster's built-in `eager()` / `on_missing()` only look at the latest time window and only react to
changes after they are applied, so a fresh universe would never get its history. The conditions here
fill every missing partition within `lookback_months()` of now, refresh the open month after each US
close, follow upstream updates (a new ticker, a re-run month, a new filing) to exactly the partitions
that read them, and never touch a partition that is already in progress or whose last run failed
(until the next daily cron tick, so a transient failure is retried once a day rather than in a loop).

| asset | partitions | requested when |
|---|---|---|
| ticker_cik_map | none | missing; daily at 06:00 New York (SEC rebuilds the file nightly) |
| filings, xbrl_facts | ticker | missing; weekly safety refresh (new filings arrive through the `new_sec_filings` sensor) |
| fundamentals | ticker | missing; its ticker's xbrl_facts / filings updated |
| fundamental_snapshots | none | missing (once every ticker's fundamentals exist); any fundamentals updated; a ticker's corporate_actions data version changed (a split rebases its EPS and shares) |
| corporate_actions | ticker | missing; after each close (16:30 New York) |
| prices, headlines, fx_rates | month | missing in the lookback (a missing headlines month waits for its ticker's filings); the open month after each close (16:30 New York); the month just closed once more after its end (so a month last built before it closed is completed) |
| technicals, sentiment | month | missing in the lookback; the same ticker's input months updated (a stored month at any age) |
| market_panel | month | missing in the lookback; any ticker's daily bars of a month it reads updated (at any age) |
| portfolio_report/holdings | weekday | missing in the lookback; a panel month it reads updated (a stored day at any age), unless only by runs for tickers it does not read (REPORT_READS_TAG); a new filing (filings, fundamentals or filing_text_signals updated) refreshes the latest report day only |

The automation sensor (`automation_sensor()`) evaluates them every minute (ticked by the daemon, evaluated
in the code server, so with our definitions' own code) and launches backfills (one run per range thanks to `BackfillPolicy.single_run()`). Month partitions of the
daily bars hold every ticker; what a month lacks for one ticker (a ticker registered later, a ticker whose
corporate actions changed) is the market sync's work: `market_sync` (lib/coverage.py, planning.py), a
sensor beside this one, launches runs for those tickers alone, each with their market_panel rows of the same
months (a panel month rebuilt after its inputs is not requested again here for every ticker). Like the other
sensors they are STOPPED unless FINANCE_ASSETS_AUTOMATION=on.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable, Sequence

import dagster as dg

from finance_assets.lib import config
from finance_assets.lib.holdings_file import read_portfolio
from finance_assets.lib.partitions import REPORT_READS_TAG, REPORT_UNREAD

NEW_YORK = "America/New_York"
AUTOMATION_SENSOR_NAME = "finance_assets_automation"
DEFAULT_LOOKBACK_MONTHS = 24  # the planner's default backfill window
AVERAGE_MONTH_DAYS = 365.2425 / 12

# US close is 16:00 New York (13:00 on early-close days); give the providers 30 minutes.
AFTER_CLOSE_CRON = "30 16 * * 1-5"
# The month just closed is fetched once more after its end: a month last built before its final
# session closed (a mid-month run, a skipped day) is completed, however the days were launched.
MONTH_CLOSED_CRON = "30 16 1 * *"
CIK_MAP_CRON = "0 6 * * *"  # SEC rebuilds company_tickers*.json overnight
SEC_SAFETY_CRON = "0 3 * * 6"  # Saturday 03:00: catch filings the sensor missed while the daemon was down
FAILED_RETRY_CRON = "0 5 * * *"  # a partition whose last run failed is retried once a day, not every tick

SEC_FETCHING = ("ticker_cik_map", "filings", "xbrl_facts")
DAILY_BAR_ROOTS = ("prices", "headlines", "fx_rates")  # fx_rates: ECB fixings, per month like the bars
DAILY_BAR_DERIVED = ("technicals", "sentiment")
REPORT_OUTPUTS = ("portfolio_report", "portfolio_holdings")
# What a new filing reaches the report through (key prefixes: no error for a key not in the graph): its
# fundamentals, its text signals (the report's latest filing per holding) and the filings themselves (the
# holdings' sectors, from the SIC code of the latest filing known by the day), per-ticker dependencies.
FILING_INPUTS = dg.AssetSelection.key_prefixes(
    ["fundamentals"], ["fundamental_snapshots"], ["filing_text_signals"], ["filings"]
)

AC = dg.AutomationCondition


def lookback_months() -> int:
    """FINANCE_ASSETS_AUTOMATION_LOOKBACK_MONTHS (validated in lib/config.py)."""
    return config.settings().automation_lookback_months


def lookback_delta(months: int) -> dt.timedelta:
    """The timedelta that makes `in_latest_time_window` cover the open month and `months` full months before it.

    Dagster measures it back from the end of the latest window (the 1st of next month) and takes the
    month partitions that start inside it. `months + 1` calendar months span at most
    (months + 1) x 30.44 days + 2, and `months + 2` at least (months + 2) x 30.44 days - 2, so
    half-way between is exactly right for every month of the year.
    """
    return dt.timedelta(days=round((months + 1.5) * AVERAGE_MONTH_DAYS, 3))


def _in_lookback(months: int) -> dg.AutomationCondition:
    return AC.in_latest_time_window(lookback_delta(months)).with_label(f"within {months} months")


def _retryable_missing() -> dg.AutomationCondition:
    """Missing, and either never failed or failed before the latest daily retry tick."""
    failed_recently = AC.execution_failed() & ~AC.cron_tick_passed(FAILED_RETRY_CRON, NEW_YORK).since(
        AC.newly_requested()
    )
    return (AC.missing() & ~failed_recently).with_label("missing (failed partitions retried daily)")


def _not_busy() -> dg.AutomationCondition:
    return (~AC.in_progress() & ~AC.any_deps_in_progress()).with_label("not in progress, nor its inputs")


def _inputs_missing(months: int | None) -> dg.AutomationCondition:
    """Some input partition is missing and not requested this tick (inputs before the lookback don't count).

    technicals reads 24 earlier months and the report 13 earlier panel months; those before the lookback
    are never filled by automation, so only inputs inside the lookback are waited for.
    """
    missing = AC.missing() & ~AC.will_be_requested()
    if months is not None:
        missing = missing & _in_lookback(months)
    return AC.any_deps_match(missing)


def _refresh_after(cron: str) -> dg.AutomationCondition:
    return AC.cron_tick_passed(cron, NEW_YORK).since_last_handled().with_label(f"cron {cron} New York passed")


def ticker_cik_map_condition() -> dg.AutomationCondition:
    return ((_retryable_missing() | _refresh_after(CIK_MAP_CRON)) & ~AC.in_progress()).with_label(
        "ticker_cik_map: missing or daily"
    )


def sec_fetch_condition() -> dg.AutomationCondition:
    """filings / xbrl_facts per ticker: a new ticker at once; otherwise the filings sensor, plus a weekly net."""
    return ((_retryable_missing() | _refresh_after(SEC_SAFETY_CRON)) & ~_inputs_missing(None) & _not_busy()).with_label(
        "sec per ticker: missing or weekly"
    )


def fundamentals_condition() -> dg.AutomationCondition:
    """fundamentals (per ticker) and fundamental_snapshots (all tickers): missing, or an input was updated.

    No lookback: they are not time-partitioned. The snapshots wait until every ticker's fundamentals
    exist (or are requested), so the first report days are not computed without them.
    """
    return (
        (_retryable_missing() | AC.any_deps_updated().since_last_handled()) & ~_inputs_missing(None) & _not_busy()
    ).with_label("missing or its filings / facts updated")


def daily_bar_root_condition(months: int, wait_for: dg.AssetSelection | None = None) -> dg.AutomationCondition:
    """prices / headlines / fx: history inside the lookback, the open month after every close, and the
    month just closed once after its end (open periods are refreshed until complete). A missing
    partition waits until the `wait_for` inputs (prices: its ticker's corporate actions) exist."""
    open_month_refresh = AC.in_latest_time_window() & _refresh_after(AFTER_CLOSE_CRON)
    just_closed = (AC.in_latest_time_window(lookback_delta(1)) & ~AC.in_latest_time_window()).with_label(
        "the month just closed"
    )
    closed_month_refresh = just_closed & ~AC.missing() & _refresh_after(MONTH_CLOSED_CRON)
    missing = _retryable_missing()
    if wait_for is not None:
        # a month reads every ticker's input: it waits while one is missing, unless that one's last run failed
        pending = AC.missing() & ~AC.execution_failed()
        missing = missing & ~AC.any_deps_match(pending).allow(wait_for).with_label("waits for its inputs")
    return (
        _in_lookback(months) & (missing | open_month_refresh | closed_month_refresh) & ~AC.in_progress()
    ).with_label(f"daily bars: missing within {months} months, open month after the close, closed month once")


ACTIONS = dg.AssetSelection.key_prefixes(["corporate_actions"])
# headlines read their ticker's filings (8-Ks become headlines): a month built before them would lack
# its 8-K headlines for good once closed (only the open month is refreshed), unlike one built after
FILINGS = dg.AssetSelection.key_prefixes(["filings"])


def corporate_actions_condition() -> dg.AutomationCondition:
    """corporate_actions per ticker: missing, and after every close (new splits and dividends)."""
    return ((_retryable_missing() | _refresh_after(AFTER_CLOSE_CRON)) & ~AC.in_progress()).with_label(
        "corporate actions: missing or after each close"
    )


def snapshots_condition() -> dg.AutomationCondition:
    """fundamental_snapshots: as fundamentals_condition, and when a ticker's corporate actions changed (their
    data version): a split rebases its per-share figures in every row. corporate_actions is read after each
    close; an unchanged table re-derives nothing."""
    actions_changed = AC.any_deps_match(AC.data_version_changed()).allow(ACTIONS)
    changed = (AC.any_deps_updated().ignore(ACTIONS) | actions_changed).since_last_handled()
    return ((_retryable_missing() | changed) & ~_inputs_missing(None) & _not_busy()).with_label(
        "missing, its fundamentals updated or a ticker's corporate actions changed"
    )


def prices_condition(months: int) -> dg.AutomationCondition:
    """prices: as the other daily bars, waiting for the corporate actions. A ticker whose actions changed
    gets its stored months again from the market sync (lib/coverage.py), for that ticker alone;
    technicals, the panel and the report then follow their updated inputs."""
    return daily_bar_root_condition(months, wait_for=ACTIONS).with_label(f"prices: daily bars within {months} months")


def _stored_and_inputs_updated() -> dg.AutomationCondition:
    """A stored partition whose inputs were updated, at any age: a corporate action re-fetches every
    stored month of its ticker (prices_condition), and what reads those months must follow, or an old
    month would keep figures a fresh build no longer has."""
    return (~AC.missing() & AC.any_deps_updated().since_last_handled()).with_label("stored, inputs updated")


def derived_condition(months: int) -> dg.AutomationCondition:
    """Partitions computed from other assets: missing ones and all of them when the asset's code version
    changed (e.g. a new indicator set), within the lookback; stored ones whose inputs changed, at any age."""
    in_lookback = _in_lookback(months) & (_retryable_missing() | AC.code_version_changed().since_last_handled())
    return ((in_lookback | _stored_and_inputs_updated()) & ~_inputs_missing(months) & _not_busy()).with_label(
        f"missing or code version changed within {months} months; inputs updated"
    )


def report_tickers(settings: config.Settings | None = None) -> set[str] | None:
    """The tickers whose panel rows the report reads: the holdings file's and the benchmark (portfolio_report
    reads nothing else of the panel). None when the holdings file cannot be read: then every panel run counts
    as read (never a report day left stale)."""
    settings = settings or config.settings()
    try:
        holdings = read_portfolio(settings.portfolio)
    except (OSError, ValueError):
        return None
    return {*holdings["ticker"], settings.benchmark}


def report_reads(read: set[str] | None, tickers: Iterable[str]) -> bool:
    """Whether the report reads the panel rows of one of `tickers` (`read`: report_tickers()); a targeted panel
    run for which this is False is tagged REPORT_READS_TAG = REPORT_UNREAD."""
    return read is None or not read.isdisjoint(tickers)


def _report_inputs_updated() -> dg.AutomationCondition:
    """`any_deps_updated()` without the panel months rewritten only by ticker-targeted runs whose tickers the
    report does not read (run tag REPORT_READS_TAG = REPORT_UNREAD, set by the planner: none of them is held or
    the benchmark). The report reads the panel for the holdings and the benchmark only, so adding a ticker
    nobody holds recomputes no report day; a held ticker's runs carry no such tag and reach every day as before."""
    unread = AC.all_new_updates_have_run_tags(tag_values={REPORT_READS_TAG: REPORT_UNREAD})
    updated = AC.newly_updated() & ~AC.executed_with_root_target() & ~unread
    return AC.any_deps_match(updated.with_label("newly_updated_for_the_report") | AC.will_be_requested()).with_label(
        "inputs the report reads updated"
    )


def report_condition(months: int) -> dg.AutomationCondition:
    """Report days: panel updates reach the days that read that month; a new filing the latest day only.

    A filing is known from its filed date on (point in time), so of the existing report days only the
    latest one can change; later days are created as missing and computed with it.
    """
    # the report reads filings through fundamental_snapshots (point in time, one row per filing date)
    # at any age for a stored day (a corporate action re-derives old panel months: see derived_condition)
    panel_updated = ~AC.missing() & _report_inputs_updated().ignore(FILING_INPUTS).since_last_handled()
    # The window goes inside the SINCE on purpose: Dagster 1.13 keys a SINCE's cursor by the shape of its
    # trigger and ignores allow()/ignore() selections, so two bare any_deps_updated() triggers would share state.
    filing_arrived = (AC.in_latest_time_window() & AC.any_deps_updated().allow(FILING_INPUTS)).since_last_handled()
    # Every panel month it reads inside the lookback is present, and at least one exists at all: a day
    # at the lookback's edge whose months all lie before it would only render an empty report.
    panel_present = AC.any_deps_match(~AC.missing() | AC.will_be_requested()).allow(
        dg.AssetSelection.assets("market_panel")
    )
    # Per-ticker fundamentals and filing text signals may be missing for some tickers (the report reads what
    # exists; the documents are optional); the one-table snapshots must exist, or every earlier day would stay
    # without fundamentals.
    per_ticker = dg.AssetSelection.key_prefixes(["fundamentals"], ["filing_text_signals"], ["filings"])
    inputs_ready = (panel_present & ~_inputs_missing(months).ignore(per_ticker)).with_label(
        "inputs present (panel months in the lookback, FX, snapshots)"
    )
    return (
        (_in_lookback(months) & (_retryable_missing() | filing_arrived) | panel_updated) & inputs_ready & _not_busy()
    ).with_label(f"report: missing or a filing arrived within {months} months; panel updated")


def conditions_by_asset(months: int | None = None) -> dict[str, dg.AutomationCondition]:
    months = months or lookback_months()
    out: dict[str, dg.AutomationCondition] = {
        "ticker_cik_map": ticker_cik_map_condition(),
        "filings": sec_fetch_condition(),
        "xbrl_facts": sec_fetch_condition(),
        "fundamentals": fundamentals_condition(),
        "fundamental_snapshots": snapshots_condition(),  # missing, fundamentals updated, or a split
        "filing_documents": fundamentals_condition(),  # missing, or the ticker's filings updated
        "filing_text_signals": fundamentals_condition(),  # missing, or its documents updated
        "market_panel": derived_condition(months),
        "corporate_actions": corporate_actions_condition(),
    }
    for name in DAILY_BAR_ROOTS:
        out[name] = daily_bar_root_condition(months)
    out["prices"] = prices_condition(months)
    out["headlines"] = daily_bar_root_condition(months, wait_for=FILINGS)
    for name in DAILY_BAR_DERIVED:
        out[name] = derived_condition(months)
    for name in REPORT_OUTPUTS:
        out[name] = report_condition(months)
    return out


# Freshness: evaluated per asset (its latest materialization) by the daemon's freshness evaluation.
# Daily bars must be refreshed between the 16:30 cron and 18:30 on weekdays; report days appear at
# midnight New York (a weekday's partition closes then) and must exist by 01:00.
DAILY_BAR_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="30 18 * * 1-5", lower_bound_delta=dt.timedelta(hours=2), timezone=NEW_YORK
)
REPORT_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 1 * * 2-6", lower_bound_delta=dt.timedelta(hours=1, minutes=30), timezone=NEW_YORK
)
CIK_MAP_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(hours=48), warn_window=dt.timedelta(hours=26)
)
# Per filing: the sensor refreshes a company within minutes of a filing; the weekly net bounds the age.
SEC_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(days=8), warn_window=dt.timedelta(days=7))

FRESHNESS_BY_ASSET: dict[str, dg.FreshnessPolicy] = {
    "ticker_cik_map": CIK_MAP_FRESHNESS,
    **{
        name: SEC_FRESHNESS
        for name in (
            "filings",
            "xbrl_facts",
            "fundamentals",
            "fundamental_snapshots",
            "filing_documents",
            "filing_text_signals",
        )
    },
    **{
        name: DAILY_BAR_FRESHNESS
        for name in (*DAILY_BAR_ROOTS, *DAILY_BAR_DERIVED, "market_panel", "corporate_actions")
    },
    **{name: REPORT_FRESHNESS for name in REPORT_OUTPUTS},
}


# An asset added without an entry above still gets sensible automation (missing partitions within the
# lookback, re-run when its inputs change) and a daily freshness policy; test_automation.py fails until
# it has an explicit entry.
FALLBACK_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=26))


# Partition freshness checks: a materialization must exist for the *expected partition* (the last
# completed weekday of the report, the current month of the panel and FX) once the deadline passed.
# They complement the policies above, which only look at the asset's latest materialization of any
# partition, so a re-run of an old report day cannot hide that yesterday's report is missing.
# Dagster 1.13 marks the factory as superseded by FreshnessPolicy, but the policy has no per-partition
# form; the checks run from their own sensor every 10 minutes.
REPORT_DEADLINE_CRON = "0 1 * * 2-6"  # 01:00 New York after each weekday
PANEL_DEADLINE_CRON = "30 18 * * 1-5"  # the open month's panel and FX rates after each close
PARTITION_FRESHNESS_SENSOR_NAME = "partition_freshness_checks"


def partition_freshness_checks() -> list[dg.AssetChecksDefinition]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=dg.SupersessionWarning)
        return [
            *dg.build_time_partition_freshness_checks(
                assets=[dg.AssetKey(n) for n in REPORT_OUTPUTS], deadline_cron=REPORT_DEADLINE_CRON, timezone=NEW_YORK
            ),
            *dg.build_time_partition_freshness_checks(
                assets=[dg.AssetKey("market_panel"), dg.AssetKey("fx_rates")],
                deadline_cron=PANEL_DEADLINE_CRON,
                timezone=NEW_YORK,
            ),
        ]


def partition_freshness_sensor(checks: Sequence[dg.AssetChecksDefinition]) -> dg.SensorDefinition:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=dg.SupersessionWarning)
        return dg.build_sensor_for_freshness_checks(
            freshness_checks=checks,
            minimum_interval_seconds=600,
            name=PARTITION_FRESHNESS_SENSOR_NAME,
            default_status=dg.DefaultSensorStatus.RUNNING if automation_enabled() else dg.DefaultSensorStatus.STOPPED,
        )


def with_automation(assets: Sequence[dg.AssetsDefinition], months: int | None = None) -> list[dg.AssetsDefinition]:
    """The assets with their automation condition and freshness policy attached."""
    conditions = conditions_by_asset(months)
    fallback = derived_condition(months or lookback_months())

    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        name = spec.key.to_user_string()
        return spec.replace_attributes(
            automation_condition=conditions.get(name, fallback),
            freshness_policy=FRESHNESS_BY_ASSET.get(name, FALLBACK_FRESHNESS),
        )

    return list(dg.map_asset_specs(attach, assets))


def automation_enabled() -> bool:
    """On when asked for, and never under a pinned clock: Dagster's daemon evaluates conditions at the
    machine's now, so a point-in-time build (FINANCE_ASSETS_AS_OF) runs them through `finance-assets
    update`, which evaluates the same conditions at the one clock."""
    settings = config.settings()
    return settings.automation and not settings.as_of


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """Evaluates every condition each minute; emits backfills, which the daemon splits into ranges."""
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR_NAME,
        target=dg.AssetSelection.all(),
        minimum_interval_seconds=60,
        # evaluated in the code server, which imports our definitions: the report's weekday offsets are then
        # counted in constant time (lib/weekday_offsets.py) instead of the daemon's walk (~0.15 s a mapping call)
        use_user_code_server=True,
        default_status=dg.DefaultSensorStatus.RUNNING if automation_enabled() else dg.DefaultSensorStatus.STOPPED,
        description="Declarative automation for every asset (finance_assets/lib/automation.py). STOPPED unless "
        "FINANCE_ASSETS_AUTOMATION=on, and while FINANCE_ASSETS_AS_OF pins the clock (use finance-assets update).",
    )
