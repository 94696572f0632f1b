"""llama.cpp's legacy block formats Q8_0 and Q4_0 (ggml, ``ggml-quants.c``), byte for byte.

Both cut each row into **blocks of 32** values; a block stores one fp16 scale ``d`` and 32 small integers.

* **Q8_0** (34 bytes a block, 8.5 bits a weight): ``d = max|x| / 127``, ``q = round(x / d)`` rounded half away
  from zero, stored as int8; ``x ~ d q``.
* **Q4_0** (18 bytes a block, 4.5 bits a weight): ``m`` is the value of largest magnitude *with its sign*,
  ``d = m / -8``, ``q = min(15, trunc(x / d + 8.5))`` in ``0 .. 15``, ``x ~ d (q - 8)``. The extreme value maps
  to ``q = 0``, i.e. ``-8 d = m`` exactly, so the asymmetric int4 range ``-8 .. 7`` is used in full on the side
  of the outlier. Byte ``j`` of the 16 packs ``q[j]`` in its low nibble and ``q[j + 16]`` in its high one (the
  first half of the block in the low nibbles).

The scale is computed in float32 and only *stored* as fp16, as in the reference implementation, so the
integers come from the unrounded ``d``. [`gguf.quants`](https://github.com/ggml-org/llama.cpp/tree/master/gguf-py)
implements the same formats; ``tests/test_gguf.py`` checks that the bytes agree.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BLOCK",
    "Q8_0_BYTES",
    "Q4_0_BYTES",
    "quantize_q8_0",
    "dequantize_q8_0",
    "quantize_q4_0",
    "dequantize_q4_0",
]

BLOCK = 32
"""Values per block."""
Q8_0_BYTES = 2 + BLOCK
"""Bytes per Q8_0 block: fp16 scale + 32 int8."""
Q4_0_BYTES = 2 + BLOCK // 2
"""Bytes per Q4_0 block: fp16 scale + 16 bytes of nibbles."""


def _blocks(x: np.ndarray) -> np.ndarray:
    """``(..., n)`` float -> float32 ``(n_blocks, 32)``."""
    if x.shape[-1] % BLOCK:
        raise ValueError(f"rows must be a multiple of {BLOCK} values, got {x.shape[-1]}")
    return np.ascontiguousarray(x, dtype=np.float32).reshape(-1, BLOCK)


def _round_away(v: np.ndarray) -> np.ndarray:
    """C's ``roundf``: nearest integer, halves away from zero (exact: the fractional part is exact in float)."""
    whole = np.trunc(v)
    return whole + np.sign(v) * (np.abs(v - whole) >= 0.5)


def _inverse(d: np.ndarray) -> np.ndarray:
    """``1 / d``, and 0 where ``d == 0`` (an all-zero block)."""
    safe = np.where(d == 0, np.float32(1), d)
    return np.where(d == 0, np.float32(0), np.float32(1) / safe).astype(np.float32)


def quantize_q8_0(x: np.ndarray) -> np.ndarray:
    """Q8_0 bytes of ``x`` ``(..., n)`` (``n % 32 == 0``): uint8 ``(..., n / 32 * 34)``."""
    b = _blocks(x)  # (N, 32)
    d = (np.abs(b).max(axis=1, keepdims=True) / np.float32(127)).astype(np.float32)  # (N, 1)
    q = _round_away(b * _inverse(d)).astype(np.int8)  # (N, 32)
    out = np.concatenate([d.astype(np.float16).view(np.uint8), q.view(np.uint8)], axis=1)  # (N, 34)
    return out.reshape(*x.shape[:-1], x.shape[-1] // BLOCK * Q8_0_BYTES)


def dequantize_q8_0(data: np.ndarray) -> np.ndarray:
    """float32 values of Q8_0 bytes ``(..., m * 34)`` -> ``(..., m * 32)``."""
    b = np.ascontiguousarray(data, dtype=np.uint8).reshape(-1, Q8_0_BYTES)
    d = b[:, :2].copy().view(np.float16).astype(np.float32)  # (N, 1)
    q = b[:, 2:].copy().view(np.int8).astype(np.float32)  # (N, 32)
    return (d * q).reshape(*data.shape[:-1], data.shape[-1] // Q8_0_BYTES * BLOCK)


def quantize_q4_0(x: np.ndarray) -> np.ndarray:
    """Q4_0 bytes of ``x`` ``(..., n)`` (``n % 32 == 0``): uint8 ``(..., n / 32 * 18)``."""
    b = _blocks(x)  # (N, 32)
    idx = np.abs(b).argmax(axis=1)[:, None]  # first position of the largest magnitude
    d = (np.take_along_axis(b, idx, axis=1) / np.float32(-8)).astype(np.float32)  # (N, 1), signed
    q = np.minimum(np.trunc(b * _inverse(d) + np.float32(8.5)), 15).astype(np.uint8)  # (N, 32), >= 0
    packed = q[:, : BLOCK // 2] | (q[:, BLOCK // 2 :] << 4)  # (N, 16): first half in the low nibbles
    out = np.concatenate([d.astype(np.float16).view(np.uint8), packed], axis=1)  # (N, 18)
    return out.reshape(*x.shape[:-1], x.shape[-1] // BLOCK * Q4_0_BYTES)


def dequantize_q4_0(data: np.ndarray) -> np.ndarray:
    """float32 values of Q4_0 bytes ``(..., m * 18)`` -> ``(..., m * 32)``."""
    b = np.ascontiguousarray(data, dtype=np.uint8).reshape(-1, Q4_0_BYTES)
    d = b[:, :2].copy().view(np.float16).astype(np.float32)  # (N, 1)
    nib = b[:, 2:]
    q = np.concatenate([nib & 0x0F, nib >> 4], axis=1).astype(np.float32) - 8  # (N, 32)
    return (d * q).reshape(*data.shape[:-1], data.shape[-1] // Q4_0_BYTES * BLOCK)
