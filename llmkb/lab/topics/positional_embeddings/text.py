"""Page prose computed from the lab's numbers: rankings that respect the seeds' spread, gaps, changes.

A ranking never claims more than the seeds support: variant ``a`` is placed below ``b`` only when every
seed of ``a`` scored below every seed of ``b``; otherwise they share a rank (written ``a ≈ b``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from llmkb.lab.kit import fmt, gap_phrase, join_names
from llmkb.lab.kit.evals import seed_stats

from .names import label

__all__ = [
    "change_phrase",
    "changes_phrase",
    "gaps_phrase",
    "lowest_phrase",
    "mean_sd",
    "paired_gap",
    "rank_groups",
    "ranking_phrase",
]


def mean_sd(values: Sequence[float], digits: int = 3) -> str:
    """``"2.214 ± 0.012"``: the mean and sample standard deviation of per-seed values."""
    s = seed_stats(values)
    return f"{fmt(s['mean'], f'.{digits}f')} ± {fmt(s['sd'], f'.{digits}f')}"


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
    """A mean paired difference as words, with how many seeds agree on its side.

    ``deltas[s]`` is ``value - reference value`` for seed ``s``. Returns e.g. ``"0.030 nats below plain RoPE
    in every seed"``, ``"0.004 nats above plain RoPE on average, in only 2 of 3 seeds (within the seeds'
    spread)"`` or, with one seed, ``"0.030 nats below plain RoPE (one seed)"``.
    """
    d = np.asarray(deltas, dtype=np.float64)
    gap = gap_phrase(float(d.mean()), unit)
    if gap == "the same as":
        return f"the same as {reference}"
    agree = int((d < 0).sum()) if d.mean() < 0 else int((d > 0).sum())
    if d.size == 1:
        return f"{gap} {reference} (one seed)"
    if agree == d.size:
        return f"{gap} {reference} in every seed"
    return f"{gap} {reference} on average, in only {agree} of {d.size} seeds (within the seeds' spread)"


def gaps_phrase(deltas: Mapping[str, Sequence[float]], reference: str, unit: str = "nats") -> str:
    """Several paired differences against one reference, grouped by side so no clause repeats.

    ``deltas[name][s]`` is ``value - reference value`` of ``name`` for seed ``s``. Names whose every seed is
    below the reference are listed together, then those above, then those whose seeds disagree, then those
    the same as it. Returns e.g. ``"below the loss at 1× in every seed for ALiBi (by 0.086 nats) and NoPE
    (0.069); on either side of it, depending on the seed, for RoPE (0.012 nats below on average)"``.

    Example:
        ```python
        from llmkb.lab.topics.positional_embeddings.text import gaps_phrase

        s = gaps_phrase({"a": [-0.1, -0.2], "b": [-0.05, -0.05], "c": [0.3, 0.1]}, "x")
        assert s == "below x in every seed for a (by 0.150 nats) and b (0.050); above it in every seed for c (by 0.200 nats)"
        ```
    """
    groups: dict[str, list[tuple[str, float]]] = {"below": [], "above": [], "mixed": [], "same": []}
    n_seeds = 1
    for name, values in deltas.items():
        d = np.asarray(values, dtype=np.float64)
        n_seeds = max(n_seeds, d.size)
        mean = float(d.mean())
        side = "below" if mean < 0 else "above"
        if gap_phrase(mean, unit) == "the same as":
            side = "same"
        elif not (np.all(d < 0) or np.all(d > 0)):
            side = "mixed"
        groups[side].append((name, mean))
    every = " in every seed" if n_seeds > 1 else ""
    clauses, ref = [], reference
    for side in ("below", "above"):
        if groups[side]:
            listed = [
                f"{name} (by {fmt(abs(m), '.3f')} {unit})" if i == 0 else f"{name} ({fmt(abs(m), '.3f')})"
                for i, (name, m) in enumerate(groups[side])
            ]
            clauses.append(f"{side} {ref}{every} for {join_names(listed, limit=12)}")
            ref = "it"
    if groups["mixed"]:
        listed = [
            f"{name} ({fmt(abs(m), '.3f')} {unit} {'below' if m < 0 else 'above'} on average)"
            for name, m in groups["mixed"]
        ]
        clauses.append(f"on either side of {ref}, depending on the seed, for {join_names(listed, limit=12)}")
        ref = "it"
    if groups["same"]:
        clauses.append(f"the same as {ref} for {join_names([n for n, _ in groups['same']], limit=12)}")
    return "; ".join(clauses)


def change_phrase(before: float, after: float, what: str, unit: str = "nats") -> str:
    """``"raises their mean loss from 0.012 to 4.321 nats"`` (or ``lowers``)."""
    return changes_phrase([(before, after, what)], unit)


def changes_phrase(changes: Sequence[tuple[float, float, str]], unit: str = "nats") -> str:
    """Several changes in one clause, the verb said once per run of the same direction:
    ``"raises their mean loss from 1.033 to 2.647 nats and their mean attention entropy from 1.481 to 2.045
    nats"``; ``changes`` holds ``(before, after, what)``."""
    parts, last = [], None
    for before, after, what in changes:
        verb = "raises" if after >= before else "lowers"
        said = f"{what} from {fmt(before, '.3f')} to {fmt(after, '.3f')} {unit}"
        parts.append(said if verb == last else f"{verb} {said}")
        last = verb
    return join_names(parts, limit=len(parts))
