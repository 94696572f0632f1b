"""One greedy generation per runtime with a timestamp per token, and the bytes each runtime holds.

Every runner takes the prompt ``(B, P)`` and ``n`` and returns ``(stamps, tokens, kv_bytes)``: the seconds after
which each new token was ready, the ``(B, P + n)`` ids, and the bytes of the KV cache the runtime held at the
end (0 without a cache).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmkb.bench.kv_cache import compiled_decoder, time_generate_steps
from llmkb.export.hf import export_hf
from llmkb.export.onnx import OrtDecoder, export_onnx
from llmkb.nn import GPT

Runner = Callable[[torch.Tensor, int], tuple[np.ndarray, np.ndarray, int]]


def _torch_runner(model: GPT, mode: str) -> Runner:
    def run(idx: torch.Tensor, n: int) -> tuple[np.ndarray, np.ndarray, int]:
        stamps, tokens = time_generate_steps(model, idx, n, mode)
        if mode == "no-cache":
            kv = 0
        elif mode == "compiled":
            dec = compiled_decoder(model, idx.shape[0])
            kv = dec.k.nbytes + dec.v.nbytes
        else:
            kv = model.make_cache(idx.shape[0], idx.shape[1] + n - 1).nbytes  # what generate allocated
        return stamps, tokens.numpy(), kv

    return run


def _hf_runner(hf: Any) -> Runner:
    from transformers import LogitsProcessor, LogitsProcessorList

    class Stamp(LogitsProcessor):
        """Called once per generated token, right after its logits: the token is then ready."""

        def __init__(self) -> None:
            self.t: list[float] = []

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            self.t.append(time.perf_counter())
            return scores

    def run(idx: torch.Tensor, n: int) -> tuple[np.ndarray, np.ndarray, int]:
        stamp = Stamp()
        t0 = time.perf_counter()
        with torch.no_grad():
            out = hf.generate(
                idx, attention_mask=torch.ones_like(idx), max_new_tokens=n, min_new_tokens=n, do_sample=False,
                logits_processor=LogitsProcessorList([stamp]), return_dict_in_generate=True, pad_token_id=0,
            )  # fmt: skip
        cache = out.past_key_values
        kv = sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers)
        return np.array(stamp.t) - t0, out.sequences.numpy(), kv

    return run


def _ort_runner(ort: OrtDecoder) -> Runner:
    def run(idx: torch.Tensor, n: int) -> tuple[np.ndarray, np.ndarray, int]:
        stamps: list[float] = []
        t0 = time.perf_counter()
        tokens = ort.generate(idx.numpy(), n, stamps)
        logits, past = ort.step(tokens[:, :-1], ort.empty_past(idx.shape[0]))  # the cache the run ended with
        return np.array(stamps) - t0, tokens, sum(p.nbytes for p in past)

    return run


def build_runners(model: GPT, names: list[str], out_dir: Path) -> tuple[dict[str, Runner], dict[str, int]]:
    """The runners for ``names`` (keys of [`RUNTIMES`][llmkb.lab.topics.inference_stacks.names.RUNTIMES]) and
    the weight bytes each holds (the ONNX file's size for ONNX Runtime)."""
    params = {id(p): p for p in model.parameters()}
    own = sum(p.nbytes for p in params.values())
    runners: dict[str, Runner] = {}
    weights: dict[str, int] = {}
    for name in names:
        if name == "eager":
            runners[name], weights[name] = _torch_runner(model, "no-cache"), own
        elif name == "kv-cache":
            runners[name], weights[name] = _torch_runner(model, "static"), own
        elif name == "compiled":
            runners[name] = _torch_runner(model, "compiled")
            dec = compiled_decoder(model, 1)
            fused = sum(
                t.nbytes for pair in (*dec.w_qkv, *[w for w in dec.w_in if w]) for t in pair if t is not None
            )
            weights[name] = own + fused  # the fused q|k|v and gate|up copies
        elif name == "transformers":
            from transformers import AutoModelForCausalLM

            hf = AutoModelForCausalLM.from_pretrained(
                export_hf(model, out_dir / "hf"), local_files_only=True
            ).eval()
            runners[name], weights[name] = _hf_runner(hf), sum(p.nbytes for p in hf.parameters())
        elif name == "onnxruntime":
            path = export_onnx(model, out_dir / "model.onnx")
            runners[name], weights[name] = (
                _ort_runner(OrtDecoder.for_model(path, model, threads=1)),
                path.stat().st_size,
            )
        else:
            raise ValueError(f"unknown runtime {name!r}")
    return runners, weights
