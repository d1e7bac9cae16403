"""Hostile input: bad tickers are refused before they reach a path, a partition key, a URL or SQL, and
malformed source data ends in a clear error or a failed check, never in the warehouse."""

from __future__ import annotations

import ast
import csv
import io
import json
from pathlib import Path

import dagster as dg
import httpx
import pandas as pd
import pytest

from finance_assets import cli
from finance_assets.defs.market import assets as market
from finance_assets.defs.market.prices import validate_prices
from finance_assets.defs.market.source import PriceSource
from finance_assets.defs.news.source import NewsSource
from finance_assets.defs.sec import assets as sec
from finance_assets.defs.sec import xbrl
from finance_assets.defs.sec.source import SecEdgarSource
from finance_assets.demo import source as demo
from finance_assets.lib.holdings_file import PortfolioError, read_portfolio
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.partitions import TICKER, TICKERS_TAG, tickers_tag
from finance_assets.lib.sources import SourceFailed
from finance_assets.lib.warehouse import Warehouse, WarehouseError

PACKAGE = Path(__file__).resolve().parents[2] / "finance_assets"

HOSTILE_TICKERS = [
    "../../etc/passwd",
    "A';DROP TABLE prices;--",
    "A" * 300,
    "AC\x00MQ",  # NUL
    "\x1b[31mACMQ",  # terminal escape
    "AC\rMQ",
    "AC\nMQ",
    "\u0410CMQ",  # Cyrillic A
    "\uff21CMQ",  # fullwidth A
    "ACMQ\u200b",  # zero-width space
    "ACMQ/../../x",
]


