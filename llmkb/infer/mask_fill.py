"""Greedy decoding for the three pretraining objectives of :mod:`llmkb.data.objectives`.

* :func:`decode` — left to right, for a CLM (causal attention) or a prefix LM (the prompt read
  bidirectionally as the prefix, the new tokens causally). No KV cache: each step runs the whole sequence,
  which the prefix mask needs anyway and which costs nothing at the lengths the lab uses.
* :func:`fill_masks` — iterative mask filling for an MLM: run the model bidirectionally, commit the single
  ``[MASK]`` whose best token is most probable, repeat until none is left. This is the one-token-per-step
  limit of mask-predict (Ghazvininejad et al. 2019, arXiv:1904.09324), which fills the most confident
  positions first.
* :func:`mlm_left_to_right` — an MLM asked to do a CLM's job: append one ``[MASK]``, fill it, repeat.
"""

from __future__ import annotations

import torch
from torch import Tensor

from llmkb.data.objectives import bidirectional_mask, prefix_lm_mask
from llmkb.nn.model import GPT

__all__ = ["decode", "fill_masks", "mlm_left_to_right"]


def _best(logits: Tensor, n_real: int) -> tuple[Tensor, Tensor]:
    """``(confidence, token)`` over the real ids ``0..n_real-1`` (special ids are never emitted)."""
    probs = torch.softmax(logits[..., :n_real].float(), dim=-1)
    return probs.max(dim=-1)


@torch.no_grad()
def decode(model: GPT, prompt: Tensor, n_new: int, *, mode: str = "causal", n_real: int = 256) -> Tensor:
    """Greedy left-to-right continuation of ``prompt`` ``(B, P)``.

    Args:
        model: a trained model.
        prompt: ``(B, P)`` ids, ``P >= 1``.
        n_new: tokens to append.
        mode: ``"causal"`` (CLM) or ``"prefix"`` (the prompt is a bidirectional prefix).
        n_real: emit only ids below this (never ``[MASK]``).

    Returns:
        ``(B, P + n_new)`` ids.

    Raises:
        ValueError: an unknown mode.
    """
    if mode not in ("causal", "prefix"):
        raise ValueError(f"mode must be 'causal' or 'prefix', got {mode!r}")
    x, P = prompt, prompt.shape[1]
    for _ in range(n_new):
        mask = prefix_lm_mask(x.shape[1], P, x.device) if mode == "prefix" else None
        logits = model(x, attn_mask=mask).logits[:, -1]  # (B, V)
        x = torch.cat([x, _best(logits, n_real)[1][:, None]], dim=1)
    return x


@torch.no_grad()
def fill_masks(model: GPT, ids: Tensor, mask_id: int, *, n_real: int = 256) -> tuple[Tensor, list[Tensor]]:
    """Fill every ``mask_id`` in ``ids`` ``(B, T)``, most confident first, one per row per step.

    Returns:
        ``(filled (B, T), order)``: ``order[s]`` is the ``(B,)`` position filled at step ``s`` (``-1`` for a
        row that had no mask left).
    """
    x = ids.clone()
    order: list[Tensor] = []
    full = bidirectional_mask(x.shape[1], x.device)
    rows = torch.arange(x.shape[0])
    while bool((x == mask_id).any()):
        conf, tok = _best(model(x, attn_mask=full).logits, n_real)  # (B, T), (B, T)
        masked = x == mask_id
        conf = conf.masked_fill(~masked, -1.0)
        pos = conf.argmax(dim=1)  # (B,)
        has = masked.any(dim=1)
        x[rows[has], pos[has]] = tok[rows[has], pos[has]]
        order.append(torch.where(has, pos, -1))
    return x, order


@torch.no_grad()
def mlm_left_to_right(model: GPT, prompt: Tensor, n_new: int, mask_id: int, *, n_real: int = 256) -> Tensor:
    """An MLM generating: append one ``[MASK]``, fill it bidirectionally, repeat ``n_new`` times."""
    x = prompt
    for _ in range(n_new):
        x = torch.cat([x, torch.full_like(x[:, :1], mask_id)], dim=1)
        x = fill_masks(model, x, mask_id, n_real=n_real)[0]
    return x
