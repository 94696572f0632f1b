"""The mixture-of-experts lab's figures, each drawn from one experiment's result."""

from __future__ import annotations

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit import style
from llmkb.lab.kit.axes import plain_log_ticks
from llmkb.lab.topics.mixture_of_experts.names import TOPIC


@TOPIC.figure(
    "train",
    "curves",
    caption="Held-out loss during training, dense vs 2, 4 and 8 experts (mean over seeds)",
)
def curves(res: Result):
    """Two stacked panels, equal active and equal total parameters: validation loss over steps."""
    import matplotlib.pyplot as plt

    rows = res["rows"]
    dense = next(r for r in rows if r["experts"] == 0)
    fig, axes = plt.subplots(2, 1, figsize=(6.4, 5.6), layout="constrained", sharex=True, sharey=True)
    for ax, budget in zip(axes, ("equal active", "equal total"), strict=True):
        ax.plot(dense["val_steps"], dense["val_loss"], color=style.ink(), lw=2.2, label="dense")
        sel = [r for r in rows if r["budget"] == budget and r["alpha"] != 0.0]
        for i, r in enumerate(sel):
            ax.plot(r["val_steps"], r["val_loss"], color=f"C{i}", marker="o", ms=3,
                    label=f"{r['experts']} experts × width {r['width']}")  # fmt: skip
        ax.set_title(f"{budget} parameters")
        ax.set_ylabel("held-out loss (nats/byte)")
        ax.legend(fontsize=9)
    axes[-1].set_xlabel("training step")
    return fig


def _heat(ax, matrix, rows: list[str], title: str, plt) -> None:
    m = np.asarray(matrix)
    ax.imshow(m, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    for (i, j), v in np.ndenumerate(m):
        if v >= 0.005:
            ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=8.5,
                    color="#1f1f1f" if v > 0.55 else "#ffffff")  # fmt: skip
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xticks(range(m.shape[1]))
    ax.grid(False)
    ax.set_title(title)


@TOPIC.figure(
    "routing",
    "by-dataset",
    caption="Share of each dataset's bytes routed to each expert (%), per layer, with and without balancing",
)
def by_dataset(res: Result):
    """One heatmap per (model, layer): datasets × experts, cells in % of the dataset's bytes."""
    import matplotlib.pyplot as plt

    panels = [
        (name, li) for name in ("balanced", "unbalanced") for li in range(len(res["balanced"]["by_dataset"]))
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.4, 1.55 * len(panels) + 0.4), layout="constrained")
    for ax, (name, li) in zip(np.atleast_1d(axes), panels, strict=True):
        label = "with balancing loss" if name == "balanced" else "no balancing loss"
        _heat(ax, res[name]["by_dataset"][li], res["datasets"], f"layer {li + 1}, {label}", plt)
    np.atleast_1d(axes)[-1].set_xlabel("expert")
    return fig


@TOPIC.figure(
    "routing",
    "by-kind",
    caption="Share of each kind of byte routed to each expert (%), per layer, 8 experts with the balancing loss",
)
def by_kind(res: Result):
    """One heatmap per layer of the balanced model: byte kinds × experts."""
    import matplotlib.pyplot as plt

    layers = res["balanced"]["by_kind"]
    fig, axes = plt.subplots(len(layers), 1, figsize=(6.4, 2.3 * len(layers)), layout="constrained")
    for li, ax in enumerate(np.atleast_1d(axes)):
        _heat(ax, layers[li], list(res["kinds"]), f"layer {li + 1}", plt)
    np.atleast_1d(axes)[-1].set_xlabel("expert")
    return fig


@TOPIC.figure(
    "routing",
    "entropy",
    caption="Router entropy and the busiest expert's share during training, 8 experts with and without balancing",
)
def entropy(res: Result):
    """Two stacked panels over training steps: mean per-token router entropy; the busiest expert's share."""
    import matplotlib.pyplot as plt

    steps = res["log_steps"]
    fig, axes = plt.subplots(2, 1, figsize=(6.4, 5.0), layout="constrained", sharex=True)
    for i, name in enumerate(("balanced", "unbalanced")):
        label = "with balancing loss" if name == "balanced" else "no balancing loss"
        axes[0].plot(steps, res["entropy_curves"][name], color=f"C{i}", marker="o", ms=3, label=label)
        axes[1].plot(
            steps, 100 * np.asarray(res["busiest_curves"][name]), color=f"C{i}", marker="o", ms=3, label=label
        )
    axes[0].axhline(
        res["max_entropy"], color=style.muted(), ls=":", lw=1.5, label=f"ln {res['experts']} (uniform)"
    )
    axes[0].set_ylabel("router entropy (nats)")
    cap = 100 * res["capacity_factor"] / res["experts"]
    axes[1].axhline(
        cap, color=style.muted(), ls=":", lw=1.5, label=f"capacity at factor {res['capacity_factor']}"
    )
    axes[1].axhline(100 / res["experts"], color=style.muted(), ls="--", lw=1, label="even share 1/E")
    axes[1].set_ylabel("busiest expert (% of tokens)")
    axes[1].legend(fontsize=9)
    axes[1].set_xlabel("training step")
    axes[0].legend(fontsize=9)
    return fig


@TOPIC.figure(
    "flops",
    "cost",
    caption="Counted FLOPs and CPU wall time per token of one layer, 2 to 64 experts (log scales)",
)
def cost(res: Result):
    """Two stacked panels against the expert count: FLOPs per token; microseconds per token."""
    import matplotlib.pyplot as plt

    points, experts = res["points"], res["config"]["experts"]
    fig, axes = plt.subplots(2, 1, figsize=(6.4, 5.6), layout="constrained", sharex=True)
    for i, method in enumerate(res["methods"]):
        sel = sorted((p for p in points if p["method"] == method), key=lambda p: p["experts"])
        x = [p["experts"] for p in sel]
        axes[0].plot(x, [p["flops_per_token"] for p in sel], color=f"C{i}", marker="o", ms=4, label=method)
        axes[1].plot(x, [p["us_per_token"] for p in sel], color=f"C{i}", marker="o", ms=4, label=method)
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        plain_log_ticks(ax, experts)
    axes[0].set_ylabel("FLOPs per token")
    axes[1].set_ylabel("µs per token (CPU)")
    axes[1].set_xlabel("experts")
    axes[0].legend(fontsize=9)
    return fig
