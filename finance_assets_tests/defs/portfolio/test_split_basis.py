"""Per-share figures on one share basis across a split (#16, #20): a filing states EPS and share counts on
the basis of its filing date (statements issued after a split restate EPS, comparatives included), so the
snapshots rescale every fact filed before a split's ex-date by its ratio (corporate_actions: new shares per
old share) and leave the restated ones alone: trailing EPS, P/E, P/B and market cap compare like with like
with the split-adjusted prices."""

from __future__ import annotations

import dagster as dg
import duckdb
import pandas as pd
import pytest

from finance_assets.defs.market import corporate_actions as actions_lib
from finance_assets.defs.market.schemas import CORPORATE_ACTIONS
from finance_assets.defs.portfolio import assets as report
from finance_assets.defs.portfolio.holdings import fundamental_snapshots, holdings_table, known_splits
from finance_assets.lib.holdings_file import read_portfolio
from finance_assets_tests.defs.portfolio.test_holdings import _fundamental_rows

SPLIT_DAY = "2026-03-16"  # 3:1, effective at that session's open
TEN_K, TEN_Q = "2026-02-20", "2026-05-08"  # filed before and after the split


def _filings() -> pd.DataFrame:
    """A calendar-year filer: its FY2025 10-K (pre-split basis) and the Q1 2026 10-Q filed after a 3:1 split,
    whose comparative Q1 2025 is restated on the new basis (as SEC rules require)."""
    rows = [
        # 10-Qs of 2025, filed before the split: the old basis
        ("eps_diluted", "quarterly", "2025Q1", "2025-03-31", 0.60, "USD/shares", "2025-05-08"),
        ("eps_diluted", "quarterly", "2025Q2", "2025-06-30", 0.70, "USD/shares", "2025-08-08"),
        ("eps_diluted", "quarterly", "2025Q3", "2025-09-30", 0.80, "USD/shares", "2025-11-07"),
        ("shares_outstanding", "quarterly", "2025Q3", "2025-09-30", 1000.0, "shares", "2025-11-07"),
        ("net_income", "quarterly", "2025Q1", "2025-03-31", 600.0, "USD", "2025-05-08"),
        # the 10-K: FY2025 and its cover page, still the old basis
        ("eps_diluted", "annual", "FY2025", "2025-12-31", 3.00, "USD/shares", TEN_K),
        ("shares_outstanding", "annual", "FY2025", "2025-12-31", 1000.0, "shares", TEN_K),
        ("shares_outstanding", "quarterly", "2025Q4", "2025-12-31", 1000.0, "shares", TEN_K),
        ("stockholders_equity", "annual", "FY2025", "2025-12-31", 20_000.0, "USD", TEN_K),
        # the 10-Q after the split: Q1 2026 and the restated Q1 2025 (0.60 / 3), the cover on the new basis
        ("eps_diluted", "quarterly", "2026Q1", "2026-03-31", 0.25, "USD/shares", TEN_Q),
        ("eps_diluted", "quarterly", "2025Q1", "2025-03-31", 0.20, "USD/shares", TEN_Q),
        ("shares_outstanding", "quarterly", "2026Q1", "2026-03-31", 3000.0, "shares", TEN_Q),
        ("stockholders_equity", "quarterly", "2026Q1", "2026-03-31", 21_000.0, "USD", TEN_Q),
    ]
    return _fundamental_rows("SPLQ", rows)


def _actions(*splits: tuple[str, float], dividend: str | None = None) -> pd.DataFrame:
    """corporate_actions rows as the asset stores them: known from the ex-date's 09:30 New York open."""
    rows = [
        {"ticker": "SPLQ", "ex_date": day, "kind": "split" if ratio > 1 else "reverse_split", "ratio": ratio}
        for day, ratio in splits
    ]
    if dividend:
        rows.append({"ticker": "SPLQ", "ex_date": dividend, "kind": "cash_dividend", "amount": 0.5})
    frame = pd.DataFrame(rows, columns=["ticker", "ex_date", "kind", "ratio", "amount"]).assign(source="test")
    frame["known_at"] = (pd.DatetimeIndex(pd.to_datetime(frame["ex_date"])) + actions_lib.KNOWN_AT_TIME).tz_localize(
        actions_lib.NEW_YORK
    )
    return actions_lib.normalized(frame)


def _snapshots(funds: pd.DataFrame, actions: pd.DataFrame | None, as_of=None) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        con.register("fundamentals", funds)
        return fundamental_snapshots(con, actions, as_of).set_index("known_at")
    finally:
        con.close()


