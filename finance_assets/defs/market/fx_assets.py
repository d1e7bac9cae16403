"""FX reference rates (ECB, per month) so holdings in other currencies are valued in the base currency."""

import dagster as dg
import numpy as np
import pandas as pd

from finance_assets.defs.market.fx_source import FX_COLUMNS, FxSource
from finance_assets.defs.market.schemas import FX_RATES
from finance_assets.lib.dagster_schema import schema_checks, schema_metadata
from finance_assets.lib.holdings_file import PortfolioError
from finance_assets.lib.partition_mappings import in_months, md_preview
from finance_assets.lib.partitions import month_partitions, per_month_check
from finance_assets.lib.portfolio_settings import PortfolioSettings
from finance_assets.lib.run_metadata import attach_metadata

GROUP = "fx"


@dg.asset(
    group_name=GROUP,
    partitions_def=month_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    required_resource_keys={"fx_source", "portfolio"},
    code_version="1",
    metadata=schema_metadata(FX_RATES),
    description="ECB euro reference rates: per publication day and currency, units of the currency per "
    "1 EUR (any base currency is crossed through EUR). One request for the whole history per run.",
)
def fx_rates(context: dg.AssetExecutionContext) -> pd.DataFrame:
    source: FxSource = context.resources.fx_source
    months = sorted(context.partition_keys)
    quotes = source.reference_rates()
    out = quotes[in_months(quotes["date"], months)].reset_index(drop=True)
    out = FX_RATES.conform(out[FX_COLUMNS].assign(source="ecb (demo)" if source.mode == "demo" else "ecb"))
    meta: dict = {
        "currencies": int(out["currency"].nunique()),
        "http": source.http_stats(),
        "latest_rate_date": str(out["date"].max().date()) if len(out) else "none",
        "preview": md_preview(out.tail(8)),
    }
    needed = _portfolio_currencies(context)
    if needed:
        quoted = set(quotes["currency"]) | {"EUR"}
        missing = sorted(needed - quoted)
        meta["portfolio_currencies"] = ", ".join(sorted(needed))
        meta["portfolio_currencies_without_rate"] = ", ".join(missing) or "none"
        if missing:
            context.log.warning(
                f"the ECB publishes no reference rate for {', '.join(missing)}: holdings in "
                "these currencies cannot be valued in the base currency"
            )
    attach_metadata(context, meta)
    return out


def _portfolio_currencies(context: dg.AssetExecutionContext) -> set[str]:
    """Currencies the report will need (holdings and base); empty when the portfolio file is unreadable."""
    settings: PortfolioSettings = context.resources.portfolio
    try:
        holdings = settings.holdings()
    except (PortfolioError, FileNotFoundError) as exc:
        context.log.warning(f"portfolio file not readable, FX coverage not checked: {exc}")
        return set()
    return set(holdings["currency"]) | {settings.base_currency.upper()}


@per_month_check(fx_rates, "Every rate positive and finite; one rate per day and currency.", blocking=True)
def fx_rates_are_sane(fx_rates: pd.DataFrame) -> dg.AssetCheckResult:
    if fx_rates.empty:
        return dg.AssetCheckResult(passed=True, metadata={"rows": 0})
    rates = pd.to_numeric(fx_rates["per_eur"], errors="coerce").to_numpy(dtype="float64")
    bad_rates = int((~np.isfinite(rates) | (rates <= 0)).sum())  # NaN and inf count as bad
    duplicates = int(fx_rates.duplicated(["date", "currency"]).sum())
    return dg.AssetCheckResult(
        passed=bad_rates == duplicates == 0,
        metadata={"rows": len(fx_rates), "bad_rates": bad_rates, "duplicates": duplicates},
    )


SCHEMA_CHECKS = schema_checks((fx_rates, FX_RATES))
