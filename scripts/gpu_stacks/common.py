"""Shared parts of the GPU-stack scripts: the prompts, the command line, timing and the JSON result file.

Every script takes a Hugging Face directory written by ``llmkb export hf`` (a ``LlamaForCausalLM`` with the
byte-level tokenizer), generates greedily from the same prompts as the inference-stacks lab (printable bytes,
batch sizes and prompt lengths given on the command line) and writes one JSON file::

    {"engine": ..., "version": ..., "device": ..., "settings": [{"batch", "prompt_len", "new_tokens",
      "ttft_ms", "decode_tok_s", "p50_ms", "p95_ms", "peak_gpu_bytes", "seconds"}], "notes": [...]}

They need a CUDA GPU and the engine installed (not in this project's lock file), and are not run by the tests
or the site build.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def parse_args(engine: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``HF_DIR OUT.json [--batches 1 8] [--prompts 32 128] [--new-tokens 48] [--repeats 3]``."""
    p = argparse.ArgumentParser(description=f"Benchmark an exported llmkb model with {engine}.")
    p.add_argument("hf_dir", help="directory written by 'llmkb export hf'")
    p.add_argument("out", help="JSON result file to write")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--prompts", type=int, nargs="+", default=[32, 128])
    p.add_argument("--new-tokens", type=int, default=48)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    if not (Path(args.hf_dir) / "config.json").is_file():
        p.error(f"{args.hf_dir} has no config.json; export one with 'llmkb export hf CKPT DIR'")
    return args


def prompts(batch: int, length: int, seed: int = 0) -> list[list[int]]:
    """``batch`` prompts of ``length`` printable byte ids (32..126), the lab's kind of prompt."""
    rng = np.random.default_rng(seed)
    return rng.integers(32, 127, size=(batch, length)).tolist()


def stats(stamps: Sequence[float], batch: int) -> dict[str, float]:
    """TTFT, decode tokens/s and per-token p50/p95 from the times each new token was ready (seconds)."""
    lat = np.diff(np.asarray(stamps))
    return {
        "ttft_ms": 1e3 * stamps[0],
        "decode_tok_s": batch * (len(stamps) - 1) / max(stamps[-1] - stamps[0], 1e-12),
        "p50_ms": 1e3 * float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        "p95_ms": 1e3 * float(np.percentile(lat, 95)) if len(lat) else float("nan"),
    }


def median_rows(rows: list[dict[str, float]]) -> dict[str, float]:
    """Field-wise median over repeats."""
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


def write_result(path: str, result: dict[str, Any]) -> None:
    """Write the JSON result atomically (temporary file, then rename)."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent if str(target.parent) else ".")
    with os.fdopen(fd, "w") as f:
        json.dump(result, f, indent=2)
    os.replace(tmp, target)
