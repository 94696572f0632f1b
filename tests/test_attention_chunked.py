"""Tests of ``llmkb.nn.attention_chunked``: the online-softmax kernel equals PyTorch's SDPA (values and
gradients) on random shapes, with chunk sizes that do not divide T, causal or not, with a window, with fewer
key/value heads than query heads; the banded path reads only key blocks inside the window (counted); and the
``chunked`` kernel runs a model as the ``sdpa`` kernel does, sliding window included.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from llmkb.infer.sampling import SamplingConfig
from llmkb.nn import GPT, GPTConfig, attention, chunked_attention
from llmkb.nn.attention_chunked import key_block_range


def _reference_mask(T: int, S: int, causal: bool, window: int | None) -> torch.Tensor:
    """``(T, S)`` bool: queries are the last T of S positions; the rules of ``chunked_attention``."""
    dist = torch.arange(S - T, S)[:, None] - torch.arange(S)[None, :]  # (T, S)
    allowed = dist >= 0 if causal else torch.ones(T, S, dtype=torch.bool)
    if window is not None:
        allowed = allowed & (dist.abs() < window)
    return allowed


_shapes = st.fixed_dictionaries(
    {
        "T": st.integers(1, 33),
        "extra": st.integers(0, 9),
        "chunk": st.integers(2, 16),
        "kv_heads": st.sampled_from([1, 2, 4]),
        "group": st.sampled_from([1, 2, 3]),
        "causal": st.booleans(),
        "window": st.one_of(st.none(), st.integers(1, 30)),
        "seed": st.integers(0, 2**16),
    }
)


@settings(max_examples=25, deadline=None)
@given(s=_shapes)
def test_chunked_equals_sdpa_values_and_gradients(s: dict) -> None:
    T, S = s["T"], s["T"] + s["extra"]
    H_kv = s["kv_heads"]
    H = H_kv * s["group"]
    g = torch.Generator().manual_seed(s["seed"])
    q = torch.randn(2, H, T, 8, generator=g, requires_grad=True)
    k = torch.randn(2, H_kv, S, 8, generator=g, requires_grad=True)
    v = torch.randn(2, H_kv, S, 8, generator=g, requires_grad=True)
    mask = _reference_mask(T, S, s["causal"], s["window"])
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=H != H_kv)
    ref = ref * mask.any(-1)[:, None].to(ref.dtype)  # rows with no visible key: zeros, as the kernel says
    out = chunked_attention(q, k, v, causal=s["causal"], window=s["window"], chunk_size=s["chunk"])
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    grad_out = torch.randn(ref.shape, generator=g)
    want = torch.autograd.grad(ref, (q, k, v), grad_out)
    got = torch.autograd.grad(out, (q, k, v), grad_out)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


@settings(max_examples=40, deadline=None)
@given(
    T=st.integers(2, 90),
    chunk=st.integers(2, 16),
    window=st.integers(1, 40),
    causal=st.booleans(),
)
def test_banded_path_reads_only_key_blocks_inside_the_window(
    T: int, chunk: int, window: int, causal: bool
) -> None:
    q = k = v = torch.randn(1, 1, T, 4)
    trace: list[tuple[int, int]] = []
    chunked_attention(q, k, v, causal=causal, window=window, chunk_size=chunk, trace=trace)
    mask = _reference_mask(T, T, causal, window)
    n_q = -(-T // chunk)
    needed = {
        (qi, kj)
        for qi in range(n_q)
        for kj in range(n_q)
        if bool(mask[qi * chunk : (qi + 1) * chunk, kj * chunk : (kj + 1) * chunk].any())
    }
    assert len(trace) == len(set(trace))  # no block read twice
    assert set(trace) == needed  # every block read has a visible key, and every such block is read
    # a narrow band reads a fraction of the n_q^2 blocks: with 2w + c < T and c <= w the first query block cannot
    # reach the last key block (it sees keys up to c - 1 + w < T - c), even when the window looks both ways
    if 2 * window + chunk < T and chunk <= window:
        assert len(trace) < n_q * n_q


def test_key_block_range_at_the_edges() -> None:
    assert key_block_range(0, 4, 16, 4, causal=True, window=None) == (0, 1)
    assert key_block_range(12, 16, 16, 4, causal=True, window=4) == (2, 4)  # keys 9..15
    assert key_block_range(12, 16, 16, 4, causal=False, window=None) == (0, 4)
    assert key_block_range(0, 4, 16, 4, causal=False, window=2) == (0, 2)  # keys 0..4
    assert key_block_range(0, 1, 16, 4, causal=True, window=1) == (0, 1)  # the first query sees itself


def test_explicit_mask_and_bias_equal_sdpa() -> None:
    torch.manual_seed(0)
    q, k, v = torch.randn(1, 4, 20, 8), torch.randn(1, 2, 20, 8), torch.randn(1, 2, 20, 8)
    bias = torch.randn(4, 20, 20)
    mask = torch.rand(20, 20) > 0.3
    mask[:, 0] = True
    trace: list[tuple[int, int]] = []
    out = chunked_attention(q, k, v, causal=False, mask=mask, bias=bias, chunk_size=6, trace=trace)
    ref = F.scaled_dot_product_attention(
        q, k, v, attn_mask=bias.masked_fill(~mask, float("-inf")), enable_gqa=True
    )
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    banded = torch.ones(20, 20, dtype=torch.bool).tril().triu(-3)
    trace.clear()
    chunked_attention(q, k, v, causal=False, mask=banded, chunk_size=5, trace=trace)
    assert trace == [
        (0, 0),
        (1, 0),
        (1, 1),
        (2, 1),
        (2, 2),
        (3, 2),
        (3, 3),
    ]  # blocks the mask rules out are skipped


@pytest.mark.parametrize(
    "bad",
    [
        {"q": (2, 8, 4), "k": (2, 8, 4)},
        {"q": (1, 3, 8, 4), "k": (1, 2, 8, 4)},
        {"q": (1, 2, 9, 4), "k": (1, 2, 8, 4)},
    ],
)
def test_bad_shapes_raise_one_line(bad: dict) -> None:
    q, k = torch.randn(bad["q"]), torch.randn(bad["k"])
    with pytest.raises(ValueError) as err:
        chunked_attention(q, k, k)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="chunk_size"):
        chunked_attention(
            torch.randn(1, 1, 4, 2), torch.randn(1, 1, 4, 2), torch.randn(1, 1, 4, 2), chunk_size=0
        )


@pytest.mark.parametrize(
    "overrides",
    [
        {"positional": "rope", "n_kv_heads": 1},
        {"positional": "alibi", "sliding_window": 7},
        {"positional": "rope", "sliding_window": 5},
    ],
)
def test_chunked_kernel_runs_a_model_like_sdpa(overrides: dict) -> None:
    torch.manual_seed(0)
    cfg = GPTConfig.preset("tiny", attention="sdpa", **overrides)
    ref = GPT(cfg).eval()
    fast = GPT(dataclasses.replace(cfg, attention="chunked")).eval()
    fast.load_state_dict(ref.state_dict())
    idx = torch.randint(0, 256, (2, 45))
    torch.testing.assert_close(fast(idx).logits, ref(idx).logits, atol=1e-5, rtol=0)
    greedy = SamplingConfig(temperature=0.0)
    assert torch.equal(fast.generate(idx[:, :9], 12, greedy), ref.generate(idx[:, :9], 12, greedy))


@pytest.mark.parametrize("positional", ["alibi", "rope"])
def test_chunked_model_path_builds_no_full_mask_or_bias(positional: str, monkeypatch) -> None:
    """With a window the chunked model path passes ``window=`` and a per-block bias: no ``(T, S)`` mask and no
    ``(H, T, S)`` ALiBi bias is built, prefill or cached decoding, and the logits are the SDPA path's."""
    torch.manual_seed(0)
    cfg = GPTConfig.preset("tiny", attention="sdpa", positional=positional, sliding_window=7, max_seq_len=640)
    ref = GPT(cfg).eval()
    fast = GPT(dataclasses.replace(cfg, attention="chunked")).eval()
    fast.load_state_dict(ref.state_dict())
    idx = torch.randint(0, 256, (1, 600))
    want = ref(idx).logits
    ref_tokens = ref.generate(idx[:, :300], 4, SamplingConfig(temperature=0.0))

    def no_mask(*args, **kwargs):
        raise AssertionError("the chunked model path built a (T, S) mask")

    shapes: list[tuple[int, ...]] = []
    scheme = type(fast.pos_emb)
    original = scheme.score_bias

    def recorded(self, q_pos, k_pos):
        out = original(self, q_pos, k_pos)
        if out is not None:
            shapes.append(tuple(out.shape))
        return out

    monkeypatch.setattr(attention, "position_mask", no_mask)
    monkeypatch.setattr(scheme, "score_bias", recorded)
    torch.testing.assert_close(fast(idx).logits, want, atol=1e-5, rtol=0)
    got_tokens = fast.generate(idx[:, :300], 4, SamplingConfig(temperature=0.0))
    assert torch.equal(got_tokens, ref_tokens)
    if positional == "alibi":
        assert shapes and max(t * s for _, t, s in shapes) <= 256 * 256 < 600 * 600  # blocks, never T x S
