"""``quantization/sizes``: held-out perplexity against stored bytes for every way of storing the shared model."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from llmkb.data import TokenDataset
from llmkb.export.gguf import write_gguf
from llmkb.export.gguf_reference import gguf_forward, gguf_state_dict
from llmkb.lab import RunContext
from llmkb.lab.kit import fmt, table
from llmkb.lab.kit.evals import eval_windows
from llmkb.lab.kit.memory import human_bytes
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.lab.topics.quantization import text
from llmkb.lab.topics.quantization.analysis import eval_loss, pareto, parse_spec
from llmkb.lab.topics.quantization.names import LLAMA_CPP, QAT, TOPIC
from llmkb.nn import GPT
from llmkb.quant.awq import awq_model, awq_scales
from llmkb.quant.gptq import gptq_model
from llmkb.quant.model import clone_model, model_bytes, quantizable, quantize_model
from llmkb.train.shared_model import SHARED_CORPUS

_RTN_FULL = ["int8-channel", "int4-g32", "int4-g64", "int4-g128", "uint4-g128", "int4-channel", "int3-g32",
             "int3-g128", "uint2-g32"]  # fmt: skip


def weight_error(model: GPT, other: GPT) -> float:
    """Relative error of the block linears, ``sum ||W - W_hat||^2 / sum ||W||^2`` over every quantizable weight."""
    a, b = model.state_dict(), other.state_dict()
    names = quantizable(model)
    num = sum(float(((a[n] - b[n]) ** 2).sum()) for n in names)
    return num / sum(float((a[n] ** 2).sum()) for n in names)


def _rounded(model: GPT, dtype: torch.dtype) -> GPT:
    """A copy whose weights are rounded to ``dtype`` (and computed in float32)."""
    return clone_model(model, {k: v.to(dtype).float() for k, v in model.state_dict().items()})


def _from_gguf(model: GPT, path: Any) -> GPT:
    """The model as the GGUF file stores it: every tensor read back and dequantized."""
    _, sd = gguf_state_dict(path)
    return clone_model(model, {k: torch.from_numpy(v.astype(np.float32)) for k, v in sd.items()})


@TOPIC.experiment(
    "sizes",
    profiles={
        "quick": {
            "n_windows": 4,
            "seq_len": 64,
            "calib_windows": 2,
            "grid": 4,
            "groups": [32, 128],
            "rtn": ["int8-channel", "int4-g32", "int4-g128", "int3-g128", "uint2-g32"],
            "awq": ["int3-g128"],
            "gptq": ["int3-g128"],
        },
        "full": {
            "n_windows": 32,
            "seq_len": 128,
            "calib_windows": 8,
            "grid": 20,
            "groups": [32, 64, 128],
            "rtn": _RTN_FULL,
            "awq": ["int3-g128", "uint2-g32"],
            "gptq": ["int3-g128", "uint2-g32"],
        },
    },  # fmt: skip
    needs=[SHARED_MODEL, QAT],
    title="Held-out perplexity vs model bytes: float, int8/int4/int3/int2, AWQ, GPTQ, QAT and GGUF files",
)
def sizes(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Evaluate each variant on the same held-out windows; GGUF variants are written to files and read back."""
    model, _ = load_shared_model(ctx.need(SHARED_MODEL))
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    windows = eval_windows(data.val, cfg["seq_len"], cfg["n_windows"], seed=0)
    calib = eval_windows(data.train, cfg["seq_len"], cfg["calib_windows"], seed=1)
    n = model.num_parameters()
    points: list[dict[str, Any]] = []

    def add(name: str, family: str, nbytes: float, m: GPT | None = None, loss: float | None = None) -> None:
        loss = eval_loss(m, windows) if loss is None else loss
        err = None if m is None else weight_error(model, m)
        points.append(
            {"name": name, "family": family, "bytes": float(nbytes), "loss": loss, "weight_error": err}
        )

    with torch.no_grad():
        add("FP32", "float", 4 * n, model)
        add("FP16", "float", 2 * n, _rounded(model, torch.float16))
        add("BF16", "float", 2 * n, _rounded(model, torch.bfloat16))
        for name in cfg["rtn"]:
            spec = parse_spec(name)
            add(spec.label, "round-to-nearest", model_bytes(model, spec), quantize_model(model, spec))
    for name in cfg["awq"]:
        spec = parse_spec(name)
        scales = awq_scales(model, calib, spec, grid=cfg["grid"])
        with torch.no_grad():
            add(f"{spec.label} AWQ", "AWQ", model_bytes(model, spec), awq_model(model, scales, spec))
    for name in cfg["gptq"]:
        spec = parse_spec(name)
        with torch.no_grad():
            add(
                f"{spec.label} GPTQ", "GPTQ", model_bytes(model, spec), gptq_model(model, calib[:, :-1], spec)
            )
    qat = ctx.need(QAT)
    if abs(qat["base_ppl"] - math.exp(points[0]["loss"])) > 1e-9:
        raise AssertionError("quantization/qat must evaluate on the same windows as quantization/sizes")
    for p in qat["points"]:
        add(p["name"], "QAT", p["bytes"], loss=p["loss"])
    files = {}
    for kind in ("f16", "q8_0", "q4_0"):
        path = write_gguf(model, ctx.out_dir / f"shared-{kind}.gguf", kind)
        files[kind.upper()] = path
        with torch.no_grad():
            add(f"GGUF {kind.upper()}", "GGUF", path.stat().st_size, _from_gguf(model, path))
    probe = windows[0, :32]
    with torch.no_grad():
        ours = _from_gguf(model, files["Q4_0"])(probe[None]).logits[0].double().numpy()
    gap = float(np.abs(gguf_forward(files["Q4_0"], probe.numpy()) - ours).max())
    if gap > 1e-3:
        raise AssertionError(
            f"the Q4_0 file read with llama.cpp's conventions disagrees with the model by {gap}"
        )
    base = points[0]["loss"]
    for p in points:
        p["ppl"] = math.exp(p["loss"])
        p["delta"] = p["ppl"] - math.exp(base)
        p["bits"] = 8 * p["bytes"] / n
    front = pareto([p["bytes"] for p in points], [p["ppl"] for p in points])
    by = {p["name"]: p for p in points}
    groups = [g for g in cfg["groups"] if f"int4 g{g}" in by]
    rows = [{"variant": p["name"], "family": p["family"], "size": human_bytes(p["bytes"]),
             "bits per weight": fmt(p["bits"], ".2f"), "perplexity": fmt(p["ppl"], ".4f"),
             "change": fmt(p["delta"], "+.4f"),
             "weight error": "" if p["weight_error"] is None else fmt(p["weight_error"], ".3%"), "frontier": "yes" if i in front else ""}
            for i, p in enumerate(points)]  # fmt: skip
    delta = {"Q8_0": by["GGUF Q8_0"]["delta"], "Q4_0": by["GGUF Q4_0"]["delta"]}
    awq = [parse_spec(a).label for a in cfg["awq"]]
    noise = max(abs(by[v]["delta"]) for v in ("FP16", "BF16", "GGUF F16"))
    return {
        "points": points,
        "frontier": front,
        "table": table(rows),
        "n_params": n,
        "n_tokens": int(windows.shape[0] * (windows.shape[1] - 1)),
        "fp32_ppl": math.exp(base),
        "noise": noise,
        "ffn_dim": model.config.ffn_dim,
        "gguf_bits": {k.removeprefix("GGUF "): by[k]["bits"] for k in ("GGUF F16", "GGUF Q8_0", "GGUF Q4_0")},
        "gguf": delta,
        "gguf_gap": gap,
        "text": {
            "frontier": text.frontier_phrase([p["name"] for p in points], front),
            "gguf": text.gguf_phrase(delta, LLAMA_CPP, noise),
            "cliff": text.cliff_phrase(by["int4 g128"]["delta"], by["int3 g128"]["delta"]),
            "gptq": "; ".join(
                text.gptq_phrase(
                    by[a]["delta"],
                    by[f"{a} GPTQ"]["delta"],
                    a,
                    by[a]["weight_error"],
                    by[f"{a} GPTQ"]["weight_error"],
                )
                for a in (parse_spec(n).label for n in cfg["gptq"])
            ),  # fmt: skip
            "awq": "; ".join(text.awq_phrase(by[a]["delta"], by[f"{a} AWQ"]["delta"], a) for a in awq),
            "groups": text.group_phrase(
                groups,
                [by[f"int4 g{g}"]["delta"] for g in groups],
                [by[f"int4 g{g}"]["weight_error"] for g in groups],
            ),  # fmt: skip
        },
    }
