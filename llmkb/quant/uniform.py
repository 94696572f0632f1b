"""Uniform integer quantization of weight matrices: absmax and zero-point, per tensor, channel or group.

A ``b``-bit quantizer replaces each real weight ``w`` by an integer ``q`` and keeps one real **scale** ``s``
(and, asymmetric, one integer **zero point** ``z``) for a whole *group* of weights:

* symmetric (absmax): ``s = max|w| / (2^(b-1) - 1)``, ``q = clamp(round(w / s), -(2^(b-1) - 1), 2^(b-1) - 1)``,
  ``w ~ s q``; the grid is centred on 0, so zero stays exactly zero;
* asymmetric (zero point): ``s = (max w - min w) / (2^b - 1)``, ``z = clamp(round(-min w / s), 0, 2^b - 1)``,
  ``q = clamp(round(w / s) + z, 0, 2^b - 1)``, ``w ~ s (q - z)``; the grid covers ``[min w, max w]`` only.

Rounding to the nearest grid point errs by at most half a step: ``|w - s q| <= s / 2`` for the symmetric
quantizer. The zero point is itself rounded, which can shift the grid by up to ``s / 2``, so the asymmetric
error bound is ``s``.

Granularity decides which weights share a scale. A weight matrix ``W`` ``(out, in)`` has

* ``tensor``: one scale for everything (one outlier stretches the grid of every weight);
* ``channel``: one per output row (Jacob et al. 2018, arXiv 1712.05877, per-axis; LLM.int8, Dettmers et al.
  2022, arXiv 2208.07339, vector-wise);
* ``group``: one per ``group_size`` consecutive input weights of a row (GPTQ, Frantar et al. 2022, arXiv
  2210.17323; AWQ, Lin et al. 2023, arXiv 2306.00978; llama.cpp's blocks of 32). A row whose length is not a
  multiple of ``group_size`` ends with a shorter group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["QuantSpec", "QTensor", "quantize", "dequantize", "quantize_dequantize", "fake_quant"]

GRANULARITIES = ("tensor", "channel", "group")


@dataclass(frozen=True)
class QuantSpec:
    """How to quantize a weight matrix.

    Args:
        bits: integer width ``b`` (2 to 8).
        symmetric: absmax (True) or zero point (False).
        granularity: ``tensor``, ``channel`` or ``group``.
        group_size: weights per group along the input dimension (``group`` only).
    """

    bits: int = 8
    symmetric: bool = True
    granularity: str = "channel"
    group_size: int = 128

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not 2 <= self.bits <= 8:
            raise ValueError(f"bits must be an integer 2..8, got {self.bits!r}")
        if self.granularity not in GRANULARITIES:
            raise ValueError(
                f"granularity must be one of {'|'.join(GRANULARITIES)}, got {self.granularity!r}"
            )
        if self.granularity == "group" and (not isinstance(self.group_size, int) or self.group_size < 1):
            raise ValueError(f"group_size must be a positive integer, got {self.group_size!r}")

    @property
    def label(self) -> str:
        """A short name: ``int8 channel``, ``int4 g128``, ``uint4 g32`` (``u``: asymmetric)."""
        kind = f"{'' if self.symmetric else 'u'}int{self.bits}"
        where = f"g{self.group_size}" if self.granularity == "group" else self.granularity
        return f"{kind} {where}"

    def n_groups(self, shape: tuple[int, int]) -> int:
        """Number of (scale, zero) pairs for a matrix of ``shape`` ``(out, in)``."""
        out, inp = shape
        if self.granularity == "tensor":
            return 1
        if self.granularity == "channel":
            return out
        return out * math.ceil(inp / self.group_size)

    def nbytes(self, shape: tuple[int, int], scale_bytes: int = 2) -> float:
        """Storage of a quantized matrix: ``b/8`` bytes a weight, ``scale_bytes`` a scale, ``b/8`` a zero point."""
        zero = 0.0 if self.symmetric else self.bits / 8
        return shape[0] * shape[1] * self.bits / 8 + self.n_groups(shape) * (scale_bytes + zero)


@dataclass
class QTensor:
    """A quantized matrix: integers, scales (and zero points), and the spec and shape they came from.

    Attributes:
        q: integers ``(out, in)`` (int16 storage; packing is :mod:`llmkb.quant.pack`'s job).
        scale: float32 ``(rows, groups)`` — ``(1, 1)``, ``(out, 1)`` or ``(out, ceil(in / group_size))``.
        zero: integer zero points like ``scale``, or ``None`` when symmetric.
        spec: the [`QuantSpec`][llmkb.quant.uniform.QuantSpec].
    """

    q: Tensor
    scale: Tensor
    zero: Tensor | None
    spec: QuantSpec

    @property
    def shape(self) -> tuple[int, int]:
        """``(out, in)`` of the original matrix."""
        return (int(self.q.shape[0]), int(self.q.shape[1]))

    def group_scale(self) -> Tensor:
        """The scale of every element, ``(out, in)``."""
        return _expand(self.scale, self.shape, self.spec)


def _grouped(w: Tensor, spec: QuantSpec) -> Tensor:
    """``(out, in)`` -> ``(rows, groups, size)``; a ragged last group is padded by repeating its last value
    (which changes neither its max nor its min)."""
    out, inp = w.shape
    if spec.granularity == "tensor":
        return w.reshape(1, 1, out * inp)
    if spec.granularity == "channel":
        return w.reshape(out, 1, inp)
    g = spec.group_size
    pad = (-inp) % g
    if pad:
        w = torch.cat((w, w[:, -1:].expand(out, pad)), dim=1)  # (out, in + pad)
    return w.reshape(out, (inp + pad) // g, g)


def _expand(per_group: Tensor, shape: tuple[int, int], spec: QuantSpec) -> Tensor:
    """A ``(rows, groups)`` table spread to every element of ``shape`` ``(out, in)``."""
    out, inp = shape
    if spec.granularity == "tensor":
        return per_group.expand(out, inp)
    if spec.granularity == "channel":
        return per_group.expand(out, inp)
    return per_group.repeat_interleave(spec.group_size, dim=1)[:, :inp]


def _fp16(scale: Tensor) -> Tensor:
    """Scales are stored in fp16: round them first, so the integers are computed against the stored value."""
    return scale.clamp(max=65504.0).half().float()


def quantize(w: Tensor, spec: QuantSpec) -> QTensor:
    """Quantize a matrix ``w`` ``(out, in)`` (the formulas are in the module docstring).

    A group whose weights are all zero gets scale 1 (its integers are 0), so nothing divides by zero. Scales
    are rounded to fp16 (what is stored) before the integers are computed against them.

    Args:
        w: the weights (any float dtype; computed in float32).
        spec: bits, symmetric or not, granularity.

    Returns:
        A [`QTensor`][llmkb.quant.uniform.QTensor].
    """
    if w.dim() != 2:
        raise ValueError(f"quantize expects a matrix (out, in), got shape {tuple(w.shape)}")
    w = w.detach().float()
    groups = _grouped(w, spec)  # (rows, groups, size)
    if spec.symmetric:
        qmax = 2 ** (spec.bits - 1) - 1
        amax = groups.abs().amax(dim=-1)  # (rows, groups)
        scale = _fp16(torch.where(amax > 0, amax / qmax, torch.ones_like(amax)))
        q = torch.clamp(torch.round(w / _expand(scale, w.shape, spec)), -qmax, qmax)
        return QTensor(q.to(torch.int16), scale, None, spec)
    qmax = 2**spec.bits - 1
    lo, hi = groups.amin(dim=-1), groups.amax(dim=-1)  # (rows, groups)
    scale = _fp16(torch.where(hi > lo, (hi - lo) / qmax, torch.ones_like(hi)))
    zero = torch.clamp(torch.round(-lo / scale), 0, qmax)
    q = torch.round(w / _expand(scale, w.shape, spec)) + _expand(zero, w.shape, spec)
    return QTensor(torch.clamp(q, 0, qmax).to(torch.int16), scale, zero.to(torch.int16), spec)


def dequantize(qt: QTensor) -> Tensor:
    """``s q`` (symmetric) or ``s (q - z)`` (asymmetric), float32 ``(out, in)``."""
    q = qt.q.float()
    if qt.zero is not None:
        q = q - _expand(qt.zero.float(), qt.shape, qt.spec)
    return q * qt.group_scale()


def quantize_dequantize(w: Tensor, spec: QuantSpec) -> Tensor:
    """The weights a quantized model computes with: ``dequantize(quantize(w))``, in ``w``'s dtype."""
    return dequantize(quantize(w, spec)).to(w.dtype)


def fake_quant(w: Tensor, spec: QuantSpec) -> Tensor:
    """Fake quantization with the straight-through estimator (Bengio et al. 2013, arXiv 1308.3432; Jacob et al.
    2018, arXiv 1712.05877).

    Forward: ``w_hat = dequantize(quantize(w))``, exactly what the integer model will compute with. Backward:
    rounding has zero derivative almost everywhere, so the estimator treats it as the identity,
    ``dL/dw := dL/dw_hat`` — written ``w + (w_hat - w).detach()``. The scales come from ``w`` itself (absmax or
    min/max), so no weight falls outside the grid and there is nothing to clip.

    Args:
        w: float weights ``(out, in)`` that require grad.
        spec: the quantizer.

    Returns:
        ``w_hat`` with ``w``'s gradient path.
    """
    return w + (quantize_dequantize(w, spec) - w).detach()
