"""A llama.cpp-semantics forward pass in numpy that reads nothing but a GGUF file.

It is the proof of an export's layout: it knows llmkb nothing, only what llama.cpp's llama architecture does
with the file —

* hyper-parameters from the ``llama.*`` metadata keys;
* tensors by their GGUF names, dequantized with ``gguf.quants.dequantize``; a tensor with ``ne = [in, out]``
  is the row-major ``(out, in)`` matrix ``W`` and a layer computes ``x W^T`` (ggml's ``mul_mat``);
* RMSNorm ``x / sqrt(mean(x^2) + eps) * g`` with ``llama.attention.layer_norm_rms_epsilon``;
* RoPE of type NORM: channels ``(2i, 2i+1)`` of a head rotate by ``p * base^(-2i/D)``;
* causal attention with ``softmax(q k^T / sqrt(D))``, grouped KV heads (query head ``h`` reads KV head
  ``h // (H / H_kv)``), SwiGLU ``W_down (silu(W_gate x) * W_up x)``, residuals, ``output_norm``, and the output
  matrix ``output`` — or ``token_embd`` when the file has none (tied embeddings).

Computed in float64, so any disagreement with llmkb's float32 model is the layout's, not rounding's.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["read_gguf", "gguf_forward"]


def read_gguf(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(metadata {key: value}, tensors {name: float64 array in row-major (out, in) order})`` of a GGUF file."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(path)
    meta = {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}
    tensors = {}
    for t in reader.tensors:
        shape = tuple(int(n) for n in reversed(t.shape))  # ggml ne = [in, out] -> (out, in)
        tensors[t.name] = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float64).reshape(shape)
    return meta, tensors


def _rms_norm(x: np.ndarray, g: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def _rope_norm(x: np.ndarray, base: float, n_rot: int) -> np.ndarray:
    """llama.cpp's NORM RoPE on ``x`` ``(T, heads, D)``: rotate adjacent pairs ``(2i, 2i+1)`` of the first n_rot."""
    T = x.shape[0]
    i = np.arange(n_rot // 2)
    theta = np.arange(T)[:, None] * base ** (-2.0 * i / n_rot)  # (T, n_rot/2)
    cos, sin = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]  # (T, 1, n_rot/2)
    out = x.copy()
    x0, x1 = x[..., 0:n_rot:2], x[..., 1:n_rot:2]  # (T, heads, n_rot/2)
    out[..., 0:n_rot:2] = x0 * cos - x1 * sin
    out[..., 1:n_rot:2] = x0 * sin + x1 * cos
    return out


def gguf_forward(path: str | os.PathLike[str], tokens: list[int] | np.ndarray) -> np.ndarray:
    """Next-token logits ``(T, V)`` for one sequence of token ids, computed from the GGUF file alone."""
    meta, w = read_gguf(path)
    arch = meta["general.architecture"]
    if arch != "llama":
        raise ValueError(f"expected a llama-architecture GGUF, got {arch!r}")
    L = int(meta["llama.block_count"])
    H = int(meta["llama.attention.head_count"])
    G = int(meta.get("llama.attention.head_count_kv", H))
    eps = float(meta["llama.attention.layer_norm_rms_epsilon"])
    base = float(meta.get("llama.rope.freq_base", 10000.0))
    d = int(meta["llama.embedding_length"])
    D = d // H
    n_rot = int(meta.get("llama.rope.dimension_count", D))
    ids = np.asarray(tokens, dtype=np.int64)
    T = len(ids)
    x = w["token_embd.weight"][ids]  # (T, d)
    causal = np.tril(np.ones((T, T), dtype=bool))
    for layer in range(L):
        p = f"blk.{layer}."
        h = _rms_norm(x, w[p + "attn_norm.weight"], eps)
        q = _rope_norm((h @ w[p + "attn_q.weight"].T).reshape(T, H, D), base, n_rot)  # (T, H, D)
        k = _rope_norm((h @ w[p + "attn_k.weight"].T).reshape(T, G, D), base, n_rot)  # (T, G, D)
        v = (h @ w[p + "attn_v.weight"].T).reshape(T, G, D)  # (T, G, D)
        kv = np.arange(H) // (H // G)  # KV head of each query head
        scores = np.einsum("thd,shd->hts", q, k[:, kv]) / np.sqrt(D)  # (H, T, T)
        scores = np.where(causal, scores, -np.inf)
        att = np.exp(scores - scores.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        y = np.einsum("hts,shd->thd", att, v[:, kv]).reshape(T, H * D)  # (T, H*D)
        x = x + y @ w[p + "attn_output.weight"].T
        h = _rms_norm(x, w[p + "ffn_norm.weight"], eps)
        gate = h @ w[p + "ffn_gate.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * (h @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
    x = _rms_norm(x, w["output_norm.weight"], eps)
    out = w.get("output.weight", w["token_embd.weight"])
    return x @ out.T  # (T, V)


def unpermute_rope_rows(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Inverse of [`permute_rope_rows`][llmkb.export.gguf.permute_rope_rows]: interleaved pairs back to half-split."""
    out, inp = w.shape
    d = out // n_heads
    return w.reshape(n_heads, d // 2, 2, inp).swapaxes(1, 2).reshape(out, inp)


def gguf_state_dict(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The file's tensors, dequantized, under llmkb's state-dict names (Q/K rows un-permuted), and its metadata.

    A file without ``output.weight`` maps ``token_embd`` to both ``tok_emb.weight`` and ``lm_head.weight``.
    """
    meta, w = read_gguf(path)
    H = int(meta["llama.attention.head_count"])
    G = int(meta.get("llama.attention.head_count_kv", H))
    sd = {"tok_emb.weight": w["token_embd.weight"], "norm_f.weight": w["output_norm.weight"]}
    sd["lm_head.weight"] = w.get("output.weight", w["token_embd.weight"])
    names = {
        "attn_norm": "norm1",
        "attn_v": "attn.v_proj",
        "attn_output": "attn.o_proj",
        "ffn_norm": "norm2",
        "ffn_gate": "ffn.gate",
        "ffn_up": "ffn.up",
        "ffn_down": "ffn.down",
    }
    for i in range(int(meta["llama.block_count"])):
        for g, ours in names.items():
            sd[f"blocks.{i}.{ours}.weight"] = w[f"blk.{i}.{g}.weight"]
        sd[f"blocks.{i}.attn.q_proj.weight"] = unpermute_rope_rows(w[f"blk.{i}.attn_q.weight"], H)
        sd[f"blocks.{i}.attn.k_proj.weight"] = unpermute_rope_rows(w[f"blk.{i}.attn_k.weight"], G)
    return meta, sd