def _csv_text(ticker: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(
        [["ticker", "shares", "cost_basis", "currency"], ["BLZQ", "1", "1", "USD"], [ticker, "1", "1", "USD"]]
    )
    return out.getvalue()


@pytest.mark.parametrize("ticker", HOSTILE_TICKERS)
def test_portfolio_file_refuses_hostile_tickers_naming_the_line(ticker):
    with pytest.raises(PortfolioError) as caught:
        read_portfolio(_csv_text(ticker))
    message = str(caught.value)
    assert "line 3" in message and "ticker" in message
    assert not any(ch in message for ch in "\x00\x1b\r")  # echoed escaped, never raw to a terminal


def test_surrounding_whitespace_is_trimmed_to_the_canonical_ticker():
    assert read_portfolio(_csv_text(" acmq\t\n"))["ticker"].tolist() == ["BLZQ", "ACMQ"]


def _registered(isolated_home) -> list[str]:
    with dg.DagsterInstance.from_config(str(isolated_home / "dagster_home")) as inst:
        return list(inst.get_dynamic_partitions(TICKER)), len(inst.get_runs())


@pytest.mark.parametrize("ticker", ["../../etc/passwd", "A';DROP TABLE prices;--", "\x1b[2J"])
def test_cli_register_and_backfill_refuse_hostile_tickers(isolated_home, capsys, ticker):
    data = isolated_home / "data"
    (data / "portfolio.csv").write_text(_csv_text(ticker))
    assert cli.main(["register"]) == 2
    assert _registered(isolated_home) == ([], 0)

    (data / "portfolio.csv").write_text("ticker,shares,cost_basis,currency\nACMQ,1,1,USD\n")
    assert cli.main(["register", "--benchmark", ticker]) == 2
    assert _registered(isolated_home) == ([], 0)

    assert cli.main(["register"]) == 0
    assert cli.main(["backfill", "--tickers", f"ACMQ,{ticker}", "--executor", "in_process"]) == 2
    assert _registered(isolated_home) == (["ACMQ", "DEMOIDX"], 0)  # nothing ran
    err = capsys.readouterr().err
    assert err.count("error:") == 3 and "\x1b" not in err and "\x00" not in err


def test_portfolio_sensor_refuses_a_hostile_file_and_registers_nothing(isolated_home):
    from finance_assets.defs.sec.sensors import portfolio_tickers_sensor

    (isolated_home / "data" / "portfolio.csv").write_text(_csv_text("../../etc/passwd"))
    with dg.DagsterInstance.from_config(str(isolated_home / "dagster_home")) as inst:
        with pytest.raises(PortfolioError, match="line 3"):
            portfolio_tickers_sensor(dg.build_sensor_context(instance=inst))
        assert inst.get_dynamic_partitions(TICKER) == []


@pytest.fixture
def request_log(tmp_path, monkeypatch) -> Path:
    """Every request that reaches the transport is appended here (see FINANCE_ASSETS_REQUEST_LOG)."""
    path = tmp_path / "requests.log"
    monkeypatch.setenv("FINANCE_ASSETS_REQUEST_LOG", str(path))
    return path


def _source_fields(tmp_path: Path) -> dict:
    return {
        "mode": "demo",
        "cache_dir": str(tmp_path / "cache"),
        "state_dir": str(tmp_path / "state"),
        "demo_now": "2025-04-10T22:00:00Z",
    }


@pytest.mark.parametrize("ticker", ["../../etc/passwd", "A';DROP TABLE prices;--", "\u0410CMQ"])
def test_hostile_partition_key_added_behind_the_cli_never_reaches_a_url_or_a_path(
    isolated_home, tmp_path, request_log, ticker
):
    """A key added straight to the instance (e.g. from the UI) is refused by the asset before any request."""
    warehouse = isolated_home / "data" / "warehouse"
    with dg.DagsterInstance.from_config(str(isolated_home / "dagster_home")) as inst:
        inst.add_dynamic_partitions(TICKER, [ticker])
        result = dg.materialize(  # a month run processes every registered ticker: the hostile one too
            [market.corporate_actions, market.prices],
            selection=[market.prices],
            instance=inst,
            raise_on_error=False,
            partition_key="2025-03-01",
            resources={
                "prices_source": PriceSource(**_source_fields(tmp_path)),
                "io_manager": ParquetWarehouseIOManager(base_path=str(warehouse)),
            },
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    assert "ticker" in failure.cause.message
    assert not request_log.exists()  # no URL was ever built from it
    assert not list(warehouse.rglob("*.parquet")) and not (tmp_path / "etc").exists()

    with pytest.raises(ValueError, match="ticker"):
        NewsSource(**_source_fields(tmp_path)).headlines_feed(ticker)
    assert not request_log.exists()


@pytest.mark.parametrize("tag", ["../../etc/passwd", "ACMQ,A';DROP TABLE prices;--", "\u0410CMQ"])
def test_hostile_tickers_tag_never_reaches_a_url_or_a_path(isolated_home, tmp_path, request_log, tag):
    """A month run's tickers tag (set by hand in the UI's launchpad) is refused before any request or write."""
    warehouse = isolated_home / "data" / "warehouse"
    with dg.DagsterInstance.from_config(str(isolated_home / "dagster_home")) as inst:
        inst.add_dynamic_partitions(TICKER, ["ACMQ"])
        result = dg.materialize(
            [market.corporate_actions, market.prices],
            selection=[market.prices],
            instance=inst,
            raise_on_error=False,
            partition_key="2025-03-01",
            tags={TICKERS_TAG: tag},
            resources={
                "prices_source": PriceSource(**_source_fields(tmp_path)),
                "io_manager": ParquetWarehouseIOManager(base_path=str(warehouse)),
            },
        )
        assert not inst.get_materialized_partitions(dg.AssetKey("prices"))
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    text = failure.message + (failure.cause.message if failure.cause else "")
    assert f"run tag {TICKERS_TAG}" in text and "ticker" in text
    assert not request_log.exists()  # no URL was ever built from it
    assert not list(warehouse.rglob("*.parquet")) and not (tmp_path / "etc").exists()


def test_hostile_values_are_only_ever_data_in_sql(tmp_path):
    root = tmp_path / "o'brien's warehouse"  # a quote in the path must not break the view DDL
    wh = Warehouse(root)
    hostile = "A';DROP TABLE prices;--"
    frame = pd.DataFrame(
        {
            "ticker": "ACMQ",
            "date": pd.to_datetime(["2025-03-03", "2025-03-04"]).date,
            "source": [hostile, "yahoo"],
            "close": [1.0, 2.0],
        }
    )
    wh.write("prices", {"ticker": "ACMQ", "month": "2025-03-01"}, frame)  # values as data, the path is safe
    assert wh.register_view("prices")
    only = wh.read("prices", where="source = ?", params=[hostile])
    assert only["close"].tolist() == [1.0]
    con = wh.connect()
    try:
        assert con.execute("SELECT count(*) FROM prices WHERE source = ?", [hostile]).fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM prices").fetchone()[0] == 2  # the table is still there
    finally:
        con.close()
    for asset in ("prices; DROP TABLE x", "../prices", "Prices"):
        with pytest.raises(WarehouseError):
            wh.view_sql(asset)


# Every call that runs SQL passes a literal, a module-level constant (UPPER_CASE) or one of these
# reviewed expressions: `Warehouse.read`'s statement (its caller's predicate takes values only as
# parameters) and `Warehouse.view_sql` (a checked asset name and a quote-escaped path; DuckDB takes no
# parameters in DDL). A new dynamic SQL site fails this test until someone has reviewed it.
REVIEWED_DYNAMIC_SQL = {
    # the report's one connection: table names are module constants, columns come from the declared schemas
    ("defs/portfolio/assets.py", "f\"SELECT {', '.join(columns)} FROM {table}\""),
    ("defs/portfolio/assets.py", "f'SELECT * FROM {SECTOR_SOURCE}'"),
    ("defs/portfolio/assets.py", "f'SELECT * FROM {TEXT_SIGNALS}'"),
    # partition predicates: dimension names from _TIME_DIMENSIONS, values through _check_value (_SAFE_VALUE)
    # the selected partition labels as an ENUM type: the type name is <asset>_selected_<i> (a checked asset
    # name), the values checked partition labels (_SAFE_VALUE: no quote can occur)
    ("lib/warehouse.py", "f'CREATE TYPE {enum} AS ENUM ({_quoted(values)})'"),
    # Dagster's own SQLAlchemy statement of an event batch (values bound as parameters)
    ("lib/dagster_instance.py", "self.prepare_insert_event_batch(events)"),
    # Dagster's own statement for a check's planned rows (SQLAlchemy insert, values bound as parameters)
    (
        "lib/dagster_instance.py",
        "AssetCheckExecutionsTable.insert().values([{**row, 'partition': key} for key in partition_keys])",
    ),
    ("lib/warehouse.py", "sql"),
    ("lib/warehouse.py", "self.view_sql(asset)"),
    # the object-store snapshot's views: `_view_sql` checks the asset name itself (names come from a listing)
    ("lib/warehouse.py", "_view_sql(asset, str(Path(tmp.name, asset, '**', DATA_FILE)))"),
    # the market sync's coverage query (lib/coverage.py): relation names are coverage_<i> and <asset>_coverage of the
    # sync's own asset names, numbers are asset and month positions; tickers, months and versions are registered tables
    (
        "lib/coverage.py",
        (
            "f'\\n        WITH masks AS ({masks}),\\n        stored_counts AS (SELECT asset_id, count(*) "
            "AS n FROM stored_months GROUP BY asset_id)\\n        SELECT s.asset_id, w.ticker, CAST(m.mo"
            "nths AS VARCHAR)\\n        FROM stored_counts s CROSS JOIN wanted_tickers w\\n        LEFT J"
            "OIN masks m ON m.asset_id = s.asset_id AND m.ticker = w.ticker\\n        WHERE m.months IS "
            "NULL OR bit_count(m.months) < s.n\\n        '"
        ),
    ),
    (
        "lib/coverage.py",
        (
            "f'CREATE TEMP VIEW {relations[asset]} AS SELECT CAST(date AS DATE) AS month, CAST(ticker A"
            "S VARCHAR) AS ticker, CAST(actions_version AS VARCHAR) AS actions_version FROM {coverage_t"
            "able(asset)}'"
        ),
    ),
    (
        "lib/coverage.py",
        (
            "f'\\n            SELECT DISTINCT c.ticker\\n            FROM {relations[versioned]} c\\n     "
            "       SEMI JOIN stored_months s ON s.asset_id = {assets.index(versioned)} AND s.month = c"
            ".month\\n            JOIN current_versions v ON v.ticker = c.ticker\\n            WHERE c.ac"
            "tions_version IS NULL OR c.actions_version IS DISTINCT FROM v.version\\n            '"
        ),
    ),
    # the panel's gaps (coverage.lacking_in_warehouse): relation names are <asset>_coverage of the caller's asset
    # names (checked by the warehouse when it opens their files); months and tickers are registered tables
    (
        "lib/coverage.py",
        (
            "f'\\n            WITH held AS (\\n                SELECT DISTINCT m.month, CAST(h.ticker"
            " AS VARCHAR) AS ticker\\n                FROM {coverage_table(held_by)} h\\n            "
            "    JOIN wanted_months m ON m.day = CAST(h.date AS DATE)\\n                SEMI JOIN wan"
            "ted_tickers w ON w.ticker = CAST(h.ticker AS VARCHAR)\\n            )\\n            SELE"
            "CT held.ticker, held.month FROM held\\n            ANTI JOIN (\\n                SELECT "
            "m.month, CAST(c.ticker AS VARCHAR) AS ticker\\n                FROM {coverage_table(lack"
            "ing_in)} c\\n                JOIN wanted_months m ON m.day = CAST(c.date AS DATE)\\n    "
            "        ) covered ON covered.month = held.month AND covered.ticker = held.ticker\\n     "
            "       '"
        ),
    ),
}
SQL_METHODS = {"execute", "executemany", "sql", "query"}
CONNECTION_NAMES = ("con", "conn", "connection", "cursor", "duckdb")


def test_sql_takes_data_only_as_parameters():
    dynamic = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SQL_METHODS
                and node.args
            ):
                continue
            receiver = ast.unparse(node.func.value).split(".")[-1].lstrip("_")
            if not receiver.endswith(CONNECTION_NAMES):
                continue
            statement = node.args[0]
            if isinstance(statement, ast.Constant) or (isinstance(statement, ast.Name) and statement.id.isupper()):
                continue
            dynamic.add((path.relative_to(PACKAGE).as_posix(), ast.unparse(statement)))
    assert dynamic <= REVIEWED_DYNAMIC_SQL, sorted(dynamic - REVIEWED_DYNAMIC_SQL)
    assert dynamic, "the scan found no dynamic SQL at all: the scanner is broken"


# ----------------------------------------------------------------------- malformed source data


def _routes(**bodies: bytes | str):
    """A transport answering by host (yahoo / stooq / news / sec paths) with fixed bodies, else the demo."""
    inner = demo.DemoTransport(now=pd.Timestamp("2025-04-10T22:00:00Z").to_pydatetime())

    def handle(request: httpx.Request) -> httpx.Response:
        host, path = request.url.host, request.url.path
        for name, matches in (
            ("yahoo", host == "query1.finance.yahoo.com"),
            ("stooq", host == "stooq.com"),
            ("news", host == "feeds.finance.yahoo.com"),
            ("companyfacts", "/api/xbrl/companyfacts/" in path),
            ("submissions", path.startswith("/submissions/")),
        ):
            if matches and name in bodies:
                return httpx.Response(200, content=bodies[name], request=request)
        return inner.handle_request(request)

    return httpx.MockTransport(handle)


def _with_transport(cls, transport):
    class Patched(cls):
        def _transport(self):
            return transport

    Patched.__name__ = cls.__name__
    return Patched


def _yahoo_chart_with(ticker: str, change) -> bytes:
    doc = demo.yahoo_chart_json(ticker, 1740787200, 1743465600)  # March 2025
    change(doc["chart"]["result"][0]["indicators"])
    return json.dumps(doc).encode()


def _materialize_prices(tmp_path, instance, transport) -> tuple[dg.ExecuteInJobResult, Path]:
    warehouse = tmp_path / "warehouse"
    instance.add_dynamic_partitions(TICKER, ["ACMQ"])
    result = dg.materialize(
        [market.corporate_actions, market.prices],
        selection=[market.prices],
        instance=instance,
        raise_on_error=False,
        partition_key="2025-03-01",
        tags=tickers_tag(["ACMQ"]),
        resources={
            "prices_source": _with_transport(PriceSource, transport)(**_source_fields(tmp_path)),
            "io_manager": ParquetWarehouseIOManager(base_path=str(warehouse)),
        },
    )
    return result, warehouse


def _failure_message(result) -> str:
    error = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    while (error.cls_name or "").startswith("Dagster") and error.cause is not None:
        error = error.cause
    return error.message


def _negative_close(ind):
    ind["quote"][0]["close"][3] = -1.0


def _zero_open(ind):
    ind["quote"][0]["open"][5] = 0.0


BAD_STOOQ = "Date,Open,High,Low,Close,Volume\n2025-03-03,1,1,1,not-a-number,5\n2025-03-04,1,1,1,-5,5\n"


@pytest.mark.parametrize(
    "yahoo, reason",
    [
        (b'{"chart": {"result": [{"timestamp": [1, 2', "JSONDecodeError"),
        (b"<html><body>Service temporarily unavailable</body></html>", "JSONDecodeError"),
        (json.dumps({"chart": {"result": None, "error": {"code": "Not Found"}}}).encode(), "Not Found"),
        (_yahoo_chart_with("ACMQ", _negative_close), "rows with a non-positive price"),
        (_yahoo_chart_with("ACMQ", _zero_open), "rows with a non-positive price"),
    ],
)
def test_malformed_or_impossible_prices_are_refused_naming_each_provider(tmp_path, yahoo, reason):
    source = _with_transport(PriceSource, _routes(yahoo=yahoo, stooq=BAD_STOOQ))(**_source_fields(tmp_path))
    with pytest.raises(SourceFailed) as caught:
        source.daily_bars("ACMQ", pd.Timestamp("2025-03-01").date(), pd.Timestamp("2025-04-01").date())
    message = str(caught.value)
    assert message.startswith("all price providers failed for ACMQ: yahoo: ") and reason in message
    assert "stooq: rejected (1 rows with a non-positive price)" in message  # the unparsable row was dropped


def test_a_price_run_whose_providers_all_fail_stores_nothing(isolated_home, tmp_path):
    with dg.DagsterInstance.from_config(str(isolated_home / "dagster_home")) as inst:
        result, warehouse = _materialize_prices(
            tmp_path, inst, _routes(yahoo=_yahoo_chart_with("ACMQ", _zero_open), stooq=BAD_STOOQ)
        )
        assert not result.success
        assert "SourceFailed: all price providers failed for ACMQ: " in _failure_message(result)
        assert not list(warehouse.rglob("*.parquet"))
        assert not inst.get_materialized_partitions(dg.AssetKey("prices"))


def test_a_provider_with_a_negative_price_is_skipped_for_the_next_one(isolated_home, tmp_path):
    with dg.DagsterInstance.from_config(str(isolated_home / "dagster_home")) as inst:
        result, warehouse = _materialize_prices(
            tmp_path, inst, _routes(yahoo=_yahoo_chart_with("ACMQ", _negative_close))
        )
        assert result.success
    stored = Warehouse(warehouse).read("prices")
    assert len(stored) and (stored["source"] == "stooq (demo)").all()
    assert not validate_prices(stored)  # every stored price is positive, dates unique


def test_price_check_fails_a_stored_zero_or_negative_price():
    frame = pd.DataFrame(
        {
            "ticker": "ACMQ",
            "date": pd.bdate_range("2025-03-03", periods=3).date,
            "open": [10.0, 10.0, 10.0],
            "high": [11.0, 11.0, 11.0],
            "low": [9.0, 9.0, 9.0],
            "close": [10.5, 0.0, -1.0],
            "adj_close": [10.5, 0.0, -1.0],
            "volume": [1, 1, 1],
        }
    )
    result = market.prices_are_sane(frame)
    assert not result.passed and result.metadata["non_positive_prices"].value == 2


@pytest.mark.parametrize(
    "body",
    [
        b"<html>not a feed</html>",
        b"\x00\x01garbage",
        b"",
        # cut off mid-item: a lenient parser would keep the first headline and call the month complete
        b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>ACMQ beats estimates</title>'
        b"<pubDate>Mon, 03 Mar 2025 10:00:00 GMT</pubDate></item><item><title>ACMQ mis",
    ],
)
def test_malformed_rss_is_an_error_not_an_empty_month(tmp_path, body):
    source = _with_transport(NewsSource, _routes(news=body))(**_source_fields(tmp_path), providers=["yahoo-rss"])
    with pytest.raises(ValueError, match="ACMQ: unreadable headline feed"):
        source.headlines("ACMQ", ["2025-03-01"])


def _facts_with(change) -> bytes:
    doc = demo.companyfacts_json(9900001, pd.Timestamp("2025-04-10").date())
    change(doc["facts"]["us-gaap"])
    return json.dumps(doc).encode()


def _string_value(facts):
    facts["Revenues"]["units"]["USD"][0]["val"] = "1200000000"


def _bad_date(facts):
    facts["Assets"]["units"]["USD"][1]["end"] = "2025-13-45"


def _units_as_list(facts):
    facts["NetIncomeLoss"]["units"] = [1, 2, 3]


@pytest.mark.parametrize(
    "companyfacts, reason",
    [
        (_facts_with(_string_value), "us-gaap:Revenues [USD]: 'val' is '1200000000' (str)"),
        (_facts_with(_bad_date), "us-gaap:Assets [USD]: 'end' '2025-13-45' is not a YYYY-MM-DD date"),
        (_facts_with(_units_as_list), "us-gaap:NetIncomeLoss: 'units' must be an object"),
        (
            b'{"cik": 9900001, "facts": {"us-gaap": {"Revenues": {"units": {"USD": [{"val": 1',
            "SEC companyfacts CIK0009900001.json: invalid JSON",
        ),
        (b"<html>Too Many Requests</html>", "SEC companyfacts CIK0009900001.json: invalid JSON"),
        (b"[]", "SEC companyfacts CIK0009900001.json: expected a JSON object, got list"),
    ],
)
def test_companyfacts_with_wrong_types_or_broken_json_is_refused_naming_the_problem(tmp_path, companyfacts, reason):
    source = _with_transport(SecEdgarSource, _routes(companyfacts=companyfacts))(**_source_fields(tmp_path))
    with pytest.raises(ValueError) as caught:
        xbrl.normalize_companyfacts(source.companyfacts(9900001))
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    "submissions, reason",
    [
        (b'{"cik": "9900001", "filings": {"recent": {"accessionNumber": ["0009900001-25-0', "invalid JSON"),
        (b"<html>503 Service Unavailable</html>", "invalid JSON"),
    ],
)
def test_broken_submissions_json_is_refused_naming_the_document(tmp_path, submissions, reason):
    source = _with_transport(SecEdgarSource, _routes(submissions=submissions))(**_source_fields(tmp_path))
    with pytest.raises(ValueError, match=f"SEC submissions CIK0009900001.json: {reason}"):
        source.submissions(9900001)


def test_xbrl_facts_run_with_a_wrongly_typed_fact_fails_and_stores_nothing(isolated_home, tmp_path):
    warehouse = tmp_path / "warehouse"
    source = _with_transport(SecEdgarSource, _routes(companyfacts=_facts_with(_string_value)))(
        **_source_fields(tmp_path)
    )
    with dg.DagsterInstance.from_config(str(isolated_home / "dagster_home")) as inst:
        inst.add_dynamic_partitions(TICKER, ["ACMQ"])
        resources = {"sec": source, "io_manager": ParquetWarehouseIOManager(base_path=str(warehouse))}
        assert dg.materialize([sec.ticker_cik_map], instance=inst, resources=resources).success
        result = dg.materialize(
            [sec.ticker_cik_map, sec.xbrl_facts],
            selection=[sec.xbrl_facts],
            instance=inst,
            partition_key="ACMQ",
            resources=resources,
            raise_on_error=False,
        )
        assert not result.success
        assert "us-gaap:Revenues [USD]: 'val' is '1200000000' (str)" in _failure_message(result)
        assert not (warehouse / "xbrl_facts").exists()
        assert not inst.get_materialized_partitions(dg.AssetKey("xbrl_facts"))
