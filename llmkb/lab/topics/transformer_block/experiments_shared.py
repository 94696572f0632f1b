"""The shared model's block: a Llama-style configuration, its parameters by part, and its QK circuit."""

from __future__ import annotations

from typing import Any

import torch

from llmkb.lab import RunContext, kit
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.lab.topics.transformer_block.analysis import model_facts
from llmkb.lab.topics.transformer_block.analysis_circuits import (
    circuit_errors,
    llama_parameter_formula,
    parameter_parts,
)
from llmkb.lab.topics.transformer_block.names import EXACT, TOPIC
from llmkb.lab.topics.transformer_block.text import circuit_case
from llmkb.nn import GPTConfig, count_parameters

__all__ = ["shared_block", "FORMULAS"]

FORMULAS: dict[str, str] = {
    "token embedding": "V d (the LM head reuses it)",
    "attention": "L (2 d H h + 2 d G h)",
    "feed-forward": "L · 3 d f",
    "block norms": "L · 2 d",
    "final norm": "d",
}
"""The closed form of each part of a Llama-style model with a tied head (``llama_parameter_formula``)."""

_CONFIG = {"preset": "shared", "text": "The residual stream carries every token through every block."}


@TOPIC.experiment("shared-block", profiles={"quick": _CONFIG, "full": _CONFIG}, needs=[SHARED_MODEL])
def shared_block(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Describe the shared model's configuration, count its parameters by part, and check its QK circuit.

    The parameters are counted three ways that must agree: the built model's tensors by part
    (``parameter_parts``), the closed form of each part (``llama_parameter_formula``) and
    [`count_parameters`][llmkb.nn.count_parameters]. The circuit check runs the trained shared model on
    ``cfg["text"]`` and recomputes its attention weights from ``W_Q^T R_(n-m) W_K``.

    Raises:
        AssertionError: the trained model is not the preset, the counts disagree, or the circuit form misses.
    """
    config = GPTConfig.preset(cfg["preset"])
    model, tok = load_shared_model(ctx.need(SHARED_MODEL))
    if model.config != config:
        raise AssertionError(f"the shared model's config is not the {cfg['preset']!r} preset")
    parts = parameter_parts(config)
    total = count_parameters(config)
    if parts != llama_parameter_formula(config) or not sum(parts.values()) == total == model.num_parameters():
        raise AssertionError(
            f"parameter counts disagree: {parts} vs {llama_parameter_formula(config)}, {total}"
        )
    rows = [
        {"part": part, "formula": formula, "parameters": parts[part], "share": round(parts[part] / total, 3)}
        for part, formula in FORMULAS.items()
    ]
    L = config.n_layers
    block = (parts["attention"] + parts["feed-forward"] + parts["block norms"]) // L
    idx = torch.tensor([tok.encode(cfg["text"])])  # (1, T)
    circuit = {"case": circuit_case(config.bias, config.positional), **circuit_errors(model, idx)}
    if circuit["exact"] > EXACT:
        raise AssertionError(
            f"W_Q^T R W_K misses the shared model's attention weights by {circuit['exact']:.2g}"
        )
    return {
        "preset": cfg["preset"],
        "model": model_facts(config),
        "parts": parts,
        "table": kit.table(rows),
        "total": total,
        "non_embedding": count_parameters(config, exclude_embeddings=True),
        "per_block": block,
        "ffn_share_of_block": parts["feed-forward"] / L / block,
        "attention_per_block": parts["attention"] // L,
        "ffn_per_block": parts["feed-forward"] // L,
        "text_tokens": int(idx.shape[1]),
        "circuit": circuit,
    }
