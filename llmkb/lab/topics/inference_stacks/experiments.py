"""``inference-stacks/bench`` and ``inference-stacks/parity``: the shared model through five runtimes."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from llmkb.bench.kv_cache import compiled_decoder
from llmkb.data import TokenDataset
from llmkb.export.hf import export_hf
from llmkb.export.onnx import OrtDecoder, export_onnx
from llmkb.lab import RunContext
from llmkb.lab.kit import table
from llmkb.lab.kit.evals import eval_windows
from llmkb.lab.kit.memory import human_bytes, kv_bytes, weight_bytes
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.lab.topics.inference_stacks import text
from llmkb.lab.topics.inference_stacks.analysis import (
    latency_stats,
    median_stats,
    perplexity,
    ratios_to,
    token_agreement,
)
from llmkb.lab.topics.inference_stacks.names import REFERENCE, RUNTIMES, TOPIC
from llmkb.lab.topics.inference_stacks.runtimes import build_runners
from llmkb.train.shared_model import SHARED_CORPUS

_ALL = list(RUNTIMES)


@TOPIC.experiment(
    "bench",
    profiles={
        "quick": {
            "runtimes": ["eager", "kv-cache", "onnxruntime"],
            "batches": [1, 2],
            "prompts": [8, 24],
            "new_tokens": 6,
            "repeats": 1,
        },
        "full": {"runtimes": _ALL, "batches": [1, 8], "prompts": [32, 128], "new_tokens": 32, "repeats": 3},
    },
    needs=[SHARED_MODEL],
    title="Tokens/s, time to first token, latency and memory of five runtimes on the same model and prompts",
)
def bench(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Interleaved greedy runs (runtime order rotated per repeat), medians per setting; tokens compared."""
    model, _ = load_shared_model(ctx.need(SHARED_MODEL))
    runners, weights = build_runners(model, cfg["runtimes"], ctx.out_dir)
    n, mcfg = cfg["new_tokens"], model.config
    gen = torch.Generator().manual_seed(0)
    rows = []
    settings = [(b, p) for b in cfg["batches"] for p in cfg["prompts"]]
    for b, p in ctx.progress(settings, total=len(settings), desc="settings"):
        idx = torch.randint(32, 127, (b, p), generator=gen)  # printable bytes
        for name in runners:  # warm-up; compiles the compiled step (once per batch size), outside the timings
            runners[name](idx, 2)
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in runners}
        tokens: dict[str, np.ndarray] = {}
        kv: dict[str, int] = {}
        names = list(runners)
        for r in range(cfg["repeats"]):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                stamps, tokens[name], kv[name] = runners[name](idx, n)
                runs[name].append(latency_stats(stamps, b, p))
        for name in names:
            rows.append({"runtime": name, "batch": b, "prompt_len": p, **median_stats(runs[name]),
                         "same_tokens": token_agreement(tokens[REFERENCE][:, p:], tokens[name][:, p:]),
                         "kv_bytes": kv[name], "kv_formula": 0 if name == "eager" else kv_bytes(mcfg, p + n - 1, torch.float32, b),
                         "weight_bytes": weights[name]})  # fmt: skip
    compile_s = (
        sum(compiled_decoder(model, b).compile_seconds for b in cfg["batches"])
        if "compiled" in runners
        else 0.0
    )
    speed = ratios_to(rows, REFERENCE)
    ttft = ratios_to(rows, REFERENCE, "ttft_ms")
    for r in rows:
        r["decode_x"] = speed[(r["batch"], r["prompt_len"], r["runtime"])]
        r["ttft_x"] = ttft[(r["batch"], r["prompt_len"], r["runtime"])]
    big = max(cfg["batches"]), max(cfg["prompts"])
    return {
        "rows": rows,
        "table": table([text.bench_row(r) for r in rows]),
        "memory": table([text.memory_row(r, RUNTIMES) for r in rows if (r["batch"], r["prompt_len"]) == big]),
        "weights_formula": weight_bytes(mcfg, torch.float32),
        "weights_formula_h": human_bytes(weight_bytes(mcfg, torch.float32)),
        "compile_seconds": compile_s,
        "summary": text.speed_summary(rows, REFERENCE, RUNTIMES),
        "tokens_verdict": text.tokens_verdict(rows, REFERENCE, RUNTIMES),
        "setup": {
            "new_tokens": n,
            "repeats": cfg["repeats"],
            "threads": torch.get_num_threads(),
            "batches": cfg["batches"],
            "prompts": cfg["prompts"],
            "runtimes": len(runners),
        },  # fmt: skip
    }


@TOPIC.experiment(
    "parity",
    profiles={
        "quick": {"windows": 4, "length": 64, "transformers": False},
        "full": {"windows": 32, "length": 128, "transformers": True},
    },
    needs=[SHARED_MODEL],
    title="What a port changes: max logit difference and held-out perplexity per runtime and number format",
)
def parity(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Score the same held-out windows through PyTorch (fp32, fp16, bf16), Transformers and ONNX Runtime."""
    model, _ = load_shared_model(ctx.need(SHARED_MODEL))
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    windows = eval_windows(data.val, cfg["length"], cfg["windows"], seed=0)  # (N, L + 1)
    x, y = windows[:, :-1], windows[:, 1:].numpy()
    with torch.no_grad():
        logits = {"PyTorch fp32": model(x).logits.numpy()}
        for label, dtype in (("PyTorch fp16", torch.float16), ("PyTorch bf16", torch.bfloat16)):
            low = type(model)(model.config)
            low.load_state_dict(model.state_dict())
            logits[label] = low.to(dtype).eval()(x).logits.float().numpy()
        if cfg["transformers"]:  # importing transformers alone takes seconds: full profile only
            from transformers import AutoModelForCausalLM

            hf = AutoModelForCausalLM.from_pretrained(
                export_hf(model, ctx.out_dir / "hf"), local_files_only=True
            )
            logits["Transformers fp32"] = hf.eval()(x).logits.numpy()
    ort = OrtDecoder.for_model(export_onnx(model, ctx.out_dir / "model.onnx"), model, threads=1)
    logits["ONNX Runtime fp32"] = ort.logits(x.numpy())
    ref = logits["PyTorch fp32"]
    rows = []
    for label, z in logits.items():
        rows.append({"runtime and format": label, "max |Δ logit|": float(np.abs(z - ref).max()),
                     "perplexity": perplexity(z, y), "argmax agreement": float((z.argmax(-1) == ref.argmax(-1)).mean())})  # fmt: skip
    return {
        "rows": rows,
        "table": table([text.parity_row(r) for r in rows]),
        "tokens": int(y.size),
        "verdict": text.parity_verdict(rows),
    }
