"""Sections of SEC filing documents as plain text (pure: no I/O, no Dagster).

`extract_sections(html, form)` -> {item: text}:
- 10-K (and 10-KT, 20-F, 40-F): "1", "1A", "1C", "7", "7A", ...
- 10-Q: part and item, "I-1", "I-2", "II-1A", ...
- 8-K (and 6-K): "2.02", "5.02", "9.01", ...

It works on the inline-XBRL HTML that EDGAR serves: the hidden `ix:header` block and every
`display:none` element are dropped; table rows become lines (item headings often sit in table cells);
page numbers, and the short lines that repeat page after page (running headers/footers, "Table of
Contents" links), are dropped; and the table of contents is recognised (runs of item headings a line
or two apart, or item lines that end in a page number) so that a section is the text under the item's
real heading, up to the next item, part heading or the signatures.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

PAGE_BREAK = "\f"
_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "blockquote",
        "br",
        "caption",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "title",
        "tr",
        "ul",
    }
)
_CELL_TAGS = frozenset({"td", "th"})
_SKIP_TAGS = frozenset({"ix:header", "script", "style", "head", "noscript", "template"})
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)
_HIDDEN = re.compile(r"display\s*:\s*none", re.IGNORECASE)
_BREAK_STYLE = re.compile(r"page-break-(before|after)\s*:\s*always|break-(before|after)\s*:\s*page", re.IGNORECASE)


class _Lines(HTMLParser):
    """HTML -> lines of visible text; page breaks become PAGE_BREAK lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._parts: list[str] = []
        self._skip: list[str] = []  # tags of the hidden subtrees we are inside

    def _flush(self) -> None:
        text = " ".join("".join(self._parts).split())
        if text:
            self.lines.append(text)
        self._parts = []

    def _page_break(self) -> None:
        self._flush()
        if self.lines and self.lines[-1] != PAGE_BREAK:
            self.lines.append(PAGE_BREAK)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        style = next((value or "" for name, value in attrs if name == "style"), "")
        if self._skip:
            if tag not in _VOID_TAGS:
                self._skip.append(tag)
            return
        if tag in _SKIP_TAGS or (_HIDDEN.search(style) and tag not in _VOID_TAGS):
            self._skip.append(tag)
            return
        if _BREAK_STYLE.search(style) and "before" in style.lower():
            self._page_break()
        if tag in _BLOCK_TAGS:
            self._flush()
        elif tag in _CELL_TAGS:
            self._parts.append(" ")
        if _BREAK_STYLE.search(style) and "after" in style.lower():
            self._page_break()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip:
            return
        style = next((value or "" for name, value in attrs if name == "style"), "")
        if _BREAK_STYLE.search(style):
            self._page_break()
        elif tag in _BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            # close the innermost matching hidden element (tolerates unclosed tags inside it)
            for depth in range(len(self._skip) - 1, -1, -1):
                if self._skip[depth] == tag:
                    del self._skip[depth:]
                    break
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        elif tag in _CELL_TAGS:
            self._parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._parts.append(data.replace("\xa0", " ").replace("\u200b", ""))

    def close(self) -> None:
        super().close()
        self._flush()


# "Item 1A.", "ITEM 7 —", "Item 2.02", "Item 16.", "Item 1A:" followed by a title (or nothing)
_ITEM = re.compile(
    r"^items?\s*(?P<code>\d{1,2}\.\d{2}|\d{1,2}[a-z]?)(?![a-z0-9])\s*[.:\-\u2013\u2014]?\s*(?P<title>.*)$",
    re.IGNORECASE,
)
_PART = re.compile(r"^part\s+(?P<part>iv|i{1,3})\b\s*[.:,\-\u2013\u2014]?\s*(?P<title>.*)$", re.IGNORECASE)
_END = re.compile(r"^(signatures?|exhibit index|index to exhibits)\b[\s.:]*$", re.IGNORECASE)
_PAGE_NUMBER = re.compile(
    r"^(page\s+)?[-\u2013\u2014]?\s*(\d{1,3}|[ivxlc]{1,7})\s*[-\u2013\u2014]?$|^page\s+\d+\s+of\s+\d+$",
    re.IGNORECASE,
)
_TRAILING_PAGE = re.compile(r"\s(\d{1,3}|[ivx]{1,5})$", re.IGNORECASE)
_NOTHING = re.compile(r"^\W*(none|not applicable|n/a|reserved|omitted)\b", re.IGNORECASE)
_MAX_HEADING_WORDS = 30
_REPEAT_MAX_WORDS = 15


