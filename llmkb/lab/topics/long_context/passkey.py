"""Pure analysis of the passkey experiment: accuracy and passkey influence per distance, the chance band.

A model retrieves a passkey planted ``d`` positions before the query; beyond its receptive field the passkey
cannot change the prediction at all, so there the accuracy is that of a guess, ``1 / n_values``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from llmkb.data.synthetic import PasskeyTask
from llmkb.nn import GPT

__all__ = ["CHANCE_SIGMAS", "distance_scores", "chance_band", "above_chance", "solid_reach"]

CHANCE_SIGMAS = 4.0
"""An accuracy is "at chance" while it is within this many binomial standard deviations of ``1 / n_values``."""


@torch.no_grad()
def distance_scores(
    model: GPT, task: PasskeyTask, distances: Sequence[int], n: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy at each distance, and how much changing the passkey changes the query's logits.

    For each distance ``d`` the model reads ``n`` fresh sequences with the passkey ``d`` positions before
    ``SEP`` (seeded by ``seed + d``); its answer is the passkey symbol it rates highest (a choice among the
    ``n_values`` candidates, so a model that cannot see the passkey is right with probability exactly
    ``1 / n_values``, whatever it guesses). Then the passkey is replaced by another
    passkey symbol and the largest absolute change of the last logits is recorded (mean over sequences).
    A passkey outside the receptive field changes nothing: exactly 0.

    Returns:
        ``(accuracy (len(distances),), change (len(distances),))``.
    """
    model.eval()
    lo, hi = task.answer_symbols
    acc, change = np.zeros(len(distances)), np.zeros(len(distances))
    for i, d in enumerate(distances):
        g = torch.Generator().manual_seed(seed + int(d))
        x, y = task.at_distance(int(d)).make_batch(n, g)  # (n, T); the passkey sits at T - 1 - d
        logits = model(x).logits  # (n, T, V)
        choice = lo + logits[:, -1, lo:hi].argmax(dim=-1)  # (n,) the most likely of the passkey symbols
        acc[i] = float((choice == y[:, -1]).float().mean())
        swapped = x.clone()
        col = x.shape[1] - 1 - int(d)
        shift = torch.randint(1, hi - lo, (n,), generator=g)
        swapped[:, col] = (x[:, col] - lo + shift) % (hi - lo) + lo  # always another passkey symbol
        change[i] = float((model(swapped).logits[:, -1] - logits[:, -1]).abs().amax(dim=-1).mean())
    return acc, change


def chance_band(chance: float, n: int, sigmas: float = CHANCE_SIGMAS) -> float:
    """Half-width of the band around ``chance`` that ``n`` guesses stay in: ``sigmas`` binomial s.d."""
    if n < 1 or not 0.0 < chance < 1.0:
        raise ValueError(f"need n >= 1 and 0 < chance < 1, got n={n}, chance={chance}")
    return sigmas * math.sqrt(chance * (1.0 - chance) / n)


def above_chance(distances: Sequence[int], acc: Sequence[float], chance: float, n: int) -> int:
    """The largest distance whose accuracy is above the chance band (0 when none is)."""
    top = chance + chance_band(chance, n)
    hits = [int(d) for d, a in zip(distances, acc, strict=True) if a > top]
    return max(hits) if hits else 0


def solid_reach(distances: Sequence[int], acc: Sequence[float], level: float) -> int:
    """The largest ``d`` such that every distance up to ``d`` has accuracy at least ``level`` (0: none)."""
    out = 0
    for d, a in sorted(zip(distances, acc, strict=True)):
        if a < level:
            break
        out = int(d)
    return out
