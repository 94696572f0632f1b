"""Pure analysis of the long-context lab: log-log slopes, collapse points, rescaled copies of a model,
the loss of the last tokens of a window, and how far back a token can still change the last prediction."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from llmkb.nn import GPT

__all__ = [
    "loglog_slope",
    "collapse_point",
    "variant_model",
    "tail_loss",
    "influence",
    "reach",
]


def loglog_slope(x: Sequence[float], y: Sequence[float | None]) -> float | None:
    """Least-squares slope of ``log y`` against ``log x`` over the points with ``y > 0``.

    ``y ~ x^k`` gives ``k``: 2 for work that grows like ``T^2``, 1 for ``T``. ``None`` with fewer than two points.
    """
    pts = [(math.log(a), math.log(b)) for a, b in zip(x, y, strict=True) if b is not None and b > 0 and a > 0]
    if len(pts) < 2:
        return None
    lx, ly = np.array(pts).T
    return float(np.polyfit(lx, ly, 1)[0])


def collapse_point(lengths: Sequence[int], values: Sequence[float | None], ratio: float) -> int | None:
    """The first length after the best (lowest) value where the value exceeds ``ratio`` times the best.

    Args:
        lengths: increasing context lengths.
        values: perplexity at each length; ``None`` or NaN where the variant cannot run.
        ratio: the threshold, > 1.

    Returns:
        The collapse length, or ``None`` if the curve stays within the threshold everywhere it was measured.
    """
    if ratio <= 1.0:
        raise ValueError(f"the collapse ratio must be > 1, got {ratio}")
    finite = [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if not finite:
        return None
    best_i, best = min(finite, key=lambda p: p[1])
    for i, v in finite:
        if i > best_i and v > ratio * best:
            return int(lengths[i])
    return None


def variant_model(
    model: GPT, *, positional: str | None = None, scale: float = 1.0, window: int | None = None
) -> GPT:
    """A new model with ``model``'s weights and a changed positional scheme, RoPE scale or sliding window.

    RoPE's tables are not parameters, so a RoPE checkpoint loads into ``rope-pi`` or ``rope-ntk`` at any
    ``scale`` (``GPTConfig.rope_scale``); a window changes only which keys each query may read. The original
    model is not touched.
    """
    cfg = dataclasses.replace(
        model.config,
        positional=positional or model.config.positional,
        rope_scale=float(scale),
        sliding_window=window,
    )
    new = GPT(cfg)
    new.load_state_dict(model.state_dict(), strict=True)
    return new.eval()


@torch.no_grad()
def tail_loss(model: GPT, windows: Tensor, length: int, tail: int, batch: int = 8) -> float:
    """Mean next-token loss (nats) of the last ``tail`` tokens of each window, read with ``length`` tokens.

    The model reads the last ``length`` tokens of each row (``windows[:, -(length + 1):]``) and only the last
    ``tail`` predictions are scored: the same target tokens at every length, each with at least
    ``length - tail`` tokens of context, so the lengths differ only in how much context came before.

    Args:
        model: the model (eval mode).
        windows: ``(N, >= length + 1)`` token ids.
        length: the context length read.
        tail: how many of the last predictions are scored (``1 <= tail <= length``).
        batch: windows per forward pass.
    """
    if not 1 <= tail <= length < windows.shape[1]:
        raise ValueError(f"need 1 <= tail <= length < {windows.shape[1]}, got tail={tail}, length={length}")
    total, count = 0.0, 0
    for part in windows[:, -(length + 1) :].split(batch):
        logits = model(part[:, :-1]).logits[:, -tail:]  # (b, tail, V)
        y = part[:, -tail:]
        total += float(F.cross_entropy(logits.transpose(1, 2).float(), y, reduction="sum"))
        count += y.numel()
    return total / count


@torch.no_grad()
def influence(model: GPT, ids: Tensor, distances: Sequence[int], *, seed: int = 0) -> np.ndarray:
    """How much replacing the token ``d`` positions before the last changes the last position's logits.

    For each window of ``ids`` ``(N, L)`` and each distance ``d``, the token at ``L - 1 - d`` is swapped for a
    random other byte and the largest absolute change of the last logits is recorded; the result is the
    mean over windows. A token outside the model's receptive field changes nothing: exactly 0.

    Returns:
        Float array ``(len(distances),)``.
    """
    g = torch.Generator().manual_seed(seed)
    base = model(ids).logits[:, -1]  # (N, V)
    L, V = ids.shape[1], model.config.vocab_size
    out = np.zeros(len(distances))
    for i, d in enumerate(distances):
        if not 0 <= d < L:
            raise ValueError(f"distance {d} is outside a window of {L} tokens")
        changed = ids.clone()
        shift = torch.randint(1, V, (ids.shape[0],), generator=g)
        changed[:, L - 1 - d] = (changed[:, L - 1 - d] + shift) % V  # always a different byte
        out[i] = float((model(changed).logits[:, -1] - base).abs().amax(dim=-1).mean())
    return out


def reach(distances: Sequence[int], values: Sequence[float], floor: float) -> int:
    """The largest distance whose influence is above ``floor`` (0 when none is)."""
    above = [int(d) for d, v in zip(distances, values, strict=True) if v > floor]
    return max(above) if above else 0
