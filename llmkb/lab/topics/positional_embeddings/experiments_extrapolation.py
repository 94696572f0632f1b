"""Read the ``compare`` checkpoints past their training length; run the RoPE ones with rescaled angles."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from llmkb.data import TokenDataset
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import eval_windows, per_position_loss, seed_stats
from llmkb.nn import GPTConfig
from llmkb.nn.positional import rope_wavelengths

from .analysis import rescaled_rope, rope_turns
from .experiments import load_checkpoint
from .names import COMPARE, EXTRAPOLATED, RESCALED, TOPIC, VARIANTS, label
from .text import gaps_phrase, lowest_phrase, mean_sd, paired_gap, ranking_phrase

_LONGER = {"alibi": "ALiBi", "none": "NoPE", "rope": "plain RoPE", "rope-ntk": "RoPE with the NTK base"}
"""The variants the page compares with their own loss at 1x, as the page names them."""


@TOPIC.experiment(
    "extrapolation",
    profiles={
        "quick": {"mults": [1, 2, 4], "n_windows": 8, "seed": 1},
        "full": {"mults": [1, 2, 4], "n_windows": 48, "seed": 1},
    },
    needs=[COMPARE],
    title="Evaluate the compare checkpoints at 1x, 2x and 4x their training length; rescaled RoPE too",
)
def extrapolation(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Loss per position at 1x, 2x, 4x the training context for every variant and seed, and for the RoPE
    checkpoints run with position interpolation or an NTK-aware base at scale ``s = window / T``."""
    comp = ctx.need(COMPARE)
    T, seeds = int(comp["seq_len"]), [int(s) for s in comp["seeds"]]
    mults = [int(m) for m in cfg["mults"]]
    top = max(mults)
    if mults[0] != 1 or T * top > int(comp["max_seq_len"]):
        raise ValueError(f"mults must start at 1 and stay within max_seq_len/T, got {mults}")
    data = TokenDataset.from_corpus("pydoc")
    windows = eval_windows(data.val, T * top, cfg["n_windows"], seed=cfg["seed"])  # (N, 4T+1)
    curves: dict[str, list[np.ndarray]] = {v: [] for v in EXTRAPOLATED}
    by_mult: dict[str, dict[int, list[float]]] = {v: {m: [] for m in mults} for v in EXTRAPOLATED}
    prefix_gap, scale_one_gap = 0.0, 0.0
    jobs = [(v, s) for v in VARIANTS for s in seeds]
    for variant, seed in ctx.progress(jobs, total=len(jobs), desc="extrapolation"):
        model = load_checkpoint(comp, variant, seed)
        full = per_position_loss(model, windows)  # (4T,)
        curves[variant].append(full.numpy())
        for m in mults:
            by_mult[variant][m].append(float(full[: m * T].mean()))
        if seed == seeds[0]:  # causal: a shorter window scores exactly like the prefix of a longer one
            short = per_position_loss(model, windows[:, : T + 1])
            prefix_gap = max(prefix_gap, float((short - full[:T]).abs().max()))
        if variant != "rope":
            continue
        for name in RESCALED:
            for m in mults:
                curve = per_position_loss(
                    rescaled_rope(model, name.removeprefix("rope-"), m), windows[:, : m * T + 1]
                )
                by_mult[name][m].append(float(curve.mean()))
                if m == 1:
                    scale_one_gap = max(scale_one_gap, abs(float(curve.mean()) - by_mult["rope"][1][-1]))
            curves[name].append(curve.numpy())
    if prefix_gap > 1e-4 or scale_one_gap > 1e-5:
        raise RuntimeError(
            f"causal prefix gap {prefix_gap:.1e} or scale-1 gap {scale_one_gap:.1e} is not round-off"
        )
    within = {v: [float(c[:T].mean()) for c in curves[v]] for v in EXTRAPOLATED}
    beyond = {v: [float(c[T:].mean()) for c in curves[v]] for v in EXTRAPOLATED}
    return {
        "seq_len": T,
        "mults": mults,
        "n_seeds": len(seeds),
        "n_windows": cfg["n_windows"],
        "positions": np.arange(T * top),
        "curves": {v: np.mean(curves[v], axis=0) for v in EXTRAPOLATED},
        "table": kit.table([_row(v, by_mult[v], beyond[v], T) for v in EXTRAPOLATED]),
        "by_mult": {v: {str(m): by_mult[v][m] for m in mults} for v in EXTRAPOLATED},
        "within": {v: seed_stats(within[v])["mean"] for v in EXTRAPOLATED},
        "beyond": {v: seed_stats(beyond[v])["mean"] for v in EXTRAPOLATED},
        "beyond_seeds": beyond,
        "ranking_long": ranking_phrase(beyond),
        "lowest_long": lowest_phrase(beyond),
        "ntk_vs_rope": _versus(beyond, "rope-ntk", "rope"),
        "pi_vs_rope": _versus(beyond, "rope-pi", "rope"),
        "pi_within_vs_rope": _versus(within, "rope-pi", "rope"),
        "longer_vs_1x": {
            v: paired_gap(
                [a - b for a, b in zip(by_mult[v][top], by_mult[v][1], strict=True)], "its loss at 1x"
            )
            for v in EXTRAPOLATED
        },
        "longer_vs_1x_text": gaps_phrase(
            {
                name: [a - b for a, b in zip(by_mult[v][top], by_mult[v][1], strict=True)]
                for v, name in _LONGER.items()
            },
            "the loss at 1×",
        ),
        "rescaled_vs_rope": gaps_phrase(
            {
                name: [x - y for x, y in zip(beyond[v], beyond["rope"], strict=True)]
                for v, name in (("rope-ntk", "the NTK-aware base"), ("rope-pi", "position interpolation"))
            },
            "plain RoPE",
        ),
        "learned_beyond_vs_within": paired_gap(
            [b - w for b, w in zip(beyond["learned"], within["learned"], strict=True)], "its loss inside T"
        ),
        "prefix_max_abs_diff": prefix_gap,
        "uniform_loss": math.log(256),
        "rope": _rope_geometry(load_checkpoint(comp, "rope", seeds[0]).config, T, top),
    }


