"""Figures of the positional-embeddings lab, drawn from cached results only."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmkb.lab import kit
from llmkb.lab.cache import Result

from .names import COLORS, EXTRAPOLATED, TOPIC, VARIANTS, label


@TOPIC.figure(
    "compare", "val-loss", caption="Validation loss during training: mean over seeds, band from min to max"
)
def val_loss(res: Result) -> Any:
    """One curve per encoding: the mean of the trainer's validation loss over seeds, shaded between seeds."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    for variant in VARIANTS:
        c = res["curves"][variant]
        steps, loss = np.asarray(c["val_steps"]), np.asarray(c["val_loss"])  # (K,), (S, K)
        ax.plot(steps, loss.mean(0), marker="o", ms=3, label=variant, color=COLORS[variant])
        ax.fill_between(steps, loss.min(0), loss.max(0), color=COLORS[variant], alpha=0.15, lw=0)
    ax.set_xlabel("training step")
    ax.set_ylabel("validation loss (nats/byte)")
    ax.set_title(
        f"Same model, five positional encodings (T = {res['seq_len']} bytes, {res['n_seeds']} seeds)"
    )
    ax.legend(loc="upper right")
    return fig


@TOPIC.figure(
    "extrapolation", "per-position", caption="Loss at each position of windows 4x the training length"
)
def per_position(res: Result) -> Any:
    """Per-position loss (mean over seeds, smoothed) on the longest windows, with the multiples of T marked."""
    import matplotlib.pyplot as plt

    T = int(res["seq_len"])
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    pos = np.asarray(res["positions"])
    k = max(1, T // 4)
    for variant in EXTRAPOLATED:
        y = kit.moving_average(np.asarray(res["curves"][variant], dtype=float), k)
        dashed = variant.startswith("rope-")
        ax.plot(pos, y, label=label(variant), color=COLORS[variant], lw=1.5, ls="--" if dashed else "-")
    top = ax.get_ylim()[1]
    for m in res["mults"][:-1]:
        ax.axvline(m * T, color="0.4", ls=":", lw=1)
        ax.text(m * T, top, f" {m}x T", va="top", ha="left", fontsize=8, color="0.3")
    ax.set_xlabel("position in the window (bytes); trained on the first T")
    ax.set_ylabel(f"loss (nats), moving mean of {k}")
    ax.set_title(
        f"Trained on T = {T} bytes, evaluated on {max(res['mults']) * T} (mean of {res['n_seeds']} seeds)"
    )
    ax.legend(ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8)
    return fig


@TOPIC.figure(
    "ablation", "entropy", caption="Attention entropy per head on the answer positions of the reversal task"
)
def entropy(res: Result) -> Any:
    """Bars per head (mean over seeds): as trained, and with the positional signal removed at test time."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    variants = list(res["variants"])
    L, H = np.asarray(res["entropy"][variants[0]]).shape
    fig, axes = plt.subplots(1, len(variants), figsize=(7.2, 2.8), sharey=True, squeeze=False)
    xs = np.arange(L * H)
    for ax, variant in zip(axes[0], variants, strict=True):
        ax.bar(xs - 0.2, np.asarray(res["entropy"][variant]).reshape(-1), 0.4, color=COLORS[variant])
        key = f"{variant} (removed)"
        if key in res["entropy"]:
            ablated = np.asarray(res["entropy"][key]).reshape(-1)
            ax.bar(xs + 0.2, ablated, 0.4, color="none", edgecolor=COLORS[variant], hatch="///")
        ax.axhline(float(res["entropy_bound"]), color="0.2", ls="--", lw=1)
        ax.set_title(variant, fontsize=9)
        ax.set_xticks(xs, [str(i % H) for i in xs], fontsize=7)
        for layer in range(1, L):
            ax.axvline(layer * H - 0.5, color="0.5", lw=0.8, ls=":")
    axes[0, 0].set_ylabel("entropy (nats)")
    handles = [Patch(facecolor="0.45"), Patch(facecolor="none", edgecolor="0.45", hatch="///")]
    fig.legend(handles, ["as trained", "PE removed at test time"], loc="upper center", ncol=2, fontsize=8,
               bbox_to_anchor=(0.5, 1.08))  # fmt: skip
    fig.supxlabel(
        f"head index per layer (dotted dividers); mean of {res['n_seeds']} seeds; "
        "dashed line: uniform attention over the past",
        fontsize=8,
        y=-0.06,
    )
    return fig


@TOPIC.figure(
    "ablation", "maps", caption="Attention maps of one reversal example, every layer and head (first seed)"
)
def maps(res: Result) -> Any:
    """Attention weights of the first evaluation sequence, one panel per layer and head."""
    import matplotlib.pyplot as plt

    names = list(res["maps"])
    L, H = np.asarray(res["maps"][names[0]]).shape[:2]
    fig, axes = plt.subplots(
        len(names) * L, H, figsize=(1.7 * H + 0.6, 1.7 * L * len(names) + 0.4), squeeze=False
    )
    for r, name in enumerate(names):
        w = np.asarray(res["maps"][name])  # (L, H, T, T)
        for layer in range(L):
            for h in range(H):
                ax = axes[r * L + layer, h]
                ax.imshow(w[layer, h], vmin=0.0, vmax=1.0, cmap="viridis")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                if h == 0:
                    ax.set_ylabel(f"{name}\nlayer {layer}", fontsize=8)
                if r == 0 and layer == 0:
                    ax.set_title(f"head {h}", fontsize=8)
    fig.suptitle("rows: query position, columns: key position (brighter = more attention)", fontsize=9)
    return fig
