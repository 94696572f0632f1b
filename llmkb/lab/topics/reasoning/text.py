"""Page prose of the reasoning lab, computed from the numbers it describes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmkb.lab import kit

__all__ = [
    "pct",
    "mean_sd_pct",
    "ahead",
    "format_verdict",
    "sizes_phrase",
    "unseen_phrase",
    "vote_verdict",
    "cheaper_phrase",
    "grpo_verdict",
]


def pct(x: float) -> str:
    """A fraction as a whole percentage."""
    return kit.fmt(x, ".0%")


def mean_sd_pct(mean: float, sd: float, n: int) -> str:
    """``mean ± sd`` as percentages over ``n`` seeds, or the value alone for one seed."""
    return f"{pct(mean)} ± {pct(sd)}" if n > 1 else pct(mean)


def ahead(a: dict[str, float], b: dict[str, float]) -> int:
    """``1`` if ``a`` beats ``b`` by more than the larger seed spread (needs ≥ 3 seeds), ``-1`` the other way,
    ``0`` when the gap is within the spread (a tie at this number of seeds). ``a`` and ``b`` are
    :func:`llmkb.lab.kit.evals.seed_stats` dicts."""
    if min(a["n"], b["n"]) < 3:
        return 0
    gap = a["mean"] - b["mean"]
    return 0 if abs(gap) <= max(a["sd"], b["sd"]) else (1 if gap > 0 else -1)


def _sizes(sizes: Sequence[int], conj: str = "and") -> str:
    """``1 digit``, ``2 and 3 digits``, ``1, 2 or 3 digits``."""
    if len(sizes) == 1:
        return kit.plural(sizes[0], "digit")
    return kit.join_names([str(s) for s in sizes], limit=len(sizes)).replace(" and ", f" {conj} ") + " digits"


def sizes_phrase(sizes: Sequence[int]) -> str:
    """The problem sizes of a set of sums: ``1 digit``, ``1, 2 or 3 digits``."""
    return _sizes(sizes, "or")


def format_verdict(
    stats: dict[str, list[dict[str, float]]], sizes: Sequence[int], trained: Sequence[int]
) -> str:
    """Where the scratchpad model beats, trails or ties the direct one, size by size, over the seeds.

    ``stats[fmt][j]`` is the seed statistics of format ``fmt`` at ``sizes[j]``.
    """
    n = stats["scratchpad"][0]["n"]
    if n < 3:
        return f"with {kit.plural(n, 'seed')} the formats are not ranked"
    groups: dict[int, list[int]] = {1: [], -1: [], 0: []}
    for j, s in enumerate(sizes):
        if s in trained:
            groups[ahead(stats["scratchpad"][j], stats["direct"][j])].append(s)
    parts = []
    if groups[1]:
        parts.append(f"the scratchpad model is more accurate at {_sizes(groups[1])}")
    if groups[-1]:
        parts.append(f"the direct model is more accurate at {_sizes(groups[-1])}")
    if groups[0]:
        parts.append(f"the two are within the seed spread of each other at {_sizes(groups[0])}")
    unseen = unseen_phrase(stats, sizes, trained)
    return "; ".join(parts) + (f"; {unseen}" if unseen else "") + f" (mean ± sd over {n} seeds)"


def unseen_phrase(
    stats: dict[str, list[dict[str, float]]], sizes: Sequence[int], trained: Sequence[int]
) -> str:
    """The best mean accuracy of either format on the sizes longer than any training problem ("" if none)."""
    unseen = [s for s in sizes if s not in trained]
    if not unseen:
        return ""
    best = max(stats[f][sizes.index(s)]["mean"] for f in stats for s in unseen)
    return f"on {_sizes(unseen)}, longer than any training problem, neither format gets above {pct(best)}"


def vote_verdict(curves: dict[str, list[dict[str, float]]], greedy: dict[str, float]) -> str:
    """What voting over more chains does for each format: accuracy and tokens from one chain to the most."""
    parts = []
    for fmt, rows in curves.items():
        a, b = rows[0], rows[-1]
        if pct(a["accuracy"]) == pct(b["accuracy"]):
            move = f"stays at {pct(a['accuracy'])} from {kit.plural(a['n'], 'chain')} to {b['n']}"
        else:
            move = (f"{'rises' if b['accuracy'] > a['accuracy'] else 'falls'} from {pct(a['accuracy'])} with "
                    f"{kit.plural(a['n'], 'chain')} to {pct(b['accuracy'])} with {b['n']}")  # fmt: skip
        parts.append(
            f"the {fmt} model's accuracy {move} ({kit.fmt(a['tokens'], '.0f')} → {kit.fmt(b['tokens'], '.0f')} "
            f"tokens per question; its greedy answer: {pct(greedy[fmt])})"
        )
    return "; ".join(parts)


def cheaper_phrase(curves: dict[str, list[dict[str, float]]]) -> str:
    """The direct model's largest vote against one scratchpad chain: tokens and accuracy."""
    d, s = curves["direct"][-1], curves["scratchpad"][0]
    cheaper = "fewer" if d["tokens"] < s["tokens"] else "more"
    better = "more" if d["accuracy"] > s["accuracy"] else ("as" if d["accuracy"] == s["accuracy"] else "less")
    return (
        f"{d['n']} direct answers cost {kit.fmt(d['tokens'], '.0f')} tokens, {cheaper} than one scratchpad chain "
        f"({kit.fmt(s['tokens'], '.0f')}), and their vote is {better} accurate ({pct(d['accuracy'])} against "
        f"{pct(s['accuracy'])})"
    )


def grpo_verdict(
    before: dict[str, Any],
    after: dict[str, Any],
    hist: dict[str, list[float]],
    evals: dict[str, list[float]],
    k: int,
) -> str:
    """Held-out greedy accuracy (and its best evaluation), the mean reward and the response length, before and
    after GRPO; reward and length as means over the first and the last ``k`` steps."""
    first = sum(hist["reward"][:k]) / k
    last = sum(hist["reward"][-k:]) / k
    lf, ll = sum(hist["length"][:k]) / k, sum(hist["length"][-k:]) / k
    if pct(after["mean"]) == pct(before["mean"]):
        move = f"stays at {pct(before['mean'])}"
    else:
        move = f"{'rises' if after['mean'] > before['mean'] else 'falls'} from {pct(before['mean'])} to {pct(after['mean'])}"
    best = max(range(len(evals["accuracy"])), key=lambda i: evals["accuracy"][i])  # first of the best
    peak = (
        f" (highest at step {evals['step'][best]}: {pct(evals['accuracy'][best])})"
        if 0 < best < len(evals["step"]) - 1
        else ""
    )
    return (
        f"held-out greedy accuracy {move}{peak}; the mean reward of "
        f"the sampled responses goes from {kit.fmt(first, '.2f')} to {kit.fmt(last, '.2f')} (first and last "
        f"{kit.plural(k, 'step')}) and their length from {kit.fmt(lf, '.1f')} to {kit.fmt(ll, '.1f')} tokens"
    )
