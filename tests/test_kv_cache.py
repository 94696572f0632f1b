"""KV caches: cached decoding equals recomputation, and the memory is what the formula says."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from llmkb.infer.sampling import SamplingConfig
from llmkb.nn import GPT, ConcatKVCache, GPTConfig, KVCache

GREEDY = SamplingConfig(temperature=0.0)

POSITIONAL = ["none", "sinusoidal", "learned", "rope", "alibi"]


def _model(seed: int = 0, **kw: object) -> GPT:
    base = {"vocab_size": 41, "d_model": 32, "n_layers": 2, "n_heads": 4, "max_seq_len": 24}
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**base, **kw})).eval()  # type: ignore[arg-type]


_KINDS = [
    pytest.param({"positional": p, "n_kv_heads": kv}, id=f"{p}-kv{kv}")
    for p in POSITIONAL
    for kv in (None, 2, 1)
] + [
    pytest.param({"positional": "rope", "n_kv_heads": 2, "sliding_window": 5}, id="rope-window"),
    pytest.param({"positional": "alibi", "sliding_window": 3, "attention": "naive"}, id="alibi-window-naive"),
    pytest.param(
        {"positional": "learned", "norm_position": "post", "activation": "swiglu"}, id="learned-post"
    ),
]


# ------------------------------------------------------------------------------------------ generation
@pytest.mark.parametrize("kw", _KINDS)
def test_greedy_generation_is_identical_with_and_without_cache(kw: dict[str, object]) -> None:
    model = _model(**kw)
    prompt = torch.randint(0, 41, (2, 5), generator=torch.Generator().manual_seed(1))
    # 5 + 30 tokens run past max_seq_len=24: learned positions crop, the rest extrapolate
    plain = model.generate(prompt, 30, GREEDY, use_cache=False)
    static = model.generate(prompt, 30, GREEDY, use_cache=True)
    concat = model.generate(prompt, 30, GREEDY, use_cache=True, cache_impl="concat")
    assert plain.shape == (2, 35) and torch.equal(plain[:, :5], prompt)
    assert torch.equal(static, plain)
    assert torch.equal(concat, plain)


@pytest.mark.parametrize("kw", [{"positional": p, "n_kv_heads": 2} for p in POSITIONAL], ids=POSITIONAL)
def test_seeded_sampling_is_identical_with_and_without_cache(kw: dict[str, object]) -> None:
    model = _model(**kw)
    prompt = torch.randint(0, 41, (3, 4), generator=torch.Generator().manual_seed(2))
    params = SamplingConfig(temperature=1.3, top_k=20, top_p=0.95)
    runs = []
    for use_cache, impl in ((False, "static"), (True, "static"), (True, "concat")):
        g = torch.Generator().manual_seed(1234)
        runs.append(model.generate(prompt, 20, params, use_cache=use_cache, cache_impl=impl, generator=g))
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[0], runs[2])
    # sampling really is random: another seed gives another continuation
    other = model.generate(prompt, 20, params, generator=torch.Generator().manual_seed(99))
    assert not torch.equal(other, runs[0])


def test_generate_restores_training_mode_and_validates() -> None:
    model = _model().train()
    out = model.generate(torch.zeros(1, 3, dtype=torch.long), 2, GREEDY)
    assert model.training and out.shape == (1, 5)
    assert torch.equal(
        model.generate(torch.zeros(1, 3, dtype=torch.long), 0), torch.zeros(1, 3, dtype=torch.long)
    )
    with pytest.raises(ValueError, match="prompt"):
        model.generate(torch.zeros(1, 0, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(torch.zeros(1, 3, dtype=torch.long), -1)
    with pytest.raises(ValueError, match="cache_impl"):
        model.generate(torch.zeros(1, 3, dtype=torch.long), 2, cache_impl="paged")
    with pytest.raises(ValueError, match="^sampling must be a SamplingConfig, got bool$"):
        model.generate(torch.zeros(1, 3, dtype=torch.long), 2, False)  # the old positional use_cache


# ------------------------------------------------------------------------------------------ chunked forward
@pytest.mark.parametrize("kw", _KINDS)
@pytest.mark.parametrize("impl", ["static", "concat"])
def test_chunked_cached_forward_equals_full_forward(kw: dict[str, object], impl: str) -> None:
    """Prefill in uneven chunks (multi-token chunks attend to the cache *and* each other)."""
    model = _model(**kw)
    idx = torch.randint(0, 41, (2, 20), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full = model(idx).logits
        cache = model.make_cache(2, 20, impl)
        pieces, start = [], 0
        for size in (6, 1, 4, 1, 1, 7):
            pieces.append(model(idx[:, start : start + size], kv_cache=cache).logits)
            start += size
    assert cache.length == 20
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)


def test_sliding_window_cache_evicts_but_keeps_absolute_positions() -> None:
    model = _model(positional="rope", sliding_window=4)
    cache = KVCache(model.config, 1, max_len=100)
    assert cache.capacity == 4 and cache.k[0].shape == (1, 4, 4, 8)
    idx = torch.randint(0, 41, (1, 11))
    with torch.no_grad():
        full = model(idx).logits
        steps = [model(idx[:, i : i + 1], kv_cache=cache).logits for i in range(11)]
    assert (cache.length, cache.stored, cache.start) == (11, 4, 7)
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)
    # without eviction the same cache must hold every position
    keep_all = KVCache(model.config, 1, max_len=11, evict=False)
    assert keep_all.capacity == 11


# ------------------------------------------------------------------------------------------ memory
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize(("n_heads", "n_kv_heads", "batch"), [(4, None, 1), (4, 2, 1), (8, 1, 3)])
def test_static_cache_shapes_dtypes_and_nbytes(
    dtype: torch.dtype, n_heads: int, n_kv_heads: int | None, batch: int
) -> None:
    cfg = GPTConfig(d_model=64, n_layers=3, n_heads=n_heads, n_kv_heads=n_kv_heads)
    T = 50
    cache = KVCache(cfg, batch, T, dtype=dtype)
    kv, hd = cfg.kv_heads, cfg.head_dim
    assert len(cache.k) == len(cache.v) == 3
    for t in (*cache.k, *cache.v):
        assert t.shape == (batch, kv, T, hd) and t.dtype == dtype
    bytes_per_element = torch.finfo(dtype).bits // 8
    assert cache.nbytes == 2 * 3 * kv * hd * T * bytes_per_element * batch
    assert cache.length == 0 and cache.start == 0


def test_cache_bookkeeping_overflow_and_reset() -> None:
    model = _model(n_kv_heads=2)
    cache = model.make_cache(1, 6)
    idx = torch.randint(0, 41, (1, 6))
    with torch.no_grad():
        first = model(idx, kv_cache=cache).logits
        assert cache.length == 6
        with pytest.raises(ValueError, match="KV cache full"):
            model(idx[:, :1], kv_cache=cache)
        cache.reset()
        assert cache.length == 0
        torch.testing.assert_close(model(idx, kv_cache=cache).logits, first)
        with pytest.raises(ValueError, match="pos_offset"):
            model(idx[:, :1], kv_cache=cache, pos_offset=3)
    with pytest.raises(ValueError, match="shape"):
        cache.update(0, torch.zeros(1, 4, 1, 8), torch.zeros(1, 4, 1, 8))  # 4 heads, the cache holds 2
    with pytest.raises(ValueError, match="batch size"):
        cache.update(0, torch.zeros(2, 2, 1, 8), torch.zeros(2, 2, 1, 8))


def test_concat_cache_grows_with_the_sequence() -> None:
    model = _model(n_kv_heads=2, d_model=32, n_heads=4)
    cache = ConcatKVCache(model.config)
    assert cache.nbytes == 0
    with torch.no_grad():
        model(torch.randint(0, 41, (2, 7)), kv_cache=cache)
        assert cache.nbytes == 2 * 2 * 2 * 8 * 7 * 4 * 2  # k,v x layers x kv_heads x head_dim x T x fp32 x B
        model(torch.randint(0, 41, (2, 1)), kv_cache=cache)
    assert cache.k[0] is not None and cache.k[0].shape == (2, 2, 8, 8)
    windowed_model = GPT(dataclasses.replace(model.config, sliding_window=3)).eval()
    windowed = ConcatKVCache(windowed_model.config)
    with torch.no_grad():
        windowed_model(torch.randint(0, 41, (1, 9)), kv_cache=windowed)
    assert windowed.k[1] is not None and windowed.k[1].shape == (1, 2, 3, 8) and windowed.start == 6
