"""Packing small integers into bytes and words.

* [`pack_nibbles`][llmkb.quant.pack.pack_nibbles]: two 4-bit values per byte, element ``2i`` in the low
  nibble and ``2i + 1`` in the high one — ``byte = q[2i] | q[2i+1] << 4``; a ``(out, in)`` int4 matrix takes
  ``out * in / 2`` bytes.
* [`pack_awq`][llmkb.quant.pack.pack_awq]: AutoAWQ's GEMM layout, eight 4-bit values per int32 along the
  output dimension in the interleaved order ``[0, 2, 4, 6, 1, 3, 5, 7]`` — nibble ``i`` of word ``c`` (bits
  ``4i .. 4i+3``) holds column ``8c + order[i]`` (Lin et al. 2023, arXiv 2306.00978; the order lets the GPU
  kernel convert the eight values to fp16 pairs with a few bit operations).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["AWQ_ORDER", "pack_nibbles", "unpack_nibbles", "pack_awq", "unpack_awq"]

AWQ_ORDER: tuple[int, ...] = (0, 2, 4, 6, 1, 3, 5, 7)
"""Nibble ``i`` of an AWQ int32 holds column ``order[i]`` of its group of eight."""


def _check_nibbles(q: Tensor) -> None:
    if q.numel() and (int(q.min()) < 0 or int(q.max()) > 15):
        raise ValueError(f"values must be 0..15 to pack into nibbles, got {int(q.min())}..{int(q.max())}")


def pack_nibbles(q: Tensor) -> Tensor:
    """Pack unsigned 4-bit values ``(..., n)`` (``n`` even) into uint8 ``(..., n / 2)``."""
    if q.shape[-1] % 2:
        raise ValueError(f"the last dimension must be even to pack nibbles, got {q.shape[-1]}")
    _check_nibbles(q)
    q = q.to(torch.uint8)
    return q[..., 0::2] | (q[..., 1::2] << 4)  # (..., n/2)


def unpack_nibbles(packed: Tensor) -> Tensor:
    """Inverse of [`pack_nibbles`][llmkb.quant.pack.pack_nibbles]: uint8 ``(..., m)`` -> uint8 ``(..., 2m)``."""
    low, high = packed & 0x0F, packed >> 4
    return torch.stack((low, high), dim=-1).flatten(-2)  # (..., 2m)


def pack_awq(q: Tensor) -> Tensor:
    """Pack unsigned 4-bit values ``(rows, cols)`` (``cols % 8 == 0``) into int32 ``(rows, cols / 8)``, AWQ order."""
    rows, cols = q.shape
    if cols % 8:
        raise ValueError(f"AWQ packs eight columns per int32: cols must be a multiple of 8, got {cols}")
    _check_nibbles(q)
    groups = q.to(torch.int64).reshape(rows, cols // 8, 8)[..., list(AWQ_ORDER)]  # (rows, cols/8, 8)
    shifts = torch.arange(8, dtype=torch.int64) * 4
    words = (groups << shifts).sum(dim=-1)  # (rows, cols/8), in 0 .. 2^32 - 1
    return torch.where(words >= 2**31, words - 2**32, words).to(torch.int32)  # same bits as int32


def unpack_awq(packed: Tensor) -> Tensor:
    """Inverse of [`pack_awq`][llmkb.quant.pack.pack_awq]: int32 ``(rows, w)`` -> int64 ``(rows, 8 w)``."""
    rows, words = packed.shape
    shifts = torch.arange(8, dtype=torch.int64) * 4
    nibbles = (packed.to(torch.int64)[..., None] >> shifts) & 0x0F  # (rows, w, 8) in AWQ order
    out = torch.empty_like(nibbles)
    out[..., list(AWQ_ORDER)] = nibbles
    return out.reshape(rows, words * 8)
