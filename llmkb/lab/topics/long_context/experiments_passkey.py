"""The long-context lab's passkey experiment: how far back a sliding-window model really retrieves a passkey,
against its ``L (w - 1)`` receptive field and a full-attention model trained on the same task."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmkb.data.synthetic import PasskeyTask
from llmkb.lab import RunContext, kit
from llmkb.train import train

from . import text
from .names import TOPIC
from .passkey import CHANCE_SIGMAS, above_chance, chance_band, distance_scores, solid_reach

SOLID = 0.9
"""Retrieval "holds" up to the largest distance before which every accuracy is at least this."""

_MODEL = {"n_layers": 2, "n_heads": 2, "positional": "rope", "attention": "sdpa"}
_TRAIN = {"lr": 3e-3, "min_lr": 3e-4, "eval_every": 0, "eval_batches": 1}


@TOPIC.experiment(
    "passkey",
    profiles={
        "quick": {
            "task": {"context": 16, "n_values": 8, "n_filler": 8},
            "window": 4,
            "model": {**_MODEL, "d_model": 16},
            "train": {**_TRAIN, "steps": 20, "batch_size": 16, "warmup_steps": 2},
            "full_steps": 20,
            "n_eval": 32,
            "seed": 0,
        },
        "full": {
            "task": {"context": 32, "n_values": 8, "n_filler": 8},
            "window": 8,
            "model": {**_MODEL, "d_model": 32},
            "train": {**_TRAIN, "steps": 200, "batch_size": 64, "warmup_steps": 10},
            "full_steps": 80,
            "n_eval": 128,
            "seed": 0,
        },
    },
    title="Passkey retrieval vs distance: a sliding-window model against L(w-1) and full attention",
)
def passkey(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train a windowed and a full-attention model on passkeys at every distance; score each distance."""
    task = PasskeyTask(**cfg["task"])
    w, seed, n = int(cfg["window"]), int(cfg["seed"]), int(cfg["n_eval"])
    distances = list(range(1, task.context + 1))
    runs = {"window": (w, int(cfg["train"]["steps"])), "full": (None, int(cfg["full_steps"]))}
    acc: dict[str, np.ndarray] = {}
    change: dict[str, np.ndarray] = {}
    layers = 0
    for kind, (window, steps) in ctx.progress(runs.items(), total=len(runs), desc="passkey"):
        mcfg = kit.model_config(
            cfg, vocab_size=task.vocab_size, max_seq_len=task.seq_len, sliding_window=window
        )
        tcfg = kit.train_config(cfg, steps=steps, seq_len=task.seq_len, seed=seed)
        model = train(mcfg, tcfg, task, progress=False).model.eval()
        acc[kind], change[kind] = distance_scores(model, task, distances, n, seed=seed + 1000)
        layers = mcfg.n_layers
    theory = layers * (w - 1)
    beyond = [i for i, d in enumerate(distances) if d > theory]
    if beyond and float(np.max(change["window"][beyond])) != 0.0:
        raise RuntimeError(f"a passkey past the receptive field L(w-1) = {theory} changed the prediction")
    chance = task.chance
    pooled = float(np.mean(acc["window"][beyond])) if beyond else float("nan")
    band = chance_band(chance, n * len(beyond)) if beyond else float("nan")
    if beyond and abs(pooled - chance) > band:
        raise RuntimeError(
            f"accuracy beyond the reach is {pooled:.3f}, outside chance {chance:.3f} ± {band:.3f}: the passkey "
            "cannot be seen there, so this is a bug"
        )
    last = above_chance(distances, acc["window"].tolist(), chance, n)
    if last > theory:
        raise RuntimeError(f"accuracy above chance at distance {last}, past the receptive field {theory}")
    solid = solid_reach(distances, acc["window"].tolist(), SOLID)
    rows = [
        {
            "distance": d,
            f"window {w}": kit.round_sig(float(a), 3),
            "full attention": kit.round_sig(float(f), 3),
        }
        for d, a, f in zip(distances, acc["window"], acc["full"], strict=True)
    ]
    return {
        "context": task.context,
        "n_values": task.n_values,
        "n_filler": task.n_filler,
        "window": w,
        "layers": layers,
        "theory": theory,
        "steps": int(cfg["train"]["steps"]),
        "full_steps": int(cfg["full_steps"]),
        "n_eval": n,
        "distances": distances,
        "accuracy": {k: [float(a) for a in v] for k, v in acc.items()},
        "change": {k: [float(c) for c in v] for k, v in change.items()},
        "chance": chance,
        "chance_band": chance_band(chance, n),
        "sigmas": CHANCE_SIGMAS,
        "pooled_beyond": pooled,
        "pooled_band": band,
        "last_above_chance": last,
        "solid": solid,
        "solid_level": SOLID,
        "full_min": float(np.min(acc["full"])),
        "table": kit.table(rows),
        "relay_text": text.relay_phrase(last, theory),
        "passkey_text": text.passkey_phrase(
            solid=solid,
            solid_min=float(np.min(acc["window"][:solid])) if solid else 0.0,
            last=last,
            theory=theory,
            layers=layers,
            window=w,
            chance=chance,
            pooled=pooled,
            n_beyond=n * len(beyond),
            full_min=float(np.min(acc["full"])),
            longest=task.context,
            level=SOLID,
        ),
    }
