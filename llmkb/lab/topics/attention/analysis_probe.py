"""Probes of a trained model: one query's attention step by step, and the Jacobian that proves causality."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from llmkb.nn import GPT

__all__ = ["jacobian_norms", "layer_internals", "query_walkthrough", "row_entropies"]


def layer_internals(model: GPT, idx: Tensor) -> dict[str, list[Tensor]]:
    """What every attention layer of ``model`` computes on ``idx``, read through hooks that change nothing.

    Args:
        model: a :class:`~llmkb.nn.GPT` in eval mode.
        idx: token ids ``(B, T)``.

    Returns:
        Per layer: ``q`` ``(B, H, T, D)`` and ``k`` ``(B, H_kv, T, D)`` as the kernel sees them (after the
        positional rotation), ``v`` ``(B, H_kv, T, D)``, ``bias`` (the positional score bias ``(H, T, T)``,
        or an empty tensor), ``heads`` (the per-head outputs ``(B, H, T, D)``) and ``weights``
        ``(B, H, T, T)``.
    """
    raw: list[tuple[Tensor, Tensor, Tensor]] = []
    heads: list[Tensor] = []

    def grab_qkv(q: Tensor, k: Tensor, v: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        raw.append((q, k, v))
        return q, k, v

    def grab_heads(y: Tensor) -> Tensor:
        heads.append(y)
        return y

    with torch.no_grad(), model.hooks(qkv=grab_qkv, heads=grab_heads):
        weights = model(idx, return_attn=True).attn
    assert weights is not None
    pos = torch.arange(idx.shape[1])  # (T,)
    bias = model.pos_emb.score_bias(pos, pos)  # (H, T, T) | None
    out: dict[str, list[Tensor]] = {"q": [], "k": [], "v": [], "bias": [], "heads": heads, "weights": weights}
    for q, k, v in raw:
        q, k = model.pos_emb.rotate(q, k, 0)
        out["q"].append(q)
        out["k"].append(k)
        out["v"].append(v)
        out["bias"].append(torch.empty(0) if bias is None else bias)
    return out


def row_entropies(weights: list[Tensor], t: int) -> np.ndarray:
    """Normalized entropy ``H(a_t) / ln(t + 1)`` of query ``t``'s row in every layer and head: ``(L, H)``."""
    rows = torch.stack([w[0, :, t, : t + 1] for w in weights]).double()  # (L, H, t+1)
    plogp = torch.where(rows > 0, rows * rows.clamp_min(1e-300).log(), torch.zeros_like(rows))
    return (-plogp.sum(-1) / math.log(t + 1)).numpy()


def query_walkthrough(
    model: GPT, idx: Tensor, t: int, layer: int | None = None, head: int | None = None
) -> dict[str, Any]:
    """One query of one head, recomputed from its own ``q``, ``k``, ``v`` (Vaswani et al. 2017, arXiv 1706.03762):

    ``s_j = q_t . k_j / sqrt(d) (+ b_tj)``, ``a_j = softmax(s)_j``, ``o_t = sum_{j <= t} a_j v_j``.

    Args:
        model: a :class:`~llmkb.nn.GPT` in eval mode (``t >= 1``).
        idx: token ids ``(1, T)``.
        t: query position.
        layer: layer of the head; ``None`` with ``head`` ``None`` picks the sharpest head at ``t``
            (lowest :func:`row_entropies`).
        head: head index within the layer.

    Returns:
        ``layer``, ``head``, ``t``, ``head_dim``; ``scores``, ``weights`` ``(t+1,)``; ``values`` ``(t+1, d)``;
        ``output`` ``(d,)``; ``entropies`` ``(L, H)``; ``weights_diff`` and ``output_diff`` (largest gap to
        the model's own weights and head output); ``dots_std`` (of ``q_t . k_j``) and
        ``max_weight_unscaled`` (the top weight of ``softmax(q_t . k_j)``, without the ``1/sqrt(d)``).

    Raises:
        ValueError: ``idx`` is not ``(1, T)`` or ``t`` is outside ``1 .. T-1``.
    """
    if idx.dim() != 2 or idx.shape[0] != 1 or not 1 <= t < idx.shape[1]:
        raise ValueError(f"need idx (1, T) and 1 <= t < T, got shape {tuple(idx.shape)} and t={t}")
    inside = layer_internals(model, idx)
    ent = row_entropies(inside["weights"], t)  # (L, H)
    if layer is None or head is None:
        layer, head = (int(i) for i in np.unravel_index(int(np.argmin(ent)), ent.shape))
    q, k, v = inside["q"][layer], inside["k"][layer], inside["v"][layer]
    g = head // (q.shape[1] // k.shape[1])  # the key/value head this query head reads
    d = q.shape[-1]
    qt, keys, values = q[0, head, t], k[0, g, : t + 1], v[0, g, : t + 1]  # (d,), (t+1, d), (t+1, d)
    dots = keys @ qt  # (t+1,)
    scores = dots / math.sqrt(d)
    if inside["bias"][layer].numel():
        scores = scores + inside["bias"][layer][head, t, : t + 1]
    weights = torch.softmax(scores.double(), dim=0)  # (t+1,)
    output = weights @ values.double()  # (d,)
    model_w = inside["weights"][layer][0, head, t, : t + 1].double()
    model_o = inside["heads"][layer][0, head, t].double()
    return {
        "layer": layer,
        "head": head,
        "t": t,
        "head_dim": d,
        "scores": scores.double().numpy(),
        "weights": weights.numpy(),
        "values": values.double().numpy(),
        "output": output.numpy(),
        "entropies": ent,
        "weights_diff": float((weights - model_w).abs().max()),
        "output_diff": float((output - model_o).abs().max()),
        "dots_std": float(dots.double().std()),
        "max_weight_unscaled": float(torch.softmax(dots.double(), dim=0).max()),
    }


