"""``quantization/qat``: post-training quantization against quantization-aware fine-tuning, over seeds."""

from __future__ import annotations

import math
from typing import Any

from llmkb.data import TokenDataset
from llmkb.lab import RunContext
from llmkb.lab.kit.evals import eval_windows, seed_stats
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.lab.topics.quantization import text
from llmkb.lab.topics.quantization.analysis import eval_loss, parse_spec
from llmkb.lab.topics.quantization.names import TOPIC
from llmkb.nn import GPT
from llmkb.quant.model import model_bytes, quantize_model
from llmkb.quant.qat import qat_finetune
from llmkb.train.shared_model import SHARED_CORPUS


@TOPIC.experiment(
    "qat",
    profiles={
        "quick": {
            "specs": ["int3-g128", "uint2-g32"],
            "seeds": [0, 1, 2],
            "steps": 4,
            "every": 2,
            "batch_size": 2,
            "seq_len": 32,
            "lr": 1e-4,
            "n_windows": 4,
            "eval_len": 64,
        },
        "full": {
            "specs": ["int3-g128", "uint2-g32"],
            "seeds": [0, 1, 2],
            "steps": 30,
            "every": 10,
            "batch_size": 4,
            "seq_len": 128,
            "lr": 1e-4,
            "n_windows": 32,
            "eval_len": 128,
        },
    },  # fmt: skip
    needs=[SHARED_MODEL],
    title="PTQ vs QAT at 4 bits and below: recovery curves over seeds, and a float fine-tuning control",
)
def qat(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """For each spec: PTQ's perplexity, then QAT from the float checkpoint per seed, evaluated every few steps."""
    model, _ = load_shared_model(ctx.need(SHARED_MODEL))
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    windows = eval_windows(data.val, cfg["eval_len"], cfg["n_windows"], seed=0)  # the windows of sizes
    base = math.exp(eval_loss(model, windows))
    kw = {k: cfg[k] for k in ("batch_size", "seq_len", "lr")}
    control, _ = qat_finetune(model, None, data.train, cfg["steps"], seed=cfg["seeds"][0], **kw)
    ctl = math.exp(eval_loss(control, windows)) - base  # the same fine-tuning, no quantization
    runs, points, phrases = {}, [], {}
    for name in cfg["specs"]:
        spec = parse_spec(name)
        ptq = math.exp(eval_loss(quantize_model(model, spec), windows)) - base
        curves = []
        for seed in cfg["seeds"]:
            curve: list[tuple[int, float]] = []

            def record(step: int, m: GPT, curve: list[tuple[int, float]] = curve) -> None:
                curve.append((step, math.exp(eval_loss(m, windows)) - base))

            final, _ = qat_finetune(model, spec, data.train, cfg["steps"], seed=seed, callback=record,
                                    every=cfg["every"], **kw)  # fmt: skip
            curves.append(curve)
        if any(abs(c[0][1] - ptq) > 1e-9 for c in curves):
            raise AssertionError("QAT must start from the PTQ model")
        stats = seed_stats([c[-1][1] for c in curves])
        runs[spec.label] = {"ptq": ptq, "steps": [s for s, _ in curves[0]], "curves": [[d for _, d in c] for c in curves],
                            "final": stats}  # fmt: skip
        loss = math.log(base + stats["mean"])
        points.append({"name": f"QAT {spec.label}", "bytes": model_bytes(model, spec), "loss": loss})
        phrases[spec.label] = text.qat_phrase(spec.label, ptq, stats, ctl, cfg["steps"])
    return {"base_ppl": base, "control": ctl, "runs": runs, "points": points, "steps": cfg["steps"], "n_seeds": len(cfg["seeds"]),
            "text": phrases}  # fmt: skip
