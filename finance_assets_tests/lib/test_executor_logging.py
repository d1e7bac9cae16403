"""The Dask executor drops tornado's log of a result fetch abandoned when a stopped run closes its client
(finance_assets/lib/executor.py), and keeps every other tornado error."""

from __future__ import annotations

import logging

from distributed.comm.core import CommClosedError

from finance_assets.lib import executor  # noqa: F401 - installs the filter


def _logged(caplog, error: Exception) -> list[logging.LogRecord]:
    caplog.clear()
    try:
        raise error
    except Exception:  # noqa: BLE001 - logged as tornado logs a failed callback
        logging.getLogger("tornado.application").error("Exception in callback", exc_info=True)
    return [r for r in caplog.records if r.name == "tornado.application"]


def test_closed_comm_errors_are_dropped_and_others_kept(caplog):
    caplog.set_level(logging.ERROR, logger="tornado.application")
    assert _logged(caplog, CommClosedError("in <TCP (closed) ConnectionPool.gather>: Stream is closed")) == []
    [kept] = _logged(caplog, ValueError("a real failure"))
    assert kept.exc_info[0] is ValueError
