"""The decoder-only transformer: attention against torch SDPA, causality, norms, parameter counts, I/O."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from llmkb.nn import (
    FFNS,
    GELU,
    GPT,
    KERNELS,
    NORMS,
    PRESETS,
    SURGERIES,
    FeedForward,
    GPTConfig,
    Hooks,
    LayerNorm,
    ModelOutput,
    MultiHeadAttention,
    PositionalScheme,
    RMSNorm,
    TransformerBlock,
    causal_mask,
    combine_masks,
    count_parameters,
    freeze_qk,
    no_residual,
    padding_mask,
    scaled_dot_product,
    surgery,
)
from llmkb.nn import POSITIONAL as POSITIONAL_SCHEMES
from llmkb.nn.attention import position_mask

POSITIONAL = ["none", "sinusoidal", "learned", "rope", "alibi"]


def _cfg(**kw: object) -> GPTConfig:
    base = {"vocab_size": 37, "d_model": 16, "n_layers": 2, "n_heads": 4, "max_seq_len": 32}
    return GPTConfig(**{**base, **kw})  # type: ignore[arg-type]


def _model(seed: int = 0, **kw: object) -> GPT:
    torch.manual_seed(seed)
    return GPT(_cfg(**kw)).eval()


# ------------------------------------------------------------------------------------------ attention
def _qkv(h_kv: int = 3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 7, 8, generator=g)  # (B, H, T, D)
    k = torch.randn(2, h_kv, 7, 8, generator=g)
    v = torch.randn(2, h_kv, 7, 8, generator=g)
    return q, k, v


def test_naive_attention_equals_sdpa_without_mask() -> None:
    q, k, v = _qkv()
    out, w = scaled_dot_product(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), atol=1e-5, rtol=0)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 7))


def test_naive_attention_equals_sdpa_with_causal_mask() -> None:
    q, k, v = _qkv()
    out, w = scaled_dot_product(q, k, v, mask=causal_mask(7))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(7)), atol=1e-5, rtol=0
    )
    assert torch.all(w.triu(diagonal=1) == 0)


def test_naive_attention_equals_sdpa_with_padding_and_bias() -> None:
    q, k, v = _qkv()
    pad = padding_mask(torch.tensor([7, 4]), max_len=7)  # (B, 1, 1, S): second row has 3 pad keys
    assert pad.shape == (2, 1, 1, 7) and pad[1, 0, 0].tolist() == [True] * 4 + [False] * 3
    assert torch.equal(pad, padding_mask(torch.tensor([[True] * 7, [True] * 4 + [False] * 3])))
    mask = combine_masks(causal_mask(7), None, pad)
    assert mask is not None and mask.shape == (2, 1, 7, 7)
    bias = torch.randn(3, 7, 7)
    out, w = scaled_dot_product(q, k, v, mask=mask, bias=bias)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.masked_fill(~mask, float("-inf")))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    assert torch.all(w[1, :, :, 4:] == 0)
    assert combine_masks(None, None) is None


def test_naive_attention_equals_sdpa_with_grouped_kv_heads() -> None:
    q, k, v = _qkv(h_kv=1)
    out, _ = scaled_dot_product(q, k, v, mask=causal_mask(7))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("h_kv", [2, 4])
def test_grouped_query_head_h_reads_kv_head_h_over_group_size(h_kv: int) -> None:
    """8 query heads over 2 or 4 K/V heads: query head ``h`` uses K/V head ``h // (8 // h_kv)`` (not ``h % h_kv``)."""
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, h, 6, 4, generator=g) for h in (8, h_kv, h_kv))
    group = 8 // h_kv
    for kernel in ("naive", "sdpa"):
        out, _ = KERNELS[kernel](q, k, v, causal_mask(6), None, 0.0, False)
        for h in range(8):
            ref = F.scaled_dot_product_attention(q[:, h], k[:, h // group], v[:, h // group], is_causal=True)
            torch.testing.assert_close(out[:, h], ref, atol=1e-5, rtol=0, msg=f"{kernel} head {h}")
    out, _ = scaled_dot_product(q, k, v, mask=causal_mask(6))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


def test_position_mask_sliding_window_and_offsets() -> None:
    m = causal_mask(5, window=2)
    assert m.int().tolist() == [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [0, 1, 1, 0, 0],
        [0, 0, 1, 1, 0],
        [0, 0, 0, 1, 1],
    ]
    # queries at positions 3,4 against keys at positions 1..4 (a cache that evicted position 0)
    m = position_mask(torch.arange(3, 5), torch.arange(1, 5))
    assert m.int().tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]


@pytest.mark.parametrize(
    "kw",
    [
        {"positional": p, "n_kv_heads": kv, "sliding_window": w}
        for p in POSITIONAL
        for kv, w in ((None, None), (2, None), (1, 3))
    ],
)
def test_gpt_naive_and_sdpa_paths_give_the_same_logits(kw: dict[str, object]) -> None:
    naive = _model(attention="naive", **kw)
    sdpa = GPT(dataclasses.replace(naive.config, attention="sdpa")).eval()
    sdpa.load_state_dict(naive.state_dict())
    idx = torch.randint(0, 37, (2, 11))
    with torch.no_grad():
        torch.testing.assert_close(naive(idx).logits, sdpa(idx).logits, atol=1e-5, rtol=0)
        out = sdpa(idx, return_attn=True)  # weights come from the naive kernel
    torch.testing.assert_close(out.logits, sdpa(idx).logits, atol=1e-5, rtol=0)
    attn = out.attn
    assert attn is not None
    assert len(attn) == 2 and all(a.shape == (2, 4, 11, 11) for a in attn)
    for a in attn:
        torch.testing.assert_close(a.sum(-1), torch.ones(2, 4, 11))
        assert torch.all(a.triu(diagonal=1) == 0)
        if kw["sliding_window"]:
            assert torch.all(a.tril(diagonal=-3) == 0)


# ------------------------------------------------------------------------------------------ causality
_configs = st.fixed_dictionaries(
    {
        "positional": st.sampled_from(POSITIONAL),
        "norm": st.sampled_from(["layernorm", "rmsnorm"]),
        "norm_position": st.sampled_from(["pre", "post"]),
        "activation": st.sampled_from(["gelu", "relu", "swiglu"]),
        "attention": st.sampled_from(["naive", "sdpa"]),
        "n_kv_heads": st.sampled_from([None, 1, 2, 4]),
        "sliding_window": st.sampled_from([None, 1, 3]),
        "bias": st.booleans(),
        "tie_embeddings": st.booleans(),
    }
)


@settings(max_examples=40, deadline=None)
@given(kw=_configs, seed=st.integers(0, 2**16), T=st.integers(2, 12), data=st.data())
def test_future_tokens_never_change_past_logits(
    kw: dict[str, object], seed: int, T: int, data: st.DataObject
) -> None:
    model = _model(seed=seed, **kw)
    t = data.draw(st.integers(0, T - 2), label="t")
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, 37, (2, T), generator=g)
    changed = idx.clone()
    changed[:, t + 1 :] = torch.randint(0, 37, (2, T - t - 1), generator=g)
    with torch.no_grad():
        a, b = model(idx).logits, model(changed).logits
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1], atol=1e-5, rtol=0)


