"""``quantization/errors``: where the error of a quantized model comes from.

One layer at a time quantized harshly (every other layer float), the outliers of each layer's weights and of
the activations it reads, and the error of per-tensor vs per-group scales on the same matrix.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from llmkb.data import TokenDataset
from llmkb.lab import RunContext
from llmkb.lab.kit import table
from llmkb.lab.kit.evals import eval_windows
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.lab.topics.quantization import text
from llmkb.lab.topics.quantization.analysis import (
    error_histograms,
    eval_loss,
    kurtosis,
    layer_kind,
    outlier_ratio,
    parse_spec,
)
from llmkb.lab.topics.quantization.names import TOPIC
from llmkb.quant import quantize_dequantize
from llmkb.quant.awq import collect_inputs
from llmkb.quant.model import quantizable, quantize_model
from llmkb.train.shared_model import SHARED_CORPUS


@TOPIC.experiment(
    "errors",
    profiles={
        "quick": {
            "n_windows": 4,
            "seq_len": 64,
            "harsh": "uint2-g32",
            "compare": ["int4-tensor", "int4-g32"],
        },
        "full": {
            "n_windows": 8,
            "seq_len": 128,
            "harsh": "uint2-g32",
            "compare": ["int4-tensor", "int4-g32"],
        },
    },  # fmt: skip
    needs=[SHARED_MODEL],
    title="Per-layer sensitivity, weight and activation outliers, per-tensor vs per-group error",
)
def errors(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Quantize each block linear alone; measure outliers; histogram the error of two quantizers of one matrix."""
    model, _ = load_shared_model(ctx.need(SHARED_MODEL))
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    windows = eval_windows(data.val, cfg["seq_len"], cfg["n_windows"], seed=0)
    harsh = parse_spec(cfg["harsh"])
    names = quantizable(model)
    state = model.state_dict()
    inputs = collect_inputs(model, windows[:, :-1], names, max_rows=4096)
    with torch.no_grad():
        base = math.exp(eval_loss(model, windows))
        rows = []
        for name in names:
            ppl = math.exp(eval_loss(quantize_model(model, {name: harsh}), windows))
            w, x = state[name], inputs[name]
            rows.append({
                "layer": name.removeprefix("blocks.").removesuffix(".weight"),
                "kind": layer_kind(name),
                "delta": ppl - base,
                "weight outlier": outlier_ratio(w),
                "weight kurtosis": kurtosis(w),
                "activation outlier": float(x.abs().mean(0).max() / x.abs().mean()),
            })  # fmt: skip
    worst = max(range(len(names)), key=lambda i: rows[i]["weight outlier"])
    w = state[names[worst]]
    errs = {s: (quantize_dequantize(w, parse_spec(s)) - w).flatten().numpy() for s in cfg["compare"]}
    mse = {s: float((e**2).mean()) for s, e in errs.items()}
    if not mse[cfg["compare"][1]] < mse[cfg["compare"][0]]:
        raise AssertionError(
            f"{cfg['compare'][1]} must err less than {cfg['compare'][0]} on {names[worst]}: {mse}"
        )
    act_name = max(range(len(names)), key=lambda i: rows[i]["activation outlier"])
    profile = inputs[names[act_name]].abs().mean(0)  # (in,) mean |x| per input channel
    return {
        "base_ppl": base,
        "harsh": harsh.label,
        "rows": rows,
        "table": table(
            [
                {
                    **r,
                    "delta": round(r["delta"], 4),
                    "weight outlier": round(r["weight outlier"], 1),
                    "weight kurtosis": round(r["weight kurtosis"], 1),
                    "activation outlier": round(r["activation outlier"], 1),
                }
                for r in rows
            ]
        ),  # fmt: skip
        "hist": {"layer": rows[worst]["layer"], **error_histograms(errs)},
        "mse": mse,
        "activation": {"layer": rows[act_name]["layer"], "profile": profile.tolist()},
        "text": {"sensitivity": text.sensitivity_phrase(rows)},
    }
