"""Pure analysis of the normalization and activations lab: variants, divergence, per-layer statistics, blocks.

Everything here is a function of numbers or tensors (unit-tested in ``tests/test_lab_norms_and_activations.py``);
the experiments train and measure, the page text is written from these results.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import Tensor

from llmkb.lab.topics.norms_and_activations.names import ACT_LABELS, NORM_LABELS
from llmkb.nn import GPT, GPTConfig, count_parameters
from llmkb.nn.ffn import FFNS

__all__ = [
    "block_parameters",
    "built_block_parameters",
    "dead_fraction",
    "density_rows",
    "divergence_lr",
    "diverged",
    "grid_variants",
    "outlier_ratio",
    "spread",
    "tail_mean",
    "variant_name",
]


def variant_name(norm: str, activation: str, position: str) -> str:
    """``pre · RMSNorm · SwiGLU``: how the page and the figures name a variant."""
    return f"{position} · {NORM_LABELS[norm]} · {ACT_LABELS[activation]}"


def grid_variants(
    norms: Sequence[str], activations: Sequence[str], positions: Sequence[str]
) -> list[dict[str, str]]:
    """Every ``{"norm", "activation", "norm_position"}`` of the product, positions outermost."""
    return [
        {"norm": n, "activation": a, "norm_position": p}
        for p, n, a in itertools.product(positions, norms, activations)
    ]


def tail_mean(values: Sequence[float], k: int) -> float:
    """Mean of the last ``k`` values (all of them if fewer); ``nan`` if any of them is not finite."""
    tail = np.asarray(values[-k:], dtype=np.float64)
    return float(tail.mean()) if np.isfinite(tail).all() else math.nan


def diverged(initial: float, final: float) -> bool:
    """A run diverged when its final loss is not finite or is above the loss it started from."""
    return not math.isfinite(final) or final > initial


def divergence_lr(lrs: Sequence[float], initial: Sequence[float], final: Sequence[float]) -> float | None:
    """The smallest learning rate whose run diverged (see :func:`diverged`), ``None`` if none did.

    Args:
        lrs: Learning rates of the runs, any order.
        initial: Each run's first loss.
        final: Each run's final loss.
    """
    bad = [lr for lr, i, f in zip(lrs, initial, final, strict=True) if diverged(i, f)]
    return min(bad) if bad else None


def outlier_ratio(x: Tensor) -> float:
    """Outlier features of activations ``x`` ``(N, d)``: the largest feature's ``max |x|`` over the median
    feature's (Dettmers et al. 2022 call a feature an outlier when its magnitude dwarfs the others)."""
    per_feature = x.abs().amax(dim=0)  # (d,)
    return float(per_feature.max() / per_feature.median().clamp_min(1e-12))


def dead_fraction(hidden: Tensor) -> float:
    """Share of hidden units ``(N, f)`` that output exactly 0 on every one of the ``N`` tokens (dead ReLUs)."""
    return float((hidden == 0).all(dim=0).float().mean())


def block_parameters(fields: Mapping[str, Any]) -> dict[str, int]:
    """Parameters of one transformer block by part, from the formulas, checked against ``count_parameters``.

    With ``d = d_model``, ``f = ffn_dim``, ``b = bias``: attention ``4 d^2 (+ 4 d b)`` (Q, K, V, O with as many
    key/value heads as query heads); feed-forward ``2 d f (+ (f + d) b)``, gated ``3 d f (+ (2 f + d) b)``;
    norms ``2 d`` for RMSNorm, ``2 (d + d b)`` for LayerNorm.

    Raises:
        AssertionError: the parts do not add up to the difference ``count_parameters`` makes per layer.
    """
    cfg = GPTConfig.from_dict({"vocab_size": 256, **fields, "n_layers": 1})
    d, f, b = cfg.d_model, cfg.ffn_dim, int(cfg.bias)
    gated = getattr(FFNS[cfg.activation], "gated", False)
    parts = {
        "attention": 4 * d * d + 4 * d * b,
        "feed-forward": (3 * d * f + (2 * f + d) * b) if gated else (2 * d * f + (f + d) * b),
        "norms": 0 if cfg.norm == "none" else 2 * (d + (d * b if cfg.norm == "layernorm" else 0)),
    }
    per_layer = count_parameters(GPTConfig.from_dict({**cfg.to_dict(), "n_layers": 2})) - count_parameters(
        cfg
    )
    assert sum(parts.values()) == per_layer, (parts, per_layer)
    return {**parts, "total": per_layer, "d_model": d, "ffn_dim": f}


def built_block_parameters(fields: Mapping[str, Any]) -> int:
    """Parameters of a built block (small configs only): the ground truth ``block_parameters`` matches."""
    cfg = GPTConfig.from_dict({"vocab_size": 256, **fields, "n_layers": 1})
    return sum(p.numel() for p in GPT(cfg).blocks[0].parameters())


def density_rows(hists: Sequence[Sequence[float]]) -> list[list[float]]:
    """Each histogram divided by its total (a share per bin), so layers of any size compare."""
    return [(np.asarray(h, dtype=np.float64) / max(float(np.sum(h)), 1.0)).tolist() for h in hists]


def spread(values: Sequence[Sequence[float]]) -> dict[str, list[float]]:
    """Mean and sample standard deviation over the first axis of ``values`` (seeds x steps)."""
    a = np.asarray(values, dtype=np.float64)
    sd = a.std(axis=0, ddof=1) if len(a) > 1 else np.zeros(a.shape[1:])
    return {"mean": a.mean(axis=0).tolist(), "sd": sd.tolist()}
