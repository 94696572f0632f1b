"""Figures of the quantization lab: perplexity vs bytes, per-layer sensitivity, error histograms, QAT recovery."""

from __future__ import annotations

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit import style
from llmkb.lab.kit.axes import plain_log_ticks
from llmkb.lab.topics.quantization.names import FAMILY_ORDER, TOPIC

_MARKERS = {"float": "s", "round-to-nearest": "o", "AWQ": "^", "GPTQ": "v", "QAT": "D", "GGUF": "P"}


@TOPIC.figure("sizes", "pareto", caption="Held-out perplexity (per byte of text) against stored size, one marker "
              "per variant; the line joins the Pareto frontier (labelled, with FP32 and the GGUF files): no other "
              "variant is both smaller and better.")  # fmt: skip
def pareto_figure(result: Result):
    """Scatter of every variant, coloured by family, with the frontier and labels."""
    import matplotlib.pyplot as plt

    pts = result["points"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    for i, fam in enumerate(FAMILY_ORDER):
        sel = [p for p in pts if p["family"] == fam]
        if sel:
            ax.plot([p["bytes"] / 1e6 for p in sel], [p["ppl"] for p in sel], _MARKERS[fam], color=f"C{i}",
                    label=fam, ms=7, alpha=0.9)  # fmt: skip
    front = [pts[i] for i in result["frontier"]]
    ax.plot(
        [p["bytes"] / 1e6 for p in front], [p["ppl"] for p in front], "-", color=style.muted(), lw=1, zorder=0
    )
    labelled = set(result["frontier"]) | {0} | {i for i, p in enumerate(pts) if p["family"] == "GGUF"}
    for i in sorted(labelled):  # the frontier, FP32 and the files; the table names every point
        p = pts[i]
        ax.annotate(p["name"], (p["bytes"] / 1e6, p["ppl"]), xytext=(4, 4), textcoords="offset points",
                    fontsize=9, color=style.ink())  # fmt: skip
    ax.set_xscale("log")
    plain_log_ticks(ax, [0.3, 0.5, 1, 2, 3])
    ax.set_xlabel("stored size (MB)")
    ax.set_ylabel("perplexity per byte")
    ax.legend(fontsize=9, loc="upper right")
    return fig


@TOPIC.figure("errors", "sensitivity", caption="Perplexity increase when one layer alone is quantized harshly "
              "(every other layer float), one bar per layer, coloured by kind.")  # fmt: skip
def sensitivity_figure(result: Result):
    """Bars per layer in model order."""
    import matplotlib.pyplot as plt

    rows = result["rows"]
    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    for j, r in enumerate(rows):
        ax.bar(j, r["delta"], color=f"C{kinds.index(r['kind'])}")
    for k, kind in enumerate(kinds):
        ax.bar(0, 0, color=f"C{k}", label=kind)
    per_block = len(rows) // max(1, len({r["layer"].split(".")[0] for r in rows}))
    ax.set_xticks([b * per_block + (per_block - 1) / 2 for b in range(len(rows) // per_block)])
    ax.set_xticklabels([f"block {b}" for b in range(len(rows) // per_block)])
    ax.set_ylabel(f"perplexity increase ({result['harsh']})")
    ax.legend(fontsize=9, ncol=4)
    return fig


@TOPIC.figure("errors", "histogram", caption="Absolute error of each weight of the most outlier-heavy matrix, "
              "quantized to 4 bits with one scale for the tensor vs one scale per group of 32.")  # fmt: skip
def histogram_figure(result: Result):
    """Step histograms of |error| on shared log bins."""
    import matplotlib.pyplot as plt

    h = result["hist"]
    edges = np.array(h["edges"])
    fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
    for i, name in enumerate(result["mse"]):
        ax.stairs(np.array(h[name]) * 100, edges, color=f"C{i}", lw=1.5,
                  label=f"{name} (MSE {result['mse'][name]:.2g})")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel(f"|weight error| in {h['layer']}")
    ax.set_ylabel("% of weights")
    ax.legend(fontsize=9)
    return fig


@TOPIC.figure("errors", "activations", caption="Mean magnitude of each input channel of the layer whose input "
              "has the strongest outlier channels: a few channels carry most of the signal.")  # fmt: skip
def activation_figure(result: Result):
    """Per-channel mean |x| as bars."""
    import matplotlib.pyplot as plt

    a = np.array(result["activation"]["profile"])
    fig, ax = plt.subplots(figsize=(6.4, 3.0), layout="constrained")
    ax.bar(np.arange(len(a)), a, width=1.0, color="C0")
    ax.set_xlabel(f"input channel of {result['activation']['layer']}")
    ax.set_ylabel("mean |activation|")
    return fig


@TOPIC.figure("qat", "recovery", caption="Perplexity increase over the float model during quantization-aware "
              "fine-tuning (mean over seeds, band: min to max); dashed: post-training quantization.")  # fmt: skip
def recovery_figure(result: Result):
    """One colour per spec: QAT's mean curve with its seed band, PTQ as a dashed level."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    for i, (label, run) in enumerate(result["runs"].items()):
        steps, c = np.array(run["steps"]), np.array(run["curves"])
        ax.plot(steps, c.mean(0), "o-", color=f"C{i}", ms=4, label=f"QAT {label}")
        ax.fill_between(steps, c.min(0), c.max(0), color=f"C{i}", alpha=0.2, lw=0)
        ax.axhline(run["ptq"], color=f"C{i}", ls="--", lw=1, label=f"PTQ {label}")
    ax.axhline(0, color=style.muted(), lw=0.8)
    ax.set_xlabel("QAT steps")
    ax.set_ylabel("perplexity increase")
    ax.legend(fontsize=9, ncol=2, loc="center right")
    return fig
