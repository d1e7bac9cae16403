"""Finance-aware headline sentiment that runs offline (no model download): scoring only; evaluation,
the re-derivation of the weights and their command line are in `sentiment_training`.

How a headline is scored
------------------------
1. Text is folded: lower case, URLs and cashtags dropped, numbers -> ``<num>``, percentages ->
   ``<pct>``.
2. Hand-written rules (word lists in ``data/finance_lexicon.json``) turn the way financial news is
   written into signed features:

   * direction rules: a direction verb next to a metric, e.g. "profit rose" (+), "loss narrowed"
     (+), "cut its guidance" (-), "raises price target" (+), "shares fall" (-). Polarity =
     direction x metric sign (a *bad* metric such as loss/debt/costs flips it). A direction word
     with no metric nearby is a generic price move ("X falls 5%").
   * a Loughran-McDonald-style polarity lexicon for the remaining words;
   * analyst calls ("upgraded to buy", "started at sell", "outperform");
   * signed percentages ("Kellogg -6%");
   * negation ("not", "fails to", "n't" within 3 tokens before flips a polarity) and intensifiers /
     diminishers (x1.5 / x0.5).
3. A linear model combines those rule features with word unigrams and bigrams. The weights in
   ``data/sentiment_weights.json`` were derived ONLY from the train split of the Twitter Financial
   News Sentiment data set by ``python -m finance_assets.defs.news.sentiment_training derive TRAIN_CSV``
   (multinomial logistic regression, L2 strength picked by 5-fold cross-validation on train). No
   dataset text is stored, only feature weights.
4. ``score`` = P(positive) - P(negative) in [-1, 1]; ``label`` maps it to a class using the
   calibrated neutral band ``NEUTRAL_BAND`` (picked on out-of-fold train predictions to maximise
   macro-F1).

Label codes in CSV files follow the data set: 0 = negative (bearish), 1 = positive (bullish),
2 = neutral. Confusion matrices use that order for rows (true) and columns (predicted).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

LABELS: tuple[str, str, str] = ("negative", "positive", "neutral")
"""Class names, indexed by the data set's label codes (0, 1, 2)."""

LABEL_ALIASES: dict[str, int] = {
    "0": 0,
    "negative": 0,
    "bearish": 0,
    "1": 1,
    "positive": 1,
    "bullish": 1,
    "2": 2,
    "neutral": 2,
}
VADER_THRESHOLD = 0.05  # VADER's documented compound-score cut-offs
WEIGHTS_FILE = "sentiment_weights.json"
LEXICON_FILE = "finance_lexicon.json"

NEGATION_WINDOW = 3
INTENSIFIER_WINDOW = 2
METRIC_WINDOW_BACK = 4
METRIC_WINDOW_FORWARD = 3
INTENSIFIER_FACTOR = 1.5
DIMINISHER_FACTOR = 0.5

