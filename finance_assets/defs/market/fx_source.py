"""FX source: the ECB's euro foreign exchange reference rates (daily, ~30 currencies, since 1999).

Live: one request for `eurofxref-hist.zip` (the whole history as one CSV, rebuilt every TARGET
business day around 16:00 CET), validated through the shared `HttpClient` cache, so a run that finds
the file unchanged costs one conditional request. Demo: `DemoTransport` serves a deterministic file
in the same format. Rates are quoted as units of the currency per 1 EUR; crossing to any other base
currency happens in `analytics.portfolio.fx_to_base`.

File format (as published)::

    Date,USD,JPY,BGN,CYP,CZK,...,ZAR,
    2024-01-02,1.0947,161.3,1.9558,N/A,25.235,...,20.401,

newest day first, a trailing comma, and ``N/A`` (or empty) where a currency has no rate that day
(discontinued currencies such as CYP, suspended ones such as RUB).
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from datetime import date

import pandas as pd

from finance_assets.defs.market.schemas import FX_RATES
from finance_assets.lib.http import HttpClient
from finance_assets.lib.limiter import SourceLimiter
from finance_assets.lib.sources import HttpSource

ECB_HIST_ZIP_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip"
ECB_SOURCE = "ecb"
# Not in the limiter's defaults: one file per run, so a polite budget of its own is plenty.
ECB_RATES = {ECB_SOURCE: [(2, 1.0)]}
# What the ECB file parses to: the stored `fx_rates` table (schemas.FX_RATES) without its source.
FX_COLUMNS = [name for name in FX_RATES.names if name != "source"]

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MISSING = {"", "N/A"}


class FxFormatError(ValueError):
    """The reference-rate file is not in the ECB format; the message names the line."""


def _csv_text(content: bytes) -> str:
    """The CSV inside the zip (or the bytes themselves when they are already the CSV)."""
    if content[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                members = [name for name in archive.namelist() if name.lower().endswith(".csv")]
                if len(members) != 1:
                    raise FxFormatError(f"expected one CSV in the ECB zip, found {members or 'none'}")
                content = archive.read(members[0])
        except zipfile.BadZipFile as exc:
            raise FxFormatError(f"unreadable ECB zip: {exc}") from None
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FxFormatError(f"ECB file is not UTF-8 (byte {exc.start})") from None


def _header_currencies(header: list[str]) -> list[str]:
    if not header or header[0].strip() != "Date":
        raise FxFormatError(f"line 1: expected a header starting with 'Date', got {','.join(header)[:80]!r}")
    names = [name.strip() for name in header[1:]]
    if names and names[-1] == "":
        names = names[:-1]  # the trailing comma of the published file (its rows end with one too)
    bad = [name for name in names if not _CURRENCY.match(name)]
    if bad or not names:
        raise FxFormatError(f"line 1: not ISO currency codes: {bad or 'no currency columns'}")
    if len(set(names)) != len(names):
        raise FxFormatError("line 1: a currency column appears twice")
    return names


def _rate(text: str, line: int, currency: str) -> float | None:
    text = text.strip()
    if text in _MISSING:
        return None
    try:
        value = float(text)
    except ValueError:
        raise FxFormatError(f"line {line}: {currency} rate {text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise FxFormatError(f"line {line}: {currency} rate {text!r} must be a positive number")
    return value


def parse_eurofxref_hist(content: bytes) -> pd.DataFrame:
    """`eurofxref-hist.zip` (or its CSV) -> one row per date and quoted currency, oldest first.

    Columns: date (datetime64), currency (ISO code), per_eur (units of the currency per 1 EUR).
    Days where a currency has no rate have no row. Raises `FxFormatError` naming the line.
    """
    reader = csv.reader(io.StringIO(_csv_text(content), newline=""))
    rows = [row for row in reader]
    if not rows:
        raise FxFormatError("ECB file is empty")
    currencies = _header_currencies(rows[0])
    # Rows end with a comma exactly when the header does; anything else would shift every column.
    trailing = rows[0][-1].strip() == ""
    records: list[tuple[date, str, float]] = []
    seen: set[str] = set()
    for line, row in enumerate(rows[1:], start=2):
        if not any(field.strip() for field in row):
            continue
        day = row[0].strip()
        if not _DATE.match(day):
            raise FxFormatError(f"line {line}: date {day!r} is not YYYY-MM-DD")
        try:
            when = date.fromisoformat(day)
        except ValueError:
            raise FxFormatError(f"line {line}: date {day!r} does not exist") from None
        if day in seen:
            raise FxFormatError(f"line {line}: date {day} appears twice")
        seen.add(day)
        values = row[1:]
        if trailing:
            if not values or values[-1].strip() != "":
                raise FxFormatError(
                    f"line {line}: expected {len(currencies)} rates and a trailing comma, got {len(values)} fields"
                )
            values = values[:-1]
        if len(values) != len(currencies):
            raise FxFormatError(f"line {line}: expected {len(currencies)} rates, got {len(values)}")
        for currency, text in zip(currencies, values):
            value = _rate(text, line, currency)
            if value is not None:
                records.append((when, currency, value))
    frame = pd.DataFrame.from_records(records, columns=FX_COLUMNS)
    frame["date"] = pd.to_datetime(frame["date"])
    frame["per_eur"] = frame["per_eur"].astype("float64")
    return frame.sort_values(["date", "currency"], kind="stable").reset_index(drop=True)


class FxSource(HttpSource):
    """ECB euro reference rates through the shared HTTP client (live or demo)."""

    @property
    def client(self) -> HttpClient:
        fresh = self._client is None
        client = super().client
        if fresh and ECB_SOURCE not in self._limiter.sources:
            # Same machine-wide limiter state, with the ECB budget added.
            self._limiter.close()
            self._limiter = SourceLimiter(self.state_dir, rates=ECB_RATES)
            client.limiter = self._limiter
        return client

    def reference_rates(self) -> pd.DataFrame:
        """Every published day's rates (see `parse_eurofxref_hist`)."""
        response = self.client.get(ECB_HIST_ZIP_URL, source=ECB_SOURCE)
        return parse_eurofxref_hist(response.content)
