"""The normalization and activations lab's names: its topic, experiments, variants and reference models."""

from __future__ import annotations

from typing import Any

from llmkb.lab.topic import Topic

TOPIC = Topic("norms-and-activations")
COST = TOPIC.name("cost")
"""Parameter counts of the modern and GPT-2 blocks; LayerNorm vs RMSNorm time."""
GRID = TOPIC.name("grid")
"""{LayerNorm, RMSNorm} x {GELU, SwiGLU} x {pre, post}, several seeds, with training dynamics."""
STABILITY = TOPIC.name("stability")
"""Learning-rate sweeps of pre- and post-norm blocks, with and without warm-up: divergence learning rates."""
DEPTH = TOPIC.name("depth")
"""Per-layer activations of deeper models at init and after training."""

NORM_LABELS: dict[str, str] = {"layernorm": "LayerNorm", "rmsnorm": "RMSNorm", "none": "no norm"}
ACT_LABELS: dict[str, str] = {
    "gelu": "GELU",
    "gelu-exact": "GELU (erf)",
    "gelu-tanh": "GELU",
    "relu": "ReLU",
    "silu": "SiLU",
    "swiglu": "SwiGLU",
    "geglu": "GeGLU",
}

BASE: dict[str, Any] = {"vocab_size": 256, "positional": "rope", "bias": False, "tie_embeddings": True}
"""What every model of the lab shares: byte vocabulary, RoPE, no biases (so the norms differ only in
centering), tied embeddings — the shared model's choices except the two under study."""

GPT2_STYLE: dict[str, Any] = {"norm": "layernorm", "activation": "gelu"}
LLAMA_STYLE: dict[str, Any] = {"norm": "rmsnorm", "activation": "swiglu"}

REAL_BLOCKS: dict[str, dict[str, Any]] = {
    "GPT-2 small": {"d_model": 768, "n_heads": 12, "d_ff": 3072, "norm": "layernorm", "activation": "gelu",
                    "bias": True, "positional": "learned"},
    "Llama 2 7B": {"d_model": 4096, "n_heads": 32, "d_ff": 11008, "norm": "rmsnorm", "activation": "swiglu",
                   "bias": False, "positional": "rope"},
}  # fmt: skip
"""Block shapes of two released models (Radford et al. 2019; Touvron et al. 2023, arXiv 2307.09288)."""
