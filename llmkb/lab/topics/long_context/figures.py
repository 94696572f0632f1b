"""The long-context lab's figures, each drawn from one experiment's result."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit import style
from llmkb.lab.kit.axes import plain_log_ticks

from .names import TOPIC, VARIANTS, label

_KERNEL_STYLE = {
    "naive": ("C0", "o"),
    "chunked": ("C1", "s"),
    "sdpa-math": ("C2", "^"),
    "sdpa-flash": ("C3", "D"),
    "sdpa-efficient": ("C5", "v"),
    "window": ("C4", "P"),
}
_VARIANT_COLOR = {
    "rope": "C2",
    "rope-pi": "C7",
    "rope-ntk": "C4",
    "alibi": "C3",
    "rope-window": "C1",
    "learned": "C0",
}


def _slope_guides(ax: Any, T: list[int], anchor: float, label_y: str) -> None:
    """Dotted O(T) and O(T^2) lines through ``anchor`` at the first length."""
    t = np.array([T[0], T[-1]], dtype=float)
    for power, ls in ((1, ":"), (2, "--")):
        ax.plot(
            t,
            anchor * (t / t[0]) ** power,
            color=style.muted(),
            lw=1,
            ls=ls,
            label=f"∝ T{'²' if power == 2 else ''} ({label_y})",
        )


def _kernel_panel(ax: Any, series: dict[str, Any], key: str, ylabel: str, title: str) -> None:
    lo = None
    for k, s in series.items():
        ys = [max(y, 1e-3) for y in s[key]]
        color, marker = _KERNEL_STYLE.get(k, ("C6", "x"))
        ax.plot(s["T"], ys, marker=marker, color=color, label=label(k), ms=4)
        lo = ys[0] if k == "naive" else lo
    Ts = max((s["T"] for s in series.values()), key=len)
    if lo is not None:
        _slope_guides(ax, Ts, lo, "guide")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    plain_log_ticks(ax, Ts)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9.5)


def _two_panels(res: Result, key: str, ylabel: str):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(6.8, 7.4), layout="constrained")
    _kernel_panel(axes[0], res["series"]["forward"], key, ylabel, "forward")
    _kernel_panel(
        axes[1],
        res["series"]["backward"],
        key,
        ylabel,
        f"forward + backward (up to T = {res['max_backward']})",
    )
    axes[1].set_xlabel("sequence length T (log scale)")
    axes[0].legend(fontsize=8.5, ncols=2)
    return fig


@TOPIC.figure("benchmark", "time", caption="Attention time vs sequence length, log-log, with T and T² guides")
def time_plot(res: Result):
    """Median time per call of every kernel, forward and forward + backward."""
    return _two_panels(res, "ms", "time per call (ms)")


@TOPIC.figure("benchmark", "memory", caption="Measured peak extra memory vs sequence length, log-log")
def memory_plot(res: Result):
    """Peak resident memory a call adds (measured high-water mark), forward and forward + backward."""
    return _two_panels(res, "mib", "peak extra memory (MiB)")


@TOPIC.figure("context", "perplexity", caption="Perplexity vs context length; × marks each collapse point")
def perplexity_plot(res: Result):
    """Perplexity of the same last bytes of each text vs the context length read, one curve per variant."""
    import matplotlib.pyplot as plt

    T, lengths = res["seq_len"], res["lengths"]
    fig, ax = plt.subplots(figsize=(6.8, 4.4), layout="constrained")
    for v in VARIANTS:
        p = [x if math.isfinite(x) else np.nan for x in res["ppl"][v]]
        ax.plot(lengths, p, marker="o", ms=3.5, color=_VARIANT_COLOR[v], label=label(v))
        c = res["collapse"][v]
        if c is not None:
            ax.plot(
                [c], [p[lengths.index(c)]], marker="X", ms=11, color=_VARIANT_COLOR[v], mec=style.ink(), ls=""
            )
    ax.axvline(T, color=style.muted(), lw=1, ls="--")
    ax.annotate(
        "training length",
        (T, 0.98),
        xycoords=("data", "axes fraction"),
        ha="right",
        va="top",
        rotation=90,
        fontsize=9,
    )
    ax.set_xscale("log", base=2)
    plain_log_ticks(ax, lengths)
    ax.set_xlabel("context length (bytes, log scale)")
    ax.set_ylabel(f"perplexity of the last {res['tail']} bytes")
    ax.legend(fontsize=8.5, ncols=2)
    return fig


@TOPIC.figure("window", "window-size", caption="Perplexity at a fixed long length vs the sliding-window size")
def window_plot(res: Result):
    """One point per window size; the dashed line is the training length."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.4), layout="constrained")
    ax.plot(res["sizes"], res["ppl"], marker="o", color="C1")
    ax.axvline(res["seq_len"], color=style.muted(), lw=1, ls="--", label="training length")
    ax.set_xscale("log", base=2)
    plain_log_ticks(ax, res["sizes"])
    ax.set_xlabel(f"window (bytes, log scale); text length {res['length']}")
    ax.set_ylabel("perplexity")
    ax.legend()
    return fig


@TOPIC.figure("window", "reach", caption="How much a token d positions back changes the last prediction")
def reach_plot(res: Result):
    """Mean largest logit change vs distance, log y; zero changes are drawn at the bottom edge."""
    import matplotlib.pyplot as plt

    d = np.asarray(res["distances"])
    y = np.asarray(res["influence"], dtype=float)
    pos = y[y > 0]
    bottom = float(pos.min()) / 10 if pos.size else 1e-6
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    ax.plot(
        d,
        np.where(y > 0, y, bottom),
        marker="o",
        ms=3,
        color="C0",
        label="measured change (zero: drawn at the bottom)",
    )
    ax.axvline(res["theory"], color="C3", lw=1.2, ls="--", label=f"L·(w−1) = {res['theory']}")
    ax.axhline(
        res["floor"], color=style.muted(), lw=1, ls=":", label=f"{res['relative_floor']:.0%} of the largest"
    )
    ax.set_yscale("log")
    ax.set_ylim(bottom=bottom / 2)
    ax.set_xlabel(f"distance back (window {res['reach_window']}, {res['layers']} layers)")
    ax.set_ylabel("largest logit change")
    ax.legend(fontsize=8.5)
    return fig


@TOPIC.figure("passkey", "accuracy", caption="Passkey accuracy vs distance, windowed and full attention")
def passkey_plot(res: Result):
    """Accuracy per distance for both models, the ``L (w - 1)`` line and the chance level with its band."""
    import matplotlib.pyplot as plt

    d = np.asarray(res["distances"])
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    chance, band = res["chance"], res["chance_band"]
    ax.axhspan(chance - band, chance + band, color=style.muted(), alpha=0.15, lw=0)
    ax.axhline(chance, color=style.muted(), lw=1, ls=":", label=f"chance 1/{round(1 / chance)}")
    ax.plot(d, res["accuracy"]["full"], marker="s", ms=3, color="C0", label="full attention")
    ax.plot(d, res["accuracy"]["window"], marker="o", ms=3, color="C1", label=f"window {res['window']}")
    ax.axvline(res["theory"], color="C3", lw=1.2, ls="--", label=f"L·(w−1) = {res['theory']}")
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlabel(f"distance of the passkey before the query ({res['layers']} layers)")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8.5, loc="center right")
    return fig
