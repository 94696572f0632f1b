"""A linear layer that stores packed integers and scales and dequantizes its weight on the fly.

``y = x W_hat^T + b`` with ``W_hat = s (q - z)`` rebuilt from the stored integers at every call (weight-only
quantization: activations stay in float, as in GPTQ, AWQ and llama.cpp's CPU path for these formats). The
memory saved is the point: a 4-bit layer holds ``out * in / 2`` bytes of nibbles plus the fp16 scales, against
``4 out in`` bytes in float32.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from llmkb.quant.pack import pack_nibbles, unpack_nibbles
from llmkb.quant.uniform import QTensor, QuantSpec, dequantize, quantize

__all__ = ["QuantLinear"]


class QuantLinear(nn.Module):
    """Weight-only quantized linear layer.

    Storage: 4-bit weights two per byte ([`pack_nibbles`][llmkb.quant.pack.pack_nibbles]; symmetric values
    offset by 8 into ``0 .. 15``), 8-bit weights one per byte, other widths one per byte too (unpacked); fp16
    scales ``(rows, groups)``; zero points one byte each (asymmetric only).

    Args:
        qt: the quantized weight ``(out, in)``.
        bias: the float bias ``(out,)`` or ``None``.
    """

    def __init__(self, qt: QTensor, bias: Tensor | None = None) -> None:
        super().__init__()
        self.spec = qt.spec
        self.out_features, self.in_features = qt.shape
        offset = 0 if qt.zero is not None else 2 ** (qt.spec.bits - 1)  # signed -> unsigned
        stored = qt.q + offset  # (out, in), in 0 .. 2^b - 1
        if qt.spec.bits == 4 and self.in_features % 2 == 0:
            self.register_buffer("qweight", pack_nibbles(stored))  # (out, in/2) uint8
        else:
            self.register_buffer("qweight", stored.to(torch.uint8))  # (out, in) uint8
        self.register_buffer("scale", qt.scale.half())  # (rows, groups)
        self.register_buffer("zero", None if qt.zero is None else qt.zero.to(torch.uint8))
        self.offset = offset
        self.register_buffer("bias", None if bias is None else bias.detach().clone())

    @classmethod
    def from_linear(cls, linear: nn.Linear, spec: QuantSpec) -> QuantLinear:
        """Quantize an ``nn.Linear``'s weight with ``spec`` (the bias stays float)."""
        return cls(quantize(linear.weight, spec), linear.bias)

    def integers(self) -> Tensor:
        """The stored integers, unpacked, ``(out, in)`` int16 (signed when symmetric)."""
        q = self.qweight
        if q.shape[1] != self.in_features:
            q = unpack_nibbles(q)
        return q.to(torch.int16) - self.offset

    def weight(self) -> Tensor:
        """The dequantized weight ``W_hat`` ``(out, in)``, float32."""
        zero = None if self.zero is None else self.zero.to(torch.int16)
        qt = QTensor(self.integers(), self.scale.float(), zero, self.spec)
        return dequantize(qt)

    def forward(self, x: Tensor) -> Tensor:
        """``(..., in) -> (..., out)``."""
        return F.linear(x, self.weight().to(x.dtype), None if self.bias is None else self.bias.to(x.dtype))

    @property
    def nbytes(self) -> int:
        """Bytes of the stored buffers (integers, scales, zero points, bias)."""
        return sum(b.numel() * b.element_size() for b in self.buffers())
