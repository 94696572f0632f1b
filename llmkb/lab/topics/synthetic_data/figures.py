"""The synthetic-data lab's figures, each drawn from one experiment's result."""

from __future__ import annotations

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit import style
from llmkb.lab.topics.synthetic_data.names import TOPIC


@TOPIC.figure(
    "dedup",
    "s-curve",
    caption="Share of pairs that become LSH candidates, by Jaccard similarity: measured (points) and 1 − (1 − sʳ)ᵇ (line)",
)
def s_curve(res: Result):
    """The predicted S-curve, the measured rates and the verification threshold."""
    import matplotlib.pyplot as plt

    cfg = res["config"]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    s = np.linspace(0, 1, 201)
    b, r = cfg["bands"], cfg["rows"]
    ax.plot(s, 1 - (1 - s**r) ** b, color="C0", label=f"1 − (1 − s^{r})^{b}")
    ax.plot(res["grid"], res["measured"], "o", color="C1", ms=4, label="measured")
    ax.axvline(cfg["threshold"], color=style.muted(), ls="--", lw=1, label="verification threshold")
    ax.set_xlabel("Jaccard similarity s of a pair")
    ax.set_ylabel("P(candidate)")
    ax.legend(fontsize=9, loc="upper left")
    return fig


@TOPIC.figure(
    "dedup",
    "cost",
    caption="Time per corpus size for MinHash signatures and the LSH pass, and the LSH index's peak memory",
)
def cost(res: Result):
    """Two stacked panels: seconds and bytes against documents."""
    import matplotlib.pyplot as plt

    c = res["cost"]
    n = [x["docs"] for x in c]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(6.4, 5.2), layout="constrained", sharex=True)
    a1.plot(n, [x["signature_s"] for x in c], "o-", color="C0", label="signatures")
    a1.plot(n, [x["lsh_s"] for x in c], "s-", color="C1", label="LSH pass")
    a1.set_ylabel("seconds")
    a1.legend(fontsize=9)
    a2.plot(n, [x["index_bytes"] / 2**20 for x in c], "o-", color="C2", label="LSH index (peak)")
    a2.plot(n, [x["signature_bytes"] / 2**20 for x in c], "s-", color="C3", label="signatures")
    a2.set_ylabel("MiB")
    a2.set_xlabel("documents")
    a2.legend(fontsize=9)
    return fig


def _band(ax, x, rows, key: str, color: str, label: str) -> None:
    mean = np.array([r[key]["mean"] for r in rows])
    lo, hi = np.array([r[key]["min"] for r in rows]), np.array([r[key]["max"] for r in rows])
    ax.plot(x, mean, "o-", color=color, label=label)
    ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)


@TOPIC.figure(
    "mixtures",
    "losses",
    caption="Held-out losses by share of synthetic training text (mean over seeds, band: min to max)",
)
def losses(res: Result):
    """Two stacked panels: real and synthetic held-out text; task answers."""
    import matplotlib.pyplot as plt

    rows = res["rows"]
    x = [100 * r["fraction"] for r in rows]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(6.4, 5.2), layout="constrained", sharex=True)
    _band(a1, x, rows, "real", "C0", "held-out real text")
    _band(a1, x, rows, "synthetic", "C1", "held-out synthetic text")
    a1.set_ylabel("loss (nats/byte)")
    a1.legend(fontsize=9)
    _band(a2, x, rows, "task", "C2", "task answers")
    a2.set_ylabel("loss (nats/byte)")
    a2.set_xlabel("synthetic share of training text (%)")
    a2.legend(fontsize=9)
    return fig


@TOPIC.figure(
    "collapse",
    "generations",
    caption="Each generation trained on the previous one's samples: held-out real loss and the rare bytes' share of its training text",
)
def generations(res: Result):
    """Two stacked panels against generation."""
    import matplotlib.pyplot as plt

    rows = res["rows"]
    g = [r["generation"] for r in rows]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(6.4, 5.2), layout="constrained", sharex=True)
    _band(a1, g, rows, "real", "C0", "held-out real loss")
    a1.set_ylabel("loss (nats/byte)")
    a1.legend(fontsize=9)
    _band(a2, g, rows, "tail", "C3", "rare-byte share")
    a2.axhline(res["real_tail"], color=style.muted(), ls="--", lw=1, label="real corpus")
    a2.set_ylabel("share")
    a2.set_xlabel("generation")
    a2.set_xticks(g)
    a2.legend(fontsize=9)
    return fig
