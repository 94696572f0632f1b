"""``llmkb export awq``: a Llama-style checkpoint as an int4 AWQ checkpoint in AutoAWQ's GEMM layout.

Each block linear ``W`` ``(out, in)`` becomes three tensors (Lin et al. 2023, arXiv 2306.00978; the layout of
AutoAWQ's ``WQLinear_GEMM``), with ``g`` the group size along the input dimension:

* ``qweight`` int32 ``(in, out / 8)``: the 4-bit integers of ``W^T``, eight output columns per int32 in the
  order ``[0, 2, 4, 6, 1, 3, 5, 7]`` ([`pack_awq`][llmkb.quant.pack.pack_awq]);
* ``qzeros`` int32 ``(in / g, out / 8)``: the zero points, packed the same way;
* ``scales`` fp16 ``(in / g, out)``;

so that ``W^T[i, o] ~ scales[i // g, o] * (q[i, o] - z[i // g, o])`` — the asymmetric 4-bit quantizer of
[`quantize`][llmkb.quant.uniform.quantize] with groups of ``g``. Names follow Hugging Face's Llama
(``model.layers.N.self_attn.q_proj``; its RoPE pairs channels as llmkb does, so no rows are permuted); a layer
whose input width is not a multiple of ``g`` stays fp16 and is listed in ``modules_to_not_convert`` of the
``quantization_config`` written to ``config.json``. Optional AWQ scales are folded in first
([`fold_scales`][llmkb.quant.awq.fold_scales]).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor

from llmkb.errors import UsageError
from llmkb.export.hf import LLAMA_NAMES
from llmkb.nn import GPT
from llmkb.quant.awq import fold_scales
from llmkb.quant.pack import pack_awq
from llmkb.quant.uniform import QuantSpec, quantize

__all__ = [
    "NAME",
    "HELP",
    "hf_name",
    "awq_linear",
    "awq_state_dict",
    "awq_config",
    "write_awq",
    "add_arguments",
    "run",
]

NAME = "awq"
HELP = "Write a Llama-style checkpoint as an int4 AWQ checkpoint (AutoAWQ GEMM layout, safetensors)."


def hf_name(name: str) -> str:
    """llmkb's state-dict name -> Hugging Face Llama's (``blocks.0.ffn.up.weight`` -> ``model.layers.0.mlp.up_proj.weight``)."""
    if name == "tok_emb.weight":
        return "model.embed_tokens.weight"
    if name == "norm_f.weight":
        return "model.norm.weight"
    if name == "lm_head.weight":
        return "lm_head.weight"
    _, i, rest = name.split(".", 2)
    module, _, leaf = rest.rpartition(".")
    return f"model.layers.{i}.{LLAMA_NAMES[module]}.{leaf}"


def awq_linear(w: Tensor, group_size: int) -> dict[str, Tensor]:
    """``qweight``, ``qzeros`` and ``scales`` of one weight ``(out, in)`` (``in % group_size == 0``, ``out % 8 == 0``)."""
    out, inp = w.shape
    if inp % group_size or out % 8:
        raise ValueError(
            f"AWQ needs in % group_size == 0 and out % 8 == 0, got ({out}, {inp}) and {group_size}"
        )
    qt = quantize(w, QuantSpec(4, False, "group", group_size))
    assert qt.zero is not None
    return {
        "qweight": pack_awq(qt.q.T.contiguous()),  # (in, out/8)
        "qzeros": pack_awq(qt.zero.T.contiguous()),  # (in/g, out/8)
        "scales": qt.scale.T.contiguous().half(),  # (in/g, out)
    }


def awq_state_dict(
    model: GPT, group_size: int = 128, scales: Mapping[str, Tensor] | None = None
) -> tuple[dict[str, Tensor], list[str]]:
    """The checkpoint's tensors under Hugging Face names, and the modules left in fp16."""
    from llmkb.quant.model import quantizable

    state = fold_scales(model, scales) if scales else {k: v.detach() for k, v in model.state_dict().items()}
    quant = set(quantizable(model))
    out: dict[str, Tensor] = {}
    skipped: list[str] = []
    for name, t in state.items():
        if name == "lm_head.weight" and model.config.tie_embeddings:
            continue
        if name in quant and t.shape[1] % group_size == 0 and t.shape[0] % 8 == 0:
            prefix = hf_name(name).removesuffix(".weight")
            out.update({f"{prefix}.{k}": v for k, v in awq_linear(t.float(), group_size).items()})
        else:
            if name in quant:
                skipped.append(hf_name(name).removesuffix(".weight"))
            out[hf_name(name)] = t.detach().half().contiguous()
    return out, skipped


def awq_config(model: GPT, group_size: int, skipped: list[str]) -> dict[str, Any]:
    """A Hugging Face Llama ``config.json`` with AWQ's ``quantization_config``."""
    c = model.config
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": c.vocab_size,
        "hidden_size": c.d_model,
        "intermediate_size": c.ffn_dim,
        "num_hidden_layers": c.n_layers,
        "num_attention_heads": c.n_heads,
        "num_key_value_heads": c.kv_heads,
        "max_position_embeddings": c.max_seq_len,
        "rms_norm_eps": c.norm_eps,
        "rope_theta": c.rope_base,
        "tie_word_embeddings": c.tie_embeddings,
        "hidden_act": "silu",
        "torch_dtype": "float16",
        "quantization_config": {
            "quant_method": "awq",
            "bits": 4,
            "group_size": group_size,
            "zero_point": True,
            "version": "gemm",
            "modules_to_not_convert": sorted(skipped),
        },
    }


def write_awq(
    model: GPT,
    directory: str | os.PathLike[str],
    group_size: int = 128,
    scales: Mapping[str, Tensor] | None = None,
) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into a new ``directory`` (assembled under a temporary name)."""
    from llmkb.export.gguf import check_llama

    check_llama(model)
    target = Path(directory)
    if target.exists():
        raise FileExistsError(f"{target} exists")
    tensors, skipped = awq_state_dict(model, group_size, scales)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(awq_config(model, group_size, skipped), indent=2) + "\n")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--group-size N CKPT OUT``."""
    parser.add_argument("--group-size", type=int, default=128, help="weights per scale (default 128)")
    parser.add_argument("checkpoint", help="a model directory written by GPT.save (or a training run)")
    parser.add_argument("output", help="the directory to create")


def run(args: argparse.Namespace) -> int:
    """Check the input, write the directory, print what was written."""
    if args.group_size < 8 or args.group_size % 8:
        raise UsageError(f"--group-size must be a positive multiple of 8, got {args.group_size}")
    if Path(args.output).exists():
        raise UsageError(f"{args.output!r} exists; choose a new directory")
    from llmkb.export.gguf import load_llama_checkpoint

    model = load_llama_checkpoint(args.checkpoint)
    with torch.no_grad():
        out = write_awq(model, args.output, args.group_size)
    print(f"wrote {out} (int4 AWQ, group size {args.group_size})")
    return 0
