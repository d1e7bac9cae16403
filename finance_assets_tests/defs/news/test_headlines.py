"""Headline de-duplication, trading-day assignment (XNYS) and daily sentiment aggregation."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from finance_assets.defs.news import headlines as news
from finance_assets.defs.news import sentiment


def _headlines(rows: list[tuple[str, str, str | None, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["ticker", "title", "url", "published_utc"])
    frame["source"] = "test"
    frame["published_utc"] = pd.to_datetime(frame["published_utc"], utc=True)
    return frame[list(news.HEADLINE_COLUMNS)]


def _utc(*stamps: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(stamps), utc=True))


# --------------------------------------------------------------------------- dedupe


def test_normalize_title_folds_case_punctuation_and_whitespace():
    assert news.normalize_title("  Apple BEATS estimates!!  (Q3) ") == "apple beats estimates q3"
    assert news.normalize_title("Apple\u00a0beats\u2014estimates") == "apple beats estimates"
    assert news.normalize_title(None) == ""


def test_dedupe_by_url_and_normalized_title_keeps_earliest():
    frame = _headlines(
        [
            ("AAPL", "Apple beats estimates", "https://x/1", "2024-05-02 21:00"),
            ("AAPL", "apple beats estimates!", "https://y/9", "2024-05-02 20:30"),  # same title
            ("AAPL", "Apple tops Street view", "https://x/1", "2024-05-02 22:00"),  # same URL
            ("AAPL", "Apple raises dividend", "https://x/2", "2024-05-02 20:45"),
            ("MSFT", "Apple beats estimates", "https://x/1", "2024-05-02 21:05"),  # other ticker
        ]
    )
    kept = news.dedupe_headlines(frame)
    assert list(kept.columns) == list(frame.columns)
    assert kept["url"].tolist() == ["https://y/9", "https://x/2", "https://x/1"]
    assert kept["ticker"].tolist() == ["AAPL", "AAPL", "MSFT"]
    assert kept["published_utc"].is_monotonic_increasing


def test_dedupe_url_match_wins_even_when_titles_differ_and_earliest_is_kept():
    frame = _headlines(
        [
            ("TSLA", "Tesla deliveries fall", "https://n/5", "2024-04-02 14:00"),
            ("TSLA", "Tesla deliveries fall (updated)", "https://n/5 ", "2024-04-02 13:00"),
        ]
    )
    kept = news.dedupe_headlines(frame)
    assert kept["title"].tolist() == ["Tesla deliveries fall (updated)"]


def test_dedupe_does_not_match_missing_urls_or_titles():
    frame = _headlines(
        [
            ("NVDA", "Nvidia unveils chip", None, "2024-03-18 20:00"),
            ("NVDA", "Nvidia shares climb", None, "2024-03-18 21:00"),
            ("NVDA", "", "https://a/1", "2024-03-18 22:00"),
            ("NVDA", "", "https://a/2", "2024-03-18 23:00"),
        ]
    )
    assert len(news.dedupe_headlines(frame)) == 4


def _month_by_month(raw: pd.DataFrame, months: list[str], lead_days: int) -> tuple[list[pd.DataFrame], int]:
    """What dedupe_by_month stands for: each month's window de-duplicated and dated on its own."""
    published = pd.to_datetime(raw["published_utc"], utc=True)
    frames, dropped = [], 0
    for month in months:
        first = pd.Timestamp(month, tz="America/New_York")
        window = raw[
            (published >= first - pd.Timedelta(days=lead_days)) & (published < first + pd.offsets.MonthBegin(1))
        ]
        if window.empty:
            continue
        kept = news.dedupe_headlines(window)
        dropped += len(window) - len(kept)
        kept["date"] = news.assign_trading_day(kept["published_utc"])
        kept = kept[pd.to_datetime(kept["date"]).dt.strftime("%Y-%m-01") == month].reset_index(drop=True)
        if len(kept):
            frames.append(kept)
    return frames, dropped


def test_dedupe_by_month_matches_each_months_own_deduplication():
    raw = _headlines(
        [
            ("AAPL", "Apple beats estimates", "https://x/1", "2024-05-02 21:00"),
            ("AAPL", "Apple beats estimates", "https://x/2", "2024-06-03 14:00"),  # next month: kept there
            ("AAPL", "Apple to present at conference", "https://x/3", "2024-05-30 15:00"),
            ("AAPL", "apple to present at conference!", "https://x/4", "2024-06-01 15:00"),  # Saturday
            ("AAPL", "Apple files Q2 report", "https://x/5", "2024-05-31 20:30"),  # after Friday's close: June 3
            ("AAPL", "Apple tops Street view", "https://x/1", "2024-05-03 13:00"),  # same URL as the first
            ("AAPL", "", None, "2024-05-06 13:00"),  # blank title and URL: never a duplicate
            ("AAPL", "", None, "2024-05-06 13:00"),
            ("AAPL", "Undated story", "https://x/6", None),  # no time: in no window
            ("MSFT", "Apple beats estimates", "https://x/1", "2024-05-02 21:30"),  # other ticker: kept
            ("AAPL", "Apple beats estimates", "https://x/7", "2024-04-30 12:00"),  # April, in May's lead
        ]
    )
    months = ["2024-04-01", "2024-05-01", "2024-06-01", "2024-07-01"]
    frames, dropped = news.dedupe_by_month(raw, months, lead_days=4)
    expected, expected_dropped = _month_by_month(raw, months, lead_days=4)
    assert dropped == expected_dropped > 0
    assert len(frames) == len(expected) == 3  # April, May and June keep rows; July's window is empty
    for got, want in zip(frames, expected, strict=True):
        pd.testing.assert_frame_equal(got[want.columns], want)
    june = frames[2].set_index("url")
    assert june.loc["https://x/5", "date"] == date(2024, 6, 3)
    # the Saturday copy is a duplicate of May 30's inside June's lead window, and May 30 is May's
    assert "https://x/4" not in june.index and "https://x/3" not in june.index
    assert "https://x/3" in set(frames[1]["url"])