# ------------------------------------------------------------------------------------------ norms, GELU
@pytest.mark.parametrize("eps", [1e-5, 1e-6])
@pytest.mark.parametrize("scale", [3.0, 1e-3])  # at 1e-3, mean(x^2) ~ 1e-6 and eps changes the output
def test_rmsnorm_equals_torch(eps: float, scale: float) -> None:
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    x = torch.randn(3, 5, 16) * scale + scale / 3
    ours, ref, llama = RMSNorm(16, eps=eps), torch.nn.RMSNorm(16, eps=eps), LlamaRMSNorm(16, eps=eps)
    with torch.no_grad():
        ours.weight.normal_()
        ref.weight.copy_(ours.weight)
        llama.weight.copy_(ours.weight)
        for got in (ours(x), ours.reference(x)):
            torch.testing.assert_close(got, ref(x), atol=1e-6, rtol=1e-5)
            torch.testing.assert_close(got, llama(x), atol=1e-6, rtol=1e-5)
        if scale < 1:  # eps matters here: without it the output would be visibly larger
            bare = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True)) * ours.weight
            assert (bare - ref(x)).abs().max() > 1e-2


@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_equals_torch(bias: bool) -> None:
    x = torch.randn(3, 5, 16) * 3 + 1
    ours, ref = LayerNorm(16, bias=bias), torch.nn.LayerNorm(16, bias=bias)
    with torch.no_grad():
        ours.weight.normal_()
        ref.weight.copy_(ours.weight)
        if bias:
            ours.bias.normal_()  # type: ignore[union-attr]
            ref.bias.copy_(ours.bias)  # type: ignore[union-attr]
        torch.testing.assert_close(ours(x), ref(x), atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(ours.reference(x), ref(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_equals_torch(approximate: str) -> None:
    x = torch.linspace(-8, 8, 1001)
    ours, ref = GELU(approximate), torch.nn.GELU(approximate=approximate)
    torch.testing.assert_close(ours(x), ref(x), atol=1e-6, rtol=0)
    torch.testing.assert_close(ours.reference(x), ref(x), atol=1e-6, rtol=0)


# ------------------------------------------------------------------------------------------ parameters
_LAYOUTS = list(itertools.product(("learned", "rope"), ("layernorm", "rmsnorm"), ("pre", "post")))
_PARAM_GRID = [
    # every combination of the four count-changing switches; the layout cycles through all 8 combinations
    {
        "tie_embeddings": tie,
        "bias": bias,
        "activation": act,
        "n_kv_heads": kv,
        **dict(zip(("positional", "norm", "norm_position"), _LAYOUTS[i % len(_LAYOUTS)], strict=True)),
    }
    for i, (tie, bias, act, kv) in enumerate(
        itertools.product((True, False), (True, False), ("gelu", "relu", "swiglu"), (None, 2, 1))
    )
]


def test_parameter_count_formula_matches_the_model() -> None:
    for kw in _PARAM_GRID:
        cfg = _cfg(**kw)
        model = GPT(cfg)
        assert model.num_parameters() == count_parameters(cfg), kw
        assert model.num_parameters(exclude_embeddings=True) == count_parameters(
            cfg, exclude_embeddings=True
        ), kw
    for kw in ({"d_ff": 24}, {"d_ff": 24, "activation": "swiglu"}, {"positional": "alibi"}, {"n_layers": 5}):
        cfg = _cfg(**kw)
        assert GPT(cfg).num_parameters() == count_parameters(cfg), kw


def test_parameter_count_of_presets_and_known_values() -> None:
    for name in PRESETS:
        cfg = GPTConfig.preset(name)
        assert count_parameters(cfg) == sum(p.numel() for p in GPT(cfg).parameters()), name
    # GPT-2 small (124M with tied head, 1024 positions, 50257 tokens) - a published number
    gpt2 = GPTConfig(vocab_size=50257, d_model=768, n_layers=12, n_heads=12, max_seq_len=1024)
    assert count_parameters(gpt2) == 124_439_808
    # 12 L d^2 approximation for the non-embedding part (plus biases and norms)
    assert abs(count_parameters(gpt2, exclude_embeddings=True) / (12 * 12 * 768**2) - 1) < 0.01


def test_swiglu_default_width_and_kv_heads() -> None:
    assert GPTConfig(activation="swiglu").ffn_dim == 344  # 2/3 * 4 * 128 = 341.3 -> 344
    assert GPTConfig().ffn_dim == 512
    assert GPTConfig(d_ff=100).ffn_dim == 100
    assert GPTConfig(n_heads=8).kv_heads == 8 and GPTConfig(n_heads=8, n_kv_heads=2).kv_heads == 2
    assert GPTConfig(d_model=96, n_heads=3).head_dim == 32


# ------------------------------------------------------------------------------------------ config
@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"positional": "xpos"}, "positional"),
        ({"norm": "batchnorm"}, "norm"),
        ({"norm_position": "sandwich"}, "norm_position"),
        ({"activation": "tanh"}, "activation"),
        ({"attention": "flash"}, "attention"),
        ({"d_model": 130, "n_heads": 4}, "divisible"),
        ({"n_heads": 4, "n_kv_heads": 3}, "divide"),
        ({"n_kv_heads": 0}, "n_kv_heads"),
        ({"d_model": 12, "n_heads": 4, "positional": "rope"}, "even head_dim"),
        ({"dropout": 1.0}, "dropout"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"max_seq_len": 2.5}, "max_seq_len"),
        ({"sliding_window": 0}, "sliding_window"),
        ({"bias": "yes"}, "bias"),
        ({"rope_base": 1.0}, "rope_base"),
    ],
)
def test_config_rejects_bad_values(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GPTConfig(**kw)  # type: ignore[arg-type]


def test_config_of_older_checkpoints_loads_unless_it_used_a_removed_ablation() -> None:
    old = {**GPTConfig().to_dict(), "residual": True, "surgery": None}  # what config.json held before hooks
    assert GPTConfig.from_dict(old) == GPTConfig()
    for name, value in (("residual", False), ("surgery", "zero_v")):
        with pytest.raises(ValueError, match=f"^{name} is no longer a GPTConfig field"):
            GPTConfig.from_dict({**old, name: value})


def test_config_round_trip_and_presets() -> None:
    cfg = GPTConfig.preset("llama-style", n_kv_heads=2, sliding_window=64)
    assert GPTConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="unknown GPTConfig field"):
        GPTConfig.from_dict({**cfg.to_dict(), "n_embd": 3})
    with pytest.raises(ValueError, match="unknown preset"):
        GPTConfig.preset("gpt-5")
    site = GPTConfig.preset("shared")
    assert (site.vocab_size, site.d_model, site.n_layers, site.n_heads, site.max_seq_len) == (
        256,
        128,
        4,
        4,
        256,
    )
    assert (site.positional, site.norm, site.activation) == ("rope", "rmsnorm", "swiglu")
    g2, ll = GPTConfig.preset("gpt2-style"), GPTConfig.preset("llama-style")
    assert (g2.positional, g2.norm, g2.activation, g2.bias, g2.tie_embeddings) == (
        "learned",
        "layernorm",
        "gelu",
        True,
        True,
    )
    assert (ll.positional, ll.norm, ll.activation, ll.bias, ll.tie_embeddings) == (
        "rope",
        "rmsnorm",
        "swiglu",
        False,
        False,
    )
    tiny = GPTConfig.preset("tiny")
    assert tiny.d_model == 64 and tiny.n_layers == 2
    assert {"tiny", "small", "shared", "gpt2-style", "llama-style"} <= set(PRESETS)


