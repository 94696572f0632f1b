"""The block's cost, the {norm} x {FFN} x {position} grid over seeds, and the learning-rate stability sweep."""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import torch

from llmkb.data import TokenDataset
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import eval_windows, per_position_loss, seed_stats
from llmkb.lab.topics.norms_and_activations import text
from llmkb.lab.topics.norms_and_activations.analysis import (
    block_parameters,
    built_block_parameters,
    divergence_lr,
    grid_variants,
    spread,
    tail_mean,
    variant_name,
)
from llmkb.lab.topics.norms_and_activations.names import BASE, GPT2_STYLE, LLAMA_STYLE, REAL_BLOCKS, TOPIC
from llmkb.nn import count_parameters
from llmkb.nn.norm import LayerNorm, RMSNorm
from llmkb.train import train
from llmkb.train.shared_model import SHARED_CORPUS

_MODEL = {**BASE, "d_model": 32, "n_layers": 3, "n_heads": 4, "max_seq_len": 32}
_TRAIN = {"steps": 40, "batch_size": 8, "seq_len": 32, "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 6,
          "weight_decay": 0.1, "eval_every": 0, "eval_batches": 1, "log_every": 10, "dynamics": True}  # fmt: skip
_QUICK_MODEL = {**_MODEL, "d_model": 16, "n_layers": 2, "n_heads": 2}
_QUICK_TRAIN = {**_TRAIN, "steps": 4, "warmup_steps": 1, "log_every": 2}
_AXES = {"norms": ["layernorm", "rmsnorm"], "activations": ["gelu", "swiglu"], "positions": ["pre", "post"]}


def _time_norm(norm: torch.nn.Module, x: torch.Tensor, inner: int) -> float:
    """Seconds for ``inner`` forward+backward passes of ``norm`` on ``x``."""
    start = time.perf_counter()
    for _ in range(inner):
        norm(x).sum().backward()
    return time.perf_counter() - start


