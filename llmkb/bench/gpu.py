"""One-shot GPU check for llmkb (run on a CUDA machine; CI never has one).

Records, into ``<out>/gpu_check.json`` (default: ``$OUT`` or the current directory):

1. correctness on CUDA: naive attention vs SDPA logits; cached vs uncached greedy generation (same tokens)
   for every positional kind;
2. ``llmkb bench train`` on CUDA in fp32 and bf16 with MFU against the H200's dense bf16/tf32 peaks;
3. KV-cache speed-up on CUDA: tokens/s with vs without the cache at 512 new tokens.

Usage: ``llmkb bench gpu [--out DIR]``. The figures of a run on an H200 are kept in
``llmkb/bench/results/gpu_check_h200.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from llmkb.errors import UsageError
from llmkb.infer.sampling import SamplingConfig
from llmkb.nn import GPT, GPTConfig

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "gpu"
HELP = "One-shot CUDA check: correctness, training MFU and KV-cache speed-up (needs a GPU)."
DEV = "cuda"
GREEDY = SamplingConfig(temperature=0.0)


def _sync() -> None:
    torch.cuda.synchronize()


def correctness() -> dict:
    out = {}
    for pos in ("none", "sinusoidal", "learned", "rope", "alibi"):
        torch.manual_seed(0)
        cfg = GPTConfig.preset("tiny", positional=pos, max_seq_len=96)
        naive = GPT(GPTConfig.from_dict({**cfg.to_dict(), "attention": "naive"})).to(DEV).eval()
        sdpa = GPT(GPTConfig.from_dict({**cfg.to_dict(), "attention": "sdpa"})).to(DEV).eval()
        sdpa.load_state_dict(naive.state_dict())
        idx = torch.randint(0, cfg.vocab_size, (2, 48), device=DEV)
        with torch.no_grad():
            diff = (naive(idx).logits - sdpa(idx).logits).abs().max().item()
            a = sdpa.generate(idx[:, :8], 40, GREEDY, use_cache=True)
            b = sdpa.generate(idx[:, :8], 40, GREEDY, use_cache=False)
        out[pos] = {"naive_vs_sdpa_max_abs": diff, "cache_equal_tokens": bool(torch.equal(a, b))}
    return out


def kv_speed(new_tokens: int = 512, repeats: int = 3) -> dict:
    torch.manual_seed(0)
    cfg = GPTConfig.preset("shared", positional="rope", max_seq_len=1024)
    model = GPT(cfg).to(DEV).eval()
    prompt = torch.randint(0, cfg.vocab_size, (1, 16), device=DEV)
    res = {}
    for use_cache in (True, False, True, False):
        times = res.setdefault("cache" if use_cache else "no_cache", [])
        with torch.no_grad():
            model.generate(prompt, 8, GREEDY, use_cache=use_cache)  # warm-up
            for _ in range(repeats):
                _sync()
                t0 = time.perf_counter()
                model.generate(prompt, new_tokens, GREEDY, use_cache=use_cache)
                _sync()
                times.append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in res.items()}
    return {
        "new_tokens": new_tokens,
        "tokens_per_s_cache": new_tokens / med["cache"],
        "tokens_per_s_no_cache": new_tokens / med["no_cache"],
        "speedup": med["no_cache"] / med["cache"],
    }


def bench_train(out_dir: Path) -> dict:
    from llmkb.cli import main as cli

    out = {}
    for precision, peak in (("bf16", 989.0), ("fp32", 494.0)):
        path = out_dir / f"bench_train_{precision}.json"
        rc = cli(
            [
                "bench",
                "train",
                "--device",
                DEV,
                "--precision",
                precision,
                "--preset",
                "small",
                "--batch-size",
                "32",
                "--seq-len",
                "256",
                "--steps",
                "10",
                "--rounds",
                "5",
                "--peak-tflops",
                str(peak),
                "--json",
                str(path),
            ]
        )
        out[precision] = json.loads(path.read_text()) if rc == 0 and path.exists() else {"rc": rc}
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--out DIR``: where ``gpu_check.json`` is written."""
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")), help="output folder")


def run(args: argparse.Namespace) -> int:
    """Run the three checks and write ``gpu_check.json``; a check that fails is recorded, not fatal."""
    if not torch.cuda.is_available():
        raise UsageError("no CUDA device: `llmkb bench gpu` needs a GPU")
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    checks = (
        ("correctness", correctness),
        ("kv_cache", kv_speed),
        ("bench_train", lambda: bench_train(out_dir)),
    )
    for name, fn in checks:
        t0 = time.perf_counter()
        try:
            report[name] = fn()
        except Exception as exc:  # record and go on: one failure must not lose the other figures
            report[name] = {"error": repr(exc)}
        report[f"{name}_seconds"] = round(time.perf_counter() - t0, 1)
        print(name, json.dumps(report[name], indent=1, default=str)[:3000], flush=True)
    (out_dir / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str))
    return 0
