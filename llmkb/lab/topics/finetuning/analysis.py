"""Pure helpers of the finetuning lab: method summaries, task groups, PPO curves and their divergence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["divergence", "group_mean", "method_summary", "smooth_last"]


def method_summary(name: str, trainable: int, total: int, curve: dict[str, list[float]]) -> dict[str, Any]:
    """One finetuning run: parameters trained, and loss on the new and the old domain before and after.

    ``forgetting`` is the rise of the old domain's loss; ``gain`` the fall of the new domain's.
    """
    new, old = curve["new"], curve["old"]
    return {
        "name": name,
        "trainable": trainable,
        "share": trainable / total,
        "new_before": new[0],
        "new_after": new[-1],
        "old_before": old[0],
        "old_after": old[-1],
        "gain": new[0] - new[-1],
        "forgetting": old[-1] - old[0],
    }


def group_mean(scores: dict[str, float], tasks: Sequence[str]) -> float:
    """Mean exact match over ``tasks`` (each task weighted equally)."""
    return float(np.mean([scores[t] for t in tasks]))


def smooth_last(values: Sequence[float], k: int = 3) -> float:
    """Mean of the last ``k`` values of a curve (a noisy per-step series read at its end)."""
    v = list(values)
    return float(np.mean(v[-k:]))


def divergence(reward: Sequence[float], true: Sequence[float], k: int = 3) -> dict[str, float]:
    """How the learned reward and the true score moved over a PPO run, from start to end (last-``k`` means).

    Returns:
        ``reward_gain``, ``true_gain`` and ``gap`` = reward gain minus true gain (both are in ``[0, 1]``-ish
        units: the reward model is centred on the SFT model's responses, the judge scores in ``[0, 1]``).
    """
    r0, t0 = float(np.mean(list(reward)[:k])), float(np.mean(list(true)[:k]))
    r_gain, t_gain = smooth_last(reward, k) - r0, smooth_last(true, k) - t0
    return {"reward_gain": r_gain, "true_gain": t_gain, "gap": r_gain - t_gain}
