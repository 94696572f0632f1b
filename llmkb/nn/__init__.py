"""``llmkb.nn``: one configurable decoder-only transformer, built from small single-purpose modules.

Public entry points: [`GPTConfig`][llmkb.nn.GPTConfig] (+ [`PRESETS`][llmkb.nn.PRESETS]),
[`GPT`][llmkb.nn.GPT] (returning a [`ModelOutput`][llmkb.nn.ModelOutput]),
[`count_parameters`][llmkb.nn.count_parameters], and the KV caches [`KVCache`][llmkb.nn.KVCache] /
[`ConcatKVCache`][llmkb.nn.ConcatKVCache]. Building blocks live in ``attention``, ``positional``, ``norm``,
``ffn``, ``moe``, ``block``, ``kv_cache`` and ``hooks``.

Variants: every named choice of ``GPTConfig`` is a key of a registry — [`POSITIONAL`][llmkb.nn.POSITIONAL],
[`NORMS`][llmkb.nn.NORMS], [`FFNS`][llmkb.nn.FFNS], [`KERNELS`][llmkb.nn.KERNELS] — so a new variant is one
class (or kernel function) plus one entry, e.g. ``NORMS["scalenorm"] = ScaleNorm``.

Ablations: hooks, installed for a ``with`` block by [`GPT.hooks`][llmkb.nn.GPT.hooks] and never saved, e.g.
``with model.hooks(**surgery("swap_qk")): ...`` or ``with model.hooks(positional=False): ...``
(see [`llmkb.nn.hooks`][llmkb.nn.hooks]).
"""

from __future__ import annotations

from llmkb.nn.attention import (
    KERNELS,
    MultiHeadAttention,
    causal_mask,
    combine_masks,
    padding_mask,
    position_mask,
    repeat_kv,
    scaled_dot_product,
)
from llmkb.nn.attention_chunked import chunked_attention
from llmkb.nn.block import TransformerBlock
from llmkb.nn.config import PRESETS, GPTConfig
from llmkb.nn.ffn import FFNS, GELU, FeedForward, ReLUFeedForward, SwiGLU
from llmkb.nn.hooks import SURGERIES, Hooks, freeze_qk, no_residual, surgery
from llmkb.nn.kv_cache import BaseKVCache, ConcatKVCache, KVCache
from llmkb.nn.model import GPT, ModelOutput, count_parameters
from llmkb.nn.moe import MoE, MoEConfig, RouterStats
from llmkb.nn.norm import NORMS, LayerNorm, RMSNorm
from llmkb.nn.positional import (
    POSITIONAL,
    ALiBi,
    LearnedPositionalEmbedding,
    NoPosition,
    PositionalScheme,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    alibi_bias,
    alibi_slopes,
    apply_rotary,
)
from llmkb.nn.rolling_cache import RollingKVCache

__all__ = [
    "GPTConfig",
    "PRESETS",
    "POSITIONAL",
    "NORMS",
    "FFNS",
    "KERNELS",
    "GPT",
    "ModelOutput",
    "count_parameters",
    "Hooks",
    "SURGERIES",
    "surgery",
    "no_residual",
    "freeze_qk",
    "KVCache",
    "ConcatKVCache",
    "RollingKVCache",
    "BaseKVCache",
    "TransformerBlock",
    "MultiHeadAttention",
    "scaled_dot_product",
    "chunked_attention",
    "causal_mask",
    "position_mask",
    "padding_mask",
    "combine_masks",
    "repeat_kv",
    "LayerNorm",
    "RMSNorm",
    "GELU",
    "FeedForward",
    "ReLUFeedForward",
    "SwiGLU",
    "MoE",
    "MoEConfig",
    "RouterStats",
    "PositionalScheme",
    "NoPosition",
    "ALiBi",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEmbedding",
    "RotaryEmbedding",
    "apply_rotary",
    "alibi_slopes",
    "alibi_bias",
]
