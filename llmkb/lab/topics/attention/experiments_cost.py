"""Experiments on random tensors: softmax saturation without ``1/sqrt(d)``, and the quadratic memory of the
weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from llmkb.lab import RunContext, kit
from llmkb.lab.topics.attention.analysis_cost import attention_matrix_bytes, softmax_saturation
from llmkb.lab.topics.attention.names import REAL_HEAD_WIDTHS, TOPIC
from llmkb.lab.topics.attention.text import gradient_note, scaled_range_note, scaling_summary
from llmkb.nn import GPTConfig
from llmkb.nn.attention import causal_mask, scaled_dot_product

__all__ = ["memory", "scaling"]

_SWEEP_COLUMNS = {
    "d": "d",
    "score_std": "std of q·k",
    "max_scaled": "top weight, ÷√d",
    "max_raw": "top weight, raw",
    "keys_scaled": "keys in effect, ÷√d",
    "keys_raw": "keys in effect, raw",
    "grad_scaled": "‖J‖, ÷√d",
    "grad_raw": "‖J‖, raw",
}


def _renamed(row: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    """The row's measured columns under their table labels, to 3 significant digits (``d`` kept as is)."""
    return {label: row[key] if key == "d" else kit.round_sig(row[key], 3) for key, label in columns.items()}


@TOPIC.experiment(
    "scaling",
    profiles={
        "quick": {"dims": [8, 32, 64, 128, 1024], "n_keys": 1024, "trials": 32},
        "full": {"dims": [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], "n_keys": 1024, "trials": 128},
    },
    title="Softmax saturation with and without 1/sqrt(d), at real head widths",
)
def scaling(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Top weight, effective keys, entropy and Jacobian norm of the softmax over random scores, scaled and
    unscaled; the real head widths (GPT-2's, Llama's and the shared model's) must be among ``dims``."""
    widths = dict(REAL_HEAD_WIDTHS) | {GPTConfig.preset("shared").head_dim: "this site's shared model"}
    missing = sorted(set(widths) - set(cfg["dims"]))
    if missing:
        raise ValueError(f"the scaling sweep must include the real head widths {missing}")
    n_keys = int(cfg["n_keys"])
    rows = softmax_saturation(list(cfg["dims"]), n_keys, int(cfg["trials"]))
    by_d = {str(r["d"]): r for r in rows}
    real = [{"d": d, "used by": widths[d]} | _renamed(by_d[str(d)], _SWEEP_COLUMNS) for d in sorted(widths)]
    scaled = [r["entropy_scaled"] for r in rows]
    return {
        "rows": rows,
        "by_d": by_d,
        "n_keys": n_keys,
        "trials": int(cfg["trials"]),
        "widths": {str(d): who for d, who in widths.items()},
        "table": kit.table([_renamed(r, _SWEEP_COLUMNS) for r in rows]),
        "real": kit.table(real),
        "summary": scaling_summary(rows, widths, n_keys),
        "range_note": scaled_range_note(rows),
        "gradient_note": gradient_note(rows),
        "entropy_scaled_min": min(scaled),
        "entropy_scaled_max": max(scaled),
    }


@TOPIC.experiment(
    "memory",
    profiles={
        "quick": {"lengths": [64, 128, 256], "heads": 4, "head_dim": 32},
        "full": {"lengths": [128, 256, 512, 1024, 2048], "heads": 4, "head_dim": 32},
    },
    title="Attention matrix bytes and FLOPs vs sequence length",
)
def memory(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Measured bytes of the materialized weights (vs the formula and vs q, k, v) and FLOPs per length;
    raises unless the bytes equal ``B H T^2 * 4`` and the output equals fused SDPA's."""
    H, D = int(cfg["heads"]), int(cfg["head_dim"])
    gen = torch.Generator().manual_seed(0)
    dtype = torch.float32  # 4 bytes per element, as in the formula
    rows = []
    for T in ctx.progress(list(cfg["lengths"]), desc="lengths"):
        q, k, v = (torch.randn(1, H, T, D, generator=gen, dtype=dtype) for _ in range(3))  # (1, H, T, D)
        with torch.no_grad():
            out, weights = scaled_dot_product(q, k, v, mask=causal_mask(T))  # (1, H, T, D), (1, H, T, T)
            ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # fused: no (T, T) tensor kept
        rows.append(
            {
                "T": T,
                "weights_bytes": int(weights.untyped_storage().nbytes()),
                "formula_bytes": attention_matrix_bytes(1, H, T),
                "qkv_bytes": sum(int(x.untyped_storage().nbytes()) for x in (q, k, v)),
                "gflop": 4 * H * T * T * D / 1e9,  # Q K^T and A V: 2 T^2 D multiply-adds each, per head
                "max_diff_vs_sdpa": float((out - ref).abs().max()),
            }
        )
    all_equal = all(r["weights_bytes"] == r["formula_bytes"] for r in rows)
    max_diff = max(r["max_diff_vs_sdpa"] for r in rows)
    if not all_equal or max_diff > 1e-4:
        raise RuntimeError(f"weights bytes equal B H T^2 4: {all_equal}; largest gap to SDPA {max_diff:.1e}")
    logT = np.log([r["T"] for r in rows])
    slope = {
        name: float(np.polyfit(logT, np.log([r[key] for r in rows]), 1)[0])
        for name, key in (("weights", "weights_bytes"), ("qkv", "qkv_bytes"))
    }
    big = {"heads": 32, "T": 4096, "bytes_per_element": 2, "layers": 32}
    per_layer = attention_matrix_bytes(1, big["heads"], big["T"], big["bytes_per_element"])
    mib = 2**20
    table = [
        {
            "T": r["T"],
            "weights (MiB)": round(r["weights_bytes"] / mib, 3),
            "H·T²·4 B (MiB)": round(r["formula_bytes"] / mib, 3),
            "q, k, v (MiB)": round(r["qkv_bytes"] / mib, 3),
            "GFLOP (QKᵀ, AV)": round(r["gflop"], 4),
        }
        for r in rows
    ]
    return {
        "rows": rows,
        "table": kit.table(table),
        "all_equal": all_equal,
        "max_diff_vs_sdpa": max_diff,
        "slope": slope,
        "largest": rows[-1],
        "largest_mib": rows[-1]["weights_bytes"] / mib,
        "largest_ratio": rows[-1]["weights_bytes"] / rows[-1]["qkv_bytes"],
        "big_model": big
        | {"gib_per_layer": per_layer / 2**30, "gib_all_layers": big["layers"] * per_layer / 2**30},
        "heads": H,
        "head_dim": D,
        "batch": 1,
        "dtype": str(dtype).removeprefix("torch."),
    }
