"""Evaluating and re-deriving the headline sentiment model (`sentiment`), and its command line:

    python -m finance_assets.defs.news.sentiment_training eval FILE [--json]
    python -m finance_assets.defs.news.sentiment_training derive TRAIN_CSV [--out FILE]

Label codes in CSV files follow the data set: 0 = negative (bearish), 1 = positive (bullish),
2 = neutral. Confusion matrices use that order for rows (true) and columns (predicted).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from finance_assets.defs.news.sentiment import (
    LABEL_ALIASES,
    LABELS,
    NEUTRAL_BAND,
    VADER_THRESHOLD,
    WEIGHTS_FILE,
    features,
    labels_from_scores,
    model,
    score_many,
    scores_from_logits,
)

# --------------------------------------------------------------------------- evaluation


def encode_labels(labels: Iterable[object]) -> np.ndarray:
    """Map 0/1/2 or negative/positive/neutral (bearish/bullish) to codes; ValueError if unknown."""
    codes = []
    unknown: set[str] = set()
    for value in labels:
        key = str(value).strip().lower()
        if key.endswith(".0"):
            key = key[:-2]
        code = LABEL_ALIASES.get(key)
        if code is None:
            unknown.add(str(value))
        codes.append(code)
    if unknown:
        raise ValueError(f"unknown labels {sorted(unknown)[:5]}; expected 0/1/2 or {list(LABELS)}")
    return np.asarray(codes, dtype=np.int64)


def metrics(true_codes: np.ndarray, predicted_codes: np.ndarray) -> dict:
    """Accuracy, macro-F1, per-class F1 and confusion matrix (rows true, columns predicted)."""
    true_codes = np.asarray(true_codes, dtype=np.int64)
    predicted_codes = np.asarray(predicted_codes, dtype=np.int64)
    n_classes = len(LABELS)
    confusion = np.bincount(true_codes * n_classes + predicted_codes, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )
    hits = np.diag(confusion).astype(np.float64)
    predicted_totals, true_totals = confusion.sum(axis=0), confusion.sum(axis=1)
    denominator = predicted_totals + true_totals
    f1 = np.divide(2 * hits, denominator, out=np.zeros(n_classes), where=denominator > 0)
    n = int(true_codes.size)
    return {
        "n": n,
        "accuracy": float(hits.sum() / n) if n else float("nan"),
        "macro_f1": float(f1.mean()),
        "f1": dict(zip(LABELS, map(float, f1), strict=True)),
        "labels": list(LABELS),
        "confusion_matrix": confusion.tolist(),
    }


def evaluate(texts: Sequence[str], labels: Sequence[object]) -> dict:
    """Score our model on labelled headlines.

    Returns ``n``, ``accuracy``, ``macro_f1``, per-class ``f1`` and ``confusion_matrix`` as nested
    lists, rows = true class, columns = predicted, both in ``labels`` order
    ["negative", "positive", "neutral"] (= data set codes 0, 1, 2).
    """
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    true_codes = encode_labels(labels)
    return metrics(true_codes, labels_from_scores(score_many(texts)))


def vader_scores(texts: Sequence[str]) -> np.ndarray:
    """VADER compound scores (the general-purpose lexicon baseline)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return np.array([analyzer.polarity_scores(str(t))["compound"] for t in texts], dtype=np.float64)


def evaluate_vader(texts: Sequence[str], labels: Sequence[object]) -> dict:
    """Same figures as ``evaluate`` for VADER with its standard +/-0.05 thresholds."""
    true_codes = encode_labels(labels)
    return metrics(true_codes, labels_from_scores(vader_scores(texts), VADER_THRESHOLD))


# ---------------------------------------------------------------- derivation (train split only)


