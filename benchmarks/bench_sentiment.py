"""Headline sentiment throughput: ``sentiment.score_many`` vs VADER on the same headlines, one core.

Headlines: the real validation texts repeated (when ../shared/realdata is present) or generated
finance-style headlines. Each side is timed best-of-``REPEATS`` on the same list in the same run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from finance_assets.defs.news import sentiment, sentiment_training

GOAL_PER_SECOND = 20_000
N_HEADLINES = 20_000
REPEATS = 3
VALID_CSV = Path("sentiment") / "twitter-financial-news-sentiment" / "sent_valid.csv"


def _realdata_dir() -> Path:
    env = os.environ.get("FINANCE_ASSETS_REALDATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


def _generated_headlines(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    companies = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Corp"]
    templates = [
        "{c} quarterly profit rose {p}% as sales climb https://t.co/abc123",
        "{c} net loss narrowed to ${n} million, beats estimates",
        "{c} shares fall {p}% after the company cut its full-year guidance",
        "Analyst downgrades {c} to sell, lowers price target to ${n}",
        "{c} to present at investor conference on May {d}",
        "$TICK - {c} declares regular quarterly dividend of ${n}/share",
        "{c} stock surges to record high on strong demand for new products",
        "{c} misses revenue estimates; outlook disappoints investors",
    ]
    return [
        templates[rng.integers(len(templates))].format(
            c=companies[rng.integers(len(companies))],
            p=int(rng.integers(1, 30)),
            n=int(rng.integers(1, 500)),
            d=int(rng.integers(1, 28)),
        )
        for _ in range(n)
    ]


def _headlines() -> tuple[list[str], str]:
    valid = _realdata_dir() / VALID_CSV
    if valid.is_file():
        texts = pd.read_csv(valid)["text"].astype(str).tolist()
        repeated = (texts * (N_HEADLINES // len(texts) + 1))[:N_HEADLINES]
        return repeated, "realdata sent_valid.csv texts repeated"
    return _generated_headlines(N_HEADLINES), "generated headlines"


def _best_rate(scorer: Callable[[Sequence[str]], object], texts: list[str]) -> float:
    scorer(texts[:100])  # load lexicons / weights outside the timing
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        scorer(texts)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def run() -> list[dict]:
    texts, origin = _headlines()
    ours = _best_rate(sentiment.score_many, texts)
    vader = _best_rate(sentiment_training.vader_scores, texts)
    return [
        {
            "benchmark": "sentiment_score_many",
            "metric": f"headlines scored per second, one core, {len(texts)} {origin}",
            "ours": ours,
            "reference": vader,
            "unit": "headlines/s",
            "ratio": ours / vader,
            "goal": f">= {GOAL_PER_SECOND:,} headlines/s (reference: VADER polarity_scores)",
            "met": ours >= GOAL_PER_SECOND,
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
