"""Exact-substring deduplication with a suffix array (Lee et al. 2022, "Deduplicating Training Data Makes
Language Models Better", arXiv:2107.06499).

Document-level near-duplicate detection misses a paragraph of boilerplate repeated inside otherwise different
documents. Lee et al. concatenate the corpus, build its **suffix array** (the start positions of all suffixes in
sorted order) and remove every substring of at least ``L`` tokens that already occurred earlier.

Here, on characters:

1. the documents are joined with a distinct separator after each (no match can cross a document boundary);
2. :func:`suffix_array` sorts the suffixes by prefix doubling (Manber & Myers 1993): ranks of prefixes of length
   ``2k`` from pairs of ranks of length ``k``, ``O(n log^2 n)`` with numpy sorts;
3. :func:`lcp_array` gives the longest common prefix of suffixes adjacent in that order (Kasai et al. 2001);
4. :func:`longest_previous_factor` gives, for each position ``p``, the longest prefix of suffix ``p`` that also
   starts at an earlier position: the suffixes nearest to ``p`` in sorted order among those starting before ``p``
   (one on each side, found with a monotonic stack) share the longest such prefix, and the LCP of two suffixes is
   the minimum of the LCP array between them (a sparse table answers it);
5. :func:`remove_repeats` deletes ``[p, p + LPF[p])`` wherever ``LPF[p] >= L``: the first occurrence of every
   repeated substring stays, every later one goes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["lcp_array", "longest_previous_factor", "remove_repeats", "suffix_array"]


def suffix_array(tokens: np.ndarray) -> np.ndarray:
    """Start positions of the suffixes of ``tokens`` in lexicographic order (a shorter prefix sorts first)."""
    n = len(tokens)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rank = np.unique(tokens, return_inverse=True)[1].reshape(-1).astype(np.int64)  # (n,)
    k = 1
    while True:
        second = np.full(n, -1, dtype=np.int64)
        second[: n - k] = rank[k:] if k < n else second[:0]
        order = np.lexsort((second, rank))  # by rank, then by the rank k further on
        r, s = rank[order], second[order]
        new = np.empty(n, dtype=np.int64)
        new[order] = np.concatenate([[0], np.cumsum((r[1:] != r[:-1]) | (s[1:] != s[:-1]))])
        rank = new
        if rank.max() == n - 1 or k >= n:
            return order.astype(np.int64)
        k *= 2


def lcp_array(tokens: np.ndarray, sa: np.ndarray) -> np.ndarray:
    """``lcp[i]`` = longest common prefix of suffixes ``sa[i - 1]`` and ``sa[i]`` (``lcp[0] = 0``), by Kasai's
    algorithm in ``O(n)``."""
    n = len(sa)
    rank = np.empty(n, dtype=np.int64)
    rank[sa] = np.arange(n)
    t = tokens.tolist()
    lcp = [0] * n
    h = 0
    for p in range(n):
        r = int(rank[p])
        if r == 0:
            h = 0
            continue
        q = int(sa[r - 1])
        while p + h < n and q + h < n and t[p + h] == t[q + h]:
            h += 1
        lcp[r] = h
        h = max(h - 1, 0)
    return np.array(lcp, dtype=np.int64)


def _range_min(values: np.ndarray) -> list[np.ndarray]:
    """Sparse table: ``table[j][i] = min(values[i : i + 2^j])``."""
    table = [values]
    j = 1
    while (1 << j) <= len(values):
        prev = table[-1]
        half = 1 << (j - 1)
        table.append(np.minimum(prev[:-half], prev[half:]))
        j += 1
    return table


def _query(table: list[np.ndarray], lo: int, hi: int) -> int:
    """``min(values[lo : hi + 1])`` for ``lo <= hi``."""
    j = (hi - lo + 1).bit_length() - 1
    return int(min(table[j][lo], table[j][hi - (1 << j) + 1]))


def longest_previous_factor(tokens: np.ndarray) -> np.ndarray:
    """``lpf[p]`` = the longest ``l`` such that ``tokens[p : p + l]`` also starts at some position ``q < p``."""
    n = len(tokens)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sa = suffix_array(tokens)
    table = _range_min(lcp_array(tokens, sa))
    lpf = np.zeros(n, dtype=np.int64)
    for direction in (range(n), range(n - 1, -1, -1)):
        stack: list[int] = []  # SA indices with increasing positions
        for i in direction:
            while stack and sa[stack[-1]] > sa[i]:
                stack.pop()
            if stack:  # the nearest suffix on this side that starts earlier
                j = stack[-1]
                lo, hi = (j + 1, i) if j < i else (i + 1, j)
                lpf[sa[i]] = max(lpf[sa[i]], _query(table, lo, hi))
            stack.append(i)
    return lpf


def remove_repeats(docs: Sequence[str], min_len: int = 50) -> tuple[list[str], int]:
    """Delete from every document each substring of ``>= min_len`` characters that occurred earlier in the corpus.

    Returns:
        The documents with repeats removed, and the number of characters removed.
    """
    if min_len < 1:
        raise ValueError(f"min_len must be >= 1, got {min_len}")
    parts, owner = [], []
    for d, doc in enumerate(docs):
        parts.append([ord(c) for c in doc] + [0x110000 + d])  # a separator no text character can match
        owner.append(len(doc) + 1)
    tokens = np.array([t for p in parts for t in p], dtype=np.int64)
    lpf = longest_previous_factor(tokens)
    drop = np.zeros(len(tokens) + 1, dtype=np.int64)
    starts = np.flatnonzero(lpf >= min_len)
    np.add.at(drop, starts, 1)
    np.add.at(drop, starts + lpf[starts], -1)
    removed = np.cumsum(drop)[:-1] > 0  # (n,)
    out, offset = [], 0
    for doc, size in zip(docs, owner, strict=True):
        keep = ~removed[offset : offset + len(doc)]
        out.append("".join(c for c, k in zip(doc, keep, strict=True) if k))
        offset += size
    return out, int(removed.sum())
