"""Tests of ``llmkb.nn.attention`` that the attention page teaches: the mask helpers (``causal_mask``,
``padding_mask``, ``combine_masks``) and explicit attention under those masks, by property against brute-force
definitions and ``torch.nn.functional.scaled_dot_product_attention``; the shapes ``scaled_dot_product``
accepts (any leading dims) and rejects; and what a query with no visible key (left padding) gets.

The model-level auto-regressive property (future tokens never change past logits) is tested in
``tests/test_nn.py::test_future_tokens_never_change_past_logits``.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from llmkb.nn.attention import causal_mask, combine_masks, padding_mask, scaled_dot_product

_lengths = st.lists(st.integers(1, 9), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(T=st.integers(1, 24), window=st.one_of(st.none(), st.integers(1, 24)))
def test_causal_mask_is_the_brute_force_definition(T: int, window: int | None) -> None:
    m = causal_mask(T, window=window)
    assert m.shape == (T, T) and m.dtype == torch.bool
    for i in range(T):
        for j in range(T):
            assert bool(m[i, j]) == (j <= i and (window is None or i - j < window))
    if window is None:
        assert torch.equal(m, torch.ones(T, T, dtype=torch.bool).tril())
        assert int(m.sum()) == T * (T + 1) // 2


@settings(max_examples=60, deadline=None)
@given(lengths=_lengths, extra=st.integers(0, 3))
def test_padding_mask_from_lengths_equals_from_bool(lengths: list[int], extra: int) -> None:
    S = max(lengths) + extra
    lens = torch.tensor(lengths)
    m = padding_mask(lens, max_len=S)
    assert m.shape == (len(lengths), 1, 1, S)
    keep = torch.tensor([[s < n for s in range(S)] for n in lengths])  # (B, S)
    assert torch.equal(m[:, 0, 0], keep)
    assert torch.equal(padding_mask(keep), m)
    assert padding_mask(lens).shape[-1] == max(lengths)  # default S = longest


@settings(max_examples=40, deadline=None)
@given(lengths=_lengths, window=st.one_of(st.none(), st.integers(1, 9)), with_none=st.booleans())
def test_combine_masks_is_broadcast_logical_and(
    lengths: list[int], window: int | None, with_none: bool
) -> None:
    T = max(lengths)
    causal, pad = causal_mask(T, window=window), padding_mask(torch.tensor(lengths))
    parts = [causal, None, pad] if with_none else [causal, pad]
    m = combine_masks(*parts)
    assert m is not None and m.shape == (len(lengths), 1, T, T)
    for b, n in enumerate(lengths):
        for i in range(T):
            for j in range(T):
                assert bool(m[b, 0, i, j]) == (bool(causal[i, j]) and j < n)
    assert torch.equal(combine_masks(pad, causal), m)  # order does not matter
    assert combine_masks(None) is None and combine_masks(causal) is causal


@settings(max_examples=25, deadline=None)
@given(lengths=_lengths, H=st.integers(1, 3), D=st.sampled_from([2, 4, 8]), seed=st.integers(0, 2**16))
def test_masked_attention_equals_sdpa_and_ignores_masked_keys(
    lengths: list[int], H: int, D: int, seed: int
) -> None:
    B, T = len(lengths), max(lengths)
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, T, D, generator=g, dtype=torch.float64) for _ in range(3))  # (B, H, T, D)
    mask = combine_masks(causal_mask(T), padding_mask(torch.tensor(lengths)))  # (B, 1, T, T)
    assert mask is not None
    out, w = scaled_dot_product(q, k, v, mask=mask)
    # every query row keeps key 0 (causal, and every sequence has >= 1 real token), so no row is empty
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-10, rtol=0
    )
    torch.testing.assert_close(w.sum(-1), torch.ones(B, H, T, dtype=torch.float64))
    assert torch.all(w.masked_select(~mask.expand(B, H, T, T)) == 0)
    # padded keys can hold anything: no output changes, not even in the last bit
    noise = torch.randn(B, H, T, D, generator=g, dtype=torch.float64) * 100
    k2, v2 = k.clone(), v.clone()
    for b, n in enumerate(lengths):
        k2[b, :, n:], v2[b, :, n:] = noise[b, :, n:], noise[b, :, n:]
    out2, _ = scaled_dot_product(q, k2, v2, mask=mask)
    assert torch.equal(out, out2)


@pytest.mark.parametrize(
    ("q_shape", "kv_shape"),
    [
        ((12, 8), (16, 8)),  # (T, D): one sequence, one head
        ((2, 12, 8), (2, 16, 8)),  # (B, T, D)
        ((2, 4, 12, 8), (2, 4, 16, 8)),  # (B, H, T, D)
        ((2, 3, 4, 12, 8), (2, 3, 4, 16, 8)),  # (B, G, H, T, D)
        ((2, 3, 4, 12, 8), (2, 3, 2, 16, 8)),  # grouped-query heads on axis -3
    ],
)
def test_scaled_dot_product_takes_any_leading_dims_like_sdpa(
    q_shape: tuple[int, ...], kv_shape: tuple[int, ...]
) -> None:
    g = torch.Generator().manual_seed(0)
    q = torch.randn(q_shape, generator=g, dtype=torch.float64)
    k, v = (torch.randn(kv_shape, generator=g, dtype=torch.float64) for _ in range(2))
    T, S = q_shape[-2], kv_shape[-2]
    mask = causal_mask(S)[S - T :]  # (T, S): the T queries are the last T of the S positions
    gqa = len(q_shape) >= 3 and q_shape[-3] != kv_shape[-3]
    for m in (None, mask):
        out, w = scaled_dot_product(q, k, v, mask=m)
        ref = F.scaled_dot_product_attention(q, k, v, attn_mask=m, enable_gqa=gqa)
        assert out.shape == ref.shape == q_shape and w.shape == (*q_shape[:-1], S)
        torch.testing.assert_close(out, ref, atol=1e-12, rtol=0)
        torch.testing.assert_close(w.sum(-1), torch.ones(q_shape[:-1], dtype=torch.float64))


@pytest.mark.parametrize(
    ("q_shape", "k_shape", "v_shape"),
    [
        ((8,), (8,), (8,)),  # no sequence axis
        ((2, 12, 8), (2, 16, 4), (2, 16, 4)),  # head widths differ
        ((2, 12, 8), (2, 16, 8), (2, 15, 8)),  # keys and values of different lengths
        ((2, 4, 12, 8), (2, 16, 8), (2, 16, 8)),  # ranks differ
        ((2, 4, 12, 8), (3, 4, 16, 8), (3, 4, 16, 8)),  # batch sizes differ
        ((2, 4, 12, 8), (2, 3, 16, 8), (2, 3, 16, 8)),  # 3 kv heads do not divide 4 query heads
        ((2, 4, 12, 8), (2, 2, 16, 8), (2, 1, 16, 8)),  # keys and values with different heads
    ],
)
def test_scaled_dot_product_rejects_shapes_that_do_not_fit(
    q_shape: tuple[int, ...], k_shape: tuple[int, ...], v_shape: tuple[int, ...]
) -> None:
    q, k, v = torch.randn(q_shape), torch.randn(k_shape), torch.randn(v_shape)
    with pytest.raises(ValueError, match=r"^scaled_dot_product needs .*got q .*, k .*, v ") as err:
        scaled_dot_product(q, k, v)
    assert str(tuple(q_shape)) in str(err.value) and "\n" not in str(err.value)


def _left_padded() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two sequences of 4 positions, the second left-padded (2 pad tokens, then 2 real ones)."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, 4, 8, generator=g, dtype=torch.float64) for _ in range(3))  # (B, H, T, D)
    real = torch.tensor([[True, True, True, True], [False, False, True, True]])  # (B, S)
    mask = combine_masks(causal_mask(4), padding_mask(real))  # (B, 1, T, S)
    assert mask is not None
    return q, k, v, mask


def test_left_padding_leaves_pad_queries_without_a_key() -> None:
    q, k, v, mask = _left_padded()
    empty = ~mask.any(-1)  # (B, 1, T): rows with no visible key
    assert empty[1, 0].tolist() == [True, True, False, False] and not empty[0].any()
    out, w = scaled_dot_product(q, k, v, mask=mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    # llmkb: softmax of an all -inf row is NaN, in the weights and the output; fused SDPA: zeros
    assert torch.isnan(w[1, :, :2]).all() and torch.isnan(out[1, :, :2]).all()
    assert torch.equal(ref[1, :, :2], torch.zeros_like(ref[1, :, :2]))
    # every other row agrees, and a real query never weighs a pad key
    torch.testing.assert_close(out[1, :, 2:], ref[1, :, 2:], atol=1e-12, rtol=0)
    torch.testing.assert_close(out[0], ref[0], atol=1e-12, rtol=0)
    assert torch.all(w[1, :, 2:, :2] == 0)
    # a second attention layer over those outputs: weight 0 times a NaN value is NaN, so it spreads
    out2, _ = scaled_dot_product(out, out, out, mask=mask)
    assert torch.isnan(out2[1]).all() and not torch.isnan(out2[0]).any()


def test_letting_every_query_see_itself_removes_the_empty_rows() -> None:
    q, k, v, mask = _left_padded()
    fixed = mask | torch.eye(4, dtype=torch.bool)  # (B, 1, T, S): a pad query sees its own key
    out, _ = scaled_dot_product(q, k, v, mask=fixed)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[1, :, 2:], scaled_dot_product(q, k, v, mask=mask)[0][1, :, 2:])
    out2, _ = scaled_dot_product(out, out, out, mask=fixed)
    assert torch.isfinite(out2).all()
