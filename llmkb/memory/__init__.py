"""Memory for a context-limited model, MemGPT-style: a main context with a token budget, stores outside it, and
what moves between them.

Not to be confused with :mod:`llmkb.lab.kit.memory`, which computes *bytes* of KV caches and weights; this
package is about *what text* a model gets to read when its window is too small for the whole conversation.

* :mod:`llmkb.memory.bm25`: Okapi BM25 ranking (Robertson & Zaragoza 2009), the retriever of both stores;
* :mod:`llmkb.memory.embed`: MiniLM sentence embeddings for dense retrieval (the ``memory`` extra);
* :mod:`llmkb.memory.stores`: the recall store (every message, searchable) and the archival store (passages);
* :mod:`llmkb.memory.reader`: the deterministic reader that answers a question from the text in context, and the
  fact extractor built on the same patterns;
* :mod:`llmkb.memory.facts`: Mem0-style extract-update of salient facts (ADD / UPDATE / DELETE / NOOP);
* :mod:`llmkb.memory.manager`: the main context under a token budget and its policies (none, truncation,
  summary, recall search, archival retrieval, facts).
"""

from llmkb.memory.bm25 import BM25, terms
from llmkb.memory.facts import Fact, FactStore, Op
from llmkb.memory.manager import POLICIES, Context, MemoryManager
from llmkb.memory.reader import answer, extract
from llmkb.memory.stores import ArchivalStore, RecallStore

__all__ = [
    "BM25",
    "POLICIES",
    "ArchivalStore",
    "Context",
    "Fact",
    "FactStore",
    "MemoryManager",
    "Op",
    "RecallStore",
    "answer",
    "extract",
    "terms",
]
