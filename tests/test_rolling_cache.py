"""Tests of ``llmkb.nn.rolling_cache``: a sliding-window model decoding with the rolling cache gives the same
tokens (and logits) as recomputing every step on the whole context with the window mask, while the cache
holds exactly ``window`` positions however long the run; and the NTK-aware RoPE scheme ``rope-ntk``."""

from __future__ import annotations

import math

import pytest
import torch

from llmkb.nn import GPT, GPTConfig, RollingKVCache
from llmkb.nn.positional import NTKRotaryEmbedding, RotaryEmbedding, ntk_scaled_base


def _greedy(
    model: GPT, prompt: torch.Tensor, n: int, cache: RollingKVCache | None
) -> tuple[torch.Tensor, torch.Tensor]:
    out, last = prompt, []
    logits = model(prompt, kv_cache=cache).logits[:, -1]
    for _ in range(n):
        last.append(logits)
        out = torch.cat((out, logits.argmax(-1, keepdim=True)), dim=1)
        logits = (model(out[:, -1:], kv_cache=cache) if cache is not None else model(out)).logits[:, -1]
    return out, torch.stack(last)


@pytest.mark.parametrize(
    ("positional", "window", "prompt_len"), [("rope", 6, 4), ("alibi", 5, 13), ("none", 1, 3)]
)
def test_rolling_cache_gives_the_tokens_of_recomputing_with_the_window(
    positional: str, window: int, prompt_len: int
) -> None:
    torch.manual_seed(1)
    cfg = GPTConfig.preset("tiny", positional=positional, sliding_window=window, n_kv_heads=1, max_seq_len=64)
    model = GPT(cfg).eval()
    prompt = torch.randint(0, 256, (2, prompt_len))
    cache = RollingKVCache(cfg, batch_size=2)
    bytes_per_position = 2 * cfg.n_layers * cfg.kv_heads * cfg.head_dim * 2 * 4
    with torch.no_grad():
        got, got_logits = _greedy(model, prompt, 40, cache)
        want, want_logits = _greedy(model, prompt, 40, None)
    assert torch.equal(got, want)
    torch.testing.assert_close(got_logits, want_logits, atol=1e-5, rtol=0)
    assert cache.length == prompt_len + 40  # the prompt, then each sampled token fed back
    assert cache.stored == window and cache.start == cache.length - window
    assert cache.nbytes == bytes_per_position * window  # the window, not the length


def test_rolling_cache_rejects_a_config_without_window() -> None:
    with pytest.raises(ValueError, match="sliding_window"):
        RollingKVCache(GPTConfig.preset("tiny"), batch_size=1)


def test_ntk_rope_is_rope_with_the_scaled_base() -> None:
    cfg = GPTConfig.preset("tiny", positional="rope-ntk", rope_scale=4.0, max_seq_len=32)
    ntk = GPT(cfg).pos_emb
    assert isinstance(ntk, NTKRotaryEmbedding)
    D = cfg.head_dim
    assert ntk.base == pytest.approx(10000.0 * 4.0 ** (D / (D - 2)))
    plain = RotaryEmbedding(D, 32, ntk_scaled_base(10000.0, 4.0, D))
    for a, b in zip(ntk.span(0, 32), plain.span(0, 32), strict=True):
        assert torch.equal(a, b)
    trained = RotaryEmbedding(D, 32)
    # the fastest pair keeps its angle, the slowest turns 4x slower: its angle at 4p is the trained one at p
    cos_n, _ = ntk.span(0, 32)
    cos_t, _ = trained.span(0, 32)
    assert torch.equal(cos_n[:, 0], cos_t[:, 0])
    slow = D // 2 - 1
    angle_n = torch.arange(32.0) * ntk.base ** (-(D - 2) / D)
    angle_t = torch.arange(32.0) * 10000.0 ** (-(D - 2) / D)
    torch.testing.assert_close(angle_n * 4.0, angle_t, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(cos_n[:, slow], torch.cos(angle_n), atol=1e-5, rtol=0)
    assert GPT(GPTConfig.preset("tiny", positional="rope-ntk")).pos_emb.base == 10000.0  # scale 1: plain RoPE
    assert math.isclose(NTKRotaryEmbedding(D, 8, 500.0, 2.0).trained_base, 500.0)
