"""llmkb.infer.kvtrace: hit/miss/evicted traces on hand-computed cases, agreement with the real KVCache, the block
prefix cache, prefix reuse on a real model, and the cost model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from llmkb.infer.kvtrace import (
    EMPTY,
    EVICTED,
    HIT,
    MISS,
    KVTrace,
    PrefixCache,
    RecordingKVCache,
    copy_prefix,
    decode_cost,
    decode_trace,
    prefix_reuse_check,
    prefix_reuse_trace,
    traced_greedy_decode,
)
from llmkb.infer.sampling import SamplingConfig
from llmkb.nn import GPT, GPTConfig, KVCache

E, H, M, X = EMPTY, HIT, MISS, EVICTED


@pytest.fixture(scope="module")
def tiny() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig.preset("tiny")).eval()


def _windowed(model: GPT, window: int) -> GPT:
    other = GPT(dataclasses.replace(model.config, sliding_window=window))
    other.load_state_dict(model.state_dict())
    return other.eval()


# ------------------------------------------------------------------ simulated decoding, hand-computed


def test_cache_trace_prefill_then_one_miss_per_step():
    t = decode_trace(3, 4)
    expected = np.array(
        [
            [M, M, M, E, E, E],
            [H, H, H, M, E, E],
            [H, H, H, H, M, E],
            [H, H, H, H, H, M],
        ]
    )
    np.testing.assert_array_equal(t.grid, expected)
    assert t.labels == ("prefill", "decode 1", "decode 2", "decode 3")
    assert (t.hits, t.misses, t.count(EVICTED)) == (3 + 4 + 5, 3 + 1 + 1 + 1, 0)
    assert t.hit_rate == pytest.approx(12 / 18)
    np.testing.assert_array_equal(t.per_step()[:, M], [3, 1, 1, 1])


def test_no_cache_trace_recomputes_everything():
    t = decode_trace(3, 4, use_cache=False)
    assert t.mode == "no-cache"
    assert t.hits == 0
    assert t.misses == 3 + 4 + 5 + 6 == 4 * 3 + 4 * 3 // 2  # N P + N (N - 1) / 2
    np.testing.assert_array_equal(t.per_step()[:, M], [3, 4, 5, 6])
    assert t.hit_rate == 0.0


def test_sliding_window_trace_evicts_the_oldest():
    t = decode_trace(3, 4, window=2)
    expected = np.array(
        [
            [M, M, M, E, E, E],
            [X, X, H, M, E, E],
            [X, X, X, H, M, E],
            [X, X, X, X, H, M],
        ]
    )
    np.testing.assert_array_equal(t.grid, expected)
    assert t.mode == "window"
    assert (t.hits, t.misses, t.count(EVICTED)) == (3, 6, 2 + 3 + 4)


def test_window_wider_than_the_sequence_changes_nothing():
    np.testing.assert_array_equal(decode_trace(5, 6, window=64).grid, decode_trace(5, 6).grid)


def test_window_of_one_hits_nothing():
    t = decode_trace(2, 3, window=1)
    assert t.hits == 0 and t.misses == 2 + 1 + 1


@pytest.mark.parametrize("bad", [(0, 3), (3, 0)])
def test_decode_trace_rejects_empty_runs(bad):
    with pytest.raises(ValueError, match=">= 1"):
        decode_trace(*bad)


def test_trace_validates_its_grid():
    with pytest.raises(ValueError, match="labels"):
        KVTrace(np.zeros((2, 3), dtype=np.int8), ("a",), "x")
    with pytest.raises(ValueError, match="codes"):
        KVTrace(np.full((1, 2), 7, dtype=np.int8), ("a",), "x")
    d = decode_trace(2, 2).to_dict()
    assert d["grid"] == [[M, M, E], [H, H, M]] and d["labels"] == ["prefill", "decode 1"]


# ------------------------------------------------------------------ the real cache agrees with the simulation


@pytest.mark.parametrize("window", [None, 3])
def test_recorded_trace_equals_simulation_and_tokens_equal_generate(tiny, window):
    model = tiny if window is None else _windowed(tiny, window)
    idx = torch.tensor([[5, 17, 99, 3, 42]])
    tokens, trace = traced_greedy_decode(model, idx, 7)
    sim = decode_trace(5, 7, window=window)
    np.testing.assert_array_equal(trace.grid, sim.grid)
    assert trace.mode == sim.mode
    assert torch.equal(tokens, model.generate(idx, 7, SamplingConfig(temperature=0.0)))


def test_recording_cache_start_follows_eviction(tiny):
    model = _windowed(tiny, 3)
    cache = RecordingKVCache(model.config, 1, 10)
    with torch.no_grad():
        model(torch.tensor([[1, 2, 3, 4, 5]]), kv_cache=cache)
        for t in (6, 7, 8):
            model(torch.tensor([[t]]), kv_cache=cache)
    # after a call ending at position p the cache holds p-2..p: start = p - 2
    assert cache.starts == [2, 3, 4, 5]
    first_kept = [int(np.argmax(r != EVICTED)) for r in cache.rows[1:]]
    assert first_kept == [3, 4, 5]  # the entry about to be dropped is not read any more


def test_recording_cache_needs_update_before_advance(tiny):
    cache = RecordingKVCache(tiny.config, 1, 4)
    with pytest.raises(RuntimeError, match="update"):
        cache.advance(1)


# ------------------------------------------------------------------ prefix cache


def test_prefix_cache_reuses_whole_matching_blocks_only():
    pc = PrefixCache(block_size=4)
    a = list(range(10))  # blocks [0..3], [4..7]; 8, 9 are a partial block (never stored)
    row_a = pc(a)
    assert (row_a == MISS).all() and len(pc) == 2
    b = list(range(9)) + [50, 51]  # shares 9 tokens = 2 whole blocks
    row_b = pc(b)
    np.testing.assert_array_equal(row_b, [H] * 8 + [M] * 3)
    assert (pc.hit_tokens, pc.miss_tokens) == (8, 10 + 3)
    assert pc.hit_rate == pytest.approx(8 / 21)


def test_prefix_cache_keys_depend_on_the_whole_prefix():
    pc = PrefixCache(block_size=2)
    pc([1, 2, 3, 4])
    assert pc.match([9, 9, 3, 4, 5]) == 0  # block (3, 4) after a different prefix is a different block
    assert pc.match([1, 2, 7, 7, 5]) == 2
    assert pc.keys([1, 2, 3, 4])[1] != pc.keys([9, 9, 3, 4])[1]


def test_prefix_cache_always_computes_the_last_token():
    pc = PrefixCache(block_size=2)
    pc([1, 2, 3, 4])
    assert pc.match([1, 2, 3, 4]) == 3  # fully cached prompt: still one position to run for the logits
    np.testing.assert_array_equal(pc([1, 2, 3, 4]), [H, H, H, M])


def test_prefix_cache_lru_capacity():
    pc = PrefixCache(block_size=1, max_blocks=3)
    pc([1, 2, 3])
    pc([7, 8])  # two new blocks push out the two least recently used: (1) and (1, 2)
    assert len(pc) == 3
    assert pc.match([1, 2, 3, 0]) == 0
    assert pc.match([7, 8, 0]) == 2


@pytest.mark.parametrize("kwargs", [{"block_size": 0}, {"max_blocks": 0}])
def test_prefix_cache_rejects_bad_sizes(kwargs):
    with pytest.raises(ValueError):
        PrefixCache(**kwargs)


def test_prefix_reuse_trace_counts():
    shared = list(range(12))
    t = prefix_reuse_trace([shared + [100, 101], shared + [200], [7, 7, 7, 7, 7]], block_size=4)
    assert t.grid.shape == (3, 14) and t.mode == "prefix"
    np.testing.assert_array_equal(t.per_step()[:, H], [0, 12, 0])
    np.testing.assert_array_equal(t.per_step()[:, M], [14, 1, 5])
    assert (t.grid[2, 5:] == EMPTY).all()


def test_prefix_reuse_gives_the_same_logits_as_recomputing(tiny):
    first = list(range(30, 60))
    second = list(range(30, 50)) + [1, 2, 3, 4, 5, 6, 7]
    out = prefix_reuse_check(tiny, first, second, block_size=8)
    assert out["reused"] == 16 and out["computed"] == len(second) - 16
    assert out["max_abs_diff"] < 1e-5
    assert out["same_argmax"]


def test_prefix_reuse_on_unrelated_prompts_reuses_nothing(tiny):
    out = prefix_reuse_check(tiny, [1] * 20, [2] * 20, block_size=4)
    assert out["reused"] == 0 and out["max_abs_diff"] < 1e-5


def test_copy_prefix_copies_and_validates(tiny):
    src = KVCache(tiny.config, 1, 12)
    with torch.no_grad():
        tiny(torch.arange(10)[None], kv_cache=src)
    dst = copy_prefix(tiny.config, src, 6, 9)
    assert (dst.length, dst.stored, dst.max_len) == (6, 6, 9)
    for layer in range(tiny.config.n_layers):
        assert torch.equal(dst.k[layer][:, :, :6], src.k[layer][:, :, :6])
        assert torch.equal(dst.v[layer][:, :, :6], src.v[layer][:, :, :6])
    with pytest.raises(ValueError, match="n <="):
        copy_prefix(tiny.config, src, 11, 12)
    with pytest.raises(ValueError, match="config"):
        copy_prefix(GPTConfig.preset("shared"), src, 2, 4)
    with pytest.raises(ValueError, match="sliding_window"):
        prefix_reuse_check(_windowed(tiny, 4), [1, 2], [1, 2])


# ------------------------------------------------------------------ cost model


@pytest.mark.parametrize(("p", "n"), [(1, 1), (3, 4), (16, 64), (5, 33)])
@pytest.mark.parametrize("use_cache", [True, False])
def test_token_forwards_are_the_trace_misses(p, n, use_cache):
    cfg = GPTConfig.preset("tiny")
    cost = decode_cost(cfg, p, n, use_cache=use_cache)
    assert cost["token_forwards"] == decode_trace(p, n, use_cache=use_cache).misses
    closed = p + n - 1 if use_cache else n * p + n * (n - 1) // 2
    assert cost["token_forwards"] == closed


def test_attention_pairs_and_flops_by_hand():
    cfg = GPTConfig.preset("tiny")  # d=64, L=2, V=256
    cached = decode_cost(cfg, 2, 3)  # calls: queries {0,1} -> 1+2; {2} -> 3; {3} -> 4
    full = decode_cost(cfg, 2, 3, use_cache=False)  # prefixes of 2, 3, 4 tokens: 3 + 6 + 10
    assert cached["attention_pairs"] == 10 and full["attention_pairs"] == 19
    body = GPT(cfg).num_parameters(exclude_embeddings=True)
    per_token = 2 * body + 2 * 256 * 64
    assert cached["flops"] == per_token * 4 + 4 * 2 * 64 * 10
    windowed = decode_cost(dataclasses.replace(cfg, sliding_window=2), 2, 3)
    assert windowed["attention_pairs"] == 1 + 2 + 2 + 2


def test_cost_ratio_grows_linearly_without_cache():
    cfg = GPTConfig.preset("shared")
    r = [
        decode_cost(cfg, 16, n, use_cache=False)["token_forwards"] / decode_cost(cfg, 16, n)["token_forwards"]
        for n in (256, 512, 1024)
    ]
    assert r[0] < r[1] < r[2]
    assert r[2] / r[1] == pytest.approx(2.0, rel=0.05)  # ~ N / 2 for N >> P
