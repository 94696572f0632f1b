"""Diversity and degeneration metrics for generated text (used by the sampling lab).

Every function works on *sequences of hashable items*: a ``str`` is a sequence of characters, a list of
ints is a sequence of token ids. For word-level metrics pass ``text.split()``.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

__all__ = [
    "ngrams",
    "distinct_n",
    "repeated_ngram_rate",
    "Loop",
    "find_loop",
    "loop_length",
    "self_similarity",
]

Item = Hashable
Seq = Sequence[Item]


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")


def ngrams(seq: Seq, n: int) -> list[tuple[Item, ...]]:
    """All contiguous ``n``-grams of ``seq``, in order (``len(seq) - n + 1`` of them, or none).

    Args:
        seq: A string (characters) or a sequence of tokens.
        n: N-gram order, ``>= 1``.

    Returns:
        List of ``n``-tuples.

    Raises:
        ValueError: If ``n < 1``.
    """
    _check_n(n)
    return [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]


def _as_corpus(seqs: Seq | Sequence[Seq]) -> list[Seq]:
    """Interpret a single sequence (str, or a sequence of non-sequence items) as a one-item corpus."""
    if isinstance(seqs, str):
        return [seqs]
    items = list(seqs)
    if items and all(isinstance(s, Sequence) for s in items):
        return items
    return [items]


def distinct_n(seqs: Seq | Sequence[Seq], n: int) -> float:
    """Distinct-n: unique ``n``-grams divided by total ``n``-grams, pooled over all sequences.

    Li, Galley, Brockett, Gao & Dolan 2016, "A Diversity-Promoting Objective Function for Neural
    Conversation Models" (arXiv 1510.03055). 1.0 means no ``n``-gram repeats anywhere in the corpus.

    Args:
        seqs: A list of texts / token lists, or a single text / token list.
        n: N-gram order, ``>= 1``.

    Returns:
        A value in ``[0, 1]``; 0.0 if there is no ``n``-gram at all.

    Raises:
        ValueError: If ``n < 1``.
    """
    _check_n(n)
    grams = [g for s in _as_corpus(seqs) for g in ngrams(s, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repeated_ngram_rate(tokens: Seq, n: int) -> float:
    """Fraction of the ``n``-grams of ``tokens`` that already occurred earlier in the same sequence.

    Equals ``1 - distinct_n([tokens], n)``: every occurrence after an ``n``-gram's first one counts as a
    repeat. E.g. ``"abcabcabc"`` with ``n = 3`` has 7 trigrams, 3 distinct, so the rate is 4/7.

    Args:
        tokens: A string or a token sequence.
        n: N-gram order, ``>= 1``.

    Returns:
        A value in ``[0, 1)``; 0.0 if the sequence is shorter than ``n``.

    Raises:
        ValueError: If ``n < 1``.
    """
    grams = ngrams(tokens, n)
    return (len(grams) - len(set(grams))) / len(grams) if grams else 0.0


@dataclass(frozen=True)
class Loop:
    """A periodic tail: ``tokens[i] == tokens[i + period]`` for every ``i >= start``.

    Attributes:
        start: First position of the periodic tail.
        period: Length of the repeating unit.
        length: Length of the sequence the loop was found in.
    """

    start: int
    period: int
    length: int

    @property
    def repeats(self) -> float:
        """How many times the unit occurs in the tail (may be fractional, e.g. 2.5)."""
        return (self.length - self.start) / self.period

    @property
    def coverage(self) -> float:
        """Fraction of the sequence inside the loop."""
        return (self.length - self.start) / self.length


def find_loop(tokens: Seq, min_repeats: int = 2) -> Loop | None:
    """Find where a sequence falls into a loop: the earliest periodic tail.

    A tail ``tokens[s:]`` is a loop of period ``p`` if ``tokens[i] == tokens[i + p]`` for all
    ``s <= i < len(tokens) - p`` and it contains at least ``min_repeats`` full copies of the unit
    (``len(tokens) - s >= min_repeats * p``). Among all such ``(s, p)`` the smallest ``s`` wins, then the
    smallest ``p``. Examples: ``"abcabcabc"`` → start 0, period 3; ``"xyzabab"`` → start 3, period 2;
    ``"abcd"`` → ``None``. Note that any final pair of equal tokens is a (short) loop of period 1; raise
    ``min_repeats`` to ask for stronger evidence. Runs in ``O(len(tokens)^2 / min_repeats)``.

    Args:
        tokens: A string or a token sequence.
        min_repeats: Minimum number of full copies of the unit in the tail, ``>= 2``.

    Returns:
        The [`Loop`][llmkb.metrics.text.Loop], or ``None`` if the sequence never becomes periodic.

    Raises:
        ValueError: If ``min_repeats < 2``.
    """
    if isinstance(min_repeats, bool) or not isinstance(min_repeats, int) or min_repeats < 2:
        raise ValueError(f"min_repeats must be an integer >= 2, got {min_repeats!r}")
    seq = list(tokens)
    n = len(seq)
    best: Loop | None = None
    for p in range(1, n // min_repeats + 1):
        s = n - p  # the tail of length p is trivially p-periodic; extend it to the left
        while s > 0 and seq[s - 1] == seq[s - 1 + p]:
            s -= 1
        if n - s >= min_repeats * p and (best is None or s < best.start):
            best = Loop(start=s, period=p, length=n)
    return best


def loop_length(tokens: Seq, min_repeats: int = 2) -> int:
    """Period of the loop found by [`find_loop`][llmkb.metrics.text.find_loop], or 0 if there is none.

    Args:
        tokens: A string or a token sequence.
        min_repeats: Minimum number of full copies of the unit, ``>= 2``.

    Returns:
        The period (``>= 1``), or 0.
    """
    loop = find_loop(tokens, min_repeats)
    return 0 if loop is None else loop.period


def self_similarity(seqs: Sequence[Seq], n: int = 2) -> float:
    """Mean pairwise Jaccard similarity of the ``n``-gram sets of several generations.

    A cheap stand-in for Self-BLEU (Zhu et al. 2018, "Texygen", arXiv 1802.01886): 1.0 when all
    generations share the same ``n``-gram set, 0.0 when no two share an ``n``-gram. Pairs where both
    sequences are shorter than ``n`` are skipped.

    Args:
        seqs: At least two texts or token lists.
        n: N-gram order, ``>= 1``.

    Returns:
        Mean Jaccard similarity in ``[0, 1]`` (0.0 if no pair has any ``n``-gram).

    Raises:
        ValueError: If fewer than two sequences are given or ``n < 1``.
    """
    _check_n(n)
    if len(seqs) < 2:
        raise ValueError(f"self_similarity needs at least 2 sequences, got {len(seqs)}")
    sets = [set(ngrams(s, n)) for s in seqs]
    sims = [len(a & b) / len(a | b) for a, b in itertools.combinations(sets, 2) if a | b]
    return sum(sims) / len(sims) if sims else 0.0
