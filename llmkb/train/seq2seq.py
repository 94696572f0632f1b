"""Teacher-forced training of sequence-to-sequence models (transformer, decoder-only, GRU alike).

Loss: the mean next-token cross-entropy over the real target positions (``y EOS``; padding is ``-100``),

    L = -(1/N) sum_(n,t) log p(y_(n,t) | y_(n,<t), x_n),

minimized with AdamW (weight decay on the weight matrices only, :func:`llmkb.train.optim.param_groups`), a linear warm-up then cosine decay to ``min_lr``, and gradient clipping at 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from llmkb.train.optim import param_groups

__all__ = ["Seq2SeqTrainConfig", "train_seq2seq", "seq2seq_loss"]


@dataclass(frozen=True)
class Seq2SeqTrainConfig:
    """Optimisation settings of [`train_seq2seq`][llmkb.train.seq2seq.train_seq2seq]."""

    steps: int = 300
    batch_size: int = 32
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup_steps: int = 20
    weight_decay: float = 0.01
    seed: int = 0


def seq2seq_loss(model: nn.Module, src: Tensor, src_mask: Tensor, tgt_in: Tensor, tgt_out: Tensor) -> Tensor:
    """Mean cross-entropy of ``model(src, src_mask, tgt_in)`` ``(B, T, V)`` against ``tgt_out`` ``(B, T)``."""
    logits = model(src, src_mask, tgt_in)  # (B, T, V)
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), tgt_out.reshape(-1), ignore_index=-100
    )


def _trim(src: Tensor, src_mask: Tensor, tgt_in: Tensor, tgt_out: Tensor) -> tuple[Tensor, ...]:
    """Drop the padding columns that no row of the batch uses."""
    S = int(src_mask.sum(1).max())
    T = int((tgt_out != -100).sum(1).max())
    return src[:, :S], src_mask[:, :S], tgt_in[:, :T], tgt_out[:, :T]


def train_seq2seq(
    model: nn.Module, data: tuple[Tensor, Tensor, Tensor, Tensor], cfg: Seq2SeqTrainConfig
) -> list[float]:
    """Train ``model`` on random batches of ``data = (src, src_mask, tgt_in, tgt_out)`` (from
    [`encode_pairs`][llmkb.data.seq2seq_tasks.encode_pairs]).

    Returns:
        The training loss of every step.
    """
    g = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr)
    N = data[0].shape[0]
    losses = []
    model.train()
    for step in range(cfg.steps):
        if step < cfg.warmup_steps:
            lr = cfg.lr * (step + 1) / cfg.warmup_steps
        else:
            frac = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
            lr = cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * frac))
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.randint(0, N, (cfg.batch_size,), generator=g)
        loss = seq2seq_loss(model, *_trim(*(t[idx] for t in data)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses
