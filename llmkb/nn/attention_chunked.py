"""Memory-efficient attention: query and key blocks with the online softmax, and a banded sliding window.

Exact attention without the ``(T, S)`` matrix. Queries are cut into blocks of ``chunk_size`` rows; each
query block walks over key blocks and keeps, per query row, a running maximum ``m``, a running normaliser
``l`` and an unnormalised output ``acc``. A new block of scores ``s`` updates them as

``m' = max(m, max_j s_j)``, ``l' = l e^(m - m') + sum_j e^(s_j - m')``,
``acc' = acc e^(m - m') + sum_j e^(s_j - m') v_j``

and the result is ``acc / l`` after the last block: the same numbers as ``softmax(s) V`` (Milakov &
Gimelshein 2018, arXiv 1805.02867; Rabe & Staats 2021, arXiv 2112.05682; the recurrence of FlashAttention,
Dao et al. 2022, arXiv 2205.14135). Peak extra memory is one ``(chunk, chunk)`` block of scores per head,
O(T * chunk) in all, never ``T x S``.

With a sliding ``window`` the query block reads only the key blocks its window can see (banded): the work
is O(T * window) instead of O(T^2). With grad enabled each query block is recomputed in the backward pass
(``torch.utils.checkpoint``), as FlashAttention recomputes its scores, so training memory stays
O(T * chunk) too.

Grouped-query attention (``H_kv < H``) views the queries as ``(B, H_kv, H / H_kv, T, D)`` and broadcasts
the keys: no key or value head is copied.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

__all__ = ["BiasFn", "chunked_attention", "key_block_range", "chunked_kernel"]

BiasFn = Callable[[Tensor, Tensor], Tensor]
"""A score bias computed per block: ``fn(query_idx (t,), key_idx (c,)) -> (H, t, c)``, with indices counted along
the keys (``0 .. S - 1``; the queries are the last ``T`` of them)."""


def key_block_range(
    q_lo: int, q_hi: int, S: int, chunk: int, *, causal: bool, window: int | None
) -> tuple[int, int]:
    """Key blocks ``[first, last)`` that queries at positions ``q_lo .. q_hi - 1`` can see.

    Keys sit at positions ``0 .. S - 1``. Causal: a query at ``p`` sees keys ``j <= p``; with a window also
    ``p - j < window``. Not causal: every key, or with a window ``|p - j| < window``.

    Args:
        q_lo: position of the first query of the block.
        q_hi: one past the position of its last query.
        S: number of keys.
        chunk: key block size.
        causal: apply the causal rule.
        window: band width or ``None``.

    Returns:
        ``(first, last)`` key block indices; empty (``first >= last``) when no key is visible.
    """
    lo = 0 if window is None else max(0, q_lo - window + 1)
    if causal:
        hi = min(S, q_hi)
    elif window is None:
        hi = S
    else:
        hi = min(S, q_hi - 1 + window)
    if hi <= lo:
        return 0, 0
    return lo // chunk, (hi - 1) // chunk + 1


def _as5d(x: Tensor | None, H: int, H_kv: int) -> Tensor | None:
    """A mask or bias broadcastable to ``(B, H, T, S)`` as ``(B|1, H_kv|1, G|1, T, S)``."""
    if x is None:
        return None
    while x.dim() < 4:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(f"a mask or bias must broadcast to (B, H, T, S), got shape {tuple(x.shape)}")
    if x.shape[1] == H:
        return x.reshape(x.shape[0], H_kv, H // H_kv, x.shape[2], x.shape[3])
    if x.shape[1] != 1:
        raise ValueError(f"a mask or bias needs 1 or {H} heads, got {x.shape[1]}")
    return x.unsqueeze(2)


def _query_block(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None,
    bias: Tensor | BiasFn | None,
    q_pos: Tensor,
    blocks: list[tuple[int, int]],
    causal: bool,
    window: int | None,
) -> Tensor:
    """Online softmax of one query block ``q`` ``(B, H_kv, G, t, D)`` over the key blocks ``blocks``; a
    callable ``bias`` is evaluated for each ``(t, c)`` block only."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    B, Hk, G, t, _ = q.shape
    m = torch.full((B, Hk, G, t, 1), float("-inf"), dtype=q.dtype, device=q.device)
    l = torch.zeros((B, Hk, G, t, 1), dtype=q.dtype, device=q.device)
    acc = torch.zeros((B, Hk, G, t, v.shape[-1]), dtype=q.dtype, device=q.device)
    for j0, j1 in blocks:
        kb, vb = k[:, :, :, j0:j1], v[:, :, :, j0:j1]  # (B, H_kv, 1, c, D)
        s = (q @ kb.transpose(-2, -1)) * scale  # (B, H_kv, G, t, c)
        if callable(bias):
            k_pos = torch.arange(j0, j1, device=q.device)
            s = s + bias(q_pos, k_pos).detach().to(q.dtype).reshape(Hk, G, t, j1 - j0)  # (H_kv, G, t, c)
        elif bias is not None:
            s = s + bias[..., j0:j1]
        allowed: Tensor | None = None if mask is None else mask[..., j0:j1]
        if causal or window is not None:
            dist = q_pos[:, None] - torch.arange(j0, j1, device=q.device)[None, :]  # (t, c)
            rule = dist >= 0 if causal else torch.ones_like(dist, dtype=torch.bool)
            if window is not None:
                rule = rule & (dist.abs() < window)
            allowed = rule if allowed is None else allowed & rule
        if allowed is not None:
            s = s.masked_fill(~allowed, float("-inf"))
        m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))  # (B, H_kv, G, t, 1)
        m_safe = torch.where(torch.isinf(m_new), torch.zeros_like(m_new), m_new)  # rows with no key yet
        p = torch.exp(s - m_safe)  # (B, H_kv, G, t, c); masked entries are exp(-inf) = 0
        corr = torch.exp(m - m_safe)  # rescales what was accumulated under the old maximum
        l = l * corr + p.sum(dim=-1, keepdim=True)
        acc = acc * corr + p @ vb
        m = m_new
    return acc / torch.where(l > 0, l, torch.ones_like(l))  # a row that saw no key stays 0


