"""Okapi BM25 (llmkb/memory/bm25.py), score for score against rank_bm25's BM25Okapi."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from llmkb.memory.bm25 import BM25, terms


def test_hand_computed_scores():
    docs = [["oslo", "oslo", "rain"], ["perth", "sun"], ["rain"]]
    index = BM25(docs, k1=1.5, b=0.75)
    avgdl = 2.0
    idf_oslo = math.log(3 - 1 + 0.5) - math.log(1 + 0.5)
    tf_part = 2 * 2.5 / (2 + 1.5 * (1 - 0.75 + 0.75 * 3 / avgdl))
    assert index.scores(["oslo"])[0] == pytest.approx(idf_oslo * tf_part)
    assert index.scores(["oslo"])[1:].tolist() == [0.0, 0.0]
    assert index.scores(["unknown"]).tolist() == [0.0, 0.0, 0.0]
    assert index.scores(["oslo", "oslo"])[0] == pytest.approx(2 * idf_oslo * tf_part)  # repeats count
    assert terms("I'm in Oslo, OK?") == ["i", "m", "in", "oslo", "ok"]


def test_matches_rank_bm25_on_a_generated_corpus():
    rng = random.Random(1234)
    vocab = [f"w{i}" for i in range(60)]
    weights = [1 / (i + 1) for i in range(60)]  # Zipf: frequent words get rank_bm25's negative-idf floor
    docs = [rng.choices(vocab, weights, k=rng.randint(1, 25)) for _ in range(120)]
    ours, ref = BM25(docs), BM25Okapi(docs)
    assert any(
        v < 0 for v in (math.log(120 - n + 0.5) - math.log(n + 0.5) for n in [sum("w0" in d for d in docs)])
    )
    for _ in range(30):
        query = rng.choices(vocab + ["absent"], k=rng.randint(1, 6))
        np.testing.assert_allclose(ours.scores(query), ref.get_scores(query), rtol=1e-12, atol=1e-12)
    for k1, b in ((1.2, 0.0), (2.0, 1.0)):
        np.testing.assert_allclose(
            BM25(docs, k1=k1, b=b).scores(["w3", "w10"]),
            BM25Okapi(docs, k1=k1, b=b).get_scores(["w3", "w10"]),
        )


def test_top_drops_zero_scores_and_breaks_ties_by_recency():
    index = BM25([["a", "b"], ["c"], ["a", "b"], ["d"], ["e"]])
    assert index.top(["a"], 5) == [2, 0]
    assert BM25([["a"], ["a"], ["b"], ["c"]]).scores(["a"]).tolist() == [0.0] * 4  # idf ln(2.5/2.5) = 0
    assert index.top(["a"], 1) == [2] and index.top(["zzz"], 3) == []
    with pytest.raises(ValueError, match="at least one document"):
        BM25([])
