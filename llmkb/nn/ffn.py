"""Position-wise feed-forward networks: the MLP with GELU, ReLU or SiLU, and the gated SwiGLU and GeGLU.

``GPTConfig.activation`` names an entry of [`FFNS`][llmkb.nn.ffn.FFNS]. Protocol: an entry is built as
``FFNS[name](d_model, d_ff, bias=bias, dropout=dropout)``, maps ``(B, T, d_model)`` to the same shape, and
its class method ``default_width(d_model)`` gives the hidden width used when ``GPTConfig.d_ff`` is ``None``.
A new feed-forward network (a mixture of experts, another gated unit) or a new activation of the MLP (a
subclass of ``FeedForward`` that sets ``activation``) is one class plus one entry in ``FFNS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = [
    "FFNS",
    "GELU",
    "ExactGELUFeedForward",
    "FeedForward",
    "GeGLU",
    "ReLUFeedForward",
    "SiLUFeedForward",
    "SwiGLU",
]


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
    """Two-layer MLP ``W2 act(W1 x + b1) + b2`` (Vaswani et al. 2017, arXiv 1706.03762, eq. 2), GELU as GPT-2.

    A variant with another activation is a subclass that sets ``activation`` (see ``ReLUFeedForward``).

    Args:
        d_model: input/output width.
        d_ff: hidden width.
        bias: biases on both linear layers.
        dropout: dropout on the output (the residual branch).
    """

    activation: Callable[[], nn.Module] = GELU
    """Builds the element-wise non-linearity (GELU with the tanh approximation here)."""

    def __init__(self, d_model: int, d_ff: int, bias: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.up = nn.Linear(d_model, d_ff, bias=bias)
        self.act = type(self).activation()
        self.down = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def default_width(cls, d_model: int) -> int:
        """Hidden width ``4 * d_model`` (Vaswani et al. 2017; GPT-2)."""
        return 4 * d_model

    def forward(self, x: Tensor) -> Tensor:
        """``(B, T, d_model) -> (B, T, d_model)``."""
        return self.dropout(self.down(self.act(self.up(x))))  # (B, T, d_ff) inside


class ReLUFeedForward(FeedForward):
    """The same MLP with ``ReLU(z) = max(z, 0)``, the activation of the original Transformer."""

    activation = nn.ReLU


class ExactGELUFeedForward(FeedForward):
    """The same MLP with the exact GELU ``z Phi(z)`` (erf), as BERT's reference code and ``torch.nn.GELU()``."""

    activation = staticmethod(lambda: GELU("none"))


class SiLUFeedForward(FeedForward):
    """The same MLP with ``SiLU(z) = z * sigmoid(z)`` (Swish-1; Elfwing et al. 2017, Ramachandran et al. 2017),
    the activation SwiGLU gates with, here without the gate."""

    activation = nn.SiLU


class SwiGLU(nn.Module):
    """Gated feed-forward ``W_down (SiLU(W_gate x) * (W_up x))`` (Shazeer 2020, arXiv 2002.05202).

    ``SiLU(z) = z * sigmoid(z)`` (Swish with beta = 1). The gate branch goes through the non-linearity, the up
    branch stays linear, and their element-wise product lets each hidden unit scale its own value by a learned,
    input-dependent factor (a bilinear term ``(w_g . x)(w_u . x)`` near zero). Three matrices instead of two,
    so the hidden width is ``2/3 * 4 d`` to keep the parameter count of a ``4 d`` MLP (Llama, Touvron et al.
    2023). Numerically equal to ``transformers``' ``LlamaMLP`` with the same weights.

    A gated variant with another non-linearity is a subclass that sets ``gate_activation`` (see ``GeGLU``).

    Args:
        d_model: input/output width.
        d_ff: hidden width.
        bias: biases on the three linear layers.
        dropout: dropout on the output.
    """

    gated = True
    """Three matrices (gate, up, down) instead of two: ``count_parameters`` reads this."""

    @staticmethod
    def gate_activation(z: Tensor) -> Tensor:
        """The non-linearity of the gate branch, ``SiLU(z) = z * sigmoid(z)``."""
        return nn.functional.silu(z)

    def __init__(self, d_model: int, d_ff: int, bias: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.gate = nn.Linear(d_model, d_ff, bias=bias)
        self.up = nn.Linear(d_model, d_ff, bias=bias)
        self.down = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def default_width(cls, d_model: int) -> int:
        """``2/3 * 4 * d_model`` rounded up to a multiple of 8: the parameter count of a ``4 d`` MLP."""
        return int(math.ceil(8 * d_model / 3 / 8) * 8)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, T, d_model) -> (B, T, d_model)``."""
        hidden = self.gate_activation(self.gate(x)) * self.up(x)  # (B, T, d_ff)
        return self.dropout(self.down(hidden))


class GeGLU(SwiGLU):
    """Gated feed-forward with GELU on the gate, ``W_down (GELU(W_gate x) * (W_up x))`` (Shazeer 2020).

    The exact (erf) GELU, as in T5 v1.1's "gated-gelu" reference; same shapes and width rule as ``SwiGLU``.
    """

    @staticmethod
    def gate_activation(z: Tensor) -> Tensor:
        """The non-linearity of the gate branch, the exact ``GELU(z) = z Phi(z)``."""
        return nn.functional.gelu(z)


FFNS: dict[str, type[nn.Module]] = {
    "gelu": FeedForward,
    "gelu-tanh": FeedForward,
    "gelu-exact": ExactGELUFeedForward,
    "relu": ReLUFeedForward,
    "silu": SiLUFeedForward,
    "swiglu": SwiGLU,
    "geglu": GeGLU,
}
"""Feed-forward networks by ``GPTConfig.activation`` name (protocol in the module docstring)."""
