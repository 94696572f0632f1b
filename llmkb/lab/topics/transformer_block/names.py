"""The transformer-block topic's name, its experiment names, and the constants its modules share."""

from __future__ import annotations

from typing import Any

from llmkb.lab.topic import Topic

__all__ = [
    "TOPIC",
    "DEPTH",
    "SURGERY",
    "NORM",
    "SHARED_BLOCK",
    "OPERATIONS",
    "EXACT",
    "NORM_VARIANTS",
    "REFERENCE_VARIANT",
    "variant_label",
]

TOPIC = Topic("transformer-block")
DEPTH = TOPIC.name("depth")
"""The same model with more and more blocks."""
SURGERY = TOPIC.name("surgery")
"""Operations on Q, K, V and the residual: applied to a trained model, and trained with."""
NORM = TOPIC.name("norm")
"""Pre-norm vs post-norm, with and without warm-up, and a stack without residuals."""
SHARED_BLOCK = TOPIC.name("shared-block")
"""The Llama-style block of the shared model: its parts, its parameter count, its QK circuit."""

OPERATIONS: dict[str, str] = {
    "swap_qk": "queries and keys trade places: scores become k_i . q_j instead of q_i . k_j",
    "tie_qk": "keys are the queries (k = q), so the score matrix is symmetric before the mask",
    "random_qk": "query and key projections are random (re-drawn after training; frozen when training)",
    "zero_v": "values are zero: attention moves nothing between positions",
    "identity_v": "values are the layer input itself (no value projection)",
    "shuffle_heads": "head outputs are rotated by one slot before the output projection",
    "no_residual": "both residual connections removed: x = f(x) instead of x = x + f(x)",
}
"""The operations of ``transformer-block/surgery``, in the order of the page, with a one-line description each.
All but ``random_qk`` and ``no_residual`` are [`SURGERIES`][llmkb.nn.hooks.SURGERIES] of ``llmkb.nn``;
``no_residual`` is the residual hook [`no_residual`][llmkb.nn.hooks.no_residual]; ``random_qk`` changes
parameters, not a hook: re-drawn on a copy of a trained model, frozen ([`freeze_qk`][llmkb.nn.hooks.freeze_qk])
in a model trained with it."""

EXACT = 1e-4
"""Largest difference (of attention weights, or of logits relative to their scale) the lab still reads as
"equal" when it checks an identity on a model."""

NORM_VARIANTS: list[dict[str, Any]] = [
    {"norm_position": "pre", "warmup": False},
    {"norm_position": "post", "warmup": True},
    {"norm_position": "post", "warmup": False},
    {"norm_position": "pre", "warmup": True, "residual": False},
]
"""The runs of ``transformer-block/norm`` besides its reference (pre-norm with warm-up, the depth sweep's
deepest run): each changes one thing."""


def variant_label(norm_position: str, warmup: bool, residual: bool = True) -> str:
    """The label of a run of ``transformer-block/norm``, e.g. ``"post-norm, no warm-up"``."""
    label = f"{norm_position}-norm, {'warm-up' if warmup else 'no warm-up'}"
    return label if residual else f"{label}, no residual"


REFERENCE_VARIANT = variant_label("pre", True)
"""The reference run of ``transformer-block/norm``."""
