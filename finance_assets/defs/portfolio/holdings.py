"""The portfolio's valuation and the report's figures (no Dagster). The holdings file itself is read by
`finance_assets.lib.holdings_file`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import duckdb
import numpy as np
import pandas as pd

from finance_assets.defs.portfolio import risk
from finance_assets.defs.portfolio.schemas import FUNDAMENTAL_SNAPSHOTS, HOLDING_VALUATION
from finance_assets.lib.holdings_file import ISO_CURRENCIES

# --------------------------------------------------------------------------- valuation

VALUE_COLUMNS = [
    "date",
    "ticker",
    "account",
    "currency",
    "shares",
    "cost_basis",
    "price",
    "fx_rate",
    "market_value",
    "cost",
    "unrealized_pnl",
    "unrealized_pnl_pct",
    "day_change_pct",
    "day_change_value",
    "weight",
]


def _date_index(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.index = pd.DatetimeIndex(frame.index)
    return frame.sort_index()


def _price_matrix(holdings: pd.DataFrame, prices: pd.DataFrame) -> pd.DataFrame:
    """Dates x holding position; the last known price is carried over days without a quote."""
    missing = sorted(set(holdings["ticker"]) - set(prices.columns))
    if missing:
        raise ValueError(f"no prices for: {', '.join(missing)}")
    matrix = _date_index(prices)[holdings["ticker"].tolist()].astype("float64").ffill()
    matrix.columns = range(len(holdings))
    matrix.index.name = "date"
    return matrix


def _fx_matrix(holdings: pd.DataFrame, fx: pd.DataFrame | None, dates: pd.DatetimeIndex, base: str) -> pd.DataFrame:
    """Dates x holding position: base-currency units per unit of the holding's currency."""
    rates = pd.DataFrame(index=dates) if fx is None else _date_index(fx).astype("float64")
    rates[base] = 1.0
    missing = sorted(set(holdings["currency"]) - set(rates.columns))
    if missing:
        raise ValueError(f"no FX rates to {base} for: {', '.join(missing)}")
    # FX calendars differ from exchange calendars: use the last rate known on each price date.
    rates = rates.reindex(rates.index.union(dates)).ffill().reindex(dates)
    matrix = rates[holdings["currency"].tolist()]
    matrix.columns = range(len(holdings))
    return matrix


