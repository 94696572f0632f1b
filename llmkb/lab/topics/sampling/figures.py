"""The sampling lab's figures, each drawn from one experiment's result."""

from __future__ import annotations

import numpy as np
import torch

from llmkb.infer.sampling import SamplingConfig, entropy, filtered_probs
from llmkb.lab import Result, kit
from llmkb.lab.kit import style
from llmkb.lab.topics.sampling.names import TOPIC

_FILTERS = {"none": "o", "top-k": "s", "top-p": "^", "both": "D"}
"""Marker of each kind of truncation in the scatter plots."""


def _filter_kind(row: dict) -> str:
    k, p = row["top_k"] != "off", row["top_p"] < 1.0
    return "both" if k and p else "top-k" if k else "top-p" if p else "none"


def _dark() -> bool:
    """Whether the theme being drawn has a dark background."""
    from matplotlib.colors import to_rgb

    return sum(to_rgb(style.paper())) < 1.5


def _temperature_cmap():
    """viridis without the end that fades into the theme's background (purple on dark, yellow on white)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    lo, hi = (0.25, 1.0) if _dark() else (0.0, 0.88)
    return ListedColormap(plt.get_cmap("viridis")(np.linspace(lo, hi, 256)), name="temperature")


def _blend(color: str, weight: float) -> tuple[float, ...]:
    """``color`` mixed into the theme's background: ``weight`` 1 is the colour itself, 0 the background."""
    from matplotlib.colors import to_rgb

    c, p = np.array(to_rgb(color)), np.array(to_rgb(style.paper()))
    return tuple(float(v) for v in weight * c + (1 - weight) * p)


def _scatter(ax, rows: list[dict], x: str, y: str, vmax: float):
    """One point per setting: colour = temperature, marker = kind of truncation."""
    sc, cmap = None, _temperature_cmap()
    for kind, marker in _FILTERS.items():
        sel = [r for r in rows if _filter_kind(r) == kind]
        if sel:
            sc = ax.scatter(
                [r[x] for r in sel],
                [r[y] for r in sel],
                c=[r["temperature"] for r in sel],
                cmap=cmap,
                vmin=0,
                vmax=vmax,
                s=28,
                marker=marker,
            )
    return sc


