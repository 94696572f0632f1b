"""Figures of the shared model's attention: all heads, typical heads, one query step by step, the Jacobian."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit import style
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


def _spread(starts: list[int], words: list[str], gap: float) -> list[int]:
    """Indices of the words to label when labels need ``gap`` positions between them: longest words first
    (they say most about where one is in the sentence), each kept if it is far enough from those kept."""
    kept: list[int] = []
    for i in sorted(range(len(words)), key=lambda i: (-len(words[i]), starts[i])):
        if all(abs(starts[i] - starts[j]) >= gap for j in kept):
            kept.append(i)
    return sorted(kept)


_MAPS_WIDTH = 6.8
"""Width of the all-heads grid (inches): the page column, with the labels of the first column in it."""


@TOPIC.figure("heads", "maps", caption="Attention weights of every layer (rows) and head (columns)")
def fig_maps(res: Result) -> Any:
    """One heatmap per head; ticks at every word start, labels on the words there is room for."""
    import matplotlib.pyplot as plt

    maps = np.asarray(res["maps"])  # (L, H, T, T)
    L, H, T = maps.shape[:3]
    starts, words = list(res["word_starts"]), list(res["words"])
    kinds = {r["head"]: r["kind"] for r in res["rows"]}
    panel_pt = 72.0 * (_MAPS_WIDTH - 1.0) / H  # one panel's width in points, the word labels' margin aside
    shown = _spread(starts, words, gap=12.0 / (panel_pt / T))  # 12 pt between label centres at 9 pt
    ticks, labels = [starts[i] for i in shown], [words[i] for i in shown]
    fig, axes = plt.subplots(L, H, figsize=(_MAPS_WIDTH, 1.8 * L + 0.9), squeeze=False)
    for li in range(L):
        for h in range(H):
            ax = axes[li][h]
            ax.imshow(maps[li, h], cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(f"{head_label(li, h)}\n{kinds[head_label(li, h)]}", fontsize=9, linespacing=1.1)
            ax.grid(False)
            ax.set_xticks(ticks, labels if li == L - 1 else [], rotation=90)
            ax.set_yticks(ticks, labels if h == 0 else [])
            ax.set_xticks(starts, minor=True)
            ax.set_yticks(starts, minor=True)
            ax.tick_params(which="both", length=2.5, pad=1.5)
    fig.supxlabel("key (attended-to byte; ticks at word starts)", fontsize=9.5)
    fig.supylabel("query (attending byte)", fontsize=9.5)
    fig.tight_layout(h_pad=0.6, w_pad=0.4)
    return fig


_ZOOM = 30
"""Bytes shown in the typical-head panels: the first clause of the sentence, one readable label per byte."""

_BYTE_FONT = 8.5
"""Font size (pt) of byte labels: the smallest the page column allows comfortably (11 CSS px is 8.25 pt)."""


def _byte_axes(ax: Any, labels: list[str], x: bool = True, y: bool = True) -> None:
    """One tick per byte, labelled in monospace; upright when every label is one glyph wide."""
    rotation = 0 if all(len(s) == 1 for s in labels) else 90
    font = {"fontsize": _BYTE_FONT, "family": "monospace"}
    if x:
        ax.set_xticks(range(len(labels)), labels, rotation=rotation, **font)
    if y:
        ax.set_yticks(range(len(labels)), labels, **font)
    ax.tick_params(length=0, pad=1.5)


@TOPIC.figure(
    "heads",
    "examples",
    caption="The most typical head of each kind found, on the first bytes of the sentence, bytes on the axes",
)
def fig_examples(res: Result) -> Any:
    """The strongest head of each specialised kind (or the sharpest and broadest heads when none is), on the
    first :data:`_ZOOM` bytes: one readable label per byte fits two panels side by side in the column."""
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
    n = min(_ZOOM, len(res["tokens"]))
    labels = list(res["tokens"])[:n]
    ncols = min(2, len(picks))  # two 3-inch panels fill the column at one readable label per byte
    nrows = -(-len(picks) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.8, 3.4 * nrows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(picks):
            ax.set_visible(False)
            continue
        kind, r = picks[i]
        li, h = int(r["layer"]), int(r["head"].split("H")[1])
        ax.imshow(maps[li, h, :n, :n], cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(f"{r['head']} ({kind})")
        ax.grid(False)
        _byte_axes(ax, labels)
        if i % ncols == 0:
            ax.set_ylabel("query")
        if i >= len(picks) - ncols:
            ax.set_xlabel("key")
    fig.suptitle(f"the first {n} of the sentence's {len(res['tokens'])} bytes", fontsize=9.5)
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
    top_colour = plt.rcParams["axes.prop_cycle"].by_key()["color"][1]
    colours = [top_colour if j in set(order.tolist()) else style.muted() for j in range(t + 1)]
    fig, (a1, a2, a3) = plt.subplots(
        3, 1, figsize=(6.8, 8.2), gridspec_kw={"height_ratios": [1.0, 1.0, 1.25]}, layout="constrained"
    )
    head = f"L{res['layer']}H{res['head']}"
    a1.bar(range(t + 1), scores, color=colours)
    a1.set_title(f"1 · scores $s_j = q_t \\cdot k_j$ / √{d} of query {labels[t]!r} (t = {t}), head {head}")
    a2.bar(range(t + 1), weights, color=colours)
    a2.set_title("2 · weights $a_j = \\mathrm{softmax}(s)_j$ (they sum to 1)")
    for j in order:
        a2.annotate(f"{weights[j]:.2f}", (j, weights[j]), ha="center", va="bottom", fontsize=_BYTE_FONT)
    for ax in (a1, a2):
        ax.set_xlim(-0.6, t + 0.6)
        _byte_axes(ax, labels, y=False)
        ax.grid(axis="x", visible=False)
    rest = [j for j in range(t + 1) if j not in set(order.tolist())]
    parts = [weights[j] * values[j] for j in order] + [weights[rest] @ values[rest], output]  # (top + 2, d)
    names = [f"{weights[j]:.2f} × v[{labels[j]!r} @ {j}]" for j in order]
    names += [f"+ the other {len(rest)} keys", "= output $o_t$"]
    lim = float(np.abs(np.stack(parts)).max())
    im = a3.imshow(
        np.stack(parts), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest"
    )
    a3.set_yticks(range(len(names)), names, fontsize=_BYTE_FONT, family="monospace")
    a3.axhline(len(names) - 1.5, color=style.ink(), linewidth=1.2)
    a3.set_xlabel(f"channel of the head's value space (d = {d})")
    a3.set_title("3 · output $o_t = \\Sigma_j\\, a_j v_j$: the rows above the line add up to the last one")
    a3.grid(False)
    fig.colorbar(im, ax=a3, shrink=0.9, pad=0.01)
    fig.get_layout_engine().set(hspace=0.1)
    return fig


@TOPIC.figure("causality", "jacobian", caption="log10 ||d logits_t / d embedding_s|| of the shared model")
def fig_jacobian(res: Result) -> Any:
    """The Jacobian norms as a log heatmap; exact zeros are blank."""
    import matplotlib.pyplot as plt

    norms = np.asarray(res["norms"])
    shown = np.where(norms > 0, np.log10(np.where(norms > 0, norms, 1.0)), np.nan)
    fig, ax = plt.subplots(figsize=(6.2, 5.4))
    im = ax.imshow(shown, cmap="magma", interpolation="nearest")
    ax.grid(False)
    _byte_axes(ax, list(res["tokens"]))
    ax.set_xlabel("input position s (embedding)")
    ax.set_ylabel("output position t (logits)")
    ax.set_title(f"blank = exactly 0 (max above diagonal: {res['max_above_diagonal']:.1f})")
    fig.colorbar(im, ax=ax, shrink=0.8, label="log10 norm")
    return fig
