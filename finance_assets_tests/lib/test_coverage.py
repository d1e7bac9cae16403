"""The market sync's arithmetic: what a stored month lacks for one ticker, packed into targeted runs."""

import pandas as pd

from finance_assets.lib import coverage
from finance_assets.lib.warehouse import Warehouse

MONTHS = ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"]
ASSETS = ("prices", "technicals", "headlines", "sentiment")


def _held(pairs, version="v1"):
    return pd.DataFrame([(m, t, version) for m, t in pairs], columns=["month", "ticker", "actions_version"])


def _everyone(tickers, months, version="v1"):
    return _held([(m, t) for m in months for t in tickers], version)


def test_a_ticker_registered_later_needs_every_stored_month_of_every_asset():
    stored = {asset: set(MONTHS) for asset in ASSETS}
    held = {asset: _everyone(["AAA"], MONTHS) for asset in ASSETS}
    # the open month's after-close run already took NEW in (it processes every registered ticker)
    held = {asset: pd.concat([frame, _held([(MONTHS[-1], "NEW")])]) for asset, frame in held.items()}
    need = coverage.needed(["AAA", "NEW"], stored, held, {"AAA": "v1", "NEW": "v1"})
    # the open month too: it was built while the earlier months lacked NEW (technicals' lookback and
    # sentiment's decay read them)
    assert need == {"NEW": {asset: set(MONTHS) for asset in ASSETS}}
    [run] = coverage.plan_sync(need, ASSETS, MONTHS)
    assert (run.assets, run.tickers, run.months) == (ASSETS, ("NEW",), tuple(MONTHS))
    # a gap in the middle: that month and every one after it, not the ones before
    held_but_february = {
        asset: frame[~((frame["ticker"] == "NEW") & (frame["month"] == MONTHS[1]))] for asset, frame in held.items()
    }
    held_but_february = {
        asset: pd.concat([frame, _held([(m, "NEW") for m in MONTHS if m != MONTHS[1] and m != MONTHS[-1]])])
        for asset, frame in held_but_february.items()
    }
    need = coverage.needed(["AAA", "NEW"], stored, held_but_february, {"AAA": "v1", "NEW": "v1"})
    assert need == {"NEW": {asset: set(MONTHS[1:]) for asset in ASSETS}}


def test_changed_corporate_actions_rebuild_prices_and_technicals_of_every_stored_month():
    stored = {asset: set(MONTHS) for asset in ASSETS}
    held = {asset: _everyone(["AAA", "BBB"], MONTHS) for asset in ASSETS}
    held["prices"] = pd.concat(
        [_everyone(["AAA"], MONTHS, "v1"), _everyone(["BBB"], MONTHS[:-1], "v1"), _held([(MONTHS[-1], "BBB")], "v2")]
    )
    need = coverage.needed(["AAA", "BBB"], stored, held, {"AAA": "v1", "BBB": "v2"})
    # BBB's split reached the open month only: its older months still reflect the old actions, and the open
    # month's technicals read them, so every stored month is rebuilt
    assert need == {"BBB": {"prices": set(MONTHS), "technicals": set(MONTHS)}}
    [run] = coverage.plan_sync(need, ASSETS, MONTHS)
    assert run.assets == ("prices", "technicals") and run.tickers == ("BBB",) and run.months == tuple(MONTHS)
    assert coverage.needed(["AAA", "BBB"], stored, held, {"AAA": "v1", "BBB": "v1"}) == {
        "BBB": {"prices": set(MONTHS), "technicals": set(MONTHS)}
    }


def test_nothing_to_do_when_every_month_holds_every_ticker_with_its_actions():
    stored = {asset: set(MONTHS) for asset in ASSETS}
    held = {asset: _everyone(["AAA", "BBB"], MONTHS) for asset in ASSETS}
    assert coverage.needed(["AAA", "BBB"], stored, held, {"AAA": "v1", "BBB": "v1"}) == {}
    assert coverage.plan_sync({}, ASSETS, MONTHS) == []
    # a month never built is automation's (for every ticker at once), not the sync's
    assert coverage.needed(["AAA"], {"prices": set(MONTHS[:2])}, {"prices": _everyone(["AAA"], MONTHS[:2])}) == {}


def test_runs_share_tickers_with_the_same_needs_and_split_at_gaps_and_chunks():
    need = {t: {"prices": {MONTHS[0], MONTHS[1], MONTHS[3]}} for t in ("C", "A", "B")} | {
        "D": {"headlines": {MONTHS[2]}}
    }
    runs = coverage.plan_sync(need, ASSETS, MONTHS, chunk=2)
    shapes = [(r.assets, r.tickers, r.months) for r in runs]
    assert shapes == [
        (("prices",), ("A", "B"), tuple(MONTHS[:2])),
        (("prices",), ("C",), tuple(MONTHS[:2])),
        (("prices",), ("A", "B"), (MONTHS[3],)),
        (("prices",), ("C",), (MONTHS[3],)),
        (("headlines",), ("D",), (MONTHS[2],)),
    ]


def test_record_replaces_the_run_tickers_rows_and_keeps_the_others(tmp_path):
    wh = Warehouse(tmp_path)
    coverage.record(wh, "prices", MONTHS[:2], ["AAA", "BBB"], {"AAA": "v1", "BBB": "v1"})
    coverage.record(wh, "prices", MONTHS[1:3], ["BBB"], {"BBB": "v2"})
    held = coverage.read(wh, "prices").sort_values(["month", "ticker"], ignore_index=True)
    assert list(held.itertuples(index=False, name=None)) == [
        (MONTHS[0], "AAA", "v1"),
        (MONTHS[0], "BBB", "v1"),
        (MONTHS[1], "AAA", "v1"),
        (MONTHS[1], "BBB", "v2"),
        (MONTHS[2], "BBB", "v2"),
    ]
