"""What the KV cache costs in memory: the closed form, the weights it competes with, the bytes a decode step
reads per FLOP, and the resident memory a filled cache costs a process (measured in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from llmkb.lab.kit.memory import human_bytes, kv_bytes, weight_bytes
from llmkb.nn import GPTConfig, count_parameters

__all__ = [
    "RSS_PROBE",
    "decode_flop_per_byte",
    "measure_rss",
    "overtaking_batch",
    "scale_rows",
]


def overtaking_batch(config: GPTConfig, seq_len: int, dtype: torch.dtype) -> int:
    """The smallest batch whose cache at ``seq_len`` positions holds more bytes than the weights.

    ``B* = floor(N b / M_1) + 1`` with ``M_1`` the cache of one sequence ([`kv_bytes`][llmkb.lab.kit.memory.kv_bytes]).
    """
    return weight_bytes(config, dtype) // kv_bytes(config, seq_len, dtype) + 1


def decode_flop_per_byte(
    config: GPTConfig, seq_len: int, dtype: torch.dtype, batch_size: int | None = 1
) -> float:
    """Arithmetic intensity of one cached decode step: FLOPs done per byte read from memory.

    Each of ``B`` sequences does ``2 N_b + 2 V d`` FLOPs through the weights and ``4 L d T`` in attention over
    ``T`` cached positions (Kaplan et al. 2020; Pope et al. 2022). The step reads the block weights and the LM
    head once, ``(N_b + V d) b`` bytes, and every sequence's cache, ``M_1`` bytes each:

    ``I = B (2 N_b + 2 V d + 4 L d T) / ((N_b + V d) b + B M_1)``

    Args:
        config: model configuration.
        seq_len: cached positions ``T``.
        dtype: element type of weights and cache.
        batch_size: ``B``; ``None`` for the limit ``B -> inf``, where only the cache is read per FLOP.
    """
    d, vocab = config.d_model, config.vocab_size
    body = count_parameters(config, exclude_embeddings=True)
    flops = 2 * body + 2 * vocab * d + 4 * config.n_layers * d * seq_len
    cache = kv_bytes(config, seq_len, dtype)
    if batch_size is None:
        return flops / cache
    weights = (body + vocab * d) * torch.empty((), dtype=dtype).element_size()
    return batch_size * flops / (weights + batch_size * cache)


def scale_rows(configs: dict[str, GPTConfig], dtype: torch.dtype = torch.bfloat16) -> list[dict[str, Any]]:
    """One row per model at its own context (``max_seq_len``), never beyond it.

    Args:
        configs: ``{name: config}``.
        dtype: element type of weights and cache.

    Returns:
        Row dicts: the shape, ``KiB / token`` of cache, the cache of one sequence at full context, the weights,
        the batch from which the cache outweighs the weights
        ([`overtaking_batch`][llmkb.lab.topics.kv_cache.analysis_memory.overtaking_batch]) and the FLOPs per byte
        of a decode step at batch 1 and as the batch grows without bound
        ([`decode_flop_per_byte`][llmkb.lab.topics.kv_cache.analysis_memory.decode_flop_per_byte]).
    """
    rows = []
    for name, c in configs.items():
        t = c.max_seq_len
        rows.append(
            {
                "model": name,
                "context": t,
                "layers": c.n_layers,
                "kv heads": c.kv_heads,
                "head dim": c.head_dim,
                "KiB / token": kv_bytes(c, 1, dtype) / 1024,
                "cache at full context": human_bytes(kv_bytes(c, t, dtype)),
                "weights": human_bytes(weight_bytes(c, dtype)),
                "cache > weights from batch": overtaking_batch(c, t, dtype),
                "decode FLOP/byte, batch 1": round(decode_flop_per_byte(c, t, dtype, 1), 2),
                "decode FLOP/byte, any batch": round(decode_flop_per_byte(c, t, dtype, None), 1),
            }
        )
    return rows


RSS_PROBE = r"""
import ctypes, gc, json, sys
from pathlib import Path
import torch
from llmkb.nn import GPTConfig, KVCache

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

spec = json.loads(sys.argv[1])
cfg = GPTConfig.from_dict(spec["config"])
keep, out = [], []
warm = KVCache(cfg, 1, 16)  # first use of the allocator and of update() costs a little extra
warm.update(0, torch.ones(1, cfg.kv_heads, 16, cfg.head_dim), torch.ones(1, cfg.kv_heads, 16, cfg.head_dim))
for dtype_name, T in spec["runs"]:
    dtype = getattr(torch, dtype_name)
    chunk = torch.ones(1, cfg.kv_heads, min(256, T), cfg.head_dim, dtype=dtype)  # (1, H_kv, c, D)
    gc.collect()
    ctypes.CDLL(None).malloc_trim(0)  # free heap pages go back to the system: the cache cannot reuse them unseen
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark (VmHWM)
    before = status("VmRSS")
    cache = KVCache(cfg, 1, T, dtype=dtype)
    for s in range(0, T, chunk.shape[2]):
        n = min(chunk.shape[2], T - s)
        for layer in range(cfg.n_layers):
            cache.update(layer, chunk[:, :, :n], chunk[:, :, :n])
        cache.advance(n)
    out.append({"rss_delta": status("VmRSS") - before, "peak_delta": status("VmHWM") - before,
                "nbytes": cache.nbytes})
    keep.append(cache)  # stays alive, so the next cache cannot reuse its pages
print(json.dumps(out))
"""
"""Run in a fresh interpreter: allocate and fill caches of increasing size, report what RSS paid for each."""


def measure_rss(config: GPTConfig, runs: list[tuple[str, int]]) -> list[dict[str, float]]:
    """Resident-memory cost of filled [`KVCache`][llmkb.nn.KVCache]s, measured in a fresh process.

    A fresh interpreter has no freed heap memory lying around, and every cache is kept alive while the next
    is measured, so each increase of the resident set size (``VmRSS``) and of its peak (``VmHWM``, reset
    before each allocation) is what that cache cost the process. Linux only (``/proc``); elsewhere the
    values are NaN.

    Args:
        config: model configuration (layers, key/value heads, head width).
        runs: ``(torch dtype name, positions)`` pairs, measured in order.

    Returns:
        One dict per run: ``rss_delta``, ``peak_delta``, ``nbytes`` (bytes).

    Raises:
        RuntimeError: the probe process failed (with the end of its error output).
    """
    nan = {"rss_delta": float("nan"), "peak_delta": float("nan"), "nbytes": float("nan")}
    if not Path("/proc/self/clear_refs").exists():
        return [dict(nan) for _ in runs]
    spec = json.dumps({"config": config.to_dict(), "runs": runs})
    proc = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, spec], capture_output=True, text=True, timeout=600, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"RSS probe failed: {proc.stderr[-2000:]}")
    return [{k: float(v) for k, v in r.items()} for r in json.loads(proc.stdout)]