def test_dedupe_by_month_reads_only_the_months_windows():
    """The `headlines` asset hands dedupe_by_month only the rows in the run's window (a feed holds years): the
    same frames as with every row."""
    rng = np.random.default_rng(7)
    stamps = pd.Timestamp("2023-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 3 * 365 * 24, 3000), unit="h")
    titles = [f"Story {i}" for i in rng.integers(0, 400, 3000)]  # repeated titles across years
    raw = _headlines([("AAPL", t, f"https://x/{i}", str(s)) for i, (t, s) in enumerate(zip(titles, stamps))])
    for months in (["2024-03-01"], ["2024-12-01", "2025-01-01", "2025-02-01"]):
        frames, dropped = news.dedupe_by_month(raw, months, lead_days=4)
        window = raw.loc[news.in_window(raw["published_utc"], months, lead_days=4)]
        assert len(window) < len(raw) / 5
        frames_in_window, dropped_in_window = news.dedupe_by_month(window, months, lead_days=4)
        assert dropped == dropped_in_window > 0
        assert len(frames) == len(frames_in_window) == len(months)
        for got, want in zip(frames_in_window, frames, strict=True):
            pd.testing.assert_frame_equal(got, want)


def test_dedupe_rejects_naive_timestamps_and_missing_columns():
    frame = _headlines([("A", "t", "u", "2024-01-02 15:00")])
    with pytest.raises(ValueError, match="tz-aware"):
        news.dedupe_headlines(frame.assign(published_utc=frame["published_utc"].dt.tz_localize(None)))
    with pytest.raises(ValueError, match="missing column"):
        news.dedupe_headlines(frame.drop(columns="url"))


# --------------------------------------------------------------------------- trading day


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        # regular day, close 16:00 EDT = 20:00 UTC
        ("2024-06-12 08:00", date(2024, 6, 12)),  # pre-market counts for the same session
        ("2024-06-12 19:59:59", date(2024, 6, 12)),
        ("2024-06-12 20:00", date(2024, 6, 13)),  # at the close -> next session
        ("2024-06-12 23:30", date(2024, 6, 13)),
        # weekend -> Monday
        ("2024-06-15 12:00", date(2024, 6, 17)),
        ("2024-06-14 21:00", date(2024, 6, 17)),  # Friday after close
        # Independence Day holiday; 2024-07-03 closes early at 13:00 EDT = 17:00 UTC
        ("2024-07-04 15:00", date(2024, 7, 5)),
        ("2024-07-03 16:59", date(2024, 7, 3)),
        ("2024-07-03 17:00", date(2024, 7, 5)),
        # day after Thanksgiving closes at 13:00 EST = 18:00 UTC
        ("2024-11-29 17:59", date(2024, 11, 29)),
        ("2024-11-29 18:00", date(2024, 12, 2)),
        ("2024-11-28 15:00", date(2024, 11, 29)),  # Thanksgiving itself is a holiday
        # DST starts 2024-03-10: close is 21:00 UTC on Friday 8th, 20:00 UTC on Monday 11th
        ("2024-03-08 20:30", date(2024, 3, 8)),
        ("2024-03-11 20:30", date(2024, 3, 12)),
        ("2024-03-11 19:59", date(2024, 3, 11)),
        # DST ends 2024-11-03: close back at 21:00 UTC on Monday 4th
        ("2024-11-04 20:30", date(2024, 11, 4)),
        ("2024-11-01 20:30", date(2024, 11, 4)),  # Friday 1st still EDT: closed at 20:00 UTC
    ],
)
def test_assign_trading_day(published, expected):
    assert news.assign_trading_day(_utc(published)).iloc[0] == expected


def test_assign_trading_day_vectorised_keeps_index_and_missing_values():
    stamps = pd.Series(pd.to_datetime(["2024-07-04 15:00", None, "2024-07-05 12:00"], utc=True), index=[10, 11, 12])
    days = news.assign_trading_day(stamps)
    assert days.index.tolist() == [10, 11, 12]
    assert days.tolist() == [date(2024, 7, 5), None, date(2024, 7, 5)]
    assert days.name == "trading_day"