@TOPIC.experiment(
    "cost",
    profiles={
        "quick": {"widths": [64, 256], "tokens": 256, "repeats": 3, "inner": 3},
        "full": {"widths": [64, 1024, 4096], "tokens": 256, "repeats": 9, "inner": 3},
    },
    title="Parameters of the modern and GPT-2 blocks by part; LayerNorm vs RMSNorm time alone",
)
def cost(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Count each block's parts by formula (checked against built modules) and time the two norms."""
    blocks = {name: block_parameters(fields) for name, fields in REAL_BLOCKS.items()}
    small = {**_MODEL, **LLAMA_STYLE}
    if block_parameters(small)["total"] != built_block_parameters(small):
        raise AssertionError("the block formula disagrees with the built block")
    speed = []
    for d in cfg["widths"]:
        x = torch.randn(cfg["tokens"], d, requires_grad=True)
        ln, rms = LayerNorm(d, bias=False), RMSNorm(d)
        ratios = []
        for r in range(cfg["repeats"]):  # alternate the order so drift in machine load hits both alike
            pair = [(ln, "ln"), (rms, "rms")] if r % 2 == 0 else [(rms, "rms"), (ln, "ln")]
            t = {name: _time_norm(m, x, cfg["inner"]) for m, name in pair}
            ratios.append(t["rms"] / t["ln"])
        q1, med, q3 = np.percentile(ratios, [25, 50, 75])
        speed.append({"d_model": d, "ratio": float(med), "spread": float((q3 - q1) / 2)})
    table = [
        {"block": name, "d_model": b["d_model"], "FFN width": b["ffn_dim"], "attention": b["attention"],
         "feed-forward": b["feed-forward"], "norms": b["norms"], "total": b["total"]}
        for name, b in blocks.items()
    ]  # fmt: skip
    widest = speed[-1]
    return {
        "blocks": blocks,
        "table": kit.table(table),
        "speed": speed,
        "speed_table": kit.table(
            [
                {
                    "d_model": s["d_model"],
                    "RMSNorm time / LayerNorm time": f"{s['ratio']:.2f} ± {s['spread']:.2f}",
                }
                for s in speed
            ]  # fmt: skip
        ),
        "speed_verdict": text.speed_phrase(
            widest["ratio"], widest["spread"], f"at d_model = {widest['d_model']}"
        ),
        "tokens": cfg["tokens"],
        "llama_ffn_share": blocks["Llama 2 7B"]["feed-forward"] / blocks["Llama 2 7B"]["total"],
    }


@TOPIC.experiment(
    "grid",
    profiles={
        "quick": {"model": _QUICK_MODEL, "train": _QUICK_TRAIN, "seeds": [0], "n_windows": 4, **_AXES},
        "full": {"model": _MODEL, "train": _TRAIN, "seeds": [0, 1, 2], "n_windows": 24, **_AXES},
    },
    title="{LayerNorm, RMSNorm} x {GELU, SwiGLU} x {pre, post}, several seeds, with training dynamics",
)
def grid(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train every variant with every seed on the same batches; held-out loss, tokens/s, dynamics."""
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    windows = eval_windows(data.val, cfg["train"]["seq_len"], cfg["n_windows"], seed=0)
    variants = grid_variants(cfg["norms"], cfg["activations"], cfg["positions"])
    rows = []
    for v in ctx.progress(variants, total=len(variants), desc="grid"):
        mcfg = kit.model_config(cfg, **v)
        runs = [train(mcfg, kit.train_config(cfg, seed=s), data, progress=False) for s in cfg["seeds"]]
        held = [float(per_position_loss(r.model, windows).mean()) for r in runs]
        tps = [statistics.median(rec["tokens_per_s"] for rec in r.history) for r in runs]
        st = seed_stats(held)
        rows.append({
            "variant": variant_name(v["norm"], v["activation"], v["norm_position"]), **v,
            "parameters": count_parameters(mcfg), "ffn_dim": mcfg.ffn_dim, "losses": held, **st,
            "tokens_per_s": tps, "tokens_per_s_mean": float(np.mean(tps)),
            "curve": spread([[rec["train_loss"] for rec in r.history] for r in runs]),
            "layer_grad_norms": np.mean([[rec["layer_grad_norms"] for rec in r.history] for r in runs], 0).tolist(),
            "update_ratio": spread([[rec["update_ratio"] for rec in r.history] for r in runs])["mean"],
        })  # fmt: skip
    by = {(r["norm"], r["activation"], r["norm_position"]): r for r in rows}
    time_ratios = [  # RMSNorm's training time per token over LayerNorm's, per matched pair and seed
        ln / rms
        for (norm, act, pos), r in by.items()
        if norm == "rmsnorm"
        for ln, rms in zip(by[("layernorm", act, pos)]["tokens_per_s"], r["tokens_per_s"], strict=True)
    ]
    speed = seed_stats(time_ratios)
    table = [
        {"variant": r["variant"], "parameters": r["parameters"], "FFN width": r["ffn_dim"],
         "held-out loss, mean ± sd": f"{r['mean']:.3f} ± {r['sd']:.3f}",
         "seed range": f"{r['min']:.3f}–{r['max']:.3f}", "tokens/s": round(r["tokens_per_s_mean"])}
        for r in rows
    ]  # fmt: skip
    best = min(rows, key=lambda r: r["mean"])
    return {
        "config": {k: cfg[k] for k in ("model", "train", "seeds", "n_windows")},
        "rows": rows,
        "table": kit.table(table),
        **kit.training_facts(cfg),
        "n_layers": cfg["model"]["n_layers"],
        "d_model": cfg["model"]["d_model"],
        "verdict": text.grid_phrase(rows),
        "best": best["variant"],
        "gradients": text.gradient_phrase(rows),
        "speed": speed,
        "speed_verdict": text.speed_phrase(speed["mean"], speed["sd"], "in training, per token"),
        "param_range": [min(r["parameters"] for r in rows), max(r["parameters"] for r in rows)],
    }


_SWEEP_VARIANTS = [("pre", GPT2_STYLE), ("pre", LLAMA_STYLE), ("post", GPT2_STYLE), ("post", LLAMA_STYLE)]
_SWEEP_TRAIN = {**_TRAIN, "steps": 20, "dynamics": False, "log_every": 5}


@TOPIC.experiment(
    "stability",
    profiles={
        "quick": {
            "model": _QUICK_MODEL,
            "train": {**_SWEEP_TRAIN, "steps": 3, "log_every": 3},
            "lrs": [1e-2, 1.0],
            "warmups": [0, 1],
            "tail": 2,
        },
        "full": {
            "model": _MODEL,
            "train": {**_SWEEP_TRAIN, "steps": 40},
            "lrs": [1e-2, 3e-2, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.2],
            "warmups": [0, 10],
            "tail": 5,
        },
    },  # fmt: skip
    title="Learning-rate sweeps of pre/post-norm blocks with and without warm-up: divergence learning rates",
)
def stability(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train each variant at each learning rate (with and without warm-up); find where it diverges."""
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    lrs, (no_wu, wu) = cfg["lrs"], cfg["warmups"]
    jobs = [(pos, style, w) for pos, style in _SWEEP_VARIANTS for w in (wu, no_wu)]
    runs = []
    for pos, style, w in ctx.progress(jobs, total=len(jobs), desc="stability"):
        mcfg = kit.model_config(cfg, norm_position=pos, **style)
        initial, final = [], []
        for lr in lrs:
            h = train(
                mcfg, kit.train_config(cfg, lr=lr, min_lr=lr / 10, warmup_steps=w), data, progress=False
            )
            losses = [r["train_loss"] for r in h.history]
            initial.append(losses[0])
            final.append(tail_mean(losses, cfg["tail"]))
        runs.append({"variant": variant_name(style["norm"], style["activation"], pos), "warmup": w,
                     "initial": initial, "final": final, "divergence_lr": divergence_lr(lrs, initial, final)})  # fmt: skip
    rows = []
    for i in range(0, len(runs), 2):
        with_wu, without = runs[i], runs[i + 1]
        inf = float("inf")
        a = with_wu["divergence_lr"] if with_wu["divergence_lr"] is not None else inf
        b = without["divergence_lr"] if without["divergence_lr"] is not None else inf
        rows.append({"variant": with_wu["variant"], "with": with_wu["divergence_lr"],
                     "without": without["divergence_lr"], "needs_warmup": b < a})  # fmt: skip
    top = max(lrs)
    table = [
        {"variant": r["variant"], f"with {wu}-step warm-up": text.lr_phrase(r["with"], top),
         "without warm-up": text.lr_phrase(r["without"], top)}
        for r in rows
    ]  # fmt: skip
    return {
        "lrs": lrs,
        "runs": runs,
        "rows": rows,
        "table": kit.table(table),
        "steps": cfg["train"]["steps"],
        "warmup": wu,
        "tail": cfg["tail"],
        "verdict": text.warmup_phrase(rows),
    }
