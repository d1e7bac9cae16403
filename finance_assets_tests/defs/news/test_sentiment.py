"""Finance-aware headline sentiment: rules, labels, metrics, CLI and (when present) real data."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from finance_assets.defs.news import sentiment, sentiment_training

REALDATA = Path(
    os.environ.get("FINANCE_ASSETS_REALDATA") or Path(__file__).resolve().parents[3].parent / "shared" / "realdata"
)
TWITTER_SENTIMENT = REALDATA / "sentiment" / "twitter-financial-news-sentiment"

# Written for this test (not from any data set): clear cases of each class.
CLEAR_EXAMPLES = [
    ("Acme profit rose 12% in the third quarter", "positive"),
    ("Acme quarterly revenue jumps, beats estimates", "positive"),
    ("Acme net loss narrowed to $3 million", "positive"),
    ("Acme posts smaller-than-expected loss", "positive"),
    ("Acme narrows quarterly loss as sales climb", "positive"),
    ("Acme upgraded to buy at Goldman", "positive"),
    ("Goldman raises Acme price target to $120", "positive"),
    ("Acme raises quarterly dividend by 10%", "positive"),
    ("Acme costs fell, boosting margins", "positive"),
    ("Acme beats on revenue, raises guidance", "positive"),
    ("Acme shares surge to record high", "positive"),
    ("Acme +5% premarket", "positive"),
    ("Acme shares fall after the company cut its guidance", "negative"),
    ("Acme cuts full-year outlook", "negative"),
    ("Acme misses earnings estimates, shares drop", "negative"),
    ("Analyst downgrades Acme to sell", "negative"),
    ("Morgan Stanley lowers Acme price target", "negative"),
    ("Acme stock plunges 20% on fraud probe", "negative"),
    ("Acme loss widened in the fourth quarter", "negative"),
    ("Acme reports wider-than-expected loss", "negative"),
    ("Acme suspends dividend", "negative"),
    ("Acme debt rises sharply", "negative"),
    ("Acme warns of weak demand", "negative"),
    ("Acme -8% after earnings miss", "negative"),
    ("Acme did not raise its dividend", "negative"),
    ("Acme to hold annual shareholder meeting on May 5", "neutral"),
    ("Acme names new chief financial officer", "neutral"),
    ("Acme to present at healthcare conference", "neutral"),
    ("Acme announces date of fourth quarter earnings release", "neutral"),
    ("Acme files quarterly report with the SEC", "neutral"),
    ("Acme declares regular quarterly dividend", "neutral"),
]


def _write_csv(path: Path, rows: list[tuple[str, object]], header: str = "text,label") -> Path:
    lines = [header] + [f'"{text}",{code}' for text, code in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- tokens and rules


def test_tokenize_drops_urls_and_cashtags_and_folds_numbers():
    tokens = sentiment.tokenize("$ALLY - Ally's profit up 5% to $3.2B https://t.co/abc")
    assert tokens == ["ally", "profit", "up", "<pct>", "to", "<num>", "b"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Acme profit rose", "@dir+"),
        ("Acme net loss narrowed", "@dir+"),  # bad metric x down = good news
        ("Acme cut its guidance", "@dir-"),
        ("Acme raises price target", "@dir+"),
        ("Acme shares fall", "@dir-"),
        ("Acme misses on revenue", "@dir-"),
        ("Acme beats estimates", "@dir+"),
        ("Acme loss widened", "@dir-"),
        ("Acme debt climbs", "@dir-"),
        ("Acme profit did not fall", "@dir+"),  # negation flips the rule
        ("Transocean started at sell", "@call-"),
        ("Acme upgraded to outperform", "@call+"),
        ("Acme -6% after results", "@pct-"),
        ("Acme +4% premarket", "@pct+"),
        ("Acme reports weak results", "@lex-"),
        ("Acme is not weak", "@lex+"),
    ],
)
def test_rule_features_fire_with_the_right_sign(text, expected):
    feats = sentiment.rule_features(text)
    assert feats.get(expected, 0) > 0, feats
    opposite = expected[:-1] + ("-" if expected.endswith("+") else "+")
    assert feats.get(opposite, 0) == 0, feats


def test_intensifier_and_diminisher_scale_rule_strength():
    assert sentiment.rule_features("Acme shares fall sharply")["@dir-"] == pytest.approx(1.5)
    assert sentiment.rule_features("Acme shares fall slightly")["@dir-"] == pytest.approx(0.5)


def test_ambiguous_direction_words_need_a_metric_or_number():
    assert sentiment.rule_features("Acme sets up a new unit") == {}
    assert sentiment.rule_features("Acme up 7% on the day").get("@move+", 0) > 0


# --------------------------------------------------------------------------- scores and labels


@pytest.mark.parametrize(("text", "expected"), CLEAR_EXAMPLES)
def test_clear_examples_get_the_right_label(text, expected):
    assert sentiment.label(sentiment.score(text)) == expected


def test_negation_moves_the_score_the_other_way():
    assert sentiment.score("Acme did not raise its dividend") < sentiment.score("Acme raised its dividend")
    assert sentiment.score("Acme profit did not fall") > sentiment.score("Acme profit fell")


def test_score_many_matches_score_and_stays_in_range():
    texts = [text for text, _ in CLEAR_EXAMPLES]
    many = sentiment.score_many(texts)
    assert many.shape == (len(texts),)
    assert np.all((many >= -1) & (many <= 1))
    np.testing.assert_allclose(many, [sentiment.score(t) for t in texts])


def test_empty_and_missing_text_is_neutral():
    scores = sentiment.score_many(["", None, float("nan")])
    assert [sentiment.label(s) for s in scores] == ["neutral"] * 3
    assert sentiment.score_many([]).shape == (0,)


def test_label_uses_the_neutral_band_edges():
    band = sentiment.NEUTRAL_BAND
    assert 0 < band < 1
    assert sentiment.label(band) == "positive"
    assert sentiment.label(-band) == "negative"
    assert sentiment.label(np.nextafter(band, 0)) == "neutral"
    assert sentiment.label(0.0) == "neutral"


# --------------------------------------------------------------------------- metrics


def test_metrics_match_a_hand_computed_case():
    true = np.array([0, 0, 1, 1, 2, 2, 2, 2])
    pred = np.array([0, 2, 1, 0, 2, 2, 1, 2])
    result = sentiment_training.metrics(true, pred)
    assert result["confusion_matrix"] == [[1, 0, 1], [1, 1, 0], [0, 1, 3]]
    assert result["accuracy"] == pytest.approx(5 / 8)
    # F1 per class: neg 2*1/(2+2)=0.5, pos 2*1/(2+2)=0.5, neutral 2*3/(4+4)=0.75
    assert result["macro_f1"] == pytest.approx((0.5 + 0.5 + 0.75) / 3)


def test_evaluate_on_clear_examples():
    texts = [t for t, _ in CLEAR_EXAMPLES]
    labels = [lbl for _, lbl in CLEAR_EXAMPLES]
    result = sentiment_training.evaluate(texts, labels)
    assert result["n"] == len(texts)
    assert result["labels"] == ["negative", "positive", "neutral"]
    assert np.array(result["confusion_matrix"]).sum() == len(texts)
    assert result["accuracy"] == 1.0
    vader = sentiment_training.evaluate_vader(texts, labels)
    assert vader["accuracy"] < result["accuracy"]


def test_evaluate_rejects_unknown_labels_and_length_mismatch():
    with pytest.raises(ValueError, match="unknown labels"):
        sentiment_training.evaluate(["a"], ["sideways"])
    with pytest.raises(ValueError, match="texts but"):
        sentiment_training.evaluate(["a", "b"], [0])


def test_encode_labels_accepts_codes_and_names():
    codes = sentiment_training.encode_labels([0, "1", 2.0, "Bearish", "positive", "NEUTRAL"])
    assert codes.tolist() == [0, 1, 2, 0, 1, 2]


# --------------------------------------------------------------------------- CLI


def test_cli_eval_prints_both_models(tmp_path, capsys):
    rows = [(t, {"negative": 0, "positive": 1, "neutral": 2}[lbl]) for t, lbl in CLEAR_EXAMPLES]
    path = _write_csv(tmp_path / "labelled.csv", rows)
    assert sentiment_training.main(["eval", str(path)]) == 0
    out = capsys.readouterr().out
    assert "finance_assets" in out and "VADER" in out and "confusion matrix" in out


def test_cli_eval_json_is_one_object(tmp_path, capsys):
    rows = [(t, {"negative": 0, "positive": 1, "neutral": 2}[lbl]) for t, lbl in CLEAR_EXAMPLES]
    path = _write_csv(tmp_path / "labelled.csv", rows)
    assert sentiment_training.main(["eval", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == len(rows)
    assert report["ours"]["accuracy"] == 1.0
    assert set(report["vader"]) >= {"accuracy", "macro_f1", "confusion_matrix"}
    assert report["labels"] == ["negative", "positive", "neutral"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("", "is empty"),
        ("text,label\n", "no rows"),
        ("headline,sentiment\nAcme up,1\n", "lacks column"),
        ("text,label\nAcme up,7\n", "unknown labels"),
    ],
)
def test_cli_bad_input_exits_non_zero_without_traceback(tmp_path, capsys, content, message):
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert sentiment_training.main(["eval", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_cli_usage_error_returns_non_zero(capsys):
    assert sentiment_training.main(["nonsense"]) == 2
    assert "usage" in capsys.readouterr().err


# --------------------------------------------------------------------------- derivation


def test_derive_learns_weights_from_a_generated_train_file(tmp_path):
    pytest.importorskip("scipy")
    rng = np.random.default_rng(7)
    companies = [f"company{i}" for i in range(40)]
    templates = {
        1: ["{c} profit rose", "{c} beats estimates", "{c} shares jump", "{c} upgraded to buy"],
        0: ["{c} profit fell", "{c} misses estimates", "{c} shares slump", "{c} cut to sell"],
        2: ["{c} to hold meeting", "{c} names new director", "{c} files annual report"],
    }
    rows = [
        (template.format(c=rng.choice(companies)), code)
        for code, options in templates.items()
        for template in options
        for _ in range(25)
    ]
    train = _write_csv(tmp_path / "train.csv", rows)
    out = tmp_path / "weights.json"
    summary = sentiment_training.derive(train, out)
    assert summary["cv_macro_f1"] > 0.95
    model = sentiment._model_from_json(json.loads(out.read_text()))
    scores = sentiment.scores_from_logits(sentiment._logits(["Zeta shares jump"], model))
    assert scores[0] > model.neutral_band


def test_shipped_weights_document_their_derivation():
    shipped = json.loads(sentiment._data_text(sentiment.WEIGHTS_FILE))
    assert shipped["train_file"] == "sent_train.csv"
    assert shipped["neutral_band"] == sentiment.NEUTRAL_BAND
    assert {"@dir+", "@dir-", "@lex+", "@lex-"} <= set(shipped["weights"])
    # rule features must point the way the rules say
    assert shipped["weights"]["@dir+"][1] > shipped["weights"]["@dir+"][0]
    assert shipped["weights"]["@dir-"][0] > shipped["weights"]["@dir-"][1]


# --------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_real_validation_split_beats_goal_and_vader():
    valid = TWITTER_SENTIMENT / "sent_valid.csv"
    if not valid.is_file():
        pytest.skip(f"real data not found at {valid}")
    texts, codes = sentiment_training.read_labelled_csv(valid)
    ours = sentiment_training.evaluate(texts, codes)
    vader = sentiment_training.evaluate_vader(texts, codes)
    assert ours["n"] == 2388
    assert ours["macro_f1"] >= 0.65
    assert ours["macro_f1"] > vader["macro_f1"]
    assert ours["accuracy"] > vader["accuracy"]


@pytest.mark.realdata
def test_weights_were_derived_from_train_not_validation():
    train, valid = TWITTER_SENTIMENT / "sent_train.csv", TWITTER_SENTIMENT / "sent_valid.csv"
    if not (train.is_file() and valid.is_file()):
        pytest.skip(f"real data not found at {TWITTER_SENTIMENT}")
    shipped = json.loads(sentiment._data_text(sentiment.WEIGHTS_FILE))
    assert shipped["train_sha256"] == hashlib.sha256(train.read_bytes()).hexdigest()
    assert shipped["train_sha256"] != hashlib.sha256(valid.read_bytes()).hexdigest()


def test_derive_refuses_held_out_splits(tmp_path, capsys):
    path = _write_csv(tmp_path / "sent_valid.csv", [("Acme profit rose", 1)])
    assert sentiment_training.main(["derive", str(path), "--out", str(tmp_path / "w.json")]) == 2
    assert "held-out" in capsys.readouterr().err
    assert not (tmp_path / "w.json").exists()
