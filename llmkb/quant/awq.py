"""Activation-aware weight quantization (AWQ; Lin et al. 2023, "AWQ: Activation-aware Weight Quantization for
LLM Compression and Acceleration", arXiv 2306.00978).

A few input channels carry much larger activations than the rest; the weights that multiply them matter most.
AWQ protects them without mixed precision: scale input channel ``j`` of a weight up by ``s_j`` before
quantizing and the activation down by the same factor,

``y = W x = (W diag(s)) (diag(s)^-1 x)``  ->  ``y_hat = Q(W diag(s)) (diag(s)^-1 x)``,

so a salient column is stored with relatively finer steps. ``s = mean|x|^alpha`` (normalized so that
``sqrt(max s * min s) = 1``), with ``alpha`` in ``[0, 1]`` chosen by a grid search that minimizes the output
error ``sum_layers ||X W^T - (X diag(s)^-1) Q(W diag(s))^T||^2`` on calibration activations ``X``. ``alpha = 0``
is plain round-to-nearest, so on the calibration data AWQ is never worse.

``diag(s)^-1`` costs nothing at inference: it is folded into the operation that produces ``x``. Hence one
``s`` per *input*, shared by the layers that read it (as in AutoAWQ): the attention norm's output (q, k, v; the
norm weight absorbs ``1/s``), the value projection's output (o; the rows of v absorb it), the FFN norm's output
(gate and up) and the gated product (down; the rows of up absorb it).
[`fold_scales`][llmkb.quant.awq.fold_scales] does the folding on a state dict; the float model it returns
computes exactly the same function, and quantizing it gives the AWQ model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from llmkb.nn import GPT
from llmkb.quant.model import clone_model, quantizable, quantize_state
from llmkb.quant.uniform import QuantSpec, quantize_dequantize

__all__ = [
    "ScaleGroup",
    "scale_groups",
    "collect_inputs",
    "search_scale",
    "awq_scales",
    "fold_scales",
    "awq_model",
]


@dataclass(frozen=True)
class ScaleGroup:
    """Layers that read the same input, and where its ``1/s`` is folded.

    Attributes:
        layers: weight names that share the input (and the scale).
        fold: the tensor that produces the input: a norm weight (scaled element-wise) or a linear weight
            (scaled row-wise).
    """

    layers: tuple[str, ...]
    fold: str


def scale_groups(model: GPT) -> list[ScaleGroup]:
    """The four groups of each Llama-style block (pre-norm, bias-free): ``qkv``, ``o``, ``gate/up``, ``down``.

    Raises:
        ValueError: the model is not pre-norm RMSNorm with a gated FFN and no biases.
    """
    c = model.config
    if c.norm_position != "pre" or c.norm != "rmsnorm" or c.bias or c.activation not in ("swiglu", "geglu"):
        raise ValueError("AWQ folding needs a pre-norm, RMSNorm, bias-free, gated-FFN (Llama-style) model")
    groups = []
    for i in range(c.n_layers):
        b = f"blocks.{i}"
        groups.append(ScaleGroup(tuple(f"{b}.attn.{p}_proj.weight" for p in "qkv"), f"{b}.norm1.weight"))
        if c.kv_heads == c.n_heads:  # v's rows line up with o's inputs only without grouped KV heads
            groups.append(ScaleGroup((f"{b}.attn.o_proj.weight",), f"{b}.attn.v_proj.weight"))
        groups.append(ScaleGroup((f"{b}.ffn.gate.weight", f"{b}.ffn.up.weight"), f"{b}.norm2.weight"))
        groups.append(ScaleGroup((f"{b}.ffn.down.weight",), f"{b}.ffn.up.weight"))
    return groups


@torch.no_grad()
def collect_inputs(model: GPT, windows: Tensor, names: list[str], max_rows: int = 1024) -> dict[str, Tensor]:
    """The inputs each named linear layer sees on ``windows``, as ``(rows, in)`` (the first ``max_rows`` tokens).

    Uses forward pre-hooks (removed afterwards), so the model is not modified.

    Args:
        model: the float model.
        windows: token ids ``(N, T)``.
        names: weight names (``...weight``) of linear layers.
        max_rows: tokens kept per layer.
    """
    modules = dict(model.named_modules())
    seen: dict[str, list[Tensor]] = {n: [] for n in names}
    handles = []
    for n in names:

        def grab(_module: object, args: tuple[Tensor, ...], key: str = n) -> None:
            seen[key].append(args[0].reshape(-1, args[0].shape[-1]).float())  # (B*T, in)

        handles.append(modules[n.removesuffix(".weight")].register_forward_pre_hook(grab))
    try:
        model.eval()
        model(windows)
    finally:
        for h in handles:
            h.remove()
    return {n: torch.cat(v)[:max_rows] for n, v in seen.items()}


def search_scale(
    weights: list[Tensor], x: Tensor, spec: QuantSpec, grid: int = 20
) -> tuple[Tensor, float, list[float]]:
    """Grid-search ``alpha`` for one shared input ``x`` ``(rows, in)`` and the weights ``(out_i, in)`` reading it.

    Returns:
        ``(s (in,), best alpha, output error at each alpha of the grid 0, 1/grid, .. , (grid-1)/grid)``.
    """
    mean_abs = x.abs().mean(0).clamp(min=1e-6)  # (in,)
    refs = [x @ w.T for w in weights]  # (rows, out_i)
    errors: list[float] = []
    best: tuple[float, Tensor, float] | None = None
    for k in range(grid):
        alpha = k / grid
        s = mean_abs**alpha
        s = s / torch.sqrt(s.max() * s.min())  # (in,)
        err = 0.0
        for w, ref in zip(weights, refs, strict=True):
            w_hat = quantize_dequantize(w * s, spec) / s  # (out, in): Q(W diag(s)) diag(s)^-1
            err += float(((x @ w_hat.T - ref) ** 2).mean())
        errors.append(err)
        if best is None or err < best[0]:
            best = (err, s, alpha)
    assert best is not None
    return best[1], best[2], errors


def awq_scales(
    model: GPT, windows: Tensor, spec: QuantSpec, grid: int = 20, max_rows: int = 1024
) -> dict[str, Tensor]:
    """The AWQ scale of every group (keyed by the group's first layer), searched on calibration ``windows``."""
    groups = scale_groups(model)
    inputs = collect_inputs(model, windows, [g.layers[0] for g in groups], max_rows)
    state = model.state_dict()
    return {
        g.layers[0]: search_scale([state[n].float() for n in g.layers], inputs[g.layers[0]], spec, grid)[0]
        for g in groups
    }


@torch.no_grad()
def fold_scales(model: GPT, scales: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A state dict computing the same function with ``W diag(s)`` in each group and ``1/s`` folded upstream.

    Norm weights are divided element-wise, a producing linear's rows are divided: ``W_v <- diag(s)^-1 W_v``.
    """
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for g in scale_groups(model):
        s = scales.get(g.layers[0])
        if s is None:
            continue
        for n in g.layers:
            state[n] = state[n] * s  # (out, in) * (in,): columns
        if g.fold.endswith(("norm1.weight", "norm2.weight")):
            state[g.fold] = state[g.fold] / s  # (in,)
        else:
            state[g.fold] = state[g.fold] / s[:, None]  # (in, d): rows of the producer
    return state


def awq_model(model: GPT, scales: Mapping[str, Tensor], spec: QuantSpec | None) -> GPT:
    """The AWQ-quantized copy: fold the scales, then quantize every block linear with ``spec`` (``None``: fold only)."""
    folded = fold_scales(model, scales)
    return clone_model(model, quantize_state(folded, quantizable(model), spec))
