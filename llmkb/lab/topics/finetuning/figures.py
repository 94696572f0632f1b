"""The finetuning lab's figures, each drawn from one experiment's result."""

from __future__ import annotations

import numpy as np

from llmkb.lab import Result
from llmkb.lab.topics.finetuning.names import HELD_OUT_TASKS, TOPIC, TRAIN_TASKS


@TOPIC.figure(
    "domain",
    "curves",
    caption="Held-out loss on the new domain (Python source, top) and the old one (pydoc prose, bottom) "
    "while finetuning: full finetuning and LoRA at several ranks, same batches",
)
def curves(res: Result):
    """Two stacked panels: code loss and prose loss by step, one line per method."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(6.4, 5.6), layout="constrained", sharex=True)
    for ax, key, label in zip(
        axes, ("new", "old"), ("code loss (nats/byte)", "prose loss (nats/byte)"), strict=True
    ):
        for i, (name, c) in enumerate(res["curves"].items()):
            ax.plot(c["step"], c[key], color=f"C{i}", marker="o", ms=3, label=name)
        ax.set_ylabel(label)
    axes[0].legend(fontsize=9)
    axes[1].set_xlabel("finetuning step")
    return fig


@TOPIC.figure(
    "domain",
    "params",
    caption="Code loss after finetuning against the number of trained parameters (log scale); "
    "the label gives the rise of the prose loss (forgetting)",
)
def params(res: Result):
    """One point per method: trainable parameters vs final code loss, annotated with forgetting."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    for i, r in enumerate(res["rows"]):
        ax.scatter([r["trainable"]], [r["new_after"]], color=f"C{i}", s=30, zorder=3)
        ax.annotate(f"{r['name']}\nprose {r['forgetting']:+.3f}", (r["trainable"], r["new_after"]),
                    textcoords="offset points", xytext=(6, 4), fontsize=9)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel("code loss after (nats/byte)")
    ax.margins(x=0.3, y=0.2)
    return fig


@TOPIC.figure(
    "sft",
    "tasks",
    caption="Exact match per task before instruction tuning and after it, with and without prompt-loss masking; "
    "the last rows are compositions held out of training",
)
def tasks(res: Result):
    """Horizontal grouped bars: one group per task, one bar per stage."""
    import matplotlib.pyplot as plt

    names = [*TRAIN_TASKS, *HELD_OUT_TASKS]
    stages = [
        ("before", "before tuning"),
        ("masked", "SFT, prompt masked"),
        ("unmasked", "SFT, whole sequence"),
    ]
    fig, ax = plt.subplots(figsize=(6.4, 5.0), layout="constrained")
    y = np.arange(len(names))
    for i, (key, label) in enumerate(stages):
        ax.barh(
            y + (i - 1) * 0.27,
            [res["scores"][key][t] for t in names],
            height=0.25,
            color=f"C{i}",
            label=label,
        )
    ax.set_yticks(y, [t + (" (held out)" if t in HELD_OUT_TASKS else "") for t in names])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("exact match")
    ax.legend(fontsize=9, loc="lower right")
    return fig


@TOPIC.figure(
    "ppo",
    "curves",
    caption="PPO from the SFT model, one run per KL coefficient β: the reward model's mean score, the judge's "
    "mean score (the true one), the KL to the SFT model and the response length, per rollout batch",
)
def ppo_curves(res: Result):
    """Four stacked panels sharing the step axis."""
    import matplotlib.pyplot as plt

    keys = [("reward", "reward model"), ("true", "judge (true)"), ("kl", "KL to SFT (nats)"),
            ("length", "length (tokens)")]  # fmt: skip
    fig, axes = plt.subplots(4, 1, figsize=(6.4, 8.0), layout="constrained", sharex=True)
    for ax, (key, label) in zip(axes, keys, strict=True):
        for i, r in enumerate(res["runs"]):
            h = r["history"][key]
            ax.plot(range(1, len(h) + 1), h, color=f"C{i}", label=f"β = {r['beta']:g}")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=9)
    axes[-1].set_xlabel("PPO step (one rollout batch)")
    return fig
