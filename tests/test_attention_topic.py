"""Property tests of the attention mask helpers the attention page teaches (``causal_mask``,
``padding_mask``, ``combine_masks``) and of explicit attention under those masks, against brute-force
definitions and ``torch.nn.functional.scaled_dot_product_attention``.

The model-level auto-regressive property (future tokens never change past logits) is tested in
``tests/test_nn.py::test_future_tokens_never_change_past_logits``.
"""

from __future__ import annotations

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
