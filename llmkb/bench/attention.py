"""``llmkb bench attention``: time and peak memory of attention kernels from T = 256 to 8192, as ratios.

Kernels (all causal self-attention on the same ``(1, H, T, D)`` inputs):

* ``naive`` — [`scaled_dot_product`][llmkb.nn.attention.scaled_dot_product]: the ``T x T`` scores, a mask, a
  softmax;
* ``chunked`` — [`chunked_attention`][llmkb.nn.attention_chunked.chunked_attention], the online softmax in
  blocks, written in PyTorch;
* ``sdpa-math``, ``sdpa-flash``, ``sdpa-efficient`` — ``torch.nn.functional.scaled_dot_product_attention``
  restricted to one backend with ``torch.nn.attention.sdpa_kernel``; a backend this build of PyTorch lacks
  raises, and is reported as not available (what ran is what is reported);
* ``window`` — ``chunked_attention`` with a sliding window (banded: O(T * window) work). Not exact
  attention: it computes a different function.

Peak memory is measured, not computed: before each first call the process's resident high-water mark is
reset (``/proc/self/clear_refs``, Linux) and after it ``VmHWM - VmRSS(before)`` is the extra memory the call
touched. The measurements run in a fresh subprocess whose allocator returns every large block to the system
(``MALLOC_MMAP_THRESHOLD_``), so the resident size follows what is allocated.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from llmkb.bench.isolated import run_module_json
from llmkb.errors import UsageError

__all__ = [
    "NAME",
    "HELP",
    "KERNELS",
    "EXACT",
    "MODES",
    "memory_probe_works",
    "peak_extra_bytes",
    "measure",
    "run_subprocess",
    "ratios",
    "format_table",
    "add_arguments",
    "run",
]

NAME = "attention"
HELP = "Time and peak memory of naive, chunked, SDPA (each backend) and sliding-window attention."

KERNELS: tuple[str, ...] = ("naive", "chunked", "sdpa-math", "sdpa-flash", "sdpa-efficient", "window")
"""The kernels measured, in table order."""
EXACT: tuple[str, ...] = ("naive", "chunked", "sdpa-math", "sdpa-flash", "sdpa-efficient")
"""The kernels that compute full causal attention (``window`` computes a banded one)."""
MODES: tuple[str, ...] = ("forward", "backward")
"""``forward`` (no grad), ``backward`` (forward then backward of the output)."""

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"
_MB = 2**20


def _status_kb(field: str) -> int:
    with open(_STATUS, encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing from {_STATUS}")


def memory_probe_works() -> bool:
    """Whether this system can reset and read the resident high-water mark (Linux ``clear_refs``)."""
    try:
        with open(_CLEAR_REFS, "w", encoding="ascii") as f:
            f.write("5")
        return _status_kb("VmHWM") > 0
    except OSError:
        return False


def _trim() -> None:
    """Collect garbage and hand the C heap's free pages back to the system (glibc; a no-op elsewhere)."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_extra_bytes(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Run ``fn()`` and return ``(bytes of resident memory it added at its peak, its result)``.

    Returns freed heap memory to the system first (``malloc_trim``: otherwise pages freed by earlier work stay
    resident and ``fn`` reuses them unseen), resets the high-water mark, reads the resident size, runs ``fn`` and
    reads the new high-water mark.

    Raises:
        RuntimeError: the system has no ``/proc/self/clear_refs`` (not Linux).
    """
    _trim()
    try:
        with open(_CLEAR_REFS, "w", encoding="ascii") as f:
            f.write("5")  # reset VmHWM to the current resident size
    except OSError as err:
        raise RuntimeError(f"cannot reset the memory high-water mark ({err}); Linux only") from err
    before = _status_kb("VmRSS")
    out = fn()
    return max(0, _status_kb("VmHWM") - before) * 1024, out


def _kernel_fn(
    name: str, window: int, chunk: int
) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    from torch.nn import functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from llmkb.nn.attention import causal_mask, scaled_dot_product
    from llmkb.nn.attention_chunked import chunked_attention

    if name == "naive":
        return lambda q, k, v: scaled_dot_product(q, k, v, causal_mask(q.shape[2]))[0]
    if name == "chunked":
        return lambda q, k, v: chunked_attention(q, k, v, chunk_size=chunk)
    if name == "window":
        return lambda q, k, v: chunked_attention(q, k, v, window=window, chunk_size=min(chunk, window))
    backend = {
        "sdpa-math": SDPBackend.MATH,
        "sdpa-flash": SDPBackend.FLASH_ATTENTION,
        "sdpa-efficient": SDPBackend.EFFICIENT_ATTENTION,
    }[name]

    def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        with sdpa_kernel(backend):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    return sdpa


def measure(
    lengths: Sequence[int],
    kernels: Sequence[str] = KERNELS,
    modes: Sequence[str] = MODES,
    *,
    heads: int = 2,
    head_dim: int = 64,
    window: int = 256,
    chunk: int = 256,
    repeats: int = 3,
    budget_s: float = 1.0,
    max_backward: int | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Time and peak extra memory of every kernel and mode at every length, in this process.

    Lengths run in increasing order; at each length the kernels take turns (so a change in machine load hits
    them alike). The first call of a (kernel, mode, length) is the memory measurement and the first timing;
    up to ``repeats - 1`` more calls follow while the calls so far took under ``budget_s`` seconds, and the
    median time is reported. Backward runs only up to ``max_backward`` (``None``: every length). A kernel whose first call raises is
    recorded once as not available and skipped from then on.

    Returns:
        One row per (mode, kernel, length): ``{"mode", "kernel", "T", "seconds", "peak_bytes", "available"}``
        (``seconds`` and ``peak_bytes`` are ``None`` when not available).
    """
    torch.manual_seed(seed)
    fns = {k: _kernel_fn(k, window, chunk) for k in kernels}
    unavailable: dict[str, str] = {}
    warm = torch.randn(1, heads, 64, head_dim, requires_grad=True)
    for k in kernels:  # warm-up of forward and backward, and find what this build lacks
        try:
            fns[k](warm, warm, warm).sum().backward()
        except RuntimeError as err:
            unavailable[k] = str(err).splitlines()[0][:120]
    rows: list[dict[str, Any]] = []
    for T in sorted(lengths):
        for mode in modes:
            if mode == "backward" and max_backward is not None and T > max_backward:
                continue
            for k in kernels:
                row: dict[str, Any] = {"mode": mode, "kernel": k, "T": T, "available": k not in unavailable}
                if k in unavailable:
                    rows.append({**row, "seconds": None, "peak_bytes": None, "error": unavailable[k]})
                    continue
                grad = mode == "backward"
                q, kk, v = (torch.randn(1, heads, T, head_dim, requires_grad=grad) for _ in range(3))
                g = torch.randn(1, heads, T, head_dim)

                def call(q=q, kk=kk, v=v, g=g, fn=fns[k], grad=grad) -> None:
                    if grad:
                        fn(q, kk, v).backward(g)
                        q.grad = kk.grad = v.grad = None
                    else:
                        with torch.no_grad():
                            fn(q, kk, v)

                times = []
                t0 = time.perf_counter()
                peak, _ = peak_extra_bytes(call)
                times.append(time.perf_counter() - t0)
                for _ in range(repeats - 1):
                    if sum(times) > budget_s:
                        break
                    t0 = time.perf_counter()
                    call()
                    times.append(time.perf_counter() - t0)
                rows.append(
                    {**row, "seconds": statistics.median(times), "peak_bytes": peak, "calls": len(times)}
                )
    return rows


