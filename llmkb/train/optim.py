"""AdamW with weight decay only where it regularizes: :func:`param_groups`, :func:`build_optimizer`.

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

import torch
from torch import nn

from llmkb.nn.positional import LearnedPositionalEmbedding
from llmkb.train.config import TrainConfig

__all__ = ["EMBEDDING_TYPES", "build_optimizer", "param_groups"]

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


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups` with ``cfg.betas``; fused kernels when every parameter allows it.

    The learning rate is set by the training loop before each step (see :func:`llmkb.train.lr_at`).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    fused = bool(params) and all(
        p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params
    )
    return torch.optim.AdamW(
        param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas, eps=1e-8, fused=fused
    )
