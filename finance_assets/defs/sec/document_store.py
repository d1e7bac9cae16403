"""Filing documents without Dagster: which documents of a filing to fetch, EDGAR's filing index page,
and a content-addressed store for what was fetched.

The store keeps each document once under its sha256 (`objects/ab/abcdef...`), written to a temporary
file and renamed into place, and an append-only manifest (`manifest.jsonl`) that maps
(accession, document name) to the digest. A document listed in the manifest whose object exists is
never fetched again; a run stopped at any point resumes where it was (an object without a manifest
line is fetched again and deduplicated by its digest; a manifest line without its object is ignored).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

# Forms whose primary document is fetched: periodic and current reports, domestic and foreign.
DOCUMENT_FORMS = ("10-K", "10-Q", "8-K", "20-F", "40-F", "6-K")
DEFAULT_EXHIBITS = ("EX-99",)  # press releases and other furnished material

_ACCESSION = re.compile(r"\d{10}-\d{2}-\d{6}")
_DOCUMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def checked_accession(accession: str) -> str:
    if not isinstance(accession, str) or not _ACCESSION.fullmatch(accession):
        raise ValueError(f"malformed accession number {accession!r}")
    return accession


def checked_document_name(name: str) -> str:
    """A file name inside one filing's folder: no path, no parent reference, nothing a URL could abuse."""
    if not isinstance(name, str) or not _DOCUMENT_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"unexpected filing document name {name!r}")
    return name


def archive_path(cik: int, accession: str, name: str = "") -> str:
    """Path of a filing's folder (or of one file in it) under the www host: /Archives/edgar/data/..."""
    folder = f"/Archives/edgar/data/{int(cik)}/{checked_accession(accession).replace('-', '')}"
    return f"{folder}/{checked_document_name(name)}" if name else folder


def base_form(form: str) -> str:
    """'10-K/A' -> '10-K'; amendments count as their form."""
    return (form or "").strip().upper().removesuffix("/A")


def wants_primary(form: str, forms: Iterable[str] = DOCUMENT_FORMS) -> bool:
    return base_form(form) in {base_form(f) for f in forms}


def exhibit_selected(doc_type: str, selectors: Iterable[str]) -> bool:
    """'EX-99' selects EX-99, EX-99.1, EX-99.2 ...; 'EX-99.1' selects only itself."""
    kind = (doc_type or "").strip().upper()
    for selector in selectors:
        wanted = selector.strip().upper()
        if wanted and (kind == wanted or kind.startswith(wanted + ".")):
            return True
    return False


# --------------------------------------------------------------------------- filing index page


class _IndexTable(HTMLParser):
    """Rows of the 'Document Format Files' table of `{accession}-index.htm`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[dict] = []
        self._in_table = False
        self._depth = 0
        self._row: list[str] | None = None
        self._hrefs: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "table":
            if self._in_table:
                self._depth += 1
            elif (values.get("summary") or "").strip().lower() == "document format files":
                self._in_table, self._depth = True, 0
        elif not self._in_table:
            return
        elif tag == "tr":
            self._row, self._hrefs = [], []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "a" and self._cell is not None and values.get("href"):
            self._hrefs.append(values["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if not self._in_table:
            return
        if tag == "table":
            if self._depth:
                self._depth -= 1
            else:
                self._in_table = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if len(self._row) >= 4 and self._row[0].isdigit():
                href = self._hrefs[0] if self._hrefs else ""
                self.rows.append(
                    {
                        "seq": int(self._row[0]),
                        "description": self._row[1],
                        "href": href,
                        "type": self._row[3],
                        "size": int(self._row[4]) if len(self._row) > 4 and self._row[4].isdigit() else None,
                    }
                )
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse_filing_index(html: str | bytes, cik: int, accession: str) -> list[dict]:
    """EDGAR's filing index page -> [{seq, document, type, description, size}] for the documents in
    that filing's own folder (links elsewhere, e.g. another filing's, are dropped). Raises ValueError
    when the page has no 'Document Format Files' table (an error page, or EDGAR changed its layout)."""
    text = html.decode("utf-8", errors="replace") if isinstance(html, bytes) else html
    if "document format files" not in text.lower():
        raise ValueError(f"filing index {accession}: no 'Document Format Files' table")
    parser = _IndexTable()
    parser.feed(text)
    parser.close()
    folder = archive_path(cik, accession) + "/"
    out = []
    for row in parser.rows:
        href = row["href"].split("?doc=", 1)[-1] if "?doc=" in row["href"] else row["href"]
        href = href.split("#", 1)[0]
        if href.startswith(folder):
            name = href[len(folder) :]
        elif "/" not in href:
            name = href  # relative to the index page, i.e. the same folder
        else:
            continue
        try:
            checked_document_name(name)
        except ValueError:
            continue
        out.append(
            {
                "seq": row["seq"],
                "document": name,
                "type": row["type"],
                "description": row["description"],
                "size": row["size"],
            }
        )
    return out


# --------------------------------------------------------------------------- content-addressed store


@dataclass(frozen=True)
class StoredDocument:
    accession: str
    document: str
    sha256: str
    bytes: int
    doc_type: str


class DocumentStore:
    """Content-addressed storage of filing documents with an append-only manifest (thread-safe)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.manifest_path = self.root / "manifest.jsonl"
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], StoredDocument] | None = None

    def object_path(self, digest: str) -> Path:
        if not _SHA256.fullmatch(digest):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return self.objects / digest[:2] / digest

    def _load(self) -> dict[tuple[str, str], StoredDocument]:
        if self._entries is None:
            entries: dict[tuple[str, str], StoredDocument] = {}
            if self.manifest_path.exists():
                with self.manifest_path.open(encoding="utf-8") as handle:
                    for line in handle:
                        try:
                            raw = json.loads(line)
                            entry = StoredDocument(
                                raw["accession"], raw["document"], raw["sha256"], int(raw["bytes"]), raw["doc_type"]
                            )
                        except (ValueError, KeyError, TypeError):
                            continue  # a line cut by a crash mid-append
                        entries[(entry.accession, entry.document)] = entry
            self._entries = entries
        return self._entries

    def get(self, accession: str, document: str) -> StoredDocument | None:
        """The stored document, when both its manifest line and its object are there."""
        with self._lock:
            entry = self._load().get((accession, document))
        if entry is None or not self.object_path(entry.sha256).exists():
            return None
        return entry

    def put(self, accession: str, document: str, doc_type: str, body: bytes) -> StoredDocument:
        digest = hashlib.sha256(body).hexdigest()
        target = self.object_path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{digest}.{os.getpid()}.{threading.get_ident()}.tmp")
            with temporary.open("wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        entry = StoredDocument(accession, document, digest, len(body), doc_type)
        line = json.dumps(entry.__dict__, separators=(",", ":")) + "\n"
        with self._lock:
            self.root.mkdir(parents=True, exist_ok=True)
            with self.manifest_path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            self._load()[(accession, document)] = entry
        return entry

    def read(self, digest: str) -> bytes:
        body = self.object_path(digest).read_bytes()
        if hashlib.sha256(body).hexdigest() != digest:
            raise ValueError(f"stored document {digest} is corrupt (digest mismatch)")
        return body