def derive(train_csv: Path, out: Path | None = None, folds: int = 5, seed: int = 0) -> dict:
    """Fit the feature weights and neutral band on a labelled train CSV and write the weights JSON.

    Steps (all on ``train_csv`` only): features = rule features + unigrams + bigrams seen in at
    least ``MIN_DOC_FREQ`` headlines; multinomial logistic regression with L2 penalty, neutral as
    the reference class; the penalty is picked from ``L2_GRID`` by ``folds``-fold cross-validated
    macro-F1, and the neutral band by maximising macro-F1 of the out-of-fold scores. Requires scipy
    (a development dependency; scoring does not need it).
    """
    if any(part in Path(train_csv).name.lower() for part in HELD_OUT_NAME_PARTS):
        raise InputError(f"{train_csv} looks like a held-out split; derive only from train data")
    texts, codes = read_labelled_csv(train_csv)
    rows = [features(t) for t in texts]
    vocabulary = _vocabulary(rows)
    matrix = _design_matrix(rows, vocabulary)
    fold_of = np.random.default_rng(seed).permutation(len(codes)) % folds

    search = []
    for l2 in L2_GRID:
        oof = _out_of_fold_scores(matrix, codes, fold_of, l2)
        band, f1 = _best_band(oof, codes)
        search.append({"l2": l2, "neutral_band": band, "cv_macro_f1": f1})
    best = max(search, key=lambda r: r["cv_macro_f1"])
    weights, bias = _fit_logistic(matrix, codes, best["l2"])

    kept = {
        name: [round(float(w[0]), 3), round(float(w[1]), 3)]
        for name, w in zip(vocabulary, weights, strict=True)
        if max(abs(w[0]), abs(w[1])) >= PRUNE_BELOW
    }
    document = {
        "about": "Derived by `python -m finance_assets.defs.news.sentiment_training derive` from the train "
        "split only; weights are (negative, positive) logits relative to neutral.",
        "train_file": Path(train_csv).name,
        "train_sha256": hashlib.sha256(Path(train_csv).read_bytes()).hexdigest(),
        "n_train": int(len(codes)),
        "min_doc_freq": MIN_DOC_FREQ,
        "folds": folds,
        "seed": seed,
        "l2_search": search,
        "l2": best["l2"],
        "neutral_band": round(best["neutral_band"], 4),
        "cv_macro_f1": round(best["cv_macro_f1"], 4),
        "bias": [round(float(bias[0]), 4), round(float(bias[1]), 4)],
        "weights": dict(sorted(kept.items())),
    }
    target = out or Path(__file__).with_name("data") / WEIGHTS_FILE
    target.write_text(_weights_json(document), encoding="utf-8")
    if out is None:
        model.cache_clear()  # NEUTRAL_BAND keeps the imported value until the next import
    return {k: v for k, v in document.items() if k != "weights"} | {"n_weights": len(kept)}


HELD_OUT_NAME_PARTS = ("valid", "test", "dev")  # guard against tuning on evaluation data
MIN_DOC_FREQ = 3  # rarer features add size, not cross-validated accuracy
L2_GRID = (0.3, 1.0, 3.0, 10.0)
PRUNE_BELOW = 0.05  # drops ~10% of weights at no measurable CV cost


def _weights_json(document: dict) -> str:
    """JSON with one weight per line so that re-derivations give readable diffs."""
    header = {k: v for k, v in document.items() if k != "weights"}
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in header.items()]
    entries = [f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in document["weights"].items()]
    return "{\n" + ",\n".join(lines) + ',\n  "weights": {\n' + ",\n".join(entries) + "\n  }\n}\n"


def _vocabulary(rows: list[dict[str, float]]) -> list[str]:
    doc_freq: dict[str, int] = {}
    for row in rows:
        for key in row:
            doc_freq[key] = doc_freq.get(key, 0) + 1
    return sorted(k for k, c in doc_freq.items() if c >= MIN_DOC_FREQ or k.startswith("@"))


def _design_matrix(rows: list[dict[str, float]], vocabulary: list[str]):
    from scipy import sparse

    index = {name: i for i, name in enumerate(vocabulary)}
    row_ids, col_ids, values = [], [], []
    for r, row in enumerate(rows):
        for key, value in row.items():
            col = index.get(key)
            if col is not None:
                row_ids.append(r)
                col_ids.append(col)
                values.append(value)
    shape = (len(rows), len(vocabulary))
    return sparse.csr_matrix((values, (row_ids, col_ids)), shape=shape, dtype=np.float64)


