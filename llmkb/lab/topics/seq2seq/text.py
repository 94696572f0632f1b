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


def bottleneck_verdict(rows: list[dict[str, Any]], seeds: int) -> str:
    """For each model, whether its exact match holds from the shortest sources to the longest: it counts as
    lost when the fall exceeds the two buckets' seed spreads plus 2 points; token F1 shown alongside."""
    parts = []
    for r in rows:
        a, b, spread = r["em"][0], r["em"][-1], r["em_sd"][0] + r["em_sd"][-1] + 0.02
        verb = "keeps its exact match" if a - b <= spread else "loses exact match"
        parts.append(
            f"the {r['name']} {verb} ({kit.fmt(a, '.0%')} → {kit.fmt(b, '.0%')}; "
            f"token F1 {kit.fmt(r['f1'][0], '.0%')} → {kit.fmt(r['f1'][-1], '.0%')})"
        )
    runs = (
        f"mean over {seeds} seeds"
        if seeds >= 3
        else ("one run each" if seeds == 1 else "too few seeds to rank")
    )
    return f"from the shortest sources to the longest, {'; '.join(parts)} ({runs})"
