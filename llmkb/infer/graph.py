"""The forward pass as a graph of tensor operations only: positions are tensors, never Python integers.

[`GPT.forward`][llmkb.nn.GPT] keeps the decoding position in a Python ``int`` (``kv_cache.length``) and picks
masks and kernels with ``if``s. That is right for eager PyTorch and wrong for a *graph*: an exporter that traces
the model (ONNX) or a compiler that specialises on it (``torch.compile``) would bake the position in as a
constant, and the graph would be valid for one step only. Here the same computation is written with the
positions as an input tensor, so one graph serves every step:

    x      = E[ids] (+ P[positions])
    q, k   = rotate(q, positions), rotate(k, positions)                 RoPE from the cos/sin tables
    scores = q k^T / sqrt(D) + bias(positions, key_positions),  masked where key_pos > query_pos
    logits = Norm_f(x_L) W_U

Two cache layouts use it: [`graph_forward`][llmkb.infer.graph.graph_forward] takes the past keys/values as
inputs and returns them extended (``present = concat(past, new)``, the layout of ONNX decoders and of
Hugging Face's ``past_key_values``), and [`llmkb.infer.compiled`][llmkb.infer.compiled] writes into a
pre-allocated static cache. Same weights, same math as ``GPT.forward`` (tests compare them); hooks and
mixture-of-experts layers are not supported (refused by [`check_graphable`][llmkb.infer.graph.check_graphable]).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from llmkb.nn import GPT
from llmkb.nn.block import TransformerBlock
from llmkb.nn.norm import LayerNorm, RMSNorm
from llmkb.nn.positional import ALiBi, LearnedPositionalEmbedding, RotaryEmbedding, apply_rotary

CacheView = tuple[Tensor, Tensor, Tensor, Tensor, "Tensor | None"]
"""``(k_all, v_all, key_positions (S,), query_positions (T,), valid (S,) | None)``: what one layer attends to."""
CacheFn = Callable[[Tensor, Tensor], CacheView]
"""Stores a layer's new ``(k, v)`` ``(B, H_kv, T, D)`` and returns its [`CacheView`][llmkb.infer.graph.CacheView]."""

__all__ = [
    "CacheView",
    "CacheFn",
    "check_graphable",
    "embed",
    "rope_tables",
    "attend",
    "block_step",
    "graph_forward",
]


def check_graphable(model: GPT) -> None:
    """Raise ``ValueError`` (one line) if the model has a part the graph forward does not express."""
    cfg = model.config
    if cfg.activation == "moe":
        raise ValueError("mixture-of-experts routing is data-dependent; export a dense model")
    if cfg.positional in ("rope", "rope-pi", "rope-ntk") and cfg.max_seq_len < 1:
        raise ValueError("rope tables are empty")


def norm(model: GPT, module: nn.Module, x: Tensor) -> Tensor:
    """Apply a norm module with its width taken from the config (a constant), as tracers need.

    ``LayerNorm``: ``F.layer_norm``; ``RMSNorm``: ``x rsqrt(mean(x^2) + eps) gamma`` spelled out (opset 17 has
    no RMSNormalization); anything else (``none``) is called as is.
    """
    d = model.config.d_model
    if isinstance(module, LayerNorm):
        return F.layer_norm(x, (d,), module.weight, module.bias, module.eps)
    if isinstance(module, RMSNorm):
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + module.eps) * module.weight
    return module(x)


def embed(model: GPT, ids: Tensor, positions: Tensor) -> Tensor:
    """Token (and absolute position) embedding of ``ids`` ``(B, T)`` at ``positions`` ``(T,)``: ``(B, T, d)``."""
    x = model.tok_emb(ids)  # (B, T, d)
    pe = model.pos_emb
    if pe.token_scale != 1.0:
        x = x * pe.token_scale
    if isinstance(pe, LearnedPositionalEmbedding):
        x = x + pe.weight[positions].to(x.dtype)  # (T, d) broadcast over B
    elif hasattr(pe, "table"):  # sinusoidal
        x = x + pe.table[positions].to(x.dtype)
    return x


def rope_tables(model: GPT, positions: Tensor) -> tuple[Tensor, Tensor] | None:
    """``(cos, sin)`` rows ``(T, D)`` for ``positions`` (< ``max_seq_len``) from the precomputed tables, or ``None``."""
    pe = model.pos_emb
    if not isinstance(pe, RotaryEmbedding):
        return None
    return pe.cos_table[positions], pe.sin_table[positions]


