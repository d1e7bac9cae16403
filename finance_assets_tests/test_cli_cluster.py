"""The CLI's own Dask cluster starts only when a run needs it."""

from __future__ import annotations

import contextlib

from finance_assets import cli
from finance_assets.lib import config


def test_the_cluster_starts_on_first_use_once_and_closes_with_the_block(monkeypatch):
    events: list[str] = []

    @contextlib.contextmanager
    def recording_cluster(settings):
        events.append("start")
        yield settings.replace(dask_scheduler_address="tcp://127.0.0.1:1")
        events.append("close")

    monkeypatch.setattr(cli, "dask_cluster", recording_cluster)
    settings = config.settings().replace(executor="dask", dask_scheduler_address="")

    with cli.dask_cluster_on_first_use(settings):
        pass  # an update with nothing to run
    assert events == []

    with cli.dask_cluster_on_first_use(settings) as run_settings:
        first, second = run_settings(), run_settings()
        assert events == ["start"]
    assert events == ["start", "close"]
    assert first is second and first.dask_scheduler_address == "tcp://127.0.0.1:1"