# ------------------------------------------------------------------------------------------ forward API
def test_loss_ignores_minus_100_and_matches_cross_entropy() -> None:
    model = _model()
    idx = torch.randint(0, 37, (2, 9))
    targets = torch.randint(0, 37, (2, 9))
    targets[0, :4] = -100
    out = model(idx, targets)
    assert isinstance(out, ModelOutput) and out.attn is None
    keep = targets != -100
    ref = F.cross_entropy(out.logits[keep], targets[keep])
    torch.testing.assert_close(out.loss, ref)
    both = model(idx, targets, return_attn=True)
    torch.testing.assert_close(both.logits, out.logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(both.loss, out.loss, atol=1e-5, rtol=0)
    assert both.attn is not None and len(both.attn) == 2 and both.attn[0].shape == (2, 4, 9, 9)
    plain = model(idx)
    assert plain.loss is None and plain.attn is None and torch.equal(plain.logits, out.logits)
    out.loss.backward()
    assert model.tok_emb.weight.grad is not None


def test_forward_rejects_bad_shapes() -> None:
    model = _model()
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.zeros(5, dtype=torch.long))


def test_tied_embeddings_share_one_tensor() -> None:
    tied, untied = _model(tie_embeddings=True), _model(tie_embeddings=False)
    assert tied.lm_head.weight is tied.tok_emb.weight
    assert untied.lm_head.weight is not untied.tok_emb.weight


