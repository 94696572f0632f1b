"""``llmkb export gguf``: a Llama-style checkpoint as a llama-architecture GGUF file (llama.cpp's format).

GGUF is one file: key-value metadata (architecture hyper-parameters, the tokenizer) followed by named tensors,
each in its own ggml type. [`write_gguf`][llmkb.export.gguf.write_gguf] writes

* **tensors** under llama.cpp's names — ``token_embd``, ``blk.N.attn_norm``, ``blk.N.attn_q/k/v``,
  ``blk.N.attn_output``, ``blk.N.ffn_norm``, ``blk.N.ffn_gate/up/down``, ``output_norm`` (and ``output`` for an
  untied head; llama.cpp reuses ``token_embd`` when it is absent) — as ggml stores them: a matrix ``(out, in)``
  has ``ne = [in, out]``, rows contiguous, so a block of 32 runs along the input dimension;
* **Q and K rows permuted**: llmkb's RoPE rotates the pair of channels ``(i, i + D/2)`` of a head (the "half
  split" of GPT-NeoX and Hugging Face Llama), llama.cpp's llama architecture rotates ``(2i, 2i + 1)``
  (``LLAMA_ROPE_TYPE_NORM``). Moving row ``i`` to ``2i`` and row ``i + D/2`` to ``2i + 1`` in each head
  (the permutation of llama.cpp's ``convert_hf_to_gguf.py``) makes both compute the same scores;
* **types**: ``f32``; ``f16``, ``q8_0`` or ``q4_0`` for every matrix whose rows split into blocks of 32 (norms
  stay F32; a matrix with ragged rows falls back to F16, as llama.cpp's quantizer does);
* **tokenizer**: the byte-level vocabulary as a SentencePiece-type (``llama``) vocabulary of 256 single-byte
  tokens: printable ASCII as itself, space as ``▁`` (llama.cpp turns spaces into ``▁`` before lookup), every
  other byte as the byte token ``<0xNN>``; no BOS, no space prefix. Token ``i`` is byte ``i``.

:mod:`llmkb.export.gguf_reference` runs the model from the file alone with llama.cpp's conventions; the tests
compare its logits with llmkb's.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from llmkb.errors import UsageError
from llmkb.nn import GPT
from llmkb.quant.ggml import BLOCK, quantize_q4_0, quantize_q8_0

__all__ = [
    "NAME",
    "HELP",
    "TYPES",
    "load_llama_checkpoint",
    "check_llama",
    "permute_rope_rows",
    "gguf_tensors",
    "byte_vocab",
    "write_gguf",
    "add_arguments",
    "run",
]

NAME = "gguf"
HELP = "Write a Llama-style checkpoint as a GGUF file for llama.cpp (f32, f16, q8_0 or q4_0)."

TYPES: tuple[str, ...] = ("f32", "f16", "q8_0", "q4_0")
"""The ``--type`` choices."""


def check_llama(model: GPT) -> None:
    """Raise ``ValueError`` unless ``model`` is what llama.cpp's llama architecture computes.

    That is: RoPE without scaling, pre-norm RMSNorm, SwiGLU, no biases, full causal attention, no MoE.
    """
    c = model.config
    wrong = []
    if c.positional != "rope" or getattr(c, "rope_scale", 1.0) not in (1, 1.0):
        wrong.append("RoPE positions without scaling")
    if c.norm != "rmsnorm" or c.norm_position != "pre":
        wrong.append("pre-norm RMSNorm")
    if c.activation != "swiglu":
        wrong.append("a SwiGLU feed-forward")
    if c.bias:
        wrong.append("no biases")
    if c.sliding_window is not None:
        wrong.append("full attention")
    if wrong:
        raise ValueError(f"the llama architecture needs {', '.join(wrong)}; this model's config differs")


def permute_rope_rows(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Reorder the rows of a Q or K projection ``(n_heads * D, in)`` from half-split to interleaved RoPE pairs.

    Within each head, row ``i`` moves to ``2i`` and row ``i + D/2`` to ``2i + 1`` (``i < D/2``).
    """
    out, inp = w.shape
    d = out // n_heads
    return w.reshape(n_heads, 2, d // 2, inp).swapaxes(1, 2).reshape(out, inp)


def gguf_tensors(model: GPT) -> list[tuple[str, np.ndarray]]:
    """``(llama.cpp name, float32 array)`` for every tensor, Q/K rows permuted, matrices ``(out, in)``."""
    check_llama(model)
    c = model.config
    sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    out = [("token_embd.weight", sd["tok_emb.weight"])]
    for i in range(c.n_layers):
        b, n = f"blocks.{i}", f"blk.{i}"
        out += [
            (f"{n}.attn_norm.weight", sd[f"{b}.norm1.weight"]),
            (f"{n}.attn_q.weight", permute_rope_rows(sd[f"{b}.attn.q_proj.weight"], c.n_heads)),
            (f"{n}.attn_k.weight", permute_rope_rows(sd[f"{b}.attn.k_proj.weight"], c.kv_heads)),
            (f"{n}.attn_v.weight", sd[f"{b}.attn.v_proj.weight"]),
            (f"{n}.attn_output.weight", sd[f"{b}.attn.o_proj.weight"]),
            (f"{n}.ffn_norm.weight", sd[f"{b}.norm2.weight"]),
            (f"{n}.ffn_gate.weight", sd[f"{b}.ffn.gate.weight"]),
            (f"{n}.ffn_up.weight", sd[f"{b}.ffn.up.weight"]),
            (f"{n}.ffn_down.weight", sd[f"{b}.ffn.down.weight"]),
        ]
    out.append(("output_norm.weight", sd["norm_f.weight"]))
    if not c.tie_embeddings:
        out.append(("output.weight", sd["lm_head.weight"]))
    return [(name, np.ascontiguousarray(a, dtype=np.float32)) for name, a in out]


def byte_vocab() -> tuple[list[str], list[int]]:
    """The 256 token strings and llama.cpp token types (1 normal, 6 byte) of the byte-level tokenizer."""
    tokens, types = [], []
    for b in range(256):
        if b == 0x20:
            tokens.append("\u2581")  # llama.cpp's SentencePiece path writes spaces as U+2581 before lookup
            types.append(1)
        elif 0x21 <= b <= 0x7E:
            tokens.append(chr(b))
            types.append(1)
        else:
            tokens.append(f"<0x{b:02X}>")
            types.append(6)
    return tokens, types


def _encode(name: str, a: np.ndarray, kind: str) -> tuple[np.ndarray, object]:
    """The array to store and its ggml type for one tensor of an export of ``kind``."""
    import gguf

    t = gguf.GGMLQuantizationType
    if a.ndim == 1 or kind == "f32":
        return a.astype(np.float32), t.F32
    if kind == "f16" or a.shape[-1] % BLOCK:
        return a.astype(np.float16), t.F16
    if kind == "q8_0":
        return quantize_q8_0(a), t.Q8_0
    return quantize_q4_0(a), t.Q4_0


def write_gguf(model: GPT, path: str | os.PathLike[str], kind: str = "f32", name: str = "llmkb") -> Path:
    """Write ``model`` as a llama-architecture GGUF file (atomically: a temporary file renamed into place).

    Args:
        model: a Llama-style model ([`check_llama`][llmkb.export.gguf.check_llama]).
        path: the output file.
        kind: ``f32``, ``f16``, ``q8_0`` or ``q4_0``.
        name: ``general.name``.

    Returns:
        The path written.
    """
    import gguf

    if kind not in TYPES:
        raise ValueError(f"kind must be one of {'|'.join(TYPES)}, got {kind!r}")
    c = model.config
    tensors = gguf_tensors(model)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        w = gguf.GGUFWriter(tmp, "llama")
        w.add_name(name)
        ftype = {"f32": 0, "f16": 1, "q8_0": 7, "q4_0": 2}[kind]
        w.add_file_type(ftype)
        if kind in ("q8_0", "q4_0"):
            w.add_quantization_version(gguf.GGML_QUANT_VERSION)
        w.add_context_length(c.max_seq_len)
        w.add_embedding_length(c.d_model)
        w.add_block_count(c.n_layers)
        w.add_feed_forward_length(c.ffn_dim)
        w.add_head_count(c.n_heads)
        w.add_head_count_kv(c.kv_heads)
        w.add_rope_dimension_count(c.head_dim)
        w.add_rope_freq_base(float(c.rope_base))
        w.add_layer_norm_rms_eps(float(c.norm_eps))
        w.add_vocab_size(c.vocab_size)
        tokens, types = byte_vocab()
        w.add_tokenizer_model("llama")
        w.add_token_list(tokens)
        w.add_token_scores([0.0] * len(tokens))
        w.add_token_types(types)
        w.add_add_bos_token(False)
        w.add_add_eos_token(False)
        w.add_add_space_prefix(False)
        for tname, a in tensors:
            data, qtype = _encode(tname, a, kind)
            w.add_tensor(tname, data, raw_dtype=qtype)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--type {f32,f16,q8_0,q4_0} CKPT OUT``."""
    parser.add_argument(
        "--type", dest="gguf_type", choices=TYPES, default="f32", help="tensor type (default f32)"
    )
    parser.add_argument("checkpoint", help="a model directory written by GPT.save (or a training run)")
    parser.add_argument("output", help="the .gguf file to write")


def load_llama_checkpoint(path: str | os.PathLike[str]) -> GPT:
    """The model saved at ``path`` if llama.cpp's llama architecture can express it.

    Raises:
        UsageError: no checkpoint there, or a model llama.cpp would compute differently (the one-line reason).
    """
    try:
        model = GPT.load(path)
    except FileNotFoundError:
        raise UsageError(
            f"{str(path)!r} is not a checkpoint: expected a folder written by GPT.save"
        ) from None
    try:
        check_llama(model)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return model


def run(args: argparse.Namespace) -> int:
    """Load the checkpoint, check it, write the file; print its path and size."""
    ckpt = Path(args.checkpoint)
    model = load_llama_checkpoint(ckpt)
    with torch.no_grad():
        out = write_gguf(model, args.output, args.gguf_type, name=ckpt.name or "llmkb")
    print(f"wrote {out} ({out.stat().st_size} bytes, {args.gguf_type})")
    return 0
