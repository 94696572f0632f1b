"""Figures of the cost experiments: softmax saturation against the head width, memory against the length."""

from __future__ import annotations

from typing import Any

from llmkb.lab import Result
from llmkb.lab.kit import style
from llmkb.lab.kit.axes import nice_log_yticks, plain_log_ticks
from llmkb.lab.topics.attention.names import TOPIC

__all__ = ["fig_memory", "fig_scaling"]


@TOPIC.figure(
    "scaling",
    "entropy",
    caption="Softmax of random q·k: entropy, top weight and keys in effect vs the head width d",
)
def fig_scaling(res: Result) -> Any:
    """Normalized entropy, mean top weight and effective keys, scaled and unscaled, against ``d``; the real
    head widths are marked."""
    import matplotlib.pyplot as plt

    rows = res["rows"]
    d = [r["d"] for r in rows]
    real = sorted(int(w) for w in res["widths"])
    fig, axes = plt.subplots(3, 1, figsize=(6.4, 7.4), sharex=True)
    panels = (
        ("entropy", "entropy / ln(keys)", False),
        ("max", "mean top weight", False),
        ("keys", f"keys in effect (of {res['n_keys']})", True),
    )
    for ax, (stat, label, log) in zip(axes, panels, strict=True):
        ax.plot(d, [r[f"{stat}_scaled"] for r in rows], marker="o", label="q·k / √d")
        ax.plot(d, [r[f"{stat}_raw"] for r in rows], marker="s", label="q·k (unscaled)")
        for w in real:
            ax.axvline(w, color=style.muted(), linestyle=":", linewidth=1.2)
        ax.set_xscale("log", base=2)
        if log:
            ax.set_yscale("log")
        else:
            ax.set_ylim(0, 1.05)
        plain_log_ticks(ax, d if len(d) <= 6 else None)
        ax.set_ylabel(label)
    axes[-1].set_xlabel("head width d (dotted: real models)")
    axes[0].legend()
    fig.align_ylabels(axes)
    fig.tight_layout()
    return fig


@TOPIC.figure("memory", "memory", caption="One attention layer: bytes and FLOPs vs sequence length")
def fig_memory(res: Result) -> Any:
    """Measured bytes of the weights and of q, k, v, and the FLOPs, against ``T`` (log-log)."""
    import matplotlib.pyplot as plt

    rows = res["rows"]
    T = [r["T"] for r in rows]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(6.4, 5.8), sharex=True)
    a1.plot(T, [r["weights_bytes"] / 2**20 for r in rows], marker="o", label="attention weights (B·H·T²)")
    a1.plot(T, [r["qkv_bytes"] / 2**20 for r in rows], marker="s", label="q, k, v (3·B·H·T·D)")
    a1.set_ylabel("MiB (measured tensor storage)")
    a1.legend()
    a2.plot(T, [r["gflop"] for r in rows], marker="o", label="4·H·T²·D")
    a2.set_ylabel("GFLOP per layer")
    a2.legend()
    for ax in (a1, a2):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        plain_log_ticks(ax, T if len(T) <= 8 else None)
        nice_log_yticks(ax)
    a2.set_xlabel("sequence length T")
    fig.align_ylabels((a1, a2))
    fig.tight_layout()
    return fig
