"""Measurements of the positional-embeddings lab: pure functions of tensors and models, no registry, no plots."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from llmkb.data import ReverseTask
from llmkb.nn import GPT
from llmkb.nn.positional import ntk_scaled_base, rope_wavelengths

__all__ = [
    "answer_slice",
    "attention_entropy",
    "causal_entropy_bound",
    "learned_table_drift",
    "mean_entropy_share",
    "pca_3d",
    "relative_score_spread",
    "rescaled_rope",
    "reversal_scores",
    "rope_turns",
]


def attention_entropy(weights: Tensor) -> Tensor:
    """Shannon entropy (nats) of every attention row: ``H_i = -sum_j a_ij ln a_ij``, with ``0 ln 0 = 0``.

    A row that puts all its mass on one key has entropy 0; a causal row ``i`` spread uniformly over its
    ``i + 1`` keys has the maximum, ``ln(i + 1)`` (see
    [`causal_entropy_bound`][llmkb.lab.topics.positional_embeddings.analysis.causal_entropy_bound]).

    Args:
        weights: attention probabilities ``(..., T, S)`` (rows sum to 1).

    Returns:
        Tensor ``(..., T)``.
    """
    p = weights.float().clamp_min(0.0)
    return -(p * torch.log(p.clamp_min(1e-30))).sum(dim=-1)  # (..., T)


def causal_entropy_bound(T: int) -> Tensor:
    """The largest possible entropy of each causal attention row, ``ln(i + 1)`` for ``i = 0 .. T-1``."""
    return torch.log(torch.arange(1, T + 1, dtype=torch.float32))  # (T,)


def pca_3d(points: Tensor) -> tuple[Tensor, Tensor]:
    """Project ``points`` ``(N, d)`` onto their first three principal components (SVD of the centred points).

    Args:
        points: one row per position.

    Returns:
        ``(coords (N, 3), explained (3,))``: centred coordinates and the fraction of the variance each
        component explains, ``s_k^2 / sum_j s_j^2``. Signs are fixed so that the first point has
        non-positive coordinates.
    """
    x = points.double() - points.double().mean(0, keepdim=True)  # (N, d)
    _, s, vh = torch.linalg.svd(x, full_matrices=False)  # s (r,), vh (r, d)
    k = min(3, vh.shape[0])
    coords = x @ vh[:k].T  # (N, k)
    sign = torch.where(coords[0] > 0, -1.0, 1.0).to(coords.dtype)  # (k,)
    coords = coords * sign
    explained = (s[:k] ** 2) / (s**2).sum().clamp_min(1e-30)  # (k,)
    if k < 3:
        coords = F.pad(coords, (0, 3 - k))
        explained = F.pad(explained, (0, 3 - k))
    return coords.float(), explained.float()


def rope_turns(head_dim: int, base: float, length: int) -> int:
    """How many RoPE pairs turn a full circle within ``length`` positions: ``#{i : 2 pi b^(2i/D) <= length}``.

    The other pairs only ever showed a model part of their circle during training on ``length`` tokens.
    """
    return int((rope_wavelengths(head_dim, base) <= length).sum())


def rescaled_rope(model: GPT, method: str, scale: float) -> GPT:
    """A copy of a RoPE model whose angles are rescaled for a context ``scale`` times longer (no training).

    ``pi``: position interpolation, position ``p`` is rotated as ``p / s`` (the ``rope-pi`` scheme, Chen et
    al. 2023, arXiv 2306.15595). ``ntk``: the base becomes ``b s^(D/(D-2))``
    ([`ntk_scaled_base`][llmkb.nn.positional.ntk_scaled_base]). RoPE has no parameters, so the weights load
    unchanged; at ``scale = 1`` both equal the model.

    Raises:
        ValueError: ``model`` does not use ``rope``, or ``method`` is neither ``pi`` nor ``ntk``.
    """
    cfg = model.config
    if cfg.positional != "rope":
        raise ValueError(f"rescaled_rope needs a rope model, got positional={cfg.positional!r}")
    if method == "pi":
        new = dataclasses.replace(cfg, positional="rope-pi", rope_scale=float(scale))
    elif method == "ntk":
        new = dataclasses.replace(cfg, rope_base=ntk_scaled_base(cfg.rope_base, scale, cfg.head_dim))
    else:
        raise ValueError(f"method must be pi|ntk, got {method!r}")
    out = GPT(new)
    out.load_state_dict(model.state_dict())
    return out.eval()


def learned_table_drift(init: Tensor, trained: Tensor, seq_len: int) -> dict[str, float]:
    """How far training moved the rows of a learned position table ``(max_len, d)``.

    Rows ``>= seq_len`` were never used in training, so their largest change ``max |P - P_0|`` must be 0.
    """
    init, trained = init.detach().float(), trained.detach().float()
    return {
        "untrained_rows_max_change": float((trained[seq_len:] - init[seq_len:]).abs().max()),
        "trained_rows_mean_change": float((trained[:seq_len] - init[:seq_len]).norm(dim=1).mean()),
        "trained_row_norm": float(trained[:seq_len].norm(dim=1).mean()),
        "untrained_row_norm": float(trained[seq_len:].norm(dim=1).mean()),
    }


def relative_score_spread(q_rot: Tensor, k_rot: Tensor) -> float:
    """Largest standard deviation of ``q_m . k_n`` over pairs with the same offset ``m - n``.

    ``q_rot``, ``k_rot``: ``(N, D)``, one vector rotated to each position. For RoPE it is float round-off
    only, since ``(R_m q) . (R_n k) = q . R_(n-m) k``.
    """
    N = q_rot.shape[0]
    scores = q_rot @ k_rot.T  # (N, N)
    offsets = torch.arange(N)[:, None] - torch.arange(N)[None, :]  # (N, N)
    return max(float(scores[offsets == d].std()) for d in range(N - 1))


def answer_slice(task: ReverseTask) -> slice:
    """Query positions whose next token is an answer token."""
    return slice(task.prompt_len - 1, task.seq_len)


@torch.no_grad()
def reversal_scores(model: GPT, task: ReverseTask, x: Tensor, y: Tensor, n_attn: int) -> dict[str, Any]:
    """Loss and accuracies on the answer tokens, and attention entropy on the answer rows.

    Args:
        model: a model trained on ``task``.
        task: the reversal task.
        x: inputs ``(B, T)``.
        y: targets ``(B, T)`` (``-100`` outside the answer).
        n_attn: sequences whose attention weights are recorded.

    Returns:
        ``loss``, ``accuracy`` (exact match), ``token_accuracy``, ``entropy`` ``(L, H)`` (mean over the
        answer rows of ``n_attn`` sequences) and ``example_attn`` ``(L, H, T, T)`` of the first sequence.
    """
    model.eval()
    logits = model(x).logits  # (B, T, V)
    weights = torch.stack(model(x[:n_attn], return_attn=True).attn, dim=1)  # (b, L, H, T, T)
    ent = attention_entropy(weights)[..., answer_slice(task)]  # (b, L, H, A)
    return {
        "loss": float(task.loss(logits, y)),
        "accuracy": task.accuracy(logits, y),
        "token_accuracy": task.token_accuracy(logits, y),
        "entropy": ent.mean(dim=(0, 3)),  # (L, H)
        "example_attn": weights[0],  # (L, H, T, T)
    }


def mean_entropy_share(entropy: Tensor, bound: float) -> float:
    """Mean entropy of the first layer's heads as a share of the uniform bound (1 = attention spread evenly)."""
    return float(entropy[0].mean()) / bound if bound > 0 else math.nan
