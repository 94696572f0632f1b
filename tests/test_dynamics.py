"""Training-dynamics recording (llmkb.train.dynamics): measured as by hand, and it never changes training."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from llmkb.data import TokenDataset
from llmkb.nn import GPT, GPTConfig
from llmkb.train import TrainConfig, train
from llmkb.train.dynamics import HIST_EDGES, DynamicsRecorder, histogram, layer_of, probe_activations
from llmkb.train.loop import train_step


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
