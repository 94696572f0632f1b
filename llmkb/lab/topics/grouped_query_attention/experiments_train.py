"""Group size vs held-out loss (several seeds), and converting trained MHA models to GQA then uptraining."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmkb.data import TokenDataset
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import eval_windows, seed_stats
from llmkb.lab.kit.memory import kv_bytes
from llmkb.lab.topics.grouped_query_attention import text
from llmkb.lab.topics.grouped_query_attention.analysis import (
    heldout_loss,
    kv_head_counts,
    recovery,
    unigram_loss,
    variant_label,
)
from llmkb.lab.topics.grouped_query_attention.names import LLAMA, QUALITY, TOPIC
from llmkb.nn import GPT, count_parameters
from llmkb.nn.gqa import POOLINGS, convert_mha_to_gqa
from llmkb.train import train
from llmkb.train.shared_model import SHARED_CORPUS

_MODEL = {"vocab_size": 256, "d_model": 64, "n_layers": 2, "n_heads": 4, "max_seq_len": 64, **LLAMA}
_TRAIN = {"steps": 100, "batch_size": 16, "seq_len": 64, "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 10,
          "weight_decay": 0.1, "eval_every": 0, "eval_batches": 1, "log_every": 10}  # fmt: skip
_QUICK = {**_TRAIN, "steps": 6, "warmup_steps": 2}


def _mha_dir(out_dir: Path, seed: int) -> Path:
    return out_dir / f"mha-seed{seed}"


@TOPIC.experiment(
    "quality",
    profiles={
        "quick": {"model": _MODEL, "train": _QUICK, "seeds": [0], "n_windows": 8},
        "full": {"model": _MODEL, "train": _TRAIN, "seeds": [0, 1, 2], "n_windows": 64},
    },
    title="Train the same small model with every number of key/value heads, several seeds: held-out loss",
)
def quality(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train MHA ... MQA with the same data, steps and seeds; keep the MHA checkpoints for ``uptrain``."""
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    windows = eval_windows(data.val, cfg["train"]["seq_len"], cfg["n_windows"], seed=0)
    H = cfg["model"]["n_heads"]
    jobs = [(n_kv, s) for n_kv in kv_head_counts(H) for s in cfg["seeds"]]
    losses: dict[int, list[float]] = {n_kv: [] for n_kv in kv_head_counts(H)}
    for n_kv, seed in ctx.progress(jobs, total=len(jobs), desc="quality"):
        mcfg = kit.model_config(cfg, n_kv_heads=n_kv)
        model = train(mcfg, kit.train_config(cfg, seed=seed), data, progress=False).model
        losses[n_kv].append(heldout_loss(model, windows))
        if n_kv == H:
            model.save(_mha_dir(ctx.out_dir, seed))
    rows = []
    for n_kv, values in losses.items():
        mcfg = kit.model_config(cfg, n_kv_heads=n_kv)
        st = seed_stats(values)
        rows.append({"attention": variant_label(H, n_kv), "kv_heads": n_kv, "parameters": count_parameters(mcfg),
                     "kv_bytes_per_token": kv_bytes(mcfg, 1, torch.float32), "losses": values, **st})  # fmt: skip
    table = [
        {
            "attention": r["attention"],
            "kv heads": r["kv_heads"],
            "parameters": r["parameters"],
            "KV bytes / token": r["kv_bytes_per_token"],
            "held-out loss, mean ± sd": f"{r['mean']:.3f} ± {r['sd']:.3f}",
            "seed range": f"{r['min']:.3f}–{r['max']:.3f}",
        }
        for r in rows
    ]
    return {
        "config": {k: cfg[k] for k in ("model", "train", "seeds", "n_windows")},
        "rows": rows,
        "table": kit.table(table),
        **kit.training_facts(cfg),
        "unigram_loss": unigram_loss(data.train, windows, data.vocab_size),
        "n_heads": H,
        "d_model": cfg["model"]["d_model"],
        "n_layers": cfg["model"]["n_layers"],
        "n_windows": cfg["n_windows"],
        "verdict": text.frontier_phrase(rows),
        "mqa_cache_share": rows[-1]["kv_bytes_per_token"] / rows[0]["kv_bytes_per_token"],
        "mqa_params_share": rows[-1]["parameters"] / rows[0]["parameters"],
    }


