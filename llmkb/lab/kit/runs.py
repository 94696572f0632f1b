"""Training curves of a run, as arrays a result can store and a figure can draw; the facts of a seeded training
config that pages quote."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from llmkb.lab.kit.phrases import plural

__all__ = ["curves", "training_facts"]


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


def training_facts(cfg: dict[str, Any]) -> dict[str, Any]:
    """What a page says about an experiment that trains ``cfg["train"]`` once per seed of ``cfg["seeds"]``:
    ``seeds`` (how many), ``seeds_text`` ("3 seeds"), ``steps`` and ``tokens_seen`` (steps × batch × length)."""
    t = cfg["train"]
    return {
        "seeds": len(cfg["seeds"]),
        "seeds_text": plural(len(cfg["seeds"]), "seed"),
        "steps": t["steps"],
        "tokens_seen": t["steps"] * t["batch_size"] * t["seq_len"],
    }
