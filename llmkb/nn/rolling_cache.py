"""A rolling (ring-buffer) KV cache for sliding-window attention: memory fixed at ``window`` positions.

With a sliding window ``W`` (``GPTConfig.sliding_window``) a query never looks further back than ``W - 1``
positions, so a cache needs only the last ``W`` keys and values, however long generation runs (Mistral 7B,
Jiang et al. 2023, arXiv 2310.06825, "rolling buffer cache"). Position ``p`` lives in slot ``p mod W``: a new
token overwrites the oldest one in place, and nothing stored is ever shifted.

It follows the protocol of [`llmkb.nn.kv_cache`][llmkb.nn.kv_cache]: ``update(layer, k, v)`` returns the
keys/values of positions ``start .. length + T - 1`` in position order (the stored ones, unrolled from the
ring, then the new ones), which is what attention with ALiBi biases or masks needs.

``nbytes = 2 * n_layers * n_kv_heads * head_dim * W * batch_size * element_size``, independent of the length.
"""

from __future__ import annotations

import torch
from torch import Tensor

from llmkb.nn.config import GPTConfig
from llmkb.nn.kv_cache import BaseKVCache

__all__ = ["RollingKVCache"]


class RollingKVCache(BaseKVCache):
    """Ring buffers ``k[layer]``, ``v[layer]`` of shape ``(B, n_kv_heads, W, head_dim)``, ``W`` the window.

    Args:
        config: model configuration; ``sliding_window`` must be set.
        batch_size: ``B``.
        dtype: element type (match the model's).
        device: where the buffers live.

    Raises:
        ValueError: the config has no sliding window, or ``batch_size < 1``.
    """

    def __init__(
        self,
        config: GPTConfig,
        batch_size: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        if config.sliding_window is None:
            raise ValueError("a rolling KV cache needs a config with sliding_window set")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        super().__init__(config, evict=True)
        self.batch_size = batch_size
        self.capacity: int = config.sliding_window
        shape = (batch_size, self.n_kv_heads, self.capacity, self.head_dim)  # (B, H_kv, W, D)
        self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(self.n_layers)]
        self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(self.n_layers)]

    @property
    def nbytes(self) -> int:
        """Allocated bytes of all key and value ring buffers (``W`` positions each)."""
        return sum(t.numel() * t.element_size() for t in (*self.k, *self.v))

    def _unrolled(self, buf: Tensor) -> Tensor:
        """The stored positions ``start .. length - 1`` in order, ``(B, H_kv, stored, D)``."""
        if self.stored < self.capacity:
            return buf[:, :, : self.stored]  # not wrapped yet: slots 0 .. stored-1 hold positions in order
        oldest = self.length % self.capacity  # slot of position length - W
        return torch.cat((buf[:, :, oldest:], buf[:, :, :oldest]), dim=2)

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Write ``k, v`` ``(B, H_kv, T, D)`` into the ring; return ``(B, H_kv, stored + T, D)`` of positions
        ``start .. length + T - 1`` in order."""
        self._check(layer, k, v)
        if k.shape[0] != self.batch_size:
            raise ValueError(f"batch size {k.shape[0]} does not match the cache's {self.batch_size}")
        kb, vb = self.k[layer], self.v[layer]
        k_all = torch.cat((self._unrolled(kb), k), dim=2)  # (B, H_kv, stored + T, D)
        v_all = torch.cat((self._unrolled(vb), v), dim=2)
        T, W = k.shape[2], self.capacity
        first = max(0, T - W)  # only the last W new positions can stay
        slots = torch.arange(self.length + first, self.length + T, device=k.device) % W  # (<= W,)
        kb[:, :, slots] = k[:, :, first:]
        vb[:, :, slots] = v[:, :, first:]
        return k_all, v_all