def jacobian_norms(model: GPT, idx: Tensor, chunk: int = 256) -> Tensor:
    """Frobenius norms ``N[t, s] = ||d logits_t / d e_s||`` of a model's Jacobian, with ``e_s`` the token
    embedding fed in at position ``s``, computed exactly with reverse-mode autograd.

    The logits are ``W_U z_t`` (no bias), so each block ``J = d logits_t / d e_s`` lies in the column space
    of ``W_U`` (``V x d``, rank ``<= d``). With ``U`` the ``d`` left singular vectors of ``W_U``,
    ``||J||_F^2 = ||U^T J||_F^2 = sum_i ||u_i^T J||^2``: ``d`` vector-Jacobian products per output position
    give the exact norm instead of ``V``. The products run as one batch: batch element ``b`` carries its
    own copy of the embeddings (swapped in with a forward hook on the embedding table) and the cotangent
    ``u_i`` at position ``t``, so ``T d`` products cost ``T d / chunk`` forward/backward passes.

    Args:
        model: a :class:`~llmkb.nn.GPT` whose LM head has no bias (eval mode switches off dropout).
        idx: token ids ``(1, T)``.
        chunk: products per batched pass.

    Returns:
        ``(T, T)`` float64 tensor, row = output position ``t``, column = input position ``s``. Causal
        attention makes every entry with ``s > t`` exactly zero.

    Raises:
        ValueError: ``idx`` is not ``(1, T)`` or the LM head has a bias.
    """
    if idx.dim() != 2 or idx.shape[0] != 1:
        raise ValueError(f"idx must be (1, T), got shape {tuple(idx.shape)}")
    if model.lm_head.bias is not None:
        raise ValueError("jacobian_norms needs an LM head without bias")
    T = idx.shape[1]
    w_u = model.lm_head.weight.detach()  # (V, d)
    basis = torch.linalg.svd(w_u.double(), full_matrices=False).U.to(w_u.dtype)  # (V, r)
    r = basis.shape[1]
    with torch.no_grad():
        emb0 = model.tok_emb(idx)  # (1, T, d)
    pos = torch.arange(T).repeat_interleave(r)  # (T r,) output position of each product
    vec = torch.arange(r).repeat(T)  # (T r,) which singular vector
    sq = torch.zeros(T, T, dtype=torch.float64)
    for c in range(0, T * r, chunk):
        t_b, i_b = pos[c : c + chunk], vec[c : c + chunk]
        n = len(t_b)
        emb = emb0.expand(n, -1, -1).clone().requires_grad_(True)  # (n, T, d)
        handle = model.tok_emb.register_forward_hook(lambda _m, _i, _o: emb)  # noqa: B023
        try:
            logits = model(idx.expand(n, -1)).logits  # (n, T, V)
        finally:
            handle.remove()
        cot = torch.zeros_like(logits)  # (n, T, V)
        cot[torch.arange(n), t_b] = basis[:, i_b].T  # (n, V)
        (g,) = torch.autograd.grad(logits, emb, cot)  # (n, T, d): row b = u_i^T d logits_t / d e
        sq.index_add_(0, t_b, g.double().pow(2).sum(-1))  # (n, T) into rows t
    return sq.sqrt()
