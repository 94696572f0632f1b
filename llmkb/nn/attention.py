"""Causal multi-head self-attention: the explicit formula, masks, and the production module.

Scaled dot-product attention (Vaswani et al. 2017, "Attention Is All You Need", arXiv 1706.03762):

``Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + B + M) V``

with an optional additive bias ``B`` (e.g. ALiBi) and a mask ``M`` that is 0 where attention is allowed and
``-inf`` where it is not. Boolean masks in this module follow PyTorch's SDPA convention: **True = may
attend**.

Shapes: ``B`` batch, ``H`` query heads, ``H_kv`` key/value heads, ``T`` queries, ``S`` keys, ``D`` head width.

Kernels. ``GPTConfig.attention`` names an entry of [`KERNELS`][llmkb.nn.attention.KERNELS], a function
``kernel(q, k, v, mask, bias, dropout_p, is_causal) -> (out (B, H, T, D), weights (B, H, T, S) | None)``
with ``mask`` bool ``(T, S)`` or ``None``, ``bias`` ``(H, T, S)`` or ``None``, and ``is_causal`` meaning
"``mask`` is ``None`` and the keys are exactly the queries: apply the causal mask yourself". A new kernel
(chunked, flash, quantized) is one function plus one entry in ``KERNELS``.

A kernel named in [`BLOCKWISE`][llmkb.nn.attention.BLOCKWISE] works block by block and is called differently:
``mask`` is ``None``, ``is_causal`` is True with the queries the last ``T`` of the ``S`` keys, the sliding
window comes as the keyword ``window=`` and a positional bias as a
[`BiasFn`][llmkb.nn.attention_chunked.BiasFn] evaluated per block, so the model never builds a ``(T, S)`` mask
or an ``(H, T, S)`` bias for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from llmkb.nn.attention_chunked import BiasFn, chunked_kernel
from llmkb.nn.hooks import NO_HOOKS, Hooks
from llmkb.nn.positional import NO_POSITION, PositionalScheme

if TYPE_CHECKING:
    from llmkb.nn.config import GPTConfig
    from llmkb.nn.kv_cache import BaseKVCache

__all__ = [
    "scaled_dot_product",
    "causal_mask",
    "position_mask",
    "padding_mask",
    "combine_masks",
    "repeat_kv",
    "naive_attention",
    "sdpa_attention",
    "KERNELS",
    "BLOCKWISE",
    "MultiHeadAttention",
]

# --------------------------------------------------------------------------------------------------
# masks (bool, True = may attend)
# --------------------------------------------------------------------------------------------------


def causal_mask(T: int, device: torch.device | str | None = None, *, window: int | None = None) -> Tensor:
    """Lower-triangular mask ``(T, T)``: query ``i`` may attend to key ``j`` iff ``j <= i``.

    Args:
        T: sequence length.
        device: device of the result.
        window: if set, additionally ``i - j < window`` (sliding-window attention).

    Returns:
        Bool tensor ``(T, T)``.
    """
    pos = torch.arange(T, device=device)
    return position_mask(pos, pos, window)


def position_mask(query_positions: Tensor, key_positions: Tensor, window: int | None = None) -> Tensor:
    """Causal (and optionally sliding-window) mask from absolute positions.

    Query at position ``p`` may attend key at position ``s`` iff ``0 <= p - s`` and, with a window,
    ``p - s < window``. This single rule covers full sequences, cached decoding (keys start earlier than the
    queries) and evicting caches (keys start later than position 0).

    Args:
        query_positions: ``(T,)`` absolute positions.
        key_positions: ``(S,)`` absolute positions.
        window: sliding-window size or ``None``.

    Returns:
        Bool tensor ``(T, S)``.
    """
    distance = query_positions[:, None] - key_positions[None, :]  # (T, S)
    allowed = distance >= 0
    if window is not None:
        allowed = allowed & (distance < window)
    return allowed


def padding_mask(lengths_or_mask: Tensor, max_len: int | None = None) -> Tensor:
    """Key-padding mask broadcastable against scores ``(B, H, T, S)``.

    Args:
        lengths_or_mask: either lengths ``(B,)`` (integer; the first ``length`` keys of each row are real,
            i.e. right padding) or a bool tensor ``(B, S)`` with True at real tokens.
        max_len: ``S`` when lengths are given (default: the largest length).

    Returns:
        Bool tensor ``(B, 1, 1, S)``, True where the key is a real token.
    """
    if lengths_or_mask.dtype == torch.bool:
        if lengths_or_mask.dim() != 2:
            raise ValueError(f"a bool padding mask must be (B, S), got shape {tuple(lengths_or_mask.shape)}")
        keep = lengths_or_mask
    else:
        if lengths_or_mask.dim() != 1:
            raise ValueError(f"lengths must be (B,), got shape {tuple(lengths_or_mask.shape)}")
        S = int(lengths_or_mask.max()) if max_len is None else max_len
        keep = torch.arange(S, device=lengths_or_mask.device)[None, :] < lengths_or_mask[:, None]  # (B, S)
    return keep[:, None, None, :]


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """Logical AND of bool masks with broadcasting; ``None`` entries are ignored (all ``None``: ``None``)."""
    out: Tensor | None = None
    for m in masks:
        if m is None:
            continue
        out = m if out is None else out & m
    return out


# --------------------------------------------------------------------------------------------------
# the formula
# --------------------------------------------------------------------------------------------------


def repeat_kv(x: Tensor, n_rep: int) -> Tensor:
    """Expand ``(..., H_kv, S, D)`` to ``(..., H_kv * n_rep, S, D)``; kv head ``g`` serves query heads
    ``g*n_rep .. (g+1)*n_rep - 1`` (grouped-query attention, Ainslie et al. 2023, arXiv 2305.13245)."""
    if n_rep == 1:
        return x
    return x.repeat_interleave(n_rep, dim=-3)


def _check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    """Raise a one-line ``ValueError`` unless ``q (..., H, T, D)``, ``k (..., H_kv, S, D)`` and
    ``v (..., H_kv, S, D_v)`` agree (same rank >= 2, same leading dims, ``H_kv`` dividing ``H``)."""
    ok = q.dim() >= 2 and q.dim() == k.dim() == v.dim()
    ok = ok and q.shape[-1] == k.shape[-1] and k.shape[-2] == v.shape[-2] and q.shape[:-3] == k.shape[:-3]
    ok = ok and k.shape[:-2] == v.shape[:-2]
    if ok and q.dim() >= 3:
        ok = k.shape[-3] > 0 and q.shape[-3] % k.shape[-3] == 0
    if not ok:
        raise ValueError(
            "scaled_dot_product needs q (..., H, T, D), k (..., H_kv, S, D), v (..., H_kv, S, D_v) with the "
            f"same leading dims and H_kv dividing H; got q {tuple(q.shape)}, k {tuple(k.shape)}, "
            f"v {tuple(v.shape)}"
        )


def scaled_dot_product(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    bias: Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Explicit attention ``softmax(Q K^T / sqrt(D) + bias, masked) V`` (Vaswani et al. 2017, 1706.03762).

    Materializes the ``(T, S)`` weight matrix (O(T*S) memory), which is what makes it useful for inspection.
    Any leading dims are allowed, as in ``torch.nn.functional.scaled_dot_product_attention``: ``(T, D)``,
    ``(B, T, D)``, ``(B, H, T, D)``, ``(B, G, H, T, D)``. With three or more dims, axis ``-3`` is the heads
    axis: keys and values may have fewer heads than the queries (grouped-query attention, Ainslie et al.
    2023, arXiv 2305.13245). Query head ``h`` reads key/value head ``h // g`` with ``g = H / H_kv``, exactly
    as if K and V went through [`repeat_kv`][llmkb.nn.attention.repeat_kv]; but the ``g`` query heads of a
    group are stacked along the query axis instead (``(..., H_kv, g T, D)``), so the shared keys and values
    are read once per group and never copied.

    Args:
        q: queries ``(..., H, T, D)``.
        k: keys ``(..., H_kv, S, D)``, the same leading dims, ``H_kv`` dividing ``H``.
        v: values ``(..., H_kv, S, D_v)``.
        mask: bool, broadcastable to ``(..., H, T, S)``, True = may attend.
        bias: float, broadcastable to ``(..., H, T, S)``, added to the scores.
        dropout_p: dropout on the weights (applied to the product only; returned weights are pre-dropout).

    Returns:
        ``(out (..., H, T, D_v), weights (..., H, T, S))``. A query row with no allowed key gives NaN (weights
        and output), as softmax over an all ``-inf`` row does; PyTorch's fused SDPA returns zeros there.

    Raises:
        ValueError: shapes that do not fit the pattern above (a one-line message naming all three).
    """
    _check_qkv(q, k, v)
    if q.dim() < 3:  # (T, D): one head, nothing to group
        out, weights = scaled_dot_product(q[None], k[None], v[None], mask, bias, dropout_p)
        return out[0], weights[0]
    *lead, H, T, D = q.shape
    H_kv, S, D_v = k.shape[-3], k.shape[-2], v.shape[-1]
    # The g = H / H_kv query heads that share key/value head j (heads j*g .. j*g+g-1) are stacked along the
    # query axis, so each shared K and V is multiplied once and never copied g times (no repeat_kv).
    q_grouped = q.reshape(*lead, H_kv, (H // H_kv) * T, D)  # (..., H_kv, g*T, D)
    scores = (q_grouped @ k.transpose(-2, -1)).view(*lead, H, T, S)  # (..., H, T, S)
    scores = scores * (1.0 / math.sqrt(D))
    if bias is not None:
        scores = scores + bias
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (..., H, T, S)
    dropped = F.dropout(weights, p=dropout_p) if dropout_p > 0.0 else weights
    out = dropped.reshape(*lead, H_kv, (H // H_kv) * T, S) @ v  # (..., H_kv, g*T, D_v)
    return out.view(*lead, H, T, D_v), weights  # (..., H, T, D_v), (..., H, T, S)


def naive_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None,
    bias: Tensor | None,
    dropout_p: float,
    is_causal: bool,
) -> tuple[Tensor, Tensor]:
    """Kernel ``naive``: [`scaled_dot_product`][llmkb.nn.attention.scaled_dot_product], with the weights."""
    if is_causal:
        mask = causal_mask(q.shape[2], q.device)  # (T, T)
    return scaled_dot_product(q, k, v, mask, None if bias is None else bias.to(q.dtype), dropout_p)


def sdpa_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None,
    bias: Tensor | None,
    dropout_p: float,
    is_causal: bool,
) -> tuple[Tensor, None]:
    """Kernel ``sdpa``: ``torch.nn.functional.scaled_dot_product_attention`` (fused; no weights)."""
    attn_mask: Tensor | None = mask
    if bias is not None:
        attn_mask = bias.to(q.dtype)  # (H, T, S) float
        if mask is not None:
            attn_mask = torch.where(mask, attn_mask, float("-inf"))  # broadcasts a (B, 1, T, S) mask
    out = F.scaled_dot_product_attention(
        q,
        k,
        v,
        attn_mask=attn_mask,
        dropout_p=dropout_p,
        is_causal=is_causal,
        enable_gqa=q.shape[1] != k.shape[1],
    )  # (B, H, T, D)
    return out, None


AttentionKernel = Callable[
    [Tensor, Tensor, Tensor, Tensor | None, Tensor | None, float, bool], tuple[Tensor, Tensor | None]
]
KERNELS: dict[str, AttentionKernel] = {
    "naive": naive_attention,
    "sdpa": sdpa_attention,
    "chunked": chunked_kernel,
}
"""Attention kernels by ``GPTConfig.attention`` name (protocol in the module docstring)."""


class BlockwiseKernel(Protocol):
    """A kernel that also takes the sliding window as ``window=`` and the bias as a per-block function."""

    def __call__(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        mask: Tensor | None,
        bias: Tensor | BiasFn | None,
        dropout_p: float,
        is_causal: bool,
        *,
        window: int | None = None,
    ) -> tuple[Tensor, Tensor | None]: ...


BLOCKWISE: dict[str, BlockwiseKernel] = {"chunked": chunked_kernel}
"""The kernels of ``KERNELS`` that the model calls blockwise: window as ``window=``, bias as a function, no mask
(see the module docstring)."""


# --------------------------------------------------------------------------------------------------
# the module
# --------------------------------------------------------------------------------------------------


class MultiHeadAttention(nn.Module):
    """Causal multi-head self-attention with GQA, RoPE/ALiBi, sliding window, KV cache and hooks.

    ``head_h = Attention(x W_q^h, x W_k^{g(h)}, x W_v^{g(h)})`` and ``out = concat_h(head_h) W_o``, where
    ``g(h) = h // (H / H_kv)`` maps query heads to shared key/value heads (Ainslie et al. 2023,
    arXiv 2305.13245; ``H_kv = H`` is Vaswani et al. 2017, ``H_kv = 1`` is multi-query attention,
    Shazeer 2019, arXiv 1911.02150).

    Order of operations on ``x`` ``(B, T, d)``: project to q/k/v -> ``hooks.qkv`` -> ``positional.rotate``
    -> write to / read from the KV cache -> kernel (with ``positional.score_bias``) -> ``hooks.heads``
    -> output projection -> dropout. Hooks (see [`llmkb.nn.hooks`][llmkb.nn.hooks]) change what q/k/v or
    the head outputs *are* without changing the parameters.

    Args:
        config: the model configuration.
        layer_idx: index of this layer (selects its slot in a KV cache).
    """

    def __init__(self, config: GPTConfig, layer_idx: int = 0) -> None:
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.n_heads, self.n_kv_heads, self.head_dim = config.n_heads, config.kv_heads, config.head_dim
        d, hd = config.d_model, config.head_dim
        self.q_proj = nn.Linear(d, self.n_heads * hd, bias=config.bias)
        self.k_proj = nn.Linear(d, self.n_kv_heads * hd, bias=config.bias)
        self.v_proj = nn.Linear(d, self.n_kv_heads * hd, bias=config.bias)
        self.o_proj = nn.Linear(self.n_heads * hd, d, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.kernel = KERNELS[config.attention]
        self.blockwise = BLOCKWISE.get(config.attention)

    def _split(self, x: Tensor, n: int) -> Tensor:
        B, T, _ = x.shape
        return x.view(B, T, n, self.head_dim).transpose(1, 2)  # (B, n, T, D)

    def _mask_and_bias(
        self,
        T: int,
        S: int,
        pos_offset: int,
        key_start: int,
        positional: PositionalScheme,
        device: torch.device,
    ) -> tuple[Tensor | None, Tensor | None, bool]:
        """Return ``(bool mask (T, S) | None, bias (H, T, S) | None, is_causal)`` for this call."""
        window = self.config.sliding_window
        q_pos = torch.arange(pos_offset, pos_offset + T, device=device)  # (T,)
        k_pos = torch.arange(key_start, key_start + S, device=device)  # (S,)
        bias = positional.score_bias(q_pos, k_pos)  # (H, T, S) | None
        if bias is None and window is None:
            if T == 1:
                return None, None, False  # one query sees every cached key (all are in its past)
            if S == T and key_start == pos_offset:  # keys are exactly the queries
                return None, None, True
        return position_mask(q_pos, k_pos, window), bias, False  # (T, S)

    @staticmethod
    def _bias_fn(positional: PositionalScheme, key_start: int, device: torch.device) -> BiasFn | None:
        """The scheme's score bias as a per-block function of key indices (``None``: the scheme has none)."""
        one = torch.zeros(1, dtype=torch.long, device=device)
        if positional.score_bias(one, one) is None:
            return None
        return lambda qi, kj: positional.score_bias(qi + key_start, kj + key_start)  # (H, t, c)

    def _cross(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        attn_mask: Tensor | None,
        kv_cache: BaseKVCache | None,
        return_weights: bool,
        hooks: Hooks,
    ) -> tuple[Tensor, Tensor | None]:
        """Cross-attention of queries ``(B, H, T, D)`` over keys/values ``(B, H_kv, S, D)``: no causal mask."""
        if kv_cache is not None or self.blockwise is not None:
            raise ValueError(
                f"cross-attention takes no KV cache and a full kernel, not {self.config.attention}"
            )
        B, _, T, _ = q.shape
        p = self.config.dropout if self.training else 0.0
        kernel = naive_attention if return_weights else self.kernel
        y, weights = kernel(q, k, v, attn_mask, None, p, False)  # (B, H, T, D), (B, H, T, S) | None
        if hooks.heads is not None:
            y = hooks.heads(y)
        y = y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim)  # (B, T, H*D)
        return self.resid_dropout(self.o_proj(y)), weights

    def forward(
        self,
        x: Tensor,
        *,
        pos_offset: int = 0,
        positional: PositionalScheme | None = None,
        kv_cache: BaseKVCache | None = None,
        return_weights: bool = False,
        hooks: Hooks = NO_HOOKS,
        attn_mask: Tensor | None = None,
        kv: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend causally over ``x`` (and the cached past), or as ``attn_mask`` says, or over ``kv``.

        Args:
            x: ``(B, T, d_model)`` normalized layer input.
            pos_offset: absolute position of ``x[:, 0]``.
            positional: the model's positional scheme (rotation and score bias); ``None``: no positions.
            kv_cache: cache to append this call's keys/values to and read the past from.
            return_weights: also return the attention weights (forces the ``naive`` kernel).
            hooks: the ablation hooks in force.
            attn_mask: bool ``(T, T)`` or ``(B, 1, T, T)``, True = may attend, replacing the causal mask
                (bidirectional or prefix-LM attention, :mod:`llmkb.data.objectives`); no KV cache, no
                sliding window, not with a blockwise kernel.
            kv: ``(B, S, d_model)`` a second sequence to take keys and values from: cross-attention
                (encoder-decoder, Vaswani et al. 2017), ``softmax(x W_q (kv W_k)^T / sqrt(D)) kv W_v``. No
                positions (the two sequences have none in common), no KV cache; ``attn_mask`` (bool,
                broadcastable to ``(B, 1, T, S)``, e.g. the source's padding) limits the keys.

        Returns:
            ``(out (B, T, d_model), weights (B, H, T, S) | None)``.
        """
        B, T, _ = x.shape
        q = self._split(self.q_proj(x), self.n_heads)  # (B, H, T, D)
        src = x if kv is None else kv  # cross-attention: keys and values come from the other sequence
        k = self._split(self.k_proj(src), self.n_kv_heads)  # (B, H_kv, S, D)
        v = self._split(self.v_proj(src), self.n_kv_heads)  # (B, H_kv, S, D)
        if hooks.qkv is not None:
            q, k, v = hooks.qkv(q, k, v, x)
        if kv is not None:
            return self._cross(q, k, v, attn_mask, kv_cache, return_weights, hooks)
        positional = positional or NO_POSITION
        q, k = positional.rotate(q, k, pos_offset)
        key_start = pos_offset
        if kv_cache is not None:
            key_start = kv_cache.start
            k, v = kv_cache.update(self.layer_idx, k, v)  # (B, H_kv, S, D): cached past + this call
        p = self.config.dropout if self.training else 0.0
        if attn_mask is not None:
            if kv_cache is not None or self.blockwise is not None or self.config.sliding_window is not None:
                raise ValueError(
                    f"attn_mask needs no KV cache, no sliding window and a full kernel, not {self.config.attention}"
                )
            q_pos = torch.arange(pos_offset, pos_offset + T, device=x.device)  # (T,)
            bias = positional.score_bias(q_pos, q_pos)  # (H, T, T) | None
            kernel = naive_attention if return_weights else self.kernel
            y, weights = kernel(q, k, v, attn_mask, bias, p, False)  # (B, H, T, D), (B, H, T, T) | None
        elif self.blockwise is not None and not return_weights:
            bias_fn = self._bias_fn(positional, key_start, x.device)
            if key_start + k.shape[2] != pos_offset + T:
                raise ValueError(
                    f"keys {key_start}..{key_start + k.shape[2] - 1} must end at the last query "
                    f"{pos_offset + T - 1} for the {self.config.attention} kernel"
                )
            y, weights = self.blockwise(q, k, v, None, bias_fn, p, True, window=self.config.sliding_window)
        else:
            mask, bias, is_causal = self._mask_and_bias(
                T, k.shape[2], pos_offset, key_start, positional, x.device
            )
            kernel = naive_attention if return_weights else self.kernel
            y, weights = kernel(q, k, v, mask, bias, p, is_causal)  # (B, H, T, D), (B, H, T, S) | None
        if hooks.heads is not None:
            y = hooks.heads(y)
        y = y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim)  # (B, T, H*D)
        return self.resid_dropout(self.o_proj(y)), weights
