"""The normalization and activations lab's figures, each drawn from one experiment's result."""

from __future__ import annotations

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit import style
from llmkb.lab.kit.smoothing import moving_average
from llmkb.lab.topics.norms_and_activations.names import TOPIC

_STYLES = {("layernorm", "gelu"): "C0", ("layernorm", "swiglu"): "C1", ("rmsnorm", "gelu"): "C2",
           ("rmsnorm", "swiglu"): "C3"}  # fmt: skip


@TOPIC.figure("grid", "curves", caption="Training loss of every variant, mean ± sd over seeds (smoothed)")
def curves(res: Result):
    """Two stacked panels, pre-norm and post-norm; one band per norm x FFN."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(6.4, 5.6), layout="constrained", sharex=True, sharey=True)
    for ax, pos in zip(axes, ("pre", "post"), strict=True):
        for r in (r for r in res["rows"] if r["norm_position"] == pos):
            mean, sd = np.asarray(r["curve"]["mean"]), np.asarray(r["curve"]["sd"])
            k = max(1, len(mean) // 10)
            m, s = moving_average(mean, k), moving_average(sd, k)
            steps = np.arange(1, len(m) + 1)
            colour = _STYLES[(r["norm"], r["activation"])]
            ax.plot(steps, m, color=colour, label=r["variant"].split(" · ", 1)[1])
            ax.fill_between(steps, m - s, m + s, color=colour, alpha=0.2, lw=0)
        ax.set_title(f"{pos}-norm")
        ax.set_ylabel("training loss (nats/byte)")
        if ax.lines:
            ax.legend(fontsize=9)
    axes[-1].set_xlabel("step")
    return fig


@TOPIC.figure(
    "grid",
    "dynamics",
    caption="Training dynamics, seed mean: gradient norm of each layer (averaged over steps) and update/weight ratio",
)
def dynamics(res: Result):
    """Top: per-layer gradient norm by layer; bottom: global update/weight ratio over steps."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(2, 1, figsize=(6.4, 6.4), layout="constrained")
    for r in res["rows"]:
        colour = _STYLES[(r["norm"], r["activation"])]
        ls = "-" if r["norm_position"] == "pre" else "--"
        g = np.asarray(r["layer_grad_norms"]).mean(0)
        axes[0].plot(np.arange(1, len(g) + 1), g, ls, color=colour, marker="o", label=r["variant"])
        axes[1].plot(np.arange(1, len(r["update_ratio"]) + 1), r["update_ratio"], ls, color=colour)
    axes[0].set_xlabel("layer")
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("gradient norm")
    axes[0].set_yscale("log")
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("‖Δw‖ / ‖w‖")
    axes[1].set_yscale("log")
    fig.legend(loc="outside lower center", ncols=2, fontsize=9)
    return fig


@TOPIC.figure(
    "stability",
    "lr-sweep",
    caption="Final training loss against learning rate, with warm-up (solid) and without (dashed); "
    "dotted: the initial loss, above which a run counts as diverged",
)
def lr_sweep(res: Result):
    """One panel; final loss (clipped at the plot's top for NaN) against the learning rate."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    lrs = res["lrs"]
    initial = float(np.nanmean([np.mean(r["initial"]) for r in res["runs"]]))
    colours: dict[str, str] = {}
    for r in res["runs"]:
        colour = colours.setdefault(r["variant"], f"C{len(colours)}")
        final = np.asarray(r["final"], dtype=float)
        shown = np.where(np.isfinite(final), np.minimum(final, initial * 1.5), initial * 1.5)
        label = r["variant"] if r["warmup"] else None
        ax.plot(lrs, shown, "-" if r["warmup"] else "--", color=colour, marker="o", label=label)
    ax.axhline(initial, color=style.muted(), ls=":", lw=1.5)
    ax.set_xscale("log")
    ax.set_xlabel("peak learning rate")
    ax.set_ylabel("final loss (nats/byte)")
    ax.legend(fontsize=9)
    return fig


@TOPIC.figure(
    "depth",
    "residual-norm",
    caption="Mean norm of the residual stream after the embedding (0) and after each layer, at init and trained",
)
def residual_norm(res: Result):
    """Residual norm against depth, one colour per variant, dashed at init."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
    for i, r in enumerate(res["rows"]):
        layers = np.arange(len(r["trained"]["resid_norm"]))
        ax.plot(layers, r["init"]["resid_norm"], "--", color=f"C{i}")
        ax.plot(layers, r["trained"]["resid_norm"], "-", marker="o", color=f"C{i}", label=r["variant"])
    ax.set_xlabel("layer (0 = embedding)")
    ax.set_ylabel("mean ‖x‖ per token")
    ax.set_yscale("log")
    ax.legend(fontsize=9)
    return fig


def _histograms(res: Result, state: str):
    """One row per variant: a layer x value heatmap of the residual stream and of the FFN hidden units, read
    from the ``state`` ("init" or "trained") models."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import MaxNLocator

    rows = res["rows"]
    fig, axes = plt.subplots(len(rows), 2, figsize=(6.4, 2.0 * len(rows) + 0.6), layout="constrained")
    for row_axes, r in zip(np.atleast_2d(axes), rows, strict=True):
        for ax, key, title in zip(row_axes, ("resid", "ffn"), ("residual", "FFN hidden"), strict=True):
            h = np.asarray(r[state][f"{key}_hist"]) + 1e-6
            edges = r["edges"][key]
            first = 0 if key == "resid" else 1
            ax.imshow(h, aspect="auto", origin="lower", cmap="viridis", norm=LogNorm(1e-4, 1),
                      extent=(edges[0], edges[-1], first - 0.5, first + len(h) - 0.5))  # fmt: skip
            ax.set_title(f"{r['variant']}: {title}", fontsize=9)
            ax.set_ylabel("layer")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in np.atleast_2d(axes)[-1]:
        ax.set_xlabel("value")
    return fig


@TOPIC.figure(
    "depth",
    "histograms",
    caption="Distribution of residual-stream values (left) and FFN hidden activations (right) by layer, after "
    "training; colour: share of values per bin (log scale)",
)
def histograms(res: Result):
    """The heatmaps of the trained models."""
    return _histograms(res, "trained")


@TOPIC.figure(
    "depth",
    "histograms-init",
    caption="The same distributions at initialization, in the same bins as after training",
)
def histograms_init(res: Result):
    """The heatmaps of the models at initialization (same bins as the trained ones)."""
    return _histograms(res, "init")
