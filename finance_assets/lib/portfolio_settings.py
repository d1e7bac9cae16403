"""Portfolio settings as a Dagster resource: where the holdings file is and how the report values it."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from finance_assets.lib.holdings_file import read_portfolio


class PortfolioSettings(dg.ConfigurableResource):
    path: str
    base_currency: str = "USD"
    benchmark: str = "DEMOIDX"
    risk_free_rate: float = 0.0  # annual; converted to a daily rate for Sharpe/Sortino
    reports_dir: str

    def holdings(self) -> pd.DataFrame:
        return read_portfolio(self.path)
