"""Byte-level BPE training with incrementally maintained pair counts.

Algorithm (Sennrich et al., 2016, "Neural Machine Translation of Rare Words with Subword Units",
arXiv:1508.07909; byte-level variant from Radford et al., 2019, GPT-2):

1. Cut the corpus into pieces with the split pattern and count each distinct piece once
   (``word -> count``); special tokens are cut out first and never take part.
2. Start from the 256 byte tokens. Count every adjacent pair of tokens over the distinct words, weighted
   by the word counts.
3. Repeat until the vocabulary is full or no pair is left: take the most frequent pair, add the
   concatenation of its two byte strings as a new token (its id, which is also its rank, is the next free
   one) and re-segment the words that contain it.

Step 3 never recounts everything. An index maps each pair to the words that (may) contain it, and only
those words are re-segmented; the difference between their old and new pairs, weighted by the word counts,
is added to the pair counts. The most frequent pair is found with a heap with lazy invalidation: an entry
is pushed whenever a pair's count grows, and an entry whose count no longer matches is dropped (or
re-pushed with the current count, if that is lower) when it reaches the top.

Tie-break: highest count first; among equal counts, the lexicographically smallest pair of byte strings
``(bytes(left), bytes(right))``. This is a total order, so training is deterministic.

Segmentation rule: every word is always segmented exactly as :meth:`BPETokenizer.encode` would segment it
with the vocabulary built so far (tiktoken's rule: merge the lowest-rank adjacent pair whose concatenation
is a token, leftmost first; a word that is itself a token is that token). So a new token can also complete
another split of itself (``a`` + ``bc`` when the pair was ``ab`` + ``c``), and a merge can cascade
(``x`` + new token may be an older token). As a consequence no adjacent pair in any word ever concatenates
to an existing token, and a new token never duplicates an old one.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

import regex

from llmkb.tokenize._merge import PairTable, merge_ids

__all__ = ["TrainedVocab", "count_words", "train_merges", "train_vocab"]


def count_words(
    texts: Iterable[str], split: re.Pattern[str] | regex.Pattern[str], special_tokens: Iterable[str] = ()
) -> Counter[str]:
    """Count the distinct pre-tokenized pieces of ``texts``.

    Args:
        texts: The corpus, as one or more strings.
        split: The compiled split pattern.
        special_tokens: Strings cut out of the text before splitting (they are not counted).

    Returns:
        ``{piece: number of occurrences}``.
    """
    specials = sorted(set(special_tokens), key=len, reverse=True)
    cutter = regex.compile("|".join(regex.escape(s) for s in specials)) if specials else None
    counts: Counter[str] = Counter()
    for text in texts:
        chunks = cutter.split(text) if cutter is not None else [text]
        for chunk in chunks:
            if chunk:
                counts.update(split.findall(chunk))
    return counts


def train_merges(
    word_counts: Mapping[str, int],
    num_merges: int,
    progress: Callable[[int], None] | None = None,
) -> list[tuple[int, int]]:
    """Learn up to ``num_merges`` merges from distinct words and their counts.

    Args:
        word_counts: ``{piece: count}`` as from :func:`count_words`.
        num_merges: How many tokens to add to the 256 bytes. Fewer are added if the words run out of pairs.
        progress: Called with the number of merges done after each merge.

    Returns:
        The merges in rank order: merge ``i`` made token ``256 + i`` from ``(left_id, right_id)``.
    """
    return train_vocab(word_counts, num_merges, progress).merges


class TrainedVocab(NamedTuple):
    """What training produces: the merges, and the vocabulary and pair table built along the way."""

    merges: list[tuple[int, int]]
    token_bytes: list[bytes]
    table: PairTable


def train_vocab(
    word_counts: Mapping[str, int],
    num_merges: int,
    progress: Callable[[int], None] | None = None,
) -> TrainedVocab:
    """Like :func:`train_merges`, also returning the token bytes (by id) and the pair table.

    The pair table equals :func:`llmkb.tokenize._merge.build_pair_table` of the token bytes; returning it
    saves rebuilding it.
    """
    trainer = _Trainer(word_counts)
    merges = trainer(num_merges, progress)
    return TrainedVocab(merges, trainer.token_bytes, trainer.table)


class _Trainer:
    """State of one training run (see the module docstring)."""

    def __init__(self, word_counts: Mapping[str, int]) -> None:
        self.token_bytes: list[bytes] = [bytes([i]) for i in range(256)]
        self.ids: dict[bytes, int] = {b: i for i, b in enumerate(self.token_bytes)}
        self.table: PairTable = {}
        # Tokens by their proper prefixes / suffixes that are not tokens yet, to find the splits a new token
        # completes when it is one of those.
        self.by_prefix: defaultdict[bytes, list[int]] = defaultdict(list)
        self.by_suffix: defaultdict[bytes, list[int]] = defaultdict(list)
        self.words: list[list[int]] = []
        self.counts: list[int] = []
        self.word_of: dict[bytes, int] = {}
        for word, count in word_counts.items():
            data = word.encode("utf-8")
            if len(data) < 2 or count <= 0:
                continue  # a single byte has no pair
            self.word_of[data] = len(self.words)
            self.words.append(list(data))
            self.counts.append(count)
        self.pair_counts: dict[tuple[int, int], int] = defaultdict(int)
        self.where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
        pair_counts, where = self.pair_counts, self.where
        for w, ids in enumerate(self.words):
            count = self.counts[w]
            for pair in zip(ids, ids[1:], strict=False):
                pair_counts[pair] += count
                where[pair].add(w)
        tb = self.token_bytes
        self.heap = [(-c, tb[a], tb[b], a, b) for (a, b), c in pair_counts.items()]
        heapq.heapify(self.heap)

    def __call__(self, num_merges: int, progress: Callable[[int], None] | None) -> list[tuple[int, int]]:
        merges: list[tuple[int, int]] = []
        while len(merges) < num_merges:
            pair = self._pop_best()
            if pair is None:
                break
            self._add_token(pair)
            merges.append(pair)
            if progress is not None:
                progress(len(merges))
        return merges

    def _pop_best(self) -> tuple[int, int] | None:
        heap, pair_counts, tb = self.heap, self.pair_counts, self.token_bytes
        while heap:
            neg, _, _, a, b = heapq.heappop(heap)
            current = pair_counts.get((a, b), 0)
            if current == -neg:
                return a, b
            if 0 < current < -neg:
                heapq.heappush(heap, (-current, tb[a], tb[b], a, b))
        return None

    def _register(self, data: bytes) -> tuple[int, list[tuple[int, int]]]:
        """Add token ``data``; return its id and its splits into two existing tokens."""
        tb, ids, table = self.token_bytes, self.ids, self.table
        new = len(tb)
        tb.append(data)
        ids[data] = new
        splits: list[tuple[int, int]] = []
        for k in range(1, len(data)):
            left = ids.get(data[:k])
            right = ids.get(data[k:]) if left is not None else None
            if left is not None and right is not None:
                table[(left, right)] = new
                splits.append((left, right))
        size = len(data)
        for longer in self.by_prefix.get(data, ()):
            right = ids.get(tb[longer][size:])
            if right is not None:
                table[(new, right)] = longer
        for longer in self.by_suffix.get(data, ()):
            left = ids.get(tb[longer][:-size])
            if left is not None:
                table[(left, new)] = longer
        # A split (p, s) of this token is completed later only by creating p or s, so index the token under
        # the proper prefixes and suffixes that are not tokens yet.
        for k in range(1, len(data)):
            prefix, suffix = data[:k], data[k:]
            if prefix not in ids:
                self.by_prefix[prefix].append(new)
            if suffix not in ids:
                self.by_suffix[suffix].append(new)
        return new, splits

    def _add_token(self, pair: tuple[int, int]) -> None:
        tb = self.token_bytes
        data = tb[pair[0]] + tb[pair[1]]
        new, splits = self._register(data)
        affected: set[int] = set()
        for split in splits:
            found = self.where.pop(split, None)
            if found:
                affected |= found
        whole = self.word_of.get(data)
        if whole is not None:
            affected.add(whole)
        words, counts, table, where = self.words, self.counts, self.table, self.where
        get = table.get
        single = len(splits) == 1
        a, b = pair
        delta: dict[tuple[int, int], int] = {}
        dget = delta.get
        for w in affected:
            old = words[w]
            count = counts[w]
            if single and w != whole:
                # Common case: one occurrence of (a, b) and no cascade; update the pairs around it in place.
                if a not in old:
                    continue  # stale index entry: the word no longer holds the pair
                pairs = list(zip(old, old[1:], strict=False))
                k = pairs.count(pair)
                if not k:
                    continue
                if k == 1:
                    i = pairs.index(pair)
                    n = len(old)
                    left = old[i - 1] if i else -1
                    right = old[i + 2] if i + 2 < n else -1
                    if (left < 0 or get((left, new)) is None) and (right < 0 or get((new, right)) is None):
                        delta[pair] = dget(pair, 0) - count
                        if left >= 0:
                            p = (left, a)
                            delta[p] = dget(p, 0) - count
                            p = (left, new)
                            delta[p] = dget(p, 0) + count
                            where[p].add(w)
                        if right >= 0:
                            p = (b, right)
                            delta[p] = dget(p, 0) - count
                            p = (new, right)
                            delta[p] = dget(p, 0) + count
                            where[p].add(w)
                        old[i] = new
                        del old[i + 1]
                        continue
            # General case: a whole word, a token with several splits, or a cascade.
            updated = [new] if w == whole else merge_ids(old.copy(), table)
            if updated == old:
                continue
            for p in zip(old, old[1:], strict=False):
                delta[p] = dget(p, 0) - count
            for p in zip(updated, updated[1:], strict=False):
                delta[p] = dget(p, 0) + count
                where[p].add(w)
            words[w] = updated
        pair_counts, heap = self.pair_counts, self.heap
        for p, d in delta.items():
            if d == 0:
                continue
            c = pair_counts.get(p, 0) + d
            if c > 0:
                pair_counts[p] = c
                if d > 0:
                    heapq.heappush(heap, (-c, tb[p[0]], tb[p[1]], p[0], p[1]))
            else:
                pair_counts.pop(p, None)
