"""The reasoning lab's figures, each drawn from one experiment's result."""

from __future__ import annotations

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit import moving_average
from llmkb.lab.kit.axes import percent_yaxis, plain_log_ticks
from llmkb.lab.kit.style import muted
from llmkb.lab.topics.reasoning.names import FORMAT_NAMES, TOPIC


@TOPIC.figure(
    "direct-vs-cot",
    "accuracy",
    caption="Greedy accuracy on held-out sums by number of digits, direct answer against scratchpad, mean over "
    "seeds with ± 1 sd bars; the shaded sizes were never trained on",
)
def accuracy(res: Result):
    """Accuracy by digits, one line per format, error bars over seeds; untrained sizes shaded."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    sizes = res["sizes"]
    for i, (fmt, stats) in enumerate(res["stats"].items()):
        ax.errorbar(sizes, [s["mean"] * 100 for s in stats], yerr=[s["sd"] * 100 for s in stats], color=f"C{i}",
                    marker="o", ms=4, capsize=3, label=FORMAT_NAMES[fmt])  # fmt: skip
    top = max(res["config"]["train_sizes"])
    ax.axvspan(top + 0.5, max(sizes) + 0.5, color=muted(), alpha=0.15, lw=0)
    ax.set_xticks(sizes)
    ax.set_xlim(min(sizes) - 0.5, max(sizes) + 0.5)
    ax.set_xlabel("digits per number")
    percent_yaxis(ax)
    ax.legend(fontsize=9)
    return fig


@TOPIC.figure(
    "self-consistency",
    "compute",
    caption="Majority-vote accuracy against tokens generated per question (log scale), one point per number of "
    "sampled chains n, for the direct and the scratchpad model",
)
def compute(res: Result):
    """Accuracy vs tokens per question, one line per format, points labelled with n."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    for i, (fmt, rows) in enumerate(res["curves"].items()):
        x, y = [r["tokens"] for r in rows], [r["accuracy"] * 100 for r in rows]
        ax.plot(x, y, color=f"C{i}", marker="o", ms=4, label=FORMAT_NAMES[fmt])
        for r, xi, yi in zip(rows, x, y, strict=True):
            ax.annotate(f"n={r['n']}", (xi, yi), textcoords="offset points", xytext=(4, -12), fontsize=9)
    ax.set_xscale("log")
    ax.margins(x=0.12)
    plain_log_ticks(ax)
    ax.set_xlabel("tokens generated per question")
    percent_yaxis(ax)
    ax.legend(fontsize=9, loc="upper left")
    return fig


@TOPIC.figure(
    "grpo",
    "curves",
    caption="GRPO from the scratchpad model: mean reward of the sampled responses (top), held-out greedy accuracy "
    "(middle) and mean response length in tokens (bottom) by step; faint points are single steps, lines their "
    "moving mean",
)
def curves(res: Result):
    """Three stacked panels sharing the step axis."""
    import matplotlib.pyplot as plt

    h, ev = res["history"], res["evals"]
    steps = np.arange(1, len(h["reward"]) + 1)
    fig, axes = plt.subplots(3, 1, figsize=(6.4, 6.4), layout="constrained", sharex=True)
    k = res["config"]["smooth"]
    axes[0].plot(steps, h["reward"], color="C0", marker="o", ms=3, alpha=0.35, label="each step")
    axes[0].plot(steps, moving_average(h["reward"], k), color="C0", label=f"moving mean over {k} steps")
    axes[0].set_ylabel("mean reward")
    axes[0].legend(fontsize=9)
    axes[1].plot(ev["step"], np.asarray(ev["accuracy"]) * 100, color="C1", marker="o", ms=4)
    axes[1].set_ylabel("held-out accuracy (%)")
    axes[2].plot(steps, h["length"], color="C2", marker="o", ms=3, alpha=0.35)
    axes[2].plot(steps, moving_average(h["length"], k), color="C2")
    axes[2].set_ylabel("response tokens")
    axes[2].set_xlabel("GRPO step")
    return fig
