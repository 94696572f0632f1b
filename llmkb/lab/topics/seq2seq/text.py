"""Page prose of the seq2seq lab, computed from the numbers it describes."""

from __future__ import annotations

from typing import Any

from llmkb.lab import kit
from llmkb.lab.topics.seq2seq.names import TASK_METRICS, TASK_NAMES

__all__ = ["pct", "mean_sd_pct", "samples_block", "beam_phrase", "task_verdict", "bottleneck_verdict"]


def pct(value: float, metric: str) -> str:
    """A score as the page writes it: BLEU and chrF on 0..100 with one decimal, the others as a percentage."""
    return kit.fmt(value, ".1f") if metric in ("BLEU", "chrF") else kit.fmt(value, ".0%")


def mean_sd_pct(mean: float, sd: float, n: int) -> str:
    """``mean ± sd`` as percentages over ``n`` seeds, or the value alone for one seed."""
    return f"{kit.fmt(mean, '.0%')} ± {kit.fmt(sd, '.0%')}" if n > 1 else kit.fmt(mean, ".0%")


def samples_block(samples: list[dict[str, Any]]) -> str:
    """One held-out example per task: source, reference and both models' outputs."""
    lines = []
    for s in samples:
        lines += [f"{TASK_NAMES[s['task']]}", f"  source:          {s['source']}", f"  reference:       {s['reference']}",
                  f"  encoder-decoder: {s['encdec']}", f"  decoder-only:    {s['gpt']}", ""]  # fmt: skip
    return "\n".join(lines).rstrip()


def beam_phrase(beam: dict[str, Any]) -> str:
    """Beam search against greedy decoding on translation (exact match of the encoder-decoder)."""
    g, b = beam["greedy"], beam["beam"]
    how = (
        "the same exact match as" if abs(b - g) < 1e-9 else f"{'more' if b > g else 'less'} exact match than"
    )
    return (
        f"a beam of {beam['size']} gives the encoder-decoder {how} greedy decoding "
        f"({kit.fmt(b, '.0%')} against {kit.fmt(g, '.0%')})"
    )


def task_verdict(rows: list[dict[str, Any]]) -> str:
    """Which model scored higher on each task's headline score, in one run (no ranking claim beyond it)."""
    wins: dict[str, list[str]] = {"encdec": [], "gpt": [], "tie": []}
    for task, metrics in TASK_METRICS.items():
        r = next(r for r in rows if r["task"] == task and r["metric"] == metrics[0])
        gap = r["encdec"] - r["gpt"]
        tol = 0.5 if metrics[0] in ("BLEU", "chrF") else 0.005
        wins["tie" if abs(gap) < tol else "encdec" if gap > 0 else "gpt"].append(TASK_NAMES[task])
    parts = []
    if wins["encdec"]:
        parts.append(f"the encoder-decoder scored higher on {kit.join_names(wins['encdec'])}")
    if wins["gpt"]:
        verb = "on" if wins["encdec"] else "scored higher on"
        parts.append(f"the decoder-only model {verb} {kit.join_names(wins['gpt'])}")
    if wins["tie"]:
        parts.append(f"they tied on {kit.join_names(wins['tie'])}")
    return "in this one run, " + "; ".join(parts)


def _drop(r: dict[str, Any]) -> str:
    d = r["drop"]
    spread = f" ± {kit.fmt(d['sd'] * 100, '.0f')}" if d["n"] > 1 else ""
    return f"{kit.fmt(d['mean'] * 100, '.0f')}{spread} ({r['name']})"


def bottleneck_verdict(gru: dict[str, Any], att: dict[str, Any], tf: dict[str, Any]) -> str:
    """How much exact match each model loses from the shortest to the longest sources, and whether the fixed
    vector's loss is larger than both attention models' beyond the spread over seeds."""
    lost = (
        f"from one clause to the most, exact match fell by {_drop(gru)}, {_drop(att)} and {_drop(tf)} points"
    )
    g, others = gru["drop"], (att["drop"], tf["drop"])
    if g["n"] < 3:
        return lost + f" (one run each{'' if g['n'] == 1 else ', too few seeds to rank'})"
    if all(g["mean"] - g["sd"] > o["mean"] + o["sd"] for o in others):
        return (
            lost
            + f" (mean ± sd over {g['n']} seeds): the fixed vector degrades most, beyond the spread of the seeds"
        )
    return lost + f" (mean ± sd over {g['n']} seeds): the differences are within the spread of the seeds"
