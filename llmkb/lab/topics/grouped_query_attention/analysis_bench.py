"""Timing of one model's decode steps and prefill, with its KV cache checked against the formula."""

from __future__ import annotations

import statistics
import time

import torch

from llmkb.lab.topics.grouped_query_attention.analysis import kv_bytes
from llmkb.nn import GPT, KVCache

__all__ = ["checked_cache", "decode_seconds", "prefill_seconds"]


def checked_cache(model: GPT, batch: int, capacity: int) -> KVCache:
    """A filled [`KVCache`][llmkb.nn.KVCache] whose allocated bytes equal ``2 L H_kv D T B b``.

    The buffers are written (not left as fresh zero pages, which would read from one shared page and
    hide the memory traffic) and the storage behind every tensor is counted.

    Raises:
        AssertionError: the allocation differs from the formula.
    """
    cfg = model.config
    dtype = next(model.parameters()).dtype
    cache = KVCache(cfg, batch, capacity, dtype=dtype)
    buffers = [*cache.k, *cache.v]
    for t in buffers:
        t.fill_(0.01)
    allocated = sum(t.untyped_storage().nbytes() for t in buffers)
    want = kv_bytes(cfg, capacity, dtype, batch)
    if not allocated == cache.nbytes == want:
        raise AssertionError(
            f"KV cache holds {allocated} bytes ({cache.nbytes} reported), formula says {want}"
        )
    return cache


@torch.no_grad()
def decode_seconds(model: GPT, batch: int, context: int, steps: int, warmup: int = 1) -> tuple[float, int]:
    """Median seconds of one cached decode step of ``batch`` sequences at ``context`` cached positions.

    Returns:
        ``(seconds per step, bytes of the cache)``.
    """
    model.eval()
    cache = checked_cache(model, batch, context + warmup + steps)
    cache.advance(context)
    token = torch.zeros(batch, 1, dtype=torch.long)
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        model(token, kv_cache=cache)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times), cache.nbytes


@torch.no_grad()
def prefill_seconds(model: GPT, batch: int, context: int, repeats: int) -> float:
    """Median seconds to run a ``batch x context`` prompt through ``model`` into a fresh cache."""
    model.eval()
    idx = torch.randint(
        0, model.config.vocab_size, (batch, context), generator=torch.Generator().manual_seed(0)
    )
    times = []
    for _ in range(repeats + 1):
        cache = KVCache(model.config, batch, context)
        start = time.perf_counter()
        model(idx, kv_cache=cache)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])
