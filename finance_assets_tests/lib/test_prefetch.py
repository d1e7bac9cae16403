"""prefetch: input order, at most `depth` results ahead of the caller, errors at their item."""

from __future__ import annotations

import threading

import pytest

from finance_assets.lib.prefetch import prefetch


class Probe:
    """Counts fetches started but not yet consumed by the caller."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started = 0
        self.consumed = 0
        self.most_ahead = 0

    def fetch(self, item: int) -> int:
        with self.lock:
            self.started += 1
            self.most_ahead = max(self.most_ahead, self.started - self.consumed)
        if item == 13:
            raise KeyError(item)
        return item * item


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_order_and_bound(depth):
    probe = Probe()
    out = []
    for item, value in prefetch(range(12), probe.fetch, depth=depth):
        out.append((item, value))
        with probe.lock:
            probe.consumed += 1
    assert out == [(i, i * i) for i in range(12)]
    assert probe.most_ahead <= depth + 1  # the one being consumed plus `depth` ahead
    if depth:
        assert probe.most_ahead >= 2  # it does run ahead


def test_an_error_surfaces_at_its_item_and_stops_the_rest():
    probe = Probe()
    seen = []
    with pytest.raises(KeyError):
        for item, _ in prefetch(range(10, 30), probe.fetch, depth=2):
            seen.append(item)
    assert seen == [10, 11, 12]
    assert probe.started <= 16  # nothing beyond the bounded window was started


def test_stopping_early_cancels_what_is_pending():
    probe = Probe()
    for item, _ in prefetch(range(100), probe.fetch, depth=2):
        if item == 5:
            break
    assert probe.started <= 9


def test_negative_depth_is_refused():
    with pytest.raises(ValueError):
        list(prefetch([1], lambda x: x, depth=-1))
