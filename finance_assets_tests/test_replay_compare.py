"""The replays' cell-by-cell comparison finds what differs (a comparison that cannot fail proves nothing)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finance_assets_tests.replay import frame_mismatches


def _frame(**changes) -> pd.DataFrame:
    frame = pd.DataFrame({"ticker": ["ACMQ", "BLZQ"], "close": [10.0, np.nan], "kind": ["split", "dividend"]})
    for column, (row, value) in changes.items():
        frame.loc[row, column] = value
    return frame


def test_equal_frames_and_shared_nans_match():
    assert frame_mismatches("prices", _frame(), _frame(), ["ticker"]) == []
    assert frame_mismatches("prices", _frame(close=(0, 10.0 + 1e-13)), _frame(), ["ticker"]) == []


def test_a_float_past_the_tolerance_a_nan_a_text_cell_and_a_shape_are_reported():
    [far] = frame_mismatches("prices", _frame(close=(0, 10.0 + 1e-9)), _frame(), ["ticker"])
    assert far.startswith("prices.close: 1 cells differ, first ['ACMQ']")
    [nan] = frame_mismatches("prices", _frame(close=(1, 1.0)), _frame(), ["ticker"])
    assert "['BLZQ']" in nan
    [text] = frame_mismatches("prices", _frame(kind=(1, "split")), _frame(), ["ticker"])
    assert text.startswith("prices.kind: 1 cells differ, first ['BLZQ']")
    [shape] = frame_mismatches("prices", _frame().iloc[:1], _frame(), ["ticker"])
    assert "shape (1, 3) vs fresh (2, 3)" in shape
