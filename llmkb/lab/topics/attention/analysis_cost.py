"""The price of attention: how an unscaled softmax saturates with the head width, and what the weights weigh."""

from __future__ import annotations

import math

import torch

__all__ = ["attention_matrix_bytes", "softmax_stats", "softmax_saturation"]


def softmax_stats(scores: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-row statistics of ``p = softmax(s)`` over the last axis (``K`` keys), each of shape ``scores.shape[:-1]``.

    * ``entropy``: ``-sum p log p / ln K`` (1 = uniform, 0 = one key);
    * ``max``: the largest weight;
    * ``keys``: the effective number of keys ``1 / sum p^2`` (``K`` for a uniform row, 1 for one-hot);
    * ``grad``: the Frobenius norm of the softmax Jacobian ``diag(p) - p p^T``, from
      ``||J||_F^2 = sum p^2 - 2 sum p^3 + (sum p^2)^2`` (no ``K x K`` matrix is built).

    Args:
        scores: ``(..., K)`` logits (``K >= 2``).

    Returns:
        ``{"entropy", "max", "keys", "grad"}``.
    """
    p = torch.softmax(scores.double(), dim=-1)  # (..., K)
    plogp = torch.where(p > 0, p * p.clamp_min(1e-300).log(), torch.zeros_like(p))
    s2, s3 = p.pow(2).sum(-1), p.pow(3).sum(-1)
    return {
        "entropy": -plogp.sum(-1) / math.log(p.shape[-1]),
        "max": p.max(-1).values,
        "keys": 1.0 / s2,
        "grad": (s2 - 2 * s3 + s2.pow(2)).clamp_min(0).sqrt(),
    }


def softmax_saturation(
    dims: list[int], n_keys: int, trials: int, seed: int = 0, chunk_elements: int = 2**24
) -> list[dict[str, float]]:
    """:func:`softmax_stats` of ``softmax(q . k_j)`` and ``softmax(q . k_j / sqrt(d))`` for random unit-variance
    ``q, k`` of width ``d``, averaged over ``trials`` queries with ``n_keys`` keys each.

    With independent ``N(0, 1)`` components, ``q . k`` has variance ``d``: without scaling the scores spread
    as ``sqrt(d)`` and the softmax approaches a one-hot vector; dividing by ``sqrt(d)`` keeps unit variance
    (Vaswani et al. 2017, arXiv 1706.03762, footnote 4).

    Args:
        dims: head widths ``d`` to try.
        n_keys: keys per query.
        trials: queries per width.
        seed: random seed.
        chunk_elements: keys are drawn in batches of at most this many numbers (bounds the memory).

    Returns:
        One row per ``d``: ``score_std`` (of the unscaled scores), then ``entropy``, ``max``, ``keys`` and
        ``grad`` of :func:`softmax_stats`, each as ``<stat>_raw`` (unscaled) and ``<stat>_scaled``.
    """
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for d in dims:
        per = max(1, chunk_elements // (n_keys * d))
        raw = torch.cat(
            [
                torch.bmm(
                    torch.randn(n, n_keys, d, generator=gen),  # (n, K, d) keys
                    torch.randn(n, d, 1, generator=gen),  # (n, d, 1) queries
                )[..., 0].double()  # (n, K) scores q . k_j
                for n in [min(per, trials - i) for i in range(0, trials, per)]
            ]
        )  # (N, K)
        row: dict[str, float] = {"d": d, "score_std": float(raw.std())}
        for name, s in (("raw", raw), ("scaled", raw / math.sqrt(d))):
            for stat, value in softmax_stats(s).items():
                row[f"{stat}_{name}"] = float(value.mean())
        rows.append(row)
    return rows


def attention_matrix_bytes(batch: int, heads: int, T: int, bytes_per_element: int = 4) -> int:
    """Bytes of one layer's attention weights ``(B, H, T, T)``: ``B H T^2`` elements."""
    return batch * heads * T * T * bytes_per_element