# ------------------------------------------------------------------------------------------ save / load
@pytest.mark.parametrize("kw", [{}, {"tie_embeddings": False, "positional": "rope", "norm": "rmsnorm"}])
def test_save_load_round_trip(tmp_path: Path, kw: dict[str, object]) -> None:
    model = _model(**kw)
    out = model.save(tmp_path / "ckpt")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    assert not [p for p in tmp_path.iterdir() if p.name != "ckpt"]  # no temp leftovers
    loaded = GPT.load(out)
    assert loaded.config == model.config
    idx = torch.randint(0, 37, (2, 10))
    with torch.no_grad():
        assert torch.equal(model(idx).logits, loaded.eval()(idx).logits)
    if model.config.tie_embeddings:
        assert loaded.lm_head.weight is loaded.tok_emb.weight
    # saving again into the existing directory (it also holds other files) replaces the two files only
    (out / "notes.txt").write_text("keep me")
    with torch.no_grad():
        model.tok_emb.weight.add_(1.0)
    model.save(out)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "notes.txt"]
    with torch.no_grad():
        assert torch.equal(GPT.load(out).eval()(idx).logits, model(idx).logits)


def test_load_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="GPT.save"):
        GPT.load(tmp_path)


# ------------------------------------------------------------------------------------------ hooks, surgery
def _twin(model: GPT, edit: object) -> GPT:
    """A copy of ``model`` whose weights were edited by ``edit(attn)`` in every layer."""
    twin = GPT(model.config).eval()
    twin.load_state_dict(model.state_dict())
    with torch.no_grad():
        for block in twin.blocks:
            edit(block.attn)  # type: ignore[operator]
    return twin


