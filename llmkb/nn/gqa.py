"""Grouped-query attention: turn a trained multi-head attention model into a GQA (or MQA) model.

Multi-head attention (MHA, Vaswani et al. 2017) gives each of the ``H`` query heads its own key and value
head. Grouped-query attention (GQA, Ainslie et al. 2023, "GQA: Training Generalized Multi-Query Transformer
Models from Multi-Head Checkpoints", arXiv 2305.13245) keeps ``H`` query heads but only ``H_kv`` key/value
heads; query head ``h`` reads key/value head ``h // g`` with group size ``g = H / H_kv``. ``H_kv = 1`` is
multi-query attention (MQA, Shazeer 2019, arXiv 1911.02150). The KV cache shrinks by ``g``.

Ainslie et al. convert a trained MHA checkpoint instead of training GQA from scratch: the key (and value)
projection of the new head ``j`` is the **mean** of the projections of the ``g`` old heads in its group,

``W_k'^{(j)} = (1/g) sum_{i=0}^{g-1} W_k^{(j g + i)}``  (the same for ``W_v`` and the biases),

followed by a short "uptraining" (5 % of the pre-training steps in the paper). Mean-pooling beat keeping the
first head of each group ("pick first") and random initialization in their ablation.
[`convert_mha_to_gqa`][llmkb.nn.gqa.convert_mha_to_gqa] does the first step and offers both.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import Tensor

from llmkb.nn.model import GPT

__all__ = ["POOLINGS", "pool_kv_heads", "convert_mha_to_gqa"]

POOLINGS: tuple[str, ...] = ("mean", "first")
"""Ways to build one key/value head from a group: ``mean`` (Ainslie et al. 2023) or ``first`` (baseline)."""


def pool_kv_heads(weight: Tensor, n_heads: int, n_kv_heads: int, method: str = "mean") -> Tensor:
    """Pool a key or value projection from ``n_heads`` heads to ``n_kv_heads`` heads.

    Args:
        weight: the projection's weight ``(n_heads * D, d_model)`` or bias ``(n_heads * D,)``; rows
            ``h*D .. (h+1)*D - 1`` belong to head ``h``.
        n_heads: key/value heads of ``weight``.
        n_kv_heads: key/value heads wanted; must divide ``n_heads``.
        method: ``mean`` (each new head is the mean of its group of ``g = n_heads / n_kv_heads``
            consecutive heads) or ``first`` (each new head is the first head of its group).

    Returns:
        ``(n_kv_heads * D, d_model)`` (or ``(n_kv_heads * D,)`` for a bias).

    Raises:
        ValueError: ``n_kv_heads`` does not divide ``n_heads``, the rows do not split into ``n_heads`` heads,
            or ``method`` is unknown.
    """
    if method not in POOLINGS:
        raise ValueError(f"method must be one of {'|'.join(POOLINGS)}, got {method!r}")
    if n_kv_heads < 1 or n_heads % n_kv_heads or weight.shape[0] % n_heads:
        raise ValueError(
            f"cannot pool {weight.shape[0]} rows of {n_heads} heads into {n_kv_heads} heads: "
            "n_kv_heads must divide n_heads"
        )
    g = n_heads // n_kv_heads
    grouped = weight.reshape(
        n_kv_heads, g, weight.shape[0] // n_heads, *weight.shape[1:]
    )  # (H_kv, g, D, ...)
    pooled = grouped.mean(dim=1) if method == "mean" else grouped[:, 0]  # (H_kv, D, ...)
    return pooled.reshape(-1, *weight.shape[1:])  # (H_kv * D, ...)


def convert_mha_to_gqa(model: GPT, n_kv_heads: int, method: Literal["mean", "first"] = "mean") -> GPT:
    """A new model with ``n_kv_heads`` key/value heads, built from ``model``'s weights (Ainslie et al. 2023).

    Every weight is copied unchanged except the key and value projections of each layer, which are pooled
    per group with [`pool_kv_heads`][llmkb.nn.gqa.pool_kv_heads]. ``model`` may itself be grouped already
    (its ``H_src`` key/value heads are pooled in groups of ``H_src / n_kv_heads``); with ``n_kv_heads`` equal
    to its own count the copy computes exactly what ``model`` computes. The new model is in ``model``'s
    training mode, on its device, with config ``dataclasses.replace(model.config, n_kv_heads=n_kv_heads)``.

    Args:
        model: the trained model; left unchanged.
        n_kv_heads: key/value heads of the new model (1 = multi-query attention); must divide the model's.
        method: ``mean`` (mean-pool each group, the paper's choice) or ``first`` (keep each group's first head).

    Returns:
        The converted [`GPT`][llmkb.nn.GPT].

    Raises:
        ValueError: ``n_kv_heads`` does not divide the model's key/value heads, or ``method`` is unknown.
    """
    src = model.config.kv_heads
    if n_kv_heads < 1 or src % n_kv_heads:
        raise ValueError(f"n_kv_heads={n_kv_heads} must divide the model's {src} key/value heads")
    config = dataclasses.replace(model.config, n_kv_heads=n_kv_heads)
    state = model.state_dict()
    for name, tensor in state.items():
        if ".attn.k_proj." in name or ".attn.v_proj." in name:
            state[name] = pool_kv_heads(tensor, src, n_kv_heads, method)
    ref = next(model.parameters())
    with torch.device(ref.device):
        new = GPT(config).to(ref.dtype)
    new.load_state_dict(state)
    return new.train(model.training)
