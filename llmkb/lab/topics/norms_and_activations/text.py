"""Page prose of the normalization and activations lab, computed from the measured numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from llmkb.lab import kit

__all__ = ["depth_phrase", "gradient_phrase", "grid_phrase", "lr_phrase", "speed_phrase", "warmup_phrase"]


def grid_phrase(rows: Sequence[Mapping[str, Any]]) -> str:
    """Which variant ends lowest, and whether the spread over seeds separates it from the runner-up."""
    ranked = sorted(rows, key=lambda r: r["mean"])
    best, second = ranked[0], ranked[1]
    gap = second["mean"] - best["mean"]
    if min(best.get("n", 1), second.get("n", 1)) < 2:
        tail = "one seed each, so there is no spread to judge the gap by"
    elif gap < best["sd"] + second["sd"]:
        tail = "within the spread over seeds, so the two are not told apart at this size"
    else:
        tail = "more than the spread over seeds"
    return (
        f"{best['variant']} ends lowest ({best['mean']:.3f} ± {best['sd']:.3f}); "
        f"{second['variant']} is next ({second['mean']:.3f} ± {second['sd']:.3f}), {gap:.3f} nats higher — {tail}"
    )


def speed_phrase(ratio: float, spread: float, what: str) -> str:
    """``RMSNorm takes 0.81× the time of LayerNorm`` or ``… no measurable difference`` when within spread."""
    if abs(ratio - 1.0) <= spread:
        return f"{what}: no difference beyond the run-to-run spread ({ratio:.2f}× ± {spread:.2f})"
    faster = "less" if ratio < 1 else "more"
    return f"{what}: RMSNorm takes {ratio:.2f}× the time of LayerNorm ({faster} time, spread ± {spread:.2f})"


def lr_phrase(lr: float | None, top: float) -> str:
    """``diverges from lr 0.1`` or ``does not diverge up to lr 1``."""
    if lr is None:
        return f"does not diverge up to lr {kit.readable(top)}"
    return f"diverges from lr {kit.readable(lr)}"


def warmup_phrase(rows: Sequence[Mapping[str, Any]]) -> str:
    """Which variants diverge at a lower learning rate without warm-up than with it (measured)."""
    needs = [r["variant"] for r in rows if r["needs_warmup"]]
    if not needs:
        return "no variant diverges at a lower learning rate without warm-up than with it in this sweep"
    verb = "diverges" if len(needs) == 1 else "diverge"
    return f"{kit.join_names(needs)} {verb} at a lower learning rate without warm-up than with it"


def depth_phrase(pre_growth: float, post_growth: float, n_layers: int) -> str:
    """How the residual norm grows from the first block's output to the last's, pre-norm against post-norm."""
    return (
        f"after training, the residual stream's norm grows {pre_growth:.1f}× from the first to the last of "
        f"{n_layers} pre-norm blocks and {post_growth:.1f}× across the same {n_layers} post-norm blocks"
    )


def gradient_phrase(rows: Sequence[Mapping[str, Any]]) -> str:
    """Where the gradient is largest, pre-norm against post-norm: the last layer's gradient norm over the
    first's, averaged over steps and then over the variants of each placement (geometric mean)."""
    parts = []
    for pos in ("pre", "post"):
        ratios = []
        for r in rows:
            if r["norm_position"] == pos:
                per_layer = np.asarray(r["layer_grad_norms"]).mean(0)
                ratios.append(per_layer[-1] / per_layer[0])
        if not ratios:
            continue
        g = float(np.exp(np.mean(np.log(ratios))))
        where = "the last layer" if g > 1 else "the first layer"
        parts.append(f"{pos}-norm blocks get their largest gradients at {where} (last / first = {g:.2f})")
    return "; ".join(parts)