def attend(
    model: GPT, q: Tensor, k: Tensor, v: Tensor, q_pos: Tensor, k_pos: Tensor, valid: Tensor | None
) -> Tensor:
    """``softmax(q k^T / sqrt(D) + bias + mask) v`` for queries at ``q_pos`` ``(T,)``, keys at ``k_pos`` ``(S,)``.

    Args:
        model: supplies the head counts, the sliding window and the positional score bias (ALiBi).
        q: queries ``(B, H, T, D)``.
        k: keys ``(B, H_kv, S, D)`` (grouped-query heads are repeated here).
        v: values ``(B, H_kv, S, D)``.
        q_pos: absolute positions of the queries, ``int64``.
        k_pos: absolute positions of the keys, ``int64``.
        valid: optional bool ``(S,)``, False for cache slots not written yet.

    Returns:
        ``(B, H, T, D)``.
    """
    cfg = model.config
    group = cfg.n_heads // cfg.kv_heads
    if group > 1:
        k = k.repeat_interleave(group, dim=1)  # (B, H, S, D)
        v = v.repeat_interleave(group, dim=1)
    allowed = k_pos[None, :] <= q_pos[:, None]  # (T, S) causal
    if cfg.sliding_window is not None:
        allowed = allowed & (q_pos[:, None] - k_pos[None, :] < cfg.sliding_window)
    if valid is not None:
        allowed = allowed & valid[None, :]
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))  # (B, H, T, S)
    if isinstance(model.pos_emb, ALiBi):
        scores = scores + model.pos_emb.score_bias(q_pos, k_pos).to(scores.dtype)  # (H, T, S)
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v  # (B, H, T, D)


def block_step(
    model: GPT, block: TransformerBlock, x: Tensor, rope: tuple[Tensor, Tensor] | None, cache_kv: CacheFn
) -> tuple[Tensor, Tensor, Tensor]:
    """Project one block's new keys/values; ``cache_kv(k, v) -> (k_all, v_all, k_pos, q_pos, valid)`` stores
    them and returns what attention reads. Returns ``(x_out (B, T, d), k_all, v_all)``."""
    attn = block.attn
    B, T, _ = x.shape
    h = norm(model, block.norm1, x) if block.pre else x
    q = attn.q_proj(h).view(B, T, attn.n_heads, attn.head_dim).transpose(1, 2)  # (B, H, T, D)
    k = attn.k_proj(h).view(B, T, attn.n_kv_heads, attn.head_dim).transpose(1, 2)  # (B, H_kv, T, D)
    v = attn.v_proj(h).view(B, T, attn.n_kv_heads, attn.head_dim).transpose(1, 2)
    if rope is not None:
        cos, sin = rope[0].to(q.dtype), rope[1].to(q.dtype)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
    k_all, v_all, k_pos, q_pos, valid = cache_kv(k, v)
    y = attend(model, q, k_all, v_all, q_pos, k_pos, valid)  # (B, H, T, D)
    y = attn.o_proj(y.transpose(1, 2).reshape(B, T, attn.n_heads * attn.head_dim))  # (B, T, d)
    if block.pre:
        x = x + y
        x = x + block.ffn(norm(model, block.norm2, x))
    else:
        x = norm(model, block.norm1, x + y)
        x = norm(model, block.norm2, x + block.ffn(x))
    return x, k_all, v_all


def graph_forward(
    model: GPT, ids: Tensor, positions: Tensor, past: list[tuple[Tensor, Tensor]]
) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
    """Logits of ``ids`` ``(B, T)`` at ``positions`` ``(T,)`` after the cached ``past``; the extended cache.

    Args:
        model: the model (eval mode).
        ids: token ids ``(B, T)``.
        positions: their absolute positions, ``past_len .. past_len + T - 1``.
        past: per layer ``(k, v)``, each ``(B, H_kv, P, D)``, ``P >= 0`` (keys already rotated).

    Returns:
        ``(logits (B, T, V), present)`` with ``present[l] = (concat(past_k, k), concat(past_v, v))``.
    """
    x = embed(model, ids, positions)
    rope = rope_tables(model, positions)
    present: list[tuple[Tensor, Tensor]] = []
    for block, (pk, pv) in zip(model.blocks, past, strict=True):

        def concat(k: Tensor, v: Tensor, pk: Tensor = pk, pv: Tensor = pv) -> CacheView:
            k_all, v_all = torch.cat((pk, k), dim=2), torch.cat((pv, v), dim=2)  # (B, H_kv, P+T, D)
            k_pos = torch.arange(k_all.shape[2], device=k.device)  # (P+T,)
            return k_all, v_all, k_pos, positions, None

        x, k_all, v_all = block_step(model, block, x, rope, concat)
        present.append((k_all, v_all))
    return model.lm_head(norm(model, model.norm_f, x)), present
