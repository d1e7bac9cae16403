"""News assets: scored headlines per ticker and month, and daily sentiment aggregates."""


import calendar

import dagster as dg
import feedparser
import pandas as pd

from finance_assets.analytics import news as news_lib, sentiment as sentiment_lib
from finance_assets.assets._partitions import in_months, md_preview, ticker_month_grid
from finance_assets.partitions import MONTH, TICKER, ticker_month_partitions
from finance_assets.resources.sources import NewsSource

GROUP = "news"
HEADLINE_COLUMNS = ["ticker", "date", "published_utc", "title", "url", "source", "score", "label"]


class FeedFormatError(ValueError):
    pass


def parse_headline_feed(ticker: str, body: bytes, source_name: str) -> pd.DataFrame:
    """RSS/Atom bytes -> ticker, title, url, source, published_utc. Malformed feeds raise."""
    feed = feedparser.parse(body)
    if feed.bozo and not feed.entries:
        raise FeedFormatError(f"{ticker}: unreadable headline feed ({feed.get('bozo_exception')})")
    rows = []
    for entry in feed.entries:
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        title = (entry.get("title") or "").strip()
        if not stamp or not title:
            continue
        rows.append({"ticker": ticker, "title": title, "url": entry.get("link", ""), "source": source_name,
                     "published_utc": pd.Timestamp(calendar.timegm(stamp), unit="s", tz="UTC")})
    return pd.DataFrame(rows, columns=["ticker", "title", "url", "source", "published_utc"])


@dg.asset(
    group_name=GROUP,
    partitions_def=ticker_month_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    required_resource_keys={"news_source"},
    code_version="1",
    description="Headlines per ticker, deduplicated by URL and normalized title, scored with the "
    "finance-aware sentiment model, and assigned to the trading day they can first affect.",
)
def headlines(context: dg.AssetExecutionContext) -> pd.DataFrame:
    source: NewsSource = context.resources.news_source
    tickers, months = ticker_month_grid(context)
    frames = []
    label = f"yahoo-rss ({source.mode})" if source.mode == "demo" else "yahoo-rss"
    for ticker in tickers:
        feed = parse_headline_feed(ticker, source.headlines_feed(ticker), label)
        if feed.empty:
            continue
        feed = news_lib.dedupe_headlines(feed)
        feed["date"] = news_lib.assign_trading_day(feed["published_utc"])
        feed = feed[in_months(feed["date"], months)]
        scores = sentiment_lib.score_many(feed["title"].tolist())
        feed["score"] = scores
        feed["label"] = [sentiment_lib.label(s) for s in scores]
        frames.append(feed[HEADLINE_COLUMNS])
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=HEADLINE_COLUMNS)
    context.add_output_metadata({"preview": md_preview(out[["ticker", "date", "title", "score"]].tail(5)),
                                 "http": source.http_stats()})
    return out


@dg.asset(
    group_name=GROUP,
    partitions_def=ticker_month_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    code_version="1",
    ins={
        "headlines": dg.AssetIn(
            partition_mapping=dg.MultiPartitionMapping({
                TICKER: dg.DimensionPartitionMapping(TICKER, dg.IdentityPartitionMapping()),
                # the decayed 7-day score at the start of a month needs the end of the previous one
                MONTH: dg.DimensionPartitionMapping(MONTH, dg.TimeWindowPartitionMapping(
                    start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True)),
            })
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
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["ticker", "date", "headline_count", "mean_score", "positive_count", "negative_count",
                 "neutral_count", "decayed_7d_score"])
    meta: dict = {"preview": md_preview(out.tail(5))}
    if len(headlines):
        in_run = headlines[in_months(headlines["date"], months)]
        if len(in_run):
            best, worst = in_run.nlargest(3, "score"), in_run.nsmallest(3, "score")
            meta["most_positive"] = md_preview(best[["ticker", "date", "title", "score"]])
            meta["most_negative"] = md_preview(worst[["ticker", "date", "title", "score"]])
    context.add_output_metadata(meta)
    return out