# URLs, cashtags ($AAPL) and possessive 's carry no polarity.
_NOISE = re.compile(r"https?://\S+|www\.\S+|pic\.twitter\.com/\S+|\$[a-z][a-z.]*|'s\b")
_SIGNED_PCT = re.compile(r"(?<![\w.%])([+\-\u2212])\s?\d+(?:[.,]\d+)?\s?%")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*\s?%|\d+(?:[.,]\d+)*|[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_ANALYST_CALL_LEAD = frozenset({"to", "at", "a", "rated", "rates", "as", "reiterated", "reiterates"})


# --------------------------------------------------------------------------- lexicon and rules


@dataclass(frozen=True)
class _Lexicon:
    polarity: dict[str, int]
    direction: dict[str, int]
    context_only_direction: frozenset[str]
    metric_sign: dict[str, int]
    unambiguous_calls: dict[str, int]
    contextual_calls: dict[str, int]
    negators: frozenset[str]
    intensity: dict[str, float]
    triggers: frozenset[str]  # tokens that can start a rule; lets most tokens be skipped fast


@cache
def _lexicon() -> _Lexicon:
    raw = json.loads(_data_text(LEXICON_FILE))
    polarity = {w: 1 for w in raw["positive"]} | {w: -1 for w in raw["negative"]}
    direction = {w: 1 for w in raw["up"]} | {w: -1 for w in raw["down"]}
    calls = {w: 1 for w in raw["bullish_calls"]} | {w: -1 for w in raw["bearish_calls"]}
    # "buy"/"sell"/"add" are calls only after "to"/"at"/"rated" ...; the rest are calls anywhere.
    ambiguous = {"buy", "sell", "add", "reduce", "positive", "negative", "avoid", "accumulate"}
    triggers = frozenset(polarity) | frozenset(direction) | frozenset(calls)
    return _Lexicon(
        polarity=polarity,
        direction=direction,
        context_only_direction=frozenset(raw["context_only_direction"]),
        metric_sign={w: 1 for w in raw["good_metrics"]} | {w: -1 for w in raw["bad_metrics"]},
        unambiguous_calls={w: s for w, s in calls.items() if w not in ambiguous},
        contextual_calls={w: s for w, s in calls.items() if w in ambiguous},
        negators=frozenset(raw["negators"]),
        intensity={w: INTENSIFIER_FACTOR for w in raw["intensifiers"]}
        | {w: DIMINISHER_FACTOR for w in raw["diminishers"]},
        triggers=triggers,
    )


def _data_text(name: str) -> str:
    return resources.files("finance_assets.defs.news").joinpath("data", name).read_text("utf-8")


def tokenize(text: str) -> list[str]:
    """Fold a headline into word tokens; numbers become ``<num>``, percentages ``<pct>``."""
    folded = _NOISE.sub(" ", text.lower().replace("\u2019", "'")).replace("'", "")
    folded = folded.replace("-than-", " than ")  # "wider-than-expected loss" -> "wider than ..."
    # Tokens start with a letter or a digit; digits sort before letters.
    return [t if t[0] >= "a" else ("<pct>" if t[-1] == "%" else "<num>") for t in _TOKEN.findall(folded)]


def _modifier(tokens: list[str], i: int, lex: _Lexicon) -> tuple[int, float]:
    """Sign flip from a negator before token i and strength from nearby intensifiers."""
    sign = -1 if any(t in lex.negators for t in tokens[max(0, i - NEGATION_WINDOW) : i]) else 1
    strength = 1.0
    for t in tokens[max(0, i - INTENSIFIER_WINDOW) : i + INTENSIFIER_WINDOW + 1]:
        strength *= lex.intensity.get(t, 1.0)
    return sign, strength


def _nearest_metric(tokens: list[str], i: int, lex: _Lexicon) -> tuple[int, int] | None:
    """(position, sign) of the closest metric word, looking back first at each distance."""
    n = len(tokens)
    for dist in range(1, METRIC_WINDOW_BACK + 1):
        j = i - dist
        if j >= 0 and tokens[j] in lex.metric_sign:
            return j, lex.metric_sign[tokens[j]]
        j = i + dist
        if dist <= METRIC_WINDOW_FORWARD and j < n and tokens[j] in lex.metric_sign:
            return j, lex.metric_sign[tokens[j]]
    return None


def _next_is_number(tokens: list[str], i: int) -> bool:
    return i + 1 < len(tokens) and tokens[i + 1] in ("<num>", "<pct>")


def rule_features(text: str) -> dict[str, float]:
    """Signed rule features of one headline (keys start with '@'); see the module docstring."""
    return _apply_rules(text, tokenize(text))[0]


def _apply_rules(text: str, tokens: list[str]) -> tuple[dict[str, float], list[str]]:
    """Rule features, and the tokens with each metric of a direction rule replaced by the rule's
    outcome ("loss narrowed" -> "<dir+> narrowed") so that the word weight of "loss" does not
    argue with the rule (this also scored best in cross-validation on train)."""
    lex = _lexicon()
    feats: dict[str, float] = {}
    if "%" in text:
        for match in _SIGNED_PCT.finditer(text):
            _add(feats, "@pct-" if match.group(1) in "-\u2212" else "@pct+", 1.0)
    triggers = lex.triggers
    positions = [i for i, tok in enumerate(tokens) if tok in triggers]
    if not positions:
        return feats, tokens
    words = tokens
    metric_used: set[int] = set()
    direction_at: set[int] = set()

    for i in positions:
        tok = tokens[i]
        direction = lex.direction.get(tok)
        if direction is None or i in metric_used:  # "pares gains": gains is the metric here
            continue
        metric = _nearest_metric(tokens, i, lex)
        sign, strength = _modifier(tokens, i, lex)
        if metric is not None:
            position, metric_sign = metric
            metric_used.add(position)
            outcome = "dir+" if direction * metric_sign * sign > 0 else "dir-"
            _add(feats, "@" + outcome, strength)
            words = words if words is not tokens else list(tokens)
            words[position] = f"<{outcome}>"
        elif tok not in lex.context_only_direction or _next_is_number(tokens, i):
            _add(feats, "@move+" if direction * sign > 0 else "@move-", strength)
        else:
            continue
        direction_at.add(i)

    for i in positions:
        tok = tokens[i]
        call = lex.unambiguous_calls.get(tok)
        if call is None and i > 0 and tokens[i - 1] in _ANALYST_CALL_LEAD:
            call = lex.contextual_calls.get(tok)
        if call is not None:
            _add(feats, "@call+" if call > 0 else "@call-", 1.0)
        polarity = lex.polarity.get(tok)
        if polarity is None or i in direction_at or i in metric_used:
            continue
        sign, strength = _modifier(tokens, i, lex)
        _add(feats, "@lex+" if polarity * sign > 0 else "@lex-", strength)
        if sign < 0:
            _add(feats, "@negated", 1.0)
    return feats, words


def _add(feats: dict[str, float], key: str, value: float) -> None:
    feats[key] = feats.get(key, 0.0) + value


def features(text: str) -> dict[str, float]:
    """All model features of a headline: rule features, unigrams and bigrams (binary)."""
    rules, words = _apply_rules(text, tokenize(text))
    return rules | dict.fromkeys(_word_keys(words), 1.0)


def _word_keys(tokens: list[str]) -> list[str]:
    """Unigrams and space-joined bigrams, each once, in order of first occurrence (rule keys start with
    '@', so they never collide).

    A list, not a set: a headline's logit sums float weights in this order, and a set of strings
    iterates in an order that depends on PYTHONHASHSEED, which changed the scores' last bits between
    processes (issue #16).
    """
    bigrams = [f"{first} {second}" for first, second in zip(tokens, tokens[1:], strict=False)]
    return list(dict.fromkeys([*tokens, *bigrams]))


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class _Model:
    weights: dict[str, tuple[float, float]]  # feature -> (negative, positive) logit vs neutral
    bias: tuple[float, float]
    neutral_band: float


@cache
def model() -> _Model:
    raw = json.loads(_data_text(WEIGHTS_FILE))
    return _model_from_json(raw)


def _model_from_json(raw: dict) -> _Model:
    return _Model(
        weights={k: (float(v[0]), float(v[1])) for k, v in raw["weights"].items()},
        bias=(float(raw["bias"][0]), float(raw["bias"][1])),
        neutral_band=float(raw["neutral_band"]),
    )


NEUTRAL_BAND: float = model().neutral_band
"""|score| below this is neutral; calibrated on out-of-fold train predictions (see ``derive``)."""


def _logits(texts: Iterable[str], model: _Model) -> np.ndarray:
    weights = model.weights
    rows = []
    for text in texts:
        rules, words = _apply_rules(text, tokenize(text))
        neg, pos = model.bias
        for key, value in rules.items():
            w = weights.get(key)
            if w is not None:
                neg += w[0] * value
                pos += w[1] * value
        for key in _word_keys(words):  # binary features: weight x 1
            w = weights.get(key)
            if w is not None:
                neg += w[0]
                pos += w[1]
        rows.append((neg, pos))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2)


