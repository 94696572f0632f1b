"""The byte-pair merge loop shared by the encoder and the trainer (tiktoken's rank semantics).

A piece of text is a list of token ids (initially its UTF-8 bytes). Two adjacent tokens ``a, b`` can be
merged when the concatenation of their bytes is itself a token; its id is its *rank*. The loop merges the
adjacent pair of lowest rank, the leftmost one on a tie, until no adjacent pair can be merged. This is
exactly what tiktoken does, and what a Hugging Face BPE model does when its merge list holds every split
of every token in rank order.

``table`` maps ``(a, b)`` to the id of ``bytes(a) + bytes(b)`` for every such pair: see
:func:`build_pair_table`.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

__all__ = ["NO_MERGE", "PairTable", "build_pair_table", "merge_ids"]

PairTable = dict[tuple[int, int], int]

#: Rank of a pair that cannot be merged (larger than any id).
NO_MERGE: int = 1 << 62

# Pieces longer than this use the O(n log n) heap loop instead of the O(n^2) scan.
_HEAP_THRESHOLD = 48


def build_pair_table(token_bytes: Sequence[bytes]) -> PairTable:
    """Map every pair of tokens whose concatenation is a token to that token's id.

    Args:
        token_bytes: The byte string of every mergeable token, indexed by id (= rank); unique.

    Returns:
        ``{(left_id, right_id): merged_id}`` over all two-token splits of all tokens.
    """
    ids = {b: i for i, b in enumerate(token_bytes)}
    table: PairTable = {}
    for merged, data in enumerate(token_bytes):
        for k in range(1, len(data)):
            left = ids.get(data[:k])
            if left is None:
                continue
            right = ids.get(data[k:])
            if right is not None:
                table[(left, right)] = merged
    return table


def merge_ids(parts: list[int], table: PairTable) -> list[int]:
    """Apply the lowest-rank-first merge loop to ``parts`` (modified in place) and return it.

    Args:
        parts: Token ids of one piece, in order. Starting from a partially merged list is the same as
            starting from the bytes, as long as that list is a fixed point of a smaller vocabulary whose
            ranks are all lower than the ones added since (how the trainer uses it).
        table: The pair table of the vocabulary.

    Returns:
        ``parts``, merged.
    """
    n = len(parts)
    if n < 2:
        return parts
    if n > _HEAP_THRESHOLD:
        return _merge_ids_heap(parts, table)
    get = table.get
    ranks = [get((parts[i], parts[i + 1]), NO_MERGE) for i in range(n - 1)]
    while ranks:
        best = min(ranks)
        if best == NO_MERGE:
            break
        i = ranks.index(best)
        parts[i] = best
        del parts[i + 1]
        del ranks[i]
        if i > 0:
            ranks[i - 1] = get((parts[i - 1], best), NO_MERGE)
        if i < len(ranks):
            ranks[i] = get((best, parts[i + 1]), NO_MERGE)
    return parts


def _merge_ids_heap(parts: list[int], table: PairTable) -> list[int]:
    """The same loop for long pieces: a doubly linked list plus a heap of ``(rank, position)``.

    Positions are the original indices of the left token, so the heap's tie-break (smaller position) is the
    leftmost-first rule. Entries go stale when a neighbour changes; a popped entry is used only if the pair
    now at that position still has that rank.
    """
    n = len(parts)
    get = table.get
    ids: list[int] = list(parts)
    nxt = list(range(1, n + 1))
    prv = list(range(-1, n - 1))
    alive = [True] * n
    heap = [(r, i) for i in range(n - 1) if (r := get((ids[i], ids[i + 1]), NO_MERGE)) != NO_MERGE]
    heapq.heapify(heap)
    while heap:
        rank, i = heapq.heappop(heap)
        j = nxt[i]
        if not alive[i] or j >= n or get((ids[i], ids[j])) != rank:
            continue
        ids[i] = rank
        alive[j] = False
        k = nxt[j]
        nxt[i] = k
        if k < n:
            prv[k] = i
            r = get((rank, ids[k]), NO_MERGE)
            if r != NO_MERGE:
                heapq.heappush(heap, (r, i))
        h = prv[i]
        if h >= 0:
            r = get((ids[h], rank), NO_MERGE)
            if r != NO_MERGE:
                heapq.heappush(heap, (r, h))
    parts[:] = [ids[i] for i in range(n) if alive[i]]
    return parts
