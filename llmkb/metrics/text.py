"""Diversity and degeneration metrics for generated text (used by the sampling lab).

Every function works on **tokens**: one sequence of hashable items (``text.split()`` for words,
``list(text)`` for characters, ``text.encode()`` or a list of ids for bytes and tokens; a NumPy array or a
torch tensor is read with ``.tolist()``), or, for the corpus metrics, a sequence of such sequences. A bare
``str`` is refused with a ``TypeError`` rather than read as characters, and so is a list of lists where one
token sequence is expected: both are how a word-level metric silently turns into a character-level one
(``distinct_n(text.split(), 2)`` once pooled the character bigrams *inside* each word).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ngrams",
    "distinct_n",
    "distinct_n_corpus",
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


def _tokens(tokens: Any) -> list[Item]:
    """The items of one token sequence, refusing a ``str`` and a sequence of sequences (one-line TypeErrors)."""
    if isinstance(tokens, str):
        raise TypeError(
            "got a str where tokens are expected: pass text.split() for words or list(text) for characters"
        )
    if hasattr(tokens, "tolist") and not isinstance(tokens, Sequence):  # a NumPy array or a torch tensor
        tokens = tokens.tolist()
    items = list(tokens)
    for t in items:
        if isinstance(t, Sequence) and not isinstance(t, (str, bytes)):
            raise TypeError(
                f"got a sequence of {type(t).__name__}s where one token sequence is expected: "
                "give several texts to a corpus metric (distinct_n_corpus, self_similarity)"
            )
        if not isinstance(t, Hashable):
            raise TypeError(f"tokens must be hashable, got a {type(t).__name__}")
    return items


def _corpus(seqs: Any) -> list[list[Item]]:
    """The token sequences of a corpus, refusing a ``str`` and a list of texts (one-line TypeErrors)."""
    if isinstance(seqs, str):
        raise TypeError("got a str where a corpus is expected: pass a list of token sequences")
    out = []
    for s in seqs:
        if isinstance(s, str):
            raise TypeError(
                "got a list of str where a corpus of token sequences is expected: "
                "pass [t.split() for t in texts] for words or [list(t) for t in texts] for characters"
            )
        out.append(_tokens(s))
    return out


def ngrams(tokens: Seq, n: int) -> list[tuple[Item, ...]]:
    """All contiguous ``n``-grams of ``tokens``, in order (``len(tokens) - n + 1`` of them, or none).

    Args:
        tokens: One token sequence (words, characters as ``list(text)``, byte or token ids).
        n: N-gram order, ``>= 1``.

    Returns:
        List of ``n``-tuples.

    Raises:
        ValueError: If ``n < 1``.
        TypeError: If ``tokens`` is a ``str`` or a sequence of sequences.
    """
    _check_n(n)
    items = _tokens(tokens)
    return [tuple(items[i : i + n]) for i in range(len(items) - n + 1)]


def distinct_n(tokens: Seq, n: int) -> float:
    """Distinct-n of one token sequence: unique ``n``-grams divided by all ``n``-grams.

    ``distinct_n(t, n) = |set(ngrams(t, n))| / |ngrams(t, n)|`` (Li, Galley, Brockett, Gao & Dolan 2016,
    "A Diversity-Promoting Objective Function for Neural Conversation Models", arXiv 1510.03055). 1.0 means
    no ``n``-gram repeats. For several texts, :func:`distinct_n_corpus` pools their ``n``-grams.

    Example:
        ```python
        from llmkb.metrics.text import distinct_n

        text = "the value of the value of"
        assert distinct_n(text.split(), 2) == 3 / 5  # word bigrams
        assert distinct_n(list("abab"), 2) == 2 / 3  # character bigrams, asked for explicitly
        ```

    Args:
        tokens: One token sequence (``text.split()`` for words, ``list(text)`` for characters).
        n: N-gram order, ``>= 1``.

    Returns:
        A value in ``[0, 1]``; 0.0 if there is no ``n``-gram at all.

    Raises:
        ValueError: If ``n < 1``.
        TypeError: If ``tokens`` is a ``str`` or a sequence of sequences.
    """
    grams = ngrams(tokens, n)
    return len(set(grams)) / len(grams) if grams else 0.0


def distinct_n_corpus(corpus: Sequence[Seq], n: int) -> float:
    """Distinct-n pooled over a corpus: unique ``n``-grams over all ``n``-grams of every sequence.

    ``n``-grams never cross from one sequence into the next. This is the corpus-level distinct-n of Li et
    al. (2016) that papers report for a set of generations.

    Args:
        corpus: Token sequences, e.g. ``[t.split() for t in texts]``.
        n: N-gram order, ``>= 1``.

    Returns:
        A value in ``[0, 1]``; 0.0 if there is no ``n``-gram at all.

    Raises:
        ValueError: If ``n < 1``.
        TypeError: If ``corpus`` is a ``str`` or holds a ``str`` (a text, not its tokens).
    """
    _check_n(n)
    grams = [g for s in _corpus(corpus) for g in ngrams(s, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repeated_ngram_rate(tokens: Seq, n: int) -> float:
    """Fraction of the ``n``-grams of ``tokens`` that already occurred earlier in the same sequence.

    Equals ``1 - distinct_n(tokens, n)``: every occurrence after an ``n``-gram's first one counts as a
    repeat. E.g. ``list("abcabcabc")`` with ``n = 3`` has 7 trigrams, 3 distinct, so the rate is 4/7.

    Args:
        tokens: One token sequence (``text.split()`` for words, ``list(text)`` for characters).
        n: N-gram order, ``>= 1``.

    Returns:
        A value in ``[0, 1)``; 0.0 if the sequence is shorter than ``n``.

    Raises:
        ValueError: If ``n < 1``.
        TypeError: If ``tokens`` is a ``str`` or a sequence of sequences.
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
    smallest ``p``. Examples: ``list("abcabcabc")`` → start 0, period 3; ``list("xyzabab")`` → start 3,
    period 2; ``list("abcd")`` → ``None``. Note that any final pair of equal tokens is a (short) loop of period 1; raise
    ``min_repeats`` to ask for stronger evidence. Runs in ``O(len(tokens)^2 / min_repeats)``.

    Args:
        tokens: One token sequence (byte or token ids, ``text.split()``, ``list(text)``).
        min_repeats: Minimum number of full copies of the unit in the tail, ``>= 2``.

    Returns:
        The [`Loop`][llmkb.metrics.text.Loop], or ``None`` if the sequence never becomes periodic.

    Raises:
        ValueError: If ``min_repeats < 2``.
        TypeError: If ``tokens`` is a ``str`` or a sequence of sequences.
    """
    if isinstance(min_repeats, bool) or not isinstance(min_repeats, int) or min_repeats < 2:
        raise ValueError(f"min_repeats must be an integer >= 2, got {min_repeats!r}")
    seq = _tokens(tokens)
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
        tokens: One token sequence.
        min_repeats: Minimum number of full copies of the unit, ``>= 2``.

    Returns:
        The period (``>= 1``), or 0.
    """
    loop = find_loop(tokens, min_repeats)
    return 0 if loop is None else loop.period


