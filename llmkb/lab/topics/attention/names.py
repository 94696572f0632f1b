"""The attention topic's name, its experiment names and the constants its experiments share."""

from __future__ import annotations

from llmkb.lab.topic import Topic

__all__ = [
    "CAUSALITY",
    "HEADS",
    "JACOBIAN_CHARS",
    "KINDS",
    "MEMORY",
    "QUERY",
    "QUERY_POSITION",
    "REAL_HEAD_WIDTHS",
    "SCALING",
    "SENTENCE",
    "THRESHOLDS",
    "TOPIC",
]

TOPIC = Topic("attention")
HEADS = TOPIC.name("heads")
QUERY = TOPIC.name("query")
CAUSALITY = TOPIC.name("causality")
SCALING = TOPIC.name("scaling")
MEMORY = TOPIC.name("memory")

SENTENCE = "A list is a mutable sequence, so it can be changed in place."
"""The sentence whose attention the page shows (ASCII: one byte = one token of the byte-level shared model)."""

QUERY_POSITION = SENTENCE.index("changed") + len("changed") - 1
"""The query the walk-through follows: the ``d`` that ends ``changed`` (the model must now predict a space)."""

JACOBIAN_CHARS = 19
"""The full-profile Jacobian uses the first 19 bytes, ``"A list is a mutable"`` (its cost grows as ``T^2``)."""

KINDS: tuple[str, ...] = (
    "previous-token",
    "first-token",
    "self",
    "word-boundary",
    "induction",
    "local",
    "broad",
    "mixed",
)
"""Labels a head can get, in the order :func:`~llmkb.lab.topics.attention.analysis.classify_head` tries them."""

THRESHOLDS: dict[str, float] = {
    "focus": 0.4,
    "boundary": 0.5,
    "induction": 0.3,
    "local": 0.7,
    "broad": 0.75,
}
"""Default thresholds of :func:`~llmkb.lab.topics.attention.analysis.classify_head`."""

REAL_HEAD_WIDTHS: dict[int, str] = {64: "GPT-2, every size", 128: "Llama 2 and 3, Mistral 7B, GPT-3 175B"}
"""Head widths ``d = d_model / H`` of well-known models (the shared model's own width is added at run time)."""
