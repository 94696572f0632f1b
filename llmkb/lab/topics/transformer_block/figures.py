"""Figures of the transformer-block lab, each drawn from one experiment's result only."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit import moving_average, style
from llmkb.lab.topics.transformer_block.names import TOPIC

__all__ = ["depth_curves", "depth_cost", "surgery_effects", "norm_curves"]

_SMOOTH = 9  # training-loss points per moving average


def _ramp(n: int) -> list[Any]:
    """``n`` colours along viridis, leaving out the end that fades into the theme's background."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb

    dark = sum(to_rgb(style.paper())) < 1.5
    lo, hi = (0.3, 1.0) if dark else (0.0, 0.85)  # dark: no deep purple; light: no pale yellow
    return [plt.get_cmap("viridis")(v) for v in np.linspace(lo, hi, n)]


def _plain_log(axis: Any) -> None:
    """Label a log axis with plain numbers (0.01, 2.4) instead of powers of ten (10⁻², 2.4×10⁰).

    matplotlib's own log formatter still chooses which ticks get a label (decades; in-between ticks too when
    the axis spans few decades); only the text changes.
    """
    from matplotlib.ticker import LogFormatter

    class _Plain(LogFormatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return f"{x:g}" if super().__call__(x, pos) else ""

    axis.set_major_formatter(_Plain(labelOnlyBase=False))
    axis.set_minor_formatter(_Plain(labelOnlyBase=False))


@TOPIC.figure("depth", "curves", caption="Training loss vs step for each depth (best possible loss: 0)")
def depth_curves(res: Result) -> Any:
    """Smoothed training loss of every depth, on a log scale, with the uniform guess for reference."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.8, 3.9))
    depths = sorted(res["runs"], key=int)
    for d, color in zip(depths, _ramp(len(depths)), strict=True):
        run = res["runs"][d]
        ax.plot(run["steps"], moving_average(run["train_loss"], _SMOOTH), color=color,
                label=f"{d} block{'' if d == '1' else 's'}")  # fmt: skip
    ax.axhline(res["chance_loss"], color=style.muted(), ls="--", lw=1, label="uniform guess (ln V)")
    ax.set_yscale("log")
    _plain_log(ax.yaxis)
    ax.set_xlabel("training step")
    ax.set_ylabel("loss on answer tokens (nats, log scale)")
    ax.legend(ncols=2)
    return fig


@TOPIC.figure("depth", "cost", caption="Parameters and milliseconds per step vs number of blocks")
def depth_cost(res: Result) -> Any:
    """Parameter count (left axis) and measured milliseconds per training step (right axis) per depth."""
    import matplotlib.pyplot as plt

    rows = res["rows"]
    depth = [r["blocks"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.6, 3.5))
    ax.plot(depth, [r["parameters"] / 1e3 for r in rows], "o-", label="parameters (thousands)")
    ax.set_xlabel("blocks")
    ax.set_xticks(depth)
    ax.set_ylabel("parameters (thousands)")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    ax2.plot(depth, [r["ms/step"] for r in rows], "s--", color="C1", label="ms per training step")
    ax2.set_ylabel("ms per training step")
    ax2.set_ylim(bottom=0)
    fig.legend(loc="upper left", bbox_to_anchor=(0.12, 0.88))
    return fig


@TOPIC.figure(
    "surgery",
    "effects",
    caption="Per-token accuracy and loss after each operation: applied to the trained model vs trained with it",
)
def surgery_effects(res: Result) -> Any:
    """Two bar panels (per-token accuracy, loss on a log axis), one pair of bars per operation."""
    import matplotlib.pyplot as plt

    ops = [row["operation"] for row in res["rows"]]
    y = np.arange(len(ops))
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(7.0, 4.4), sharey=True, layout="constrained")
    kinds = (
        ("after_training", "applied to the trained model", -0.2),
        ("trained_with", "trained with it", 0.2),
    )
    for key, label, shift in kinds:
        got = [res["operations"][o].get(key) for o in ops]
        acc = [g["token_accuracy"] if g else np.nan for g in got]
        loss = [max(g["loss"], 1e-4) if g else np.nan for g in got]
        acc_ax.barh(y + shift, acc, height=0.4, label=label)
        loss_ax.barh(y + shift, loss, height=0.4, label=label)
    base, chance_acc = res["baseline"], float(np.exp(-res["chance_loss"]))  # 1/V per token
    acc_ax.axvline(base["token_accuracy"], color=style.ink(), ls=":", lw=1.2, label="baseline")
    acc_ax.axvline(chance_acc, color=style.muted(), ls="--", lw=1.2, label="chance (1/V)")
    loss_ax.axvline(max(base["loss"], 1e-4), color=style.ink(), ls=":", lw=1.2)
    loss_ax.axvline(res["chance_loss"], color=style.muted(), ls="--", lw=1.2)
    acc_ax.set_yticks(y, ops)
    acc_ax.invert_yaxis()
    acc_ax.set_xlim(0, 1.02)
    acc_ax.set_xlabel("per-token accuracy")
    loss_ax.set_xscale("log")
    _plain_log(loss_ax.xaxis)
    loss_ax.set_xlabel("loss (nats, log scale; floor 1e-4)")
    fig.legend(*acc_ax.get_legend_handles_labels(), loc="outside lower center", ncols=2)
    return fig


@TOPIC.figure("norm", "curves", caption="Pre-norm vs post-norm, with and without warm-up")
def norm_curves(res: Result) -> Any:
    """Smoothed training loss of every norm-placement run, in the table's order (dotted: no residual)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.8, 3.9))
    for i, label in enumerate(row["variant"] for row in res["rows"]):
        run = res["curves"][label]
        dash = ":" if "no residual" in label else ("-" if label.startswith("pre") else "--")
        ax.plot(run["steps"], moving_average(run["train_loss"], _SMOOTH), ls=dash, color=f"C{i}", label=label)
    ax.axhline(res["chance_loss"], color=style.muted(), ls=(0, (1, 3)), lw=1, label="uniform guess (ln V)")
    ax.set_yscale("log")
    _plain_log(ax.yaxis)
    ax.set_xlabel("training step")
    ax.set_ylabel("loss on answer tokens (nats, log scale)")
    ax.legend()
    return fig
