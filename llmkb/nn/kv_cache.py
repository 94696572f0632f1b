"""Key/value caches for autoregressive decoding.

During generation each new token attends to the keys and values of all previous tokens. Recomputing them
costs O(T) projections per step (O(T^2) per sequence); caching them makes a step O(1) projections plus an
O(T) attention read. Only the *key/value* heads are stored, so grouped-query attention (``n_kv_heads <
n_heads``) shrinks the cache by ``n_heads / n_kv_heads``.

Memory of a cache holding ``T`` positions, for all layers:

``nbytes = 2 (k and v) * n_layers * n_kv_heads * head_dim * T * B * bytes_per_element``

Two implementations with the same interface (``update``, ``advance``, ``start``, ``length``, ``reset``,
``nbytes``):

* [`KVCache`][llmkb.nn.kv_cache.KVCache]: pre-allocated buffers written in place (what inference engines do;
  no allocation per step);
* [`ConcatKVCache`][llmkb.nn.kv_cache.ConcatKVCache]: grows by ``torch.cat`` (the simplest thing that works;
  allocates and copies the whole cache every step).

Protocol used by [`MultiHeadAttention`][llmkb.nn.attention.MultiHeadAttention] and [`GPT`][llmkb.nn.GPT]: in
one forward pass every layer calls ``update(layer, k, v)`` with the new keys/values of positions
``length .. length+T-1`` and gets back the keys/values of positions ``start .. length+T-1``; after the last
layer the model calls ``advance(T)``.

Sliding-window eviction: when ``config.sliding_window = W`` (and ``evict=True``), a query only ever needs
the last ``W`` positions, so the cache keeps at most ``W`` of them and drops older ones; ``length`` keeps
counting absolute positions while ``start`` moves forward.
"""

from __future__ import annotations

import torch
from torch import Tensor

from llmkb.nn.config import GPTConfig

__all__ = ["BaseKVCache", "KVCache", "ConcatKVCache"]


class BaseKVCache:
    """Shared bookkeeping: absolute length, number of stored positions, and the eviction window.

    Args:
        config: model configuration (layers, kv heads, head width, sliding window).
        evict: keep only the last ``config.sliding_window`` positions (ignored when the config has no window).
    """

    def __init__(self, config: GPTConfig, *, evict: bool = True) -> None:
        self.n_layers = config.n_layers
        self.n_kv_heads = config.kv_heads
        self.head_dim = config.head_dim
        self.window: int | None = config.sliding_window if evict else None
        self.length = 0  # absolute positions processed so far (position of the next token)
        self.stored = 0  # positions currently held (<= window when evicting)

    @property
    def start(self) -> int:
        """Absolute position of the oldest stored key (0 unless the window has evicted something)."""
        return self.length - self.stored

    def advance(self, n: int) -> None:
        """Record that ``n`` new positions were written to every layer (called once per forward)."""
        self.length += n
        self.stored += n
        if self.window is not None:
            self.stored = min(self.stored, self.window)

    def reset(self) -> None:
        """Forget everything (buffers are kept, contents are ignored)."""
        self.length = 0
        self.stored = 0

    def _check(self, layer: int, k: Tensor, v: Tensor) -> None:
        if not 0 <= layer < self.n_layers:
            raise ValueError(f"layer {layer} out of range for a cache of {self.n_layers} layers")
        want = (self.n_kv_heads, self.head_dim)
        if k.dim() != 4 or (k.shape[1], k.shape[3]) != want or k.shape != v.shape:
            raise ValueError(
                f"expected k and v of shape (B, {want[0]}, T, {want[1]}), "
                f"got {tuple(k.shape)} and {tuple(v.shape)}"
            )

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover
        """Store ``k, v`` ``(B, H_kv, T, D)`` for ``layer``; return keys/values ``(B, H_kv, S, D)`` of
        positions ``start .. length + T - 1``."""
        raise NotImplementedError

    @property
    def nbytes(self) -> int:  # pragma: no cover
        """Bytes of key/value storage held."""
        raise NotImplementedError


