"""The memory lab's names: its topic, experiments, the policies' display names and shared constants."""

from __future__ import annotations

from llmkb.lab.topic import Topic

TOPIC = Topic("memory")
BUDGET = TOPIC.name("budget")
"""Accuracy and tokens per answer of every memory policy at a ladder of context budgets, over seeds."""
RETRIEVAL = TOPIC.name("retrieval")
"""BM25 over messages and over sentences: recall@k of the latest statement, stale answers from the top k."""

POLICY_NAMES: dict[str, str] = {
    "none": "no memory",
    "truncation": "truncation",
    "summary": "extractive summary",
    "recall": "recall search",
    "archival": "archival retrieval",
    "archival-minilm": "archival retrieval (MiniLM)",
    "facts": "fact memory (Mem0)",
}
"""Display name of each policy of :data:`llmkb.memory.POLICIES`, and of archival retrieval ranked by MiniLM
embeddings instead of BM25 (the full profile only)."""

STORE_NAMES: dict[str, str] = {
    "recall": "BM25, messages",
    "archival": "BM25, sentences",
    "dense": "MiniLM, sentences",
}
"""Display name of each retriever: BM25 over the recall store's messages or the archival store's sentences, and
MiniLM embeddings over the same sentences."""

CHANGE_GROUPS: dict[str, tuple[int, ...]] = {
    "never changed": (0,),
    "changed once": (1,),
    "changed 2–3 times": (2, 3),
}
"""Questions grouped by how often their fact changed after it was first stated."""

TOKENIZER_SEED = 10_000
"""Conversation seeds from here up train the token counter's BPE; the benchmark's seeds stay below."""
