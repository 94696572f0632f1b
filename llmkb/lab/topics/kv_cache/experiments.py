"""``kv-cache/speedup``: tokens/s of ``GPT.generate`` with and without the cache, and a fitted per-call cost model.

The trace experiment is in :mod:`~llmkb.lab.topics.kv_cache.experiments_traces`, the memory experiment in
:mod:`~llmkb.lab.topics.kv_cache.experiments_memory`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from llmkb.bench.kv_cache import bench_model, time_generate_steps
from llmkb.infer.kvtrace import decode_cost
from llmkb.lab import RunContext
from llmkb.lab.kit import table
from llmkb.lab.topics.kv_cache.analysis import (
    check_same_tokens,
    fit_call_cost,
    latency_slope,
    predicted_ratio,
    prediction_rows,
)
from llmkb.lab.topics.kv_cache.names import TOPIC
from llmkb.lab.topics.kv_cache.text import (
    compiled_phrase,
    fit_reading,
    latency_trend,
    plain_number,
    predictions_sentence,
)

_PREDICT = {"longer": 4, "prompt": 16, "wider": 4}
_COSTS = ("c0", "c1", "c2")


@TOPIC.experiment(
    "speedup",
    profiles={
        "quick": {
            "prompt_len": 8,
            "lengths": [4, 8, 16],
            "rounds": [16, 16],
            "modes": ["no-cache", "static"],
            "headline": 16,
            "predict": _PREDICT,
        },
        "full": {
            "prompt_len": 16,
            "lengths": [64, 128, 256, 512, 1024],
            "rounds": [1024, 512, 256],
            "modes": ["no-cache", "static", "compiled"],
            "headline": 512,
            "predict": _PREDICT,
        },
    },
    title="Tokens/s with vs without the KV cache, measured and predicted",
)
def speedup(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Interleaved rounds of greedy generation per mode; each round's per-token timestamps give every length.

    Round ``r`` generates ``rounds[r]`` tokens once in every mode (order rotated per round); the elapsed
    time after ``N`` tokens of a round is the time of generating ``N`` tokens, so a length gets one sample
    from every round at least that long, and the reported value is the median. Every round's cached
    generations must equal its uncached one token for token, or the experiment fails.
    """
    prompt_len, lengths, rounds, modes = cfg["prompt_len"], cfg["lengths"], cfg["rounds"], cfg["modes"]
    at = cfg["headline"]
    if max(lengths) > max(rounds):
        raise ValueError("every length must be covered by at least one round")
    if at not in lengths or modes[0] != "no-cache" or len(modes) < 2:
        raise ValueError("headline must be one of the lengths; modes must be 'no-cache' then cached modes")
    model = bench_model(prompt_len + max(rounds), seed=0)
    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(0, model.config.vocab_size, (1, prompt_len), generator=gen)
    for mode in modes:
        time_generate_steps(model, idx, 4, mode)  # warm-up
    curves: dict[str, list[np.ndarray]] = {m: [] for m in modes}
    checked = 0
    for r, n_max in enumerate(ctx.progress(rounds, total=len(rounds), desc="rounds")):
        tokens = {}
        for mode in modes[r % len(modes) :] + modes[: r % len(modes)]:
            stamps, tokens[mode] = time_generate_steps(model, idx, n_max, mode)
            curves[mode].append(stamps)
        for mode in modes[1:]:
            checked += check_same_tokens(f"round {r}, {mode} cache", tokens["no-cache"], tokens[mode])
    seconds = {
        m: np.array([np.median([c[n - 1] for c in curves[m] if len(c) >= n]) for n in lengths]) for m in modes
    }
    samples = [sum(len(c) >= n for c in curves["no-cache"]) for n in lengths]
    first = {m: np.diff(curves[m][0], prepend=0.0) for m in modes}  # per-call latency of round 0
    coef = fit_call_cost(prompt_len, {m: first[m] for m in modes[:2]})  # eager PyTorch: no-cache and a cache
    no_overhead = np.array([0.0, coef[1], coef[2]])
    rows, theory_fwd, theory_flop = [], [], []
    for i, n in enumerate(lengths):
        nc = decode_cost(model.config, prompt_len, n, use_cache=False)
        wc = decode_cost(model.config, prompt_len, n, use_cache=True)
        theory_fwd.append(nc["token_forwards"] / wc["token_forwards"])
        theory_flop.append(nc["flops"] / wc["flops"])
        row: dict[str, Any] = {"new tokens": n, "samples": samples[i]}
        for m in modes:
            row[f"{m} tok/s"] = round(n / float(seconds[m][i]), 1)
        for m in modes[1:]:
            row[f"speed-up ({m})"] = round(float(seconds["no-cache"][i] / seconds[m][i]), 2)
        row["forward ratio"] = round(theory_fwd[-1], 1)
        row["FLOP ratio"] = round(theory_flop[-1], 1)
        rows.append(row)
    predicted = np.array([predicted_ratio(coef, prompt_len, n) for n in lengths])
    ceiling = np.array([predicted_ratio(no_overhead, prompt_len, n) for n in lengths])
    ratio = seconds["no-cache"] / seconds[modes[1]]
    k = lengths.index(at)
    predictions = prediction_rows(coef, model.config, prompt_len, at, cfg["predict"])
    slopes = {m: latency_slope(1e3 * first[m]) for m in modes}
    return {
        "table": table(rows),
        "lengths": np.array(lengths),
        "seconds": seconds,
        "speedup": {m: seconds["no-cache"] / seconds[m] for m in modes[1:]},
        "theory_forward_ratio": np.array(theory_fwd),
        "theory_flop_ratio": np.array(theory_flop),
        "predicted_ratio": predicted,
        "no_overhead_ratio": ceiling,
        "latency_ms": {m: 1e3 * first[m] for m in modes},
        "latency_slope_ms": slopes,
        "latency_trend": latency_trend(slopes),
        "compiled_text": compiled_phrase(seconds, lengths, at, modes[1]),
        "checked_tokens": checked,
        "fit": {
            "c0_ms": 1e3 * coef[0],
            "c1_us": 1e6 * coef[1],
            "c2_ns": 1e9 * coef[2],
            "overhead_share": float(coef[0] / max(coef @ np.array([1.0, 1.0, prompt_len + at / 2]), 1e-12)),
        },
        "predictions": table(
            [
                {c: plain_number(v) if c[:2] in _COSTS else v for c, v in p.items() if c != "key"}
                for p in predictions
            ]
        ),
        "predicted": {p["key"]: p["predicted speed-up"] for p in predictions},
        "predictions_text": predictions_sentence(predictions),
        "headline": {
            "new_tokens": at,
            "speedup": float(ratio[k]),
            "forward_ratio": theory_fwd[k],
            "flop_ratio": theory_flop[k],
            "predicted": float(predicted[k]),
            "no_overhead_ratio": float(ceiling[k]),
            "fit_reading": fit_reading(float(ratio[k]), float(predicted[k]), at, float(ceiling[k])),
        },
        "model": {
            "prompt_len": prompt_len,
            "mflop_per_token": decode_cost(model.config, 1, 1)["flops"] / 1e6,
            "max_seq_len": model.config.max_seq_len,
            "positional": model.config.positional,
            "n_params": model.num_parameters(),
            "d_model": model.config.d_model,
            "n_layers": model.config.n_layers,
            "threads": torch.get_num_threads(),
        },
    }
