"""Normalize SEC ``companyfacts`` JSON (XBRL frames API per company) into one long table.

Every vintage is kept: the same period reported in a 10-K and again as a comparative in a
later 10-K or in a 10-K/A gives one row per filing. Only exact duplicates (same accession,
taxonomy, concept, unit, period and value) are dropped. Wrong types raise ``ValueError``
naming the concept and the problem.
"""

from __future__ import annotations

import json
import re
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from finance_assets.defs.sec.schemas import XBRL_FACTS, without_ticker

FACT_COLUMNS = without_ticker(XBRL_FACTS)  # a companyfacts document's facts: the stored table's, no ticker
DUPLICATE_KEY = ["accession", "taxonomy", "concept", "unit", "start", "end", "value"]


_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _skip(text: str, i: int) -> int:
    return _WHITESPACE.match(text, i).end()


def _members(text: str, i: int, depth: int) -> tuple[dict, int]:
    """The JSON object at text[i] ('{'): members of `facts` (depth 1) and of each taxonomy (depth 2)
    are decoded one by one, everything else in one `raw_decode` call."""
    out: dict = {}
    i = _skip(text, i + 1)
    if text[i] == "}":
        return out, i + 1
    while True:
        if text[i] != '"':
            raise ValueError(f"expected a member name at {i}")
        key, i = _DECODER.raw_decode(text, i)
        i = _skip(text, i)
        if text[i] != ":":
            raise ValueError(f"expected ':' at {i}")
        i = _skip(text, i + 1)
        walk = (depth == 0 and key == "facts") or depth == 1
        value, i = _members(text, i, depth + 1) if walk and text[i] == "{" else _DECODER.raw_decode(text, i)
        out[key] = value
        i = _skip(text, i)
        if text[i] == ",":
            i = _skip(text, i + 1)
        elif text[i] == "}":
            return out, i + 1
        else:
            raise ValueError(f"expected ',' or '}}' at {i}")


def loads_companyfacts(raw: bytes | bytearray | str) -> Any:
    """`json.loads(raw)`, the same result and errors, decoded concept by concept.

    A large filer's companyfacts is 3-5 MB; `json.loads` decodes it in one C call that holds the GIL
    for 40-100 ms, and a prefetch thread whose rate-limiter slot comes up meanwhile sends its request
    that much late (late enough to put 11 requests in one second at the server). Decoded one concept
    at a time (each a few kB), the GIL changes hands between concepts at no extra cost.
    """
    text = raw.decode(json.detect_encoding(raw), "surrogatepass") if isinstance(raw, (bytes, bytearray)) else raw
    try:
        start = _skip(text, 0)
        if not text.startswith("{", start):
            return json.loads(text)
        data, end = _members(text, start, 0)
        if _skip(text, end) != len(text):
            return json.loads(text)  # trailing data: json.loads raises its own error
        return data
    except (ValueError, IndexError):
        return json.loads(text)  # not the expected layout or not JSON: json.loads decides (and raises)


def _load(data: dict | bytes | str) -> dict:
    if isinstance(data, (bytes, bytearray, str)):
        try:
            data = loads_companyfacts(data)
        except json.JSONDecodeError as error:
            raise ValueError(f"companyfacts: invalid JSON ({error})") from error
    if not isinstance(data, dict):
        raise ValueError(f"companyfacts: expected a JSON object, got {type(data).__name__}")
    if not isinstance(data.get("facts"), dict):
        raise ValueError(f"companyfacts: 'facts' must be an object, got {type(data.get('facts')).__name__}")
    return data


def _cik(value: Any) -> int:
    # companyfacts has cik as int for US filers and as a zero-padded string for some IFRS filers.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ValueError(f"companyfacts: cik {value!r} is not an integer")


class _FactIndex:
    """Maps a flat fact row back to its concept/unit for error messages."""

    def __init__(self, names: list[str], units: list[str], counts: list[int]) -> None:
        self.names, self.units = names, units
        self.ends = np.cumsum(counts)

    def describe(self, row: int) -> str:
        block = int(np.searchsorted(self.ends, row, side="right"))
        return f"{self.names[block]} [{self.units[block]}]"


