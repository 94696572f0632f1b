"""Cache hit/miss tracing for autoregressive decoding, a block-keyed prefix cache, and the cost model.

A *trace* is a ``(steps, positions)`` grid with one row per forward call of the model and one column per
token position. Each cell says what happened to that position's keys and values in that call:

* ``HIT``: read back from the KV cache (computed in an earlier call, reused now);
* ``MISS``: computed in this call (projected through ``W_k`` and ``W_v`` of every layer);
* ``EVICTED``: computed earlier but no longer in the cache (a sliding window dropped it);
* ``EMPTY``: the position does not exist yet.

Three sources produce traces with the same layout:

* [`decode_trace`][llmkb.infer.kvtrace.decode_trace] simulates greedy generation (prefill, then one token per
  step), with or without a cache and with an optional sliding window;
* [`RecordingKVCache`][llmkb.infer.kvtrace.RecordingKVCache] records the same grid from a real model run, so the
  simulation can be checked against [`llmkb.nn.KVCache`][llmkb.nn.KVCache];
* [`PrefixCache`][llmkb.infer.kvtrace.PrefixCache] simulates prefix caching across requests: keys and values of
  whole blocks of tokens are stored under a hash of the block *and everything before it* (the idea of
  vLLM's automatic prefix caching, Kwon et al. 2023, arXiv 2309.06180), so a second prompt that starts
  with the same blocks reuses them.

The number of ``MISS`` cells is the number of token-forwards the model runs, which is what
[`decode_cost`][llmkb.infer.kvtrace.decode_cost] turns into FLOPs (Pope et al. 2022, arXiv 2211.05102).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from llmkb.nn import GPT, GPTConfig, KVCache, count_parameters

__all__ = [
    "EMPTY",
    "HIT",
    "MISS",
    "EVICTED",
    "STATE_NAMES",
    "KVTrace",
    "decode_trace",
    "RecordingKVCache",
    "traced_greedy_decode",
    "PrefixCache",
    "prefix_reuse_trace",
    "copy_prefix",
    "prefix_reuse_check",
    "decode_cost",
]

EMPTY, HIT, MISS, EVICTED = 0, 1, 2, 3
"""Cell codes of a trace grid."""
STATE_NAMES: tuple[str, ...] = ("empty", "hit", "miss", "evicted")
"""Names of the cell codes, indexed by code."""


@dataclass(frozen=True, eq=False)
class KVTrace:
    """What happened to every position's keys/values in every forward call.

    Attributes:
        grid: ``(steps, positions)`` int8 array of ``EMPTY``/``HIT``/``MISS``/``EVICTED`` codes.
        labels: one label per step (row), e.g. ``"prefill"``, ``"decode 3"``.
        mode: a short name of the scenario (``"cache"``, ``"no-cache"``, ``"window"``, ``"prefix"``).
    """

    grid: np.ndarray
    labels: tuple[str, ...]
    mode: str

    def __post_init__(self) -> None:
        """Check that the grid is 2-D, holds only known codes and has one label per row."""
        if self.grid.ndim != 2:
            raise ValueError(f"grid must be (steps, positions), got shape {self.grid.shape}")
        if len(self.labels) != self.grid.shape[0]:
            raise ValueError(f"{len(self.labels)} labels for {self.grid.shape[0]} steps")
        if self.grid.size and (self.grid.min() < EMPTY or self.grid.max() > EVICTED):
            raise ValueError("grid holds codes outside EMPTY..EVICTED")

    def count(self, state: int) -> int:
        """Number of cells in ``state`` (one of the codes)."""
        return int((self.grid == state).sum())

    @property
    def hits(self) -> int:
        """Key/value entries read from the cache, summed over steps."""
        return self.count(HIT)

    @property
    def misses(self) -> int:
        """Key/value entries computed, summed over steps (= token-forwards of the model)."""
        return self.count(MISS)

    @property
    def hit_rate(self) -> float:
        """``hits / (hits + misses)``: the fraction of needed entries that did not have to be computed."""
        used = self.hits + self.misses
        return self.hits / used if used else 0.0

    def per_step(self) -> np.ndarray:
        """``(steps, 4)`` counts of each state per step (columns in code order)."""
        return np.stack([(self.grid == s).sum(axis=1) for s in range(len(STATE_NAMES))], axis=1)

    def summary(self) -> dict[str, Any]:
        """Totals as a JSON-able dict: mode, steps, positions, hits, misses, evicted cells, hit rate."""
        return {
            "mode": self.mode,
            "steps": int(self.grid.shape[0]),
            "positions": int(self.grid.shape[1]),
            "hits": self.hits,
            "misses": self.misses,
            "evicted": self.count(EVICTED),
            "hit_rate": self.hit_rate,
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole trace as JSON-able data (``summary()`` plus ``labels`` and the grid as nested lists)."""
        return {**self.summary(), "labels": list(self.labels), "grid": self.grid.astype(int).tolist()}


