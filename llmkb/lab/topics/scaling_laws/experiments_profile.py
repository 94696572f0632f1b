"""Peak memory of a training step (measured vs formula) and step time, against size, batch and sequence length."""

from __future__ import annotations

import time
from typing import Any

import torch

from llmkb.bench.memory import breakdown, measure_steps
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.memory import human_bytes
from llmkb.lab.topics.scaling_laws.analysis import model_dict
from llmkb.lab.topics.scaling_laws.names import SWEEP, TOPIC
from llmkb.nn import GPT, GPTConfig

PARTS = ("weights", "gradients", "optimizer", "activations")
"""The formula's parts of a training step's memory, in the stacked bars' order."""


def step_seconds(config: GPTConfig, batch_size: int, seq_len: int, repeats: int) -> float:
    """Median seconds of an AdamW training step after one warm-up step."""
    torch.manual_seed(0)
    model = GPT(config)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, config.vocab_size, (batch_size, seq_len))
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        model(x, x).loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return sorted(times[1:])[repeats // 2]


@TOPIC.experiment(
    "profiles",
    profiles={
        "quick": {"width": 16, "batches": [2, 8], "lengths": [16, 32], "repeats": 1, "isolated": False},
        "full": {
            "width": 64,
            "batches": [4, 16, 64],
            "lengths": [32, 64, 128, 256],
            "repeats": 3,
            "isolated": True,
        },
    },  # fmt: skip
    needs=[SWEEP],
    title="Peak memory (measured vs weights + gradients + AdamW + activations) and step time vs size, batch, length",
)
def profiles(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Memory of every sweep size and of one size at several batches and lengths; time at those settings."""
    sw = ctx.need(SWEEP)
    scfg = sw["config"]
    b0, t0 = scfg["train"]["batch_size"], scfg["train"]["seq_len"]
    settings = [("size", w, b0, t0) for w in scfg["widths"]]
    settings += [("batch", cfg["width"], b, t0) for b in cfg["batches"]]
    settings += [("length", cfg["width"], b0, t) for t in cfg["lengths"]]
    specs = [{"model": model_dict({**scfg["model"], "max_seq_len": max(t, scfg["model"]["max_seq_len"])}, w,
                                  scfg["layers"]), "batch_size": b, "seq_len": t} for _, w, b, t in settings]  # fmt: skip
    measured = measure_steps(specs, isolated=cfg["isolated"])
    rows = []
    for (axis, w, b, t), spec, peak in zip(settings, specs, measured, strict=True):
        config = GPTConfig.from_dict(spec["model"])
        parts = breakdown(config, b, t)
        seconds = step_seconds(config, b, t, cfg["repeats"]) if axis != "size" else None
        rows.append({"axis": axis, "width": w, "batch": b, "length": t, "measured": peak, **parts,
                     "s_per_step": seconds, "tokens_per_s": b * t / seconds if seconds else None})  # fmt: skip
    sizes = [r for r in sw["records"]]
    for r, rec in zip([r for r in rows if r["axis"] == "size"], sizes, strict=True):
        r["s_per_step"], r["tokens_per_s"], r["non_embedding"] = (
            rec["s_per_step"],
            rec["tokens_per_s"],
            rec["non_embedding"],
        )
    table = [
        {"setting": f"{r['axis']}: d = {r['width']}, batch {r['batch']} × {r['length']} tokens",
         **{p: human_bytes(r[p]) for p in PARTS}, "formula total": human_bytes(r["total"]),
         "measured peak": human_bytes(r["measured"]), "measured / formula": kit.fmt(r["measured"] / r["total"], ".2f"),
         "ms / step": kit.fmt(1e3 * r["s_per_step"], ".1f"), "tokens / s": round(r["tokens_per_s"])}
        for r in rows
    ]  # fmt: skip
    ratio = [r["measured"] / r["total"] for r in rows]
    act = [r["activations"] / r["total"] for r in rows if r["axis"] == "size"]
    return {
        "config": cfg,
        "rows": rows,
        "parts": list(PARTS),
        "table": kit.table(table),
        "ratio": {"min": min(ratio), "max": max(ratio)},
        "activation_share": {"min": min(act), "max": max(act)},
        "device": "cpu",
        "method": "in a subprocess whose allocator returns large blocks to the system"
        if cfg["isolated"]
        else "in the lab's own process, where the allocator reuses freed memory and the figures undercount",
    }
