"""The two stores outside the main context, after MemGPT (Packer et al. 2023, arXiv:2310.08560).

* **Recall store**: every message of the conversation, in order — the full history the main context can no
  longer hold, searchable by text (BM25 over whole messages).
* **Archival store**: passages written for later retrieval — here each sentence of each user message, tagged
  with the message it came from — searchable by BM25 or, given a sentence encoder, by embedding similarity. Smaller units than messages, so a search returns the
  sentence that matters without the chit-chat around it.

Both answer ``search(query, before)``: the indices of their items that come before message ``before`` (the
ones evicted from the context), ranked by BM25 score, best first, zero scores dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from llmkb.data.conversations import sentences
from llmkb.memory.bm25 import BM25, terms
from llmkb.memory.embed import dense_top

__all__ = ["ArchivalStore", "Embed", "Item", "RecallStore"]


@dataclass(frozen=True)
class Item:
    """A stored text: the index of the message it belongs to, and the text as the context would show it."""

    message: int
    text: str


Embed = Callable[[Sequence[str]], np.ndarray]
"""A text encoder: texts in, unit-length vectors out, shape ``(N, D)`` (e.g. :meth:`llmkb.memory.embed.MiniLM.encode`)."""


def _rank(items: list[Item], query: str, before: int, embed: Embed | None = None) -> list[int]:
    pool = [i for i, it in enumerate(items) if it.message < before]
    if not pool:
        return []
    if embed is not None:
        vecs = embed([items[i].text for i in pool])  # (P, D)
        return [pool[j] for j in dense_top(embed([query])[0], vecs, len(pool))]
    index = BM25([terms(items[i].text) for i in pool])
    return [pool[j] for j in index.top(terms(query), len(pool))]


class RecallStore:
    """Every message, in order (``role: text``)."""

    def __init__(self) -> None:
        self.items: list[Item] = []

    def add(self, role: str, text: str) -> None:
        """Append the next message."""
        self.items.append(Item(len(self.items), f"{role}: {text}"))

    def search(self, query: str, before: int) -> list[int]:
        """Items of messages ``< before``, best BM25 match to ``query`` first."""
        return _rank(self.items, query, before)


class ArchivalStore:
    """Sentences of user messages, each a passage tagged with its message index."""

    def __init__(self) -> None:
        self.items: list[Item] = []

    def insert(self, message: int, text: str) -> None:
        """Write each sentence of ``text`` as a passage of message ``message``."""
        self.items += [Item(message, s[:1].upper() + s[1:] + ".") for s in sentences(text)]

    def search(self, query: str, before: int, embed: Embed | None = None) -> list[int]:
        """Passages of messages ``< before``, best BM25 match to ``query`` first — or, given ``embed``, every
        such passage by cosine similarity to ``query``, most similar first."""
        return _rank(self.items, query, before, embed)
