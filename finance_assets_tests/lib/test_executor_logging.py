"""The Dask executor drops tornado's log of a result fetch abandoned when a stopped run closes its client
(finance_assets/lib/executor.py), and keeps every other tornado error."""

from __future__ import annotations

import logging

from distributed.comm.core import CommClosedError

from finance_assets.lib import executor  # installs the tornado filter


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


def _heartbeat_logged(caplog, error: Exception) -> list[logging.LogRecord]:
    caplog.clear()
    try:
        raise error
    except OSError:  # logged as distributed's Worker.heartbeat logs it
        logging.getLogger("distributed.worker").exception(f"{executor.HEARTBEAT_FAILURE}.")
    return [r for r in caplog.records if r.name == "distributed.worker"]


def test_heartbeats_to_a_closed_scheduler_are_dropped_on_the_clis_workers_and_others_kept(caplog):
    caplog.set_level(logging.ERROR, logger="distributed.worker")
    closed = CommClosedError("in <TCP (closed) ConnectionPool.heartbeat_worker>: Stream is closed")
    assert len(_heartbeat_logged(caplog, closed)) == 1  # kept until a CLI cluster's worker installs the filter
    executor.drop_heartbeats_to_a_closed_scheduler()
    executor.drop_heartbeats_to_a_closed_scheduler()  # once per worker, however often called
    try:
        assert _heartbeat_logged(caplog, closed) == []
        [kept] = _heartbeat_logged(caplog, ConnectionRefusedError("scheduler unreachable"))
        assert kept.exc_info[0] is ConnectionRefusedError
        assert sum(isinstance(f, executor._DropClosedCommErrors) for f in _worker_log().filters) == 1
    finally:
        for f in [f for f in _worker_log().filters if isinstance(f, executor._DropClosedCommErrors)]:
            _worker_log().removeFilter(f)


def _worker_log() -> logging.Logger:
    return logging.getLogger("distributed.worker")
