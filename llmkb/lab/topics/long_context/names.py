"""The long-context lab's names: its topic, experiments, variants, labels and the constants they share."""

from __future__ import annotations

from llmkb.lab.topic import Topic

TOPIC = Topic("long-context")
BENCHMARK = TOPIC.name("benchmark")
"""Time and measured peak memory of naive, chunked, SDPA (each backend) and sliding-window attention."""
CONTEXT = TOPIC.name("context")
"""Perplexity vs context length (0.5x to 16x the training length) for every positional variant."""
WINDOW = TOPIC.name("window")
"""Sliding window on long text: perplexity vs window size, and how far back a token can still act."""
PASSKEY = TOPIC.name("passkey")
"""Passkey retrieval vs distance: a sliding-window model against ``L (w - 1)`` and full attention."""

VARIANTS: tuple[str, ...] = ("rope", "rope-pi", "rope-ntk", "alibi", "rope-window", "learned")
"""The curves of the context experiment: RoPE as trained, with position interpolation, with the NTK-aware
base, ALiBi, RoPE run with a sliding window of the training length, and learned positions (up to their table)."""

LABELS: dict[str, str] = {
    "rope": "RoPE",
    "rope-pi": "RoPE + PI",
    "rope-ntk": "RoPE + NTK",
    "alibi": "ALiBi",
    "rope-window": "RoPE + window",
    "learned": "learned",
    "naive": "naive",
    "chunked": "chunked (ours)",
    "sdpa-math": "SDPA math",
    "sdpa-flash": "SDPA flash",
    "sdpa-efficient": "SDPA mem-efficient",
    "window": "sliding window (chunked)",
}
"""Display names."""

COLLAPSE_RATIO = 1.1
"""A variant has collapsed at the first length where its perplexity exceeds this multiple of its best."""

REFERENCE_T = (1024, 8192)
"""The lengths whose benchmark ratios the page and ``llmkb bench attention`` quote."""


def label(name: str) -> str:
    """The display name of a variant or kernel."""
    return LABELS.get(name, name)
