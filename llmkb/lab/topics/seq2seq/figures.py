"""The seq2seq lab's figures, each drawn from one experiment's result."""

from __future__ import annotations

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit.axes import percent_yaxis
from llmkb.lab.topics.seq2seq.names import MODEL_NAMES, TOPIC


@TOPIC.figure(
    "bottleneck",
    "length",
    caption="Translation exact match by source length (1 to 4 clauses), mean over seeds with ± 1 sd bars",
)
def length(res: Result):
    """Exact match against the mean source length of each clause count, one line per model family."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    x = res["lengths"]
    for i, r in enumerate(res["rows"]):
        ax.errorbar(x, np.asarray(r["em"]) * 100, yerr=np.asarray(r["em_sd"]) * 100, color=f"C{i}", marker="o",
                    ms=4, capsize=3, label=r["name"])  # fmt: skip
    ax.set_xlabel("source length (words, mean of each clause count)")
    percent_yaxis(ax, "exact match (%)")
    ax.legend(fontsize=9)
    return fig


@TOPIC.figure(
    "bottleneck",
    "alignment",
    caption="Cross-attention on one held-out two-clause sentence (rows: target words, columns: source words): "
    "Bahdanau's weights, then the transformer's last decoder layer averaged over heads",
)
def alignment(res: Result):
    """Two stacked heat maps, GRU + attention over the transformer, with word labels."""
    import matplotlib.pyplot as plt

    src, tgt = res["map_source"], res["map_target"]
    kinds = [k for k in ("gru-att", "encdec") if k in res["maps"]]
    fig, axes = plt.subplots(len(kinds), 1, figsize=(6.4, 2.6 * len(kinds) + 0.8), layout="constrained")
    for ax, kind in zip(np.atleast_1d(axes), kinds, strict=True):
        ax.imshow(
            np.asarray(res["maps"][kind]), cmap="viridis", vmin=0.0, aspect="auto", interpolation="nearest"
        )
        ax.set_xticks(range(len(src)), src, rotation=60, ha="right", fontsize=9)
        ax.set_yticks(range(len(tgt)), tgt, fontsize=9)
        ax.grid(False)
        ax.set_title(MODEL_NAMES[kind])
    return fig
