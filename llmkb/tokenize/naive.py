"""Byte-level BPE written as plainly as possible: the reference the fast code is checked against.

Kept on purpose beside :mod:`llmkb.tokenize.trainer` (like minbpe's ``basic.py`` beside its regex tokenizer):
:func:`train_naive` recounts every pair of every word before each merge, which costs
``O(merges x corpus)`` but reads like the algorithm (Sennrich et al., 2016, arXiv:1508.07909):

1. cut the text into pieces with the split pattern and count the distinct pieces;
2. segment each piece into tokens and count adjacent pairs, weighted by the piece counts;
3. make the most frequent pair a new token; repeat from 2.

Both trainers agree merge for merge (tests check it on random corpora) because they share two rules:

* **ties**: among pairs of equal count, the one whose byte strings ``(bytes(left), bytes(right))`` sort first
  wins — a total order, so training is deterministic;
* **segmentation**: a piece is always segmented as :meth:`llmkb.tokenize.BPETokenizer.encode` segments it
  (:func:`encode_piece`, tiktoken's rule: a piece that is a token is that token; otherwise merge the adjacent
  pair whose concatenation has the lowest rank, leftmost first). A token can thus appear through a split
  other than the pair that made it, which replacing pair occurrences in place would miss.
"""

from __future__ import annotations

from collections import Counter

import regex

from llmkb.tokenize._regexes import GPT4_PATTERN

__all__ = ["encode_piece", "train_naive"]


def encode_piece(data: bytes, ranks: dict[bytes, int]) -> list[int]:
    """Encode one pre-tokenized piece with tiktoken's rule: merge the lowest-rank pair until none applies.

    Args:
        data: The piece's UTF-8 bytes.
        ranks: ``{token bytes: id}``; a token's id is its rank (the 256 single bytes first).

    Returns:
        The ids of the piece.
    """
    if data in ranks:  # a piece that is a token comes out whole
        return [ranks[data]]
    parts = [bytes([b]) for b in data]
    while True:
        pairs = zip(parts, parts[1:], strict=False)
        ranked = [(ranks[a + b], i) for i, (a, b) in enumerate(pairs) if a + b in ranks]
        if not ranked:
            return [ranks[p] for p in parts]
        _, i = min(ranked)  # lowest rank, then leftmost
        parts[i : i + 2] = [parts[i] + parts[i + 1]]


def train_naive(text: str, num_merges: int, pattern: str = GPT4_PATTERN) -> list[tuple[int, int]]:
    """Learn up to ``num_merges`` merges by recounting all pairs before each one.

    With ``c(a, b)`` the number of times tokens ``a, b`` are adjacent in the segmented corpus, each step adds
    the token ``bytes(a*) + bytes(b*)`` for ``(a*, b*) = argmax c(a, b)`` (ties: smallest byte strings).

    Args:
        text: The corpus.
        num_merges: How many tokens to add to the 256 bytes (fewer if the pairs run out).
        pattern: The split regular expression (``regex`` syntax); merges never cross a piece.

    Returns:
        The merges in rank order: merge ``i`` made token ``256 + i`` from ``(left_id, right_id)``.
    """
    words = Counter(regex.findall(pattern, text))  # piece -> count
    vocab = [bytes([b]) for b in range(256)]  # id -> bytes
    ranks = {t: i for i, t in enumerate(vocab)}  # bytes -> id (= rank)
    merges: list[tuple[int, int]] = []
    for _ in range(num_merges):
        counts: Counter[tuple[int, int]] = Counter()
        for word, n in words.items():
            ids = encode_piece(word.encode("utf-8"), ranks)
            for pair in zip(ids, ids[1:], strict=False):
                counts[pair] += n
        if not counts:
            break
        a, b = min(counts, key=lambda p: (-counts[p], vocab[p[0]], vocab[p[1]]))
        merges.append((a, b))
        ranks[vocab[a] + vocab[b]] = len(vocab)
        vocab.append(vocab[a] + vocab[b])
    return merges
