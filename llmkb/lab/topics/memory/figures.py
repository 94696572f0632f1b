"""The memory lab's figures, each drawn from one experiment's result."""

from __future__ import annotations

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit.axes import percent_yaxis, plain_log_ticks
from llmkb.lab.topics.memory.names import POLICY_NAMES, STORE_NAMES, TOPIC


@TOPIC.figure(
    "budget",
    "accuracy",
    caption="Accuracy of the closing questions by context budget, one line per memory policy "
    "(mean over conversation seeds, ± 1 sd bars)",
)
def accuracy(res: Result):
    """Accuracy against the budget (log scale), one line per policy."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    for i, r in enumerate(res["rows"]):
        ax.errorbar(r["budgets"], np.asarray(r["acc"]) * 100, yerr=np.asarray(r["acc_sd"]) * 100, color=f"C{i}",
                    marker="o", ms=4, capsize=3, label=POLICY_NAMES[r["policy"]])  # fmt: skip
    ax.set_xscale("log", base=2)
    plain_log_ticks(ax, res["rows"][0]["budgets"])
    ax.set_xlabel("context budget (tokens)")
    percent_yaxis(ax)
    ax.legend(fontsize=9)
    return fig


@TOPIC.figure(
    "budget",
    "cost",
    caption="Accuracy against the tokens actually read per answer (mean), each point one budget; "
    "the star is the whole history in context",
)
def cost(res: Result):
    """Accuracy against mean tokens per answer, one line per policy, and the whole-history reference."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    for i, r in enumerate(res["rows"]):
        if r["policy"] == "none":
            continue
        ax.plot(r["tokens"], np.asarray(r["acc"]) * 100, color=f"C{i}", marker="o", ms=4,
                label=POLICY_NAMES[r["policy"]])  # fmt: skip
    ax.plot([res["whole"]["tokens"]], [res["whole"]["acc"] * 100], marker="*", ms=12, ls="none", color="C7",
            label="whole history")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_xlabel("tokens read per answer (mean)")
    percent_yaxis(ax)
    ax.legend(fontsize=9)
    return fig


@TOPIC.figure(
    "retrieval",
    "recall",
    caption="BM25 over the whole history: how often the statement of the latest value is among the top k (top), "
    "and how often reading the top k in conversation order gives an earlier value (bottom)",
)
def recall(res: Result):
    """Two stacked panels: recall@k of the latest statement and the stale-answer rate, one line per store."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(6.4, 5.4), layout="constrained", sharex=True)
    for i, r in enumerate(res["rows"]):
        for ax, key in zip(axes, ("latest", "stale"), strict=True):
            ax.errorbar(r["ks"], np.asarray(r[key]) * 100, yerr=np.asarray(r[f"{key}_sd"]) * 100, color=f"C{i}",
                        marker="o", ms=4, capsize=3, label=STORE_NAMES[r["store"]])  # fmt: skip
    axes[0].set_ylabel("latest in top k (%)")
    axes[1].set_ylabel("stale answer (%)")
    axes[1].set_xlabel("k (passages retrieved)")
    axes[1].set_xscale("log", base=2)
    plain_log_ticks(axes[1], res["rows"][0]["ks"])
    axes[0].legend(fontsize=9)
    return fig
