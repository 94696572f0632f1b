"""The tensor-position forward (``llmkb.infer.graph``): the model's logits, with the cache carried as tensors."""

from __future__ import annotations

import pytest
import torch

from llmkb.infer.graph import check_graphable, graph_forward
from llmkb.nn import GPT, GPTConfig

CONFIGS = {
    "shared-gqa": GPTConfig.preset("shared", d_model=64, n_layers=2, n_kv_heads=2, max_seq_len=64),
    "gpt2": GPTConfig.preset("gpt2-style", d_model=48, n_layers=2, n_heads=3, max_seq_len=64),
    "alibi-window-post": GPTConfig.preset("tiny", positional="alibi", sliding_window=6, norm_position="post"),
    "sinusoidal-none-norm": GPTConfig.preset("tiny", positional="sinusoidal", norm="none"),
}


def _model(cfg: GPTConfig) -> GPT:
    torch.manual_seed(3)
    model = GPT(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("name", list(CONFIGS))
def test_graph_forward_in_pieces_equals_the_model(name: str) -> None:
    """The tensor-position forward, fed the prompt in three pieces with the cache carried over."""
    model = _model(CONFIGS[name])
    cfg = model.config
    idx = torch.randint(0, 256, (2, 20), generator=torch.Generator().manual_seed(0))
    past = [(torch.zeros(2, cfg.kv_heads, 0, cfg.head_dim),) * 2 for _ in range(cfg.n_layers)]
    pieces = []
    with torch.no_grad():
        for a, b in ((0, 9), (9, 10), (10, 20)):
            logits, past = graph_forward(model, idx[:, a:b], torch.arange(a, b), past)
            pieces.append(logits)
        torch.testing.assert_close(torch.cat(pieces, dim=1), model(idx).logits, atol=1e-5, rtol=1e-5)


def test_moe_is_not_graphable():
    with pytest.raises(ValueError, match="mixture-of-experts"):
        check_graphable(GPT(GPTConfig.preset("tiny", activation="moe")))
