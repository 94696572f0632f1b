"""Page prose of the memory lab, computed from the numbers it describes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmkb.lab import kit
from llmkb.lab.topics.memory.names import POLICY_NAMES

__all__ = ["pct", "acc_cell", "reach_phrase", "lead_phrase", "stale_phrase", "dense_phrase", "pair_phrase"]


def pct(x: float | None) -> str:
    """A rate as a whole percentage (``—`` for no value), with one decimal where rounding would show a rate that
    is not 0 or 1 as ``0%`` or ``100%``."""
    if x is None:
        return "—"
    return kit.fmt(x, ".1%" if 0 < x < 0.005 or 0.995 <= x < 1 else ".0%")


def acc_cell(mean: float, sd: float, n: int) -> str:
    """``mean ± sd`` over ``n`` seeds, or the value alone for one seed."""
    return f"{pct(mean)} ± {pct(sd)}" if n > 1 else pct(mean)


def reach_phrase(rows: Sequence[dict[str, Any]], level: float) -> str:
    """For each policy (``none`` left out), the smallest budget at which its mean accuracy reaches ``level``."""
    parts, never = [], []
    for r in rows:
        if r["policy"] == "none":
            continue
        hit = next((b for b, a in zip(r["budgets"], r["acc"], strict=True) if a >= level - 1e-9), None)
        name = POLICY_NAMES[r["policy"]]
        (parts.append(f"{name} from {kit.fmt(hit, ',')} tokens") if hit is not None else never.append(name))
    out = f"mean accuracy reaches {pct(level)} for {kit.join_names(parts)}" if parts else ""
    if never:
        largest = kit.fmt(rows[0]["budgets"][-1], ",")
        tail = f"{kit.join_names(never)} {kit.plural(len(never), 'does', 'do', number=False)} not within {largest}"
        out = f"{out}; {tail}" if out else f"mean accuracy reaches {pct(level)} for no policy: {tail}"
    return out


def lead_phrase(rows: Sequence[dict[str, Any]], i: int, seeds: int) -> str:
    """Which policy answers best at budget index ``i``, and whether its lead exceeds the seed spread (the best
    mean minus its sd above the runner-up's mean plus its sd)."""
    ranked = sorted(rows, key=lambda r: -r["acc"][i])
    a, b = ranked[0], ranked[1]
    budget = kit.fmt(a["budgets"][i], ",")
    head = (f"at {budget} tokens {POLICY_NAMES[a['policy']]} answers {acc_cell(a['acc'][i], a['acc_sd'][i], seeds)}, "
            f"{POLICY_NAMES[b['policy']]} next with {acc_cell(b['acc'][i], b['acc_sd'][i], seeds)}")  # fmt: skip
    if seeds < 3:
        return f"{head} ({'one run' if seeds == 1 else 'too few seeds to rank'})"
    if a["acc"][i] - a["acc_sd"][i] > b["acc"][i] + b["acc_sd"][i]:
        return f"{head}: a lead larger than the spread over {seeds} seeds"
    return f"{head}: level within the spread over {seeds} seeds"


def stale_phrase(rows: Sequence[dict[str, Any]], i: int) -> str:
    """The share of each policy's wrong answers at budget index ``i`` that were an earlier value of the fact."""
    parts = []
    for r in rows:
        wrong = 1 - r["acc"][i]
        if r["policy"] == "none" or wrong < 1e-9:
            continue
        parts.append(f"{POLICY_NAMES[r['policy']]} {pct(r['stale'][i] / wrong)}")
    budget = kit.fmt(rows[0]["budgets"][i], ",")
    if not parts:
        return f"at {budget} tokens no policy but no memory gives a wrong answer"
    return (
        f"at {budget} tokens, the share of wrong answers that are an earlier value: {kit.join_names(parts)}"
    )


def dense_phrase(rows: Sequence[dict[str, Any]], seeds: int) -> str:
    """MiniLM against BM25 on sentences: the latest statement in the top k at the largest k, and the stale rate
    there; a difference counts when it exceeds both seed spreads (with at least 3 seeds)."""
    by = {r["store"]: r for r in rows}
    if "dense" not in by:
        return (
            "this profile leaves MiniLM out (it loads a 90 MB model); the full profile compares it with BM25"
        )
    d, b, k = by["dense"], by["archival"], rows[0]["ks"][-1]

    def cmp(key: str, what: str) -> str:
        x, y = d[key][-1], b[key][-1]
        gap = abs(x - y) > d[f"{key}_sd"][-1] + b[f"{key}_sd"][-1] and seeds >= 3
        rel = ("more often than" if x > y else "less often than") if gap else "about as often as"
        return f"{what} {rel} BM25 ({pct(x)} against {pct(y)})"

    return (f"with the top {k} sentences, MiniLM {cmp('latest', 'finds the latest statement')} and "
            f"{cmp('stale', 'gives a stale answer')}, mean over {plural_seeds(seeds)}")  # fmt: skip


def plural_seeds(n: int) -> str:
    """``1 seed`` / ``5 seeds``."""
    return kit.plural(n, "seed")


def pair_phrase(rows: Sequence[dict[str, Any]], a: str, b: str, i: int, seeds: int) -> str:
    """Policy ``a`` against policy ``b`` at budget index ``i``: higher, lower or level within the seed spreads."""
    by = {r["policy"]: r for r in rows}
    if a not in by:
        return f"this profile leaves {POLICY_NAMES[a]} out (it loads a 90 MB model); the full profile runs it"
    x, y = by[a], by[b]
    budget = kit.fmt(x["budgets"][i], ",")
    gap = x["acc"][i] - y["acc"][i]
    if seeds >= 3 and abs(gap) > x["acc_sd"][i] + y["acc_sd"][i]:
        rel = "more" if gap > 0 else "fewer"
        verdict = f"{rel} questions right than {POLICY_NAMES[b]}, beyond the spread over {seeds} seeds"
    else:
        verdict = f"level with {POLICY_NAMES[b]} within the seed spread"
    return (f"at {budget} tokens {POLICY_NAMES[a]} answers {acc_cell(x['acc'][i], x['acc_sd'][i], seeds)} "
            f"against {acc_cell(y['acc'][i], y['acc_sd'][i], seeds)}: {verdict}")  # fmt: skip
