"""Okapi BM25 (Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework: BM25 and Beyond").

The score of document :math:`d` for query terms :math:`q_1 \\dots q_n` is

.. math::

    \\mathrm{BM25}(d, q) = \\sum_{i} \\mathrm{idf}(q_i)\\,
        \\frac{f(q_i, d)\\,(k_1 + 1)}{f(q_i, d) + k_1 \\left(1 - b + b\\,|d| / \\mathrm{avgdl}\\right)},
    \\qquad \\mathrm{idf}(t) = \\ln \\frac{N - n_t + 0.5}{n_t + 0.5},

with :math:`f(t, d)` the count of term :math:`t` in :math:`d`, :math:`|d|` its length in terms, :math:`N` the
number of documents and :math:`n_t` how many contain :math:`t`. A term in more than half the documents has a
negative idf; as in ``rank_bm25``'s ``BM25Okapi`` (which the tests compare against, score for score), such an
idf is replaced by :math:`\\varepsilon` times the mean idf of the vocabulary. A query term repeated counts
each time; a term no document contains scores 0.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

__all__ = ["BM25", "terms"]

_WORD = re.compile(r"\w+")


def terms(text: str) -> list[str]:
    """The terms BM25 indexes: lower-cased runs of word characters (``"I'm in Oslo."`` → ``i, m, in, oslo``)."""
    return _WORD.findall(text.lower())


class BM25:
    """A BM25 index over tokenized documents.

    Args:
        docs: each document as a list of terms (see :func:`terms`); at least one.
        k1: term-frequency saturation (1.2–2 is usual).
        b: length normalisation, 0 (none) to 1 (full).
        epsilon: the floor of a negative idf, as a fraction of the mean idf.
    """

    def __init__(
        self, docs: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25
    ):
        if not docs:
            raise ValueError("BM25 needs at least one document")
        self.k1, self.b = k1, b
        self.freqs = [Counter(d) for d in docs]
        self.lengths = np.array([len(d) for d in docs], dtype=np.float64)  # (N,)
        self.avgdl = float(self.lengths.mean())
        n_docs = len(docs)
        df = Counter(t for f in self.freqs for t in f)
        self.idf = {t: math.log(n_docs - n + 0.5) - math.log(n + 0.5) for t, n in df.items()}
        floor = epsilon * sum(self.idf.values()) / len(self.idf) if self.idf else 0.0
        self.idf = {t: (floor if v < 0 else v) for t, v in self.idf.items()}

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for ``query`` (a list of terms), shape ``(N,)``."""
        norm = self.k1 * (1 - self.b + self.b * self.lengths / max(self.avgdl, 1e-12))  # (N,)
        out = np.zeros(len(self.freqs))
        for q in query:
            idf = self.idf.get(q, 0.0)
            if idf == 0.0:
                continue
            f = np.array([d.get(q, 0) for d in self.freqs], dtype=np.float64)  # (N,)
            out += idf * f * (self.k1 + 1) / (f + norm)
        return out

    def top(self, query: Sequence[str], k: int) -> list[int]:
        """Indices of the ``k`` best documents with a positive score, best first (ties: the later document)."""
        s = self.scores(query)
        order = sorted(range(len(s)), key=lambda i: (-s[i], -i))
        return [i for i in order[:k] if s[i] > 0]
