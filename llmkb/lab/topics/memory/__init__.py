"""Memory lab: which text a context-limited reader gets to see, and whether it answers from the latest fact.

* ``memory/budget`` feeds generated long conversations (facts stated, updated, corrected, restated among
  chit-chat) to the memory manager under each policy — none, truncation, summary, recall search, archival
  retrieval, Mem0-style facts — at a ladder of context budgets, and scores the deterministic reader's answers to
  the closing questions exactly: accuracy by budget (mean ± sd over conversation seeds), tokens read per
  answer, stale answers, accuracy by how often a fact changed.
* ``memory/retrieval`` ranks the whole history for each question with BM25 (checked against ``rank_bm25``), over
  messages (the recall store) and over sentences (the archival store), and with MiniLM embeddings over the
  sentences (full profile): recall@k of the latest statement, and how often the top k, read in conversation
  order, gives a stale value.
"""

from . import experiments, figures  # noqa: F401
