"""What a model costs in memory, by formula: its KV cache and its weights, and bytes written for a reader."""

from __future__ import annotations

import torch

from llmkb.nn import GPTConfig, count_parameters

__all__ = ["human_bytes", "kv_bytes", "weight_bytes"]


def kv_bytes(config: GPTConfig, seq_len: int, dtype: torch.dtype, batch_size: int = 1) -> int:
    """Bytes of a full cache: ``M = 2 L H_kv D T B b`` (keys and values, every layer, head and position).

    Args:
        config: model configuration (``L`` layers, ``H_kv`` key/value heads of width ``D``).
        seq_len: cached positions ``T``.
        dtype: element type (``b`` bytes each).
        batch_size: sequences ``B``.
    """
    elem = torch.empty((), dtype=dtype).element_size()
    return 2 * config.n_layers * config.kv_heads * config.head_dim * seq_len * batch_size * elem


def weight_bytes(config: GPTConfig, dtype: torch.dtype) -> int:
    """Bytes of the weights, ``N b``, with ``N`` from [`count_parameters`][llmkb.nn.count_parameters]."""
    return count_parameters(config) * torch.empty((), dtype=dtype).element_size()


def human_bytes(n: float) -> str:
    """``512 KiB``, ``1.57 MiB``, ``12.6 GiB``: three significant digits in the largest binary unit below ``n``
    (a value of a thousand or more in its unit, ``1000 KiB``, is written out whole, never as ``1e+03``)."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v >= 999.5 else f"{v:.3g} {unit}"
    return f"{n:.0f} B"