class KVCache(BaseKVCache):
    """Pre-allocated cache: ``k[layer]``, ``v[layer]`` of shape ``(B, n_kv_heads, capacity, head_dim)``.

    ``capacity = max_len``, or ``min(max_len, sliding_window)`` when evicting. Writes are in place
    (``buffer[:, :, s:s+T] = k``) and reads are views, so a decoding step allocates nothing. Without eviction,
    writing past ``capacity`` raises ``ValueError``; with eviction the oldest positions are dropped (the
    kept ones are shifted to the front), so the total length is unbounded.

    ``nbytes = 2 * n_layers * n_kv_heads * head_dim * capacity * batch_size * element_size`` (allocated,
    independent of how much is filled).

    Args:
        config: model configuration.
        batch_size: ``B``.
        max_len: positions to allocate (e.g. prompt + new tokens).
        dtype: element type (match the model's).
        device: where the buffers live.
        evict: use sliding-window eviction when ``config.sliding_window`` is set.
    """

    def __init__(
        self,
        config: GPTConfig,
        batch_size: int,
        max_len: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
        *,
        evict: bool = True,
    ) -> None:
        super().__init__(config, evict=evict)
        if batch_size < 1 or max_len < 1:
            raise ValueError(f"batch_size and max_len must be >= 1, got {batch_size} and {max_len}")
        self.batch_size = batch_size
        self.max_len = max_len
        self.capacity = min(max_len, self.window) if self.window is not None else max_len
        shape = (batch_size, self.n_kv_heads, self.capacity, self.head_dim)  # (B, H_kv, capacity, D)
        self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(self.n_layers)]
        self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(self.n_layers)]

    @property
    def nbytes(self) -> int:
        """Allocated bytes of all key and value buffers."""
        return sum(t.numel() * t.element_size() for t in (*self.k, *self.v))

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Write ``k, v`` ``(B, H_kv, T, D)`` after the stored positions; return ``(B, H_kv, S, D)`` for
        positions ``start .. length + T - 1``."""
        self._check(layer, k, v)
        if k.shape[0] != self.batch_size:
            raise ValueError(f"batch size {k.shape[0]} does not match the cache's {self.batch_size}")
        s, T = self.stored, k.shape[2]
        kb, vb = self.k[layer], self.v[layer]
        if s + T <= self.capacity:
            kb[:, :, s : s + T] = k
            vb[:, :, s : s + T] = v
            return kb[:, :, : s + T], vb[:, :, : s + T]  # views, no copy
        if self.window is None:
            raise ValueError(
                f"KV cache full: {s} + {T} positions exceed max_len={self.max_len}; allocate a larger cache"
            )
        k_all = torch.cat((kb[:, :, :s], k), dim=2)  # (B, H_kv, s+T, D)
        v_all = torch.cat((vb[:, :, :s], v), dim=2)
        keep = min(self.capacity, k_all.shape[2])
        kb[:, :, :keep] = k_all[:, :, -keep:]  # evict the oldest, keep the last `keep`
        vb[:, :, :keep] = v_all[:, :, -keep:]
        return k_all, v_all


class ConcatKVCache(BaseKVCache):
    """Growing cache: each update is ``torch.cat((past, new), dim=2)``; ``(B, n_kv_heads, stored, head_dim)``.

    Simple and correct, but every step allocates a new tensor and copies the whole past: O(T) memory traffic
    per token on top of the attention itself. Kept for teaching and as a reference for
    [`KVCache`][llmkb.nn.kv_cache.KVCache].

    Args:
        config: model configuration.
        evict: trim to the last ``config.sliding_window`` positions when the config has a window.
    """

    def __init__(self, config: GPTConfig, *, evict: bool = True) -> None:
        super().__init__(config, evict=evict)
        self.k: list[Tensor | None] = [None] * self.n_layers
        self.v: list[Tensor | None] = [None] * self.n_layers

    @property
    def nbytes(self) -> int:
        """Bytes of the key and value tensors currently held."""
        return sum(t.numel() * t.element_size() for t in (*self.k, *self.v) if t is not None)

    def reset(self) -> None:
        """Forget everything and free the tensors."""
        super().reset()
        self.k = [None] * self.n_layers
        self.v = [None] * self.n_layers

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append ``k, v`` ``(B, H_kv, T, D)``; return ``(B, H_kv, S, D)`` for positions
        ``start .. length+T-1``."""
        self._check(layer, k, v)
        past_k, past_v = self.k[layer], self.v[layer]
        if past_k is None or past_v is None or self.stored == 0:
            k_all, v_all = k, v
        else:
            k_all = torch.cat((past_k[:, :, -self.stored :], k), dim=2)
            v_all = torch.cat((past_v[:, :, -self.stored :], v), dim=2)
        keep = k_all.shape[2] if self.window is None else min(self.window, k_all.shape[2])
        self.k[layer], self.v[layer] = k_all[:, :, -keep:], v_all[:, :, -keep:]
        return k_all, v_all
