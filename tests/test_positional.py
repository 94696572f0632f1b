"""Positional schemes: RoPE against Hugging Face Llama, its relative property, ALiBi slopes, sinusoids."""

from __future__ import annotations

import math

import pytest
import torch

from llmkb.nn import GPT, GPTConfig
from llmkb.nn.positional import (
    POSITIONAL,
    InterpolatedRotaryEmbedding,
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    alibi_bias,
    alibi_slopes,
    apply_rotary,
    ntk_scaled_base,
    rope_inv_freq,
    rope_wavelengths,
    rotate_half,
    sinusoidal_table,
)


# ------------------------------------------------------------------------------------------ RoPE
@pytest.mark.parametrize("base", [10000.0, 500000.0, 100.0])
@pytest.mark.parametrize("head_dim", [8, 16, 64])
def test_rope_matches_hugging_face_llama(base: float, head_dim: int) -> None:
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

    n_heads, T = 2, 300
    hf_config = LlamaConfig(
        hidden_size=head_dim * n_heads,
        num_attention_heads=n_heads,
        num_key_value_heads=n_heads,
        intermediate_size=32,
        num_hidden_layers=1,
        vocab_size=16,
        max_position_embeddings=T,
        rope_theta=base,
    )
    hf_rope = LlamaRotaryEmbedding(hf_config)
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, n_heads, T, head_dim, generator=g)  # (B, H, T, D)
    k = torch.randn(2, n_heads, T, head_dim, generator=g)
    position_ids = torch.arange(T)[None, :].expand(2, T)
    hf_cos, hf_sin = hf_rope(q, position_ids)  # (B, T, D)
    hf_q, hf_k = apply_rotary_pos_emb(q, k, hf_cos, hf_sin)

    ours = RotaryEmbedding(head_dim, max_len=128, base=base)  # positions >= 128 take the on-the-fly path
    cos, sin = ours(torch.arange(T))  # (T, D)
    torch.testing.assert_close(cos, hf_cos[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(sin, hf_sin[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(apply_rotary(q, cos, sin), hf_q, atol=1e-6, rtol=0)
    torch.testing.assert_close(apply_rotary(k, cos, sin), hf_k, atol=1e-6, rtol=0)


def test_rope_score_depends_only_on_relative_position() -> None:
    torch.manual_seed(1)
    D = 32
    rope = RotaryEmbedding(D, max_len=512)
    q, k = torch.randn(D), torch.randn(D)

    def score(m: int, n: int) -> float:
        cos, sin = rope(torch.tensor([m, n]))
        return float(apply_rotary(q, cos[0], sin[0]) @ apply_rotary(k, cos[1], sin[1]))

    for delta in (0, 1, 5, 37):
        scores = [score(n + delta, n) for n in (0, 3, 50, 200, 400)]
        assert max(scores) - min(scores) < 1e-4, (delta, scores)
    # and it does depend on the distance (otherwise the property above would be vacuous)
    assert abs(score(5, 0) - score(6, 0)) > 1e-3


def test_rope_with_offset_equals_slicing_the_full_table() -> None:
    D, N = 16, 100
    rope = RotaryEmbedding(D, max_len=64)
    full_cos, full_sin = rope(torch.arange(N))  # crosses the precomputed range
    for offset, T in ((0, 10), (17, 5), (60, 8), (80, 20)):
        cos, sin = rope(torch.arange(offset, offset + T))
        assert torch.equal(cos, full_cos[offset : offset + T])
        assert torch.equal(sin, full_sin[offset : offset + T])
    # the precomputed table and the on-the-fly path agree
    big = RotaryEmbedding(D, max_len=N)
    assert torch.equal(big.cos_table, full_cos) and torch.equal(big.sin_table, full_sin)
    # span() is the same thing without building a position tensor, inside and past the table
    for offset, T in ((0, 10), (60, 8), (80, 20)):
        cos, sin = rope.span(offset, T)
        assert torch.equal(cos, full_cos[offset : offset + T]) and torch.equal(
            sin, full_sin[offset : offset + T]
        )
    # rotate() at an offset is the corresponding slice of a full-sequence rotation
    q, k = torch.randn(1, 2, N, D), torch.randn(1, 2, N, D)
    q_full, k_full = rope.rotate(q, k)
    q_off, k_off = rope.rotate(q[:, :, 40:50], k[:, :, 40:50], offset=40)
    assert torch.equal(q_off, q_full[:, :, 40:50]) and torch.equal(k_off, k_full[:, :, 40:50])


def test_rope_is_a_rotation_of_half_split_pairs() -> None:
    D = 8
    rope = RotaryEmbedding(D, max_len=16)
    x = torch.randn(16, D)
    cos, sin = rope(torch.arange(16))
    y = apply_rotary(x, cos, sin)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))
    # pair (i, i + D/2) at position 3 rotated by 3 * theta_i
    theta = 10000.0 ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    for i in range(D // 2):
        a, b, ang = float(x[3, i]), float(x[3, i + D // 2]), 3 * float(theta[i])
        assert math.isclose(float(y[3, i]), a * math.cos(ang) - b * math.sin(ang), abs_tol=1e-5)
        assert math.isclose(float(y[3, i + D // 2]), b * math.cos(ang) + a * math.sin(ang), abs_tol=1e-5)
    assert torch.equal(rotate_half(torch.tensor([1.0, 2.0, 3.0, 4.0])), torch.tensor([-3.0, -4.0, 1.0, 2.0]))


def test_rope_rejects_odd_head_dim() -> None:
    with pytest.raises(ValueError, match="even"):
        RotaryEmbedding(7, max_len=4)


# ------------------------------------------------------------------------------------------ RoPE scaling
def _llama_config(head_dim: int, base: float, max_len: int, **rope: object) -> object:
    from transformers import LlamaConfig

    return LlamaConfig(
        hidden_size=2 * head_dim,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=32,
        num_hidden_layers=1,
        vocab_size=16,
        max_position_embeddings=max_len,
        rope_parameters={"rope_theta": base, **rope},
    )


def test_rope_pi_is_registered_and_equals_rope_at_scale_one() -> None:
    assert POSITIONAL["rope-pi"] is InterpolatedRotaryEmbedding
    plain, pi = RotaryEmbedding(16, max_len=32), InterpolatedRotaryEmbedding(16, max_len=32, scale=1.0)
    for positions in (torch.arange(32), torch.arange(20, 90)):  # the table, and past it
        for a, b in zip(plain(positions), pi(positions), strict=True):
            assert torch.equal(a, b)
    torch.manual_seed(0)
    rope = GPT(GPTConfig.preset("tiny", positional="rope", max_seq_len=16)).eval()
    same = GPT(GPTConfig.preset("tiny", positional="rope-pi", max_seq_len=16)).eval()
    same.load_state_dict(rope.state_dict())  # RoPE has no parameters: a checkpoint moves between them
    idx = torch.randint(0, 256, (2, 40))
    with torch.no_grad():
        assert torch.equal(rope(idx).logits, same(idx).logits)


@pytest.mark.parametrize("scale", [2.0, 4.0, 2.5])
def test_rope_pi_rotates_position_p_as_p_over_s(scale: float) -> None:
    D = 16
    pi = InterpolatedRotaryEmbedding(D, max_len=64, scale=scale)
    positions = torch.arange(0, 200, 5)  # precomputed and on-the-fly rows
    angles = positions.double()[:, None] / scale * rope_inv_freq(D).double()[None, :]  # (T, D/2)
    cos, sin = pi(positions)  # (T, D)
    torch.testing.assert_close(cos, torch.cat([angles, angles], -1).cos().float(), atol=1e-4, rtol=0)
    torch.testing.assert_close(sin, torch.cat([angles, angles], -1).sin().float(), atol=1e-4, rtol=0)
    if scale == int(scale):  # position s*p of the interpolated model is position p of plain RoPE
        plain = RotaryEmbedding(D, max_len=64)
        p = torch.arange(0, 40)
        for a, b in zip(pi(p * int(scale)), plain(p), strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize("scale", [2.0, 8.0])
def test_rope_pi_matches_hugging_face_linear_scaling(scale: float) -> None:
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    D, T = 32, 300
    hf = LlamaRotaryEmbedding(_llama_config(D, 10000.0, T, rope_type="linear", factor=scale))
    x = torch.zeros(1, 2, T, D)
    hf_cos, hf_sin = hf(x, torch.arange(T)[None, :])  # (1, T, D)
    cos, sin = InterpolatedRotaryEmbedding(D, max_len=128, scale=scale)(torch.arange(T))
    torch.testing.assert_close(cos, hf_cos[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(sin, hf_sin[0], atol=1e-6, rtol=0)


def test_rope_pi_with_a_kv_cache_equals_the_full_forward() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", positional="rope-pi", rope_scale=4.0, max_seq_len=16)).eval()
    idx = torch.randint(0, 256, (1, 24))
    cache = model.make_cache(1, 24)
    with torch.no_grad():
        full = model(idx).logits
        steps = [model(idx[:, :8], kv_cache=cache).logits] + [
            model(idx[:, t : t + 1], kv_cache=cache).logits for t in range(8, 24)
        ]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=0)


def test_rope_scale_is_validated() -> None:
    for bad in (0.5, 0, True, "2"):
        with pytest.raises(ValueError, match="rope_scale"):
            GPTConfig.preset("tiny", positional="rope-pi", rope_scale=bad)
        with pytest.raises(ValueError, match="rope_scale"):
            InterpolatedRotaryEmbedding(8, 4, scale=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("head_dim", "scale"), [(16, 4.0), (32, 2.0), (64, 8.0)])
def test_ntk_base_keeps_the_fastest_pair_and_slows_the_slowest_by_s(head_dim: int, scale: float) -> None:
    base = ntk_scaled_base(10000.0, scale, head_dim)
    old, new = rope_inv_freq(head_dim).double(), rope_inv_freq(head_dim, base).double()
    assert float(new[0]) == float(old[0]) == 1.0
    assert float(new[-1]) == pytest.approx(float(old[-1]) / scale, rel=1e-5)
    assert bool((new <= old * (1 + 1e-6)).all())  # every pair turns no faster than before
    assert ntk_scaled_base(10000.0, 1.0, head_dim) == 10000.0
    with pytest.raises(ValueError, match="scale"):
        ntk_scaled_base(10000.0, 0.5, head_dim)


def test_ntk_base_matches_hugging_face_dynamic_ntk() -> None:
    from transformers.modeling_rope_utils import _compute_dynamic_ntk_parameters

    D, trained, scale = 32, 256, 4
    config = _llama_config(D, 10000.0, trained, rope_type="dynamic", factor=1.0)
    hf_inv, _ = _compute_dynamic_ntk_parameters(config, seq_len=scale * trained)
    ours = rope_inv_freq(D, ntk_scaled_base(10000.0, scale, D))
    torch.testing.assert_close(ours, hf_inv.float(), rtol=1e-6, atol=0)


def test_longest_rope_wavelength_is_well_below_two_pi_base() -> None:
    for D, ratio in ((32, 10000.0 ** (-2 / 32)), (16, 10000.0 ** (-2 / 16))):
        lam = rope_wavelengths(D)
        assert lam.shape == (D // 2,) and float(lam[0]) == pytest.approx(2 * math.pi)
        assert float(lam[-1]) == pytest.approx(2 * math.pi / float(rope_inv_freq(D)[-1]), rel=1e-6)
        assert float(lam[-1]) / (2 * math.pi * 10000.0) == pytest.approx(ratio)
    assert 0.56 < float(rope_wavelengths(32)[-1]) / (2 * math.pi * 1e4) < 0.57


# ------------------------------------------------------------------------------------------ ALiBi
@pytest.mark.parametrize(
    ("n_heads", "expected"),
    [
        (8, [2.0 ** -(i + 1) for i in range(8)]),  # 1/2, 1/4, ..., 1/256
        (16, [2.0 ** -((i + 1) / 2) for i in range(16)]),  # 1/sqrt(2), 1/2, ..., 1/256
        # 12 = 8 + 4: the 8-head slopes, then the odd-indexed 16-head slopes 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5
        (12, [2.0 ** -(i + 1) for i in range(8)] + [2.0**-0.5, 2.0**-1.5, 2.0**-2.5, 2.0**-3.5]),
        (1, [2.0**-8]),
    ],
)
def test_alibi_slopes_closed_form(n_heads: int, expected: list[float]) -> None:
    slopes = alibi_slopes(n_heads)
    assert slopes.shape == (n_heads,) and slopes.dtype == torch.float32
    torch.testing.assert_close(slopes, torch.tensor(expected), atol=1e-7, rtol=0)


def test_alibi_bias_is_negative_slope_times_distance() -> None:
    slopes = alibi_slopes(4)
    q_pos, k_pos = torch.arange(3, 7), torch.arange(0, 7)
    bias = alibi_bias(slopes, q_pos, k_pos)  # (H, T, S)
    assert bias.shape == (4, 4, 7)
    for h in range(4):
        for i, p in enumerate(q_pos.tolist()):
            for j, s in enumerate(k_pos.tolist()):
                assert math.isclose(float(bias[h, i, j]), -float(slopes[h]) * (p - s), rel_tol=1e-6)
    # the paper's variant adds m * j; on causal rows it gives the same softmax
    causal = k_pos[None, :] <= q_pos[:, None]
    paper = slopes[:, None, None] * k_pos[None, None, :].float()
    ours = torch.softmax(bias.masked_fill(~causal, float("-inf")), -1)
    theirs = torch.softmax(paper.masked_fill(~causal, float("-inf")).expand(4, 4, 7), -1)
    torch.testing.assert_close(ours, theirs)


# ------------------------------------------------------------------------------------------ absolute
def test_sinusoidal_equals_formula() -> None:
    d = 10
    pe = SinusoidalPositionalEncoding(d, max_len=20)
    positions = torch.tensor([0, 1, 7, 19, 25, 1000])  # 25 and 1000 are past the precomputed rows
    table = pe(positions)
    assert table.shape == (6, d)
    for r, p in enumerate(positions.tolist()):
        for i in range(d // 2):
            angle = p / 10000.0 ** (2 * i / d)
            assert math.isclose(float(table[r, 2 * i]), math.sin(angle), abs_tol=1e-6)
            assert math.isclose(float(table[r, 2 * i + 1]), math.cos(angle), abs_tol=1e-6)
    assert torch.equal(sinusoidal_table(torch.arange(20), d), pe.table)
    assert torch.equal(pe.span(15, 10), pe(torch.arange(15, 25)))


def test_learned_positions_refuse_to_extrapolate() -> None:
    emb = LearnedPositionalEmbedding(8, 4)
    assert emb(torch.arange(8)).shape == (8, 4)
    with pytest.raises(ValueError, match="max_seq_len"):
        emb(torch.arange(9))
    assert torch.equal(emb.span(3, 5), emb(torch.arange(3, 8)))
    with pytest.raises(ValueError, match="max_seq_len"):
        emb.span(5, 4)


@pytest.mark.parametrize("positional", ["none", "sinusoidal", "rope", "alibi"])
def test_non_learned_models_run_past_max_seq_len(positional: str) -> None:
    model = GPT(GPTConfig.preset("tiny", max_seq_len=8, d_model=32, positional=positional))
    logits = model(torch.randint(0, 256, (1, 20))).logits
    assert logits.shape == (1, 20, 256) and torch.isfinite(logits).all()


def test_learned_model_rejects_inputs_past_max_seq_len() -> None:
    model = GPT(GPTConfig.preset("tiny", max_seq_len=8, d_model=32, positional="learned"))
    with pytest.raises(ValueError, match="max_seq_len"):
        model(torch.randint(0, 256, (1, 9)))


def test_without_positions_one_layer_is_blind_to_order_but_the_causal_mask_leaks_it_in_two() -> None:
    """NoPE: one layer's last position sees a bag of tokens; from the second layer on, earlier positions
    (whose causal prefixes differ) carry order information (Haviv et al. 2022, arXiv 2203.16634)."""
    idx = torch.tensor([[5, 9, 17, 33, 65, 2]])
    swapped = torch.tensor([[9, 5, 17, 33, 65, 2]])

    def last_diff(positional: str, n_layers: int) -> float:
        torch.manual_seed(0)
        model = GPT(GPTConfig.preset("tiny", d_model=32, n_layers=n_layers, positional=positional))
        with torch.no_grad():
            return float((model(idx).logits[0, -1] - model(swapped).logits[0, -1]).abs().max())

    assert last_diff("none", 1) < 1e-6
    assert last_diff("none", 2) > 1e-4
    for positional in ("sinusoidal", "learned", "rope", "alibi"):
        assert last_diff(positional, 1) > 1e-5, positional
