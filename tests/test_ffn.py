"""Feed-forward networks and activations against transformers' LlamaMLP and torch; the 'none' norm; counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from llmkb.nn import GPT, GPTConfig, count_parameters
from llmkb.nn.ffn import FFNS, GeGLU, SwiGLU
from llmkb.nn.norm import NORMS


def _llama_mlp(ffn: SwiGLU, act: str) -> nn.Module:
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaMLP

    d, f = ffn.up.in_features, ffn.up.out_features
    ref = LlamaMLP(
        LlamaConfig(
            hidden_size=d,
            intermediate_size=f,
            hidden_act=act,
            mlp_bias=False,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
    )
    with torch.no_grad():
        ref.gate_proj.weight.copy_(ffn.gate.weight)
        ref.up_proj.weight.copy_(ffn.up.weight)
        ref.down_proj.weight.copy_(ffn.down.weight)
    return ref


@pytest.mark.parametrize(("cls", "act"), [(SwiGLU, "silu"), (GeGLU, "gelu")])
def test_gated_ffn_equals_transformers_llama_mlp(cls: type[SwiGLU], act: str) -> None:
    torch.manual_seed(0)
    ffn = cls(16, cls.default_width(16))
    assert ffn.up.out_features == 48  # 8/3 * 16 = 42.7 -> 48, a multiple of 8
    x = torch.randn(2, 5, 16) * 2
    torch.testing.assert_close(ffn(x), _llama_mlp(ffn, act)(x), atol=1e-6, rtol=1e-5)


def test_mlp_activations_are_the_named_functions() -> None:
    z = torch.linspace(-5, 5, 201)
    expected = {
        "gelu": nn.functional.gelu(z, approximate="tanh"),
        "gelu-tanh": nn.functional.gelu(z, approximate="tanh"),
        "gelu-exact": nn.functional.gelu(z),
        "relu": torch.relu(z),
        "silu": z * torch.sigmoid(z),
    }
    for name, want in expected.items():
        act = FFNS[name](4, 8).act  # type: ignore[call-arg]
        torch.testing.assert_close(act(z), want, atol=1e-6, rtol=0, msg=name)
    assert (FFNS["gelu-exact"](4, 8).act(z) - expected["gelu"]).abs().max() > 1e-4  # type: ignore[call-arg]


def test_no_norm_is_the_identity_and_every_variant_is_counted() -> None:
    x = torch.randn(3, 8)
    nonorm = NORMS["none"](8, eps=1e-5, bias=True)
    assert torch.equal(nonorm(x), x) and not list(nonorm.parameters())
    for norm in NORMS:
        for act in FFNS:
            for pos in ("pre", "post"):
                cfg = GPTConfig(vocab_size=32, d_model=16, n_heads=2, n_layers=2, norm=norm, activation=act,
                                norm_position=pos, bias=act == "gelu")  # fmt: skip
                assert count_parameters(cfg) == GPT(cfg).num_parameters(), (norm, act, pos)
