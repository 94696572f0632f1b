"""Normalization layers: LayerNorm, RMSNorm and (for ablations) none, written out so the formulas are visible.

``GPTConfig.norm`` names an entry of [`NORMS`][llmkb.nn.norm.NORMS]; every entry is built as
``NORMS[name](dim, eps=eps, bias=bias)`` and maps ``(..., dim)`` to the same shape. A new normalization is
one class with that constructor plus one entry in ``NORMS``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["NORMS", "LayerNorm", "NoNorm", "RMSNorm"]


class LayerNorm(nn.Module):
    """Layer normalization (Ba, Kiros & Hinton 2016, arXiv 1607.06450).

    ``y = (x - mean(x)) / sqrt(var(x) + eps) * gamma + beta`` over the last dimension, with the biased
    (population) variance. Numerically equal to ``torch.nn.LayerNorm``.

    Args:
        dim: size of the normalized (last) dimension.
        eps: added to the variance.
        bias: learn ``beta`` (``False`` gives the bias-free variant used by some modern models).
    """

    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))  # gamma
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None  # beta

    def forward(self, x: Tensor) -> Tensor:
        """Normalize ``x`` ``(..., dim)``; returns the same shape."""
        # The fused kernel computes exactly the formula above; the test checks it against the explicit form.
        return nn.functional.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)

    def reference(self, x: Tensor) -> Tensor:
        """The formula spelled out in tensor ops (slower; for teaching and tests)."""
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # (..., 1)
        y = (x - mean) * torch.rsqrt(var + self.eps) * self.weight
        return y + self.bias if self.bias is not None else y


class RMSNorm(nn.Module):
    """Root-mean-square normalization (Zhang & Sennrich 2019, arXiv 1910.07467).

    ``y = x / sqrt(mean(x^2) + eps) * gamma``: no centering and no bias, so it is cheaper than LayerNorm
    and, in practice, as good (used by T5, Llama). Computed in float32 and cast back, like
    ``torch.nn.RMSNorm``.

    Args:
        dim: size of the normalized (last) dimension.
        eps: added to the mean square.
        bias: ignored (RMSNorm has no bias); accepted so that every entry of ``NORMS`` is built alike.
    """

    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = False) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))  # gamma

    def forward(self, x: Tensor) -> Tensor:
        """Normalize ``x`` ``(..., dim)`` (fused kernel); returns the same shape and dtype."""
        return nn.functional.rms_norm(x, (x.shape[-1],), self.weight, self.eps)

    def reference(self, x: Tensor) -> Tensor:
        """The formula spelled out in tensor ops (slower; for teaching and tests)."""
        xf = x.float()
        rms_inv = torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + self.eps)  # (..., 1)
        return (xf * rms_inv).to(x.dtype) * self.weight


class NoNorm(nn.Module):
    """No normalization, ``y = x``: the ablation that shows what a norm is for.

    Without a norm nothing bounds the scale of the residual stream or of a sublayer's input, so depth,
    learning rate and initialization alone decide whether activations stay in range. Has no parameters.

    Args:
        dim: ignored (accepted so that every entry of ``NORMS`` is built alike).
        eps: ignored.
        bias: ignored.
    """

    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = False) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        """Return ``x`` unchanged."""
        return x


NORMS: dict[str, type[nn.Module]] = {"layernorm": LayerNorm, "rmsnorm": RMSNorm, "none": NoNorm}
"""Normalization layers by ``GPTConfig.norm`` name; each is built as ``cls(dim, eps=eps, bias=bias)``."""
