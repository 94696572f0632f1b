"""The long-context lab's sliding-window experiment: perplexity vs window size at a fixed length, and how far
back a token can still change the last prediction (the ``L (w - 1)`` receptive field, measured)."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmkb.data import TokenDataset
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import eval_windows
from llmkb.lab.topics.positional_embeddings.experiments import load_checkpoint
from llmkb.lab.topics.positional_embeddings.names import COMPARE

from . import text
from .analysis import influence, reach, tail_loss, variant_model
from .names import TOPIC

RELATIVE_FLOOR = 0.01
"""A token "still acts" while its influence is above this share of the largest influence of an earlier token."""


@TOPIC.experiment(
    "window",
    profiles={
        "quick": {
            "length_mult": 4,
            "window_mults": [0.25, 0.5, 1, 2, 4],
            "reach_window_mult": 0.25,
            "n_windows": 4,
            "seed": 3,
        },
        "full": {
            "length_mult": 8,
            "window_mults": [0.125, 0.25, 0.5, 1, 2, 4, 8],
            "reach_window_mult": 0.25,
            "n_windows": 16,
            "seed": 3,
        },
    },
    needs=[COMPARE],
    title="Sliding window on long text: perplexity vs window size, and the measured reach vs L(w-1)",
)
def window(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Run the positional lab's RoPE checkpoints with a sliding window of each size on held-out pydoc."""
    comp = ctx.need(COMPARE)
    T, seeds = int(comp["seq_len"]), [int(s) for s in comp["seeds"]]
    length = T * int(cfg["length_mult"])
    sizes = [max(1, int(round(m * T))) for m in cfg["window_mults"]]
    data = TokenDataset.from_corpus("pydoc")
    windows = eval_windows(data.val, length, cfg["n_windows"], seed=cfg["seed"])  # (N, length + 1)
    loss = np.zeros((len(seeds), len(sizes)))
    for si, seed in enumerate(ctx.progress(seeds, total=len(seeds), desc="seeds")):
        rope = load_checkpoint(comp, "rope", seed)
        for wi, w in enumerate(sizes):
            loss[si, wi] = tail_loss(variant_model(rope, window=w), windows, length, length // 2)
    ppl = np.exp(loss.mean(axis=0))

    w = max(2, int(round(cfg["reach_window_mult"] * T)))
    model = variant_model(load_checkpoint(comp, "rope", seeds[0]), window=w)
    layers = model.config.n_layers
    theory = layers * (w - 1)
    distances = list(range(0, min(length - 1, 2 * theory + 2) + 1))
    infl = influence(model, windows[:, :length][:, -(max(distances) + 1) :], distances, seed=cfg["seed"])
    beyond = float(np.max(infl[theory + 1 :])) if len(infl) > theory + 1 else 0.0
    if beyond != 0.0:
        raise RuntimeError(
            f"a token past the receptive field L(w-1) = {theory} changed the output by {beyond}"
        )
    floor = RELATIVE_FLOOR * float(np.max(infl[1:]))
    measured = reach(distances, infl.tolist(), floor)
    rows = [
        {"window": s, "window / T": kit.round_sig(s / T, 3), "perplexity": round(float(p), 3)}
        for s, p in zip(sizes, ppl, strict=True)
    ]
    return {
        "seq_len": T,
        "length": length,
        "sizes": sizes,
        "ppl": [float(p) for p in ppl],
        "table": kit.table(rows),
        "window_text": text.window_phrase(sizes, [float(p) for p in ppl], T),
        "reach_window": w,
        "layers": layers,
        "theory": theory,
        "distances": distances,
        "influence": infl,
        "floor": floor,
        "relative_floor": RELATIVE_FLOOR,
        "reach": measured,
        "beyond_max": beyond,
        "reach_text": text.reach_phrase(measured, theory, layers, w),
    }