def self_similarity(corpus: Sequence[Seq], n: int = 2) -> float:
    """Mean pairwise Jaccard similarity of the ``n``-gram sets of several generations.

    ``mean_{i<j} |G_i ∩ G_j| / |G_i ∪ G_j|`` with ``G_i`` the set of ``n``-grams of generation ``i``. A cheap
    stand-in for Self-BLEU (Zhu et al. 2018, "Texygen", arXiv 1802.01886): 1.0 when all
    generations share the same ``n``-gram set, 0.0 when no two share an ``n``-gram. Pairs where both
    sequences are shorter than ``n`` are skipped.

    Args:
        corpus: At least two token sequences, e.g. ``[list(t) for t in texts]`` for character ``n``-grams.
        n: N-gram order, ``>= 1``.

    Returns:
        Mean Jaccard similarity in ``[0, 1]`` (0.0 if no pair has any ``n``-gram).

    Raises:
        ValueError: If fewer than two sequences are given or ``n < 1``.
        TypeError: If ``corpus`` is a ``str`` or holds a ``str`` (a text, not its tokens).
    """
    _check_n(n)
    seqs = _corpus(corpus)
    if len(seqs) < 2:
        raise ValueError(f"self_similarity needs at least 2 sequences, got {len(seqs)}")
    sets = [set(ngrams(s, n)) for s in seqs]
    sims = [len(a & b) / len(a | b) for a, b in itertools.combinations(sets, 2) if a | b]
    return sum(sims) / len(sims) if sims else 0.0
