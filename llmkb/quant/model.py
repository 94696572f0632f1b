"""A quantized *copy* of a model, and what it weighs.

[`quantize_model`][llmkb.quant.model.quantize_model] never touches the model it is given: it builds a fresh
``GPT`` of the same config whose linear weights are the dequantized ``W_hat = s (q - z)`` — the exact function
an integer kernel computes — so evaluation, sampling and the KV cache work unchanged. Embeddings and norms stay
in floating point, as in GPTQ, AWQ and llama.cpp's ``--pure`` quantization of the block weights.

[`model_bytes`][llmkb.quant.model.model_bytes] counts the stored bytes: quantized matrices at
[`QuantSpec.nbytes`][llmkb.quant.uniform.QuantSpec.nbytes] (``b/8`` a weight plus fp16 scales), every other
parameter at ``rest_bytes`` (tied weights counted once).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from llmkb.nn import GPT
from llmkb.quant.uniform import QuantSpec, quantize_dequantize

__all__ = ["quantizable", "quantize_state", "quantize_model", "model_bytes", "clone_model"]

SpecLike = QuantSpec | Mapping[str, QuantSpec | None] | None


def quantizable(model: GPT) -> list[str]:
    """State-dict names of the weights of every ``nn.Linear`` inside the transformer blocks."""
    return [
        f"{name}.weight"
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and name.startswith("blocks.")
    ]


def _spec_for(spec: SpecLike, name: str) -> QuantSpec | None:
    if spec is None or isinstance(spec, QuantSpec):
        return spec
    return spec.get(name)


def quantize_state(state: Mapping[str, Tensor], names: list[str], spec: SpecLike) -> dict[str, Tensor]:
    """A copy of ``state`` with each weight in ``names`` replaced by its dequantized quantization.

    Args:
        state: a state dict.
        names: the weights to quantize.
        spec: one [`QuantSpec`][llmkb.quant.uniform.QuantSpec] for all, ``{name: spec or None}`` for some
            (a name that is missing or ``None`` stays float), or ``None`` (nothing quantized).
    """
    out = {k: v.detach().clone() for k, v in state.items()}
    for name in names:
        s = _spec_for(spec, name)
        if s is not None:
            out[name] = quantize_dequantize(out[name], s)
    return out


def clone_model(model: GPT, state: Mapping[str, Tensor] | None = None) -> GPT:
    """A fresh ``GPT`` of ``model``'s config holding ``state`` (default: a copy of ``model``'s), in eval mode."""
    copy = GPT(model.config)
    copy.load_state_dict(dict(state if state is not None else model.state_dict()), strict=True)
    return copy.eval()


@torch.no_grad()
def quantize_model(model: GPT, spec: SpecLike) -> GPT:
    """A new model whose block linears compute with ``dequantize(quantize(W))``; ``model`` is unchanged.

    Args:
        model: the float model.
        spec: as in [`quantize_state`][llmkb.quant.model.quantize_state].
    """
    return clone_model(model, quantize_state(model.state_dict(), quantizable(model), spec))


def model_bytes(model: GPT, spec: SpecLike, rest_bytes: float = 2, float_bytes: float | None = None) -> float:
    """Stored size of ``model`` quantized with ``spec``.

    Args:
        model: the model (its parameter shapes).
        spec: as in [`quantize_state`][llmkb.quant.model.quantize_state].
        rest_bytes: bytes per parameter that is not quantized (embeddings, norms).
        float_bytes: bytes per element of a block linear left float (default ``rest_bytes``).
    """
    float_bytes = rest_bytes if float_bytes is None else float_bytes
    params = dict(model.named_parameters())  # tied weights appear once
    quant = set(quantizable(model))
    total = 0.0
    for name, p in params.items():
        s = _spec_for(spec, name) if name in quant else None
        if s is not None:
            total += s.nbytes((p.shape[0], p.shape[1]))
        else:
            total += p.numel() * (float_bytes if name in quant else rest_bytes)
    return total