def _flatten(data: dict) -> tuple[list[dict], dict[str, np.ndarray], _FactIndex]:
    """All facts in one list plus per-row taxonomy/concept/label/unit arrays (repeated per block)."""
    blocks: list[list] = []
    taxonomies, concepts, labels, names, units, counts = [], [], [], [], [], []
    for taxonomy, concept_map in data["facts"].items():
        if not isinstance(concept_map, dict):
            raise ValueError(f"companyfacts: taxonomy {taxonomy!r} must map concept names to objects")
        for concept, body in concept_map.items():
            name = f"{taxonomy}:{concept}"
            if not isinstance(body, dict) or not isinstance(body.get("units"), dict):
                raise ValueError(f"{name}: 'units' must be an object")
            for unit, facts in body["units"].items():
                if not isinstance(facts, list):
                    raise ValueError(f"{name} [{unit}]: facts must be a list, got {type(facts).__name__}")
                blocks.append(facts)
                taxonomies.append(taxonomy)
                concepts.append(concept)
                labels.append(body.get("label"))
                names.append(name)
                units.append(unit)
                counts.append(len(facts))
    repeat = np.asarray(counts, dtype=np.int64)
    meta = {
        key: np.repeat(np.asarray(values, dtype=object), repeat)
        for key, values in (("taxonomy", taxonomies), ("concept", concepts), ("label", labels), ("unit", units))
    }
    return list(chain.from_iterable(blocks)), meta, _FactIndex(names, units, counts)


def _require_types(values: list, allowed: tuple[type, ...], field: str, index: _FactIndex) -> None:
    """Type check a whole column at C speed; on failure locate and name the first offender."""
    if set(map(type, values)).issubset(allowed):
        return
    row = next(i for i, value in enumerate(values) if type(value) not in allowed)
    expected = " or ".join("null" if kind is type(None) else kind.__name__ for kind in allowed)
    raise ValueError(
        f"{index.describe(row)}: '{field}' is {values[row]!r} ({type(values[row]).__name__}), expected {expected}"
    )


def _dates(values: list, field: str, index: _FactIndex) -> pd.Series:
    # A company has a few hundred distinct dates: parse the uniques, then take by code.
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    parsed_uniques = pd.to_datetime(pd.Index(uniques, dtype=object), format="%Y-%m-%d", errors="coerce")
    bad_uniques = np.flatnonzero(parsed_uniques.isna())
    if bad_uniques.size:
        row = int(np.flatnonzero(np.isin(codes, bad_uniques))[0])
        raise ValueError(f"{index.describe(row)}: '{field}' {values[row]!r} is not a YYYY-MM-DD date")
    parsed = (
        parsed_uniques.to_numpy(dtype="datetime64[ns]").take(np.where(codes < 0, 0, codes))
        if len(uniques)
        else np.full(len(codes), np.datetime64("NaT"), dtype="datetime64[ns]")
    )
    parsed[codes < 0] = np.datetime64("NaT")
    return pd.Series(parsed)


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "val": (int, float),  # type() check: bool and str are rejected
    "end": (str,),
    "filed": (str,),
    "accn": (str,),
    "form": (str,),
    "start": (str, type(None)),
    "fp": (str, type(None)),
    "frame": (str, type(None)),
    "fy": (int, type(None)),
}


def normalize_companyfacts(data: dict | bytes | str) -> pd.DataFrame:
    """companyfacts JSON (dict, bytes or str) -> long facts table (see ``FACT_COLUMNS``).

    ``start`` is NaT for instant facts (``is_instant``); date columns are ``datetime64[ns]``;
    ``fy`` is nullable Int64 (EDGAR leaves it null for e.g. DEF 14A facts).
    """
    document = _load(data)
    cik = _cik(document.get("cik"))
    facts, meta, index = _flatten(document)
    _require_types(facts, (dict,), "fact", index)
    columns = {field: [fact.get(field) for fact in facts] for field in _FIELD_TYPES}
    for field, allowed in _FIELD_TYPES.items():
        _require_types(columns[field], allowed, field, index)
    values = np.asarray(columns["val"], dtype="float64")
    if not np.isfinite(values).all():
        row = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"{index.describe(row)}: value {columns['val'][row]!r} is not finite")
    start = _dates(columns["start"], "start", index)
    end = _dates(columns["end"], "end", index)
    filed = _dates(columns["filed"], "filed", index)
    inverted = (start > end).to_numpy()
    if inverted.any():
        row = int(np.flatnonzero(inverted)[0])
        raise ValueError(f"{index.describe(row)}: start {columns['start'][row]} is after end {columns['end'][row]}")
    for field in ("accn", "form"):
        if "" in columns[field]:
            raise ValueError(f"{index.describe(columns[field].index(''))}: '{field}' is empty")
    frame = pd.DataFrame(
        {
            "cik": np.full(len(facts), cik, dtype="int64"),
            "entity_name": document.get("entityName"),
            **meta,
            "value": values,
            "start": start,
            "end": end,
            "is_instant": start.isna().to_numpy(),
            "fy": pd.array(columns["fy"], dtype="Int64"),
            "fp": np.asarray(columns["fp"], dtype=object),
            "form": np.asarray(columns["form"], dtype=object),
            "filed": filed,
            "accession": np.asarray(columns["accn"], dtype=object),
            "frame": np.asarray(columns["frame"], dtype=object),
        },
        columns=FACT_COLUMNS,
    )
    return frame.drop_duplicates(DUPLICATE_KEY, keep="first").reset_index(drop=True)
