"""Training curves of a run, as arrays a result can store and a figure can draw."""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["curves"]


class _Run(Protocol):
    def series(self, name: str) -> tuple[list[int], list[float]]: ...


def curves(result: _Run) -> dict[str, np.ndarray]:
    """``steps``/``train_loss`` and ``val_steps``/``val_loss`` of a :class:`~llmkb.train.TrainResult`."""
    steps, train_loss = result.series("train_loss")
    val_steps, val_loss = result.series("val_loss")
    return {
        "steps": np.asarray(steps, dtype=np.int64),
        "train_loss": np.asarray(train_loss, dtype=np.float64),
        "val_steps": np.asarray(val_steps, dtype=np.int64),
        "val_loss": np.asarray(val_loss, dtype=np.float64),
    }