def _row(length: int, stored: int, n_new: int, window: int | None) -> np.ndarray:
    """States of positions ``0 .. length+n_new-1`` in a forward call that appends ``n_new`` positions to a
    cache holding the ``stored`` most recent of ``length`` earlier positions.

    A stored entry counts as a hit when at least one query of the call may attend to it (with a window
    ``W``, the last query at ``length+n_new-1`` sees keys ``> length+n_new-1-W``); a stored entry no query
    sees is about to be dropped and counts as evicted, like every entry already gone.
    """
    row = np.full(length + n_new, EVICTED, dtype=np.int8)
    start = length - stored
    last_query = length + n_new - 1
    first_visible = 0 if window is None else last_query - window + 1
    row[max(start, first_visible) : length] = HIT
    row[length:] = MISS
    return row


class _CacheCounters:
    """The bookkeeping of [`BaseKVCache`][llmkb.nn.kv_cache.BaseKVCache] without any tensors."""

    def __init__(self, window: int | None) -> None:
        self.window = window
        self.length = 0
        self.stored = 0

    def forward(self, n_new: int) -> np.ndarray:
        row = _row(self.length, self.stored, n_new, self.window)
        self.length += n_new
        self.stored = self.stored + n_new if self.window is None else min(self.stored + n_new, self.window)
        return row


def _stack(rows: Sequence[np.ndarray], width: int | None = None) -> np.ndarray:
    width = max((len(r) for r in rows), default=0) if width is None else width
    grid = np.full((len(rows), width), EMPTY, dtype=np.int8)
    for i, r in enumerate(rows):
        grid[i, : len(r)] = r
    return grid


def decode_trace(
    prompt_len: int, new_tokens: int, *, use_cache: bool = True, window: int | None = None
) -> KVTrace:
    """Simulate the forward calls of greedy generation, as [`GPT.generate`][llmkb.nn.GPT.generate] makes them.

    Generating ``N`` tokens from a ``P``-token prompt takes ``N`` forward calls: the prefill (all ``P``
    prompt positions) and ``N - 1`` decode steps (the last sampled token is never fed back), so the grid
    has ``N`` rows and ``P + N - 1`` columns.

    * ``use_cache=False``: call ``s`` recomputes all ``P + s`` positions: every needed cell is a miss;
      ``N P + N (N - 1) / 2`` misses in total, O(T^2).
    * ``use_cache=True``: the prefill misses ``P`` positions, then each decode step misses exactly one
      (its own token) and hits every earlier position: ``P + N - 1`` misses, O(T).
    * ``window=W`` (with the cache): the cache keeps only the last ``W`` positions (sliding-window attention,
      Beltagy et al. 2020, arXiv 2004.05150); older ones are evicted, so a step hits at most ``W - 1``.

    Args:
        prompt_len: ``P >= 1``.
        new_tokens: ``N >= 1``.
        use_cache: decode with a KV cache.
        window: sliding-window size ``W >= 1`` or ``None`` (ignored without the cache: nothing is stored).

    Returns:
        The trace; ``mode`` is ``"no-cache"``, ``"cache"`` or ``"window"``.
    """
    if prompt_len < 1 or new_tokens < 1:
        raise ValueError(f"prompt_len and new_tokens must be >= 1, got {prompt_len} and {new_tokens}")
    if window is not None and window < 1:
        raise ValueError(f"window must be >= 1 or None, got {window}")
    labels = ["prefill"] + [f"decode {s}" for s in range(1, new_tokens)]
    if not use_cache:
        rows = [np.full(prompt_len + s, MISS, dtype=np.int8) for s in range(new_tokens)]
        return KVTrace(_stack(rows), tuple(labels), "no-cache")
    counters = _CacheCounters(window)
    rows = [counters.forward(prompt_len)] + [counters.forward(1) for _ in range(new_tokens - 1)]
    return KVTrace(_stack(rows), tuple(labels), "cache" if window is None else "window")


