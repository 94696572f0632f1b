"""Grouped-query attention: MHA and MQA as its two ends, every kernel and the KV cache against a reference
that repeats K/V per group, Hugging Face's ``LlamaAttention``, and the MHA -> GQA conversion."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from llmkb.nn import GPT, GPTConfig, KVCache, MultiHeadAttention, count_parameters, scaled_dot_product
from llmkb.nn.attention import KERNELS
from llmkb.nn.gqa import convert_mha_to_gqa, pool_kv_heads

H, H_KV, D = 8, 2, 4  # group size 4: query head h reads kv head h // 4, which differs from h % 2


def _reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal MHA whose K/V heads are repeated per group, written out head by head."""
    g = q.shape[1] // k.shape[1]
    T, S = q.shape[2], k.shape[2]
    allowed = torch.ones(T, S, dtype=torch.bool).tril(S - T)
    heads = []
    for h in range(q.shape[1]):
        kh, vh = k[:, h // g], v[:, h // g]  # (B, S, D)
        scores = (q[:, h] @ kh.transpose(-1, -2)) / D**0.5
        heads.append(torch.softmax(scores.masked_fill(~allowed, float("-inf")), -1) @ vh)
    return torch.stack(heads, dim=1)  # (B, H, T, D)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_gqa_kernels_equal_mha_with_kv_repeated_per_group(name: str) -> None:
    """Every registered kernel (a new one included) maps query head h to key/value head h // g."""
    kernel = KERNELS[name]
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, H, 5, D, generator=g)
    k, v = torch.randn(2, 2, H_KV, 5, D, generator=g).unbind(0)
    out, _ = kernel(q, k, v, None, None, 0.0, True)
    torch.testing.assert_close(out, _reference(q, k, v))
    wrong = k[:, torch.arange(H) % H_KV]  # the other plausible mapping gives other numbers
    assert not torch.allclose(out, _reference(q, wrong, v[:, torch.arange(H) % H_KV]), atol=1e-3)


def test_naive_kernel_never_copies_kv_per_group(monkeypatch) -> None:
    """The explicit formula multiplies each shared K/V head once: no repeat, same numbers (weights too)."""
    g = torch.Generator().manual_seed(1)
    q = torch.randn(3, H, 4, D, generator=g)
    k, v = torch.randn(2, 3, H_KV, 7, D, generator=g).unbind(0)
    mask = torch.ones(4, 7, dtype=torch.bool).tril(3)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("K/V were repeated")

    monkeypatch.setattr(torch.Tensor, "repeat_interleave", forbidden)
    out, weights = scaled_dot_product(q, k, v, mask)
    monkeypatch.undo()
    torch.testing.assert_close(out, _reference(q, k, v))
    full, full_w = scaled_dot_product(q, k.repeat_interleave(4, 1), v.repeat_interleave(4, 1), mask)
    torch.testing.assert_close((out, weights), (full, full_w))


def _model(n_kv_heads: int | None, **kw: object) -> GPT:
    torch.manual_seed(0)
    cfg = GPTConfig(d_model=32, n_layers=2, n_heads=H, n_kv_heads=n_kv_heads, max_seq_len=32, **kw)
    return GPT(cfg).eval()


