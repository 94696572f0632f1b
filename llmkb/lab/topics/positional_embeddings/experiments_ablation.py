"""The ablation: an order-sensitive task (reversal) learned with and without positions, several seeds."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from llmkb.data import ReverseTask
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import seed_stats
from llmkb.train import train

from .analysis import answer_slice, causal_entropy_bound, mean_entropy_share, reversal_scores
from .names import TOPIC
from .text import change_phrase, changes_phrase, lowest_phrase, mean_sd, paired_gap, ranking_phrase

_TRAIN = {"lr": 3e-3, "min_lr": 3e-4, "eval_batches": 1}


@TOPIC.experiment(
    "ablation",
    profiles={
        "quick": {
            "task": {"length": 4, "n_symbols": 6},
            "variants": ["none", "rope", "learned"],
            "map_variants": ["rope", "none"],
            "model": {"d_model": 32, "n_layers": 1, "n_heads": 2},
            "train": {**_TRAIN, "steps": 20, "batch_size": 16, "warmup_steps": 2, "eval_every": 10},
            "seeds": [0, 1],
            "n_eval": 64,
            "n_attn": 16,
        },
        "full": {
            "task": {"length": 8, "n_symbols": 10},
            "variants": ["none", "learned", "rope", "alibi"],
            "map_variants": ["rope", "none"],
            "model": {"d_model": 64, "n_layers": 2, "n_heads": 4},
            "train": {**_TRAIN, "steps": 130, "batch_size": 32, "warmup_steps": 10, "eval_every": 65},
            "seeds": [0, 1, 2],
            "n_eval": 256,
            "n_attn": 32,
        },
    },
    title="Reversal with and without positional information: loss, accuracy, attention entropy",
)
def ablation(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train each variant on reversal (one model per seed); score it as trained and with its positional
    signal removed at test time by the hook ``model.hooks(positional=False)``."""
    task = ReverseTask(**cfg["task"])
    T, seeds, variants = task.seq_len, list(cfg["seeds"]), list(cfg["variants"])
    if "none" not in variants or len(variants) < 2:
        raise ValueError(f"the ablation needs 'none' and at least one encoding, got {variants}")
    x, y = task.make_batch(cfg["n_eval"], torch.Generator().manual_seed(12345))  # (B, T) fresh sequences
    uniform = float(causal_entropy_bound(T)[answer_slice(task)].mean())
    got: dict[str, dict[str, list[Any]]] = {v: {} for v in variants}
    removed: dict[str, dict[str, list[Any]]] = {v: {} for v in variants if v != "none"}
    maps: dict[str, torch.Tensor] = {}
    jobs = [(v, s) for v in variants for s in seeds]
    for variant, seed in ctx.progress(jobs, total=len(jobs), desc="ablation"):
        mcfg = kit.model_config(cfg, vocab_size=task.vocab_size, max_seq_len=T, positional=variant)
        model = train(mcfg, kit.train_config(cfg, seq_len=T, seed=seed), task, progress=False).model.eval()
        s = reversal_scores(model, task, x, y, cfg["n_attn"])
        _collect(got[variant], s)
        if variant in cfg["map_variants"] and seed == seeds[0]:
            maps[variant] = s["example_attn"]
        if variant != "none":
            with model.hooks(positional=False):
                _collect(removed[variant], reversal_scores(model, task, x, y, cfg["n_attn"]))
    entropy = {v: np.mean(got[v]["entropy"], axis=0) for v in variants}  # (L, H), mean over seeds
    entropy |= {f"{v} (removed)": np.mean(removed[v]["entropy"], axis=0) for v in removed}
    loss = {v: got[v]["loss"] for v in variants}
    with_pe = {v: loss[v] for v in variants if v != "none"}
    best = min(with_pe, key=lambda v: float(np.mean(with_pe[v])))
    first_layer = [mean_entropy_share(torch.as_tensor(e), uniform) for e in got["none"]["entropy"]]
    before = float(np.mean([np.mean(got[v]["loss"]) for v in removed]))
    after = float(np.mean([np.mean(removed[v]["loss"]) for v in removed]))
    ent_before = float(np.mean([np.mean(got[v]["entropy"]) for v in removed]))
    ent_after = float(np.mean([np.mean(removed[v]["entropy"]) for v in removed]))
    raised = [v for v in removed if min(removed[v]["loss"]) > max(got[v]["loss"])]
    return {
        "task": {
            "name": "reverse",
            "length": task.length,
            "n_symbols": task.n_symbols,
            "seq_len": T,
            "chance_loss": math.log(task.n_symbols),
            "example": f"{' '.join(map(str, x[0, : task.length].tolist()))} | "
            f"{' '.join(map(str, x[0, task.length + 1 :].tolist() + [int(y[0, -1])]))}",
        },
        "n_eval": cfg["n_eval"],
        "steps": cfg["train"]["steps"],
        "n_seeds": len(seeds),
        "variants": variants,
        "losses": loss,
        "table": kit.table([_row(v, got[v]) for v in variants]),
        "removed_table": kit.table([_removed_row(v, got[v], removed[v]) for v in removed]),
        "entropy": entropy,
        "entropy_bound": uniform,
        "maps": maps,
        "best_pe": best,
        "ranking": ranking_phrase(loss),
        "lowest": lowest_phrase(loss),
        "none_loss": seed_stats(loss["none"])["mean"],
        "best_pe_loss": seed_stats(loss[best])["mean"],
        "none_vs_best": paired_gap([n - b for n, b in zip(loss["none"], loss[best], strict=True)], best),
        "none_first_layer_share": float(np.mean(first_layer)),
        "removal": {
            "loss_before": round(before, 3),
            "loss_after": round(after, 3),
            "entropy_before": round(ent_before, 3),
            "entropy_after": round(ent_after, 3),
            "loss_change": change_phrase(before, after, "their mean loss"),
            "entropy_change": change_phrase(ent_before, ent_after, "their mean attention entropy"),
            "changes": changes_phrase(
                [(before, after, "their mean loss"), (ent_before, ent_after, "their mean attention entropy")]
            ),
            "raised_every_seed": kit.join_names(raised) if raised else "no variant",
        },
    }


def _collect(into: dict[str, list[Any]], scores: dict[str, Any]) -> None:
    for key in ("loss", "accuracy", "token_accuracy", "entropy"):
        value = scores[key]
        into.setdefault(key, []).append(value.numpy() if isinstance(value, torch.Tensor) else float(value))


def _row(variant: str, got: dict[str, list[Any]]) -> dict[str, Any]:
    layers = np.mean(got["entropy"], axis=(0, 2))  # (L,)
    return {
        "variant": variant,
        "loss (nats)": mean_sd(got["loss"]),
        "exact match": mean_sd(got["accuracy"], 2),
        "token accuracy": mean_sd(got["token_accuracy"], 2),
        "attention entropy": round(float(np.mean(got["entropy"])), 3),
        **{f"entropy, layer {i}": round(float(e), 3) for i, e in enumerate(layers)},
    }


def _removed_row(variant: str, got: dict[str, list[Any]], removed: dict[str, list[Any]]) -> dict[str, Any]:
    return {
        "variant": variant,
        "loss": mean_sd(got["loss"]),
        "loss, PE removed": mean_sd(removed["loss"]),
        "token accuracy": mean_sd(got["token_accuracy"], 2),
        "token accuracy, PE removed": mean_sd(removed["token_accuracy"], 2),
        "entropy": round(float(np.mean(got["entropy"])), 3),
        "entropy, PE removed": round(float(np.mean(removed["entropy"])), 3),
    }
