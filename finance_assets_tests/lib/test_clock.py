"""The one clock: FINANCE_ASSETS_AS_OF / --as-of parsed once, passed explicitly to every consumer."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from finance_assets.lib import clock
from finance_assets.lib.config import Settings, SettingsError


def test_forms_are_new_york_unless_an_offset_is_given():
    assert clock.parse_as_of("2026-03-02T18:00") == "2026-03-02T23:00:00+00:00"  # EST
    assert clock.parse_as_of("2026-07-02T18:00") == "2026-07-02T22:00:00+00:00"  # EDT
    assert clock.parse_as_of("2026-03-02T18:00Z") == "2026-03-02T18:00:00+00:00"
    assert clock.parse_as_of("2026-03-02") == "2026-03-03T04:59:00+00:00"  # the end of that New York day
    assert clock.parse_as_of("") == ""


@pytest.mark.parametrize("raw", ["yesterday", "2026-13-01", "2026-03-02T25:00", "1800-01-01"])
def test_bad_as_of_is_one_line_naming_the_setting(raw):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"FINANCE_ASSETS_AS_OF": raw})
    message = str(err.value)
    assert "\n" not in message and message.startswith("FINANCE_ASSETS_AS_OF=") and "YYYY-MM-DD" in message


def test_settings_now_is_the_as_of_and_demo_now_is_its_alias():
    pinned = Settings.from_env({"FINANCE_ASSETS_AS_OF": "2026-04-14T18:00"})
    assert pinned.now() == dt.datetime(2026, 4, 14, 22, 0, tzinfo=dt.UTC)
    alias = Settings.from_env({"FINANCE_ASSETS_DEMO_NOW": "2025-06-30T22:00:00Z"})
    assert alias.as_of == alias.demo_now == "2025-06-30T22:00:00+00:00"
    both = Settings.from_env({"FINANCE_ASSETS_AS_OF": "2026-01-05", "FINANCE_ASSETS_DEMO_NOW": "2025-06-30"})
    assert both.as_of.startswith("2026-01-06T04:59")
    unset = Settings.from_env({})
    assert abs(pd.Timestamp(unset.now()) - pd.Timestamp.now(tz="UTC")) < pd.Timedelta(minutes=5)
    with pytest.raises(SettingsError, match="--as-of"):
        unset.replace(as_of="soon")


def test_cli_option_reaches_the_resources_and_the_reconstructable_job(tmp_path, monkeypatch):
    from finance_assets import cli, definitions
    from finance_assets.definitions import build_resources, reconstructable_job

    args = cli.parser().parse_args(["--as-of", "2026-04-14T18:00", "report"])
    request = cli.validate(args, environ={"FINANCE_ASSETS_HOME": str(tmp_path)})
    assert request.settings.as_of == "2026-04-14T22:00:00+00:00"
    resources = build_resources(request.settings)
    assert resources["prices_source"].as_of == request.settings.as_of
    assert resources["prices_source"].clock() == pd.Timestamp("2026-04-14T22:00:00Z")
    assert resources["io_manager"].as_of == request.settings.as_of
    # what a Dask worker rebuilds from the job's arguments (no environment variable carries the clock)
    seen = []
    monkeypatch.setattr(definitions, "build_definitions", lambda settings: seen.append(settings) or definitions.defs)
    reconstructable_job("market_job", request.settings.replace(executor="in_process")).get_definition()
    assert seen and {s.as_of for s in seen} == {request.settings.as_of}
