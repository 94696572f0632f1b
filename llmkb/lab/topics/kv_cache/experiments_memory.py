"""``kv-cache/memory``: cache bytes against the closed form, the RSS a filled cache costs, and published shapes."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from llmkb.lab import RunContext
from llmkb.lab.kit import table
from llmkb.lab.kit.memory import kv_bytes
from llmkb.lab.topics.kv_cache.analysis_memory import measure_rss, scale_rows
from llmkb.lab.topics.kv_cache.names import PUBLIC_CONFIGS, SHARED_NAME, TOPIC
from llmkb.lab.topics.kv_cache.text import overtaking_sentence
from llmkb.nn import GPTConfig, KVCache

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@TOPIC.experiment(
    "memory",
    profiles={
        "quick": {"lengths": [16, 256, 1024], "rss_lengths": [1024, 4096], "kv_heads": [4, 2, 1]},
        "full": {
            "lengths": [16, 64, 256, 1024, 4096, 16384],
            "rss_lengths": [2048, 4096, 8192, 16384, 32768],
            "kv_heads": [4, 2, 1],
        },
    },
    title="KV-cache bytes vs sequence length: closed form, tensor storage and process RSS",
)
def memory(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Check ``KVCache.nbytes`` and the tensors' storage against the formula (fail on any difference); measure
    RSS deltas; tabulate the formula, the weights and the decode intensity for published shapes (bf16)."""
    base = GPTConfig.preset("shared")
    rows = []
    for name, dt in _DTYPES.items():
        for heads in cfg["kv_heads"]:
            conf = dataclasses.replace(base, n_kv_heads=heads)
            for t in cfg["lengths"]:
                cache = KVCache(conf, 1, t, dtype=dt)
                storage = sum(x.untyped_storage().nbytes() for x in (*cache.k, *cache.v))
                formula = kv_bytes(conf, t, dt)
                if not cache.nbytes == storage == formula:
                    raise AssertionError(
                        f"{name} kv_heads={heads} T={t}: {cache.nbytes=} {storage=} {formula=}"
                    )
                rows.append(
                    {"dtype": name, "kv heads": heads, "T": t, "formula": formula, "nbytes": cache.nbytes}
                )
    dtype_names = {"fp32": "float32", "bf16": "bfloat16"}
    runs = [(dtype_names[name], t) for t in cfg["rss_lengths"] for name in _DTYPES]
    measured = measure_rss(base, runs)
    rss: dict[str, dict[str, np.ndarray]] = {}
    for name in _DTYPES:
        mine = [m for (dn, _), m in zip(runs, measured, strict=True) if dn == dtype_names[name]]
        rss[name] = {k: np.array([m[k] for m in mine]) for k in ("rss_delta", "peak_delta", "nbytes")}
    big = max(cfg["rss_lengths"])
    scale = scale_rows({SHARED_NAME: base, **{n: GPTConfig.from_dict(c) for n, c in PUBLIC_CONFIGS.items()}})
    return {
        "table": table(
            [
                {**r, "formula": f"{r['formula']:,}", "nbytes": f"{r['nbytes']:,}"}
                for r in rows
                if r["kv heads"] == base.kv_heads or r["T"] == 1024
            ]
        ),
        "checked_caches": len(rows),
        "lengths": np.array(cfg["lengths"]),
        "rss_lengths": np.array(cfg["rss_lengths"]),
        "rss": rss,
        "per_token_bytes": kv_bytes(base, 1, torch.float32),
        "rss_ratio_largest": float(rss["fp32"]["rss_delta"][-1] / rss["fp32"]["nbytes"][-1]),
        "largest": {"T": big, "MiB": kv_bytes(base, big, torch.float32) / 2**20},
        "scale": table(scale),
        "overtaking": overtaking_sentence(scale),
        "overtaking_batch": {r["model"]: r["cache > weights from batch"] for r in scale},
        "intensity_batch1": {r["model"]: r["decode FLOP/byte, batch 1"] for r in scale},
        "shape": {"n_layers": base.n_layers, "kv_heads": base.kv_heads, "head_dim": base.head_dim},
    }
