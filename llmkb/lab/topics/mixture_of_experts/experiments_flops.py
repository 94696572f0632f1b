"""Counted FLOPs and wall time per token of one layer: dense FFN, sparse top-1/top-2, dense simulation."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from llmkb.lab import RunContext, kit
from llmkb.lab.topics.mixture_of_experts import text
from llmkb.lab.topics.mixture_of_experts.analysis import total_and_active
from llmkb.lab.topics.mixture_of_experts.names import MIXTRAL_8X7B, TOPIC
from llmkb.nn.ffn import SwiGLU
from llmkb.nn.moe import MoE, MoEConfig

METHODS: tuple[str, ...] = ("dense FFN", "sparse top-1", "sparse top-2", "dense simulation")
"""The ways one layer is computed: one dense SwiGLU of the experts' width; routed dispatch with one or two
experts per token; every expert on every token, masked to the top-2 gates."""


def count_flops(fn: Callable[[], Any]) -> int:
    """Forward FLOPs of ``fn()`` as ``torch.utils.flop_counter.FlopCounterMode`` counts them (matmuls)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def seconds_per_call(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(sorted(times)[len(times) // 2])


def _billions(counts: tuple[int, int]) -> dict[str, float]:
    """``{"total": …, "active": …}`` in billions of parameters."""
    return {"total": counts[0] / 1e9, "active": counts[1] / 1e9}


@TOPIC.experiment(
    "flops",
    profiles={
        "quick": {"d_model": 32, "tokens": 32, "experts": [2, 8, 64], "repeats": 1},
        "full": {"d_model": 128, "tokens": 256, "experts": [2, 4, 8, 16, 32, 64], "repeats": 3},
    },
    title="FLOPs (FlopCounterMode) and wall time per token: dense, sparse top-1/top-2, dense simulation",
)
def flops(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """One layer per expert count, random router (near-uniform routing), no capacity limit."""
    d, n = cfg["d_model"], cfg["tokens"]
    width = SwiGLU.default_width(d)
    torch.manual_seed(0)
    x = torch.randn(n, d)
    dense = SwiGLU(d, width)
    points = []
    with torch.no_grad():
        dense_flops = count_flops(lambda: dense(x))
        dense_s = seconds_per_call(lambda: dense(x), cfg["repeats"])
        for e in ctx.progress(cfg["experts"], total=len(cfg["experts"]), desc="flops"):
            layers = {k: MoE(d, width, settings=MoEConfig(n_experts=e, top_k=k)) for k in (1, 2)}
            for k in (1, 2):
                layers[k].load_state_dict(layers[2].state_dict())  # the same experts and router
            calls = {
                "dense FFN": lambda: dense(x),
                "sparse top-1": lambda layer=layers[1]: layer(x),
                "sparse top-2": lambda layer=layers[2]: layer(x),
                "dense simulation": lambda layer=layers[2]: layer.dense_simulation(x),
            }
            for method, fn in calls.items():
                f = dense_flops if method == "dense FFN" else count_flops(fn)
                s = dense_s if method == "dense FFN" else seconds_per_call(fn, cfg["repeats"])
                points.append({"experts": e, "method": method, "flops": f, "flops_per_token": f / n,
                               "us_per_token": 1e6 * s / n})  # fmt: skip
            torch.testing.assert_close(
                layers[2](x), layers[2].dense_simulation(x)
            )  # same numbers, other cost
    at = {(p["experts"], p["method"]): p for p in points}
    ratios = {
        str(e): {
            "sparse_over_simulation": at[(e, "sparse top-2")]["flops"] / at[(e, "dense simulation")]["flops"],
            "sparse_over_dense": at[(e, "sparse top-2")]["flops"] / dense_flops,
            "top1_over_dense": at[(e, "sparse top-1")]["flops"] / dense_flops,
            "time_sparse_over_simulation": at[(e, "sparse top-2")]["us_per_token"]
            / at[(e, "dense simulation")]["us_per_token"],
        }
        for e in cfg["experts"]
    }
    table = [
        {
            "experts": e,
            **{f"{m} (kFLOP/token)": round(at[(e, m)]["flops_per_token"] / 1e3, 1) for m in METHODS},
            "top-2 / simulation": kit.fmt(ratios[str(e)]["sparse_over_simulation"], ".3f"),
        }
        for e in cfg["experts"]
    ]
    time_table = [
        {"experts": e, **{f"{m} (µs/token)": round(at[(e, m)]["us_per_token"], 2) for m in METHODS}}
        for e in cfg["experts"]
    ]
    return {
        "config": cfg,
        "width": width,
        "methods": list(METHODS),
        "points": points,
        "ratios": ratios,
        "table": kit.table(table),
        "time_table": kit.table(time_table),
        "flat": text.flat_phrase(points),
        "overhead": text.overhead_phrase(points),
        "largest": max(cfg["experts"]),
        "time_vs_flops": text.time_vs_flops_phrase(ratios, max(cfg["experts"])),
        "mixtral": _billions(total_and_active(MIXTRAL_8X7B)),
    }
