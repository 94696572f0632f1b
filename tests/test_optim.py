"""The written-out AdamW and global-norm clipping of llmkb.train.optim, against torch step by step."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from llmkb.data import TokenDataset
from llmkb.nn import GPT, GPTConfig
from llmkb.train import TrainConfig, param_groups, train
from llmkb.train.optim import AdamW, build_optimizer, clip_grad_norm


def _model() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=32, d_model=16, n_layers=1, n_heads=2, max_seq_len=16))


@pytest.mark.parametrize("betas", [(0.9, 0.95), (0.5, 0.9)])
def test_adamw_equals_torch_step_by_step(betas: tuple[float, float]) -> None:
    ours_model, ref_model = _model(), _model()
    ours = AdamW(param_groups(ours_model, 0.1), lr=1e-2, betas=betas, eps=1e-8)
    ref = torch.optim.AdamW(param_groups(ref_model, 0.1), lr=1e-2, betas=betas, eps=1e-8, foreach=False)
    assert ours.param_groups[0]["weight_decay"] == 0.1 and ours.param_groups[1]["weight_decay"] == 0.0
    g = torch.Generator().manual_seed(1)
    for step in range(25):
        lr = 1e-2 * (1 + math.cos(step / 5)) + 1e-3  # the loop changes lr every step
        for opt in (ours, ref):
            for group in opt.param_groups:
                group["lr"] = lr
        for (_, p), (_, q) in zip(ours_model.named_parameters(), ref_model.named_parameters(), strict=True):
            grad = torch.randn(p.shape, generator=g) * (10.0 if step % 7 == 0 else 0.1)
            p.grad, q.grad = grad.clone(), grad.clone()
        ours.step()
        ref.step()
        for (name, p), q in zip(ours_model.named_parameters(), ref_model.parameters(), strict=True):
            torch.testing.assert_close(
                p, q, atol=1e-6, rtol=1e-5, msg=lambda m, n=name, s=step: f"{n} {s}: {m}"
            )
    assert ours.state_dict()["state"].keys() == ref.state_dict()["state"].keys()


@pytest.mark.parametrize("scale", [100.0, 1e-3])
def test_clip_grad_norm_equals_torch(scale: float) -> None:
    g = torch.Generator().manual_seed(0)
    grads = [torch.randn(5, 3, generator=g) * scale, torch.randn(7, generator=g) * scale]
    ours = [torch.nn.Parameter(torch.zeros_like(t)) for t in grads]
    ref = [torch.nn.Parameter(torch.zeros_like(t)) for t in grads]
    for p, q, t in zip(ours, ref, grads, strict=True):
        p.grad, q.grad = t.clone(), t.clone()
    n_ours, n_ref = clip_grad_norm(ours, 1.0), torch.nn.utils.clip_grad_norm_(ref, 1.0)
    torch.testing.assert_close(n_ours, n_ref)
    for p, q, t in zip(ours, ref, grads, strict=True):
        torch.testing.assert_close(p.grad, q.grad)
        if scale < 1:  # under the cap: untouched
            assert torch.equal(p.grad, t)
    if scale > 1:
        clipped = torch.sqrt(sum(p.grad.pow(2).sum() for p in ours))  # type: ignore[union-attr]
        assert abs(float(clipped) - 1.0) < 1e-5


def _data() -> TokenDataset:
    return TokenDataset.from_text("".join(f"row {i}: a cat {i * 5 % 11} sat.\n" for i in range(150)))


def _run(**kw: Any) -> list[float]:
    mcfg = GPTConfig(vocab_size=256, d_model=16, n_layers=2, n_heads=2, max_seq_len=16)
    tcfg = TrainConfig(steps=12, batch_size=4, seq_len=16, warmup_steps=2, eval_every=0, log_every=4, **kw)
    return [r["train_loss"] for r in train(mcfg, tcfg, _data(), progress=False).history]


def test_trainer_with_the_written_out_optimizer_follows_torch() -> None:
    cfg = TrainConfig(optimizer="llmkb", grad_clip=0.5)
    opt = build_optimizer(_model(), cfg)
    assert isinstance(opt, AdamW) and opt.max_grad_norm == 0.5
    # clipping is active at this cap (gradient norms of a fresh model are above 0.5), so both paths clip
    torch_losses, ours = _run(grad_clip=0.5), _run(grad_clip=0.5, optimizer="llmkb")
    assert torch_losses[-1] < torch_losses[0]
    assert ours == pytest.approx(torch_losses, abs=2e-4)
    assert _run(grad_clip=0.0, optimizer="llmkb") != pytest.approx(ours, abs=2e-4)  # the cap mattered
