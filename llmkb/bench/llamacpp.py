"""llama.cpp runs our GGUF files: next-token logits and greedy tokens against ours, and its speed beside ours.

For each GGUF type (F32, F16, Q8_0, Q4_0) the model is written with :func:`llmkb.export.gguf.write_gguf`, loaded
by llama.cpp through the ``llama-cpp-python`` bindings, fed the same token ids (no tokenizer involved), and compared:

* **logits**: max |llama.cpp − ours| over every position of a prompt, against our float model, and — for the
  quantized types — beside the error of our own model with the file's dequantized weights (what the format alone
  costs; llama.cpp also rounds activations to 8 bits in its quantized matrix products, so it may add a little);
* **greedy**: the tokens llama.cpp picks, step by step, against ``GPT.generate`` at temperature 0 (F32);
* **speed**: decode tokens/s of llama.cpp and of our eager + KV-cache ``GPT.generate`` on the same prompt.

The bindings are built from source once by ``make llamacpp`` (about ten minutes on two cores) into
``.cache/llama-cpp/``, outside the project's environment and outside ``make test``. Usage: ``llmkb bench llamacpp
[--out DIR]`` with that folder on ``PYTHONPATH``; it writes ``llamacpp_cpu.json`` (default ``llmkb/bench/results/``)
and exits 1 if F32 logits differ by more than ``1e-3`` or F32 greedy tokens differ, or a reduced-precision type's
error exceeds :func:`within_format_error`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmkb.errors import UsageError

__all__ = ["NAME", "HELP", "F32_TOLERANCE", "compare", "within_format_error", "add_arguments", "run"]

NAME = "llamacpp"
HELP = "Check that llama.cpp runs our GGUF files as we do (logits, greedy tokens) and time it (needs make llamacpp)."
F32_TOLERANCE = 1e-3
"""Largest |llama.cpp − ours| of an F32 file's logits that still counts as the same model."""
RESULTS = Path(__file__).parent / "results"


def _dequantized_model(model: Any, path: Path) -> Any:
    """Our model with the weights a GGUF file stores, read back and dequantized."""
    from llmkb.export.gguf_reference import gguf_state_dict

    _, state = gguf_state_dict(path)
    copy = type(model)(model.config)
    copy.load_state_dict(
        {**model.state_dict(), **{k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in state.items()}}
    )
    return copy.eval()


def _run_llamacpp(path: Path, prompt: list[int], new_tokens: int, threads: int, n_ctx: int) -> dict[str, Any]:
    """llama.cpp's prompt logits, greedy tokens and decode time for one file (in a child process: see
    :mod:`llmkb.bench._llamacpp_child`)."""
    out = path.with_suffix(".npz")
    spec = {"gguf": str(path), "prompt": prompt, "new_tokens": new_tokens, "threads": threads, "n_ctx": n_ctx,
            "out": str(out)}  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "llmkb.bench._llamacpp_child", json.dumps(spec)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"llama.cpp failed on {path.name} (exit {proc.returncode}): {last}")
    with np.load(out) as z:
        return {"logits": z["logits"], "tokens": z["tokens"].tolist(), "seconds": float(z["seconds"])}


