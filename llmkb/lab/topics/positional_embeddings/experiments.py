"""Train every positional scheme on text, several seeds each (``compare``); keep the checkpoints."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from llmkb.data import TokenDataset
from llmkb.lab import RunContext, kit
from llmkb.lab.cache import Result
from llmkb.lab.kit.evals import eval_windows, per_position_loss, seed_stats
from llmkb.nn import GPT, GPTConfig
from llmkb.train import train

from .analysis import learned_table_drift
from .names import TOPIC, VARIANTS, checkpoint_dir, label
from .text import lowest_phrase, mean_sd, paired_gap, ranking_phrase

_TRAIN = {"lr": 3e-3, "min_lr": 3e-4, "eval_batches": 2}


def load_checkpoint(res: Result, variant: str, seed: int) -> GPT:
    """A checkpoint trained by ``compare`` (in eval mode)."""
    return GPT.load(checkpoint_dir(res.dir, variant, seed)).eval()


@TOPIC.experiment(
    "compare",
    profiles={
        "quick": {
            "model": {"d_model": 32, "n_layers": 1, "n_heads": 2},
            "train": {
                **_TRAIN,
                "seq_len": 32,
                "batch_size": 8,
                "steps": 12,
                "warmup_steps": 2,
                "eval_every": 6,
            },
            "seeds": [0, 1],
            "max_mult": 4,
            "n_windows": 8,
        },
        "full": {
            "model": {"d_model": 64, "n_layers": 2, "n_heads": 4},
            "train": {
                **_TRAIN,
                "seq_len": 64,
                "batch_size": 8,
                "steps": 160,
                "warmup_steps": 12,
                "eval_every": 20,
            },
            "seeds": [0, 1, 2],
            "max_mult": 4,
            "n_windows": 64,
        },
    },
    title="Train the same model with each positional encoding on pydoc (byte level), several seeds",
)
def compare(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train one model per variant and seed; return curves, per-seed held-out losses and the checkpoints."""
    data = TokenDataset.from_corpus("pydoc")
    T, seeds = cfg["train"]["seq_len"], list(cfg["seeds"])
    max_len = T * cfg["max_mult"]
    windows = eval_windows(data.val, T, cfg["n_windows"], seed=0)  # (N, T+1)
    losses: dict[str, list[float]] = {v: [] for v in VARIANTS}
    val: dict[str, list[np.ndarray]] = {v: [] for v in VARIANTS}
    val_steps, params, drift = np.zeros(0), {}, []
    jobs = [(v, s) for v in VARIANTS for s in seeds]
    for variant, seed in ctx.progress(jobs, total=len(jobs), desc="compare"):
        mcfg = kit.model_config(cfg, vocab_size=data.vocab_size, max_seq_len=max_len, positional=variant)
        res = train(mcfg, kit.train_config(cfg, seed=seed), data, progress=False)
        model = res.model.eval()
        model.save(checkpoint_dir(ctx.out_dir, variant, seed))
        c = kit.curves(res)
        val_steps = c["val_steps"]
        val[variant].append(c["val_loss"])
        losses[variant].append(float(per_position_loss(model, windows).mean()))
        params[variant] = model.num_parameters()
        if variant == "learned":
            drift.append(learned_table_drift(_initial_table(mcfg, seed), model.pos_emb.weight, T))
    learned = {k: max(d[k] for d in drift) for k in drift[0]}
    if learned["untrained_rows_max_change"] != 0.0:
        raise RuntimeError(f"rows past T={T} of the learned table changed in training: {learned}")
    stats = {v: seed_stats(losses[v]) for v in VARIANTS}
    rows = [
        {
            "variant": v,
            "parameters": params[v],
            "val loss (nats), mean ± sd": mean_sd(losses[v]),
            "seed range": f"{stats[v]['min']:.3f}–{stats[v]['max']:.3f}",
            "bits per byte": round(stats[v]["mean"] / math.log(2), 3),
        }
        for v in VARIANTS
    ]
    means = {v: stats[v]["mean"] for v in VARIANTS}
    best, worst = min(means, key=means.__getitem__), max(means, key=means.__getitem__)
    none_gap = [n - b for n, b in zip(losses["none"], losses[best], strict=True)]
    return {
        "seq_len": T,
        "max_seq_len": max_len,
        **{k: cfg["model"][k] for k in ("d_model", "n_layers", "n_heads")},
        "head_dim": cfg["model"]["d_model"] // cfg["model"]["n_heads"],
        "n_windows": cfg["n_windows"],
        "steps": cfg["train"]["steps"],
        "batch_size": cfg["train"]["batch_size"],
        "tokens_seen": cfg["train"]["steps"] * cfg["train"]["batch_size"] * T,
        "seeds": seeds,
        "n_seeds": len(seeds),
        "curves": {v: {"val_steps": val_steps, "val_loss": np.stack(val[v])} for v in VARIANTS},
        "losses": losses,
        "stats": stats,
        "table": kit.table(rows),
        "best": best,
        "worst": worst,
        "spread": round(means[worst] - means[best], 4),
        "ranking": ranking_phrase(losses),
        "lowest": lowest_phrase(losses),
        "none_vs_best": "the same as the best" if best == "none" else paired_gap(none_gap, label(best)),
        "learned_table": learned,
    }


def _initial_table(mcfg: GPTConfig, seed: int) -> torch.Tensor:
    """The learned table a training run with ``seed`` starts from (``train`` seeds before building)."""
    torch.manual_seed(seed)
    return GPT(mcfg).pos_emb.weight.detach().clone()  # (max_len, d)
