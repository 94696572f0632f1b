"""Figures of the scaling-laws lab: loss vs size and vs compute with the fitted laws; memory and time profiles."""

from __future__ import annotations

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit import style
from llmkb.lab.topics.scaling_laws.analysis import law
from llmkb.lab.topics.scaling_laws.experiments_profile import PARTS
from llmkb.lab.topics.scaling_laws.names import TOPIC
from llmkb.metrics.scaling import compute_optimal, loss_at_compute


@TOPIC.figure("sweep", "loss-vs-size", caption="Held-out loss against non-embedding parameters, one colour per "
              "token budget; lines: the joint fit L(N, D) at each budget.")  # fmt: skip
def loss_vs_size(result: Result):
    """Points of every budget and the joint law drawn through them."""
    p = {k: np.array(v) for k, v in result["points"].items()}
    fit = law(result["fits"]["ND"], "ND")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    grid = np.geomspace(p["n"].min() / 1.3, p["n"].max() * 1.3, 100)
    for i, d in enumerate(sorted(set(p["d"]))):
        sel = p["d"] == d
        colour = f"C{i}"
        ax.plot(p["n"][sel], p["loss"][sel], "o", color=colour, label=f"{d / 1e3:.0f}k tokens")
        ax.plot(grid, fit.predict(grid, d), "-", color=colour, lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("non-embedding parameters N")
    ax.set_ylabel("held-out loss (nats/byte)")
    ax.legend(fontsize=9)
    return fig


@TOPIC.figure("sweep", "loss-vs-compute", caption="Held-out loss against training compute C = 6ND, one colour per "
              "size; black: the lower envelope; dashed: the fitted law's compute-optimal loss.")  # fmt: skip
def loss_vs_compute(result: Result):
    """Every run's curve in compute, the envelope, and the law along its frontier."""
    p = {k: np.array(v) for k, v in result["points"].items()}
    fit = law(result["fits"]["ND"], "ND")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    for i, n in enumerate(sorted(set(p["n"]))):
        sel = p["n"] == n
        ax.plot(
            p["compute"][sel], p["loss"][sel], "o-", color=f"C{i}", lw=1, ms=4, label=f"N = {n / 1e3:.0f}k"
        )
    env = np.array(result["envelope"])
    ax.plot(p["compute"][env], p["loss"][env], "-", color=style.ink(), lw=2, label="envelope")
    c = np.geomspace(p["compute"].min(), p["compute"].max(), 100)
    ax.plot(c, loss_at_compute(fit, c), "--", color=style.muted(), label="law, optimal N")
    ax.set_xscale("log")
    ax.set_xlabel("compute C = 6ND (FLOPs)")
    ax.set_ylabel("held-out loss (nats/byte)")
    ax.legend(fontsize=9, ncol=2)
    return fig


@TOPIC.figure("optimal", "frontier", caption="The fitted law's compute-optimal N against compute, the sweep's "
              "sizes, and the size trained at the recommended point.")  # fmt: skip
def frontier(result: Result):
    """N_opt(C) with the 20-tokens rule and the check run."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
    c = np.geomspace(result["compute"] / 100, result["compute"] * 10, 100)
    n_opt, _ = compute_optimal(law({"params": result["fit"]}, "ND"), c)
    ax.plot(c, n_opt, "-", color=f"C{0}", label="fitted law: N_opt(C)")
    ax.plot(c, np.sqrt(c / 120), "--", color=style.muted(), label="20 tokens per parameter")
    ax.plot([result["compute"]], [result["n_run"]], "o", color=f"C{1}", label="check run")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("compute C (FLOPs)")
    ax.set_ylabel("parameters N")
    ax.legend(fontsize=9)
    return fig


@TOPIC.figure("profiles", "memory", caption="Memory of one AdamW training step by formula (stacked) and measured "
              "(points), at each size, batch and sequence length.")  # fmt: skip
def memory(result: Result):
    """Stacked formula parts beside the measured peak."""
    rows = result["rows"]
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    x = np.arange(len(rows))
    bottom = np.zeros(len(rows))
    for i, part in enumerate(PARTS):
        v = np.array([r[part] for r in rows]) / 2**20
        ax.bar(x, v, bottom=bottom, color=f"C{i}", label=part)
        bottom += v
    ax.plot(x, [r["measured"] / 2**20 for r in rows], "D", color=style.ink(), label="measured peak")
    labels = [f"d{r['width']}" if r["axis"] == "size" else f"B{r['batch']}" if r["axis"] == "batch"
              else f"T{r['length']}" for r in rows]  # fmt: skip
    ax.set_xticks(x, labels, rotation=60)
    ax.set_ylabel("MiB")
    ax.legend(fontsize=9)
    return fig
