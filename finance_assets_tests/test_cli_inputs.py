"""Every CLI option and setting is checked before any work starts: one line on stderr naming the
setting or option, the bad value and what is accepted; exit code 2; nothing written."""

from __future__ import annotations

import dagster as dg
import pytest

from finance_assets import cli
from finance_assets.lib.partitions import TICKER


def _snapshot(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def home(isolated_home, monkeypatch):
    monkeypatch.delenv("FINANCE_ASSETS_EXECUTOR", raising=False)
    return isolated_home


def _fails(capsys, argv, *expected):
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line, no traceback
    assert lines[0].startswith("error: ")
    for part in expected:
        assert part in lines[0], lines[0]
    assert "Traceback" not in err and "^[A-Z]" not in err  # no stack trace, no regular expression
    return lines[0]


ENV_CASES = [
    ("FINANCE_ASSETS_EXECUTOR", "threads", ["demo"], "expected one of dask, in_process"),
    ("FINANCE_ASSETS_MODE", "prod", ["register"], "expected one of demo, live"),
    ("FINANCE_ASSETS_RISK_FREE", "4", ["demo"], "e.g. 0.04 for 4 %"),
    ("FINANCE_ASSETS_BENCHMARK", "S&P", ["register"], "expected a letter"),
    ("FINANCE_ASSETS_HISTORY_START", "2016", ["backfill"], "YYYY-MM-01"),
    ("FINANCE_ASSETS_AUTOMATION", "sometimes", ["report"], "on/off"),
    ("FINANCE_ASSETS_AS_OF", "tomorrow", ["update"], "YYYY-MM-DD[THH:MM]"),
]


@pytest.mark.parametrize(("name", "value", "argv", "accepted"), ENV_CASES)
def test_bad_environment_variable(home, monkeypatch, capsys, name, value, argv, accepted):
    before = _snapshot(home)
    monkeypatch.setenv(name, value)
    _fails(capsys, argv, name, repr(value), accepted)
    assert _snapshot(home) == before


OPTION_CASES = [
    (["backfill", "--start", "2025-13"], "--start '2025-13'", "YYYY-MM"),
    (["backfill", "--end", "1999-01"], "--end '1999-01' is out of range", "FINANCE_ASSETS_HISTORY_START"),
    (["backfill", "--start", "2025-05", "--end", "2025-01"], "--start 2025-05 is after --end 2025-01", "start <= end"),
    (["backfill", "--tickers", "ACMQ,../etc"], "--tickers '../etc'", "expected a letter"),
    (["backfill", "--tickers", ","], "--tickers ','", "comma-separated"),
    (["backfill", "--chunk-tickers", "-1"], "--chunk-tickers -1", "positive number"),
    (["demo", "--years", "0"], "--years 0", "expected 1 to"),
    (["register", "--benchmark", "A B C"], "--benchmark 'A B C'", "expected a letter"),
    (["register", "--portfolio", "/nonexistent/holdings.csv"], "does not exist", "holdings CSV"),
    (["--as-of", "soon", "update"], "--as-of='soon'", "YYYY-MM-DD[THH:MM]"),
    (["--as-of", "2026-02-30", "backfill"], "--as-of='2026-02-30'", "New York time"),
]


def test_update_needs_registered_tickers(home, capsys):
    _fails(capsys, ["--as-of", "2026-04-17T18:00", "update"], "no tickers registered", "finance-assets register")


@pytest.mark.parametrize(("argv", "named", "accepted"), OPTION_CASES)
def test_bad_option(home, capsys, argv, named, accepted):
    before = _snapshot(home)
    _fails(capsys, argv, named, accepted)
    assert _snapshot(home) == before


def test_bad_executor_choice_is_refused_by_the_parser(home, capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["demo", "--executor", "threads"])
    assert caught.value.code == 2
    assert "invalid choice: 'threads'" in capsys.readouterr().err


def test_unwritable_data_dir_is_one_line(home, monkeypatch, capsys):
    blocker = home / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("FINANCE_ASSETS_DATA_DIR", str(blocker / "data"))
    before = _snapshot(home)
    line = _fails(capsys, ["demo"], "FINANCE_ASSETS_DATA_DIR", "is a file, not a directory", "writable directory")
    assert "NotADirectoryError" not in line
    assert _snapshot(home) == before


def test_demo_refuses_live_mode(home, monkeypatch, capsys):
    monkeypatch.setenv("FINANCE_ASSETS_MODE", "live")
    monkeypatch.setenv("SEC_USER_AGENT", "Example admin@example.com")
    _fails(capsys, ["demo"], "FINANCE_ASSETS_MODE='live'", "FINANCE_ASSETS_MODE=demo")


def test_live_mode_without_user_agent_is_refused_before_any_request(home, monkeypatch, capsys):
    monkeypatch.setenv("FINANCE_ASSETS_MODE", "live")
    monkeypatch.delenv("SEC_USER_AGENT", raising=False)
    before = _snapshot(home)
    _fails(capsys, ["register"], "SEC_USER_AGENT is not set", "e-mail")
    assert _snapshot(home) == before


def test_bad_ticker_in_the_portfolio_shows_no_regular_expression(home, capsys):
    (home / "data" / "portfolio.csv").write_text("ticker,shares,cost_basis,currency\n../etc,1,1,USD\n")
    assert cli.main(["register"]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "../etc" in err and "[A-Z]" not in err and "Traceback" not in err


def test_unknown_ticker_is_flagged_at_register_and_nothing_is_registered(home, capsys):
    (home / "data" / "portfolio.csv").write_text("ticker,shares,cost_basis,currency\nACMQ,10,5,USD\nZZZZ,1,1,USD\n")
    line = _fails(capsys, ["register"], "unknown ticker(s) ZZZZ", "not in the SEC ticker map", "no price history")
    assert "ACMQ" not in line.split("in ")[0]
    assert "https://" not in capsys.readouterr().err  # no provider URL on the console
    with dg.DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        assert instance.get_dynamic_partitions(TICKER) == []
    assert not (home / "data" / "warehouse").exists()


def test_known_tickers_register_without_writing_the_environment(home, capsys, monkeypatch):
    import os

    before = dict(os.environ)
    assert cli.main(["register"]) == 0
    assert "registered 13 new ticker(s)" in capsys.readouterr().out
    assert dict(os.environ) == before  # settings are passed, never written to os.environ
    with dg.DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        assert "DEMOIDX" in instance.get_dynamic_partitions(TICKER)
