"""Figures of the positional-embeddings lab, drawn from cached results only, sized for the page column and
coloured for the theme being drawn."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmkb.lab import kit
from llmkb.lab.cache import Result
from llmkb.lab.kit import style

from .names import COLORS, EXTRAPOLATED, TOPIC, VARIANTS, label


def colour(variant: str) -> str:
    """The colour of ``variant`` in the theme being drawn.

    :data:`~.names.COLORS` picks from the light theme's colour cycle; another theme of
    :data:`~llmkb.lab.kit.style.THEMES` (dark) has its own version of that cycle, so a colour of the cycle
    maps to its twin by position, and a colour outside it is mixed halfway with the theme's foreground, which
    keeps it apart from the background. Outside the site's themes the colour is used as it is.
    """
    from matplotlib import colors, rcParams

    c = COLORS[variant]
    light, now = (
        [colors.to_hex(x) for x in cycle.by_key()["color"]]
        for cycle in (style.THEMES["light"]["axes.prop_cycle"], rcParams["axes.prop_cycle"])
    )
    themed = [
        [colors.to_hex(x) for x in t["axes.prop_cycle"].by_key()["color"]] for t in style.THEMES.values()
    ]
    if now == light or now not in themed:
        return c
    if c in light:
        return now[light.index(c)]
    mixed = (np.asarray(colors.to_rgb(c)) + np.asarray(colors.to_rgb(style.ink()))) / 2
    return str(colors.to_hex(mixed))


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
        ax.plot(steps, loss.mean(0), marker="o", ms=3, label=variant, color=colour(variant))
        ax.fill_between(steps, loss.min(0), loss.max(0), color=colour(variant), alpha=0.15, lw=0)
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
    fig, ax = plt.subplots(figsize=(6.6, 4.0))
    pos = np.asarray(res["positions"])
    k = max(1, T // 4)
    for variant in EXTRAPOLATED:
        y = kit.moving_average(np.asarray(res["curves"][variant], dtype=float), k)
        dashed = variant.startswith("rope-")
        ax.plot(pos, y, label=label(variant), color=colour(variant), lw=1.5, ls="--" if dashed else "-")
    top = ax.get_ylim()[1]
    for m in res["mults"][:-1]:
        ax.axvline(m * T, color=style.muted(), ls=":", lw=1.2)
        ax.text(m * T, top, f" {m}x T", va="top", ha="left", color=style.ink())
    ax.set_xlabel("position in the window (bytes); trained on the first T")
    ax.set_ylabel(f"loss (nats), moving mean of {k}")
    ax.set_title(
        f"Trained on T = {T} bytes, evaluated on {max(res['mults']) * T} (mean of {res['n_seeds']} seeds)"
    )
    ax.legend(ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.16), columnspacing=1.2)
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
    fig, axes = plt.subplots(1, len(variants), figsize=(6.8, 3.0), sharey=True, squeeze=False)
    xs = np.arange(L * H)
    for ax, variant in zip(axes[0], variants, strict=True):
        ax.bar(xs - 0.2, np.asarray(res["entropy"][variant]).reshape(-1), 0.4, color=colour(variant))
        key = f"{variant} (removed)"
        if key in res["entropy"]:
            ablated = np.asarray(res["entropy"][key]).reshape(-1)
            ax.bar(xs + 0.2, ablated, 0.4, color="none", edgecolor=colour(variant), hatch="///")
        ax.axhline(float(res["entropy_bound"]), color=style.ink(), ls="--", lw=1)
        ax.set_title(variant)
        ax.set_xticks(xs, [str(i % H) for i in xs])
        ax.grid(axis="x", visible=False)
        for layer in range(1, L):
            ax.axvline(layer * H - 0.5, color=style.muted(), lw=1.0, ls=":")
    axes[0, 0].set_ylabel("entropy (nats)")
    key = style.muted()
    handles = [Patch(facecolor=key), Patch(facecolor="none", edgecolor=key, hatch="///")]
    fig.legend(handles, ["as trained", "PE removed at test time"], loc="lower center", ncol=2,
               bbox_to_anchor=(0.5, 1.0))  # fmt: skip
    fig.supxlabel(
        f"head index per layer (dotted dividers between layers); mean of {res['n_seeds']} seeds;\n"
        "dashed line: uniform attention over the past",
        fontsize=plt.rcParams["axes.labelsize"],
    )
    fig.tight_layout()
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
        len(names) * L, H, figsize=(1.45 * H + 0.8, 1.45 * L * len(names) + 0.6), squeeze=False
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
                    ax.set_ylabel(f"{name}\nlayer {layer}")
                if r == 0 and layer == 0:
                    ax.set_title(f"head {h}")
    fig.suptitle("rows: query position, columns: key position\n(brighter = more attention)")
    return fig
