"""``llmkb export hf``: a checkpoint as a Hugging Face Transformers directory, and back.

A ``GPTConfig`` that one of two Transformers architectures computes exactly is written as that architecture:

* **Llama** (Touvron et al. 2023, arXiv 2302.13971) — RoPE, RMSNorm, SwiGLU, pre-norm:
  ``LlamaForCausalLM``, grouped-query attention included (``num_key_value_heads``);
* **GPT-2** (Radford et al. 2019) — learned positions, LayerNorm, an MLP, biases everywhere, pre-norm:
  ``GPT2LMHeadModel``.

Both use the same attention ``softmax(Q K^T / sqrt(d_head)) V`` and the same rotate-half RoPE pairing
(channel ``i`` turns with channel ``i + D/2``, as [`rotate_half`][llmkb.nn.positional.rotate_half]), so the
weights copy over unchanged, up to names and, for GPT-2, ``Conv1D``'s transposed ``(in, out)`` layout and its
fused ``c_attn = [W_q; W_k; W_v]``. Anything else (ALiBi, sliding windows, mixtures of experts, post-norm,
GeGLU, NTK-scaled RoPE…) is refused with a one-line reason: a directory that loads but computes something else
would be worse than none.

The tokenizer is byte-level with 256 ids, ``id = byte``: ``tokenizer.json`` is a ``tokenizers`` BPE model with
no merges over the byte-level alphabet (:mod:`llmkb.tokenize.bytelevel`), so ``AutoTokenizer`` gives our ids.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from llmkb.errors import UsageError
from llmkb.nn import GPT, GPTConfig
from llmkb.tokenize.bytelevel import bytes_to_symbols

__all__ = [
    "NAME",
    "HELP",
    "FAMILIES",
    "hf_family",
    "hf_config",
    "to_hf_state",
    "from_hf",
    "byte_tokenizer_json",
    "export_hf",
    "import_hf",
    "add_arguments",
    "run",
]

NAME = "hf"
HELP = "Write a Hugging Face Transformers directory (LlamaForCausalLM or GPT2LMHeadModel + tokenizer)."

FAMILIES: dict[str, str] = {"llama": "LlamaForCausalLM", "gpt2": "GPT2LMHeadModel"}
"""Transformers ``model_type`` -> the class ``AutoModelForCausalLM`` builds."""

_GPT2_ACT = {
    "gelu": "gelu_new",
    "gelu-tanh": "gelu_new",
    "gelu-exact": "gelu",
    "relu": "relu",
    "silu": "silu",
}
LLAMA_NAMES = {
    "attn.q_proj": "self_attn.q_proj",
    "attn.k_proj": "self_attn.k_proj",
    "attn.v_proj": "self_attn.v_proj",
    "attn.o_proj": "self_attn.o_proj",
    "ffn.gate": "mlp.gate_proj",
    "ffn.up": "mlp.up_proj",
    "ffn.down": "mlp.down_proj",
    "norm1": "input_layernorm",
    "norm2": "post_attention_layernorm",
}


def hf_family(cfg: GPTConfig) -> str:
    """The Transformers architecture that computes ``cfg`` exactly: ``llama`` or ``gpt2``.

    Raises:
        ValueError: a one-line reason why neither can express ``cfg``.
    """
    common = [
        (cfg.activation == "moe", "a mixture of experts has no Llama or GPT-2 equivalent"),
        (cfg.sliding_window is not None, "sliding-window attention is not in Llama or GPT-2"),
        (cfg.norm_position != "pre", "post-norm blocks are not in Llama or GPT-2 (both are pre-norm)"),
    ]
    for bad, reason in common:
        if bad:
            raise ValueError(reason)
    if cfg.positional == "rope":
        checks = [
            (cfg.norm != "rmsnorm", f"Llama normalizes with RMSNorm, not {cfg.norm}"),
            (cfg.activation != "swiglu", f"Llama's feed-forward network is SwiGLU, not {cfg.activation}"),
        ]
        family = "llama"
    elif cfg.positional == "learned":
        checks = [
            (cfg.norm != "layernorm", f"GPT-2 normalizes with LayerNorm, not {cfg.norm}"),
            (cfg.activation not in _GPT2_ACT, f"GPT-2's MLP has no {cfg.activation} variant"),
            (not cfg.bias, "GPT-2 has biases in every linear layer and LayerNorm (bias=False)"),
            (cfg.kv_heads != cfg.n_heads, "GPT-2 has no grouped-query attention (n_kv_heads < n_heads)"),
        ]
        family = "gpt2"
    else:
        raise ValueError(
            f"{cfg.positional} positions are not expressible: Llama uses plain rope, GPT-2 learned positions"
        )
    for bad, reason in checks:
        if bad:
            raise ValueError(reason)
    return family


def hf_config(cfg: GPTConfig) -> dict[str, Any]:
    """The ``config.json`` of the Transformers model equivalent to ``cfg`` (see [`hf_family`][llmkb.export.hf.hf_family])."""
    family = hf_family(cfg)
    special = {"bos_token_id": None, "eos_token_id": None, "pad_token_id": None}
    if family == "llama":
        return {
            "architectures": [FAMILIES[family]],
            "model_type": "llama",
            "vocab_size": cfg.vocab_size,
            "hidden_size": cfg.d_model,
            "intermediate_size": cfg.ffn_dim,
            "num_hidden_layers": cfg.n_layers,
            "num_attention_heads": cfg.n_heads,
            "num_key_value_heads": cfg.kv_heads,
            "head_dim": cfg.head_dim,
            "max_position_embeddings": cfg.max_seq_len,
            "rms_norm_eps": cfg.norm_eps,
            "rope_parameters": {"rope_type": "default", "rope_theta": float(cfg.rope_base)},
            "hidden_act": "silu",
            "attention_bias": cfg.bias,
            "mlp_bias": cfg.bias,
            "attention_dropout": cfg.dropout,
            "tie_word_embeddings": cfg.tie_embeddings,
            "dtype": "float32",
            **special,
        }
    return {
        "architectures": [FAMILIES[family]],
        "model_type": "gpt2",
        "vocab_size": cfg.vocab_size,
        "n_embd": cfg.d_model,
        "n_inner": cfg.ffn_dim,
        "n_layer": cfg.n_layers,
        "n_head": cfg.n_heads,
        "n_positions": cfg.max_seq_len,
        "layer_norm_epsilon": cfg.norm_eps,
        "activation_function": _GPT2_ACT[cfg.activation],
        "attn_pdrop": cfg.dropout,
        "embd_pdrop": cfg.dropout,
        "resid_pdrop": cfg.dropout,
        "tie_word_embeddings": cfg.tie_embeddings,
        "dtype": "float32",
        **special,
    }


def to_hf_state(model: GPT) -> dict[str, Tensor]:
    """Our ``state_dict`` under Transformers names and layouts (a tied head stored once, as HF does).

    GPT-2's ``Conv1D`` computes ``x W + b`` with ``W`` of shape ``(in, out)``, the transpose of
    ``nn.Linear``; its ``c_attn`` is ``[W_q W_k W_v]`` concatenated along ``out``.
    """
    cfg = model.config
    family = hf_family(cfg)
    sd = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    out: dict[str, Tensor] = {}
    if family == "llama":
        out["model.embed_tokens.weight"] = sd["tok_emb.weight"]
        out["model.norm.weight"] = sd["norm_f.weight"]
        for i in range(cfg.n_layers):
            for ours, theirs in LLAMA_NAMES.items():
                for kind in ("weight", "bias"):
                    if f"blocks.{i}.{ours}.{kind}" in sd:
                        out[f"model.layers.{i}.{theirs}.{kind}"] = sd[f"blocks.{i}.{ours}.{kind}"]
    else:
        out["transformer.wte.weight"] = sd["tok_emb.weight"]
        out["transformer.wpe.weight"] = sd["pos_emb.weight"]
        out["transformer.ln_f.weight"], out["transformer.ln_f.bias"] = sd["norm_f.weight"], sd["norm_f.bias"]
        for i in range(cfg.n_layers):
            b, h = f"blocks.{i}.", f"transformer.h.{i}."
            for ours, theirs in (("norm1", "ln_1"), ("norm2", "ln_2")):
                out[h + theirs + ".weight"], out[h + theirs + ".bias"] = (
                    sd[b + ours + ".weight"],
                    sd[b + ours + ".bias"],
                )
            qkv = [b + f"attn.{p}_proj" for p in "qkv"]
            out[h + "attn.c_attn.weight"] = (
                torch.cat([sd[n + ".weight"] for n in qkv]).t().contiguous()
            )  # (d, 3d)
            out[h + "attn.c_attn.bias"] = torch.cat([sd[n + ".bias"] for n in qkv])  # (3d,)
            for ours, theirs in (
                ("attn.o_proj", "attn.c_proj"),
                ("ffn.up", "mlp.c_fc"),
                ("ffn.down", "mlp.c_proj"),
            ):
                out[h + theirs + ".weight"] = sd[b + ours + ".weight"].t().contiguous()  # (in, out)
                out[h + theirs + ".bias"] = sd[b + ours + ".bias"]
    if not cfg.tie_embeddings:
        out["lm_head.weight"] = sd["lm_head.weight"]
    return out


def _config_from_hf(hf: dict[str, Any]) -> GPTConfig:
    """The ``GPTConfig`` of a Transformers ``config.json`` of type llama or gpt2 (defaults left as ``None``)."""
    cfg = _explicit_config_from_hf(hf)
    if cfg.kv_heads == cfg.n_heads:
        cfg = dataclasses.replace(cfg, n_kv_heads=None)
    if dataclasses.replace(cfg, d_ff=None).ffn_dim == cfg.ffn_dim:
        cfg = dataclasses.replace(cfg, d_ff=None)
    return cfg


def _explicit_config_from_hf(hf: dict[str, Any]) -> GPTConfig:
    kind = hf.get("model_type")
    if kind == "llama":
        rope = hf.get("rope_parameters") or {"rope_type": "default", "rope_theta": hf.get("rope_theta", 1e4)}
        if rope.get("rope_type", "default") != "default" or hf.get("hidden_act", "silu") != "silu":
            raise ValueError("only default RoPE and SiLU-gated Llama models can be imported")
        if hf.get("attention_bias", False) != hf.get("mlp_bias", False):
            raise ValueError("attention_bias and mlp_bias differ; llmkb has one bias switch")
        if (
            hf.get("head_dim", hf["hidden_size"] // hf["num_attention_heads"]) * hf["num_attention_heads"]
            != hf["hidden_size"]
        ):
            raise ValueError("head_dim * num_attention_heads must equal hidden_size")
        return GPTConfig(
            vocab_size=hf["vocab_size"], d_model=hf["hidden_size"], n_layers=hf["num_hidden_layers"],
            n_heads=hf["num_attention_heads"], n_kv_heads=hf.get("num_key_value_heads") or hf["num_attention_heads"],
            d_ff=hf["intermediate_size"], max_seq_len=hf["max_position_embeddings"], positional="rope",
            rope_base=float(rope["rope_theta"]), norm="rmsnorm", norm_eps=hf["rms_norm_eps"], activation="swiglu",
            dropout=float(hf.get("attention_dropout", 0.0)), bias=bool(hf.get("attention_bias", False)),
            tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
        )  # fmt: skip
    if kind == "gpt2":
        act = {v: k for k, v in reversed(list(_GPT2_ACT.items()))}
        if hf.get("activation_function", "gelu_new") not in act:
            raise ValueError(f"GPT-2 activation {hf.get('activation_function')!r} has no llmkb equivalent")
        if hf.get("scale_attn_by_inverse_layer_idx") or hf.get("scale_attn_weights") is False:
            raise ValueError("GPT-2 attention scaling other than 1/sqrt(d_head) has no llmkb equivalent")
        return GPTConfig(
            vocab_size=hf["vocab_size"], d_model=hf["n_embd"], n_layers=hf["n_layer"], n_heads=hf["n_head"],
            d_ff=hf.get("n_inner") or 4 * hf["n_embd"], max_seq_len=hf["n_positions"], positional="learned",
            norm="layernorm", norm_eps=hf.get("layer_norm_epsilon", 1e-5),
            activation=act[hf.get("activation_function", "gelu_new")], dropout=float(hf.get("resid_pdrop", 0.0)),
            bias=True, tie_embeddings=bool(hf.get("tie_word_embeddings", True)),
        )  # fmt: skip
    raise ValueError(f"model_type {kind!r} is not importable; llmkb reads llama and gpt2 directories")


def from_hf(hf: dict[str, Any], state: dict[str, Tensor]) -> GPT:
    """Build our model from a Transformers config dict and its (float) weights: the inverse of export.

    Raises:
        ValueError: an unsupported configuration, or missing/unexpected/mis-shaped weights.
    """
    cfg = _config_from_hf(hf)
    model = GPT(cfg)
    expected = to_hf_state(model)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected) - {"lm_head.weight"})
    if missing or unexpected:
        raise ValueError(
            f"weights do not match the config: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    bad = [k for k in expected if tuple(state[k].shape) != tuple(expected[k].shape)]
    if bad:
        raise ValueError(
            f"weight {bad[0]}: expected shape {tuple(expected[bad[0]].shape)}, got {tuple(state[bad[0]].shape)}"
        )
    ours: dict[str, Tensor] = {}
    if hf["model_type"] == "llama":
        ours["tok_emb.weight"], ours["norm_f.weight"] = (
            state["model.embed_tokens.weight"],
            state["model.norm.weight"],
        )
        for i in range(cfg.n_layers):
            for mine, theirs in LLAMA_NAMES.items():
                for kind in ("weight", "bias"):
                    if f"model.layers.{i}.{theirs}.{kind}" in expected:
                        ours[f"blocks.{i}.{mine}.{kind}"] = state[f"model.layers.{i}.{theirs}.{kind}"]
    else:
        ours["tok_emb.weight"], ours["pos_emb.weight"] = (
            state["transformer.wte.weight"],
            state["transformer.wpe.weight"],
        )
        ours["norm_f.weight"], ours["norm_f.bias"] = (
            state["transformer.ln_f.weight"],
            state["transformer.ln_f.bias"],
        )
        for i in range(cfg.n_layers):
            b, h = f"blocks.{i}.", f"transformer.h.{i}."
            for mine, theirs in (("norm1", "ln_1"), ("norm2", "ln_2")):
                ours[b + mine + ".weight"], ours[b + mine + ".bias"] = (
                    state[h + theirs + ".weight"],
                    state[h + theirs + ".bias"],
                )
            w, bias = state[h + "attn.c_attn.weight"].t(), state[h + "attn.c_attn.bias"]  # (3d, d), (3d,)
            for j, p in enumerate("qkv"):
                rows = slice(j * cfg.d_model, (j + 1) * cfg.d_model)
                ours[b + f"attn.{p}_proj.weight"], ours[b + f"attn.{p}_proj.bias"] = w[rows], bias[rows]
            for mine, theirs in (
                ("attn.o_proj", "attn.c_proj"),
                ("ffn.up", "mlp.c_fc"),
                ("ffn.down", "mlp.c_proj"),
            ):
                ours[b + mine + ".weight"] = state[h + theirs + ".weight"].t()  # (out, in)
                ours[b + mine + ".bias"] = state[h + theirs + ".bias"]
    if cfg.tie_embeddings:
        ours["lm_head.weight"] = ours["tok_emb.weight"]
    elif "lm_head.weight" not in state:
        raise ValueError("lm_head.weight is missing but tie_word_embeddings is false")
    else:
        ours["lm_head.weight"] = state["lm_head.weight"]
    model.load_state_dict({k: v.to(torch.float32).contiguous() for k, v in ours.items()}, strict=True)
    return model.eval()


def byte_tokenizer_json() -> dict[str, Any]:
    """``tokenizer.json`` of the byte tokenizer: a BPE model with no merges, symbol of byte ``b`` -> id ``b``."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": False,
            "use_regex": False,
        },
        "post_processor": None,
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": False,
            "use_regex": False,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {bytes_to_symbols(bytes([b])): b for b in range(256)},
            "merges": [],
        },
    }