def _market_values(
    holdings: pd.DataFrame, prices: pd.DataFrame, fx: pd.DataFrame | None, base: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(price, fx rate, market value in base) matrices, dates x holding position."""
    if base not in ISO_CURRENCIES:
        raise ValueError(f"unknown base currency {base!r}")
    holdings = holdings.reset_index(drop=True)
    price = _price_matrix(holdings, prices)
    rate = _fx_matrix(holdings, fx, price.index, base)
    value = price * holdings["shares"].to_numpy() * rate
    return price, rate, value


def holdings_values(
    holdings: pd.DataFrame, prices: pd.DataFrame, fx: pd.DataFrame | None = None, base: str = "USD"
) -> pd.DataFrame:
    """Per date (of `prices`) and holding: price, value in `base`, weight, unrealized P&L, day change.

    `prices`: dates x tickers, in each holding's own currency. `fx`: dates x currency codes, the
    price of one unit of that currency in `base` (e.g. EUR column 1.08 for base USD); may be None
    when everything is in `base`. A date where any holding has no price yet gets NaN weights.
    P&L is measured in the holding's currency and converted at the day's rate (FX on the cost is
    not tracked); `unrealized_pnl_pct` and `day_change_pct` are in the holding's currency, and
    `day_change_value` is the change in base-currency value (includes the FX move).
    """
    holdings = holdings.reset_index(drop=True)
    if "account" not in holdings:
        holdings = holdings.assign(account="")
    price, rate, value = _market_values(holdings, prices, fx, base)
    shares = holdings["shares"].to_numpy()
    cost_basis = holdings["cost_basis"].to_numpy()
    total = value.sum(axis=1, skipna=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = {
            "price": price,
            "fx_rate": rate,
            "market_value": value,
            "cost": rate * (shares * cost_basis),
            "unrealized_pnl": (price - cost_basis) * shares * rate,
            "unrealized_pnl_pct": price / np.where(cost_basis > 0, cost_basis, np.nan) - 1.0,  # NaN: no cost
            "day_change_pct": price / price.shift(1) - 1.0,
            "day_change_value": value - value.shift(1),
            "weight": value.div(total.where(total != 0), axis=0),
        }
    return _long_frame(holdings, price.index, columns)


def _long_frame(holdings: pd.DataFrame, dates: pd.DatetimeIndex, matrices: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (date, holding), holdings in file order within each date."""
    n_dates, n_holdings = len(dates), len(holdings)
    frame = pd.DataFrame({"date": np.repeat(dates.to_numpy(), n_holdings)})
    for column in ("ticker", "account", "currency", "shares", "cost_basis"):
        frame[column] = np.tile(holdings[column].to_numpy(), n_dates)
    for column, matrix in matrices.items():
        frame[column] = np.asarray(matrix, dtype="float64").reshape(-1)
    return frame[VALUE_COLUMNS]


def portfolio_value_series(
    holdings: pd.DataFrame, prices: pd.DataFrame, fx: pd.DataFrame | None = None, base: str = "USD"
) -> pd.Series:
    """Total market value in `base` per date of `prices`; NaN on dates where a holding has no price."""
    _, _, value = _market_values(holdings, prices, fx, base)
    return value.sum(axis=1, skipna=False).rename("portfolio_value")


# --------------------------------------------------------------------------- FX


def _last_quote(quotes: pd.Series, dates: pd.DatetimeIndex, max_age: pd.Timedelta) -> np.ndarray:
    """Per date, the last quote on or before it, NaN when there is none within `max_age`."""
    quotes = quotes.dropna().sort_index()
    if quotes.empty:
        return np.full(len(dates), np.nan)
    position = quotes.index.searchsorted(dates, side="right") - 1
    found = position >= 0
    values = quotes.to_numpy()[position.clip(0)]
    age = dates - quotes.index[position.clip(0)]
    return np.where(found & (age <= max_age), values, np.nan)


def fx_to_base(
    quotes: pd.DataFrame, currencies: Iterable[str], base: str, dates: pd.DatetimeIndex, max_age_days: int = 10
) -> pd.DataFrame:
    """Dates x currency: units of `base` per unit of each currency, crossed through EUR.

    `quotes`: ECB reference rates (columns date, currency, per_eur = units per 1 EUR). Each date
    uses the last fixing on or before it (FX and exchange calendars differ) and none older than
    `max_age_days` (NaN instead). `base` itself is 1.0 and needs no quote. Raises ValueError for
    a currency the quotes never mention.
    """
    base = base.upper()
    if base not in ISO_CURRENCIES:
        raise ValueError(f"unknown base currency {base!r}")
    dates = pd.DatetimeIndex(dates)
    wanted = sorted(set(currencies) | {base})
    by_currency = (
        {
            currency: group.set_index(pd.DatetimeIndex(group["date"]))["per_eur"]
            for currency, group in quotes.groupby("currency")
        }
        if len(quotes)
        else {}
    )
    missing = sorted(c for c in wanted if c not in (base, "EUR") and c not in by_currency)
    if missing:
        quoted = ", ".join(sorted({*by_currency, "EUR"}))
        raise ValueError(
            f"no ECB reference rate for {', '.join(missing)} (quoted: {quoted}); holdings in "
            f"{'this currency' if len(missing) == 1 else 'these currencies'} cannot be valued in {base}"
        )
    max_age = pd.Timedelta(days=max_age_days)

    def per_eur(currency: str) -> np.ndarray:
        if currency == "EUR":
            return np.ones(len(dates))
        return _last_quote(by_currency[currency], dates, max_age)

    base_per_eur = per_eur(base) if base in by_currency or base == "EUR" else None
    out = pd.DataFrame(index=dates)
    for currency in wanted:
        if currency == base:
            out[currency] = 1.0
        elif base_per_eur is None:
            raise ValueError(f"no ECB reference rate for the base currency {base}")
        else:
            out[currency] = base_per_eur / per_eur(currency)
    return out


# --------------------------------------------------------------------------- the report's per-holding query

FLOW_ITEMS = ("eps_diluted", "revenue", "gross_profit", "net_income")
BALANCE_ITEMS = (
    "total_assets",
    "total_liabilities",
    "stockholders_equity",
    "current_assets",
    "current_liabilities",
    "shares_outstanding",
)
HOLDING_COLUMNS = [c.name for c in HOLDING_VALUATION]  # the stored portfolio_holdings before its filing columns

_SQL_LIST = lambda names: ", ".join(f"'{name}'" for name in names)  # noqa: E731 - constant item names only

SNAPSHOT_COLUMNS = FUNDAMENTAL_SNAPSHOTS.names
# Figures that depend on the share count: a split of r new shares per old one divides the first by r and
# multiplies the second by r.
PER_SHARE_ITEMS = ("eps_diluted",)
SHARE_COUNT_ITEMS = ("shares_outstanding",)
SPLIT_KINDS = ("split", "reverse_split")
SNAPSHOT_SPLITS = "snapshot_splits"  # the relation SNAPSHOT_SQL reads the splits from (ticker, ex_date, ratio)

# Reads fundamentals(ticker, item, period_type, fiscal_period, period_end, value, unit, filed, vintage_rank,
# known_at) and snapshot_splits(ticker, ex_date, ratio). One row per ticker and knowledge date (`known_at`:
# the first session whose close follows the filing's SEC acceptance time, or the next session after the
# filing date when there is none): what was known from that session on, built only from values known by
# then, valid until the ticker's next knowledge date (`superseded_at`).
# Share basis: a filing states EPS and share counts on the basis of its filing date (SEC requires EPS in
# statements issued after a split to be restated, comparatives included, so a fact filed on or after the
# ex-date is post-split). Each such fact is divided (EPS) or multiplied (shares) by the product of the ratios
# of the splits with a later ex-date, which puts every row on the basis of the latest split given: the
# basis of the stored split-adjusted prices, so P/E, P/B and market cap compare like with like.
SNAPSHOT_SQL = f"""
WITH
raw AS (
    SELECT ticker, item, period_type, fiscal_period, CAST(period_end AS DATE) AS period_end, value, unit,
           CAST(filed AS DATE) AS filed, CAST(known_at AS DATE) AS known_at, vintage_rank
    FROM fundamentals
    WHERE item IN ({_SQL_LIST(FLOW_ITEMS + BALANCE_ITEMS)})
),
basis AS (   -- per ticker and filing date: new shares per share of that date (the splits after it)
    SELECT d.ticker, d.filed, product(s.ratio) AS shares_per_share
    FROM (SELECT DISTINCT ticker, filed FROM raw WHERE filed IS NOT NULL) d
    JOIN (SELECT ticker, CAST(ex_date AS DATE) AS ex_date, ratio FROM {SNAPSHOT_SPLITS}) s
      ON s.ticker = d.ticker AND s.ex_date > d.filed
    GROUP BY d.ticker, d.filed
),
fund AS (
    SELECT r.ticker, r.item, r.period_type, r.fiscal_period, r.period_end,
           CASE WHEN r.item IN ({_SQL_LIST(PER_SHARE_ITEMS)}) THEN r.value / coalesce(b.shares_per_share, 1.0)
                WHEN r.item IN ({_SQL_LIST(SHARE_COUNT_ITEMS)}) THEN r.value * coalesce(b.shares_per_share, 1.0)
                ELSE r.value END AS value,
           r.unit, r.filed, r.known_at, r.vintage_rank
    FROM raw r LEFT JOIN basis b USING (ticker, filed)
),
vintages AS (   -- per knowledge date: the latest vintage of each item and period known by then
    SELECT s.ticker, s.known_at, f.item, f.period_type, f.fiscal_period, f.period_end, f.value, f.unit, f.filed
    FROM (SELECT DISTINCT ticker, known_at FROM fund WHERE known_at IS NOT NULL) s
    JOIN fund f ON f.ticker = s.ticker AND f.known_at <= s.known_at AND f.period_end > s.known_at - INTERVAL 3 YEAR
    QUALIFY row_number() OVER (PARTITION BY s.ticker, s.known_at, f.item, f.period_type, f.fiscal_period
                               ORDER BY f.vintage_rank DESC) = 1
),
balance AS (   -- balance-sheet and cover items of the most recent period
    SELECT ticker, known_at,
           arg_max(value, period_end) FILTER (WHERE item = 'total_assets') AS total_assets,
           arg_max(value, period_end) FILTER (WHERE item = 'total_liabilities') AS total_liabilities,
           arg_max(value, period_end) FILTER (WHERE item = 'stockholders_equity') AS stockholders_equity,
           arg_max(value, period_end) FILTER (WHERE item = 'current_assets') AS current_assets,
           arg_max(value, period_end) FILTER (WHERE item = 'current_liabilities') AS current_liabilities,
           arg_max(value, period_end) FILTER (WHERE item = 'shares_outstanding') AS shares_outstanding
    FROM vintages WHERE item IN ({_SQL_LIST(BALANCE_ITEMS)}) GROUP BY ticker, known_at
),
flows AS (
    SELECT ticker, known_at, item, period_type, period_end, value,
           CAST(regexp_extract(fiscal_period, '(\\d{{4}})', 1) AS INTEGER) AS fiscal_year,
           CASE WHEN period_type = 'annual' THEN 4 ELSE CAST(right(fiscal_period, 1) AS INTEGER) END AS quarter
    FROM vintages WHERE item IN ({_SQL_LIST(FLOW_ITEMS)})
),
latest_flow AS (
    SELECT ticker, known_at, item, arg_max(fiscal_year, period_end) AS fiscal_year,
           arg_max(quarter, period_end) AS quarter
    FROM flows GROUP BY ticker, known_at, item
),
ttm AS (   -- trailing 12 months: FY(y-1) + YTD(y) - YTD(y-1), or FY(y) right after a 10-K
    SELECT l.ticker, l.known_at, l.item,
        CASE WHEN l.quarter = 4
                 THEN max(f.value) FILTER (WHERE f.period_type = 'annual' AND f.fiscal_year = l.fiscal_year)
             WHEN count(*) FILTER (WHERE f.period_type = 'quarterly' AND f.fiscal_year = l.fiscal_year
                                   AND f.quarter <= l.quarter) = l.quarter
              AND count(*) FILTER (WHERE f.period_type = 'quarterly' AND f.fiscal_year = l.fiscal_year - 1
                                   AND f.quarter <= l.quarter) = l.quarter
                 THEN max(f.value) FILTER (WHERE f.period_type = 'annual' AND f.fiscal_year = l.fiscal_year - 1)
                    -- the quarters add in their order, not in the order the threads meet them (same bits every run)
                    + sum(f.value ORDER BY f.quarter) FILTER (WHERE f.period_type = 'quarterly'
                                                             AND f.fiscal_year = l.fiscal_year AND f.quarter <= l.quarter)
                    - sum(f.value ORDER BY f.quarter) FILTER (WHERE f.period_type = 'quarterly'
                                                             AND f.fiscal_year = l.fiscal_year - 1 AND f.quarter <= l.quarter)
        END AS ttm
    FROM latest_flow l JOIN flows f USING (ticker, known_at, item)
    WHERE f.fiscal_year IN (l.fiscal_year, l.fiscal_year - 1)
    GROUP BY l.ticker, l.known_at, l.item, l.fiscal_year, l.quarter
),
ttm_wide AS (
    SELECT ticker, known_at,
           max(ttm) FILTER (WHERE item = 'eps_diluted') AS ttm_eps_diluted,
           max(ttm) FILTER (WHERE item = 'revenue') AS ttm_revenue,
           max(ttm) FILTER (WHERE item = 'gross_profit') AS ttm_gross_profit,
           max(ttm) FILTER (WHERE item = 'net_income') AS ttm_net_income
    FROM ttm GROUP BY ticker, known_at
),
info AS (
    SELECT ticker, known_at, max(filed) AS fundamentals_filed, max(period_end) AS fiscal_period_end,
           arg_max(fiscal_period, strftime(period_end, '%Y%m%d') || CASE period_type WHEN 'annual' THEN '1'
                   ELSE '0' END) AS fiscal_period,
           arg_max(left(unit, 3), period_end) FILTER (WHERE unit <> 'shares') AS reporting_currency
    FROM vintages GROUP BY ticker, known_at
)
SELECT i.ticker, i.known_at, lead(i.known_at) OVER (PARTITION BY i.ticker ORDER BY i.known_at) AS superseded_at,
       i.fundamentals_filed, i.fiscal_period, i.fiscal_period_end, i.reporting_currency,
       t.ttm_eps_diluted, t.ttm_revenue, t.ttm_gross_profit, t.ttm_net_income,
       b.total_assets, b.total_liabilities, b.stockholders_equity, b.current_assets, b.current_liabilities,
       b.shares_outstanding
FROM info i
LEFT JOIN ttm_wide t USING (ticker, known_at)
LEFT JOIN balance b USING (ticker, known_at)
ORDER BY i.ticker, i.known_at
"""


def known_splits(actions: pd.DataFrame | None, as_of=None) -> pd.DataFrame:
    """The splits and reverse splits of `actions` (corporate_actions rows: ticker, ex_date, kind, ratio,
    known_at; ratio = new shares per old share, 3.0 for 3:1, 0.25 for 1-for-4) known by `as_of` (all of
    them when None), as (ticker, ex_date, ratio)."""
    columns = ["ticker", "ex_date", "ratio"]
    if actions is None or actions.empty:
        return pd.DataFrame(
            {
                "ticker": pd.Series(dtype="object"),
                "ex_date": pd.Series(dtype="datetime64[ns]"),
                "ratio": pd.Series(dtype="float64"),
            }
        )
    splits = actions[actions["kind"].isin(SPLIT_KINDS)]
    ratio = pd.to_numeric(splits["ratio"], errors="coerce")
    splits = splits[np.isfinite(ratio) & (ratio > 0)]
    if as_of is not None:
        known_at = pd.to_datetime(splits["known_at"], utc=True)
        splits = splits[known_at.notna() & (known_at <= _utc(as_of))]
    out = splits[columns].copy()
    out["ex_date"] = pd.to_datetime(out["ex_date"]).astype("datetime64[ns]")
    out["ratio"] = out["ratio"].astype("float64")
    return out.reset_index(drop=True)


def _utc(stamp) -> pd.Timestamp:
    stamp = pd.Timestamp(stamp)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def fundamental_snapshots(
    con: duckdb.DuckDBPyConnection, actions: pd.DataFrame | None = None, as_of=None
) -> pd.DataFrame:
    """Point-in-time valuation inputs per ticker and knowledge date from the standardized `fundamentals`.

    Each row is what was known from the session `known_at` on (the first close after the filings' SEC
    acceptance times; `fundamentals.known_at`), built only from values known by then, and holds until
    `superseded_at` (the ticker's next knowledge date, NaT for the latest):
    trailing-12-month diluted EPS, revenue, gross profit and net income (FY(y-1) + YTD(y) - YTD(y-1),
    or the fiscal year right after a 10-K; NaN when a quarter is missing), and the most recent
    balance sheet and cover-page shares outstanding.

    Per-share figures and share counts are on one share basis: that of every split in `actions`
    (corporate_actions rows) known by `as_of` (all of them when None; `known_splits`), which is the basis
    of prices adjusted for those splits. A fact filed before a split's ex-date is rescaled by its ratio;
    one filed on or after it is already restated. Without `actions`, every figure is as filed.
    """
    con.register(SNAPSHOT_SPLITS, known_splits(actions, as_of))
    try:
        frame = con.execute(SNAPSHOT_SQL).df()
    finally:
        con.unregister(SNAPSHOT_SPLITS)
    for column in ("known_at", "superseded_at", "fundamentals_filed", "fiscal_period_end"):
        frame[column] = pd.to_datetime(frame[column])
    return frame[SNAPSHOT_COLUMNS]


# Reads market_panel(ticker, date, close, adj_close, rsi_14, sma_50, sma_200, bb_pctb, headline_count,
# decayed_7d_score), fx_rates(date, currency, per_eur), fundamental_snapshots (SNAPSHOT_COLUMNS) and the
# registered report_days(day) and report_holdings(holding, ticker, account, currency, shares, cost_basis,
# purchase_date).
HOLDINGS_SQL = """
WITH
days AS (SELECT DISTINCT CAST(day AS DATE) AS day FROM report_days),
book AS (
    SELECT d.day, h.* FROM days d CROSS JOIN report_holdings h
    WHERE h.purchase_date IS NULL OR CAST(h.purchase_date AS DATE) <= d.day
),
keys AS (SELECT DISTINCT day, ticker FROM book),
panel AS (   -- filtered on the raw column so Parquet statistics can skip row groups
    SELECT ticker, CAST(date AS DATE) AS date, close, adj_close, rsi_14, sma_50, sma_200, bb_pctb,
           headline_count, decayed_7d_score
    FROM market_panel
    WHERE date >= $first_day - INTERVAL 31 DAY AND date <= $last_day
      AND ticker IN (SELECT ticker FROM report_holdings)
),
market AS (   -- the last close on or before the day (within a month), the one before it, signals, news
    SELECT k.day, k.ticker,
           max(p.date) AS price_date,
           max_by(p.date, p.date, 2) AS dates,
           max_by(p.close, p.date, 2) AS closes,
           arg_max(p.adj_close, p.date) AS adj_close, arg_max(p.rsi_14, p.date) AS rsi_14,
           arg_max(p.sma_50, p.date) AS sma_50, arg_max(p.sma_200, p.date) AS sma_200,
           arg_max(p.bb_pctb, p.date) AS bb_pctb,
           -- the decayed 7-day score of the last day with headlines in the week, and the week's count
           arg_max(p.decayed_7d_score, p.date) FILTER (WHERE p.decayed_7d_score IS NOT NULL
                                                       AND p.date > k.day - INTERVAL 7 DAY) AS sentiment_7d,
           coalesce(sum(p.headline_count) FILTER (WHERE p.date > k.day - INTERVAL 7 DAY), 0) AS headlines_7d
    FROM keys k JOIN panel p ON p.ticker = k.ticker AND p.date <= k.day AND p.date > k.day - INTERVAL 31 DAY
    GROUP BY k.day, k.ticker
),
fx_quotes AS (   -- back to the previous close's fixing: 31 days of closes + 10 days of fixing age
    SELECT CAST(date AS DATE) AS date, currency, per_eur FROM fx_rates
    WHERE date >= $first_day - INTERVAL 41 DAY AND date <= $last_day
),
fx_day AS (   -- units per EUR known on the day: the last ECB fixing, at most 10 days old
    SELECT d.day, q.currency, arg_max(q.per_eur, q.date) AS per_eur
    FROM days d JOIN fx_quotes q ON q.date <= d.day AND q.date > d.day - INTERVAL 10 DAY
    GROUP BY d.day, q.currency
    UNION ALL SELECT day, 'EUR', 1.0 FROM days
),
prev_dates AS (SELECT DISTINCT dates[2] AS date FROM market WHERE dates[2] IS NOT NULL),
fx_prev AS (   -- the same rule on the date of each previous close, for the FX part of the day's P&L
    SELECT d.date, q.currency, arg_max(q.per_eur, q.date) AS per_eur
    FROM prev_dates d JOIN fx_quotes q ON q.date <= d.date AND q.date > d.date - INTERVAL 10 DAY
    GROUP BY d.date, q.currency
    UNION ALL SELECT date, 'EUR', 1.0 FROM prev_dates
),
known AS (   -- point in time: the snapshot valid on the day, from its known_at session until the next one
    SELECT k.day, s.*
    FROM keys k JOIN (
        SELECT * FROM fundamental_snapshots
        WHERE known_at <= $last_day AND (superseded_at IS NULL OR superseded_at > $first_day)
          AND ticker IN (SELECT ticker FROM report_holdings)) s
      ON s.ticker = k.ticker AND CAST(s.known_at AS DATE) <= k.day
     AND (s.superseded_at IS NULL OR CAST(s.superseded_at AS DATE) > k.day)
),
valued AS (
    SELECT b.day, b.holding, b.ticker, b.account, b.currency, b.shares, b.cost_basis, b.purchase_date,
           m.closes[1] AS price, m.price_date, m.closes[2] AS prev_close,
           -- a day move only for a holding with a close dated the report day (none on an exchange holiday)
           m.price_date = b.day AS traded,
           CASE WHEN m.price_date = b.day THEN m.closes[1] / m.closes[2] - 1 END AS day_change_pct,
           CASE WHEN b.currency = $base THEN 1.0 ELSE fb.per_eur / fc.per_eur END AS fx_rate,
           CASE WHEN b.currency = $base THEN 1.0 ELSE pb.per_eur / pc.per_eur END AS prev_fx_rate,
           m.adj_close, m.rsi_14, m.sma_50, m.sma_200, m.bb_pctb, m.sentiment_7d, m.headlines_7d,
           kn.fiscal_period, kn.fiscal_period_end, kn.fundamentals_filed, kn.reporting_currency,
           kn.ttm_eps_diluted AS ttm_eps, kn.ttm_revenue, kn.ttm_gross_profit, kn.ttm_net_income,
           kn.total_assets, kn.total_liabilities, kn.stockholders_equity AS equity, kn.current_assets,
           kn.current_liabilities, kn.shares_outstanding,
           -- the price in the currency the company reports in, for P/E and P/B
           m.closes[1] * CASE WHEN b.currency = kn.reporting_currency THEN 1.0 ELSE fr.per_eur / fc.per_eur END
               AS price_reporting
    FROM book b
    LEFT JOIN market m ON m.day = b.day AND m.ticker = b.ticker
    LEFT JOIN fx_day fc ON fc.day = b.day AND fc.currency = b.currency
    LEFT JOIN fx_day fb ON fb.day = b.day AND fb.currency = $base
    LEFT JOIN fx_prev pc ON pc.date = m.dates[2] AND pc.currency = b.currency
    LEFT JOIN fx_prev pb ON pb.date = m.dates[2] AND pb.currency = $base
    LEFT JOIN known kn ON kn.day = b.day AND kn.ticker = b.ticker
    LEFT JOIN fx_day fr ON fr.day = b.day AND fr.currency = kn.reporting_currency
)
SELECT day AS date, holding, ticker, account, currency, shares, cost_basis, purchase_date, price, price_date,
       prev_close, day_change_pct, fx_rate,
       shares * price * fx_rate AS market_value,
       shares * cost_basis * fx_rate AS cost,
       shares * (price - cost_basis) * fx_rate AS unrealized_pnl,
       CASE WHEN cost_basis > 0 THEN price / cost_basis - 1 END AS unrealized_pnl_pct,
       -- day P&L in base = the local price move at the previous close's rate + the FX move on today's value
       -- (= shares x (price x fx - previous close x its fx)), summed from its two parts so that
       -- day_change_price_value + day_change_fx_value == day_change_value exactly, not just to rounding
       CASE WHEN traded THEN shares * (price - prev_close) * prev_fx_rate + shares * price * (fx_rate - prev_fx_rate)
       END AS day_change_value,
       CASE WHEN traded THEN shares * (price - prev_close) * prev_fx_rate END AS day_change_price_value,
       CASE WHEN traded THEN shares * price * (fx_rate - prev_fx_rate) END AS day_change_fx_value,
       -- the day's total adds the holdings in their order (not the threads'): the same bits every run
       shares * price * fx_rate / sum(shares * price * fx_rate) OVER (
           PARTITION BY day ORDER BY holding ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS weight,
       rsi_14, adj_close / sma_50 - 1 AS price_vs_sma50, adj_close / sma_200 - 1 AS price_vs_sma200, bb_pctb,
       sentiment_7d, headlines_7d, fiscal_period, fiscal_period_end, fundamentals_filed, reporting_currency,
       ttm_eps AS ttm_eps_diluted,
       price_reporting * shares_outstanding AS market_cap,
       CASE WHEN ttm_eps > 0 THEN price_reporting / ttm_eps END AS pe_ttm,
       CASE WHEN equity > 0 THEN price_reporting * shares_outstanding / equity END AS price_to_book,
       CASE WHEN equity > 0 THEN total_liabilities / equity END AS debt_to_equity,
       CASE WHEN current_liabilities > 0 THEN current_assets / current_liabilities END AS current_ratio,
       CASE WHEN total_assets > 0 THEN ttm_net_income / total_assets END AS roa,
       CASE WHEN equity > 0 THEN ttm_net_income / equity END AS roe,
       CASE WHEN ttm_revenue > 0 THEN ttm_gross_profit / ttm_revenue END AS gross_margin,
       CASE WHEN ttm_revenue > 0 THEN ttm_net_income / ttm_revenue END AS net_margin
FROM valued
ORDER BY day, holding
"""


def holdings_table(
    con: duckdb.DuckDBPyConnection, days: Sequence, holdings: pd.DataFrame, base: str = "USD"
) -> pd.DataFrame:
    """Per report day and holding: valuation, indicators, sentiment and point-in-time fundamentals.

    Runs `HOLDINGS_SQL` (the report's main query) on `con`, which must see `market_panel`, `fx_rates`
    and `fundamental_snapshots` (warehouse views or registered DataFrames). A holding appears from its
    `purchase_date` on.
    Money columns are in `base` (the cost at the day's FX rate: FX on the cost is not tracked);
    `unrealized_pnl_pct` and `day_change_pct` are in the holding's currency. The day's P&L exists only
    for a holding with a close dated the day (NaN on an exchange holiday, which would otherwise repeat
    the previous session's move): `day_change_value` = shares x (price x fx - previous close x its fx),
    split into `day_change_price_value` (the local price move at the previous close's rate) and
    `day_change_fx_value` (the FX move on today's value); the rates are the last ECB fixing on or
    before each close. Fundamentals use only values known by the day's close (the snapshot of the last
    `known_at` on or before it: the first session closing after SEC accepted the filing, or the next
    session after its filing date); `fundamentals_filed` is the latest filing date among the values used.
    """
    base = base.upper()
    if base not in ISO_CURRENCIES:
        raise ValueError(f"unknown base currency {base!r}")
    day_index = pd.DatetimeIndex(pd.to_datetime(list(days))).normalize()
    if day_index.empty:
        return pd.DataFrame(columns=HOLDING_COLUMNS)
    book = holdings.reset_index(drop=True).assign(holding=lambda f: f.index.astype("int64"))
    if "account" not in book:
        book["account"] = ""
    if "purchase_date" not in book:
        book["purchase_date"] = pd.NaT
    book = book[["holding", "ticker", "account", "currency", "shares", "cost_basis", "purchase_date"]]
    book["purchase_date"] = pd.to_datetime(book["purchase_date"])
    con.register("report_days", pd.DataFrame({"day": day_index}))
    con.register("report_holdings", book)
    try:
        out = con.execute(
            HOLDINGS_SQL, {"base": base, "first_day": day_index.min().date(), "last_day": day_index.max().date()}
        ).df()
    finally:
        con.unregister("report_days")
        con.unregister("report_holdings")
    out = out.rename(columns={"day": "date"})
    for column in ("date", "price_date", "fiscal_period_end", "fundamentals_filed", "purchase_date"):
        out[column] = pd.to_datetime(out[column])
    return out[HOLDING_COLUMNS]


# --------------------------------------------------------------------------- the portfolio per day

TRADING_DAYS_PER_YEAR = 252
RISK_WINDOW_DAYS = 252
# report row -> holdings column summed into it: the day's P&L in base, and its local-price and FX parts
DAY_PNL_PARTS = {
    "day_pnl": "day_change_value",
    "day_pnl_price": "day_change_price_value",
    "day_pnl_fx": "day_change_fx_value",
}


def value_history(holdings: pd.DataFrame, closes: pd.DataFrame, fx: pd.DataFrame, base: str) -> pd.Series:
    """Value in `base` per date of today's holdings (those with prices), over the whole price history.

    `closes`: dates x tickers (adjusted closes for a total-return history). `fx`: dates x currency
    in `base` per unit (see `fx_to_base`). NaN until every holding has a quote.
    """
    priced = holdings[holdings["ticker"].isin(closes.columns)]
    if priced.empty:
        return pd.Series(dtype="float64", name="portfolio_value")
    values = portfolio_value_series(priced, closes, fx, base)
    # only dates on which some held ticker has a close: a date where only other tickers traded is no
    # observation of this portfolio (no day return on it; its FX move goes into the next session's)
    traded = _date_index(closes)[priced["ticker"].unique().tolist()].notna().any(axis=1)
    return values[traded.reindex(values.index, fill_value=False).to_numpy()].dropna()


def portfolio_summary(
    day: pd.Timestamp, rows: pd.DataFrame, values: pd.Series, benchmark: pd.Series | None, risk_free_annual: float = 0.0
) -> dict:
    """One report row: totals of `rows` (the day's holdings) and risk of `values` (their value history).

    Risk uses the last `RISK_WINDOW_DAYS` daily returns up to `day`; day/MTD/YTD returns use the
    whole history. On a day without a session (no holding has a close dated it: an exchange holiday)
    the day P&L (and its price / FX parts) and the day return are NaN, not the previous session's
    again; MTD and YTD are those of the day's own month and year. `benchmark`: the benchmark's closes (date index) for beta. `risk_free_annual`
    becomes a daily rate (1 + r)^(1/252) - 1 for Sharpe and Sortino's required return.
    """
    values = values[values.index <= day]
    window = values.tail(RISK_WINDOW_DAYS + 1)
    returns = window.pct_change().dropna()
    bench = None
    if benchmark is not None and len(benchmark):
        bench_closes = benchmark[benchmark.index <= day].dropna()
        bench = bench_closes.pct_change().reindex(returns.index)
    rf_daily = (1.0 + risk_free_annual) ** (1.0 / TRADING_DAYS_PER_YEAR) - 1.0
    priced = rows[rows["market_value"].notna()]
    by_ticker = priced.groupby("ticker")["market_value"].sum()
    summary = {
        "date": pd.Timestamp(day).normalize(),
        "holdings": int(len(rows)),
        "holdings_unpriced": int(len(rows) - len(priced)),
        "total_value": float(priced["market_value"].sum()),
        "total_cost": float(priced["cost"].sum()),
        # NaN on a day without a session (no holding has a close dated the day): no day P&L, stated
        **{
            key: float(priced[column].sum(min_count=1)) if len(priced) and column in priced else float("nan")
            for key, column in DAY_PNL_PARTS.items()
        },
        "observations": int(len(returns)),
        "risk_free_annual": float(risk_free_annual),
    }
    if not (np.isnan(summary["day_pnl_price"]) or np.isnan(summary["day_pnl_fx"])):
        # the total is its two parts' sum, exactly (the holdings' day P&L sums to it within rounding)
        summary["day_pnl"] = summary["day_pnl_price"] + summary["day_pnl_fx"]
    summary["unrealized_pnl"] = summary["total_value"] - summary["total_cost"]
    summary["unrealized_pnl_pct"] = (
        summary["unrealized_pnl"] / summary["total_cost"] if summary["total_cost"] else float("nan")
    )
    summary.update(risk.period_returns(values, day))
    summary.update(risk.risk_summary(returns, bench, risk_free=rf_daily))
    weights = by_ticker[by_ticker > 0]
    summary["hhi"] = risk.herfindahl(weights) if len(weights) else float("nan")
    summary["effective_holdings"] = risk.effective_holdings(weights) if len(weights) else float("nan")
    return summary
