"""Pure functions of the inference-stacks lab: latency statistics from per-token timestamps, ratios, perplexity."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def latency_stats(stamps: Sequence[float], batch: int, prompt_len: int) -> dict[str, float]:
    """Serving metrics of one greedy generation from the time at which each new token was appended.

    ``stamps[i]`` is the time (seconds since the call began) when token ``i + 1`` of every row was ready.
    The first token needs the prefill, so:

    * time to first token ``TTFT = stamps[0]``; prefill tokens/s ``= B P / TTFT``;
    * per-token latencies ``l_i = stamps[i] - stamps[i - 1]`` for ``i >= 1``, their p50 and p95 (ms);
    * decode tokens/s ``= B (n - 1) / (stamps[-1] - stamps[0])`` (every row gains one token per step).

    Args:
        stamps: ``n >= 2`` non-decreasing times, seconds.
        batch: rows ``B``.
        prompt_len: prompt tokens ``P`` per row.

    Example:
        ```python
        from llmkb.lab.topics.inference_stacks.analysis import latency_stats

        s = latency_stats([0.5, 0.6, 0.7, 0.8], batch=2, prompt_len=50)
        assert round(s["ttft_ms"]) == 500 and round(s["prefill_tok_s"]) == 200
        assert round(s["decode_tok_s"]) == 20 and round(s["p50_ms"]) == 100
        ```
    """
    t = np.asarray(stamps, dtype=np.float64)
    if t.ndim != 1 or len(t) < 2 or (np.diff(t) < 0).any() or t[0] <= 0:
        raise ValueError("stamps must be >= 2 positive, non-decreasing times")
    lat = np.diff(t)
    return {
        "ttft_ms": 1e3 * float(t[0]),
        "prefill_tok_s": batch * prompt_len / float(t[0]),
        "decode_tok_s": batch * (len(t) - 1) / max(float(t[-1] - t[0]), 1e-12),
        "p50_ms": 1e3 * float(np.percentile(lat, 50)),
        "p95_ms": 1e3 * float(np.percentile(lat, 95)),
    }


def median_stats(runs: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Field-wise median of several runs' [`latency_stats`][llmkb.lab.topics.inference_stacks.analysis.latency_stats]."""
    if not runs:
        raise ValueError("no runs")
    return {k: float(np.median([r[k] for r in runs])) for k in runs[0]}


def ratios_to(
    rows: Sequence[dict[str, Any]], reference: str, key: str = "decode_tok_s"
) -> dict[tuple, float]:
    """``{(batch, prompt_len, runtime): rows' key / reference's key at the same batch and prompt}``."""
    ref = {(r["batch"], r["prompt_len"]): r[key] for r in rows if r["runtime"] == reference}
    return {
        (r["batch"], r["prompt_len"], r["runtime"]): r[key] / ref[(r["batch"], r["prompt_len"])] for r in rows
    }


def perplexity(logits: np.ndarray, targets: np.ndarray) -> float:
    """``exp(mean NLL)`` of ``targets`` ``(N, T)`` under ``logits`` ``(N, T, V)`` (computed in float64).

    Example:
        ```python
        import numpy as np
        from llmkb.lab.topics.inference_stacks.analysis import perplexity

        assert abs(perplexity(np.zeros((1, 3, 4)), np.array([[0, 1, 2]])) - 4.0) < 1e-12  # uniform over 4
        ```
    """
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    nll = -np.take_along_axis(logp, np.asarray(targets)[..., None], axis=-1)
    return float(math.exp(nll.mean()))


def token_agreement(reference: np.ndarray, other: np.ndarray) -> float:
    """Fraction of generated positions where two greedy runs chose the same token (1.0: identical)."""
    a, b = np.asarray(reference), np.asarray(other)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return float((a == b).mean())
