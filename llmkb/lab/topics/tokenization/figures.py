"""Figures of the tokenization lab, drawn from cached results only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit.axes import plain_log_ticks
from llmkb.lab.topics.tokenization.names import TOPIC

__all__ = ["bytes_per_token", "cosine", "pca"]


@TOPIC.figure("vocab-sweep", "bytes-per-token", caption="Compression vs vocabulary size")
def bytes_per_token(res: Result) -> Any:
    """Held-out bytes per token (own and crossed domains) and tokens per word against vocabulary size."""
    import matplotlib.pyplot as plt

    vocab = np.asarray(res["vocab"])
    bpt = np.asarray(res["bytes_per_token"])  # (S, train, eval)
    tpw = np.asarray(res["tokens_per_word"])  # (S, eval)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.6))
    ax.plot(vocab, bpt[:, 0, 0], "o-", label="prose tokenizer on prose")
    ax.plot(vocab, bpt[:, 1, 1], "s-", label="code tokenizer on code")
    ax.plot(vocab, bpt[:, 0, 1], "o--", label="prose tokenizer on code")
    ax.plot(vocab, bpt[:, 1, 0], "s--", label="code tokenizer on prose")
    ax.set_ylabel("UTF-8 bytes per token (held out)")
    ax2.plot(vocab, tpw[:, 0], "o-", label="prose")
    ax2.plot(vocab, tpw[:, 1], "s-", label="code")
    ax2.set_ylabel("tokens per word (fertility)")
    for a in (ax, ax2):
        a.set_xscale("log", base=2)
        plain_log_ticks(a, vocab)
        a.set_xlabel("vocabulary size")
        a.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _draw_heatmap(ax: Any, sim: np.ndarray, labels: Sequence[str], title: str) -> Any:
    im = ax.imshow(sim, vmin=-1.0, vmax=1.0, cmap="RdBu_r")
    ax.set_xticks(range(len(labels)), labels, fontsize=6.5, fontfamily="monospace")
    ax.set_yticks(range(len(labels)), labels, fontsize=6.5, fontfamily="monospace")
    ax.tick_params(length=0)
    ax.grid(False)
    ax.set_title(title)
    return im


@TOPIC.figure("embeddings", "cosine", caption="Cosine similarity: one-hot vs learned byte embeddings")
def cosine(res: Result) -> Any:
    """Side by side: the identity of one-hot vectors and the learned cosine matrix, on a readable subset."""
    import matplotlib.pyplot as plt

    idx = np.asarray(res["heatmap_index"], dtype=int)
    labels = [res["labels"][i] for i in idx]
    sim = np.asarray(res["sim_learned"])[np.ix_(idx, idx)]
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 6.0), layout="constrained")
    _draw_heatmap(axes[0], np.eye(len(idx)), labels, "one-hot: identity (every off-diagonal = 0)")
    im = _draw_heatmap(axes[1], sim, labels, "learned by the shared model")
    fig.colorbar(im, ax=axes, shrink=0.7, label="cosine similarity")
    return fig


@TOPIC.figure("embeddings", "pca", caption="Learned byte embeddings, first two principal components")
def pca(res: Result) -> Any:
    """The learned byte embeddings projected on their first two principal components, coloured by group."""
    import matplotlib.pyplot as plt

    coords = np.asarray(res["pca"])
    explained = np.asarray(res["pca_explained"])
    groups = list(res["groups"])
    fig, ax = plt.subplots(figsize=(7.0, 5.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for g_i, g in enumerate(dict.fromkeys(groups)):
        mask = np.array([x == g for x in groups])
        ax.scatter(coords[mask, 0], coords[mask, 1], s=12, color=colours[g_i % len(colours)], label=g)
        for (x, y), lab in zip(coords[mask], np.asarray(res["labels"])[mask], strict=True):
            ax.annotate(
                lab, (x, y), fontsize=7, fontfamily="monospace", xytext=(2, 2), textcoords="offset points"
            )
    ax.set_xlabel(f"PC 1 ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC 2 ({explained[1]:.0%} of variance)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig
