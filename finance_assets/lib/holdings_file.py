"""The holdings file (`data/portfolio.csv`): which tickers the platform follows, in which currencies.

File format: a CSV with a header row. Required columns `ticker, shares, cost_basis, currency`
(`cost_basis` is per share, in `currency`); optional `account, purchase_date` (YYYY-MM-DD).
Blank lines and lines starting with '#' are ignored; a UTF-8 byte-order mark is accepted.
A file with problems raises one `PortfolioError` listing every problem with its line number.

It lives in the shared core because every domain reads it: the SEC sensor for new tickers, FX for
the currencies, the report for the positions.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from finance_assets.lib.tickers import normalize_ticker

REQUIRED_COLUMNS = ("ticker", "shares", "cost_basis", "currency")
OPTIONAL_COLUMNS = ("account", "purchase_date")
PORTFOLIO_COLUMNS = [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]

# ISO 4217 codes of the currencies listed equities trade in (majors and main emerging markets).
ISO_CURRENCIES = frozenset(
    "USD EUR JPY GBP CHF CAD AUD NZD CNY HKD SGD TWD KRW INR IDR MYR THB PHP VND PKR "
    "SEK NOK DKK ISK PLN CZK HUF RON BGN TRY RUB UAH ILS SAR AED QAR KWD BHD OMR JOD "
    "EGP MAD NGN KES ZAR MXN BRL ARS CLP COP PEN".split()
)

# Plain decimal numbers only: float() would also take "nan", "inf" and "1_000".
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class PortfolioError(ValueError):
    """A malformed holdings file; `problems` holds every (line number, message) found."""

    def __init__(self, source: str, problems: list[tuple[int, str]]):
        self.source = source
        self.problems = sorted(problems, key=lambda problem: problem[0])
        listing = "\n".join(f"  line {line}: {message}" for line, message in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s) in the portfolio file\n{listing}")


@dataclass
class _Row:
    line: int
    fields: list[str]


# --------------------------------------------------------------------------- reading


def read_portfolio(path_or_text: str | Path | bytes) -> pd.DataFrame:
    """Parse and validate a holdings file given as a path, CSV text or raw bytes.

    Returns one row per holding in file order: ticker (normalized, e.g. ``brk.b`` -> ``BRK-B``),
    shares and cost_basis (float64), currency (upper-case ISO 4217), account ('' when absent),
    purchase_date (datetime64, NaT when absent). Raises `PortfolioError` naming each bad line.
    """
    text, source = _load_text(path_or_text)
    header, rows, problems = _split_rows(text)
    if header is None:
        raise PortfolioError(source, [(1, "file is empty: expected a header row and at least one holding")])
    columns, header_problems = _check_header(header)
    if header_problems:
        raise PortfolioError(source, header_problems)
    if not rows and not problems:
        raise PortfolioError(source, [(1, "no holdings after the header row")])
    records = []
    for row in rows:
        if len(row.fields) != len(columns):
            problems.append((row.line, f"expected {len(columns)} fields ({', '.join(columns)}), got {len(row.fields)}"))
            continue
        record, row_problems = _parse_row(dict(zip(columns, row.fields)), row.line)
        problems += row_problems
        records.append(record)
    problems += _duplicate_problems(records)
    if problems:
        raise PortfolioError(source, problems)
    return _holdings_frame(records)


def _load_text(path_or_text: str | Path | bytes) -> tuple[str, str]:
    """(text, name for messages). A str that is not a file and is blank or has a newline or a comma is CSV text."""
    if isinstance(path_or_text, bytes):
        return _decode(path_or_text, "<bytes>"), "<bytes>"
    if (
        isinstance(path_or_text, str)
        and not _is_file(path_or_text)
        and ("\n" in path_or_text or "," in path_or_text or not path_or_text.strip("\ufeff \t\r"))
    ):
        return path_or_text.removeprefix("\ufeff"), "<text>"
    path = Path(path_or_text)
    if not path.is_file():
        raise FileNotFoundError(f"portfolio file not found: {path}")
    return _decode(path.read_bytes(), str(path)), str(path)


def _is_file(candidate: str) -> bool:
    try:
        return bool(candidate) and "\n" not in candidate and Path(candidate).is_file()
    except OSError:  # e.g. a name too long for the file system
        return False


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")  # strips a leading BOM
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PortfolioError(source, [(line, f"not valid UTF-8 (byte {raw[exc.start]:#04x})")]) from None


def _split_rows(text: str) -> tuple[list[str] | None, list[_Row], list[tuple[int, str]]]:
    """Header fields and data rows with the line each starts on; blank and '#' lines skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[_Row] = []
    problems: list[tuple[int, str]] = []
    next_line = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append((next_line, f"unreadable CSV: {exc}"))
            break
        line, next_line = next_line, reader.line_num + 1
        if not any(field.strip() for field in fields) or fields[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = fields
        else:
            rows.append(_Row(line, [field.strip() for field in fields]))
    return header, rows, problems


def _check_header(header: list[str]) -> tuple[list[str], list[tuple[int, str]]]:
    columns = [name.strip().lower() for name in header]
    problems = []
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        problems.append((1, f"missing required column(s): {', '.join(missing)} (header: {', '.join(header)})"))
    unknown = [name for name in columns if name not in PORTFOLIO_COLUMNS]
    if unknown:
        problems.append((1, f"unknown column(s): {', '.join(unknown)}; allowed: {', '.join(PORTFOLIO_COLUMNS)}"))
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        problems.append((1, f"repeated column(s): {', '.join(repeated)}"))
    return columns, problems


def _parse_row(fields: dict[str, str], line: int) -> tuple[dict, list[tuple[int, str]]]:
    problems: list[tuple[int, str]] = []

    def fail(message: str) -> None:
        problems.append((line, message))

    record = {
        "line": line,
        "ticker": _ticker(fields["ticker"], fail),
        "shares": _non_negative_number(fields["shares"], "shares", fail),
        "cost_basis": _non_negative_number(fields["cost_basis"], "cost_basis", fail),
        "currency": _currency(fields["currency"], fail),
        "account": fields.get("account", ""),
        "purchase_date": _purchase_date(fields.get("purchase_date", ""), fail),
    }
    return record, problems


def _ticker(value: str, fail) -> str:
    if not value:
        fail("missing ticker")
        return value
    try:
        return normalize_ticker(value)
    except ValueError as exc:
        fail(f"invalid ticker: {exc}")
        return value


def _non_negative_number(value: str, column: str, fail) -> float:
    if not _NUMBER_RE.fullmatch(value):
        fail(f"{column} {value!r} is not a number" if value else f"missing {column}")
        return float("nan")
    number = float(value)
    if not np.isfinite(number):
        fail(f"{column} {value!r} is out of range")
    elif number < 0:
        fail(f"{column} {value!r} is negative")
    return number


def _currency(value: str, fail) -> str:
    code = value.upper()
    if not code:
        fail("missing currency")
    elif code not in ISO_CURRENCIES:
        fail(f"unknown currency {value!r}: expected an ISO 4217 code such as USD, EUR, GBP")
    return code


def _purchase_date(value: str, fail) -> pd.Timestamp:
    if not value:
        return pd.NaT
    try:
        if not _DATE_RE.fullmatch(value):
            raise ValueError
        return pd.Timestamp(date.fromisoformat(value))
    except ValueError:
        fail(f"purchase_date {value!r} is not a valid YYYY-MM-DD date")
        return pd.NaT


def _duplicate_problems(records: list[dict]) -> list[tuple[int, str]]:
    first_line: dict[tuple[str, str], int] = {}
    problems = []
    for record in records:
        key = (record["ticker"], record["account"])
        if key in first_line:
            where = f"account {key[1]!r}" if key[1] else "no account"
            problems.append(
                (record["line"], f"duplicate holding {key[0]} ({where}): already on line {first_line[key]}")
            )
        else:
            first_line[key] = record["line"]
    return problems


def _holdings_frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=["line", *PORTFOLIO_COLUMNS]).drop(columns="line")
    frame["shares"] = frame["shares"].astype("float64")
    frame["cost_basis"] = frame["cost_basis"].astype("float64")
    frame["purchase_date"] = pd.to_datetime(frame["purchase_date"])
    return frame