def _fit_logistic(matrix, codes: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression, neutral fixed at logit 0; returns (F x 2 weights, bias)."""
    from scipy.optimize import minimize

    n, n_features = matrix.shape
    onehot = np.zeros((n, 2))
    not_neutral = codes < 2
    onehot[np.flatnonzero(not_neutral), codes[not_neutral]] = 1.0

    def loss_and_grad(params: np.ndarray) -> tuple[float, np.ndarray]:
        weights, bias = params[:-2].reshape(n_features, 2), params[-2:]
        logits = matrix @ weights + bias
        top = np.maximum(logits.max(axis=1), 0.0)
        exp = np.exp(logits - top[:, None])
        partition = exp.sum(axis=1) + np.exp(-top)
        log_partition = np.log(partition) + top
        chosen = np.where(not_neutral, logits[np.arange(n), np.minimum(codes, 1)], 0.0)
        loss = (log_partition - chosen).sum() + 0.5 * l2 * np.sum(weights * weights)
        residual = exp / partition[:, None] - onehot
        grad = np.concatenate([(matrix.T @ residual + l2 * weights).ravel(), residual.sum(axis=0)])
        return float(loss), grad

    start = np.zeros(n_features * 2 + 2)
    result = minimize(loss_and_grad, start, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    return result.x[:-2].reshape(n_features, 2), result.x[-2:]


def _out_of_fold_scores(matrix, codes: np.ndarray, fold_of: np.ndarray, l2: float) -> np.ndarray:
    scores = np.empty(len(codes))
    for fold in np.unique(fold_of):
        held_out = fold_of == fold
        weights, bias = _fit_logistic(matrix[~held_out], codes[~held_out], l2)
        scores[held_out] = scores_from_logits(matrix[held_out] @ weights + bias)
    return scores


def _best_band(scores: np.ndarray, codes: np.ndarray) -> tuple[float, float]:
    grid = np.round(np.arange(0.0, 0.8, 0.01), 2)
    f1s = [metrics(codes, labels_from_scores(scores, band))["macro_f1"] for band in grid]
    best = int(np.argmax(f1s))
    return float(grid[best]), float(f1s[best])


# --------------------------------------------------------------------------- CLI


class InputError(ValueError):
    """A labelled file that cannot be evaluated; reported without a traceback."""


def read_labelled_csv(path: Path | str) -> tuple[list[str], np.ndarray]:
    """Read a ``text,label`` CSV; raises ``InputError`` with a readable message on bad input."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"file not found: {path}")
    try:
        frame = pd.read_csv(path, dtype={"text": str}, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a readable CSV: {exc}") from None
    missing = {"text", "label"} - set(frame.columns)
    if missing:
        raise InputError(f"{path} lacks column(s) {sorted(missing)}; found {list(frame.columns)}")
    if frame.empty:
        raise InputError(f"{path} has a header but no rows")
    try:
        codes = encode_labels(frame["label"])
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None
    return frame["text"].astype(str).tolist(), codes


def _format_report(path: str, ours: dict, vader: dict) -> str:
    lines = [f"{path}: {ours['n']} headlines; label order {list(LABELS)} (codes 0, 1, 2)"]
    lines.append(f"{'model':<22}{'accuracy':>10}{'macro-F1':>10}")
    lines.append(f"{'finance_assets':<22}{ours['accuracy']:>10.3f}{ours['macro_f1']:>10.3f}")
    lines.append(f"{'VADER (+/-0.05)':<22}{vader['accuracy']:>10.3f}{vader['macro_f1']:>10.3f}")
    for name, result in (("finance_assets", ours), ("VADER", vader)):
        lines.append(f"confusion matrix, {name} (rows true, columns predicted):")
        lines.append(" " * 10 + "".join(f"{c:>10}" for c in LABELS))
        for row_name, row in zip(LABELS, result["confusion_matrix"], strict=True):
            lines.append(f"{row_name:<10}" + "".join(f"{v:>10}" for v in row))
    return "\n".join(lines)


def _run_eval(args: argparse.Namespace) -> int:
    texts, codes = read_labelled_csv(args.file)
    ours = metrics(codes, labels_from_scores(score_many(texts)))
    vader = metrics(codes, labels_from_scores(vader_scores(texts), VADER_THRESHOLD))
    if args.json:
        report = {
            "file": str(args.file),
            "n": ours["n"],
            "labels": list(LABELS),
            "neutral_band": NEUTRAL_BAND,
            "ours": ours,
            "vader": vader,
        }
        print(json.dumps(report))
    else:
        print(_format_report(str(args.file), ours, vader))
    return 0


def _run_derive(args: argparse.Namespace) -> int:
    summary = derive(Path(args.train_csv), Path(args.out) if args.out else None)
    print(json.dumps(summary, indent=2))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m finance_assets.defs.news.sentiment_training")
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate_cmd = commands.add_parser("eval", help="accuracy, macro-F1 vs VADER on a CSV")
    evaluate_cmd.add_argument("file", help="CSV with columns text,label (0 neg, 1 pos, 2 neutral)")
    evaluate_cmd.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate_cmd.set_defaults(run=_run_eval)
    derive_cmd = commands.add_parser("derive", help="re-derive weights from a TRAIN split CSV")
    derive_cmd.add_argument("train_csv")
    derive_cmd.add_argument("--out", help="weights JSON to write (default: package data file)")
    derive_cmd.set_defaults(run=_run_derive)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit code (2 on usage or input errors)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage error
        return int(exc.code or 0)
    try:
        return args.run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