def _row(variant: str, by_mult: dict[int, list[float]], beyond: list[float], T: int) -> dict[str, Any]:
    row: dict[str, Any] = {"variant": label(variant)}
    for m, values in by_mult.items():
        row[f"loss @ {m}x ({m * T} bytes)"] = mean_sd(values)
    row["loss beyond T, 4x window"] = mean_sd(beyond)
    return row


def _versus(values: dict[str, list[float]], a: str, b: str) -> str:
    deltas = [x - y for x, y in zip(values[a], values[b], strict=True)]
    return paired_gap(deltas, f"plain {label(b)}")


def _rope_geometry(mcfg: GPTConfig, T: int, top: int) -> dict[str, Any]:
    """Wavelengths ``2 pi b^(2i/D)`` of the RoPE pairs of the compare models and of the shared model."""
    D, b = mcfg.head_dim, mcfg.rope_base
    shared = GPTConfig.preset("shared")
    lam = rope_wavelengths(D, b)  # (D/2,)
    longest_shared = float(rope_wavelengths(shared.head_dim, shared.rope_base)[-1])
    return {
        "head_dim": D,
        "base": b,
        "pairs": D // 2,
        "wavelengths": lam.numpy(),
        "longest": float(lam[-1]),
        "longest_vs_2pib": float(lam[-1]) / (2 * math.pi * b),
        "turns_within_T": rope_turns(D, b, T),
        "turns_within_top": rope_turns(D, b, T * top),
        "shared_head_dim": shared.head_dim,
        "shared_longest": longest_shared,
        "shared_longest_vs_2pib": longest_shared / (2 * math.pi * shared.rope_base),
    }