def test_the_ratio_is_new_shares_per_old_share_as_corporate_actions_store_it():
    """The convention the rescaling relies on, from the product's own parser of provider bars."""
    bars = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-03-13", "2026-03-16", "2026-04-06"]),
            "split_ratio": [1.0, 3.0, 0.25],
            "dividend": [0.0, 0.0, 0.0],
        }
    )
    stored = actions_lib.actions_from_bars("SPLQ", bars, "test")
    assert stored[["kind", "ratio"]].values.tolist() == [["split", 3.0], ["reverse_split", 0.25]]
    assert known_splits(stored)["ratio"].tolist() == [3.0, 0.25]


def test_trailing_eps_after_a_split_is_on_one_basis_by_hand():
    snapshots = _snapshots(_filings(), _actions((SPLIT_DAY, 3.0), dividend="2026-02-02"))
    after_10k, after_10q = snapshots.loc["2026-02-20"], snapshots.loc["2026-05-08"]
    # the 10-K alone: FY2025 on today's basis
    assert after_10k["ttm_eps_diluted"] == pytest.approx(3.00 / 3)
    assert after_10k["shares_outstanding"] == pytest.approx(1000.0 * 3)
    # FY2025 (filed before the split, / 3) + Q1 2026 - Q1 2025 (both filed after it, as restated)
    assert after_10q["ttm_eps_diluted"] == pytest.approx(3.00 / 3 + 0.25 - 0.20)
    assert after_10q["shares_outstanding"] == pytest.approx(3000.0)
    # before the 10-K: FY2024 is missing, so no TTM; the cover shares of Q3 2025 are rescaled
    assert snapshots.loc["2025-11-07", "shares_outstanding"] == pytest.approx(3000.0)
    # revenue-like figures and equity never move with the share count
    assert after_10q["stockholders_equity"] == 21_000.0


def test_as_filed_the_trailing_eps_mixes_bases():
    """What the report showed before (and shows without corporate actions): the old basis FY2025 plus the
    restated quarters, 3.05 instead of 1.05, a P/E about a third of the true one."""
    snapshots = _snapshots(_filings(), None)
    assert snapshots.loc["2026-05-08", "ttm_eps_diluted"] == pytest.approx(3.00 + 0.25 - 0.20)


def test_a_reverse_split_multiplies_earlier_eps():
    snapshots = _snapshots(_filings(), _actions((SPLIT_DAY, 0.25)))
    assert snapshots.loc["2026-02-20", "ttm_eps_diluted"] == pytest.approx(3.00 / 0.25)
    assert snapshots.loc["2026-02-20", "shares_outstanding"] == pytest.approx(1000.0 * 0.25)


def test_a_split_not_yet_known_does_not_adjust():
    """Point in time: the basis is that of the splits known by `as_of` (corporate_actions.known_at, the
    ex-date's 09:30 open); a split listed later changes nothing before then."""
    actions = _actions((SPLIT_DAY, 3.0), ("2026-09-14", 2.0))
    before_open = _snapshots(_filings(), actions, pd.Timestamp(f"{SPLIT_DAY} 09:29", tz="America/New_York"))
    assert before_open.loc["2026-02-20", "ttm_eps_diluted"] == pytest.approx(3.00)
    assert before_open.loc["2026-02-20", "shares_outstanding"] == pytest.approx(1000.0)
    at_open = _snapshots(_filings(), actions, pd.Timestamp(f"{SPLIT_DAY} 09:30", tz="America/New_York"))
    assert at_open.loc["2026-02-20", "ttm_eps_diluted"] == pytest.approx(1.00)
    # both known: facts filed before both splits are rescaled by both, the 10-Q's by the later one only
    both = _snapshots(_filings(), actions)
    assert both.loc["2026-02-20", "ttm_eps_diluted"] == pytest.approx(3.00 / 6)
    assert both.loc["2026-05-08", "ttm_eps_diluted"] == pytest.approx((3.00 / 3 + 0.25 - 0.20) / 2)
    assert both.loc["2026-05-08", "shares_outstanding"] == pytest.approx(3000.0 * 2)