def export_hf(model: GPT, out: str | os.PathLike[str]) -> Path:
    """Write ``out/`` (config.json, model.safetensors, tokenizer.json, tokenizer_config.json) atomically.

    The files are assembled in a temporary sibling directory renamed to ``out`` at the end, so a failure
    leaves nothing behind. ``out`` must not exist yet.

    Raises:
        ValueError: the config is not expressible (see [`hf_family`][llmkb.export.hf.hf_family]), the
            vocabulary is not the 256 bytes, or ``out`` exists.
    """
    cfg = model.config
    config = hf_config(cfg)
    if cfg.vocab_size != 256:
        raise ValueError(f"the exported tokenizer is byte-level (256 ids); vocab_size is {cfg.vocab_size}")
    target = Path(out)
    if target.exists():
        raise ValueError(f"{target} already exists; choose a new directory")
    state = to_hf_state(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        (tmp / "generation_config.json").write_text(json.dumps({"do_sample": False}) + "\n")
        (tmp / "tokenizer.json").write_text(json.dumps(byte_tokenizer_json(), ensure_ascii=False) + "\n")
        tok_cfg = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": cfg.max_seq_len,
            "clean_up_tokenization_spaces": False,
        }
        (tmp / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2) + "\n")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def import_hf(directory: str | os.PathLike[str]) -> GPT:
    """Read a Transformers directory written by [`export_hf`][llmkb.export.hf.export_hf] (or any plain Llama /
    GPT-2 one in float weights) into our model.

    Raises:
        ValueError: files missing, unsupported config, or weights that do not fit.
    """
    root = Path(directory)
    for name in ("config.json", "model.safetensors"):
        if not (root / name).is_file():
            raise ValueError(
                f"{root / name} not found; expected a Transformers directory with safetensors weights"
            )
    return from_hf(json.loads((root / "config.json").read_text()), load_file(str(root / "model.safetensors")))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``CKPT OUT``: a checkpoint directory (``GPT.save``) and the directory to create."""
    parser.add_argument("ckpt", metavar="CKPT", help="checkpoint directory (model.safetensors + config.json)")
    parser.add_argument("out", metavar="OUT", help="directory to create (must not exist)")


def run(args: argparse.Namespace) -> int:
    """Load, check, write; every refusal is one line (``UsageError``)."""
    try:
        model = GPT.load(args.ckpt)
    except (OSError, ValueError, RuntimeError) as exc:
        raise UsageError(f"cannot load the checkpoint {args.ckpt!r}: {exc}") from None
    try:
        out = export_hf(model, args.out)
    except ValueError as exc:
        raise UsageError(f"cannot export to Hugging Face: {exc}") from None
    print(
        f"wrote {out} ({FAMILIES[hf_family(model.config)]}); load it with AutoModelForCausalLM.from_pretrained"
    )
    return 0
