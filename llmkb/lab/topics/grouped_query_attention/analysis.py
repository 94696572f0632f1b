"""Pure analysis of the grouped-query attention lab: cache sizes, the decode regime, bandwidth bounds, losses.

The size of a KV cache, its bytes per token and a model's weight bytes come from the lab kit
([`kv_bytes`][llmkb.lab.kit.memory.kv_bytes]), as do the held-out loss windows and the seed statistics
([`llmkb.lab.kit.evals`][llmkb.lab.kit.evals]) — the same formulas the KV-cache and positional labs use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from llmkb.lab.kit.evals import per_position_loss
from llmkb.lab.kit.memory import human_bytes, kv_bytes, weight_bytes
from llmkb.nn import GPT, GPTConfig

__all__ = [
    "bandwidth_rows",
    "fit_decode_cost",
    "heldout_loss",
    "kv_head_counts",
    "kv_share",
    "recovery",
    "unigram_loss",
    "variant_label",
]


def kv_head_counts(n_heads: int) -> list[int]:
    """Key/value head counts from MHA to MQA that divide ``n_heads`` by powers of two: ``8 -> [8, 4, 2, 1]``.

    Raises:
        ValueError: ``n_heads`` is not a power of two (the halving would skip divisors).
    """
    if n_heads < 1 or n_heads & (n_heads - 1):
        raise ValueError(f"n_heads must be a power of two, got {n_heads}")
    counts = [n_heads]
    while counts[-1] > 1:
        counts.append(counts[-1] // 2)
    return counts


def variant_label(n_heads: int, n_kv_heads: int) -> str:
    """``MHA`` (``H_kv = H``), ``MQA`` (``H_kv = 1``) or ``GQA-<H_kv>`` (Ainslie et al.'s naming)."""
    if n_kv_heads == n_heads:
        return "MHA"
    return "MQA" if n_kv_heads == 1 else f"GQA-{n_kv_heads}"


def fit_decode_cost(kv_read: Sequence[float], seconds: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``t = a + b M`` of a decode step's time over the KV bytes ``M`` it reads.

    ``a`` is what a step costs whatever the cache (per-call overhead, the weights, the vocabulary); ``b`` is
    seconds per cached byte (the inverse of the bandwidth the attention reads the cache at). Both are clipped
    at 0: noise must not make reading a cache faster than not reading it.

    Returns:
        ``(a seconds, b seconds per byte)``.
    """
    m, t = np.asarray(kv_read, dtype=np.float64), np.asarray(seconds, dtype=np.float64)
    if m.size < 2 or np.ptp(m) == 0:
        raise ValueError("fit_decode_cost needs at least two different cache sizes")
    b, a = np.polyfit(m, t, 1)
    b = max(float(b), 0.0)
    return max(float(t.mean() - b * m.mean()), 0.0), b


def kv_share(a: float, b: float, kv_read: float) -> float:
    """Share of a step's modelled time spent reading the cache, ``b M / (a + b M)`` (0 when both are 0)."""
    total = a + b * kv_read
    return 0.0 if total <= 0 else b * kv_read / total


@torch.no_grad()
def heldout_loss(model: GPT, windows: torch.Tensor) -> float:
    """Mean next-token cross-entropy (nats) of ``model`` on fixed held-out ``windows`` ``(N, L + 1)``."""
    was_training = model.training
    loss = float(per_position_loss(model, windows).mean())
    model.train(was_training)
    return loss


def unigram_loss(train_ids: torch.Tensor, windows: torch.Tensor, vocab_size: int) -> float:
    """Held-out loss (nats) of predicting every token from training-set frequencies alone, no context.

    ``p(x) = (n_x + 1) / (N + V)`` (add-one smoothing) and the loss is ``-mean ln p`` over the targets
    ``windows[:, 1:]``: the level a model must beat to use any context at all.
    """
    counts = torch.bincount(train_ids, minlength=vocab_size).double() + 1.0  # (V,)
    logp = (counts / counts.sum()).log()
    return float(-logp[windows[:, 1:]].mean())


def recovery(converted: float, uptrained: float, original: float) -> float:
    """Share of the loss lost by the conversion that uptraining won back: ``(c - u) / (c - o)``.

    1 means back at the original MHA model's loss, 0 no better than right after conversion; above 1 the
    uptrained model beats the original. ``nan`` when the conversion lost nothing.
    """
    lost = converted - original
    return float("nan") if lost <= 0 else (converted - uptrained) / lost


def bandwidth_rows(
    models: Mapping[str, Mapping[str, Any]],
    *,
    batch: int,
    bytes_per_s: float,
    dtype: torch.dtype = torch.bfloat16,
) -> list[dict[str, Any]]:
    """The memory-bandwidth bound of decoding for published shapes, as released and as MHA, GQA-8 and MQA.

    One decode step reads every weight once and the whole cache of the batch, so at ``W`` weight bytes, a
    cache of ``M`` bytes and bandwidth ``beta`` a step takes at least ``(W + M) / beta`` seconds and the batch
    decodes at most ``B beta / (W + M)`` tokens per second (Pope et al. 2022, arXiv 2211.05102).

    Args:
        models: ``{name: GPTConfig fields}``; each is shown at its own ``max_seq_len``.
        batch: sequences decoded together.
        bytes_per_s: memory bandwidth.
        dtype: element type of weights and cache.

    Returns:
        One row dict per model and key/value head count.
    """
    rows = []
    for name, fields in models.items():
        base = GPTConfig.from_dict(dict(fields))
        variants = sorted({base.n_heads, 8, 1, base.kv_heads}, reverse=True)
        for n_kv in variants:
            c = GPTConfig.from_dict({**fields, "n_kv_heads": n_kv})
            w, m = weight_bytes(c, dtype), kv_bytes(c, c.max_seq_len, dtype, batch)
            rows.append(
                {
                    "model": name,
                    "attention": variant_label(c.n_heads, n_kv)
                    + (" (released)" if n_kv == base.kv_heads else ""),
                    "KiB / token": kv_bytes(c, 1, dtype) // 1024,
                    "cache": human_bytes(m),
                    "weights": human_bytes(w),
                    "cache share of a step": round(m / (w + m), 2),
                    "tokens/s bound": round(batch * bytes_per_s / (w + m)),
                }
            )
    return rows
