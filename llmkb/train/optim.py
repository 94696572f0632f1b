"""AdamW with weight decay only where it regularizes: :func:`param_groups`, :func:`build_optimizer`.

Two implementations, chosen by ``TrainConfig.optimizer``: ``"torch"`` (``torch.optim.AdamW``, fused kernels,
the default) and ``"llmkb"`` (:class:`AdamW` and :func:`clip_grad_norm` written out in a few lines of tensor
ops, equal to torch's step by step, for reading the update rule).

AdamW (Loshchilov & Hutter, 2017, "Decoupled Weight Decay Regularization", arXiv:1711.05101) shrinks
each decayed weight by ``lr · λ · w`` per step, independently of the adaptive gradient step. Decay is
applied to the weight *matrices* of linear layers only. It is not applied to:

* biases and the gains of LayerNorm/RMSNorm (1-D tensors): pulling a norm's gain towards 0 fights the
  normalization instead of limiting capacity;
* embedding tables (token and learned-position embeddings, hence also a tied LM head): each row only
  receives gradient when its token occurs, so decay would steadily shrink the rows of rare tokens.

Parameters with ``requires_grad=False`` (e.g. frozen by a surgery) are left out of the optimizer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from llmkb.nn.positional import LearnedPositionalEmbedding
from llmkb.train.config import OPTIMIZERS, TrainConfig

__all__ = [
    "EMBEDDING_TYPES",
    "OPTIMIZERS",
    "AdamW",
    "build_optimizer",
    "clip_grad_norm",
    "loop_grad_clip",
    "param_groups",
]

#: Module types whose parameters are embedding tables (never decayed).
EMBEDDING_TYPES: tuple[type[nn.Module], ...] = (nn.Embedding, LearnedPositionalEmbedding)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, object]]:
    """Split trainable parameters into a decayed and a non-decayed group (see the module docstring).

    Args:
        model: The model.
        weight_decay: Decay of the first group.

    Returns:
        ``[{"params": decayed, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]``,
        each parameter appearing once even when shared (tied weights).
    """
    embedding_ids = {
        id(p) for m in model.modules() if isinstance(m, EMBEDDING_TYPES) for p in m.parameters(recurse=False)
    }
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for p in model.parameters():  # yields each shared parameter once
        if not p.requires_grad:
            continue
        if p.dim() >= 2 and id(p) not in embedding_ids:
            decay.append(p)
        else:
            no_decay.append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over :func:`param_groups` with ``cfg.betas``: torch's (fused kernels when every parameter
    allows it) or the written-out :class:`AdamW`, which then also does the clipping (``cfg.grad_clip``).

    The learning rate is set by the training loop before each step (see :func:`llmkb.train.lr_at`).
    """
    groups = param_groups(model, cfg.weight_decay)
    if cfg.optimizer == "llmkb":
        clip = cfg.grad_clip if cfg.grad_clip > 0 else None
        return AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=1e-8, max_grad_norm=clip)
    params = [p for p in model.parameters() if p.requires_grad]
    fused = bool(params) and all(
        p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params
    )
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=1e-8, fused=fused)


def clip_grad_norm(params: Iterable[nn.Parameter], max_norm: float) -> torch.Tensor:
    """Global-norm gradient clipping, written out (Pascanu et al. 2013, arXiv 1211.5063).

    ``n = sqrt(sum_p ||g_p||^2)`` over all gradients; if ``n > max_norm`` every gradient is scaled by
    ``c = max_norm / (n + 1e-6)``, so the update keeps its direction and its length is capped. Equal to
    ``torch.nn.utils.clip_grad_norm_`` (same ``1e-6``, same clamp of ``c`` at 1).

    Args:
        params: Parameters whose ``.grad`` is clipped in place (those without a gradient are skipped).
        max_norm: The cap; ``math.inf`` measures without clipping.

    Returns:
        The global norm ``n`` before clipping, a scalar tensor.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef)
    return total


class AdamW(torch.optim.Optimizer):
    """AdamW written out (Loshchilov & Hutter 2019, arXiv 1711.05101), optionally clipping first.

    For each parameter ``w`` with gradient ``g``, at step ``t`` (from 1), learning rate ``lr``, decay ``λ``::

        w ← w − lr λ w                              decoupled weight decay (not added to g)
        m ← β1 m + (1 − β1) g                      first moment
        v ← β2 v + (1 − β2) g²                     second moment
        m̂ = m / (1 − β1^t),  v̂ = v / (1 − β2^t)    bias correction (m, v start at 0)
        w ← w − lr m̂ / (sqrt(v̂) + ε)

    The step of each weight is about ``lr`` in size whatever the gradient's scale, so the ratio of update to
    weight ``||Δw|| / ||w||`` is set mostly by ``lr`` and the weight's norm. Equal to ``torch.optim.AdamW``
    (``amsgrad=False``) step by step; the state uses torch's names (``step``, ``exp_avg``, ``exp_avg_sq``).

    Args:
        params: Parameters or parameter groups (each group may set ``lr`` and ``weight_decay``).
        lr: Learning rate.
        betas: ``(β1, β2)``.
        eps: ``ε``, added to ``sqrt(v̂)``.
        weight_decay: ``λ``.
        max_grad_norm: If set, :func:`clip_grad_norm` over all parameters before the update; the norm
            before clipping is kept in ``last_grad_norm``.
    """

    def __init__(
        self,
        params: Iterable[nn.Parameter] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        max_grad_norm: float | None = None,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)
        self.max_grad_norm = max_grad_norm
        self.last_grad_norm: torch.Tensor | None = None

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One update of every parameter that has a gradient (see the class docstring)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self.max_grad_norm is not None:
            params = [p for group in self.param_groups for p in group["params"]]
            self.last_grad_norm = clip_grad_norm(params, self.max_grad_norm)
        for group in self.param_groups:
            lr, (beta1, beta2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = float(state["step"])
                m, v, g = state["exp_avg"], state["exp_avg_sq"], p.grad
                p.mul_(1 - lr * decay)
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denom = (v.sqrt() / math.sqrt(1 - beta2**t)).add_(eps)
                p.addcdiv_(m, denom, value=-lr / (1 - beta1**t))
        return loss


def loop_grad_clip(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> float:
    """The cap the training step clips to: ``cfg.grad_clip`` for torch's optimizer; ``0`` (measure only) for
    :class:`AdamW`, which clips inside its own step."""
    return 0.0 if isinstance(optimizer, AdamW) else cfg.grad_clip
