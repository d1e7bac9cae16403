"""Ticker symbols: the one canonical form every source, partition key and file path uses."""

from __future__ import annotations

import re

TICKER_PATTERN = r"^[A-Z][A-Z0-9]{0,9}(-[A-Z0-9]{1,5})?$"
MAX_TICKER_INPUT_LENGTH = 16

# TICKER_PATTERN in words, for messages people read
TICKER_RULE = (
    "expected a letter, then up to 9 letters or digits, optionally a share class after '-', '.' or '/' "
    "(1-5 letters or digits), e.g. AAPL, BRK.B"
)

_TICKER_RE = re.compile(TICKER_PATTERN)
_CLASS_SEPARATORS = str.maketrans({".": "-", "/": "-"})


def normalize_ticker(symbol: str) -> str:
    """Return the canonical form of a ticker symbol or raise ``ValueError``.

    The one normalization: strip surrounding ASCII spaces, upper-case, and map the share-class
    separators '.' and '/' to '-' (``brk.b`` -> ``BRK-B``, ``BAC/PL`` -> ``BAC-PL``). The result
    must match ``TICKER_PATTERN`` (ASCII only), which rejects path traversal, SQL, control
    characters, unicode look-alikes (Cyrillic 'А') and inputs longer than 16 characters.
    """
    if not isinstance(symbol, str):
        raise ValueError(f"ticker must be a str, got {type(symbol).__name__}")
    if len(symbol) > MAX_TICKER_INPUT_LENGTH:
        raise ValueError(
            f"ticker {symbol[:MAX_TICKER_INPUT_LENGTH]!r}... is longer than {MAX_TICKER_INPUT_LENGTH} characters"
        )
    if not symbol.isascii():
        raise ValueError(f"ticker {symbol!r} contains non-ASCII characters")
    candidate = symbol.strip(" ").upper().translate(_CLASS_SEPARATORS)
    if _TICKER_RE.fullmatch(candidate) is None:
        raise ValueError(f"ticker {symbol!r} is not a ticker symbol: {TICKER_RULE}")
    return candidate
