"""Which assets run together, declared once: the jobs, the backfill planner and the CLI read these.

A run's partition range must suit every asset in it, so a group holds assets of one partitioning.
Assets are named by key (strings), so this module knows no domain code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunGroup:
    name: str
    assets: tuple[str, ...]
    partitioning: str  # "none", "ticker", "month" or "weekday"

    @property
    def job(self) -> str:
        return f"{self.name}_job"


TICKER_MAP = RunGroup("ticker_map", ("ticker_cik_map",), "none")
SEC = RunGroup("sec", ("filings", "xbrl_facts", "fundamentals", "filing_documents", "filing_text_signals"), "ticker")
SNAPSHOTS = RunGroup("snapshots", ("fundamental_snapshots",), "none")
ACTIONS = RunGroup("actions", ("corporate_actions",), "ticker")  # before the snapshots and prices they rescale
# month runs over every registered ticker, or the tickers a run's finance_assets/tickers tag names
MARKET = RunGroup("market", ("prices", "technicals", "headlines", "sentiment"), "month")
PANEL = RunGroup("panel", ("market_panel", "fx_rates"), "month")  # fx_rates shares the month partitions
REPORT = RunGroup("report", ("portfolio_report", "portfolio_holdings"), "weekday")

# In the order a backfill runs them: each group's inputs come from groups before it.
RUN_GROUPS = (TICKER_MAP, SEC, ACTIONS, SNAPSHOTS, MARKET, PANEL, REPORT)
GROUP_BY_JOB = {group.job: group for group in RUN_GROUPS}
