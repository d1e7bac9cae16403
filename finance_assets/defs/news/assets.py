"""News assets: scored headlines per ticker and month, and daily sentiment aggregates."""

from collections import Counter

import dagster as dg
import pandas as pd

from finance_assets.defs.news import headlines as news_lib
from finance_assets.defs.news import sentiment as sentiment_lib
from finance_assets.defs.news.schemas import HEADLINES, SENTIMENT
from finance_assets.defs.news.source import NEWS_LEAD_DAYS, NewsSource
from finance_assets.lib.coverage import with_run_tickers
from finance_assets.lib.dagster_schema import schema_checks, schema_metadata
from finance_assets.lib.partition_mappings import in_months, md_preview, ticker_month_grid
from finance_assets.lib.partitions import per_month_asset
from finance_assets.lib.run_metadata import attach_metadata

GROUP = "news"


def _company_filings(filings: pd.DataFrame, ticker: str) -> pd.DataFrame | None:
    """The ticker's rows of the `filings` asset, or None when it has none (not materialized yet)."""
    if "ticker" not in filings.columns:
        return None
    rows = filings[filings["ticker"] == ticker]
    return rows if len(rows) else None


@per_month_asset(
    group_name=GROUP,
    required_resource_keys={"news_source"},
    code_version="3",
    metadata=schema_metadata(HEADLINES),
    ins={
        # every month reads its tickers' filings (their 8-Ks become headlines)
        "filings": dg.AssetIn(partition_mapping=dg.AllPartitionMapping()),
    },
    description="Headlines per ticker from every news provider (Yahoo Finance RSS, the company's 8-K "
    "filings with their item titles, Finnhub when FINNHUB_API_KEY is set), deduplicated by URL and "
    "normalized title, scored with the finance-aware sentiment model, and assigned to the trading day "
    "they can first affect. `source` records where each headline came from.",
)
def headlines(context: dg.AssetExecutionContext, filings: pd.DataFrame) -> pd.DataFrame:
    source: NewsSource = context.resources.news_source
    tickers, months = ticker_month_grid(context)
    frames, skipped, fetched, duplicates = [], {}, Counter(), 0
    for ticker in tickers:
        raw, skipped_here = source.headlines(ticker, months, _company_filings(filings, ticker))
        for provider, reason in skipped_here.items():
            skipped.setdefault(provider, reason)
            context.log.info(f"{ticker}: headline provider {provider} skipped: {reason}")
        # a feed holds years of headlines; only the months' windows are read (dedupe_by_month reads no other row)
        raw = raw.loc[news_lib.in_window(raw["published_utc"], months, NEWS_LEAD_DAYS)]
        fetched.update(raw["source"].str.split("/").str[0])
        # Each month on its own (its window, its de-duplication): a month's rows never depend on which
        # other months share the run (a routine title in January would otherwise hide February's copy
        # in a January..February backfill but not in February's own after-close run).
        by_month, dropped = news_lib.dedupe_by_month(raw, months, NEWS_LEAD_DAYS)
        duplicates += dropped
        if not by_month:
            continue
        kept = pd.concat(by_month, ignore_index=True)
        scores = sentiment_lib.score_many(kept["title"].tolist())  # per title: one call for every month
        kept["score"] = scores
        kept["label"] = [sentiment_lib.label(s) for s in scores]
        # the stored table (schemas.HEADLINES): a provider's raw columns, the trading day, the score
        frames.append(kept[HEADLINES.names])
    out = HEADLINES.conform(pd.concat(frames, ignore_index=True)) if frames else HEADLINES.empty()
    attach_metadata(
        context,
        {
            "by_source": dg.MetadataValue.json(
                out["source"].str.split("/").str[0].value_counts().to_dict() if len(out) else {}
            ),
            "fetched_by_source": dg.MetadataValue.json(dict(fetched)),
            "duplicates_removed": duplicates,
            "skipped_providers": dg.MetadataValue.json(skipped),
            "preview": md_preview(out[["ticker", "date", "source", "title", "score"]].tail(5)),
            "http": source.http_stats(),
        },
    )
    return with_run_tickers(out, tickers)


@per_month_asset(
    group_name=GROUP,
    code_version="2",
    metadata=schema_metadata(SENTIMENT),
    ins={
        # the decayed 7-day score at the start of a month needs the end of the previous one
        "headlines": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True
            )
        )
    },
    description="Per ticker and trading day: headline count, mean score, positive/negative/neutral "
    "counts and an exponentially decayed 7-day score.",
)
def sentiment(context: dg.AssetExecutionContext, headlines: pd.DataFrame) -> pd.DataFrame:
    tickers, months = ticker_month_grid(context)
    frames = []
    for ticker in tickers:
        rows = headlines[headlines["ticker"] == ticker] if len(headlines) else headlines
        if rows.empty:
            continue
        daily = news_lib.daily_sentiment(rows.rename(columns={"date": "trading_day"})).reset_index()
        daily = daily.rename(columns={"trading_day": "date"})
        daily.insert(0, "ticker", ticker)
        frames.append(daily[in_months(daily["date"], months)])
    out = SENTIMENT.conform(pd.concat(frames, ignore_index=True)) if frames else SENTIMENT.empty()
    meta: dict = {"preview": md_preview(out.tail(5))}
    if len(headlines):
        in_run = headlines[in_months(headlines["date"], months)]
        if len(in_run):
            best, worst = in_run.nlargest(3, "score"), in_run.nsmallest(3, "score")
            meta["most_positive"] = md_preview(best[["ticker", "date", "title", "score"]])
            meta["most_negative"] = md_preview(worst[["ticker", "date", "title", "score"]])
    attach_metadata(context, meta)
    return with_run_tickers(out, tickers)


# The stored tables match their declarations (news/schemas.py); registered in definitions.py.
SCHEMA_CHECKS = schema_checks((headlines, HEADLINES), (sentiment, SENTIMENT))