def test_assign_trading_day_converts_other_zones_and_rejects_naive():
    new_york = pd.Series(pd.to_datetime(["2024-06-12 15:59"]).tz_localize("America/New_York"))
    assert news.assign_trading_day(new_york).iloc[0] == date(2024, 6, 12)
    with pytest.raises(ValueError, match="tz-aware"):
        news.assign_trading_day(pd.Series(pd.to_datetime(["2024-06-12 15:59"])))


def test_assign_trading_day_all_missing():
    days = news.assign_trading_day(pd.Series(pd.to_datetime([None, None], utc=True)))
    assert days.tolist() == [None, None]


# --------------------------------------------------------------------------- daily sentiment


def test_daily_sentiment_counts_means_and_decay():
    band = sentiment.NEUTRAL_BAND
    strong = min(0.9, (1 + band) / 2)
    frame = pd.DataFrame(
        {
            "trading_day": [
                date(2024, 6, 3),
                date(2024, 6, 10),
                date(2024, 6, 10),
                date(2024, 6, 12),
                date(2024, 6, 12),
                date(2024, 6, 12),
            ],
            "score": [-0.8, strong, -strong, strong, 0.0, strong],
            "title": list("abcdef"),
        }
    )
    daily = news.daily_sentiment(frame, decay_halflife_days=2.0)
    assert daily.index.name == "trading_day"
    assert daily.index.tolist() == [date(2024, 6, 3), date(2024, 6, 10), date(2024, 6, 12)]
    assert daily["headline_count"].tolist() == [1, 2, 3]
    assert daily["positive_count"].tolist() == [0, 1, 2]
    assert daily["negative_count"].tolist() == [1, 1, 0]
    assert daily["neutral_count"].tolist() == [0, 0, 1]
    np.testing.assert_allclose(daily["mean_score"], [-0.8, 0.0, 2 * strong / 3])
    # June 3 is 7 days before June 10: outside the window, so June 10 sees only its own scores.
    # June 12: June 10 headlines are 2 days old (weight 0.5), June 12 ones weight 1.
    expected_12th = (0.5 * (strong - strong) + (strong + 0.0 + strong)) / (0.5 * 2 + 3)
    np.testing.assert_allclose(daily["decayed_7d_score"], [-0.8, 0.0, expected_12th])


def test_daily_sentiment_window_includes_six_day_old_headlines():
    frame = pd.DataFrame({"trading_day": pd.to_datetime(["2024-06-04", "2024-06-10"]), "score": [1.0, 0.0]})
    daily = news.daily_sentiment(frame, decay_halflife_days=3.0)
    weight = 0.5 ** (6 / 3.0)
    assert daily["decayed_7d_score"].iloc[1] == pytest.approx(weight / (weight + 1.0))


def test_daily_sentiment_drops_missing_and_handles_empty():
    frame = pd.DataFrame({"trading_day": [date(2024, 6, 3), None], "score": [np.nan, 0.5]})
    empty = news.daily_sentiment(frame)
    assert empty.empty
    assert empty.index.name == "trading_day"
    assert list(empty.columns) == [
        "headline_count",
        "mean_score",
        "positive_count",
        "negative_count",
        "neutral_count",
        "decayed_7d_score",
    ]
    with pytest.raises(ValueError, match="positive"):
        news.daily_sentiment(pd.DataFrame({"trading_day": [], "score": []}), decay_halflife_days=0)


def test_headline_pipeline_end_to_end():
    frame = _headlines(
        [
            # 2024-07-03 closed early (17:00 UTC): this one counts for July 5
            ("ACME", "Acme profit rose 12%", "https://a/1", "2024-07-03 18:00"),
            ("ACME", "ACME profit rose 12%!", "https://a/2", "2024-07-03 19:00"),  # duplicate title
            ("ACME", "Acme cuts full-year outlook", "https://a/3", "2024-07-05 14:00"),
        ]
    )
    kept = news.dedupe_headlines(frame)
    kept["trading_day"] = news.assign_trading_day(kept["published_utc"])
    kept["score"] = sentiment.score_many(kept["title"].tolist())
    daily = news.daily_sentiment(kept)
    assert daily.index.tolist() == [date(2024, 7, 5)]
    assert daily["headline_count"].tolist() == [2]
    assert daily[["positive_count", "negative_count"]].iloc[0].tolist() == [1, 1]


def test_daily_sentiment_of_headlines_spanning_fewer_days_than_the_window():
    """Two to six calendar days of headlines (a thinly covered ticker's month): the window is longer than
    the days it covers; before the fix the decay loop sliced past the start and raised a broadcast error."""
    for span in range(1, 7):
        days = pd.to_datetime(["2024-06-03", str(pd.Timestamp("2024-06-03") + pd.Timedelta(days=span))[:10]])
        daily = news.daily_sentiment(pd.DataFrame({"trading_day": days, "score": [1.0, 0.0]}), 2.0)
        older = 0.5 ** (span / 2.0)
        np.testing.assert_allclose(daily["decayed_7d_score"], [1.0, older / (older + 1.0)])
