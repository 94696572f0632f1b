"""Figures of the shared model's attention: all heads, typical heads, one query step by step, the Jacobian."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmkb.lab import Result
from llmkb.lab.topics.attention.analysis import head_label
from llmkb.lab.topics.attention.names import TOPIC

__all__ = ["fig_examples", "fig_jacobian", "fig_maps", "fig_query"]

_SCORE_KEYS = {
    "previous-token": "prev",
    "first-token": "first",
    "self": "self",
    "word-boundary": "space",
    "induction": "induction",
    "local": "local",
}
"""The score that defines each specialised kind (to pick the most typical head of a kind)."""


@TOPIC.figure("heads", "maps", caption="Attention weights of every layer (rows) and head (columns)")
def fig_maps(res: Result) -> Any:
    """One heatmap per head, ticks at word starts (60 byte labels would not fit)."""
    import matplotlib.pyplot as plt

    maps = np.asarray(res["maps"])  # (L, H, T, T)
    L, H = maps.shape[:2]
    starts, words = list(res["word_starts"]), list(res["words"])
    kinds = {r["head"]: r["kind"] for r in res["rows"]}
    fig, axes = plt.subplots(L, H, figsize=(3.1 * H, 3.1 * L), squeeze=False)
    for li in range(L):
        for h in range(H):
            ax = axes[li][h]
            ax.imshow(maps[li, h], cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(f"{head_label(li, h)} · {kinds[head_label(li, h)]}", fontsize=9)
            ax.grid(False)
            ax.set_xticks(starts, words if li == L - 1 else [], fontsize=6, rotation=90)
            ax.set_yticks(starts, words if h == 0 else [], fontsize=6)
            ax.tick_params(length=2, pad=1)
    fig.supxlabel("key (attended-to byte; ticks at word starts)")
    fig.supylabel("query (attending byte)")
    fig.tight_layout()
    return fig


def _byte_axes(ax: Any, labels: list[str], x: bool = True, y: bool = True, fs: float | None = None) -> None:
    """One tick per byte, labelled in monospace (smaller when there are many)."""
    fs = fs or (5.5 if len(labels) > 24 else 8)
    if x:
        ax.set_xticks(range(len(labels)), labels, fontsize=fs, rotation=90, family="monospace")
    if y:
        ax.set_yticks(range(len(labels)), labels, fontsize=fs, family="monospace")
    ax.tick_params(length=0, pad=1)


@TOPIC.figure("heads", "examples", caption="The most typical head of each kind found, with bytes on the axes")
def fig_examples(res: Result) -> Any:
    """The strongest head of each specialised kind (or the sharpest and broadest heads when none is)."""
    import matplotlib.pyplot as plt

    maps, rows = np.asarray(res["maps"]), res["rows"]
    picks = []
    for kind, key in _SCORE_KEYS.items():
        found = [r for r in rows if r["kind"] == kind]
        if found:
            picks.append((kind, max(found, key=lambda r: r[key])))
    if not picks:  # nothing specialised: show the sharpest and the broadest head
        picks = [
            ("sharpest", min(rows, key=lambda r: r["entropy"])),
            ("broadest", max(rows, key=lambda r: r["entropy"])),
        ]
    labels = list(res["tokens"])
    ncols = min(3, len(picks))
    nrows = -(-len(picks) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 5.2 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(picks):
            ax.set_visible(False)
            continue
        kind, r = picks[i]
        li, h = int(r["layer"]), int(r["head"].split("H")[1])
        ax.imshow(maps[li, h], cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(f"{r['head']} ({kind})")
        ax.grid(False)
        _byte_axes(ax, labels)
        if i % ncols == 0:
            ax.set_ylabel("query")
        if i >= len(picks) - ncols:
            ax.set_xlabel("key")
    fig.tight_layout()
    return fig


@TOPIC.figure(
    "query",
    "walkthrough",
    caption="One query of the shared model: scores, softmax weights, weighted sum of values",
)
def fig_query(res: Result, top: int = 4) -> Any:
    """Three panels for query ``t``: ``s_j``, ``a_j``, and ``o_t`` as the sum of the rows ``a_j v_j``."""
    import matplotlib.pyplot as plt

    t, d = int(res["t"]), int(res["head_dim"])
    scores, weights = np.asarray(res["scores"]), np.asarray(res["weights"])  # (t+1,)
    values, output = np.asarray(res["values"]), np.asarray(res["output"])  # (t+1, d), (d,)
    labels = list(res["tokens"])[: t + 1]
    order = np.argsort(-weights, kind="stable")[:top]
    colours = np.array(["#9aa0a6"] * (t + 1), dtype=object)
    colours[order] = "#e8710a"
    fig, (a1, a2, a3) = plt.subplots(
        3, 1, figsize=(10.0, 8.4), gridspec_kw={"height_ratios": [1.0, 1.0, 1.25]}
    )
    head = f"L{res['layer']}H{res['head']}"
    a1.bar(range(t + 1), scores, color=list(colours))
    a1.set_title(
        f"1 · scores $s_j = q_t \\cdot k_j / \\sqrt{{{d}}}$ of query {labels[t]!r} (t = {t}), head {head}"
    )
    a2.bar(range(t + 1), weights, color=list(colours))
    a2.set_title("2 · weights $a_j = \\mathrm{softmax}(s)_j$ (they sum to 1)")
    for j in order:
        a2.annotate(f"{weights[j]:.2f}", (j, weights[j]), ha="center", va="bottom", fontsize=7)
    for ax in (a1, a2):
        ax.set_xlim(-0.6, t + 0.6)
        _byte_axes(ax, labels, y=False, fs=7)
        ax.grid(axis="x", visible=False)
    rest = [j for j in range(t + 1) if j not in set(order.tolist())]
    parts = [weights[j] * values[j] for j in order] + [weights[rest] @ values[rest], output]  # (top + 2, d)
    names = [f"{weights[j]:.2f} × v[{labels[j]!r} @ {j}]" for j in order]
    names += [f"+ the other {len(rest)} keys", "= output $o_t$"]
    lim = float(np.abs(np.stack(parts)).max())
    im = a3.imshow(
        np.stack(parts), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest"
    )
    a3.set_yticks(range(len(names)), names, fontsize=8, family="monospace")
    a3.axhline(len(names) - 1.5, color="black", linewidth=1.0)
    a3.set_xlabel(f"channel of the head's value space (d = {d})")
    a3.set_title("3 · output $o_t = \\sum_j a_j v_j$: the rows above the line add up to the last one")
    a3.grid(False)
    fig.colorbar(im, ax=a3, shrink=0.9, pad=0.01)
    fig.tight_layout()
    return fig


@TOPIC.figure("causality", "jacobian", caption="log10 ||d logits_t / d embedding_s|| of the shared model")
def fig_jacobian(res: Result) -> Any:
    """The Jacobian norms as a log heatmap; exact zeros are blank."""
    import matplotlib.pyplot as plt

    norms = np.asarray(res["norms"])
    shown = np.where(norms > 0, np.log10(np.where(norms > 0, norms, 1.0)), np.nan)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    im = ax.imshow(shown, cmap="magma", interpolation="nearest")
    ax.grid(False)
    _byte_axes(ax, list(res["tokens"]))
    ax.set_xlabel("input position s (embedding)")
    ax.set_ylabel("output position t (logits)")
    ax.set_title(f"blank = exactly 0 (max above diagonal: {res['max_above_diagonal']:.1f})")
    fig.colorbar(im, ax=ax, shrink=0.8, label="log10 norm")
    return fig
