"""The mixture-of-experts lab's names: its topic, experiments and the shapes of the models it trains."""

from __future__ import annotations

from typing import Any

from llmkb.lab.topic import Topic

TOPIC = Topic("mixture-of-experts")
TRAIN = TOPIC.name("train")
"""Dense vs MoE with 2, 4, 8 experts at equal active and at equal total parameters, several seeds."""
ROUTING = TOPIC.name("routing")
"""Which expert each dataset and each kind of byte is routed to, with and without the balancing loss."""
FLOPS = TOPIC.name("flops")
"""Counted FLOPs and wall time per token: dense FFN, sparse top-1/top-2, dense simulation, 2 … 64 experts."""

LLAMA: dict[str, Any] = {"positional": "rope", "norm": "rmsnorm", "bias": False}
"""The shared model's architecture (Llama-style); the feed-forward network is what this lab varies."""

SWITCH: dict[str, Any] = {"top_k": 1, "routing": "switch", "capacity_factor": None, "expert": "swiglu"}
"""The MoE settings of the trained models: top-1 Switch routing, no capacity limit (dropless), so that their
losses compare experts rather than drops; what a capacity factor would drop is measured by ``routing``."""

CAPACITY_FACTOR = 1.25
"""Switch's capacity factor, applied after the fact to the trained models' routing (``routing``)."""

PROBE_EXPERTS = 8
"""The expert count whose trained models the routing experiment reads (with and without balancing)."""

TOKEN_KINDS: tuple[str, ...] = ("letter", "digit", "whitespace", "punctuation", "keyword", "other")
"""Kinds of input byte in the token-kind heatmap; ``keyword``: a byte inside a Python keyword."""

DATASETS: tuple[str, ...] = ("English prose", "Python code", "copy/sort tasks")
"""The texts routed through the trained models (pydoc held-out text, stdlib sources, synthetic tasks)."""

MIXTRAL_8X7B: dict[str, Any] = {
    **LLAMA,
    "vocab_size": 32000,
    "d_model": 4096,
    "n_layers": 32,
    "n_heads": 32,
    "n_kv_heads": 8,
    "d_ff": 14336,
    "max_seq_len": 32768,
    "tie_embeddings": False,
    "activation": "moe",
    "moe": {"n_experts": 8, "top_k": 2, "routing": "mixtral", "expert": "swiglu"},
}
"""Mixtral 8x7B's published shape (Jiang et al. 2024, arXiv 2401.04088; its Hugging Face ``config.json``): the
page's total and active parameter counts are computed from it, not typed."""