def compare(
    model: Any, kinds: tuple[str, ...], prompt: list[int], new_tokens: int, threads: int
) -> dict[str, Any]:
    """Write each GGUF type, run it in llama.cpp, and measure it against ``model`` (see the module docstring)."""
    from llmkb.export.gguf import write_gguf
    from llmkb.infer.sampling import SamplingConfig

    x = torch.tensor([prompt])
    greedy = SamplingConfig(temperature=0.0)
    with torch.no_grad():
        ref = model(x).logits[0].numpy()  # (T, V)
    greedy_ref = model.generate(x, new_tokens, greedy)[0, len(prompt) :].tolist()
    t0 = time.perf_counter()
    model.generate(x, new_tokens, greedy)
    ours_tps = new_tokens / (time.perf_counter() - t0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            path = write_gguf(model, Path(tmp) / f"m-{kind}.gguf", kind)
            got = _run_llamacpp(path, prompt, new_tokens, threads, model.config.max_seq_len)
            with torch.no_grad():
                deq = _dequantized_model(model, path)(x).logits[0].numpy()
                deq_greedy = (
                    _dequantized_model(model, path).generate(x, new_tokens, greedy)[0, len(prompt) :].tolist()
                )
            rows.append({
                "type": kind,
                "bytes": path.stat().st_size,
                "max_abs_vs_float": float(np.abs(got["logits"] - ref).max()),
                "format_error": float(np.abs(deq - ref).max()),
                "max_abs_vs_dequantized": float(np.abs(got["logits"] - deq).max()),
                "greedy_same": got["tokens"] == greedy_ref,
                "greedy_same_as_dequantized": got["tokens"] == deq_greedy,
                "greedy_agree": sum(a == b for a, b in zip(got["tokens"], greedy_ref, strict=True)) / new_tokens,
                "llamacpp_tokens_per_s": new_tokens / got["seconds"],
            })  # fmt: skip
    return {
        "rows": rows,
        "ours_tokens_per_s": ours_tps,
        "prompt_tokens": len(prompt),
        "new_tokens": new_tokens,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint``, ``--out``, ``--new-tokens``, ``--threads``."""
    parser.add_argument(
        "--checkpoint", type=Path, help="a model directory (default: a seeded 'shared'-preset model)"
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="output folder (default: llmkb/bench/results)"
    )
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)


def run(args: argparse.Namespace) -> int:
    """Run the comparison for every type, print a table, write ``llamacpp_cpu.json``; 1 if F32 disagrees."""
    try:
        import llama_cpp  # noqa: F401  (only checked here: the child process runs it)
    except ImportError:
        raise UsageError(
            "llama-cpp-python is not importable; run `make llamacpp` (it builds it once)"
        ) from None
    from llmkb.export.gguf import TYPES
    from llmkb.nn import GPT, GPTConfig

    if args.checkpoint is not None:
        if not (args.checkpoint / "config.json").is_file():
            raise UsageError(
                f"{args.checkpoint} is not a model directory (no config.json); pass one GPT.save wrote"
            )
        model = GPT.load(args.checkpoint).eval()
        source = str(args.checkpoint)
    else:
        torch.manual_seed(0)
        model = GPT(GPTConfig.preset("shared")).eval()
        source = "seeded 'shared' preset (torch.manual_seed(0))"
    prompt = list(b"def attention(q, k, v):\n    return ")
    out = compare(model, TYPES, prompt, args.new_tokens, args.threads)
    from importlib.metadata import version

    out.update({"model": source, "llama_cpp_python": version("llama_cpp_python"), "torch": torch.__version__})
    for r in out["rows"]:
        print(f"{r['type']:>5}  {r['bytes']:>9} B  max|Δlogit| vs float {r['max_abs_vs_float']:.2e}  "
              f"(format alone {r['format_error']:.2e})  greedy same: {r['greedy_same']}  "
              f"{r['llamacpp_tokens_per_s']:.0f} tok/s")  # fmt: skip
    print(f"ours (eager, KV cache): {out['ours_tokens_per_s']:.0f} tok/s")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "llamacpp_cpu.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    f32 = next(r for r in out["rows"] if r["type"] == "f32")
    ok = f32["max_abs_vs_float"] <= F32_TOLERANCE and f32["greedy_same"]
    print("llama.cpp agrees with llmkb on F32" if ok else "llama.cpp DISAGREES with llmkb on F32")
    within = [within_format_error(r) for r in out["rows"] if r["type"] != "f32"]
    print(
        "quantized types within twice their format's own error" if all(within) else "a quantized type is OFF"
    )
    return 0 if ok and all(within) else 1


def within_format_error(row: dict[str, Any]) -> bool:
    """llama.cpp's error on a reduced-precision file is of the format's order: at most twice what the stored
    weights alone cost our model, plus the F32 tolerance (llama.cpp also rounds activations to 8 bits)."""
    return row["max_abs_vs_float"] <= 2 * row["format_error"] + F32_TOLERANCE
