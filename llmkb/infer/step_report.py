"""What one decoding step shows: the next-token distribution before and after the filters, and the KV cache.

The in-browser playground re-implements this module in JavaScript and its browser test compares the two, so
this is the reference for both:

* [`step_report`][llmkb.infer.step_report.step_report]: the ``k`` most likely tokens of the model's own
  distribution ``softmax(l)`` and of the sampling distribution ``softmax(pipeline(l, history))`` (the canonical
  pipeline of [`llmkb.infer.sampling`][llmkb.infer.sampling]), each ranked by a stable descending sort (ties:
  lower id first), plus both entropies ``H(P) = -sum_i P_i ln P_i`` in nats;
* [`kv_panel`][llmkb.infer.step_report.kv_panel]: how many positions each layer's cache holds after ``T``
  tokens, its bytes ``2 * n_layers * n_kv_heads * head_dim * T * bytes_per_element`` (the closed form of
  :mod:`llmkb.nn.kv_cache`), and which positions a sliding window of ``W`` would have evicted (Beltagy, Peters
  & Cohan 2020, "Longformer", arXiv 2004.05150; Jiang et al. 2023, "Mistral 7B", arXiv 2310.06825).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from llmkb.infer.sampling import SamplingConfig, entropy, filtered_probs

__all__ = ["StepReport", "step_report", "top_tokens", "KVPanel", "kv_panel"]


@dataclass(frozen=True)
class StepReport:
    """One decoding step as the playground shows it.

    Attributes:
        before: ``(token id, probability)`` of the ``k`` most likely tokens of ``softmax(logits)``.
        after: the same for the sampling distribution (after every filter); filtered tokens have ``p = 0``.
        entropy_before: entropy of the model's distribution, nats.
        entropy_after: entropy of the sampling distribution, nats (0 for greedy).
        survivors: tokens with non-zero probability after the filters.
    """

    before: list[tuple[int, float]]
    after: list[tuple[int, float]]
    entropy_before: float
    entropy_after: float
    survivors: int


def top_tokens(probs: Tensor, k: int) -> list[tuple[int, float]]:
    """The ``k`` largest entries of a distribution ``(V,)`` by a stable descending sort (ties: lower id)."""
    order = torch.sort(probs, descending=True, stable=True).indices[:k]  # (k,)
    return [(int(i), float(probs[i])) for i in order]


def step_report(
    logits: Tensor, config: SamplingConfig, history: Tensor | None = None, k: int = 10
) -> StepReport:
    """Describe the step from last-position ``logits`` ``(V,)`` under ``config``.

    Args:
        logits: next-token logits ``(V,)``; computed in float64 here (as the browser does).
        config: the sampling settings.
        history: token ids so far ``(T,)`` (prompt + generated), for the repetition penalty.
        k: how many tokens to list.

    Returns:
        The [`StepReport`][llmkb.infer.step_report.StepReport].

    Raises:
        ValueError: ``logits`` is not 1-D or ``k < 1``.
    """
    if logits.ndim != 1:
        raise ValueError(f"logits must have shape (V,), got {tuple(logits.shape)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    l64 = logits.double()  # (V,)
    raw = torch.softmax(l64, dim=-1)  # (V,)
    hist = None if history is None else history.reshape(1, -1).long()  # (1, T)
    after = filtered_probs(l64[None, :], config, hist)[0]  # (V,)
    return StepReport(
        before=top_tokens(raw, k),
        after=top_tokens(after, k),
        entropy_before=float(entropy(raw)),
        entropy_after=float(entropy(after)),
        survivors=int((after > 0).sum()),
    )


@dataclass(frozen=True)
class KVPanel:
    """The KV cache after ``length`` tokens.

    Attributes:
        entries_per_layer: positions each layer holds (``length``: nothing is evicted by the model itself).
        bytes: ``2 * n_layers * n_kv_heads * head_dim * length * bytes_per_element``.
        window_kept: positions a window of ``W`` would keep (``min(length, W)``; ``length`` without a window).
        window_evicted: positions it would have dropped, the oldest: ``0 .. evicted - 1``.
        window_bytes: the bytes of the windowed cache.
    """

    entries_per_layer: int
    bytes: int
    window_kept: int
    window_evicted: int
    window_bytes: int


def kv_panel(
    n_layers: int,
    n_kv_heads: int,
    head_dim: int,
    length: int,
    window: int | None = None,
    bytes_per_element: int = 4,
) -> KVPanel:
    """The cache of a model of this shape after ``length`` positions, with and without a window ``W``.

    Raises:
        ValueError: a negative length or a window below 1.
    """
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if window is not None and window < 1:
        raise ValueError(f"window must be >= 1 (or None), got {window}")
    per_position = 2 * n_layers * n_kv_heads * head_dim * bytes_per_element  # k and v, every layer
    kept = length if window is None else min(length, window)
    return KVPanel(
        entries_per_layer=length,
        bytes=per_position * length,
        window_kept=kept,
        window_evicted=length - kept,
        window_bytes=per_position * kept,
    )
