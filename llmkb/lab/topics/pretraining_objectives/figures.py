"""The pretraining-objectives lab's figures, each drawn from one experiment's result."""

from __future__ import annotations

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit import style
from llmkb.lab.topics.pretraining_objectives.names import OBJECTIVE_NAMES, TOPIC


@TOPIC.figure(
    "train",
    "curves",
    caption="Held-out loss of each objective (its own loss, mean over seeds) by tokens seen and by tokens predicted",
)
def curves(res: Result):
    """Two stacked panels sharing the y axis: loss vs tokens seen, loss vs tokens predicted."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(6.4, 5.6), layout="constrained", sharey=True)
    for ax, key, label in zip(
        axes,
        ("seen", "predicted"),
        ("tokens seen (input positions)", "tokens predicted (positions with a loss)"),
        strict=True,
    ):
        for i, r in enumerate(res["rows"]):
            ax.plot(r[key], r["val_loss"], color=f"C{i}", marker="o", ms=3, label=r["name"])
        ax.set_xlabel(label)
        ax.set_ylabel("held-out loss (nats)")
        ax.legend(fontsize=9)
    return fig


def _grid(ax, m, labels: list[str], title: str, prefix: int | None) -> None:
    ax.imshow(np.asarray(m, dtype=float), cmap="viridis", vmin=0.0, aspect="equal", interpolation="nearest")
    ticks = range(0, len(labels), 2)
    ax.set_xticks(ticks, [labels[i] for i in ticks], fontsize=9)
    ax.set_yticks(ticks, [labels[i] for i in ticks], fontsize=9)
    if prefix is not None:
        ax.axvline(prefix - 0.5, color=style.muted(), lw=1.2)
        ax.axhline(prefix - 0.5, color=style.muted(), lw=1.2)
    ax.grid(False)
    ax.set_title(title)
    ax.set_xlabel("key")
    ax.set_ylabel("query")


@TOPIC.figure(
    "samples",
    "masks",
    caption="Top: the three attention masks (bright = may attend; prefix LM with its prefix marked). "
    "Bottom: the trained models' last-layer attention, averaged over heads, on one held-out window",
)
def masks(res: Result):
    """Three masks over three trained attention maps, one column per objective."""
    import matplotlib.pyplot as plt

    labels = res["map_text"]
    fig, axes = plt.subplots(2, 3, figsize=(7.0, 5.2), layout="constrained")
    for j, objective in enumerate(OBJECTIVE_NAMES):
        prefix = res["map_prefix"] if objective == "prefix" else None
        _grid(axes[0, j], res["masks"][objective], labels, OBJECTIVE_NAMES[objective], prefix)
        _grid(axes[1, j], res["maps"][objective], labels, OBJECTIVE_NAMES[objective] + ", trained", prefix)
    return fig
