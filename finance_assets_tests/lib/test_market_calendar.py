import exchange_calendars
import pandas as pd

from finance_assets.lib import market_calendar


def test_the_default_calendar_serves_dates_it_covers_and_is_shared():
    default = exchange_calendars.get_calendar("XNYS")
    inside = default.first_session + pd.Timedelta(days=400)
    assert market_calendar.covering() is default
    assert market_calendar.covering("XNYS", inside, default.last_session) is default


def test_dates_outside_the_default_get_one_wider_calendar_per_range():
    default = exchange_calendars.get_calendar("XNYS")
    early = market_calendar.covering("XNYS", pd.Timestamp("2001-09-10"), pd.Timestamp("2002-01-01"))
    assert early is not default
    assert early.first_session == market_calendar.EARLIEST
    assert early.last_session == default.last_session
    assert market_calendar.covering("XNYS", pd.Timestamp("1999-03-01"), None) is early  # one per process
    assert pd.Timestamp("2001-09-11") not in early.sessions  # closed after the attacks
    assert pd.Timestamp("2001-09-17") in early.sessions
    past_the_default = default.last_session + pd.Timedelta(days=30)
    late = market_calendar.covering("XNYS", None, past_the_default)
    assert late.first_session == market_calendar.EARLIEST
    assert late.last_session >= past_the_default


def test_a_wider_calendar_gives_the_same_sessions_and_closes_where_both_are_defined():
    default = exchange_calendars.get_calendar("XNYS")
    wide = market_calendar.covering("XNYS", pd.Timestamp("1995-01-01"), None)
    shared = default.sessions
    pd.testing.assert_series_equal(wide.closes.loc[shared], default.closes.loc[shared])
    assert default.closes.loc[shared].dt.tz_convert("America/New_York").dt.hour.isin([13, 16]).all()


def test_dates_before_the_first_electronic_filings_start_the_calendar_there():
    older = market_calendar.covering("XNYS", pd.Timestamp("1990-06-01"), None)
    assert older.first_session == pd.Timestamp("1990-06-01")
