"""Ablation hooks: change what a model computes for the length of a ``with`` block, never its parameters.

[`GPT.hooks`][llmkb.nn.GPT.hooks] installs a [`Hooks`][llmkb.nn.hooks.Hooks] and always restores the previous
one on exit (exceptions included); hooks are plain Python state, so they are never saved with a checkpoint.
The four hook points, in the order one block meets them:

* ``qkv(q (B, H, T, D), k (B, H_kv, T, D), v (B, H_kv, T, D), x (B, T, d)) -> (q, k, v)`` — in every
  attention layer after the projections, before RoPE and the KV cache (``x`` is the layer input);
* ``heads(y (B, H, T, D)) -> y`` — the per-head attention outputs, before the output projection;
* ``residual(x, h) -> x`` — how a sublayer output ``h`` joins the stream ``x`` (default ``x + h``; with
  post-norm the result is then normalized);
* ``positional: bool`` — ``False`` runs the model with no positional signal at all (no added table, no
  rotation, no score bias; the causal mask and the token-embedding scale stay).

[`SURGERIES`][llmkb.nn.hooks.SURGERIES] names the Q/K/V operations of the transformer-block page; each
factory returns keyword arguments for ``GPT.hooks``, so a trained checkpoint is operated on with
``with model.hooks(**surgery("swap_qk")): ...``. Freezing Q/K for training is not a hook but a change of
``requires_grad``: [`freeze_qk`][llmkb.nn.hooks.freeze_qk]. A new ablation is one more factory and one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "Hooks",
    "NO_HOOKS",
    "QKVHook",
    "HeadsHook",
    "ResidualHook",
    "SURGERIES",
    "surgery",
    "no_residual",
    "freeze_qk",
]

QKVHook = Callable[[Tensor, Tensor, Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]
"""``(q, k, v, x) -> (q, k, v)``; shapes in the module docstring."""
HeadsHook = Callable[[Tensor], Tensor]
"""``y (B, H, T, D) -> y``, the per-head attention outputs."""
ResidualHook = Callable[[Tensor, Tensor], Tensor]
"""``(x, h) -> x``: the stream after a sublayer, from the stream ``x`` and the sublayer output ``h``."""


@dataclass(frozen=True)
class Hooks:
    """The hooks in force during one forward pass; the defaults change nothing.

    Attributes:
        qkv: rewrites queries, keys and values, or ``None``.
        heads: rewrites the per-head outputs, or ``None``.
        residual: joins a sublayer output to the stream, or ``None`` for ``x + h``.
        positional: ``False`` removes every positional signal.
    """

    qkv: QKVHook | None = None
    heads: HeadsHook | None = None
    residual: ResidualHook | None = None
    positional: bool = True


NO_HOOKS = Hooks()
"""No hook: the model as built."""


def no_residual(x: Tensor, h: Tensor) -> Tensor:
    """Residual hook that drops the stream: ``x = f(x)`` instead of ``x = x + f(x)``."""
    return h


def _same_heads(name: str, q: Tensor, kv: Tensor) -> None:
    if q.shape != kv.shape:
        raise ValueError(f"{name} needs n_kv_heads == n_heads (no grouped-query), got q {tuple(q.shape)}")


def _swap_qk(q: Tensor, k: Tensor, v: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    _same_heads("swap_qk", q, k)
    return k, q, v


def _tie_qk(q: Tensor, k: Tensor, v: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    _same_heads("tie_qk", q, k)
    return q, q, v


def _zero_v(q: Tensor, k: Tensor, v: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return q, k, torch.zeros_like(v)


def _identity_v(q: Tensor, k: Tensor, v: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    _same_heads("identity_v", q, v)
    B, H, T, D = v.shape
    return q, k, x.view(B, T, H, D).transpose(1, 2)  # the layer input split into heads, (B, H, T, D)


def _shuffle_heads(y: Tensor) -> Tensor:
    return torch.roll(y, shifts=1, dims=1)  # head h now sits in slot h+1


SURGERIES: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "swap_qk": ("queries from W_k and keys from W_q: scores k_i . q_j", lambda: {"qkv": _swap_qk}),
    "tie_qk": ("keys are the queries (k = q): symmetric scores before the mask", lambda: {"qkv": _tie_qk}),
    "zero_v": ("values are zero: attention moves nothing between positions", lambda: {"qkv": _zero_v}),
    "identity_v": ("values are the layer input split into heads (no W_v)", lambda: {"qkv": _identity_v}),
    "shuffle_heads": ("head outputs move one slot, h -> h+1 mod H", lambda: {"heads": _shuffle_heads}),
}
"""Q/K/V surgeries: ``name -> (one-line description, factory of GPT.hooks keyword arguments)``."""


def surgery(name: str) -> dict[str, Any]:
    """Keyword arguments of ``GPT.hooks`` for the surgery ``name`` (a key of ``SURGERIES``).

    Raises:
        ValueError: unknown name.
    """
    if name not in SURGERIES:
        raise ValueError(f"unknown surgery {name!r}; choose one of: {', '.join(SURGERIES)}")
    return SURGERIES[name][1]()


def freeze_qk(model: nn.Module, frozen: bool = True) -> int:
    """Set ``requires_grad = not frozen`` on every query and key projection of ``model`` (Q/K keep their
    current values while the rest trains; the optimizer skips frozen parameters).

    Returns:
        The number of parameters changed.
    """
    count = 0
    for name, p in model.named_parameters():
        if ".q_proj." in f".{name}" or ".k_proj." in f".{name}":
            p.requires_grad_(not frozen)
            count += p.numel()
    return count
