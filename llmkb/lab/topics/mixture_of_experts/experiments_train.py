"""Dense vs mixture of experts at equal active and at equal total parameters, several seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from llmkb.data import TokenDataset
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import eval_windows, per_position_loss, seed_stats
from llmkb.lab.topics.mixture_of_experts import text
from llmkb.lab.topics.mixture_of_experts.analysis import variants
from llmkb.lab.topics.mixture_of_experts.names import LLAMA, PROBE_EXPERTS, SWITCH, TOPIC
from llmkb.nn import GPTConfig, count_parameters
from llmkb.nn.moe import ffn_parameters
from llmkb.train import train
from llmkb.train.shared_model import SHARED_CORPUS

_MODEL = {"vocab_size": 256, "d_model": 64, "n_layers": 2, "n_heads": 4, "max_seq_len": 64, **LLAMA}
_TRAIN = {"steps": 30, "batch_size": 16, "seq_len": 64, "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 4,
          "weight_decay": 0.1, "eval_every": 5, "eval_batches": 1, "log_every": 5}  # fmt: skip
_QUICK = {**_TRAIN, "steps": 4, "batch_size": 8, "warmup_steps": 1, "eval_every": 2, "eval_batches": 1,
          "log_every": 2}  # fmt: skip


def probe_dir(out_dir: Path, alpha: float, seed: int) -> Path:
    """Where the training experiment keeps the probe model with balancing coefficient ``alpha``."""
    return out_dir / f"probe-{'balanced' if alpha > 0 else 'unbalanced'}-seed{seed}"


def variant_config(cfg: dict[str, Any], v: dict[str, Any]) -> GPTConfig:
    """The ``GPTConfig`` of one variant of :func:`~.analysis.variants`."""
    if v["experts"] == 0:
        return kit.model_config(cfg, activation="swiglu", d_ff=v["width"])
    moe = {**SWITCH, "n_experts": v["experts"], "balance_alpha": v["alpha"]}
    return kit.model_config(cfg, activation="moe", d_ff=v["width"], moe=moe)


def _mean_curve(runs: list[dict[str, list[float]]], key: str) -> list[float]:
    return np.mean([r[key] for r in runs], axis=0).tolist()


def _busiest(history: list[dict[str, Any]]) -> list[float]:
    """At each logged step: the largest expert's share of the assignments, averaged over layers."""
    return [float(np.mean([max(layer) for layer in r["expert_load"]])) for r in history if "expert_load" in r]


@TOPIC.experiment(
    "train",
    profiles={
        "quick": {"model": _MODEL, "train": _QUICK, "experts": [2, 4, 8], "seeds": [0], "n_windows": 8},
        "full": {"model": _MODEL, "train": _TRAIN, "experts": [2, 4, 8], "seeds": [0, 1, 2], "n_windows": 64},
    },
    title="Dense vs MoE (2, 4, 8 experts) at equal active and equal total parameters: loss, routing in training",
)
def train_models(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train every variant with every seed on the same batches; keep the probe models for ``routing``."""
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    windows = eval_windows(data.val, cfg["train"]["seq_len"], cfg["n_windows"], seed=0)
    dense_width = GPTConfig.from_dict({**cfg["model"], "activation": "swiglu"}).ffn_dim
    vs = variants(dense_width, cfg["experts"], PROBE_EXPERTS)
    jobs = [(i, s) for i in range(len(vs)) for s in cfg["seeds"]]
    runs: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(vs))}
    for i, seed in ctx.progress(jobs, total=len(jobs), desc="train"):
        v = vs[i]
        result = train(variant_config(cfg, v), kit.train_config(cfg, seed=seed), data, progress=False)
        model = result.model
        runs[i].append({
            "heldout": float(per_position_loss(model, windows).mean()),
            "val_steps": result.series("val_loss")[0], "val_loss": result.series("val_loss")[1],
            "log_steps": result.series("router_entropy")[0],
            "router_entropy": result.series("router_entropy")[1],
            "busiest": _busiest(result.history),
        })  # fmt: skip
        if v["experts"] == PROBE_EXPERTS and v["budget"] == "equal active":
            model.save(probe_dir(ctx.out_dir, v["alpha"], seed))
    d, L = cfg["model"]["d_model"], cfg["model"]["n_layers"]
    rows = []
    for i, v in enumerate(vs):
        mcfg, rs = variant_config(cfg, v), runs[i]
        one = ffn_parameters("swiglu", d, v["width"], False)
        n_exp = max(v["experts"], 1)
        rows.append({**v, "parameters": count_parameters(mcfg), "ffn_total": L * (n_exp * one + (d * n_exp if v["experts"] else 0)),
                     "ffn_active": L * (one + (d * n_exp if v["experts"] else 0)),
                     "losses": [r["heldout"] for r in rs], **seed_stats([r["heldout"] for r in rs]),
                     "val_steps": rs[0]["val_steps"], "val_loss": _mean_curve(rs, "val_loss"),
                     "log_steps": rs[0]["log_steps"],
                     "router_entropy": _mean_curve(rs, "router_entropy") if v["experts"] else [],
                     "busiest": _mean_curve(rs, "busiest") if v["experts"] else []})  # fmt: skip
    table = [
        {
            "model": r["label"],
            "expert width": r["width"],
            "FFN parameters (all layers)": r["ffn_total"],
            "active per token": r["ffn_active"],
            "held-out loss, mean ± sd": f"{r['mean']:.3f} ± {r['sd']:.3f}",
            "busiest expert's share (end)": kit.fmt(r["busiest"][-1], ".0%") if r["busiest"] else "–",
        }
        for r in rows
    ]
    balance = text.balance_numbers(rows, PROBE_EXPERTS)
    return {
        "config": {k: cfg[k] for k in ("model", "train", "experts", "seeds", "n_windows")},
        "rows": rows,
        "table": kit.table(table),
        **kit.training_facts(cfg),
        "dense_width": dense_width,
        "probe": PROBE_EXPERTS,
        "active_verdict": text.budget_phrase(rows, "equal active"),
        "total_verdict": text.budget_phrase(rows, "equal total"),
        "balance": balance,
        "short_run": text.short_run_phrase(balance["busiest_on"], balance["entropy_on"], PROBE_EXPERTS),
    }
