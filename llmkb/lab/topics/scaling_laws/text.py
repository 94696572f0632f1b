"""Page prose of the scaling-laws lab, computed from its numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmkb.lab import kit
from llmkb.lab.topics.scaling_laws.names import BESIROGLU, CHINCHILLA, KAPLAN, TOKENS_PER_PARAMETER

_PAPERS = ("Kaplan et al. 2020", "Hoffmann et al. 2022", "Besiroglu et al. 2024")


def with_interval(fit: dict[str, Any], name: str, spec: str = ".3f") -> str:
    """``0.341 [0.302, 0.377]``: a fitted value and its bootstrap interval (the value alone without one)."""
    v = kit.fmt(fit["params"][name], spec)
    if name not in fit.get("ci", {}):
        return v
    lo, hi = fit["ci"][name]
    return f"{v} [{kit.fmt(lo, spec)}, {kit.fmt(hi, spec)}]"


def exponent_rows(fits: dict[str, Any]) -> list[dict[str, Any]]:
    """The fitted parameters beside the papers' published ones (``–`` where a paper has no such number)."""
    level = f"this sweep ({kit.fmt(100 * fits['ND']['level'], '.0f')} % interval)"
    spec = [
        ("L(N) = E + A/N^α", "N", "alpha", "α", KAPLAN["alpha_N"], CHINCHILLA["alpha"], BESIROGLU["alpha"]),
        ("L(D) = E + B/D^β", "D", "beta", "β", KAPLAN["alpha_D"], CHINCHILLA["beta"], BESIROGLU["beta"]),
        ("L(N, D)", "ND", "alpha", "α", None, CHINCHILLA["alpha"], BESIROGLU["alpha"]),
        ("L(N, D)", "ND", "beta", "β", None, CHINCHILLA["beta"], BESIROGLU["beta"]),
        ("L(N, D)", "ND", "E", "E (nats)", None, CHINCHILLA["E"], BESIROGLU["E"]),
    ]
    return [
        {"law": law, "parameter": label, level: with_interval(fits[form], name),
         **{paper: "–" if v is None else kit.fmt(v, ".3g") for paper, v in zip(_PAPERS, published, strict=True)}}
        for law, form, name, label, *published in spec
    ]  # fmt: skip


def _inside(fit: dict[str, Any], name: str, value: float) -> str:
    lo, hi = fit["ci"][name]
    return "contains" if lo <= value <= hi else "excludes"


def exponent_phrase(fits: dict[str, Any]) -> str:
    """One sentence: the joint fit's exponents, whether their intervals contain Chinchilla's, which is larger."""
    nd = fits["ND"]
    a, b = nd["params"]["alpha"], nd["params"]["beta"]
    pct = kit.fmt(100 * nd["level"], ".0f")
    bigger = "parameters (α > β)" if a > b else "tokens (β > α)"
    return (
        f"The joint fit gives α = {with_interval(nd, 'alpha', '.2f')} and β = {with_interval(nd, 'beta', '.2f')} "
        f"({pct} % bootstrap intervals): the α interval {_inside(nd, 'alpha', CHINCHILLA['alpha'])} Chinchilla's "
        f"{CHINCHILLA['alpha']} and the β interval {_inside(nd, 'beta', CHINCHILLA['beta'])} its {CHINCHILLA['beta']}; "
        f"here the loss falls faster with {bigger}."
    )


def flops_phrase(ratio: Sequence[float], head_share: Sequence[float]) -> str:
    """How far the counted FLOPs of a step sit above ``6 N D`` and how large the output head is next to ``N``."""
    return (
        f"Counted FLOPs of a training step are {kit.fmt(min(ratio), '.2f')}–{kit.fmt(max(ratio), '.2f')} × 6ND. "
        f"The excess is the output head: its V·d weights are {kit.fmt(min(head_share), '.0%')}–"
        f"{kit.fmt(max(head_share), '.0%')} of N at these sizes, and 6ND counts non-embedding N only."
    )


def _cap(opt: dict[str, Any]) -> str:
    """`` — capped …`` when the check run could not afford all the tokens its compute allows."""
    if not opt.get("capped"):
        return ""
    share = opt["d_run"] * opt["n_run"] * 6 / opt["compute"]
    return f", capped by the lab's time budget: {kit.fmt(share, '.0%')} of the compute C"


def optimal_phrase(opt: dict[str, Any]) -> str:
    """The compute-optimal recommendation against the 20-tokens-per-parameter rule, and the check run's verdict."""
    ratio = opt["tokens_per_parameter"]
    rule = f"{TOKENS_PER_PARAMETER} tokens per parameter"
    side = "more" if ratio > TOKENS_PER_PARAMETER else "fewer"
    gap = opt["measured"] - opt["predicted"]
    close = abs(gap) <= opt["tolerance"]
    return (
        f"At C = {kit.fmt(opt['compute'], '.3g')} FLOPs the fit recommends N ≈ {kit.readable(opt['n_opt'])} "
        f"non-embedding parameters and D ≈ {kit.readable(opt['d_opt'])} tokens, {kit.fmt(ratio, '.3g')} tokens per "
        f"parameter — {side} than the rule's {rule}. The run at the nearest size (N = {kit.readable(opt['n_run'])}, "
        f"D = {kit.readable(opt['d_run'])}{_cap(opt)}) reached {kit.fmt(opt['measured'], '.3f')} nats against the law's "
        f"{kit.fmt(opt['predicted'], '.3f')}: {'within' if close else 'outside'} the fit's typical error of "
        f"{kit.fmt(opt['tolerance'], '.3f')} nats; it ends {kit.gap_phrase(opt['measured'] - opt['grid_best'])} the sweep's "
        f"best point, none of which used more compute ({kit.fmt(opt['grid_best'], '.3f')} nats)."
    )


def order_phrase(losses: Sequence[float]) -> str:
    """Whether the final losses fall with every step up in size, or how many steps up end worse."""
    worse = sum(b > a for a, b in zip(losses, losses[1:], strict=False))
    steps = len(losses) - 1
    if worse == 0:
        return f"every one of the {steps} steps up in size lowers the loss at the largest budget"
    return (
        f"{kit.count_of(worse, steps, 'step up in size', 'steps up in size', verb=('ends', 'end'))} with a higher loss "
        "at the largest budget than the size below it — the run-to-run noise of one seed at a constant learning "
        "rate is as large as the gain of a size step here"
    )