@TOPIC.experiment(
    "uptrain",
    profiles={
        "quick": {"targets": [1], "fraction": 0.5, "eval_every": 1, "lr": 3e-3},
        "full": {"targets": [2, 1], "fraction": 0.1, "eval_every": 2, "lr": 3e-3},
    },
    needs=[QUALITY],
    title="Convert the trained MHA models to GQA/MQA (mean-pool vs pick-first), uptrain, compare with scratch",
)
def uptrain(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Convert each seed's MHA model, score it, uptrain it for a fraction of its steps, score it again."""
    q = ctx.need(QUALITY)
    qcfg = q["config"]
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    windows = eval_windows(data.val, qcfg["train"]["seq_len"], qcfg["n_windows"], seed=0)
    steps = max(1, round(cfg["fraction"] * qcfg["train"]["steps"]))
    by_kv = {r["kv_heads"]: r for r in q["rows"]}
    H = q["n_heads"]
    jobs = [(t, m, s) for t in cfg["targets"] for m in POOLINGS for s in qcfg["seeds"]]
    curves: dict[str, list[list[float]]] = {}
    for target, method, seed in ctx.progress(jobs, total=len(jobs), desc="uptrain"):
        model = convert_mha_to_gqa(GPT.load(_mha_dir(q.dir, seed)), target, method)
        curve = [heldout_loss(model, windows)]

        def score(record: dict[str, Any], m: GPT, curve: list[float] = curve) -> None:
            if record["step"] % cfg["eval_every"] == 0 or record["step"] == steps:
                curve.append(heldout_loss(m, windows))

        tc = kit.train_config(
            qcfg, steps=steps, warmup_steps=1, lr=cfg["lr"], min_lr=cfg["lr"] / 10, seed=1000 + seed
        )
        train(model, tc, data, progress=False, callback=score)
        curves.setdefault(f"{target}/{method}", []).append(curve)
    eval_steps = [0, *[s for s in range(1, steps + 1) if s % cfg["eval_every"] == 0 or s == steps]]
    rows = []
    for target in cfg["targets"]:
        for method in POOLINGS:
            c = np.asarray(curves[f"{target}/{method}"])  # (seeds, evals)
            original, scratch = by_kv[H]["mean"], by_kv[target]["mean"]
            rows.append({"target": variant_label(H, target), "kv_heads": target, "method": method,
                         "converted": float(c[:, 0].mean()), "uptrained": float(c[:, -1].mean()),
                         "uptrained_sd": float(c[:, -1].std(ddof=1)) if len(c) > 1 else 0.0,
                         "scratch": scratch, "original": original,
                         "recovery": recovery(float(c[:, 0].mean()), float(c[:, -1].mean()), original),
                         "curve_mean": c.mean(0).tolist(), "curve_sd": c.std(0).tolist()})  # fmt: skip
    table = [
        {
            "to": r["target"],
            "init": r["method"],
            "after conversion": round(r["converted"], 3),
            f"after {steps} steps": round(r["uptrained"], 3),
            "share of the loss won back": kit.fmt(r["recovery"], ".0%"),
            "from scratch": round(r["scratch"], 3),
            "MHA before": round(r["original"], 3),
        }
        for r in rows
    ]
    best = min((r for r in rows if r["method"] == "mean"), key=lambda r: r["kv_heads"])
    return {
        "rows": rows,
        "table": kit.table(table),
        "eval_steps": eval_steps,
        "steps": steps,
        "pretrain_steps": qcfg["train"]["steps"],
        "fraction": steps / qcfg["train"]["steps"],
        "seeds": len(qcfg["seeds"]),
        "lr_share": cfg["lr"] / qcfg["train"]["lr"],
        "verdict": text.uptrain_phrase(rows),
        "mqa_mean": {
            k: best[k] for k in ("target", "converted", "uptrained", "scratch", "original", "recovery")
        },
    }
