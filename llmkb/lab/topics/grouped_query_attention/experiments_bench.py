"""The benchmark: KV-cache bytes, decode tokens/s over the context and prefill time, from MHA to MQA."""

from __future__ import annotations

from typing import Any

import torch

from llmkb.lab import RunContext, kit
from llmkb.lab.kit.memory import human_bytes, kv_bytes
from llmkb.lab.topics.grouped_query_attention import text
from llmkb.lab.topics.grouped_query_attention.analysis import (
    bandwidth_rows,
    fit_decode_cost,
    kv_head_counts,
    kv_share,
    variant_label,
)
from llmkb.lab.topics.grouped_query_attention.analysis_bench import decode_seconds, prefill_seconds
from llmkb.lab.topics.grouped_query_attention.names import (
    HBM_BYTES_PER_S,
    LLAMA,
    MEMORY_BOUND_SHARE,
    REAL_BATCH,
    REAL_MODELS,
    TOPIC,
)
from llmkb.nn import GPT, GPTConfig, count_parameters

_MODEL = {"vocab_size": 256, "n_layers": 2, "n_heads": 8, "max_seq_len": 64, **LLAMA}


@TOPIC.experiment(
    "bench",
    profiles={
        "quick": {
            "model": _MODEL,
            "widths": {"tiny": 32, "wide": 64},
            "contexts": [16, 32],
            "batch": 2,
            "steps": 2,
            "prefill": {"context": 32, "batch": 1, "repeats": 1},
        },
        "full": {
            "model": _MODEL,
            "widths": {"tiny": 64, "wide": 512},
            "contexts": [256, 512, 1024, 2048],
            "batch": 8,
            "steps": 5,
            "prefill": {"context": 512, "batch": 1, "repeats": 2},
        },
    },
    title="MHA -> GQA -> MQA at two widths: KV-cache bytes, decode tokens/s over the context, prefill time",
)
def bench(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Time cached decode steps and prefill for every key/value head count at two widths.

    Raises:
        AssertionError: an allocated cache differs from ``2 L H_kv D T B b`` (see ``checked_cache``).
    """
    torch.manual_seed(0)
    H, B, contexts = cfg["model"]["n_heads"], cfg["batch"], cfg["contexts"]
    points: list[dict[str, Any]] = []
    prefill: list[dict[str, Any]] = []
    for width in ctx.progress(cfg["widths"], total=len(cfg["widths"]), desc="bench"):
        configs = {n_kv: kit.model_config(cfg, d_model=cfg["widths"][width], n_kv_heads=n_kv)
                   for n_kv in kv_head_counts(H)}  # fmt: skip
        models = {n_kv: GPT(c).eval() for n_kv, c in configs.items()}
        for c in contexts:
            for n_kv, (seconds, allocated) in decode_seconds(models, B, c, cfg["steps"]).items():
                points.append({"width": width, "d_model": configs[n_kv].d_model, "kv_heads": n_kv, "context": c,
                               "kv_read": kv_bytes(configs[n_kv], c, torch.float32, B), "allocated": allocated,
                               "seconds": seconds, "tokens_per_s": B / seconds})  # fmt: skip
        p = cfg["prefill"]
        for n_kv, model in models.items():
            prefill.append({"width": width, "attention": variant_label(H, n_kv),
                            "ms": 1000 * prefill_seconds(model, p["batch"], p["context"], p["repeats"]),
                            "parameters": count_parameters(configs[n_kv])})  # fmt: skip
    fits = {}
    for width in cfg["widths"]:
        sel = [q for q in points if q["width"] == width]
        a, b = fit_decode_cost([q["kv_read"] for q in sel], [q["seconds"] for q in sel])
        fits[width] = {"overhead_ms": 1000 * a, "gb_per_s": 1e-9 / b if b > 0 else None}
        for q in sel:
            q["kv_share"] = kv_share(a, b, q["kv_read"])
            q["regime"] = "memory-bound" if q["kv_share"] >= MEMORY_BOUND_SHARE else "overhead-bound"
    longest = max(contexts)
    rows = [
        {
            "width": f"{q['width']} (d={q['d_model']})",
            "attention": variant_label(H, q["kv_heads"]),
            "KV cache": human_bytes(q["kv_read"]),
            "ms / step": round(1000 * q["seconds"], 2),
            "tokens/s": round(q["tokens_per_s"]),
            "cache share": round(q["kv_share"], 2),
            "regime": q["regime"],
        }
        for q in points
        if q["context"] == longest
    ]
    (real_context,) = {
        GPTConfig.from_dict(f).max_seq_len for f in REAL_MODELS.values()
    }  # one context for all
    real = bandwidth_rows(REAL_MODELS, batch=REAL_BATCH, bytes_per_s=HBM_BYTES_PER_S)
    speedups = {w: text.speedup(points, w, longest, H) for w in cfg["widths"]}
    return {
        "n_heads": H,
        "batch": B,
        "threads": kit.plural(torch.get_num_threads(), "CPU thread"),
        "contexts": contexts,
        "longest": longest,
        "widths": cfg["widths"],
        "n_layers": cfg["model"]["n_layers"],
        "points": points,
        "fits": fits,
        "speedups": speedups,
        "checked_caches": len(points),
        "table": kit.table(rows),
        "prefill": prefill,
        "prefill_table": kit.table([{**r, "ms": round(r["ms"], 2)} for r in prefill]),
        "prefill_context": cfg["prefill"]["context"],
        "regimes": {w: text.regime_phrase(points, w) for w in cfg["widths"]},
        "real": kit.table(real),
        "real_7b": text.real_phrase(real, "Llama 2 7B"),
        "real_70b": text.real_phrase(real, "Llama 2 70B"),
        "real_batch": REAL_BATCH,
        "real_context": real_context,
        "hbm_tb_per_s": HBM_BYTES_PER_S / 1e12,
    }
