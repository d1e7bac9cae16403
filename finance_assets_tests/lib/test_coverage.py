"""The market sync's arithmetic: what a stored month lacks for one ticker, packed into targeted runs."""

import random
from collections import defaultdict

import pandas as pd

from finance_assets.lib import coverage
from finance_assets.lib.warehouse import Warehouse, ticker_shard
from finance_assets_tests.lib.test_object_store import _warehouse, bucket_url, s3_endpoint, s3_env  # noqa: F401

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
    # chunked in the order of their shards (B 01, C 07, A 11), so a run's rows of a month sit in few files
    assert [ticker_shard(t) for t in "BCA"] == ["01", "07", "11"]
    assert shapes == [
        (("prices",), ("B", "C"), tuple(MONTHS[:2])),
        (("prices",), ("A",), tuple(MONTHS[:2])),
        (("prices",), ("B", "C"), (MONTHS[3],)),
        (("prices",), ("A",), (MONTHS[3],)),
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


# --- the set-based query against the per-ticker loop it replaced ----------------------------------------


def _needed_reference(
    tickers, stored_months, held, current_versions=None, versioned="prices", followers=("technicals",)
):
    """The per-ticker Python loop `coverage.needed` was before it became one DuckDB query (verbatim)."""
    out = defaultdict(lambda: defaultdict(set))
    tickers = list(tickers)
    wanted = set(tickers)
    for asset, months in stored_months.items():
        rows = held.get(asset)
        holds = defaultdict(set)
        if rows is not None and len(rows):
            rows = rows[rows["ticker"].isin(wanted)]
            for ticker, month in zip(rows["ticker"], rows["month"]):
                holds[ticker].add(month)
        for ticker in tickers:
            gap = months - holds[ticker]
            if gap:
                out[ticker][asset] |= {month for month in months if month >= min(gap)}
    if current_versions and versioned in held and versioned in stored_months:
        rows = held[versioned]
        rows = rows[rows["ticker"].isin(wanted) & rows["month"].isin(stored_months[versioned])]
        stale = {
            ticker
            for ticker, version in zip(rows["ticker"], rows["actions_version"])
            if ticker in current_versions and (pd.isna(version) or version != current_versions[ticker])
        }
        for ticker in stale:
            for asset in (versioned, *followers):
                if asset in stored_months:
                    out[ticker][asset] |= stored_months[asset]
    return {ticker: dict(assets) for ticker, assets in out.items() if assets}


TICKERS = ("AAA", "BBB", "CCC", "DDD", "NEW")
YEARS_OF_MONTHS = [f"{year}-{month:02d}-01" for year in (2025, 2026) for month in (1, 2, 11, 12)]


def _random_case(rng: random.Random, months=YEARS_OF_MONTHS, duplicates=True):
    """Stored months per asset (some empty, some assets absent), coverage rows with gaps, rows of unwanted
    tickers and months never stored, missing and differing versions, and the tickers and versions asked."""
    stored = {a: {m for m in months if rng.random() < 0.7} for a in ASSETS if rng.random() < 0.9}
    held = {}
    for asset in ASSETS:
        if rng.random() < 0.1:
            continue  # no coverage table at all
        density = rng.choice([0.5, 0.9, 1.0])
        rows = [
            (m, t, rng.choice(["v1", "v1", "v2", None]) if asset == "prices" else None)
            for m in months
            for t in TICKERS
            if rng.random() < density
        ]
        if duplicates and rows and rng.random() < 0.3:
            rows += rng.sample(rows, k=min(3, len(rows)))
        held[asset] = pd.DataFrame(rows, columns=["month", "ticker", "actions_version"])
    wanted = rng.sample(TICKERS, k=rng.randint(0, len(TICKERS)))
    versions = rng.choice([None, {}, {t: rng.choice(["v1", "v2"]) for t in TICKERS if rng.random() < 0.8}])
    return wanted, stored, held, versions


def test_the_query_finds_exactly_what_the_per_ticker_loop_found():
    rng = random.Random(17)
    cases = [_random_case(rng) for _ in range(80)]
    found_some = 0
    for wanted, stored, held, versions in cases:
        expected = _needed_reference(wanted, stored, held, versions)
        assert coverage.needed(wanted, stored, held, versions) == expected, (wanted, stored, versions)
        found_some += bool(expected)
    assert found_some > 30  # the cases exercise gaps and stale versions, not only "nothing to do"


def _store(wh: Warehouse, held: dict[str, pd.DataFrame]) -> None:
    """Record the coverage rows as runs do: per month, its tickers with their versions (None: unversioned)."""
    for asset, rows in held.items():
        for month, in_month in rows.groupby("month"):
            versions = {t: v for t, v in zip(in_month["ticker"], in_month["actions_version"]) if v is not None}
            coverage.record(wh, asset, [month], sorted(set(in_month["ticker"])), versions)


def test_the_stored_coverage_gives_what_the_frames_read_from_it_gave(tmp_path):
    rng = random.Random(6000)
    for case in range(5):
        wanted, stored, held, versions = _random_case(rng, duplicates=False)
        wh = Warehouse(tmp_path / f"case{case}")
        _store(wh, held)
        # what the sync computed before: every coverage table read into pandas, then the loop
        as_read = {asset: coverage.read(wh, asset) for asset in ASSETS}
        expected = _needed_reference(wanted, stored, as_read, versions)
        assert coverage.needed_in_warehouse(wh, wanted, stored, versions) == expected, (wanted, stored, versions)


def test_the_stored_coverage_query_reads_the_object_store_too(bucket_url, s3_endpoint, tmp_path):  # noqa: F811
    wh = _warehouse(bucket_url, s3_endpoint, tmp_path)
    stored = {asset: set(MONTHS) for asset in ASSETS}
    coverage.record(wh, "prices", MONTHS, ["AAA", "BBB"], {"AAA": "v1", "BBB": "v1"})
    coverage.record(wh, "technicals", MONTHS, ["AAA", "BBB"])
    coverage.record(wh, "headlines", [m for m in MONTHS if m != MONTHS[1]], ["AAA", "BBB"])
    need = coverage.needed_in_warehouse(wh, ["AAA", "BBB"], stored, {"AAA": "v1", "BBB": "v2"})
    # sentiment was never recorded: every stored month, for both; headlines lack February for both;
    # BBB's actions changed: every stored month of its prices and technicals
    assert need == {
        "AAA": {"headlines": set(MONTHS[1:]), "sentiment": set(MONTHS)},
        "BBB": {
            "headlines": set(MONTHS[1:]),
            "sentiment": set(MONTHS),
            "prices": set(MONTHS),
            "technicals": set(MONTHS),
        },
    }


# --- the panel's gaps: the DuckDB query against the pandas merge it replaced ----------------------------


def _lacking_reference(wh: Warehouse, months, tickers) -> dict[str, set[str]]:
    """planning.panel_gaps before it became one DuckDB query (verbatim, after reading the stored months)."""
    if not months:
        return {}
    prices = coverage.read(wh, "prices")
    prices = prices[prices["month"].isin(months) & prices["ticker"].isin(set(tickers))][["month", "ticker"]]
    if prices.empty:
        return {}
    panel = coverage.read(wh, "market_panel")[["month", "ticker"]]
    missing = prices.merge(panel.drop_duplicates(), how="left", on=["month", "ticker"], indicator=True)
    missing = missing[missing["_merge"] == "left_only"]
    return {ticker: set(group) for ticker, group in missing.groupby("ticker")["month"]}


def test_the_panel_gaps_query_finds_what_the_pandas_merge_found(tmp_path):
    rng = random.Random(1717)
    found_some = 0
    for case in range(6):
        wh = Warehouse(tmp_path / f"case{case}")
        held = {}
        for asset in ("prices", "market_panel"):
            if rng.random() < 0.15:
                continue  # never recorded
            density = rng.choice([0.4, 0.8, 1.0] if asset == "prices" else [0.3, 0.7, 1.0])
            rows = [(m, t) for m in YEARS_OF_MONTHS for t in TICKERS if rng.random() < density]
            held[asset] = _held(rows, None)
        _store(wh, held)
        # the panel's stored months: some recorded, some not, and a key that is no month
        months = {m for m in YEARS_OF_MONTHS if rng.random() < 0.7} | ({"2026-13-01"} if rng.random() < 0.3 else set())
        wanted = rng.sample(TICKERS, k=rng.choice([0, 2, 3, len(TICKERS)]))
        expected = _lacking_reference(wh, months, wanted)
        assert coverage.lacking_in_warehouse(wh, "prices", "market_panel", months, wanted) == expected, case
        found_some += bool(expected)
    assert found_some >= 3  # the cases exercise gaps, not only "nothing to do"
