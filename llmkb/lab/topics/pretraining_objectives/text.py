"""Page prose of the pretraining-objectives lab, computed from the numbers it describes."""

from __future__ import annotations

from typing import Any

from llmkb.lab import kit
from llmkb.lab.topics.pretraining_objectives.names import TASK_NAMES, TASKS

__all__ = [
    "COLUMNS",
    "column_verdict",
    "efficiency_phrase",
    "examples_block",
    "mean_sd",
    "table_row",
    "task_verdicts",
]


def efficiency_phrase(clm: dict[str, Any], mlm: dict[str, Any]) -> str:
    """Compare the loss drop per token seen and per token predicted of CLM and MLM (rows of ``train``)."""
    if clm["drop"] <= 0 or mlm["drop"] <= 0:
        return (
            "at least one of the runs did not lower its held-out loss, so no per-token efficiency is measured"
        )
    seen = clm["per_seen"] / mlm["per_seen"]
    pred = mlm["per_predicted"] / clm["per_predicted"]
    if abs(seen - 1) < 0.05:
        pace = f"about as fast as MLM's ({kit.fmt(seen, '.2f')}×)"
    else:
        pace = f"{kit.fmt(seen, '.2f')}× as fast as MLM's ({'faster' if seen > 1 else 'slower'})"
    return (
        f"per token seen, CLM's held-out loss fell {pace}; "
        f"per token predicted, MLM's fell {kit.fmt(pred, '.2f')}× as fast as CLM's"
    )


def mean_sd(stats: dict[str, float], spec: str) -> str:
    """``mean ± sd`` over seeds, or the value alone for one seed."""
    if stats["n"] > 1:
        return f"{kit.fmt(stats['mean'], spec)} ± {kit.fmt(stats['sd'], spec)}"
    return kit.fmt(stats["mean"], spec)


def table_row(row: dict[str, Any]) -> dict[str, str]:
    """One row of the objective × task table: mean ± sd over seeds."""
    m = row["metrics"]
    out = {
        "model (decoding)": row["name"],
        "free text: reference NLL ↓": mean_sd(m["nll"], ".3f"),
        "distinct-2": mean_sd(m["distinct"], ".2f"),
        "cloze (middle span) ↑": mean_sd(m["cloze"], ".0%"),
    }
    return {**out, **{TASK_NAMES[t] + " ↑": mean_sd(m[t], ".0%") for t in TASKS}}


#: The columns a verdict is given for: key, how the page names it, its number format, lower is better.
COLUMNS: tuple[tuple[str, str, str, bool], ...] = (
    ("nll", "free text (reference NLL)", ".3f", True),
    ("cloze", "the cloze", ".0%", False),
    *((t, TASK_NAMES[t], ".0%", False) for t in TASKS),
)


def column_verdict(rows: list[dict[str, Any]], key: str, label: str, spec: str, lower: bool) -> str:
    """One sentence on who is best in one column, claimed only where the seeds separate the models.

    A model *wins* when its worst seed beats every other model's best seed (the ranges of the seeds do not
    overlap); otherwise the sentence names the leader on average and says the seeds do not rank it.
    An accuracy no model gets above 0 says so.
    """
    stats = {r["name"]: r["metrics"][key] for r in rows}
    means = {n: s["mean"] for n, s in stats.items()}
    sign = -1.0 if lower else 1.0
    best = max(means.values(), key=lambda v: sign * v)
    if not lower and best == 0:
        return f"On {label}, no model gets an answer right."
    leaders = [n for n, v in means.items() if abs(v - best) < 1e-9]
    others = [n for n in means if n not in leaders]
    if len(leaders) > 1 or not others:
        return f"On {label}, {kit.join_names(leaders)} tie on average ({kit.fmt(best, spec)})."
    best_seed, worst_seed = ("min", "max") if lower else ("max", "min")
    rival = max(others, key=lambda n: sign * stats[n][best_seed])  # the other model with the best seed
    worst, rival_best = stats[leaders[0]][worst_seed], stats[rival][best_seed]
    if sign * worst > sign * rival_best:
        return (
            f"On {label}, {leaders[0]} wins: its worst seed ({kit.fmt(worst, spec)}) beats the best seed of "
            f"every other model ({kit.fmt(rival_best, spec)}, {rival})."
        )
    return (
        f"On {label}, {leaders[0]} leads on average ({kit.fmt(best, spec)}), but its seeds overlap with "
        f"{rival}'s ({kit.fmt(stats[rival]['mean'], spec)} on average), so the seeds do not rank them."
    )


def task_verdicts(rows: list[dict[str, Any]]) -> dict[str, str]:
    """:func:`column_verdict` for each of :data:`COLUMNS`, by key."""
    return {key: column_verdict(rows, key, label, spec, lower) for key, label, spec, lower in COLUMNS}


def examples_block(
    rows: list[dict[str, Any]], prompt: str, cloze: str, P: int, span: int, sets: dict[str, Any]
) -> str:
    """A text block of one prompt's continuation, one cloze fill and one answer per task, by every model."""
    lines = [f"prompt:     {prompt!r}"]
    lines += [f"  {r['name']:<24} {r['examples']['sample']!r}" for r in rows]
    lines.append(
        f"cloze:      {cloze[:P]!r} [{span} × ?] {cloze[P + span :]!r}, truth {cloze[P : P + span]!r}"
    )
    lines += [f"  {r['name']:<24} {r['examples']['fill']!r}" for r in rows]
    for task in TASKS:
        prompt_t, answer = sets[task][0][0], sets[task][1][0]
        lines.append(f"{TASK_NAMES[task]}: {prompt_t.strip()!r}, truth {answer!r}")
        lines += [f"  {r['name']:<24} {r['examples'][task + '_example']!r}" for r in rows]
    return "\n".join(lines)