def chunked_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = True,
    window: int | None = None,
    chunk_size: int = 256,
    mask: Tensor | None = None,
    bias: Tensor | BiasFn | None = None,
    trace: list[tuple[int, int]] | None = None,
) -> Tensor:
    """Exact attention ``softmax(Q K^T / sqrt(D) + bias, masked) V`` by blocks, without a ``T x S`` matrix.

    Queries are the last ``T`` positions of the ``S`` keys (``S - T .. S - 1``; ``T = S`` for a full
    sequence, ``T = 1`` for one cached decoding step), so ``causal`` and ``window`` mean what they mean in
    [`position_mask`][llmkb.nn.attention.position_mask]. Not causal, a window is two-sided
    (``|i - j| < window``, Longformer's band).

    Args:
        q: queries ``(B, H, T, D)``.
        k: keys ``(B, H_kv, S, D)``, ``H_kv`` dividing ``H`` (grouped-query attention, not repeated).
        v: values ``(B, H_kv, S, D_v)``.
        causal: query ``i`` sees keys up to its own position.
        window: sliding-window width; only the key blocks inside the band are read.
        chunk_size: rows of a query block and columns of a key block.
        mask: optional bool mask broadcastable to ``(B, H, T, S)``, True = may attend; key blocks where
            it allows nothing are skipped.
        bias: optional float score bias broadcastable to ``(B, H, T, S)`` (e.g. ALiBi), or a
            [`BiasFn`][llmkb.nn.attention_chunked.BiasFn] that computes each ``(H, t, c)`` block when it is
            needed, so no ``(H, T, S)`` tensor exists; no gradient.
        trace: if a list, every ``(query block, key block)`` pair that is computed is appended to it.

    Returns:
        ``(B, H, T, D_v)``; a query row that may see no key gives zeros (as PyTorch's fused SDPA does).

    Raises:
        ValueError: shapes that do not fit, a chunk size or window below 1 (a one-line message).
    """
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(
            f"chunked_attention needs 4-D q, k, v (B, H, T, D); got {tuple(q.shape)}, {tuple(k.shape)}, "
            f"{tuple(v.shape)}"
        )
    B, H, T, D = q.shape
    H_kv, S = k.shape[1], k.shape[2]
    if k.shape[0] != B or v.shape[:3] != k.shape[:3] or k.shape[3] != D or H_kv < 1 or H % H_kv:
        raise ValueError(
            f"chunked_attention needs q (B, H, T, D), k (B, H_kv, S, D), v (B, H_kv, S, D_v) with H_kv "
            f"dividing H; got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if chunk_size < 1 or (window is not None and window < 1):
        raise ValueError(f"chunk_size and window must be >= 1, got {chunk_size} and {window}")
    if T > S:
        raise ValueError(f"more queries ({T}) than keys ({S}): queries are the last T key positions")
    G = H // H_kv
    q5 = q.reshape(B, H_kv, G, T, D)  # query head h = g * G + r reads kv head g
    k5, v5 = k.unsqueeze(2), v.unsqueeze(2)  # (B, H_kv, 1, S, D): broadcast, never copied
    mask5 = _as5d(mask, H, H_kv)
    bias5: Tensor | BiasFn | None = bias
    if isinstance(bias, Tensor):
        bias5 = _as5d(bias, H, H_kv).detach().to(q.dtype)  # type: ignore[union-attr]
    offset = S - T
    grad = torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)
    outs = []
    for qi, i0 in enumerate(range(0, T, chunk_size)):
        i1 = min(T, i0 + chunk_size)
        first, last = key_block_range(offset + i0, offset + i1, S, chunk_size, causal=causal, window=window)
        blocks = []
        for kj in range(first, last):
            j0, j1 = kj * chunk_size, min(S, (kj + 1) * chunk_size)
            if mask5 is not None and not bool(mask5[..., i0:i1, j0:j1].any()):
                continue  # the mask allows nothing here: skip the block
            blocks.append((j0, j1))
            if trace is not None:
                trace.append((qi, kj))
        m_blk = None if mask5 is None else mask5[..., i0:i1, :]
        b_blk = bias5[..., i0:i1, :] if isinstance(bias5, Tensor) else bias5
        q_pos = torch.arange(offset + i0, offset + i1, device=q.device)
        args = (q5[:, :, :, i0:i1], k5, v5, m_blk, b_blk, q_pos, blocks, causal, window)
        if grad:  # recompute this block's scores in backward instead of keeping them
            outs.append(checkpoint(_query_block, *args, use_reentrant=False))
        else:
            outs.append(_query_block(*args))
    out = torch.cat(outs, dim=3) if outs else q5.new_zeros((B, H_kv, G, 0, v.shape[-1]))
    return out.reshape(B, H, T, v.shape[-1])


def chunked_kernel(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None,
    bias: Tensor | None,
    dropout_p: float,
    is_causal: bool,
    *,
    window: int | None = None,
) -> tuple[Tensor, None]:
    """Kernel ``chunked`` of [`KERNELS`][llmkb.nn.attention.KERNELS]: [`chunked_attention`][llmkb.nn.attention_chunked.chunked_attention].

    A blockwise kernel (``BLOCKWISE`` in [`llmkb.nn.attention`][llmkb.nn.attention]): the model passes its
    sliding ``window`` and, for ALiBi, a [`BiasFn`][llmkb.nn.attention_chunked.BiasFn], so neither a ``(T, S)``
    mask nor an ``(H, T, S)`` bias is built and the key blocks outside the band are never read. A bool
    ``mask`` still works (key blocks it rules out are skipped). Attention dropout is not supported
    (``dropout_p`` must be 0).
    """
    if dropout_p > 0.0:
        raise ValueError(f"the chunked kernel has no attention dropout; got dropout_p={dropout_p}")
    return chunked_attention(q, k, v, causal=is_causal, window=window, mask=mask, bias=bias), None
