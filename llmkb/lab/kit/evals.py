"""Held-out evaluation every training topic needs: fixed windows of text, the loss at each position, and the
mean and spread of a measurement over seeds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from llmkb.nn import GPT

__all__ = ["eval_windows", "per_position_loss", "seed_stats"]


def eval_windows(ids: Tensor, length: int, n_windows: int, seed: int = 0) -> Tensor:
    """Fixed evaluation windows: ``n_windows`` random slices of ``length + 1`` tokens of ``ids``.

    The same seed gives the same windows, so every model is scored on the same text, and the prefixes
    ``windows[:, : L + 1]`` are the windows of a shorter length ``L`` at the same offsets.

    Args:
        ids: token ids ``(N,)`` with ``N > length + 1``.
        length: tokens scored per window.
        n_windows: number of windows.
        seed: seed of the offsets.

    Returns:
        LongTensor ``(n_windows, length + 1)``: inputs are ``[:, :-1]``, targets ``[:, 1:]``.
    """
    if len(ids) <= length + 1:
        raise ValueError(f"need more than {length + 1} tokens for windows of {length}, got {len(ids)}")
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - length - 1, (n_windows,), generator=g)  # (N,)
    return ids[starts[:, None] + torch.arange(length + 1)[None, :]]  # (N, L+1)


@torch.no_grad()
def per_position_loss(model: GPT, windows: Tensor, chunk: int = 16) -> Tensor:
    """Mean next-token cross-entropy at every position, ``l_t = -(1/N) sum_n ln p(x_(n,t+1) | x_(n,<=t))``.

    Args:
        model: a trained model (put in eval mode here).
        windows: ``(N, L + 1)`` token ids from [`eval_windows`][llmkb.lab.kit.evals.eval_windows].
        chunk: windows per forward pass.

    Returns:
        Float tensor ``(L,)`` in nats: entry ``t`` scores token ``t + 1`` given tokens ``0..t``.
    """
    model.eval()
    total = torch.zeros(windows.shape[1] - 1, dtype=torch.float64)  # (L,)
    for part in windows.split(chunk):
        x, y = part[:, :-1], part[:, 1:]  # (b, L)
        logits = model(x).logits  # (b, L, V)
        loss = F.cross_entropy(logits.transpose(1, 2).float(), y, reduction="none")  # (b, L)
        total += loss.sum(0).double()
    return (total / windows.shape[0]).float()


def seed_stats(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample standard deviation ``sqrt(sum (x - mean)^2 / (n - 1))`` (0 for one value), min and max."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("seed_stats needs at least one value")
    sd = float(x.std(ddof=1)) if x.size > 1 else 0.0
    return {"mean": float(x.mean()), "sd": sd, "min": float(x.min()), "max": float(x.max()), "n": int(x.size)}
