"""Train one model on one pretraining objective (:mod:`llmkb.data.objectives`) and record its learning curve.

Training is the main trainer, :func:`llmkb.train.train`, given an
:class:`~llmkb.data.objectives.ObjectiveData`: the same optimizer, schedule, clipping and evaluation as every
other run, with the objective's batches and attention mask. This module only reads the curve off the
history and adds the untrained model's loss as its first point.

Each evaluation scores the objective's own loss on the same held-out batches (the trainer re-seeds its
validation generator), and the curve counts **tokens seen** (input positions, ``B * T`` per step for every
objective) and **tokens predicted** (positions with a loss: all for CLM, ~15 % for MLM, the continuation for
prefix LM).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from llmkb.data.objectives import ObjectiveData
from llmkb.nn.model import GPT
from llmkb.train.config import TrainConfig
from llmkb.train.loop import TrainResult, derive_seed, train

__all__ = ["Curve", "curve_of", "eval_objective", "train_objective"]


@dataclass
class Curve:
    """Learning curve: one entry per evaluation."""

    step: list[int] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)
    predicted: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)


@torch.no_grad()
def eval_objective(model: GPT, data: ObjectiveData, cfg: TrainConfig) -> float:
    """Mean held-out loss of ``data``'s objective on the batches the trainer evaluates on.

    The batches are ``cfg.eval_batches`` validation batches drawn from a generator seeded with
    ``derive_seed(cfg.seed, "val")``, as in :func:`llmkb.train.train`, so the value before training is the
    first point of the same curve.
    """
    was = model.training
    model.eval()
    g = torch.Generator().manual_seed(derive_seed(cfg.seed, "val"))
    losses = []
    for _ in range(cfg.eval_batches):
        b = data.val_batch(cfg.batch_size, g)
        losses.append(model(b.x, b.y, attn_mask=b.attn_mask).loss.float())  # type: ignore[union-attr]
    model.train(was)
    return torch.stack(losses).mean().item()


def curve_of(result: TrainResult, initial_loss: float) -> Curve:
    """The learning curve of a run on :class:`ObjectiveData`: step 0 (``initial_loss``), then each evaluation.

    Tokens seen are ``batch_size * seq_len`` per step; tokens predicted add up the history's ``predicted``.
    """
    cfg = result.train_config
    curve = Curve([0], [0], [0], [initial_loss])
    predicted = 0
    for record in result.history:
        predicted += record["predicted"]
        if record["val_loss"] is not None:
            curve.step.append(record["step"])
            curve.seen.append(record["step"] * cfg.batch_size * cfg.seq_len)
            curve.predicted.append(predicted)
            curve.val_loss.append(record["val_loss"])
    return curve


def train_objective(model: GPT, data: ObjectiveData, cfg: TrainConfig) -> Curve:
    """Train ``model`` in place with :func:`llmkb.train.train` on ``data``'s objective; return its curve.

    Args:
        model: a fresh model whose vocabulary includes ``[MASK]`` when the objective is MLM.
        data: the objective and its streams (the same streams and weights for every objective compared).
        cfg: batch size, sequence length, steps, learning rate and schedule, evaluation cadence, seed.

    Returns:
        The :class:`Curve` (the first point is the untrained model at step 0).
    """
    initial = eval_objective(model, data, cfg)
    result = train(model, cfg, data, progress=False)
    result.model.eval()
    return curve_of(result, initial)
