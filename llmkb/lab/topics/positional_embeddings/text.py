"""Page prose computed from the lab's numbers: rankings that respect the seeds' spread, gaps, changes.

A ranking never claims more than the seeds support: variant ``a`` is placed below ``b`` only when every
seed of ``a`` scored below every seed of ``b``; otherwise they share a rank (written ``a ≈ b``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from llmkb.lab.kit import gap_phrase, join_names

from .analysis import seed_stats
from .names import label

__all__ = [
    "change_phrase",
    "lowest_phrase",
    "mean_sd",
    "paired_gap",
    "rank_groups",
    "ranking_phrase",
]


def mean_sd(values: Sequence[float], digits: int = 3) -> str:
    """``"2.214 ± 0.012"``: the mean and sample standard deviation of per-seed values."""
    s = seed_stats(values)
    return f"{s['mean']:.{digits}f} ± {s['sd']:.{digits}f}"


def rank_groups(samples: Mapping[str, Sequence[float]]) -> list[list[str]]:
    """Variants sorted by mean value, grouped where their seeds' ranges overlap.

    Walking up the means, the next variant opens a new group only when its lowest seed lies above the
    highest seed of every variant in the current group (``min(next) > max(group)``); otherwise it joins.

    Example:
        ```python
        from llmkb.lab.topics.positional_embeddings.text import rank_groups

        assert rank_groups({"a": [1.0, 1.1], "b": [1.05, 1.3], "c": [2.0, 2.1]}) == [["a", "b"], ["c"]]
        ```
    """
    order = sorted(samples, key=lambda v: float(np.mean(samples[v])))
    groups: list[list[str]] = []
    top = -np.inf
    for v in order:
        lo, hi = float(np.min(samples[v])), float(np.max(samples[v]))
        if groups and lo <= top:
            groups[-1].append(v)
        else:
            groups.append([v])
        top = max(top, hi) if len(groups[-1]) > 1 else hi
    return groups


def ranking_phrase(samples: Mapping[str, Sequence[float]], name: Callable[[str], str] = label) -> str:
    """``"rope < alibi ≈ none < learned"``: :func:`rank_groups` as text, lowest first."""
    return " < ".join(" ≈ ".join(name(v) for v in group) for group in rank_groups(samples))


def lowest_phrase(samples: Mapping[str, Sequence[float]], name: Callable[[str], str] = label) -> str:
    """Who is lowest, as far as the seeds tell: ``"rope, below every other variant in every seed"`` or
    ``"rope and alibi, whose seeds overlap"``."""
    first = rank_groups(samples)[0]
    if len(first) == 1:
        return f"{name(first[0])}, below every other variant in every seed"
    return f"{join_names([name(v) for v in first])}, whose seeds overlap"


def paired_gap(deltas: Sequence[float], reference: str, unit: str = "nats") -> str:
    """A mean paired difference as words, with how many seeds agree on its sign.

    ``deltas[s]`` is ``value - reference value`` for seed ``s``. Returns e.g. ``"0.030 nats below plain RoPE
    (below in every seed)"`` or ``"0.004 nats above plain RoPE (above in 2 of 3 seeds: within the seeds'
    spread)"``.
    """
    d = np.asarray(deltas, dtype=np.float64)
    gap = gap_phrase(float(d.mean()), unit)
    if gap == "the same as":
        return f"the same as {reference}"
    side = "below" if d.mean() < 0 else "above"
    agree = int((d < 0).sum()) if side == "below" else int((d > 0).sum())
    if agree == d.size:
        seeds = f"{side} in every seed" if d.size > 1 else "one seed"
    else:
        seeds = f"{side} in {agree} of {d.size} seeds: within the seeds' spread"
    return f"{gap} {reference} ({seeds})"


def change_phrase(before: float, after: float, what: str, unit: str = "nats") -> str:
    """``"raises their mean loss from 0.012 to 4.321 nats"`` (or ``lowers``)."""
    verb = "raises" if after >= before else "lowers"
    return f"{verb} {what} from {before:.3f} to {after:.3f} {unit}"
