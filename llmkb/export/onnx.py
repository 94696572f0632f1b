"""``llmkb export onnx``: a decode-ready ONNX graph, run by ONNX Runtime.

One graph serves prefill and every decode step, because the KV cache is an input and an output:

    inputs:  input_ids (B, T) int64, position_ids (T,) int64, past_key.l / past_value.l (B, H_kv, P, D)
    outputs: logits (B, T, V),  present_key.l / present_value.l (B, H_kv, P + T, D)

Prefill feeds the prompt with empty pasts (``P = 0``); each later step feeds one token and the presents of
the step before, exactly as Hugging Face's ONNX decoders (optimum) do. The graph is traced from
[`graph_forward`][llmkb.infer.graph.graph_forward], where positions are tensors, so the same file is valid at
every position (up to ``max_seq_len`` for table-based positions). [`OrtDecoder`][llmkb.export.onnx.OrtDecoder]
runs it with ``onnxruntime`` on the CPU.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from llmkb.errors import UsageError
from llmkb.infer.graph import check_graphable, graph_forward
from llmkb.nn import GPT

__all__ = ["NAME", "HELP", "DecodeGraph", "io_names", "export_onnx", "OrtDecoder", "add_arguments", "run"]

NAME = "onnx"
HELP = "Write a decode-ready ONNX graph (KV cache as inputs/outputs) for ONNX Runtime."

OPSET = 17
"""ONNX opset of the exported graph (LayerNormalization is in it since 17)."""


class DecodeGraph(nn.Module):
    """``forward(input_ids, position_ids, *past_flat) -> (logits, *present_flat)`` around a model.

    ``past_flat`` is ``[k_0, v_0, k_1, v_1, ...]``, one pair per layer; ``present_flat`` likewise.
    """

    def __init__(self, model: GPT) -> None:
        super().__init__()
        check_graphable(model)
        self.model = model

    def forward(self, input_ids: Tensor, position_ids: Tensor, *past_flat: Tensor) -> tuple[Tensor, ...]:
        """See the class docstring; shapes in the module docstring."""
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        logits, present = graph_forward(self.model, input_ids, position_ids, past)
        return (logits, *[t for kv in present for t in kv])


def io_names(n_layers: int) -> tuple[list[str], list[str]]:
    """Input and output names of the graph for ``n_layers`` layers."""
    past = [f"past_{kind}.{i}" for i in range(n_layers) for kind in ("key", "value")]
    present = [f"present_{kind}.{i}" for i in range(n_layers) for kind in ("key", "value")]
    return ["input_ids", "position_ids", *past], ["logits", *present]


def export_onnx(model: GPT, out: str | os.PathLike[str]) -> Path:
    """Trace the decode graph of ``model`` (float32, eval) into the file ``out``, atomically.

    Raises:
        ValueError: the model has a part the graph cannot express, or ``out`` exists.
    """
    target = Path(out)
    if target.exists():
        raise ValueError(f"{target} already exists; choose a new file name")
    cfg = model.config
    graph = DecodeGraph(model).eval()
    B, T, P = 2, 3, 2  # example sizes, all dynamic in the graph
    ids = torch.zeros((B, T), dtype=torch.long)
    pos = torch.arange(P, P + T)
    past = [torch.zeros(B, cfg.kv_heads, P, cfg.head_dim) for _ in range(2 * cfg.n_layers)]
    inputs, outputs = io_names(cfg.n_layers)
    axes: dict[str, dict[int, str]] = {"input_ids": {0: "batch", 1: "seq"}, "position_ids": {0: "seq"}}
    axes["logits"] = {0: "batch", 1: "seq"}
    axes.update({n: {0: "batch", 2: "past"} for n in inputs[2:]})
    axes.update({n: {0: "batch", 2: "total"} for n in outputs[1:]})
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph, (ids, pos, *past), tmp, input_names=inputs, output_names=outputs,
                dynamic_axes=axes, opset_version=OPSET, dynamo=False,
            )  # fmt: skip
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


class OrtDecoder:
    """An exported graph in an ``onnxruntime.InferenceSession`` (CPU), with the cache handled as arrays.

    Args:
        path: the ``.onnx`` file.
        n_layers: the model's layers (to build empty pasts).
        kv_heads: its key/value heads.
        head_dim: its head width.
        threads: intra-op threads (``None``: ONNX Runtime's default).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        n_layers: int,
        kv_heads: int,
        head_dim: int,
        threads: int | None = None,
    ) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads is not None:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.n_layers, self.kv_heads, self.head_dim = n_layers, kv_heads, head_dim
        self.inputs, self.outputs = io_names(n_layers)

    @classmethod
    def for_model(cls, path: str | os.PathLike[str], model: GPT, threads: int | None = None) -> OrtDecoder:
        """A decoder for the graph exported from ``model`` (shape read from its config)."""
        cfg = model.config
        return cls(path, cfg.n_layers, cfg.kv_heads, cfg.head_dim, threads)

    def empty_past(self, batch: int) -> list[np.ndarray]:
        """Zero-length pasts ``(B, H_kv, 0, D)`` for a prefill."""
        return [
            np.zeros((batch, self.kv_heads, 0, self.head_dim), np.float32) for _ in range(2 * self.n_layers)
        ]

    def step(self, ids: np.ndarray, past: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Run ``ids`` ``(B, T)`` after ``past``; return ``(logits (B, T, V), present)``."""
        start = past[0].shape[2]
        feed: dict[str, Any] = {
            "input_ids": ids.astype(np.int64),
            "position_ids": np.arange(start, start + ids.shape[1], dtype=np.int64),
        }
        feed.update(zip(self.inputs[2:], past, strict=True))
        out = self.session.run(self.outputs, feed)
        return out[0], out[1:]

    def logits(self, ids: np.ndarray) -> np.ndarray:
        """Logits ``(B, T, V)`` of a whole sequence (one prefill)."""
        return self.step(ids, self.empty_past(ids.shape[0]))[0]

    def generate(self, ids: np.ndarray, max_new_tokens: int, stamps: list[float] | None = None) -> np.ndarray:
        """Greedy continuation: prefill, then one token per step against the returned cache; ``(B, T + n)``.

        ``stamps``, if given, receives ``time.perf_counter()`` as each new token is appended.
        """
        out = ids.astype(np.int64)
        if max_new_tokens == 0:
            return out
        logits, past = self.step(out, self.empty_past(out.shape[0]))
        for i in range(max_new_tokens):
            nxt = logits[:, -1, :].argmax(axis=-1)[:, None]  # (B, 1)
            out = np.concatenate((out, nxt), axis=1)
            if stamps is not None:
                stamps.append(time.perf_counter())
            if i < max_new_tokens - 1:
                logits, past = self.step(nxt, past)
        return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``CKPT OUT``: a checkpoint directory and the ``.onnx`` file to create."""
    parser.add_argument("ckpt", metavar="CKPT", help="checkpoint directory (model.safetensors + config.json)")
    parser.add_argument("out", metavar="OUT", help="the .onnx file to create (must not exist)")


def run(args: argparse.Namespace) -> int:
    """Load, export, check with ONNX Runtime that the logits match; errors are one line."""
    try:
        model = GPT.load(args.ckpt).eval()
    except (OSError, ValueError, RuntimeError) as exc:
        raise UsageError(f"cannot load the checkpoint {args.ckpt!r}: {exc}") from None
    if not str(args.out).endswith(".onnx"):
        raise UsageError(f"OUT must be a .onnx file name, got {args.out!r}")
    try:
        out = export_onnx(model, args.out)
    except ValueError as exc:
        raise UsageError(f"cannot export to ONNX: {exc}") from None
    ids = torch.randint(0, model.config.vocab_size, (1, min(16, model.config.max_seq_len)))
    with torch.no_grad():
        ref = model(ids).logits.numpy()
    diff = float(np.abs(OrtDecoder.for_model(out, model).logits(ids.numpy()) - ref).max())
    print(f"wrote {out}; ONNX Runtime vs PyTorch max |logit difference| {diff:.2e}")
    return 0
