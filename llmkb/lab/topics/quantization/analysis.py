"""Pure functions of the quantization lab: spec names, the Pareto frontier, outlier statistics, histograms."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor

from llmkb.lab.kit.evals import per_position_loss
from llmkb.nn import GPT
from llmkb.quant import QuantSpec

__all__ = ["parse_spec", "eval_loss", "pareto", "outlier_ratio", "kurtosis", "error_histograms", "layer_kind"]


def parse_spec(name: str) -> QuantSpec:
    """``int8-channel``, ``int4-g128``, ``uint4-g32``, ``int4-tensor`` -> a [`QuantSpec`][llmkb.quant.uniform.QuantSpec].

    ``u`` marks the asymmetric (zero-point) quantizer; ``gN`` a group size.
    """
    kind, _, where = name.partition("-")
    symmetric = not kind.startswith("u")
    bits = int(kind.removeprefix("u").removeprefix("int"))
    if where.startswith("g"):
        return QuantSpec(bits, symmetric, "group", int(where[1:]))
    return QuantSpec(bits, symmetric, where)


def eval_loss(model: GPT, windows: Tensor) -> float:
    """Mean held-out next-byte loss (nats) of ``model`` on ``windows`` ``(N, L + 1)``."""
    return float(per_position_loss(model, windows).mean())


def pareto(size: Sequence[float], error: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats on both axes (smaller size and smaller error), by size.

    A point is dominated when another has ``size <= `` and ``error <`` (or ``<`` and ``<=``) its own.

    Example:
        ``pareto([1, 2, 3], [3, 1, 2]) == [0, 1]`` — the third point is larger and worse than the second.
    """
    s, e = np.asarray(size, float), np.asarray(error, float)
    keep = []
    for i in range(len(s)):
        worse = ((s <= s[i]) & (e < e[i])) | ((s < s[i]) & (e <= e[i]))
        if not worse.any():
            keep.append(i)
    return sorted(keep, key=lambda i: (s[i], e[i]))


def outlier_ratio(x: Tensor) -> float:
    """``max |x| / mean |x|`` over all entries: how far the largest value stands out (1 for constant magnitude)."""
    a = x.detach().abs().float()
    return float(a.max() / a.mean().clamp(min=1e-12))


def kurtosis(x: Tensor) -> float:
    """Excess kurtosis ``E[(x - mu)^4] / sigma^4 - 3`` (0 for a Gaussian; large for heavy tails)."""
    v = x.detach().double().flatten()
    c = v - v.mean()
    return float((c**4).mean() / (c**2).mean() ** 2 - 3)


def error_histograms(errors: dict[str, np.ndarray], bins: int = 40) -> dict[str, list[float]]:
    """Histograms of ``|error|`` of several quantizers of the same matrix on shared log-spaced bins.

    Returns:
        ``{"edges": [...], name: [counts as fractions of the entries], ...}``.
    """
    pos = np.concatenate([np.abs(e[np.abs(e) > 0]) for e in errors.values()])
    lo, hi = np.quantile(pos, 0.001), pos.max()
    edges = np.geomspace(lo, hi * 1.0001, bins + 1)
    out: dict[str, list[float]] = {"edges": edges.tolist()}
    for name, e in errors.items():
        counts, _ = np.histogram(np.clip(np.abs(e), lo, None), bins=edges)
        out[name] = (counts / e.size).tolist()
    return out


def layer_kind(name: str) -> str:
    """``blocks.2.attn.q_proj.weight`` -> ``q_proj``; ``blocks.0.ffn.down.weight`` -> ``down``."""
    return name.removesuffix(".weight").split(".")[-1]
