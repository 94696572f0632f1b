"""GPTQ: round one column at a time and push its error onto the columns not yet rounded (Frantar et al. 2022,
"GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers", arXiv 2210.17323).

Round-to-nearest treats every weight alone. The layer's output error on calibration inputs ``X`` ``(n, in)`` is

``E(W_hat) = ||X W^T - X W_hat^T||^2 = sum_rows (w - w_hat)^T H (w - w_hat)``,  ``H = X^T X``,

so errors in correlated input channels can cancel. GPTQ (after Optimal Brain Quantization) quantizes the input
columns in order; after rounding column ``i`` with error ``e = (w_i - q_i) / [H^-1]_ii`` it updates every later
column, ``w_j <- w_j - e [H^-1]_ij`` (``j > i``), the least-squares correction given the columns already fixed.
With the Cholesky factor ``U`` of ``H^-1`` (upper, ``H^-1 = U^T U``) the rows of ``U`` are exactly the needed
``H^-1`` entries as columns are eliminated. A damping ``lambda * mean(diag H)`` keeps ``H`` invertible.

Group scales are set when the loop enters a group, from the (already updated) weights of that group — as in the
reference implementation — so the result lies exactly on the grid of the same
[`QuantSpec`][llmkb.quant.uniform.QuantSpec] round-to-nearest uses, at the same size.
"""

from __future__ import annotations

import torch
from torch import Tensor

from llmkb.nn import GPT
from llmkb.quant.awq import collect_inputs
from llmkb.quant.model import clone_model, quantizable
from llmkb.quant.uniform import QuantSpec, quantize

__all__ = ["hessian", "gptq_quantize", "gptq_model"]


def hessian(x: Tensor) -> Tensor:
    """``H = X^T X / n`` ``(in, in)`` of inputs ``x`` ``(n, in)`` (float64)."""
    x = x.double()
    return x.T @ x / x.shape[0]


def _round_column(w: Tensor, scale: Tensor, zero: Tensor | None, spec: QuantSpec) -> Tensor:
    """Quantize-dequantize one column ``(out,)`` on a given grid (scales ``(out,)``, zero points or ``None``)."""
    if zero is None:
        qmax = 2 ** (spec.bits - 1) - 1
        return torch.clamp(torch.round(w / scale), -qmax, qmax) * scale
    q = torch.clamp(torch.round(w / scale) + zero, 0, 2**spec.bits - 1)
    return (q - zero) * scale


def gptq_quantize(w: Tensor, h: Tensor, spec: QuantSpec, damp: float = 0.01) -> Tensor:
    """The GPTQ-quantized (and dequantized) ``w`` ``(out, in)`` for the input second moment ``h`` ``(in, in)``.

    Args:
        w: the weights.
        h: ``X^T X / n`` of calibration inputs ([`hessian`][llmkb.quant.gptq.hessian]).
        spec: a ``channel`` or ``group`` quantizer (``tensor`` would need every column's error in advance).
        damp: ``lambda``, added to the diagonal as a fraction of its mean.

    Returns:
        ``W_hat`` ``(out, in)``, float32, on ``spec``'s grid.
    """
    if spec.granularity == "tensor":
        raise ValueError("GPTQ needs per-channel or per-group scales")
    out, inp = w.shape
    W = w.detach().double().clone()  # (out, in), updated in place
    H = h.double().clone()
    dead = torch.diag(H) == 0  # inputs that never fire: their weights do not matter
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    H += damp * torch.mean(torch.diag(H)) * torch.eye(inp, dtype=H.dtype)
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)  # H^-1 = U^T U
    g = inp if spec.granularity == "channel" else spec.group_size
    out_w = torch.zeros_like(W)
    scale: Tensor = torch.ones(out, dtype=W.dtype)
    zero: Tensor | None = None
    for i in range(inp):
        if i % g == 0:  # a new group: its grid from the current (updated) weights
            qt = quantize(W[:, i : i + g].float(), QuantSpec(spec.bits, spec.symmetric, "channel"))
            scale = qt.scale[:, 0].double()
            zero = None if qt.zero is None else qt.zero[:, 0].double()
        q = _round_column(W[:, i], scale, zero, spec)  # (out,)
        out_w[:, i] = q
        err = (W[:, i] - q) / U[i, i]  # (out,)
        W[:, i + 1 :] -= err[:, None] * U[i, i + 1 :][None, :]
    return out_w.float()


@torch.no_grad()
def gptq_model(model: GPT, windows: Tensor, spec: QuantSpec, damp: float = 0.01, max_rows: int = 4096) -> GPT:
    """A copy of ``model`` with every block linear GPTQ-quantized on the inputs it sees for ``windows``.

    Inputs are collected from the float model in one pass (the paper quantizes block by block and feeds the
    next block the quantized one's outputs; one pass is the simpler variant).
    """
    names = quantizable(model)
    inputs = collect_inputs(model, windows, names, max_rows=max_rows)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for n in names:
        state[n] = gptq_quantize(state[n], hessian(inputs[n]), spec, damp)
    return clone_model(model, state)
