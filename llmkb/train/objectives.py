"""Train one model on one pretraining objective (:mod:`llmkb.data.objectives`) and record its learning curve.

The main trainer (:func:`llmkb.train.train`) draws next-token pairs and never passes an attention mask; this
small loop draws windows, turns them into a :class:`~llmkb.data.objectives.Batch` of the chosen objective
and calls ``model(x, y, attn_mask=...)``. Same optimizer (:func:`~llmkb.train.optim.build_optimizer`) and
schedule (:func:`~llmkb.train.lr_at`) as the trainer, so objectives differ only in their batches.

Each evaluation scores the objective's own loss on the same held-out batches (the generator is re-seeded),
and the curve counts **tokens seen** (input positions, ``B * T`` per step for every objective) and **tokens
predicted** (positions with a loss: all for CLM, ~15 % for MLM, the continuation for prefix LM).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from llmkb.data.batching import get_batch
from llmkb.data.objectives import Batch, make_batch
from llmkb.nn.model import GPT
from llmkb.train.config import TrainConfig
from llmkb.train.optim import build_optimizer, clip_grad_norm
from llmkb.train.schedule import lr_at

__all__ = ["Curve", "eval_objective", "train_objective"]


@dataclass
class Curve:
    """Learning curve: one entry per evaluation."""

    step: list[int] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)
    predicted: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)


def _windows(ids: Tensor, batch_size: int, seq_len: int, g: torch.Generator) -> Tensor:
    x, y = get_batch(ids, batch_size, seq_len, g)  # (B, T), (B, T)
    return torch.cat([x, y[:, -1:]], dim=1)  # (B, T + 1)


def _loss(model: GPT, b: Batch) -> Tensor:
    return model(b.x, b.y, attn_mask=b.attn_mask).loss  # type: ignore[return-value]


@torch.no_grad()
def eval_objective(model: GPT, objective: str, ids: Tensor, cfg: TrainConfig, seed: int = 1234) -> float:
    """Mean loss of ``objective`` over ``cfg.eval_batches`` held-out batches drawn with a fixed seed."""
    was = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    losses = [
        float(_loss(model, make_batch(objective, _windows(ids, cfg.batch_size, cfg.seq_len, g), g)))
        for _ in range(cfg.eval_batches)
    ]
    model.train(was)
    return sum(losses) / len(losses)


def train_objective(
    model: GPT, objective: str, train_ids: Tensor, val_ids: Tensor, cfg: TrainConfig
) -> Curve:
    """Train ``model`` in place for ``cfg.steps`` steps of ``objective``; evaluate every ``cfg.eval_every``.

    Args:
        model: a fresh model whose vocabulary includes ``[MASK]`` when the objective is MLM.
        objective: a key of :data:`~llmkb.data.objectives.OBJECTIVES`.
        train_ids: training token ids ``(N,)``.
        val_ids: held-out token ids ``(M,)``.
        cfg: batch size, sequence length, steps, learning rate and schedule, evaluation cadence, seed.

    Returns:
        The :class:`Curve` (the first point is the untrained model at step 0).
    """
    g = torch.Generator().manual_seed(cfg.seed)
    opt = build_optimizer(model, cfg)
    curve = Curve()
    seen = predicted = 0

    def record(step: int) -> None:
        curve.step.append(step)
        curve.seen.append(seen)
        curve.predicted.append(predicted)
        curve.val_loss.append(eval_objective(model, objective, val_ids, cfg))

    model.train()
    record(0)
    for step in range(1, cfg.steps + 1):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        b = make_batch(objective, _windows(train_ids, cfg.batch_size, cfg.seq_len, g), g)
        loss = _loss(model, b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0 and cfg.optimizer == "torch":  # the llmkb AdamW clips itself
            clip_grad_norm(model.parameters(), cfg.grad_clip)
        opt.step()
        seen += b.seen
        predicted += b.predicted
        if step % cfg.eval_every == 0 or step == cfg.steps:
            record(step)
    model.eval()
    return curve
