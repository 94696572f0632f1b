"""Quantization-aware training (QAT; Jacob et al. 2018, arXiv 1712.05877): train through the rounding.

Post-training quantization rounds weights that were never trained to live on a grid. QAT fine-tunes from the
float checkpoint with [`fake_quant`][llmkb.quant.uniform.fake_quant] in the forward pass, so the loss is the
loss *of the quantized model*, and the straight-through estimator (Bengio et al. 2013, arXiv 1308.3432) carries
its gradient to float **master weights**:

``w_hat = Q(w)`` forward,  ``dL/dw = dL/dw_hat`` backward,  ``w <- w - lr * AdamW(dL/dw)``.

Small updates accumulate in the float masters until a weight crosses a rounding boundary. At the end the masters
are quantized once more — with the same spec, into the same integer format as post-training quantization — and
the result computes exactly what the last fake-quantized forward computed.

The model is never modified: the forward runs with ``torch.func.functional_call`` on the fake-quantized weights.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.func import functional_call

from llmkb.nn import GPT
from llmkb.quant.model import clone_model, quantizable, quantize_model
from llmkb.quant.uniform import QuantSpec, fake_quant

__all__ = ["qat_loss", "qat_finetune"]


def qat_loss(model: GPT, spec: QuantSpec | None, x: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy of the fake-quantized ``model`` on inputs ``x`` and targets ``y`` ``(B, T)``, with STE grads.

    ``spec=None`` is the float loss (the control: the same fine-tuning without quantization)."""
    params = dict(model.named_parameters())
    fq = {} if spec is None else {n: fake_quant(params[n], spec) for n in quantizable(model)}
    loss = functional_call(model, fq, (x,), {"targets": y}, strict=False).loss
    assert loss is not None
    return loss


@torch.no_grad()
def _adam_step(
    params: list[torch.nn.Parameter],
    moments: list[tuple[Tensor, Tensor]],
    lr: float,
    t: int,
    clip: float = 1.0,
) -> None:
    """One Adam step (Kingma & Ba 2014, arXiv 1412.6980) after clipping the global gradient norm to ``clip``.

    ``m <- 0.9 m + 0.1 g``, ``v <- 0.999 v + 0.001 g^2``, ``w <- w - lr m_hat / (sqrt(v_hat) + 1e-8)`` with the
    bias corrections ``m_hat = m / (1 - 0.9^t)``, ``v_hat = v / (1 - 0.999^t)``. Written out (no weight decay, so
    the masters stay near the checkpoint) rather than ``torch.optim``, whose first use imports the compiler.
    """
    grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in params]
    norm = torch.sqrt(sum((g.float() ** 2).sum() for g in grads))
    factor = min(1.0, clip / (float(norm) + 1e-6))
    for p, g, (m, v) in zip(params, grads, moments, strict=True):
        g = g * factor
        m.mul_(0.9).add_(g, alpha=0.1)
        v.mul_(0.999).addcmul_(g, g, value=0.001)
        m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
        p.sub_(lr * m_hat / (v_hat.sqrt() + 1e-8))


def qat_finetune(
    model: GPT,
    spec: QuantSpec | None,
    ids: Tensor,
    steps: int,
    *,
    batch_size: int = 8,
    seq_len: int = 128,
    lr: float = 3e-4,
    seed: int = 0,
    callback: Callable[[int, GPT], None] | None = None,
    every: int = 0,
) -> tuple[GPT, list[float]]:
    """Fine-tune a copy of ``model`` with fake quantization; return its quantized model and the training losses.

    Args:
        model: the float checkpoint (unchanged).
        spec: the target quantizer (``None``: plain float fine-tuning, the control).
        ids: training token ids ``(N,)``.
        steps: optimizer steps.
        batch_size: windows per step.
        seq_len: tokens per window.
        lr: Adam learning rate.
        seed: seed of the batches.
        callback: called as ``callback(step, quantized_model)`` at step 0 and every ``every`` steps.
        every: callback period (0: never).

    Returns:
        ``(quantize_model(masters, spec), losses per step)``.
    """
    master = clone_model(model).train()
    params = [p for p in master.parameters() if p.requires_grad]
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    g = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    for step in range(steps):
        if callback is not None and every and step % every == 0:
            callback(step, quantize_model(master, spec))
        starts = torch.randint(0, len(ids) - seq_len - 1, (batch_size,), generator=g)
        win = ids[starts[:, None] + torch.arange(seq_len + 1)[None, :]]  # (B, T+1)
        loss = qat_loss(master, spec, win[:, :-1], win[:, 1:])
        for p in params:
            p.grad = None
        loss.backward()
        _adam_step(params, moments, lr, step + 1)
        losses.append(float(loss.detach()))
    quantized = quantize_model(master, spec)
    if callback is not None and every:
        callback(steps, quantized)
    return quantized, losses
