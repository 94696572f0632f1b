"""Figures of the tokenization lab, drawn from cached results only, sized for the page column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit.axes import plain_log_ticks
from llmkb.lab.topics.tokenization.names import TOPIC

__all__ = ["bytes_per_token", "cosine", "pca"]

_BYTE_FONT = 8.5
"""Font size (pt) of byte labels on heatmaps and in the scatter: the smallest text the column allows
comfortably (11 CSS px needs 8.25 pt in a figure no wider than the column)."""


@TOPIC.figure("vocab-sweep", "bytes-per-token", caption="Compression vs vocabulary size")
def bytes_per_token(res: Result) -> Any:
    """Held-out bytes per token (own and crossed domains) above tokens per word, against vocabulary size."""
    import matplotlib.pyplot as plt

    vocab = np.asarray(res["vocab"])
    bpt = np.asarray(res["bytes_per_token"])  # (S, train, eval)
    tpw = np.asarray(res["tokens_per_word"])  # (S, eval)
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(6.4, 6.0), sharex=True)
    ax.plot(vocab, bpt[:, 0, 0], "o-", label="prose tokenizer on prose")
    ax.plot(vocab, bpt[:, 1, 1], "s-", label="code tokenizer on code")
    ax.plot(vocab, bpt[:, 0, 1], "o--", label="prose tokenizer on code")
    ax.plot(vocab, bpt[:, 1, 0], "s--", label="code tokenizer on prose")
    ax.set_ylabel("UTF-8 bytes per token\n(held out)")
    ax2.plot(vocab, tpw[:, 0], "o-", label="prose")
    ax2.plot(vocab, tpw[:, 1], "s-", label="code")
    ax2.set_ylabel("tokens per word\n(fertility)")
    for a in (ax, ax2):
        a.set_xscale("log", base=2)
        plain_log_ticks(a, vocab)
        a.legend()
    ax2.set_xlabel("vocabulary size")
    fig.align_ylabels((ax, ax2))
    fig.tight_layout()
    return fig


def _byte_ticks(ax: Any, labels: Sequence[str]) -> None:
    """Every byte labelled: the columns below the map, the rows alternately left and right of it (a row
    is shorter than a label is tall, a column is wider than a label is wide)."""
    n = len(labels)
    font = {"fontsize": _BYTE_FONT, "fontfamily": "monospace"}
    ax.set_xticks(range(n), labels, **font)
    ax.set_yticks(range(0, n, 2), labels[0::2], **font)
    right = ax.secondary_yaxis("right")
    right.set_yticks(range(1, n, 2), labels[1::2], **font)
    for a in (ax, right):
        a.tick_params(length=0, pad=2)
    right.spines["right"].set_visible(False)
    ax.grid(False)


@TOPIC.figure("embeddings", "cosine", caption="Cosine similarity: one-hot vs learned byte embeddings")
def cosine(res: Result) -> Any:
    """The learned cosine matrix on a readable subset of bytes, every byte labelled, with the one-hot
    identity (same bytes, same order, same colour scale) as a thumbnail beside it."""
    import matplotlib.pyplot as plt

    idx = np.asarray(res["heatmap_index"], dtype=int)
    labels = [str(res["labels"][i]) for i in idx]
    sim = np.asarray(res["sim_learned"])[np.ix_(idx, idx)]
    w, h = 6.9, 6.0  # inches: the map is 5.3 in square, its colour scale and the thumbnail at its right
    fig = plt.figure(figsize=(w, h))

    def box(left: float, bottom: float, width: float, height: float) -> Any:
        return fig.add_axes((left / w, bottom / h, width / w, height / h))

    ax = box(0.25, 0.35, 5.3, 5.3)
    im = ax.imshow(sim, vmin=-1.0, vmax=1.0, cmap="RdBu_r", interpolation="nearest")
    _byte_ticks(ax, labels)
    ax.set_title("learned by the shared model")
    thumb = box(5.95, 4.75, 0.9, 0.9)
    thumb.imshow(np.eye(len(idx)), vmin=-1.0, vmax=1.0, cmap="RdBu_r", interpolation="nearest")
    thumb.set_xticks([])
    thumb.set_yticks([])
    thumb.grid(False)
    thumb.set_title("one-hot", fontsize=9.5)
    thumb.set_xlabel("identity:\noff-diagonal\nall 0")
    fig.colorbar(im, cax=box(6.0, 0.35, 0.16, 3.3), label="cosine similarity")
    return fig


@TOPIC.figure("embeddings", "pca", caption="Learned byte embeddings, first two principal components")
def pca(res: Result) -> Any:
    """The learned byte embeddings projected on their first two principal components, coloured by group."""
    import matplotlib.pyplot as plt

    coords = np.asarray(res["pca"])
    explained = np.asarray(res["pca_explained"])
    groups = list(res["groups"])
    fig, ax = plt.subplots(figsize=(6.6, 5.6))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for g_i, g in enumerate(dict.fromkeys(groups)):
        mask = np.array([x == g for x in groups])
        ax.scatter(coords[mask, 0], coords[mask, 1], s=14, color=colours[g_i % len(colours)], label=g)
        for (x, y), lab in zip(coords[mask], np.asarray(res["labels"])[mask], strict=True):
            ax.annotate(
                lab,
                (x, y),
                fontsize=_BYTE_FONT,
                fontfamily="monospace",
                xytext=(2, 2),
                textcoords="offset points",
            )
    ax.set_xlabel(f"PC 1 ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC 2 ({explained[1]:.0%} of variance)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=4, handletextpad=0.2, columnspacing=1.2)
    return fig
