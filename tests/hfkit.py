"""Hugging Face counterparts of our configs, for the tests that compare against transformers."""

from __future__ import annotations

from typing import Any

from llmkb.nn import GPTConfig


def llama_config(cfg: GPTConfig, **extra: Any) -> Any:
    """``transformers.LlamaConfig`` with the shape of a Llama-style ``GPTConfig`` (vocabulary, widths, layers,
    query and key/value heads, context); ``extra`` sets any other field (tying, eps, θ, attention backend)."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.d_model,
        intermediate_size=cfg.ffn_dim,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.kv_heads,
        max_position_embeddings=cfg.max_seq_len,
        **extra,
    )
