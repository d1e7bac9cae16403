"""Settings: every variable read in one place, each bad value refused with one line naming it."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from finance_assets.lib import config
from finance_assets.lib.config import Settings, SettingsError


def test_defaults_are_the_documented_ones(tmp_path):
    s = Settings.from_env({"FINANCE_ASSETS_HOME": str(tmp_path)})
    assert s.home == tmp_path.resolve()
    assert s.data_dir == tmp_path.resolve() / "data"
    assert s.portfolio == tmp_path.resolve() / "data" / "portfolio.csv"
    assert s.dagster_home == tmp_path.resolve() / ".dagster_home"
    assert (s.mode, s.executor, s.benchmark, s.base_currency) == ("demo", "dask", "DEMOIDX", "USD")
    # demo mode's history starts where the demo's backfill does; live mode's in 2016
    assert (s.risk_free_rate, s.history_start, s.sec_bulk_min_tickers) == (0.0, "2025-01-01", 200)
    live = Settings.from_env({"FINANCE_ASSETS_HOME": str(tmp_path), "FINANCE_ASSETS_MODE": "live"})
    assert live.history_start == "2016-01-01"
    assert (s.automation, s.automation_lookback_months, s.limiter_redis_url) == (False, 24, "")
    assert s.replace(mode="live").benchmark == "SPY"


def test_values_are_parsed_and_normalized(tmp_path):
    s = Settings.from_env(
        {
            "FINANCE_ASSETS_HOME": str(tmp_path),
            "FINANCE_ASSETS_DATA_DIR": "elsewhere",
            "FINANCE_ASSETS_MODE": " LIVE ",
            "FINANCE_ASSETS_EXECUTOR": "in_process",
            "FINANCE_ASSETS_BENCHMARK": "brk.b",
            "FINANCE_ASSETS_BASE_CURRENCY": "eur",
            "FINANCE_ASSETS_RISK_FREE": "0.04",
            "FINANCE_ASSETS_HISTORY_START": "2020-03",
            "FINANCE_ASSETS_AUTOMATION": "on",
            "FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER": " finance_assets_tests.fault_injection:faults_from_env ",
            "SEC_USER_AGENT": "Example Corp admin@example.com",
            "ALPHAVANTAGE_API_KEY": "k3y",
        }
    )
    assert s.data_dir == tmp_path.resolve() / "elsewhere"  # relative to the project home
    assert (s.mode, s.executor, s.benchmark, s.base_currency) == ("live", "in_process", "BRK-B", "EUR")
    assert (s.risk_free_rate, s.history_start, s.automation) == (0.04, "2020-03-01", True)
    assert s.http_transport_wrapper == "finance_assets_tests.fault_injection:faults_from_env"
    assert s.has_sec_user_agent and s.has_alphavantage_key and not s.has_finnhub_key
    assert "k3y" not in repr(s) and "admin@example.com" not in repr(s)  # presence only


BAD = [
    ("FINANCE_ASSETS_MODE", "prod", "expected one of demo, live"),
    ("FINANCE_ASSETS_EXECUTOR", "threads", "expected one of dask, in_process"),
    ("FINANCE_ASSETS_BENCHMARK", "../etc", "expected a letter"),
    ("FINANCE_ASSETS_BASE_CURRENCY", "dollars", "three-letter ISO 4217 code"),
    ("FINANCE_ASSETS_RISK_FREE", "4", "between -0.1 and 0.5, e.g. 0.04"),
    ("FINANCE_ASSETS_RISK_FREE", "nan", "between -0.1 and 0.5"),
    ("FINANCE_ASSETS_HISTORY_START", "2016-13", "first day of a month"),
    ("FINANCE_ASSETS_HISTORY_START", "2016-01-15", "first day of a month"),
    ("FINANCE_ASSETS_DEMO_NOW", "yesterday", "ISO timestamp"),
    ("SEC_BULK_MIN_TICKERS", "lots", "whole number >= 0"),
    ("FINANCE_ASSETS_AUTOMATION", "maybe", "on/off"),
    ("FINANCE_ASSETS_AUTOMATION_LOOKBACK_MONTHS", "0", "whole number >= 1"),
    ("FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER", "faults.py", "package.module:factory"),
    ("FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER", "no_such_module:wrap", "importable callable (ModuleNotFoundError)"),
    ("FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER", "finance_assets.lib.config:no_such", "(AttributeError)"),
    ("FINANCE_ASSETS_HTTP_TRANSPORT_WRAPPER", "finance_assets.lib.config:ENV_VARS", "importable callable"),
    ("FINANCE_ASSETS_TRANSPORT", "offline", "'demo' or unset"),
    ("FINANCE_ASSETS_HTTP_BACKOFF", "-1", "seconds between 0 and 60"),
    ("DASK_SCHEDULER_ADDRESS", "http://x:1", "Dask scheduler address"),
]


@pytest.mark.parametrize(("name", "value", "accepted"), BAD)
def test_each_bad_value_is_one_line_naming_setting_value_and_what_is_accepted(name, value, accepted):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}={value!r} is not valid: ")
    assert accepted in message
    assert "\n" not in message and "^[" not in message  # one line, no regular expression


def test_secrets_are_never_shown_in_errors():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"FINANCE_ASSETS_LIMITER_REDIS_URL": "http://user:s3cret@redis:6379/0"})
    assert "s3cret" not in str(caught.value) and "FINANCE_ASSETS_LIMITER_REDIS_URL" in str(caught.value)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"SEC_USER_AGENT": "my-private-token"})
    assert "my-private-token" not in str(caught.value) and "e-mail" in str(caught.value)


def test_live_mode_needs_the_sec_user_agent():
    with pytest.raises(SettingsError, match="SEC_USER_AGENT is not set"):
        Settings.from_env({"FINANCE_ASSETS_MODE": "live"}).check_live_credentials()
    Settings.from_env({"FINANCE_ASSETS_MODE": "live", "SEC_USER_AGENT": "A a@b.c"}).check_live_credentials()


def test_unwritable_data_dir_is_one_line_and_nothing_is_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    s = Settings.from_env({"FINANCE_ASSETS_DATA_DIR": str(blocker / "data"), "DAGSTER_HOME": str(tmp_path / "dh")})
    with pytest.raises(SettingsError) as caught:
        s.check_writable()
    assert str(caught.value) == (
        f"FINANCE_ASSETS_DATA_DIR={str(blocker / 'data')!r} is not usable: {blocker} is a file, not a directory; "
        "expected a writable directory"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_read_only_data_dir_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        import os

        if os.access(ro, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        s = Settings.from_env({"FINANCE_ASSETS_DATA_DIR": str(ro), "DAGSTER_HOME": str(tmp_path / "dh")})
        with pytest.raises(SettingsError, match="FINANCE_ASSETS_DATA_DIR=.* is not usable: permission denied"):
            s.check_writable()
    finally:
        ro.chmod(0o700)


def test_settings_follow_the_environment_and_are_parsed_once_per_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FINANCE_ASSETS_DATA_DIR", str(tmp_path / "one"))
    first = config.settings()
    assert config.settings() is first and config.warehouse_dir() == tmp_path / "one" / "warehouse"
    monkeypatch.setenv("FINANCE_ASSETS_DATA_DIR", str(tmp_path / "two"))
    assert config.settings().data_dir == tmp_path / "two"


def test_history_start_bounds():
    assert config.parse_history_start(None) == "2016-01-01"
    assert config.parse_history_start("2020-02-01") == "2020-02-01"
    future = dt.date.today().replace(day=1) + dt.timedelta(days=40)
    with pytest.raises(SettingsError):
        config.parse_history_start(future.replace(day=1).isoformat())


def test_no_module_but_config_reads_the_environment():
    """Configuration is read in lib/config.py only."""
    package = Path(config.__file__).resolve().parents[1]
    readers = {
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if "os.environ" in p.read_text() or "getenv(" in p.read_text()
    }
    assert readers == {"lib/config.py"}


def test_default_home_is_the_checkout_whatever_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    checkout = Path(config.__file__).resolve().parents[2]
    assert Settings.from_env({}).home == checkout
    assert Settings.from_env({}).data_dir == checkout / "data"


def test_dagster_switch_is_set_for_the_block_only_and_never_over_the_users(monkeypatch):
    name = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
    monkeypatch.delenv(name, raising=False)
    with config.dagster_switch(name):
        assert os.environ[name] == "true"
    assert name not in os.environ
    monkeypatch.setenv(name, "false")  # the user's choice stands, inside and after
    with config.dagster_switch(name):
        assert os.environ[name] == "false"
    assert os.environ[name] == "false"