def _swap_qk(a: MultiHeadAttention) -> None:
    wq, bq = a.q_proj.weight.clone(), a.q_proj.bias.clone()
    a.q_proj.weight.copy_(a.k_proj.weight)
    a.q_proj.bias.copy_(a.k_proj.bias)
    a.k_proj.weight.copy_(wq)
    a.k_proj.bias.copy_(bq)


def _tie_qk(a: MultiHeadAttention) -> None:
    a.k_proj.weight.copy_(a.q_proj.weight)
    a.k_proj.bias.copy_(a.q_proj.bias)


def _zero_v(a: MultiHeadAttention) -> None:
    a.v_proj.weight.zero_()
    a.v_proj.bias.zero_()


def _identity_v(a: MultiHeadAttention) -> None:
    a.v_proj.weight.copy_(torch.eye(a.v_proj.weight.shape[0]))
    a.v_proj.bias.zero_()


def _shuffle_heads(a: MultiHeadAttention) -> None:
    # slot h+1 receives head h: o_proj's input columns of slot s now read head s-1
    w = a.o_proj.weight.view(a.o_proj.weight.shape[0], a.n_heads, a.head_dim)
    a.o_proj.weight.copy_(torch.roll(w, shifts=-1, dims=1).reshape_as(a.o_proj.weight))


