"""LoRA: low-rank adapters on a frozen model, added through forward hooks and merged back into the weights.

For a target linear layer ``y = x W^T (+ b)`` with ``W`` of shape ``(d_out, d_in)``, LoRA trains two small
matrices ``A (r, d_in)`` and ``B (d_out, r)`` and computes

    y = x W^T + (alpha / r) x A^T B^T,

with ``W`` frozen, ``A`` random and ``B = 0`` at the start (so the adapted model starts as the base model).
Trainable parameters per target: ``r (d_in + d_out)`` instead of ``d_in d_out``. Merging folds the update in:
``W <- W + (alpha / r) B A``, after which the model runs at its original cost (Hu et al. 2021,
"LoRA: Low-Rank Adaptation of Large Language Models", arXiv:2106.09685).

The adapter never touches the model's attributes: it registers a forward hook on each target
``nn.Linear`` (``module.register_forward_hook``) that adds the low-rank term to the module's output, and
removing the hooks restores the base model exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn

__all__ = ["DEFAULT_TARGETS", "LoRA", "adam_state_bytes", "trainable_parameters"]

#: Attention projections, as in Hu et al. (their best budget split adapts W_q and W_v; all four here).
DEFAULT_TARGETS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")


def trainable_parameters(params: Iterator[nn.Parameter] | Sequence[nn.Parameter]) -> int:
    """Number of elements of the parameters that require a gradient."""
    return sum(p.numel() for p in params if p.requires_grad)


def adam_state_bytes(n_trainable: int, bytes_per_value: int = 4) -> int:
    """Optimizer memory of Adam/AdamW: two moments per trainable value (``2 n b`` bytes), gradients not counted."""
    return 2 * n_trainable * bytes_per_value


class LoRA(nn.Module):
    """Low-rank adapters for every ``nn.Linear`` of ``model`` whose name ends with one of ``targets``.

    Args:
        model: the base model (its parameters are left as they are; call :meth:`freeze_base` to freeze).
        rank: ``r``.
        alpha: scale numerator; the update is multiplied by ``alpha / r``.
        targets: module-name suffixes to adapt (default: the four attention projections).
        seed: seeds the Kaiming-uniform draw of ``A``.

    Raises:
        ValueError: ``rank < 1`` or no module matches ``targets``.
    """

    def __init__(
        self,
        model: nn.Module,
        rank: int = 4,
        alpha: float = 8.0,
        targets: Sequence[str] = DEFAULT_TARGETS,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(f"rank must be >= 1, got {rank}")
        self.rank, self.alpha, self.scale = rank, float(alpha), float(alpha) / rank
        self._model = [model]  # a list, so the base model is not registered as a submodule
        self.names = [
            n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.endswith(tuple(targets))
        ]
        if not self.names:
            raise ValueError(f"no nn.Linear module name ends with any of {list(targets)}")
        g = torch.Generator().manual_seed(seed)
        self.A = nn.ParameterDict()
        self.B = nn.ParameterDict()
        modules = dict(model.named_modules())
        for name in self.names:
            w = modules[name].weight  # (d_out, d_in)
            bound = 1.0 / math.sqrt(w.shape[1])  # kaiming_uniform(a=sqrt(5)) of a (r, d_in) matrix
            a = (torch.rand(rank, w.shape[1], generator=g) * 2 - 1) * bound
            self.A[self._key(name)] = nn.Parameter(a.to(w))  # (r, d_in)
            self.B[self._key(name)] = nn.Parameter(torch.zeros(w.shape[0], rank).to(w))  # (d_out, r)
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    @staticmethod
    def _key(name: str) -> str:
        return name.replace(".", "__")

    @property
    def attached(self) -> bool:
        """Whether the hooks are installed."""
        return bool(self._handles)

    def delta(self, name: str) -> Tensor:
        """The weight update ``(alpha / r) B A`` of target ``name``, shape ``(d_out, d_in)``."""
        return self.scale * self.B[self._key(name)] @ self.A[self._key(name)]

    def _hook(self, name: str):
        A, B = self.A[self._key(name)], self.B[self._key(name)]

        def add_update(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> Tensor:
            x = inputs[0]  # (..., d_in)
            return output + self.scale * (x @ A.t()) @ B.t()  # (..., d_out)

        return add_update

    def attach(self) -> LoRA:
        """Install the hooks (idempotent); the model then computes the adapted function."""
        if not self._handles:
            modules = dict(self._model[0].named_modules())
            self._handles = [modules[n].register_forward_hook(self._hook(n)) for n in self.names]
        return self

    def detach(self) -> None:
        """Remove the hooks: the model computes the base function again."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def freeze_base(self) -> int:
        """Set ``requires_grad = False`` on every base parameter; returns how many values were frozen."""
        n = 0
        for p in self._model[0].parameters():
            p.requires_grad_(False)
            n += p.numel()
        return n

    def __enter__(self) -> LoRA:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    @torch.no_grad()
    def merge(self) -> None:
        """Fold every update into its weight in place (``W += (alpha/r) B A``) and remove the hooks.

        The model then computes the adapted function with no adapter; merging twice would add twice, so the
        adapter is spent: further calls raise.
        """
        if getattr(self, "_merged", False):
            raise RuntimeError("this adapter was already merged into the model")
        modules = dict(self._model[0].named_modules())
        self.detach()
        for name in self.names:
            modules[name].weight.add_(self.delta(name))
        self._merged = True