class RecordingKVCache(KVCache):
    """A [`KVCache`][llmkb.nn.KVCache] that records a trace row for every forward call it serves.

    Before layer 0 writes, the cache's own counters (``length``, ``stored``) and the number of new positions
    are captured; after the model calls ``advance`` the row is built from them with the same rule as
    [`decode_trace`][llmkb.infer.kvtrace.decode_trace]. Reading the counters of the real cache (rather than
    re-deriving them) is what lets a test compare the simulation against
    [`llmkb.nn.KVCache`][llmkb.nn.KVCache]'s eviction.

    Args:
        config: model configuration.
        batch_size: ``B``.
        max_len: positions to allocate.
        dtype: element type.
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
        super().__init__(config, batch_size, max_len, dtype, device, evict=evict)
        self.rows: list[np.ndarray] = []
        self.starts: list[int] = []  # the cache's `start` after each call
        self._pending: tuple[int, int, int] | None = None

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Capture the counters on layer 0, then store ``k, v`` ``(B, H_kv, T, D)`` as ``KVCache`` does."""
        if layer == 0:
            self._pending = (self.length, self.stored, k.shape[2])
        return super().update(layer, k, v)

    def advance(self, n: int) -> None:
        """Advance the counters and append this call's row."""
        super().advance(n)
        if self._pending is None:
            raise RuntimeError("advance() called without a preceding update(0, ...)")
        length, stored, n_new = self._pending
        self.rows.append(_row(length, stored, n_new, self.window))
        self.starts.append(self.start)
        self._pending = None

    def trace(self, labels: Sequence[str] | None = None, mode: str = "cache") -> KVTrace:
        """The recorded rows as a [`KVTrace`][llmkb.infer.kvtrace.KVTrace] (default labels: prefill, decode i)."""
        if labels is None:
            labels = ["prefill"] + [f"decode {s}" for s in range(1, len(self.rows))]
        return KVTrace(_stack(self.rows), tuple(labels), mode)


@torch.no_grad()
def traced_greedy_decode(
    model: GPT, idx: Tensor, new_tokens: int, *, evict: bool = True
) -> tuple[Tensor, KVTrace]:
    """Greedy generation through a [`RecordingKVCache`][llmkb.infer.kvtrace.RecordingKVCache].

    The same forward calls as ``model.generate(idx, new_tokens, SamplingConfig(temperature=0))`` (prefill,
    then one token per step), so the tokens are identical; the trace shows each call's hits, misses and
    evictions.

    Args:
        model: the model (put in eval mode for the call).
        idx: prompt ``(B, P)``.
        new_tokens: ``N >= 1``.
        evict: let a sliding-window config evict old entries.

    Returns:
        ``(tokens (B, P + N), trace)``; ``trace.mode`` is ``"window"`` when entries were evicted.
    """
    if idx.dim() != 2 or idx.shape[1] < 1 or new_tokens < 1:
        raise ValueError(f"need a (B, P) prompt with P >= 1 and new_tokens >= 1, got {tuple(idx.shape)}")
    was_training = model.training
    model.eval()
    p = model.tok_emb.weight
    cache = RecordingKVCache(
        model.config, idx.shape[0], idx.shape[1] + new_tokens - 1, p.dtype, p.device, evict=evict
    )
    out = idx
    try:
        logits = model(idx, kv_cache=cache).logits  # (B, P, V)
        for step in range(new_tokens):
            nxt = logits[:, -1, :].argmax(dim=-1, keepdim=True)  # (B, 1)
            out = torch.cat((out, nxt.to(out.dtype)), dim=1)
            if step < new_tokens - 1:
                logits = model(nxt, kv_cache=cache).logits  # (B, 1, V)
    finally:
        model.train(was_training)
    return out, cache.trace(mode="window" if cache.window is not None else "cache")