def scores_from_logits(logits: np.ndarray) -> np.ndarray:
    """P(positive) - P(negative) with neutral as the zero-logit reference class."""
    top = np.maximum(logits.max(axis=1), 0.0)
    exp_neg, exp_pos = np.exp(logits[:, 0] - top), np.exp(logits[:, 1] - top)
    return (exp_pos - exp_neg) / (exp_neg + exp_pos + np.exp(-top))


def score(text: str) -> float:
    """Sentiment of one headline in [-1, 1] (P(positive) - P(negative))."""
    return float(score_many([text])[0])


def score_many(texts: Sequence[str]) -> np.ndarray:
    """Vector of ``score`` for many headlines (non-strings are scored as empty text)."""
    cleaned = (t if isinstance(t, str) else "" for t in texts)
    return scores_from_logits(_logits(cleaned, model()))


def label(score: float) -> str:
    """Class name of a score: positive / negative outside ``NEUTRAL_BAND``, else neutral."""
    if score >= NEUTRAL_BAND:
        return "positive"
    if score <= -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def labels_from_scores(scores: np.ndarray, band: float = NEUTRAL_BAND) -> np.ndarray:
    """Vectorised ``label`` as class codes (0 negative, 1 positive, 2 neutral)."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.where(scores >= band, 1, np.where(scores <= -band, 0, 2))
