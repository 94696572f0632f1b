"""Page prose of the mixture-of-experts lab, computed from the measured numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from llmkb.lab import kit

__all__ = [
    "balance_numbers",
    "budget_phrase",
    "entropy_phrase",
    "flat_phrase",
    "kind_vs_dataset_phrase",
    "overhead_phrase",
    "sharpness",
    "short_run_phrase",
    "specialist_phrase",
    "time_vs_flops_phrase",
]


def budget_phrase(rows: Sequence[Mapping[str, Any]], budget: str) -> str:
    """How each MoE of one budget ends against the dense model, measured against the spread over seeds.

    ``2 experts: 0.012 nats below dense (within the seed spread); ...``; with one seed it says so instead
    of judging the spread.
    """
    dense = next(r for r in rows if r["experts"] == 0)
    parts = []
    for r in rows:
        if r["budget"] != budget or r["alpha"] == 0.0:
            continue
        delta = r["mean"] - dense["mean"]
        part = f"{kit.plural(r['experts'], 'expert')} end {kit.gap_phrase(delta)} dense"
        if r["n"] > 1:
            spread = max(r["sd"], dense["sd"])
            part += " (beyond the seed spread)" if abs(delta) > 2 * spread else " (within the seed spread)"
        parts.append(part)
    text = "; ".join(parts)
    return text + (" — one seed, so no ranking" if rows and rows[0]["n"] == 1 else "")


def balance_numbers(rows: Sequence[Mapping[str, Any]], experts: int) -> dict[str, Any]:
    """Last logged router entropy and busiest expert's share of the ``experts``-expert model with and without
    balancing, and their held-out losses."""
    got = {r["alpha"]: r for r in rows if r["experts"] == experts and r["budget"] == "equal active"}
    on, off = got[0.01], got[0.0]
    return {
        "entropy_on": on["router_entropy"][-1],
        "entropy_off": off["router_entropy"][-1],
        "busiest_on": on["busiest"][-1],
        "busiest_off": off["busiest"][-1],
        "loss_on": on["mean"],
        "loss_off": off["mean"],
        "loss_gap": kit.gap_phrase(off["mean"] - on["mean"]),
    }


def entropy_phrase(on: Mapping[str, float], off: Mapping[str, float], experts: int) -> str:
    """The load entropy with and without the balancing loss, and which is higher given the spread."""
    top = math.log(experts)
    head = (f"with the balancing loss the load entropy is {on['mean']:.2f} nats ({on['mean'] / top:.0%} of ln {experts}),"
            f" without it {off['mean']:.2f} nats ({off['mean'] / top:.0%})")  # fmt: skip
    if on["n"] < 2:
        return head + " — one seed"
    delta, spread = on["mean"] - off["mean"], max(on["sd"], off["sd"])
    if abs(delta) <= 2 * spread:
        return head + ": the difference is within the seed spread"
    return head + (": balancing spreads the load" if delta > 0 else ": balancing did not spread the load")


def specialist_phrase(by_dataset: Sequence[Sequence[Sequence[float]]], datasets: Sequence[str]) -> str:
    """For the first MoE layer: each dataset's favourite expert and the share of its tokens that go there."""
    layer = by_dataset[0]
    parts = []
    for name, row in zip(datasets, layer, strict=True):
        e = max(range(len(row)), key=row.__getitem__)
        parts.append(f"{row[e]:.0%} of the {name} bytes go to expert {e}")
    return kit.join_names(parts)


def flat_phrase(points: Sequence[Mapping[str, Any]]) -> str:
    """How the FLOPs per token of sparse top-2 and of the dense simulation change from fewest to most experts."""

    def at(method: str) -> list[Mapping[str, Any]]:
        return sorted((p for p in points if p["method"] == method), key=lambda p: p["experts"])

    sp, sim = at("sparse top-2"), at("dense simulation")
    lo, hi = sp[0]["experts"], sp[-1]["experts"]
    return (f"from {lo} to {hi} experts, sparse top-2 goes from {kit.readable(round(sp[0]['flops_per_token']))} "
            f"to {kit.readable(round(sp[-1]['flops_per_token']))} FLOPs per token "
            f"(×{sp[-1]['flops_per_token'] / sp[0]['flops_per_token']:.2f}) while the dense simulation goes from "
            f"{kit.readable(round(sim[0]['flops_per_token']))} to {kit.readable(round(sim[-1]['flops_per_token']))} "
            f"(×{sim[-1]['flops_per_token'] / sim[0]['flops_per_token']:.1f})")  # fmt: skip


def overhead_phrase(points: Sequence[Mapping[str, Any]]) -> str:
    """Where on the CPU sparse top-2 stops being slower than the dense simulation (or never does)."""
    by = {(p["experts"], p["method"]): p["us_per_token"] for p in points}
    experts = sorted({p["experts"] for p in points})
    wins = [e for e in experts if by[(e, "sparse top-2")] < by[(e, "dense simulation")]]
    if not wins:
        return f"sparse top-2 is slower than the dense simulation at every expert count up to {experts[-1]}"
    if len(wins) == len(experts):
        return f"sparse top-2 is faster than the dense simulation at every expert count from {experts[0]}"
    return (f"sparse top-2 is faster than the dense simulation at {kit.join_names([str(e) for e in wins])} "
            f"experts and slower at {kit.join_names([str(e) for e in experts if e not in wins])}")  # fmt: skip


def sharpness(matrix: Sequence[Sequence[float]]) -> float:
    """Mean over the non-empty rows of a share matrix of the row's largest share: how much of a group its
    favourite expert takes (``1/E`` when spread evenly, 1 when one expert takes it all)."""
    tops = [max(row) for row in matrix if sum(row) > 0]
    return sum(tops) / len(tops)


def kind_vs_dataset_phrase(by_kind: Sequence[Sequence[float]], by_dataset: Sequence[Sequence[float]]) -> str:
    """Whether byte kinds or datasets are split more sharply between experts (one layer's matrices)."""
    k, d = sharpness(by_kind), sharpness(by_dataset)
    head = (f"a kind of byte sends on average {k:.0%} of its bytes to its favourite expert, "
            f"a dataset {d:.0%}")  # fmt: skip
    if abs(k - d) < 0.05:
        return head + ": kinds and datasets are split about as sharply"
    return head + (": the experts split kinds of byte more sharply than datasets" if k > d
                   else ": the experts split datasets more sharply than kinds of byte")  # fmt: skip


def short_run_phrase(busiest: float, entropy: float, experts: int) -> str:
    """Where the balanced router stands at the end of training, from its busiest expert's share and its
    per-token entropy (nats)."""
    spread = "has not evened the load out" if busiest > 2 / experts else "has brought the load close to even"
    probs = (
        "the router's probabilities have hardly left uniform"
        if entropy > 0.9 * math.log(experts)
        else "the router's probabilities have moved well away from uniform"
    )
    most = ", yet its top-1 choice lands on one expert for most tokens" if busiest > 0.5 else ""
    return f"the balancing loss {spread}, and {probs}{most}"


def time_vs_flops_phrase(ratios: Mapping[str, Mapping[str, float]], experts: int) -> str:
    """Sparse top-2's share of the dense simulation's time against its share of the FLOPs, at ``experts``."""
    r = ratios[str(experts)]
    return (f"at {experts} experts sparse top-2 takes {r['time_sparse_over_simulation']:.0%} of the dense "
            f"simulation's time for {r['sparse_over_simulation']:.1%} of its FLOPs")  # fmt: skip