class PrefixCache:
    """A simulated prefix cache keyed by blocks of tokens (no tensors, just the bookkeeping).

    A prompt is cut into full blocks of ``block_size`` tokens; block ``i`` is keyed by
    ``key_i = sha256(key_(i-1) || tokens of block i)``, so a key identifies the block *and its whole
    prefix* (keys and values at a position depend on every earlier token, so a block is only reusable
    after exactly the same prefix). A lookup walks the prompt's keys from the start and stops at the
    first block not stored. A trailing partial block is never stored. At least the last prompt token is
    always computed, because its logits are needed to sample the first new token.

    With ``max_blocks`` set, the least recently used block is dropped when the cache is full.

    Args:
        block_size: tokens per block (>= 1).
        max_blocks: capacity in blocks, or ``None`` for unbounded.
    """

    def __init__(self, block_size: int = 16, max_blocks: int | None = None) -> None:
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        if max_blocks is not None and max_blocks < 1:
            raise ValueError(f"max_blocks must be >= 1 or None, got {max_blocks}")
        self.block_size = block_size
        self.max_blocks = max_blocks
        self._blocks: OrderedDict[str, int] = OrderedDict()  # key -> block index in its prompt
        self.hit_tokens = 0
        self.miss_tokens = 0

    def __len__(self) -> int:
        """Number of blocks stored."""
        return len(self._blocks)

    def keys(self, tokens: Sequence[int]) -> list[str]:
        """Chained keys of the full blocks of ``tokens`` (hex digests)."""
        out: list[str] = []
        parent = b""
        b = self.block_size
        for i in range(len(tokens) // b):
            block = ",".join(str(int(t)) for t in tokens[i * b : (i + 1) * b]).encode()
            digest = hashlib.sha256(parent + b"|" + block).hexdigest()
            out.append(digest)
            parent = digest.encode()
        return out

    def match(self, tokens: Sequence[int]) -> int:
        """Number of leading tokens of ``tokens`` whose keys/values the cache can supply.

        A multiple of ``block_size``, capped at ``len(tokens) - 1``. Does not change the cache.
        """
        n = 0
        for key in self.keys(tokens):
            if key not in self._blocks:
                break
            n += self.block_size
        return max(0, min(n, len(tokens) - 1))

    def insert(self, tokens: Sequence[int]) -> int:
        """Store every full block of ``tokens`` (refreshing ones already there); return how many were new."""
        new = 0
        for i, key in enumerate(self.keys(tokens)):
            if key in self._blocks:
                self._blocks.move_to_end(key)
                continue
            self._blocks[key] = i
            new += 1
            if self.max_blocks is not None and len(self._blocks) > self.max_blocks:
                self._blocks.popitem(last=False)
        return new

    def __call__(self, tokens: Sequence[int]) -> np.ndarray:
        """Serve one prompt: look up its prefix, then store its blocks.

        Returns:
            The prefill's trace row: ``HIT`` for reused positions, ``MISS`` for computed ones.
        """
        if len(tokens) < 1:
            raise ValueError("a prompt needs at least one token")
        reused = self.match(tokens)
        for key in self.keys(tokens)[: reused // self.block_size]:
            self._blocks.move_to_end(key)
        self.insert(tokens)
        self.hit_tokens += reused
        self.miss_tokens += len(tokens) - reused
        row = np.full(len(tokens), MISS, dtype=np.int8)
        row[:reused] = HIT
        return row

    @property
    def hit_rate(self) -> float:
        """Fraction of prompt tokens served so far whose keys/values were reused."""
        total = self.hit_tokens + self.miss_tokens
        return self.hit_tokens / total if total else 0.0


def prefix_reuse_trace(prompts: Sequence[Sequence[int]], block_size: int = 16) -> KVTrace:
    """Prefill ``prompts`` in order through a fresh [`PrefixCache`][llmkb.infer.kvtrace.PrefixCache].

    Args:
        prompts: token-id sequences, each non-empty.
        block_size: tokens per cache block.

    Returns:
        A trace with one row per prompt (``mode="prefix"``); rows of shorter prompts are padded with
        ``EMPTY``.
    """
    cache = PrefixCache(block_size)
    rows = [cache(p) for p in prompts]
    return KVTrace(_stack(rows), tuple(f"prompt {i + 1}" for i in range(len(rows))), "prefix")


def copy_prefix(config: GPTConfig, src: KVCache, n: int, max_len: int) -> KVCache:
    """A new [`KVCache`][llmkb.nn.KVCache] of ``max_len`` positions holding the first ``n`` positions of
    ``src`` (every layer), ready to continue at position ``n``.

    Args:
        config: the model configuration ``src`` was made for.
        src: a cache that has evicted nothing (``src.start == 0``) and holds at least ``n`` positions.
        n: positions to copy (``0 <= n <= src.length``).
        max_len: capacity of the new cache (``>= n``).
    """
    if src.start != 0:
        raise ValueError("cannot copy a prefix out of a cache that has evicted its start")
    if not 0 <= n <= src.length or max_len < n:
        raise ValueError(f"need 0 <= n <= {src.length} and max_len >= n, got n={n}, max_len={max_len}")
    if (src.n_layers, src.n_kv_heads, src.head_dim) != (config.n_layers, config.kv_heads, config.head_dim):
        raise ValueError("the source cache was not made for this config")
    dst = KVCache(config, src.batch_size, max_len, src.k[0].dtype, src.k[0].device, evict=False)
    for layer in range(src.n_layers):
        dst.k[layer][:, :, :n] = src.k[layer][:, :, :n]  # (B, H_kv, n, D)
        dst.v[layer][:, :, :n] = src.v[layer][:, :, :n]
    dst.length = dst.stored = n
    return dst


@torch.no_grad()
def prefix_reuse_check(
    model: GPT, first: Sequence[int], second: Sequence[int], block_size: int = 16
) -> dict[str, Any]:
    """Serve two prompts on a real model and check that reusing the shared prefix changes nothing.

    ``first`` is prefilled into a [`KVCache`][llmkb.nn.KVCache] and registered in a
    [`PrefixCache`][llmkb.infer.kvtrace.PrefixCache]; for ``second`` the prefix cache says how many leading
    tokens are reusable, their keys/values are copied out of the first cache, and only the rest is fed
    through the model. Those logits are compared with a full forward of ``second`` from scratch.

    Args:
        model: a model without a sliding window.
        first: token ids of the first prompt.
        second: token ids of the second prompt (ideally sharing a prefix with ``first``).
        block_size: tokens per prefix-cache block.

    Returns:
        ``reused`` (tokens), ``computed`` (tokens), ``max_abs_diff`` between reused-path and recomputed
        logits of the computed positions, ``same_argmax`` (the next-token choice agrees at every computed
        position), ``flops_saved`` (fraction of the second prefill's token-forwards skipped).
    """
    if model.config.sliding_window is not None:
        raise ValueError("prefix reuse here assumes full attention (config.sliding_window is set)")
    was_training = model.training
    model.eval()
    try:
        p = model.tok_emb.weight
        a = torch.tensor([list(first)], dtype=torch.long, device=p.device)  # (1, Ta)
        b = torch.tensor([list(second)], dtype=torch.long, device=p.device)  # (1, Tb)
        cache_a = KVCache(model.config, 1, a.shape[1], p.dtype, p.device, evict=False)
        model(a, kv_cache=cache_a)
        prefixes = PrefixCache(block_size)
        prefixes.insert(first)
        reused = prefixes.match(second)
        cache_b = copy_prefix(model.config, cache_a, reused, b.shape[1])
        reuse_logits = model(b[:, reused:], kv_cache=cache_b).logits  # (1, Tb - reused, V)
        full_logits = model(b).logits[:, reused:]  # (1, Tb - reused, V)
    finally:
        model.train(was_training)
    same = bool((reuse_logits.argmax(-1) == full_logits.argmax(-1)).all())
    return {
        "reused": reused,
        "computed": b.shape[1] - reused,
        "max_abs_diff": float((reuse_logits - full_logits).abs().max()),
        "same_argmax": same,
        "flops_saved": reused / b.shape[1],
    }


def _attention_pairs(first_query: int, n_queries: int, window: int | None) -> int:
    """Causal (query, key) pairs of queries ``first_query .. first_query + n_queries - 1`` over keys from 0."""
    q = np.arange(first_query, first_query + n_queries, dtype=np.int64) + 1  # keys visible to each query
    if window is not None:
        q = np.minimum(q, window)
    return int(q.sum())


def decode_cost(
    config: GPTConfig, prompt_len: int, new_tokens: int, *, use_cache: bool = True
) -> dict[str, int]:
    """Work of generating ``N`` tokens from a ``P``-token prompt, counted from the forward calls.

    With ``N_b`` the non-embedding parameters, ``d`` the width, ``V`` the vocabulary and ``L`` the layers
    (Kaplan et al. 2020, arXiv 2001.08361; Pope et al. 2022, arXiv 2211.05102):

    * token-forwards ``F``: with the cache ``P + N - 1``; without it ``N P + N (N - 1) / 2``
      (call ``s`` re-runs all ``P + s`` positions), so the ratio grows like ``N / 2``;
    * attention pairs ``A``: the causal (query, key) pairs scored, ``sum_q min(q + 1, W)`` over the
      queries of every call; O(T^2) with the cache, O(T^3) without;
    * FLOPs ``= (2 N_b + 2 V d) F + 4 L d A`` — a multiply-add per weight per token through the blocks and
      the LM head (this model computes logits for every fed position), plus ``Q K^T`` and ``A V``
      (``2 d`` each per pair and layer).

    Args:
        config: model configuration (its ``sliding_window`` limits the pairs).
        prompt_len: ``P >= 1``.
        new_tokens: ``N >= 1``.
        use_cache: decode with a KV cache.

    Returns:
        ``{"token_forwards": F, "attention_pairs": A, "flops": ...}``.
    """
    if prompt_len < 1 or new_tokens < 1:
        raise ValueError(f"prompt_len and new_tokens must be >= 1, got {prompt_len} and {new_tokens}")
    window = config.sliding_window
    if use_cache:
        calls = [(0, prompt_len)] + [(prompt_len + s - 1, 1) for s in range(1, new_tokens)]
    else:
        calls = [(0, prompt_len + s) for s in range(new_tokens)]
    forwards = sum(n for _, n in calls)
    pairs = sum(_attention_pairs(first, n, window) for first, n in calls)
    body = count_parameters(config, exclude_embeddings=True)
    d = config.d_model
    flops = (2 * body + 2 * config.vocab_size * d) * forwards + 4 * config.n_layers * d * pairs
    return {"token_forwards": forwards, "attention_pairs": pairs, "flops": flops}