def run_subprocess(lengths: Sequence[int], timeout: float = 600.0, **options: Any) -> list[dict[str, Any]]:
    """[`measure`][llmkb.bench.attention.measure] in a fresh Python process (one thread per op as here) whose
    allocator hands large blocks straight back to the system, so resident memory tracks allocations.

    Args:
        lengths: sequence lengths.
        timeout: seconds before the subprocess is killed.
        **options: keyword arguments of ``measure`` (kernels, modes, heads, head_dim, window, chunk, repeats,
            budget_s, max_backward).
    """
    env = {
        **os.environ,
        "MALLOC_MMAP_THRESHOLD_": "65536",
        "MALLOC_TRIM_THRESHOLD_": "0",
        "OMP_NUM_THREADS": str(torch.get_num_threads()),
    }
    spec = json.dumps(
        {"lengths": list(lengths), **{k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}}
    )
    return run_module_json("llmkb.bench.attention", spec, env, timeout, "attention benchmark")


def _main_json(spec: str) -> None:
    args = json.loads(spec)
    print(json.dumps(measure(args.pop("lengths"), **args)))


if __name__ == "__main__":  # the subprocess of run_subprocess
    _main_json(sys.argv[1])


def _pick(rows: Sequence[Mapping[str, Any]], mode: str, kernel: str, T: int) -> Mapping[str, Any] | None:
    for r in rows:
        if r["mode"] == mode and r["kernel"] == kernel and r["T"] == T and r["available"]:
            return r
    return None


