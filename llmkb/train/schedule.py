"""Learning-rate schedule: linear warm-up, then cosine decay to a floor.

For step ``s = 1 … S`` (the ``s``-th optimizer update), with peak rate ``η``, floor ``η_min`` and ``W``
warm-up steps:

    lr(s) = η · s / W                                               for s ≤ W
    lr(s) = η_min + ½ (η − η_min) (1 + cos(π (s − W) / (S − W)))    for s > W

so the rate climbs to ``η`` at ``s = W`` and reaches ``η_min`` exactly at the last step. Warm-up as in
Goyal et al. (2017), "Accurate, Large Minibatch SGD", arXiv:1706.02677; cosine decay as in Loshchilov &
Hutter (2016), "SGDR: Stochastic Gradient Descent with Warm Restarts", arXiv:1608.03983 (one cycle, no
restart).
"""

from __future__ import annotations

import math

from llmkb.train.config import TrainConfig

__all__ = ["lr_at"]


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate of the ``step``-th update (1-based; ``lr_at(0, cfg) == 0``).

    Args:
        step: Update number, ``0 <= step``; steps beyond ``cfg.steps`` stay at ``cfg.min_lr``.
        cfg: Supplies ``lr``, ``min_lr``, ``warmup_steps`` and ``steps``.

    Returns:
        The learning rate.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if step <= cfg.warmup_steps:
        return cfg.lr * step / cfg.warmup_steps if cfg.warmup_steps else cfg.lr
    decay_steps = cfg.steps - cfg.warmup_steps
    if decay_steps <= 0 or step >= cfg.steps:
        return cfg.min_lr
    progress = (step - cfg.warmup_steps) / decay_steps
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1.0 + math.cos(math.pi * progress))