def html_lines(html: str | bytes) -> list[str]:
    """Visible text lines of an HTML document, PAGE_BREAK lines between pages."""
    text = html.decode("utf-8", errors="replace") if isinstance(html, bytes) else html
    parser = _Lines()
    parser.feed(text)
    parser.close()
    return parser.lines


def _signature(line: str) -> str:
    return re.sub(r"\d+", "#", line.lower())


def _heading(line: str) -> tuple[str, str] | None:
    """('item', code) or ('part', roman) when `line` is an item or part heading."""
    if len(line.split()) > _MAX_HEADING_WORDS:
        return None
    match = _ITEM.match(line)
    if match:
        title = match.group("title")
        if title[:1].islower():  # "Item 7 of this report ..." is a reference, not a heading
            return None
        return "item", match.group("code").replace(" ", "").upper()
    match = _PART.match(line)
    if match and not match.group("title")[:1].islower():
        return "part", match.group("part").upper()
    return None


def clean_lines(html: str | bytes) -> list[str]:
    """Visible lines without page numbers and without the running headers/footers that repeat on
    page after page (short lines seen three or more times, digits ignored)."""
    lines = html_lines(html)
    counts = Counter(_signature(line) for line in lines if line != PAGE_BREAK)
    out = []
    for line in lines:
        if line == PAGE_BREAK:
            out.append(line)
            continue
        if _PAGE_NUMBER.match(line):
            continue
        repeats = counts[_signature(line)]
        limit = 4 if _heading(line) else 3  # a heading is in the TOC and the body: twice, maybe thrice
        if repeats >= limit and len(line.split()) <= _REPEAT_MAX_WORDS:
            continue
        out.append(line)
    return out


def document_text(html: str | bytes) -> str:
    """The whole document as plain text (exhibits, press releases): clean lines, no page breaks."""
    return "\n".join(line for line in clean_lines(html) if line != PAGE_BREAK)


def _form_kind(form: str) -> str:
    base = (form or "").strip().upper().removesuffix("/A")
    if base.startswith("10-Q"):
        return "10-Q"
    if base in ("8-K", "6-K") or base.startswith("8-K"):
        return "8-K"
    return "10-K"


def extract_sections(html: str | bytes, form: str) -> dict[str, str]:
    """{item: plain text} of a 10-K / 10-Q / 8-K (see the module docstring for the keys). Items that
    appear only in the table of contents are left out; so is the heading line itself."""
    kind = _form_kind(form)
    lines = [line for line in clean_lines(html) if line != PAGE_BREAK]
    marks: list[tuple[int, str, str]] = []  # (line index, 'item' | 'part' | 'end', code)
    for index, line in enumerate(lines):
        found = _heading(line)
        if found is not None and (found[0] == "part" or _fits(kind, found[1])):
            marks.append((index, *found))
        elif found is None and _END.match(line):
            marks.append((index, "end", ""))
    boundaries = [index for index, _, _ in marks]

    part = ""
    chosen: dict[str, tuple[int, str]] = {}  # key -> (first line, text) of its longest occurrence
    for number, (index, mark, code) in enumerate(marks):
        if mark == "part":
            part = code
            continue
        if mark != "item":
            continue
        end = boundaries[number + 1] if number + 1 < len(boundaries) else len(lines)
        text = _section_text(lines, index, end)
        if not text:  # a table-of-contents entry: nothing under it before the next heading
            continue
        key = f"{part or 'I'}-{code}" if kind == "10-Q" else code
        if key not in chosen or len(text) > len(chosen[key][1]):
            chosen[key] = (index, text)
    return {key: text for key, (_, text) in sorted(chosen.items(), key=lambda item: item[1][0])}


def _section_text(lines: list[str], start: int, end: int) -> str:
    """Text under the heading at `start` up to `end`; '' for a table-of-contents entry (its title ends
    in a page number, or nothing but a title line follows it)."""
    match = _ITEM.match(lines[start])
    title = match.group("title").strip() if match else ""
    if title and _TRAILING_PAGE.search(title):
        return ""
    body = lines[start + 1 : end]
    if not title and body and _is_title(body[0]):
        body = body[1:]  # "Item 1A." on one line, "Risk Factors" on the next
    if body and all(_is_title(line) for line in body) and sum(len(line.split()) for line in body) <= 6:
        if not _NOTHING.match(body[0]):  # just a stray title from a table of contents
            return ""
    return "\n".join(body).strip()


def _is_title(line: str) -> bool:
    return len(line.split()) <= 15 and not line.rstrip().endswith((".", ":", ";", ","))


def _fits(kind: str, code: str) -> bool:
    """8-K items are 'N.NN'; periodic reports' are 'N' or 'NA'."""
    return ("." in code) == (kind == "8-K")
