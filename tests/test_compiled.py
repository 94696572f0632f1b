"""The compiled decode path: the same tokens as ``GPT.generate``, eager graph on many configs, inductor on one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmkb.bench import kv_cache as bench
from llmkb.infer.compiled import StaticDecoder, compiled_generate
from llmkb.infer.sampling import SamplingConfig
from llmkb.nn import GPT, GPTConfig

GREEDY = SamplingConfig(temperature=0.0)


def _model(**overrides: object) -> GPT:
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", **overrides)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"positional": "rope", "norm": "rmsnorm", "activation": "swiglu", "bias": False},
        {"positional": "rope", "n_kv_heads": 1, "activation": "geglu"},
        {"norm_position": "post", "positional": "sinusoidal"},
    ],
)
def test_the_fixed_shape_step_generates_the_same_tokens(overrides: dict) -> None:
    model = _model(**overrides)
    idx = torch.randint(0, 256, (3, 7), generator=torch.Generator().manual_seed(1))
    want = model.generate(idx, 40, GREEDY)
    dec = StaticDecoder(model, 3, 64, compile=False)
    assert torch.equal(dec.generate(idx, 40), want)
    assert torch.equal(dec.generate(idx, 40), want)  # a second run over stale cache slots: masked out
    sampled = SamplingConfig(temperature=0.8, top_k=20)
    a = dec.generate(idx, 12, sampled, torch.Generator().manual_seed(5))
    b = model.generate(idx, 12, sampled, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_step_logits_match_the_model() -> None:
    model = _model(positional="rope", n_kv_heads=1)
    dec = StaticDecoder(model, 2, 16, compile=False)
    idx = torch.randint(0, 256, (2, 9), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        dec.forward(idx[:, :8], torch.arange(8), dec.k, dec.v)
        logits, k_new, v_new = dec.step(idx[:, 8:], torch.tensor([8]), dec.k, dec.v)
        torch.testing.assert_close(logits, model(idx).logits[:, -1], atol=1e-5, rtol=1e-5)
    assert k_new.shape == v_new.shape == (2, 2, 1, 1, 32)  # (L, B, H_kv, 1, D)


def test_inductor_compiled_tokens_equal_eager_and_bench_stamps() -> None:
    """One real ``torch.compile`` (inductor) on a one-layer model; the bench's compiled mode uses it."""
    model = _model(n_layers=1, d_model=32, positional="rope", max_seq_len=24)
    idx = torch.tensor([[5, 6, 7]])
    want = model.generate(idx, 20, GREEDY)
    assert torch.equal(compiled_generate(model, idx, 20), want)
    stamps, tokens = bench.time_generate_steps(model, idx, 20, "compiled")
    assert torch.equal(tokens, want) and stamps.shape == (20,) and (np.diff(stamps) >= 0).all()
    assert bench.compiled_decoder(model, 1).compile_seconds > 0


@pytest.mark.parametrize(
    ("overrides", "msg"),
    [
        ({"activation": "moe"}, "mixture-of-experts"),
        ({"positional": "alibi"}, "ALiBi"),
        ({"sliding_window": 4}, "sliding"),
    ],
)
def test_unsupported_models_are_refused(overrides: dict, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        StaticDecoder(GPT(GPTConfig.preset("tiny", **overrides)), 1, 16, compile=False)
    with pytest.raises(ValueError, match="positions"):
        StaticDecoder(GPT(GPTConfig.preset("tiny")), 1, 65, compile=False)
