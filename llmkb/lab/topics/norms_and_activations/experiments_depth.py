"""Activations across depth: deeper pre- and post-norm models (and a ReLU one) read at init and trained."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from llmkb.data import TokenDataset
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import eval_windows
from llmkb.lab.topics.norms_and_activations import text
from llmkb.lab.topics.norms_and_activations.analysis import (
    dead_fraction,
    density_rows,
    outlier_ratio,
    variant_name,
)
from llmkb.lab.topics.norms_and_activations.names import BASE, TOPIC
from llmkb.nn import GPT
from llmkb.train import train
from llmkb.train.dynamics import histogram, probe_activations
from llmkb.train.shared_model import SHARED_CORPUS

_VARIANTS = [
    {"norm": "rmsnorm", "activation": "swiglu", "norm_position": "pre"},
    {"norm": "rmsnorm", "activation": "swiglu", "norm_position": "post"},
    {"norm": "rmsnorm", "activation": "relu", "norm_position": "pre"},
]
_MODEL = {**BASE, "d_model": 32, "n_layers": 6, "n_heads": 4, "max_seq_len": 32}
_TRAIN = {"steps": 50, "batch_size": 8, "seq_len": 32, "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 5,
          "weight_decay": 0.1, "eval_every": 0, "eval_batches": 1, "log_every": 10, "dynamics": True}  # fmt: skip


def _edges(*groups: list[torch.Tensor], bins: int = 48) -> torch.Tensor:
    """Symmetric bin edges that hold 99.9 % of the largest |value| of every tensor in ``groups``."""
    lim = max(float(torch.quantile(t.abs().flatten()[:200_000], 0.999)) for g in groups for t in g)
    return torch.linspace(-lim, lim, bins + 1)


def _read(probe: dict[str, list[torch.Tensor]], edges: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Per-layer statistics of one forward pass (from ``probe_activations``), histograms in ``edges``."""
    resid, hidden = probe["resid"], probe["hidden"]
    return {
        "resid_norm": [float(t.norm(dim=-1).mean()) for t in resid],
        "resid_hist": density_rows([histogram(t, edges["resid"]).tolist() for t in resid]),
        "ffn_hist": density_rows([histogram(t, edges["ffn"]).tolist() for t in hidden]),
        "outlier": [outlier_ratio(t) for t in resid],
        "dead": [dead_fraction(t) for t in hidden],
    }


@TOPIC.experiment(
    "depth",
    profiles={
        "quick": {
            "model": {**_MODEL, "d_model": 16, "n_layers": 3, "n_heads": 2},
            "train": {**_TRAIN, "steps": 3, "warmup_steps": 1, "log_every": 3},
            "n_windows": 4,
        },
        "full": {"model": _MODEL, "train": _TRAIN, "n_windows": 16},
    },  # fmt: skip
    title="Per-layer residual stream and FFN activations of deeper models, at init and after training",
)
def depth(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Build each variant, read it, train it (recording dynamics), read it again on the same windows."""
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    x = eval_windows(data.val, cfg["train"]["seq_len"], cfg["n_windows"], seed=1)[:, :-1]
    rows = []
    for v in ctx.progress(_VARIANTS, total=len(_VARIANTS), desc="depth"):
        mcfg = kit.model_config(cfg, **v)
        torch.manual_seed(0)  # the trainer builds the same initial model from seed 0
        before = probe_activations(GPT(mcfg), x)
        result = train(mcfg, kit.train_config(cfg, seed=0), data, progress=False)
        after = probe_activations(result.model, x)
        edges = {
            "resid": _edges(before["resid"], after["resid"]),
            "ffn": _edges(before["hidden"], after["hidden"]),
        }
        init, trained = _read(before, edges), _read(after, edges)
        hist = result.history
        rows.append({
            "variant": variant_name(v["norm"], v["activation"], v["norm_position"]), **v,
            "init": init, "trained": trained, "edges": {k: e.tolist() for k, e in edges.items()},
            "growth_init": init["resid_norm"][-1] / init["resid_norm"][1],  # last block / first block
            "growth_trained": trained["resid_norm"][-1] / trained["resid_norm"][1],
            "layer_grad_norms": np.asarray([r["layer_grad_norms"] for r in hist]).mean(0).tolist(),
            "train_resid_norms": [r["resid_norms"] for r in hist],
        })  # fmt: skip
    pre, post, relu = rows
    L = cfg["model"]["n_layers"]
    table = [
        {"variant": r["variant"], "residual norm, last / first block (init)": round(r["growth_init"], 2),
         "after training": round(r["growth_trained"], 2),
         "largest max/median feature ratio": round(max(r["trained"]["outlier"]), 1),
         "dead FFN units (trained, mean over layers)": kit.fmt(float(np.mean(r["trained"]["dead"])), ".1%")}
        for r in rows
    ]  # fmt: skip
    return {
        "rows": rows,
        "table": kit.table(table),
        "n_layers": L,
        "steps": cfg["train"]["steps"],
        "verdict": text.depth_phrase(pre["growth_trained"], post["growth_trained"], L),
        "relu_dead_trained": float(np.mean(relu["trained"]["dead"])),
        "relu_dead_init": float(np.mean(relu["init"]["dead"])),
        "relu_dead_max": max(relu["trained"]["dead"]),
        "swiglu_dead_trained": float(np.mean(pre["trained"]["dead"])),
        "outlier_pre_trained": max(pre["trained"]["outlier"]),
        "outlier_pre_init": max(pre["init"]["outlier"]),
    }
