"""``GPTConfig`` and ``TrainConfig`` from an experiment config, in one layout for every topic.

An experiment config that trains models keeps the model's fields under ``"model"`` and the training fields
under ``"train"``; everything else (sizes of evaluations, seeds of data, variants) sits beside them::

    {"model": {"d_model": 64, "n_layers": 2, "n_heads": 4},
     "train": {"steps": 300, "batch_size": 16, "lr": 3e-3, ...},
     "n_windows": 64}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmkb.nn import GPTConfig
from llmkb.train.config import TrainConfig

__all__ = ["model_config", "train_config"]


def model_config(cfg: Mapping[str, Any], **overrides: Any) -> GPTConfig:
    """The :class:`~llmkb.nn.GPTConfig` of ``cfg["model"]`` with ``overrides`` (e.g. ``vocab_size``) applied.

    Raises:
        KeyError: ``cfg`` has no ``"model"`` part.
        ValueError: a field is unknown or invalid (the config's own one-line message).
    """
    if "model" not in cfg:
        raise KeyError("the experiment config has no 'model' part; put GPTConfig fields under cfg['model']")
    return GPTConfig.from_dict({**cfg["model"], **overrides})


def train_config(cfg: Mapping[str, Any], **overrides: Any) -> TrainConfig:
    """The :class:`~llmkb.train.TrainConfig` of ``cfg["train"]`` with ``overrides`` applied.

    Raises:
        KeyError: ``cfg`` has no ``"train"`` part.
    """
    if "train" not in cfg:
        raise KeyError("the experiment config has no 'train' part; put TrainConfig fields under cfg['train']")
    return TrainConfig(**{**cfg["train"], **overrides})
