"""Position-wise feed-forward networks: the MLP with GELU or ReLU, and the gated SwiGLU variant."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["GELU", "FeedForward", "SwiGLU", "make_ffn"]


class GELU(nn.Module):
    """Gaussian error linear unit (Hendrycks & Gimpel 2016, arXiv 1606.08415).

    Exact: ``GELU(x) = x * Phi(x) = x/2 * (1 + erf(x / sqrt(2)))``.
    Tanh approximation (used by BERT and GPT-2):
    ``x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))``.

    Args:
        approximate: ``"none"`` (erf) or ``"tanh"``, the same names as ``torch.nn.GELU``.
    """

    def __init__(self, approximate: str = "tanh") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        """Apply element-wise (fused kernel); same shape as ``x``."""
        return nn.functional.gelu(x, approximate=self.approximate)

    def reference(self, x: Tensor) -> Tensor:
        """The formula spelled out in tensor ops (slower; for teaching and tests)."""
        if self.approximate == "tanh":
            inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1.0 + torch.tanh(inner))
        return 0.5 * x * (1.0 + torch.erf(x * (1.0 / math.sqrt(2.0))))


class FeedForward(nn.Module):
    """Two-layer MLP ``W2 act(W1 x + b1) + b2`` (Vaswani et al. 2017, arXiv 1706.03762, eq. 2).

    Args:
        d_model: input/output width.
        d_ff: hidden width.
        activation: ``gelu`` (tanh approximation) or ``relu``.
        bias: biases on both linear layers.
        dropout: dropout on the output (the residual branch).
    """

    def __init__(
        self, d_model: int, d_ff: int, activation: str = "gelu", bias: bool = True, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if activation not in ("gelu", "relu"):
            raise ValueError(f"FeedForward activation must be gelu|relu, got {activation!r}")
        self.up = nn.Linear(d_model, d_ff, bias=bias)
        self.act: nn.Module = GELU("tanh") if activation == "gelu" else nn.ReLU()
        self.down = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, T, d_model) -> (B, T, d_model)``."""
        return self.dropout(self.down(self.act(self.up(x))))  # (B, T, d_ff) inside


class SwiGLU(nn.Module):
    """Gated feed-forward ``W_down (SiLU(W_gate x) * (W_up x))`` (Shazeer 2020, arXiv 2002.05202).

    ``SiLU(z) = z * sigmoid(z)`` (Swish with beta = 1). Three matrices instead of two, so the hidden width is
    usually ``2/3 * 4 d`` to keep the parameter count of a ``4 d`` MLP (Llama, Touvron et al. 2023).

    Args:
        d_model: input/output width.
        d_ff: hidden width.
        bias: biases on the three linear layers.
        dropout: dropout on the output.
    """

    def __init__(self, d_model: int, d_ff: int, bias: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.gate = nn.Linear(d_model, d_ff, bias=bias)
        self.up = nn.Linear(d_model, d_ff, bias=bias)
        self.down = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, T, d_model) -> (B, T, d_model)``."""
        hidden = nn.functional.silu(self.gate(x)) * self.up(x)  # (B, T, d_ff)
        return self.dropout(self.down(hidden))


def make_ffn(activation: str, d_model: int, d_ff: int, bias: bool, dropout: float) -> nn.Module:
    """Build the feed-forward module for ``activation`` (``gelu|relu|swiglu``)."""
    if activation == "swiglu":
        return SwiGLU(d_model, d_ff, bias=bias, dropout=dropout)
    return FeedForward(d_model, d_ff, activation=activation, bias=bias, dropout=dropout)