def test_n_kv_heads_equal_to_n_heads_is_exactly_mha() -> None:
    mha, same = _model(None), _model(H)
    assert same.state_dict().keys() == mha.state_dict().keys()
    for (name, a), b in zip(mha.state_dict().items(), same.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    idx = torch.randint(0, 256, (2, 16))
    assert torch.equal(mha(idx).logits, same(idx).logits)
    assert count_parameters(mha.config) == count_parameters(same.config)


@pytest.mark.parametrize("attention", ["naive", "sdpa"])
def test_one_kv_head_is_multi_query_attention(attention: str) -> None:
    """MQA: every query head attends with the one shared K/V, through the model and through its cache."""
    model = _model(1, attention=attention, positional="rope")
    attn = model.blocks[0].attn
    assert attn.k_proj.out_features == attn.v_proj.out_features == D
    x = torch.randn(2, 9, 32)
    out, weights = attn(x, positional=model.pos_emb, return_weights=True)
    q = attn._split(attn.q_proj(x), H)
    k, v = attn._split(attn.k_proj(x), 1), attn._split(attn.v_proj(x), 1)
    q, k = model.pos_emb.rotate(q, k, 0)
    want = _reference(q, k, v).transpose(1, 2).reshape(2, 9, 32)
    torch.testing.assert_close(out, attn.o_proj(want))
    idx = torch.randint(0, 256, (1, 12))
    cache = KVCache(model.config, 1, 12)
    stepped = [model(idx[:, :8], kv_cache=cache).logits[:, -1]]
    stepped += [model(idx[:, t : t + 1], kv_cache=cache).logits[:, -1] for t in range(8, 12)]
    torch.testing.assert_close(torch.stack(stepped[1:], 1), model(idx).logits[:, 8:], atol=1e-5, rtol=1e-5)
    assert cache.k[0].shape == (1, 1, 12, D)  # the cache stores one head, not H


def test_kv_cache_stores_kv_heads_and_its_bytes_follow_the_formula() -> None:
    for n_kv in (H, 4, 2, 1):
        cfg = _model(n_kv).config
        cache = KVCache(cfg, batch_size=3, max_len=20)
        assert cache.nbytes == 2 * cfg.n_layers * n_kv * cfg.head_dim * 20 * 3 * 4
        assert cache.k[1].shape == (3, n_kv, 20, cfg.head_dim)


def test_grouped_attention_equals_hugging_face_llama_attention() -> None:
    """Our grouped layer with copied weights equals ``LlamaAttention`` with ``num_key_value_heads`` < heads."""
    from hfkit import llama_config
    from transformers.models.llama.modeling_llama import LlamaAttention, LlamaRotaryEmbedding

    cfg = GPTConfig.preset("shared", n_heads=H, n_kv_heads=H_KV, d_model=64, attention="naive")
    torch.manual_seed(0)
    ours = MultiHeadAttention(cfg).eval()
    positional = GPT(cfg).pos_emb
    hf_cfg = llama_config(cfg, rope_theta=cfg.rope_base, attention_bias=False, attn_implementation="eager")
    theirs = LlamaAttention(hf_cfg, layer_idx=0).eval()
    theirs.load_state_dict(ours.state_dict())
    assert theirs.num_key_value_groups == H // H_KV
    x = torch.randn(2, 11, 64)
    pos = torch.arange(11)[None].expand(2, -1)
    cos_sin = LlamaRotaryEmbedding(hf_cfg)(x, pos)
    mask = torch.full((11, 11), float("-inf")).triu(1)[None, None]
    with torch.no_grad():
        want, want_w = theirs(x, position_embeddings=cos_sin, attention_mask=mask)
        got, got_w = ours(x, positional=positional, return_weights=True)  # the naive kernel
        fused = MultiHeadAttention(dataclasses.replace(cfg, attention="sdpa")).eval()
        fused.load_state_dict(ours.state_dict())
        got_sdpa, _ = fused(x, positional=positional)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_w, want_w, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_sdpa, want, atol=1e-5, rtol=1e-5)


def test_pooling_takes_group_means_or_first_heads() -> None:
    w = torch.arange(8 * 3 * 2, dtype=torch.float32).reshape(8 * 3, 2)  # 8 heads of width 3, d_model 2
    heads = w.reshape(8, 3, 2)
    mean = pool_kv_heads(w, 8, 2, "mean").reshape(2, 3, 2)
    torch.testing.assert_close(mean[1], heads[4:8].mean(0))
    assert torch.equal(pool_kv_heads(w, 8, 2, "first").reshape(2, 3, 2)[1], heads[4])
    assert torch.equal(pool_kv_heads(w, 8, 8), w)
    with pytest.raises(ValueError, match="must divide"):
        pool_kv_heads(w, 8, 3)
    with pytest.raises(ValueError, match="mean|first"):
        pool_kv_heads(w, 8, 2, "max")


def test_converted_model_has_group_means_and_new_config() -> None:
    mha = _model(None, bias=True)
    gqa = convert_mha_to_gqa(mha, H_KV)
    assert gqa.config.kv_heads == H_KV and mha.config.kv_heads == H
    assert gqa.config == dataclasses.replace(mha.config, n_kv_heads=H_KV)
    hd = mha.config.head_dim
    for i in range(2):
        for proj in ("k_proj", "v_proj"):
            old, new = getattr(mha.blocks[i].attn, proj), getattr(gqa.blocks[i].attn, proj)
            torch.testing.assert_close(
                new.weight, old.weight.reshape(H_KV, 4, hd, 32).mean(1).reshape(-1, 32)
            )
            torch.testing.assert_close(new.bias, old.bias.reshape(H_KV, 4, hd).mean(1).reshape(-1))
        assert torch.equal(gqa.blocks[i].attn.q_proj.weight, mha.blocks[i].attn.q_proj.weight)
    first = convert_mha_to_gqa(mha, 1, method="first")
    assert torch.equal(first.blocks[0].attn.k_proj.weight, mha.blocks[0].attn.k_proj.weight[:hd])
    same = convert_mha_to_gqa(mha, H)
    idx = torch.randint(0, 256, (1, 10))
    assert torch.equal(same(idx).logits, mha(idx).logits)
    assert not gqa.training and count_parameters(gqa.config) == gqa.num_parameters()
    with pytest.raises(ValueError, match="must divide"):
        convert_mha_to_gqa(gqa, 4)


@pytest.mark.parametrize("n_rep", [1, 2, 4])
def test_repeat_kv_equals_hugging_face_repeat_kv(n_rep: int) -> None:
    """``repeat_kv`` repeats each key/value head ``n_rep`` times in a row (head ``h`` reads ``h // n_rep``), as
    transformers' Llama does — not tiled (``h % H_kv``)."""
    from transformers.models.llama.modeling_llama import repeat_kv as hf_repeat_kv

    from llmkb.nn import repeat_kv

    x = torch.randn(2, 3, 5, 4)  # (B, H_kv, T, D)
    assert torch.equal(repeat_kv(x, n_rep), hf_repeat_kv(x, n_rep))
