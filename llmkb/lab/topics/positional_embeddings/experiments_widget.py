"""The data of the page's 3-D widget: RoPE rotations, the sinusoidal table and a trained learned table."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from llmkb.lab import RunContext
from llmkb.nn.positional import RotaryEmbedding, apply_rotary, rope_inv_freq, sinusoidal_table

from .analysis import pca_3d, relative_score_spread
from .experiments import load_checkpoint
from .names import COMPARE, TOPIC


def _rounded(t: Tensor, decimals: int = 4) -> np.ndarray:
    """A float64 copy rounded for export (keeps the widget's JSON small)."""
    return np.round(t.detach().double().numpy(), decimals)


@TOPIC.experiment(
    "animation",
    profiles={
        "quick": {
            "n_positions": 32,
            "head_dim": 16,
            "d_model": 32,
            "text": "where am I? position 0 1 2 3 ..",
        },
        "full": {
            "n_positions": 64,
            "head_dim": 16,
            "d_model": 64,
            "text": "where am I? a byte only knows its position through the encoding.",
        },
    },
    needs=[COMPARE],
    title="Encoding vectors of a toy sequence for the 3-D animation",
)
def animation(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """RoPE rotations, the sinusoidal table and the trained learned table of a toy sequence, for the widget."""
    comp = ctx.need(COMPARE)
    N, D = cfg["n_positions"], cfg["head_dim"]
    text = (cfg["text"] * (N // max(1, len(cfg["text"])) + 1))[:N]
    positions = torch.arange(N)  # (N,)

    cos, sin = RotaryEmbedding(D, N)(positions)  # (N, D) each
    q = torch.cat([torch.ones(D // 2), torch.zeros(D // 2)])  # every pair starts on its x axis
    rotated = apply_rotary(q.expand(N, D), cos, sin)  # (N, D)
    k_rot = apply_rotary(torch.linspace(-1.0, 1.0, D).expand(N, D), cos, sin)  # (N, D)
    rel_spread = relative_score_spread(rotated, k_rot)
    if rel_spread > 1e-4:
        raise RuntimeError(f"RoPE scores at equal offsets differ by {rel_spread:.2e}: not relative")

    table = sinusoidal_table(positions, cfg["d_model"])  # (N, d)
    sin_pca, sin_expl = pca_3d(table)

    T = int(comp["seq_len"])
    n_learned = min(N, T)
    learned = load_checkpoint(comp, "learned", int(comp["seeds"][0])).pos_emb.weight.detach()[:n_learned]
    learned_pca, learned_expl = pca_3d(learned)  # (n, 3), (3,)

    widget = {
        "text": text,
        "n_positions": N,
        "rope": {
            "head_dim": D,
            "theta": _rounded(rope_inv_freq(D), 6),
            "q": _rounded(q),
            "rotated": _rounded(rotated),
            "pairs": [[i, i + D // 2] for i in range(D // 2)],
        },
        "sinusoidal": {
            "d_model": cfg["d_model"],
            "table": _rounded(table),
            "pca": _rounded(sin_pca),
            "explained": _rounded(sin_expl),
        },
        "learned": {
            "n_positions": n_learned,
            "train_len": T,
            "table": _rounded(learned),
            "pca": _rounded(learned_pca),
            "explained": _rounded(learned_expl),
        },
    }
    return {
        "widget": widget,
        "rope_relative_max_std": rel_spread,
        "sin_explained_3": float(sin_expl.sum()),
        "learned_explained_3": float(learned_expl.sum()),
    }
