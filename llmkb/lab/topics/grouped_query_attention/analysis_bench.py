"""Timing of one model's decode steps and prefill, with its KV cache checked against the formula."""

from __future__ import annotations

import time
from collections.abc import Mapping

import torch

from llmkb.lab.kit.memory import kv_bytes
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
def decode_seconds(
    models: Mapping[int, GPT], batch: int, context: int, rounds: int
) -> dict[int, tuple[float, int]]:
    """Fastest of ``rounds`` cached decode steps of each model, ``batch`` sequences at ``context`` positions.

    The models take turns step by step, so a slow moment of a shared machine hits them all alike, and the
    minimum is kept: interference only ever adds time. A first untimed step reads each cache once.

    Args:
        models: ``{key: model}``, e.g. one per number of key/value heads.
        batch: sequences decoded together.
        context: cached positions before the first timed step.
        rounds: timed steps per model.

    Returns:
        ``{key: (seconds per step, bytes of its cache)}``.
    """
    caches = {}
    token = torch.zeros(batch, 1, dtype=torch.long)
    for key, model in models.items():
        model.eval()
        caches[key] = checked_cache(model, batch, context + 1 + rounds)
        caches[key].advance(context)
        model(token, kv_cache=caches[key])
    best = dict.fromkeys(models, float("inf"))
    for _ in range(rounds):
        for key, model in models.items():
            start = time.perf_counter()
            model(token, kv_cache=caches[key])
            best[key] = min(best[key], time.perf_counter() - start)
    return {key: (best[key], caches[key].nbytes) for key in models}


@torch.no_grad()
def prefill_seconds(model: GPT, batch: int, context: int, repeats: int) -> float:
    """Fastest of ``repeats`` runs of a ``batch x context`` prompt through ``model`` into a fresh cache (after
    one untimed run)."""
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
    return min(times[1:])