@pytest.mark.parametrize(
    ("name", "edit"),
    [
        ("swap_qk", _swap_qk),
        ("tie_qk", _tie_qk),
        ("zero_v", _zero_v),
        ("identity_v", _identity_v),
        ("shuffle_heads", _shuffle_heads),
    ],
)
@pytest.mark.parametrize("positional", ["rope", "learned"])
def test_surgery_hooks_equal_the_corresponding_weight_edit(name: str, edit: object, positional: str) -> None:
    model = _model(positional=positional)
    twin = _twin(model, edit)
    idx = torch.randint(0, 37, (2, 10))
    with torch.no_grad():
        plain = model(idx).logits
        with model.hooks(**surgery(name)):
            out = model(idx).logits
        torch.testing.assert_close(out, twin(idx).logits, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(out, plain, atol=1e-4)  # the surgery changed something
        assert torch.equal(model(idx).logits, plain)  # and is gone after the block


def test_surgery_names_and_errors() -> None:
    assert {"swap_qk", "tie_qk", "zero_v", "identity_v", "shuffle_heads"} == set(SURGERIES)
    assert all(isinstance(desc, str) and desc for desc, _ in SURGERIES.values())
    with pytest.raises(ValueError, match="unknown surgery 'lobotomy'"):
        surgery("lobotomy")
    gqa = _model(n_kv_heads=2)
    for name in ("swap_qk", "tie_qk", "identity_v"):
        with (
            gqa.hooks(**surgery(name)),
            pytest.raises(ValueError, match=f"^{name} needs n_kv_heads == n_heads"),
        ):
            gqa(torch.randint(0, 37, (1, 5)))


def test_freeze_qk_freezes_only_queries_and_keys() -> None:
    model = _model().train()
    assert freeze_qk(model) == 2 * 2 * (16 * 16 + 16)  # 2 layers x (W_q, W_k) with biases
    init_q = model.blocks[0].attn.q_proj.weight.clone()
    model(torch.randint(0, 37, (2, 8)), torch.randint(0, 37, (2, 8))).loss.backward()
    attn = model.blocks[0].attn
    assert not attn.q_proj.weight.requires_grad and attn.q_proj.weight.grad is None
    assert not attn.k_proj.weight.requires_grad and attn.k_proj.weight.grad is None
    assert attn.v_proj.weight.grad is not None
    assert torch.equal(attn.q_proj.weight, init_q)
    assert sum(p.numel() for p in model.parameters() if not p.requires_grad) == 2 * 2 * (16 * 16 + 16)
    freeze_qk(model, frozen=False)
    assert all(p.requires_grad for p in model.parameters())


def test_a_custom_qkv_hook_sees_q_k_v_and_the_layer_input() -> None:
    model = _model(positional="rope")
    seen: list[tuple[int, ...]] = []

    def swap(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, x: torch.Tensor) -> tuple:
        seen.append((*q.shape, *x.shape))
        return k, q, v

    idx = torch.randint(0, 37, (1, 12))
    with torch.no_grad():
        with model.hooks(**surgery("swap_qk")):
            expected = model(idx).logits
        with model.hooks(qkv=swap):
            torch.testing.assert_close(model(idx).logits, expected, atol=0, rtol=0)
    assert seen == [(1, 4, 12, 4, 1, 12, 16)] * 2  # once per layer: q (B, H, T, D), x (B, T, d)


def test_hooks_restore_on_exit_and_on_exception_and_nest() -> None:
    model = _model()
    idx = torch.randint(0, 37, (1, 6))
    with torch.no_grad():
        plain = model(idx).logits
        with pytest.raises(RuntimeError, match="boom"), model.hooks(residual=no_residual, positional=False):
            raise RuntimeError("boom")
        assert model._hooks == Hooks() and torch.equal(model(idx).logits, plain)
        with model.hooks(residual=no_residual) as same:
            assert same is model
            cut = model(idx).logits
            with model.hooks(positional=False):  # nested: keeps the outer residual hook
                assert model._hooks == Hooks(residual=no_residual, positional=False)
            assert model._hooks == Hooks(residual=no_residual) and torch.equal(model(idx).logits, cut)
        assert model._hooks == Hooks() and not torch.equal(cut, plain)
    with pytest.raises(ValueError, match="unknown hook"), model.hooks(qvk=None):
        pass


def test_hooks_are_not_saved_with_the_model(tmp_path: Path) -> None:
    model = _model()
    keys = set(model.state_dict())
    with model.hooks(**surgery("zero_v"), residual=no_residual, positional=False):
        assert set(model.state_dict()) == keys
        out = model.save(tmp_path / "ckpt")
    loaded = GPT.load(out).eval()
    idx = torch.randint(0, 37, (1, 6))
    with torch.no_grad():
        assert loaded._hooks == Hooks() and torch.equal(loaded(idx).logits, model(idx).logits)


@pytest.mark.parametrize("variant", ["sinusoidal", "learned", "rope", "alibi"])
def test_positional_false_equals_a_model_built_without_positions(variant: str) -> None:
    model = _model(positional=variant, d_model=32)
    nope = GPT(dataclasses.replace(model.config, positional="none")).eval()
    nope.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("pos_emb")})
    x = torch.randint(0, 37, (2, 20))
    with torch.no_grad():
        before = model(x).logits
        with model.hooks(positional=False):
            removed = model(x).logits
        h = model.tok_emb(x) * model.pos_emb.token_scale  # by hand: the scale stays (sinusoidal: sqrt(d))
        for block in model.blocks:
            h, _ = block(h)  # a block on its own has no positional scheme
        torch.testing.assert_close(removed, model.lm_head(model.norm_f(h)), atol=1e-5, rtol=1e-5)
        if variant != "sinusoidal":
            torch.testing.assert_close(removed, nope(x).logits, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(removed, before, atol=1e-4)
        assert torch.equal(model(x).logits, before)  # everything is back


@pytest.mark.parametrize("norm_position", ["pre", "post"])
def test_block_residual_hook(norm_position: str) -> None:
    torch.manual_seed(0)
    block = TransformerBlock(_cfg(norm_position=norm_position)).eval()
    x = torch.randn(2, 6, 16)
    with torch.no_grad():
        y, _ = block(x, hooks=Hooks(residual=no_residual))
        if norm_position == "pre":
            h = block.attn(block.norm1(x))[0]
            expected = block.ffn(block.norm2(h))
        else:
            h = block.norm1(block.attn(x)[0])
            expected = block.norm2(block.ffn(h))
        torch.testing.assert_close(y, expected)
        if norm_position == "pre":
            h = x + block.attn(block.norm1(x))[0]
            expected = h + block.ffn(block.norm2(h))
        else:
            h = block.norm1(x + block.attn(x)[0])
            expected = block.norm2(h + block.ffn(h))
        torch.testing.assert_close(block(x)[0], expected)


# ------------------------------------------------------------------------------------------ registries
class _ScaleNorm(torch.nn.Module):
    """A toy norm: ``g * x / ||x||`` (Nguyen & Salazar 2019), one learned scalar."""

    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True) -> None:
        super().__init__()
        self.eps, self.g = eps, torch.nn.Parameter(torch.tensor(float(dim) ** 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.g * x / x.norm(dim=-1, keepdim=True).clamp_min(self.eps)


class _SiLUFeedForward(FeedForward):
    activation = torch.nn.SiLU

    @classmethod
    def default_width(cls, d_model: int) -> int:
        return 3 * d_model


class _Reversed(PositionalScheme):
    """A toy scheme: a bias that *favours* distant keys (the opposite of ALiBi)."""

    def score_bias(self, query_positions: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor:
        return (query_positions[:, None] - key_positions[None, :]).float()[None]  # (1, T, S)


def test_a_registered_variant_is_one_class_and_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(NORMS, "scalenorm", _ScaleNorm)
    monkeypatch.setitem(FFNS, "silu", _SiLUFeedForward)
    monkeypatch.setitem(POSITIONAL_SCHEMES, "reversed", _Reversed)
    calls: list[bool] = []

    def counting(*args: object) -> object:
        calls.append(True)
        return KERNELS["naive"](*args)  # type: ignore[arg-type]

    monkeypatch.setitem(KERNELS, "counting", counting)
    cfg = _cfg(norm="scalenorm", activation="silu", positional="reversed", attention="counting")
    assert cfg.ffn_dim == 48
    model = GPT(cfg).eval()
    assert isinstance(model.blocks[0].norm1, _ScaleNorm) and isinstance(model.norm_f, _ScaleNorm)
    assert isinstance(model.blocks[0].ffn.act, torch.nn.SiLU) and model.blocks[0].ffn.up.out_features == 48
    idx = torch.randint(0, 37, (2, 9))
    with torch.no_grad():
        out = model(idx).logits
        assert len(calls) == 2  # one call per layer
        with model.hooks(positional=False):
            assert not torch.allclose(model(idx).logits, out, atol=1e-4)  # the scheme's bias mattered
    # and the config round-trips through the registries' names
    assert GPTConfig.from_dict(cfg.to_dict()) == cfg
    monkeypatch.undo()
    unregistered = f"positional must be one of {'|'.join(POSITIONAL_SCHEMES)}, got 'reversed'"
    with pytest.raises(ValueError, match=re.escape(unregistered)):
        GPTConfig.from_dict(cfg.to_dict())


def test_post_norm_has_no_final_norm_and_dropout_only_in_training() -> None:
    post = _model(norm_position="post")
    assert isinstance(post.norm_f, torch.nn.Identity)
    drop = _model(dropout=0.5)
    idx = torch.randint(0, 37, (1, 8))
    with torch.no_grad():
        assert torch.equal(drop(idx).logits, drop(idx).logits)
        drop.train()
        assert not torch.equal(drop(idx).logits, drop(idx).logits)


@pytest.mark.parametrize(
    "kw",
    [
        {"positional": "learned", "norm": "layernorm", "activation": "gelu"},
        {"positional": "rope", "norm": "rmsnorm", "activation": "swiglu", "bias": False, "n_kv_heads": 2},
        {"positional": "alibi", "norm_position": "post"},
    ],
)
def test_a_tiny_model_memorizes_a_batch(kw: dict[str, object]) -> None:
    """Gradients reach every part that matters: 40 AdamW steps drive the loss on one batch from ~ln(V) to ~0."""
    model = _model(d_model=32, **kw).train()
    idx = torch.randint(0, 37, (4, 17), generator=torch.Generator().manual_seed(0))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = model(idx[:, :-1], idx[:, 1:]).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[0] > 3.0 and losses[-1] < 0.5, (losses[0], losses[-1])