def ratios(rows: Sequence[Mapping[str, Any]], T: int, mode: str = "forward") -> dict[str, Any]:
    """At length ``T``: each kernel's speed-up over ``naive`` (naive time / its time) and memory relative to
    ``naive``, and the fastest exact kernel (``None`` entries: not measured or not available)."""
    base = _pick(rows, mode, "naive", T)
    out: dict[str, Any] = {"T": T, "mode": mode, "speedup": {}, "memory_vs_naive": {}}
    for k in KERNELS:
        r = _pick(rows, mode, k, T)
        ok = base is not None and r is not None
        out["speedup"][k] = base["seconds"] / r["seconds"] if ok else None
        out["memory_vs_naive"][k] = (
            r["peak_bytes"] / base["peak_bytes"] if ok and base["peak_bytes"] else None
        )
    exact = {k: v for k, v in out["speedup"].items() if k in EXACT and k != "naive" and v is not None}
    out["fastest_exact"] = max(exact, key=exact.__getitem__) if exact else None
    return out


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A plain-text table: one line per (mode, length), milliseconds and MiB per kernel."""
    kernels = list(dict.fromkeys(r["kernel"] for r in rows))
    head = ["mode", "T"] + [f"{k} ms" for k in kernels] + [f"{k} MiB" for k in kernels]
    lines = ["  ".join(f"{h:>16}" for h in head)]
    keys = list(dict.fromkeys((r["mode"], r["T"]) for r in rows))
    for mode, T in keys:
        cells = [mode, str(T)]
        picked = [_pick(rows, mode, k, T) for k in kernels]
        cells += ["n/a" if r is None else f"{1e3 * r['seconds']:.1f}" for r in picked]
        cells += ["n/a" if r is None else f"{r['peak_bytes'] / _MB:.1f}" for r in picked]
        lines.append("  ".join(f"{c:>16}" for c in cells))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: lengths, heads, head width, window, chunk, repeats, modes."""
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 8192], help="sequence lengths")
    parser.add_argument("--heads", type=int, default=2, help="attention heads (default 2)")
    parser.add_argument("--head-dim", type=int, default=64, help="head width (default 64)")
    parser.add_argument("--window", type=int, default=256, help="sliding window of 'window' (default 256)")
    parser.add_argument("--chunk", type=int, default=256, help="block size of 'chunked' (default 256)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed calls per kernel and length (default 3)"
    )
    parser.add_argument(
        "--modes", nargs="+", choices=MODES, default=["forward"], help="forward and/or backward"
    )


def run(args: argparse.Namespace) -> int:
    """Validate the options, measure in a subprocess, print the table and the ratios at 1024 and 8192."""
    lengths = sorted(set(args.lengths))
    for name in ("heads", "head_dim", "window", "chunk", "repeats"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if lengths[0] < 1 or lengths[-1] > 16384:
        raise UsageError(f"--lengths must be between 1 and 16384, got {args.lengths}")
    if not memory_probe_works():
        raise UsageError(
            "peak memory is measured through /proc/self/clear_refs, which this system lacks (Linux only)"
        )
    opts = {
        "heads": args.heads,
        "head_dim": args.head_dim,
        "window": args.window,
        "chunk": args.chunk,
        "repeats": args.repeats,
        "modes": list(dict.fromkeys(args.modes)),
    }
    print(
        f"attention: causal, B=1, H={args.heads}, D={args.head_dim}, float32, {torch.get_num_threads()} threads, "
        f"chunk {args.chunk}, window {args.window}; median of {args.repeats}; peak = measured resident high-water mark"
    )
    rows = run_subprocess(lengths, **opts)
    print(format_table(rows))
    for r in rows:
        if r["T"] == lengths[0] and r["mode"] == opts["modes"][0] and not r["available"]:
            print(f"{r['kernel']}: not available in this PyTorch build ({r['error']})")
    for mode in opts["modes"]:
        for T in (1024, 8192):
            if T not in lengths:
                continue
            rat = ratios(rows, T, mode)
            parts = [
                f"{k} {v:.2f}x"
                for k, v in rat["speedup"].items()
                if v is not None and k != "naive" and math.isfinite(v)
            ]
            mem = [
                f"{k} {v:.2f}" for k, v in rat["memory_vs_naive"].items() if v is not None and k != "naive"
            ]
            print(f"{mode} T={T}: speed vs naive: {', '.join(parts)}; fastest exact: {rat['fastest_exact']}")
            print(f"{mode} T={T}: peak memory / naive's: {', '.join(mem)}")
    return 0
