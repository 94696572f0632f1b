"""Peak memory of a training step, measured and by formula, on CPU or GPU through one code path.

Measured: :func:`peak_bytes` runs a function and returns the extra memory it took at its peak — on CUDA
``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` (bytes the caching allocator handed out),
on CPU the process's resident high-water mark (:func:`llmkb.bench.attention.peak_extra_bytes`, Linux). The CPU
figure is only faithful in a process whose allocator returns large blocks to the system: :func:`measure_steps`
runs the measurements in such a subprocess, as ``llmkb bench attention`` does.

By formula (:func:`breakdown`), for AdamW in fp32 with ``N`` parameters (Rajbhandari et al. 2020, "ZeRO",
arXiv 1910.02054, section 3.1, for the 4 + 4 + 8 bytes per parameter):

* weights ``4 N`` bytes, gradients ``4 N``, optimizer state (two moments) ``8 N``;
* activations: the bytes of every tensor autograd saves for the backward pass, counted during one forward
  pass with ``torch.autograd.graph.saved_tensors_hooks`` (each storage once).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch

from llmkb.bench.attention import peak_extra_bytes
from llmkb.bench.isolated import run_module_json
from llmkb.nn import GPT, GPTConfig, count_parameters

__all__ = ["breakdown", "measure_steps", "peak_bytes", "saved_activation_bytes", "step_peak"]


def peak_bytes(fn: Callable[[], Any], device: str | torch.device = "cpu") -> tuple[int, Any]:
    """Run ``fn()`` and return ``(extra bytes at its peak, its result)`` on ``device``.

    CUDA: ``max_memory_allocated() - memory_allocated()`` before the call (after a peak reset). CPU: resident
    high-water mark minus resident size before the call.

    Raises:
        RuntimeError: on CPU, the system cannot reset the high-water mark (not Linux).
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        before = torch.cuda.memory_allocated(dev)
        out = fn()
        torch.cuda.synchronize(dev)
        return max(0, torch.cuda.max_memory_allocated(dev) - before), out
    return peak_extra_bytes(fn)


def saved_activation_bytes(model: GPT, x: torch.Tensor) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of ``model(x, x).loss`` (each storage once)."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if not isinstance(t, torch.nn.Parameter) and t.requires_grad is not None:
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x, x)
    return sum(n for ptr, n in seen.items() if ptr not in params)


def breakdown(config: GPTConfig, batch_size: int, seq_len: int, seed: int = 0) -> dict[str, int]:
    """Bytes of one fp32 AdamW training step: ``weights``, ``gradients``, ``optimizer``, ``activations``, ``total``."""
    n = count_parameters(config)
    torch.manual_seed(seed)
    model = GPT(config)
    x = torch.randint(0, config.vocab_size, (batch_size, seq_len))
    act = saved_activation_bytes(model, x)
    parts = {"weights": 4 * n, "gradients": 4 * n, "optimizer": 8 * n, "activations": act}
    return {**parts, "total": sum(parts.values())}


def step_peak(config: GPTConfig, batch_size: int, seq_len: int, device: str = "cpu", seed: int = 0) -> int:
    """Measured peak bytes of building the model and AdamW and taking two training steps (the first allocates
    the optimizer state) on ``device``."""

    def steps() -> None:
        torch.manual_seed(seed)
        model = GPT(config).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        x = torch.randint(0, config.vocab_size, (batch_size, seq_len), device=device)
        for _ in range(2):
            opt.zero_grad(set_to_none=True)
            model(x, x).loss.backward()
            opt.step()

    return peak_bytes(steps, device)[0]


def measure_steps(
    specs: Sequence[dict[str, Any]], device: str = "cpu", timeout: float = 600.0, *, isolated: bool = True
) -> list[int]:
    """:func:`step_peak` of each ``{"model": GPTConfig dict, "batch_size", "seq_len"}``, in a fresh subprocess
    whose allocator returns large blocks to the system (on CPU the resident size then follows allocations);
    a first, discarded step takes the one-time allocations of the process.

    ``isolated=False`` measures in this process instead (no start-up cost; on CPU the figures then undercount
    memory the allocator reuses — enough to exercise the code, not to quote).

    Raises:
        RuntimeError: the subprocess failed (its last line of error).
    """
    if not isolated:
        return _measure(specs, device)
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
    spec = json.dumps({"specs": list(specs), "device": device})
    return run_module_json("llmkb.bench.memory", spec, env, timeout, "memory measurement")


def _measure(specs: Sequence[dict[str, Any]], device: str) -> list[int]:
    first = specs[0]  # warm-up: one-time allocations (kernels, thread pools) are not the model's
    step_peak(GPTConfig.from_dict(first["model"]), first["batch_size"], first["seq_len"], device)
    return [step_peak(GPTConfig.from_dict(s["model"]), s["batch_size"], s["seq_len"], device) for s in specs]


def _main(spec: str) -> None:
    args = json.loads(spec)
    print(json.dumps(_measure(args["specs"], args["device"])))


if __name__ == "__main__":  # the subprocess of measure_steps
    _main(sys.argv[1])
