"""Norms, activations and feed-forward networks against transformers and torch; training-dynamics recording."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from torch import nn

from llmkb.data import TokenDataset
from llmkb.nn import GPT, GPTConfig, count_parameters
from llmkb.nn.ffn import FFNS, GeGLU, SwiGLU
from llmkb.nn.norm import NORMS
from llmkb.train import TrainConfig, train
from llmkb.train.dynamics import HIST_EDGES, DynamicsRecorder, histogram, layer_of, probe_activations
from llmkb.train.loop import train_step


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


def test_histogram_and_layer_names() -> None:
    x = torch.tensor([-100.0, -6.0, 0.1, 5.99, 100.0])
    h = histogram(x)
    assert h.sum() == 5 and h[0] == 2 and h[-1] == 2 and len(h) == len(HIST_EDGES) - 1
    assert layer_of("blocks.3.ffn.up.weight") == 3 and layer_of("tok_emb.weight") is None


def _model(**kw: Any) -> GPT:
    torch.manual_seed(0)
    base = {"vocab_size": 64, "d_model": 16, "n_layers": 3, "n_heads": 2, "max_seq_len": 16, "bias": False}
    return GPT(GPTConfig(**{**base, **kw}))


@pytest.mark.parametrize("activation", ["swiglu", "relu"])
def test_recorder_measures_one_step_as_computed_by_hand(activation: str) -> None:
    model = _model(activation=activation, norm="rmsnorm")
    twin = copy.deepcopy(model)
    x = torch.randint(0, 64, (2, 8), generator=torch.Generator().manual_seed(0))
    y = torch.roll(x, -1, dims=1)
    # by hand, on the twin: per-block gradient norms, residual norms, the update of one AdamW step
    probe = probe_activations(twin, x)
    twin(x, y).loss.backward()
    grads = [
        torch.sqrt(sum(p.grad.pow(2).sum() for p in b.parameters()))
        for b in twin.blocks  # type: ignore[misc]
    ]
    before = [p.detach().clone() for p in twin.parameters()]
    opt_twin = torch.optim.AdamW(twin.parameters(), lr=1e-2)
    opt_twin.step()
    with torch.no_grad():
        delta = torch.sqrt(sum((p - b).pow(2).sum() for p, b in zip(twin.parameters(), before, strict=True)))
        ratio = delta / torch.sqrt(sum(b.pow(2).sum() for b in before))

    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    with DynamicsRecorder(model, opt, histogram_every=1) as rec:
        train_step(model, opt, list(model.parameters()), x, y, lr=1e-2, grad_clip=0.0)
        records: list[dict[str, Any]] = [{"step": 1}]
        rec.annotate(records)
    r = records[0]
    assert r["layer_grad_norms"] == pytest.approx([float(g) for g in grads], rel=1e-5)
    assert r["update_ratio"] == pytest.approx(float(ratio), rel=1e-4)
    assert len(r["layer_update_ratios"]) == 3
    assert r["resid_norms"] == pytest.approx([float(t.norm(dim=-1).mean()) for t in probe["resid"]], rel=1e-5)
    assert [sum(h) for h in r["resid_hist"]] == [2 * 8 * 16] * 3
    f = model.config.ffn_dim
    assert [sum(h) for h in r["ffn_hist"]] == [2 * 8 * f] * 3
    assert [t.shape for t in probe["hidden"]] == [(16, f)] * 3
    n_hooks = len(rec._handles)
    assert n_hooks == 0  # removed on exit


def test_recording_does_not_change_the_loss_curve() -> None:
    data = TokenDataset.from_text("".join(f"row {i}: a dog {i * 3 % 7} ran.\n" for i in range(120)))
    mcfg = GPTConfig(vocab_size=256, d_model=16, n_layers=2, n_heads=2, max_seq_len=16)
    base = {"steps": 6, "batch_size": 4, "seq_len": 16, "warmup_steps": 1, "eval_every": 3, "log_every": 2}
    plain = train(mcfg, TrainConfig(**base), data, progress=False)
    rec = train(mcfg, TrainConfig(**base, dynamics=True, histogram_every=3), data, progress=False)
    key = ("train_loss", "grad_norm", "val_loss")
    assert [[r[k] for k in key] for r in plain.history] == [[r[k] for k in key] for r in rec.history]
    for a, b in zip(plain.model.parameters(), rec.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert all(len(r["layer_grad_norms"]) == 2 and r["update_ratio"] > 0 for r in rec.history)
    assert [("resid_hist" in r) for r in rec.history] == [True, False, True, False, False, True]
    assert "layer_grad_norms" not in plain.history[0]