def _markers() -> list:
    """Legend handles of the truncation markers in the theme's ink (each point's colour is its temperature)."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], ls="", marker=m, color=style.ink(), label=k) for k, m in _FILTERS.items()]


@TOPIC.figure(
    "grid",
    "entropy-diversity",
    caption="Entropy of the sampling distribution vs diversity and real-word rate",
)
def entropy_diversity(res: Result):
    """Four panels over the mean sampling entropy: distinct-1, distinct-2, self-similarity, real words."""
    import matplotlib.pyplot as plt

    rows = res["rows"]
    vmax = max(2.0, max(r["temperature"] for r in rows))
    fig, axes = plt.subplots(2, 2, figsize=(7.0, 6.6), sharex=True, layout="constrained")
    panels = (
        ("distinct_1", "distinct-1 (words)", "unique words / all words"),
        ("distinct_2", "distinct-2 (word bigrams)", "unique bigrams / all bigrams"),
        ("self_similarity", "self-similarity\n(char 4-gram Jaccard)", "overlap between two samples"),
        ("valid_words", "real-word rate", "quality: words found\nin the training corpus"),
    )
    for ax, (key, label, title) in zip(axes.flat, panels, strict=True):
        sc = _scatter(ax, rows, "entropy", key, vmax)
        ax.set_ylabel(label)
        ax.set_title(title, fontsize=9)
    for ax in axes[1]:
        ax.set_xlabel("mean entropy per step (nats)")
    fig.legend(handles=_markers(), title="truncation", loc="outside upper center", ncols=len(_FILTERS))
    fig.colorbar(sc, ax=axes, location="bottom", shrink=0.6, aspect=40, label="temperature")
    return fig


@TOPIC.figure("grid", "diversity-quality", caption="Diversity vs quality: word distinct-2 vs real-word rate")
def diversity_quality(res: Result):
    """The trade-off: each setting's word distinct-2 against the share of its words found in the corpus."""
    import matplotlib.pyplot as plt

    rows = res["rows"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    sc = _scatter(ax, rows, "distinct_2", "valid_words", max(2.0, max(r["temperature"] for r in rows)))
    sweep = sorted(
        (r for r in rows if _filter_kind(r) == "none" or r["temperature"] == 0),
        key=lambda r: r["temperature"],
    )
    ax.plot(
        [r["distinct_2"] for r in sweep],
        [r["valid_words"] for r in sweep],
        color=style.muted(),
        lw=1,
        zorder=0,
    )
    for r in (sweep[0], sweep[-1]):
        ax.annotate(
            f"T={r['temperature']:g}",
            (r["distinct_2"], r["valid_words"]),
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xlabel("distinct-2 (word bigrams; diversity)")
    ax.set_ylabel("real-word rate (quality)")
    ax.legend(handles=_markers(), title="truncation (line: none,\nby temperature)")
    fig.colorbar(sc, ax=ax, label="temperature")
    return fig


@TOPIC.figure("grid", "filters", caption="Next-byte distribution of one prompt under four settings")
def filters(res: Result):
    """The first prompt's next-byte distribution under four settings, the 16 most likely bytes."""
    import matplotlib.pyplot as plt

    dash = res["dashboard"]
    logits = torch.tensor(dash["logits"][0], dtype=torch.float64)  # (V,)
    order = torch.sort(logits, descending=True, stable=True).indices[:16].tolist()
    settings = [
        ("T=1", SamplingConfig(1.0)),
        ("T=0.5", SamplingConfig(0.5)),
        ("T=1.5, k=5", SamplingConfig(1.5, top_k=5)),
        ("T=1, p=0.8", SamplingConfig(1.0, top_p=0.8)),
    ]
    labels = kit.byte_labels(order)
    turn = 90 if max(len(t) for t in labels) > 1 else 0  # x-escapes ("xe2") would collide side by side
    fig, axes = plt.subplots(2, 2, figsize=(7.0, 5.6), sharey=True, layout="constrained")
    for ax, (name, c) in zip(axes.flat, settings, strict=True):
        probs = filtered_probs(logits, c)  # (V,)
        ax.bar(range(len(order)), probs[order].numpy())
        ax.set_xticks(range(len(order)), labels, rotation=turn)
        h = float(entropy(probs))
        ax.set_title(f"{name}: H={h:.2f} nats, {int((probs > 0).sum())} kept", fontsize=9.5)
        ax.grid(axis="x", visible=False)
    for ax in axes[:, 0]:
        ax.set_ylabel("probability")
    fig.suptitle(f"next byte after {dash['prompts'][0]!r} (16 most likely)")
    return fig


@TOPIC.figure("greedy", "loops", caption="Greedy continuations: repeated 8-byte grams and where loops start")
def loops(res: Result):
    """One row per prompt: which 8-byte grams of the greedy continuation occurred before; the loop start."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    seen = np.asarray(res["seen"])  # (prompts, bytes)
    fig, ax = plt.subplots(figsize=(6.9, 0.9 + 0.45 * seen.shape[0]))
    cells = ListedColormap([_blend(style.ink(), 0.06), _blend("C0", 0.75)])  # new 8-gram, repeated 8-gram
    ax.imshow(seen, aspect="auto", cmap=cells, interpolation="nearest", vmin=0, vmax=1)
    for i, s in enumerate(res["loop_starts"]):
        if s >= 0:
            ax.plot([s - 0.5, s - 0.5], [i - 0.45, i + 0.45], color="C3", lw=2.5, clip_on=False)
    ax.set_yticks(range(seen.shape[0]), [r["prompt"].strip() for r in res["greedy"]])
    ax.set_xlabel(
        "byte position in the greedy continuation\n(filled: this 8-gram occurred before; pink: loop start)"
    )
    ax.grid(False)
    return fig


@TOPIC.figure("greedy", "repetition-vs-temperature", caption="Repetition vs temperature")
def repetition(res: Result):
    """Repeated word trigrams and the share of continuations ending in a loop, per temperature."""
    import matplotlib.pyplot as plt

    temps = res["temperatures"]
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    ax.plot(temps, res["rep3"], marker="o", label="repeated word 3-grams")
    ax.plot(temps, res["looped"], marker="s", label="fraction ending in a loop")
    ax.set_xlabel("temperature (no top-k / top-p)")
    ax.set_ylabel("rate")
    ax.set_ylim(-0.03, 1.03)
    ax.legend()
    return fig
