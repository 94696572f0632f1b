"""``llmkb.nn``: one configurable decoder-only transformer, built from small single-purpose modules.

Public entry points: [`GPTConfig`][llmkb.nn.GPTConfig] (+ [`PRESETS`][llmkb.nn.PRESETS]),
[`GPT`][llmkb.nn.GPT] (returning a [`ModelOutput`][llmkb.nn.ModelOutput]), [`count_parameters`][llmkb.nn.count_parameters], and the KV caches
[`KVCache`][llmkb.nn.KVCache] / [`ConcatKVCache`][llmkb.nn.ConcatKVCache]. Building blocks live in
``attention``, ``positional``, ``norm``, ``ffn``, ``block`` and ``kv_cache``.
"""

from __future__ import annotations

from llmkb.nn.attention import (
    MultiHeadAttention,
    causal_mask,
    combine_masks,
    padding_mask,
    position_mask,
    repeat_kv,
    scaled_dot_product,
)
from llmkb.nn.block import TransformerBlock
from llmkb.nn.config import PRESETS, SURGERIES, GPTConfig
from llmkb.nn.ffn import GELU, FeedForward, SwiGLU
from llmkb.nn.kv_cache import BaseKVCache, ConcatKVCache, KVCache
from llmkb.nn.model import GPT, ModelOutput, count_parameters
from llmkb.nn.norm import LayerNorm, RMSNorm
from llmkb.nn.positional import (
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    alibi_bias,
    alibi_slopes,
    apply_rotary,
)

__all__ = [
    "GPTConfig",
    "PRESETS",
    "SURGERIES",
    "GPT",
    "ModelOutput",
    "count_parameters",
    "KVCache",
    "ConcatKVCache",
    "BaseKVCache",
    "TransformerBlock",
    "MultiHeadAttention",
    "scaled_dot_product",
    "causal_mask",
    "position_mask",
    "padding_mask",
    "combine_masks",
    "repeat_kv",
    "LayerNorm",
    "RMSNorm",
    "GELU",
    "FeedForward",
    "SwiGLU",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEmbedding",
    "RotaryEmbedding",
    "apply_rotary",
    "alibi_slopes",
    "alibi_bias",
]