def test_the_report_values_split_adjusted_prices_against_eps_on_the_same_basis():
    """The report's P/E, P/B and market cap from the snapshots: the price stored split-adjusted (30 before
    the split is 90 as traded), so every day gives the true ratio, before the split and after it."""
    snapshots = _snapshots(_filings(), _actions((SPLIT_DAY, 3.0))).reset_index()
    days = pd.to_datetime(["2026-03-02", "2026-05-11"])
    panel = pd.DataFrame({"date": days, "ticker": "SPLQ", "close": 30.0, "adj_close": 30.0})
    for column in ("rsi_14", "sma_50", "sma_200", "bb_pctb", "headline_count", "decayed_7d_score"):
        panel[column] = float("nan")
    fx = pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "currency": pd.Series(dtype="object"), "per_eur": []})
    con = duckdb.connect()
    try:
        con.register("market_panel", panel)
        con.register("fx_rates", fx)
        con.register("fundamental_snapshots", snapshots)
        holdings = read_portfolio("ticker,shares,cost_basis,currency\nSPLQ,30,25,USD\n")
        rows = holdings_table(con, days, holdings).set_index("date")
    finally:
        con.close()
    # as traded: 90 / 3.00 before the split; 30 / 1.05 after it
    assert rows.loc["2026-03-02", "pe_ttm"] == pytest.approx(90.0 / 3.00)
    assert rows.loc["2026-05-11", "pe_ttm"] == pytest.approx(30.0 / 1.05)
    assert rows.loc["2026-03-02", "market_cap"] == pytest.approx(90.0 * 1000.0)
    assert rows.loc["2026-03-02", "price_to_book"] == pytest.approx(90.0 * 1000.0 / 20_000.0)
    assert rows.loc["2026-05-11", "market_cap"] == pytest.approx(30.0 * 3000.0)


def test_the_snapshots_asset_reads_corporate_actions_from_the_graph():
    """fundamental_snapshots declares corporate_actions as an input (every ticker partition), so a new split
    reaches the snapshots through lineage and automation; the asset rescales with what is stored."""
    from finance_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    parents = {key.to_user_string() for key in graph.get(dg.AssetKey("fundamental_snapshots")).parent_keys}
    assert parents == {"fundamentals", "corporate_actions"}
    stored = _filings().drop(columns=["known_at"])
    out = report.fundamental_snapshots(dg.build_asset_context(), stored, _actions((SPLIT_DAY, 3.0))).set_index(
        "known_at"
    )
    # known_at from the next-session rule (no acceptance times stored): the 10-Q counts from 2026-05-11
    assert out.loc["2026-05-11", "ttm_eps_diluted"] == pytest.approx(1.05)
    nothing = report.fundamental_snapshots(dg.build_asset_context(), stored, CORPORATE_ACTIONS.empty()).set_index(
        "known_at"
    )
    assert nothing.loc["2026-05-11", "ttm_eps_diluted"] == pytest.approx(3.05)


def test_a_new_split_re_derives_the_snapshots_and_an_unchanged_read_does_not():
    """Automation (lib/automation.snapshots_condition): corporate_actions is read after every close; the
    snapshots follow when its data version (a hash of the rows) changes, not on every read."""
    import datetime as dt

    from finance_assets.lib import automation
    from finance_assets.lib.partitions import TICKER, ticker_partitions

    every_ticker = dg.AllPartitionMapping()

    @dg.asset(name="corporate_actions", partitions_def=ticker_partitions)
    def actions_stub() -> None: ...

    @dg.asset(name="fundamentals", partitions_def=ticker_partitions)
    def fundamentals_stub() -> None: ...

    @dg.asset(
        name="fundamental_snapshots",
        ins={
            "fundamentals": dg.AssetIn(partition_mapping=every_ticker),
            "corporate_actions": dg.AssetIn(partition_mapping=every_ticker),
        },
        automation_condition=automation.snapshots_condition(),
    )
    def snapshots_stub(fundamentals, corporate_actions) -> None: ...

    defs = dg.Definitions(assets=[actions_stub, fundamentals_stub, snapshots_stub])
    now = dt.datetime(2026, 3, 16, 21, 0, tzinfo=dt.UTC)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, ["ELQX", "HVQX"])

        def read_actions(ticker: str, version: str) -> None:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset_key="corporate_actions", partition=ticker, tags={"dagster/data_version": version}
                )
            )

        cursor = None

        def requested() -> set[str]:
            nonlocal cursor, now
            result = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=now, cursor=cursor)
            cursor, now = result.cursor, now + dt.timedelta(minutes=1)
            asked = {
                key.to_user_string()
                for key in [dg.AssetKey("fundamental_snapshots")]
                if result.get_requested_partitions(key)
            }
            for key in asked:
                instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
            return asked

        for ticker in ("ELQX", "HVQX"):
            read_actions(ticker, "v1")
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="fundamentals", partition=ticker))
        assert requested() == {"fundamental_snapshots"}  # missing
        assert requested() == set()
        read_actions("ELQX", "v1")  # the after-close read, nothing new
        assert requested() == set()
        read_actions("ELQX", "v2")  # the 3:1 split is listed
        assert requested() == {"fundamental_snapshots"}
        assert requested() == set()
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="fundamentals", partition="HVQX"))
        assert requested() == {"fundamental_snapshots"}  # a new filing, as before
