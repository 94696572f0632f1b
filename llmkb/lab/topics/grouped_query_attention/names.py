"""The grouped-query attention lab's names: its topic, experiments, model shapes and the published models."""

from __future__ import annotations

from typing import Any

from llmkb.lab.topic import Topic

TOPIC = Topic("grouped-query-attention")
BENCH = TOPIC.name("bench")
"""KV-cache bytes (formula vs allocated), decode tokens/s over the context and prefill time, MHA -> MQA."""
QUALITY = TOPIC.name("quality")
"""Held-out loss of the same model trained with every number of key/value heads, several seeds."""
UPTRAIN = TOPIC.name("uptrain")
"""Trained MHA models converted to GQA (mean-pool vs pick-first), then uptrained, vs GQA from scratch."""

LLAMA: dict[str, Any] = {
    "positional": "rope",
    "norm": "rmsnorm",
    "activation": "swiglu",
    "bias": False,
}
"""The shared model's architecture (Llama-style), used by every model this lab trains or times."""

REAL_MODELS: dict[str, dict[str, Any]] = {
    "Llama 2 7B": {
        **LLAMA,
        "vocab_size": 32000,
        "d_model": 4096,
        "n_layers": 32,
        "n_heads": 32,
        "d_ff": 11008,
        "max_seq_len": 4096,
        "tie_embeddings": False,
    },
    "Llama 2 70B": {
        **LLAMA,
        "vocab_size": 32000,
        "d_model": 8192,
        "n_layers": 80,
        "n_heads": 64,
        "n_kv_heads": 8,
        "d_ff": 28672,
        "max_seq_len": 4096,
        "tie_embeddings": False,
    },
}
"""``GPTConfig`` fields of the released Llama 2 models (Touvron et al. 2023, arXiv 2307.09288): 7B has
multi-head attention, 70B grouped-query attention with 8 key/value heads; ``tests/test_lab_grouped_query_attention.py``
checks their parameter counts against Hugging Face ``transformers``."""

HBM_BYTES_PER_S = 3.35e12
"""Memory bandwidth of one NVIDIA H100 SXM (3.35 TB/s, NVIDIA's data sheet), for the bandwidth bound."""
REAL_BATCH = 16
"""Sequences decoded together in the bandwidth table."""
MEMORY_BOUND_SHARE = 0.5
"""A timed decode point is memory-bound when reading its KV cache explains at least this share of its time."""
