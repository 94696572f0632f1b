"""What a head does, measured from its attention weights: per-head scores, induction scores and a label."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from llmkb.lab.topics.attention.names import THRESHOLDS

__all__ = ["classify_head", "head_label", "head_scores", "induction_scores", "uniform_weight", "word_starts"]


def head_label(layer: int, head: int) -> str:
    """Short name of a head, ``L<layer>H<head>`` (both from 0)."""
    return f"L{layer}H{head}"


def head_scores(
    weights: Tensor, start: int = 2, boundary: Tensor | None = None, window: int = 4
) -> dict[str, np.ndarray]:
    """Per-head averages of where causal attention goes.

    For queries ``t >= start`` (from 2 on, "previous", "first" and "self" are three different keys):

    * ``prev``: mean weight on key ``t - 1``;
    * ``first``: mean weight on key ``0``;
    * ``self``: mean weight on key ``t``;
    * ``local``: mean total weight on the last ``window`` keys ``t - window + 1 .. t``;
    * ``boundary`` (when ``boundary`` is given): mean total weight on the keys it marks (e.g. spaces);
    * ``entropy``: mean of ``H(w_t) / ln(t + 1)``, the entropy of the row over its ``t + 1`` allowed keys
      divided by that of the uniform row (0 = one key, 1 = uniform).

    Args:
        weights: attention weights ``(L, H, T, T)`` (or ``(H, T, T)``), causal rows summing to 1.
        start: first query position averaged over.
        boundary: optional bool ``(T,)`` marking special keys (word boundaries).
        window: width of the ``local`` window.

    Returns:
        ``{"prev", "first", "self", "local", "entropy"}`` (+ ``"boundary"``), each an array ``(L, H)``
        (or ``(H,)``).

    Raises:
        ValueError: ``T <= start``.
    """
    w = weights.detach().double()
    T = w.shape[-1]
    if T <= start:
        raise ValueError(f"need more than start={start} positions, got T={T}")
    t = torch.arange(start, T)  # (n,)
    n = torch.arange(len(t))  # (n,)
    rows = w[..., start:, :]  # (..., n, T)
    keys = torch.arange(T)  # (T,)
    near = (keys[None, :] <= t[:, None]) & (keys[None, :] > t[:, None] - window)  # (n, T)
    plogp = torch.where(rows > 0, rows * rows.clamp_min(1e-300).log(), torch.zeros_like(rows))
    parts = {
        "prev": rows[..., n, t - 1],  # (..., n)
        "first": rows[..., 0],
        "self": rows[..., n, t],
        "local": (rows * near).sum(-1),
        "entropy": -plogp.sum(-1) / torch.log(t.double() + 1.0),
    }
    if boundary is not None:
        parts["boundary"] = (rows * boundary.to(rows.dtype)).sum(-1)
    return {k: v.mean(-1).numpy() for k, v in parts.items()}


def induction_scores(weights: Tensor, period: int) -> np.ndarray:
    """Mean attention from each token of the second copy of a repeated sequence to the token that followed
    its earlier occurrence (key ``t - period + 1``), the prefix-matching score of Olsson et al. 2022
    ("In-context learning and induction heads", arXiv 2209.11895).

    Args:
        weights: ``(..., T, T)`` weights on a sequence whose second half repeats its first (``T = 2 period``).
        period: length of the repeated block.

    Returns:
        Array of the leading shape (e.g. ``(L, H)``); a uniform head scores about ``1 / t``.

    Raises:
        ValueError: ``T < 2 period``.
    """
    T = weights.shape[-1]
    if T < 2 * period:
        raise ValueError(f"need T >= 2 * period = {2 * period}, got T={T}")
    t = torch.arange(period, 2 * period)  # (period,)
    picked = weights.detach().double()[..., t, t - period + 1]  # (..., period)
    return picked.mean(-1).numpy()


def uniform_weight(first: int, last: int) -> float:
    """Mean weight ``mean_t 1 / (t + 1)`` a uniform causal head puts on one key, over queries ``first..last-1``."""
    return float(np.mean([1.0 / (t + 1) for t in range(first, last)]))


def classify_head(scores: Mapping[str, float], thresholds: Mapping[str, float] | None = None) -> str:
    """Label one head from its scores (see :data:`~llmkb.lab.topics.attention.names.KINDS`), trying in order:

    1. the strongest of ``prev``, ``first``, ``self``, if at least ``focus`` (0.4): ``previous-token``,
       ``first-token`` or ``self``;
    2. ``boundary`` at least ``boundary`` (0.5): ``word-boundary``;
    3. ``induction`` at least ``induction`` (0.3): ``induction``;
    4. ``local`` at least ``local`` (0.7): ``local``;
    5. normalized ``entropy`` at least ``broad`` (0.75): ``broad``; else ``mixed``.

    Args:
        scores: ``prev``, ``first``, ``self``, ``entropy``; optionally ``boundary``, ``induction``,
            ``local`` (missing ones count as 0).
        thresholds: overrides of :data:`~llmkb.lab.topics.attention.names.THRESHOLDS` (keys ``focus``,
            ``boundary``, ``induction``, ``local``, ``broad``).

    Returns:
        One of the kinds.
    """
    th = {**THRESHOLDS, **(thresholds or {})}
    focus = {"previous-token": scores["prev"], "first-token": scores["first"], "self": scores["self"]}
    kind, best = max(focus.items(), key=lambda kv: kv[1])
    if best >= th["focus"]:
        return kind
    for name, key in (("word-boundary", "boundary"), ("induction", "induction"), ("local", "local")):
        if scores.get(key, 0.0) >= th[key]:
            return name
    return "broad" if scores["entropy"] >= th["broad"] else "mixed"


def word_starts(text: str) -> tuple[list[int], list[str]]:
    """Positions where a word starts in ``text`` (after a space, or at 0) and the words.

    Example:
        ```python
        from llmkb.lab.topics.attention.analysis import word_starts

        assert word_starts("a bc  d") == ([0, 2, 6], ["a", "bc", "d"])
        ```
    """
    pos, words = [], []
    for i, ch in enumerate(text):
        if ch != " " and (i == 0 or text[i - 1] == " "):
            pos.append(i)
            words.append(text[i:].split(" ", 1)[0])
    return pos, words
