"""plain_rss_headlines (ElementTree) returns exactly what feedparser's path returns, or None to leave it."""

from __future__ import annotations

import email.utils

import feedparser
import pandas as pd
import pytest

from finance_assets.defs.news.headline_sources import headlines_of_feed, parse_headline_feed, plain_rss_headlines
from finance_assets.defs.news.source import NewsSource


def _by_feedparser(body: bytes) -> pd.DataFrame:
    return headlines_of_feed("ACMQ", feedparser.parse(body), "yahoo-rss (demo)")


def _read_alike(body: bytes) -> pd.DataFrame:
    """What plain_rss_headlines reads of `body`, asserted to be what feedparser's path reads."""
    plain = plain_rss_headlines("ACMQ", body, "yahoo-rss (demo)")
    assert plain is not None
    pd.testing.assert_frame_equal(plain, _by_feedparser(body))
    return plain


def _feed(*items: str, root: str = '<rss version="2.0">', close: str = "</rss>") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{root}<channel><title>t</title>{"".join(items)}</channel>{close}'
    ).encode()


def _item(title="Acme beats estimates", link="https://e.invalid/1", date="Mon, 02 Jun 2025 20:30:00 +0000", extra=""):
    return f"<item><title>{title}</title><link>{link}</link><pubDate>{date}</pubDate>{extra}</item>"


@pytest.mark.parametrize("ticker", ["ACMQ", "BLZQ", "MRQX", "DEMOIDX"])
def test_the_demo_feeds_read_alike(tmp_path, ticker):
    source = NewsSource(
        mode="demo", cache_dir=str(tmp_path / "c"), state_dir=str(tmp_path / "s"), as_of="2026-06-11T22:00:00Z"
    )
    body = source._feed_body(ticker)
    plain = plain_rss_headlines(ticker, body, "yahoo-rss (demo)")
    assert plain is not None and len(plain) > 100  # years of demo headlines, read directly
    pd.testing.assert_frame_equal(plain, headlines_of_feed(ticker, feedparser.parse(body), "yahoo-rss (demo)"))
    pd.testing.assert_frame_equal(source.feed_headlines(ticker, "yahoo-rss (demo)"), plain)
    source.teardown_after_execution(None)


@pytest.mark.parametrize(
    "title",
    [
        "R&amp;D spending up",
        "it&#39;s &quot;up&quot;",
        "  padded  ",
        "two  spaces",
        "caf\u00e9 \u2019q\u2019",
        "5 &gt; 3",
        "",
    ],
)
def test_plain_titles_read_alike(title):
    _read_alike(_feed(_item(title=title), _item(title="second", date="Tue, 03 Jun 2025 09:00:00 GMT")))


@pytest.mark.parametrize(
    "body",
    [
        _feed(_item(title="<![CDATA[Q&A <b>bold</b>]]>")),  # markup: feedparser sanitizes it
        _feed(_item(title="a &lt;b&gt; c")),
        _feed(_item(link="/news/1")),  # relative: feedparser resolves it
        _feed(_item(date="2025-06-02T20:30:00Z")),  # another date form
        _feed(_item(date="Mon, 02 Jun 2025 20:30:00 EST")),
        _feed(_item(extra="<dc:date xmlns:dc='http://purl.org/dc/elements/1.1/'>2025-06-01</dc:date>")),
        _feed(_item(extra="<guid>https://e.invalid/other</guid>")),  # a permalink guid that is not the link
        _feed("<item><title>no link</title><pubDate>Mon, 02 Jun 2025 20:30:00 +0000</pubDate></item>"),
        _feed(_item(), root='<rss version="2.0"><channel><title>a</title></channel>'),  # two channels
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e "x">]><rss><channel><item></item></channel></rss>',
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>t</title></entry></feed>',
        b"<rss><channel><item><title>cut off",
    ],
)
def test_anything_else_is_left_to_feedparser(body):
    assert plain_rss_headlines("ACMQ", body, "yahoo-rss (demo)") is None


def test_a_guid_that_is_the_link_or_not_a_permalink_is_fine():
    body = _feed(
        _item(extra='<guid isPermaLink="false">x-1</guid>'),
        _item(link="https://e.invalid/2", extra="<guid>https://e.invalid/2</guid>"),
    )
    plain = plain_rss_headlines("ACMQ", body, "yahoo-rss (demo)")
    assert plain is not None and len(plain) == 2
    pd.testing.assert_frame_equal(plain, _by_feedparser(body))
    pd.testing.assert_frame_equal(parse_headline_feed("ACMQ", body, "yahoo-rss (demo)"), plain)


@pytest.mark.parametrize(
    "date",
    [
        "Mon, 02 Jun 2025 20:30:00 +0000",
        "Sun, 02 Jun 2025 20:30:00 GMT",  # a wrong weekday is not checked (email.utils neither)
        "Mon, 02 Jun 2025 20:30:00 UTC",
        "Mon, 02 Jun 2025 20:30:00 -0000",
        "Mon, 02 Jun 2025 23:30:00 -0500",  # the next day in UTC
        "Mon, 02 Jun 2025 01:15:59 +0530",
        "Mon, 29 Feb 2024 12:00:00 +0000",
    ],
)
def test_dates_read_as_email_utils_and_feedparser_read_them(date):
    plain = _read_alike(
        _feed(_item(date=date), _item(link="https://e.invalid/2", date="Tue, 03 Jun 2025 09:00:00 GMT"))
    )
    assert plain["published_utc"].iloc[0].timestamp() == email.utils.parsedate_to_datetime(date).timestamp()


@pytest.mark.parametrize(
    "date",
    [
        "Fri, 31 Feb 2025 10:00:00 +0000",
        "Fri, 27 Feb 2026 24:00:00 +0000",
        "Fri, 27 Feb 2026 10:61:00 +0000",
        "Fri, 27 Feb 2026 10:00:60 +0000",
    ],  # not a date or a time email.utils takes (a leap second neither)
)
def test_an_impossible_date_is_left_to_feedparser(date):
    assert plain_rss_headlines("ACMQ", _feed(_item(), _item(link="https://e.invalid/2", date=date)), "x") is None
