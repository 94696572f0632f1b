"""The names of the positional-embeddings lab: its topic, experiments, variants, labels and colours."""

from __future__ import annotations

from pathlib import Path

from llmkb.lab.topic import Topic
from llmkb.nn import POSITIONAL

TOPIC = Topic("positional-embeddings")
COMPARE = TOPIC.name("compare")
EXTRAPOLATION = TOPIC.name("extrapolation")
ANIMATION = TOPIC.name("animation")
ABLATION = TOPIC.name("ablation")

VARIANTS: tuple[str, ...] = ("none", "sinusoidal", "learned", "rope", "alibi")
"""The positional schemes trained in ``compare``, in the order tables and plots use."""

RESCALED: tuple[str, ...] = ("rope-pi", "rope-ntk")
"""RoPE checkpoints run with rescaled angles in ``extrapolation`` (no retraining): position interpolation
(the ``rope-pi`` scheme) and an NTK-aware base (plain ``rope`` with a larger ``rope_base``)."""

EXTRAPOLATED: tuple[str, ...] = ("none", "sinusoidal", "learned", "rope", *RESCALED, "alibi")
"""The rows of the extrapolation table and the curves of its figure."""

LABELS: dict[str, str] = {"rope-pi": "rope + PI", "rope-ntk": "rope + NTK"}
"""Display names where they differ from the id."""

COLORS: dict[str, str] = {
    "none": "#5f6368",
    "sinusoidal": "#3f51b5",
    "learned": "#e8710a",
    "rope": "#12b5cb",
    "rope-pi": "#0b5563",
    "rope-ntk": "#7cb342",
    "alibi": "#d01884",
}
"""One colour per curve, the same in every figure of the page."""

assert set(VARIANTS) | set(RESCALED) == set(POSITIONAL), (
    "every GPTConfig.positional value must be trained in compare or evaluated in extrapolation"
)


def label(variant: str) -> str:
    """The display name of ``variant`` (``rope-pi`` → ``rope + PI``)."""
    return LABELS.get(variant, variant)


def checkpoint_dir(root: Path, variant: str, seed: int) -> Path:
    """Where ``compare`` keeps the checkpoint of one variant and seed, under its result directory."""
    return Path(root) / "models" / f"{variant}-seed{seed}"
