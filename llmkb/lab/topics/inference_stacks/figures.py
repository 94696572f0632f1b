"""Figures of the inference-stacks lab: decode speed per runtime and setting; logit drift per format."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit import style
from llmkb.lab.topics.inference_stacks.names import RUNTIMES, TOPIC


@TOPIC.figure(
    "bench", "decode-speed", caption="Decode tokens/s of each runtime, batch × prompt length (log scale)"
)
def decode_speed(result: Result) -> Any:
    """Grouped bars: one group per (batch, prompt), one bar per runtime."""
    import matplotlib.pyplot as plt

    rows = result["rows"]
    settings = sorted({(r["batch"], r["prompt_len"]) for r in rows})
    names = [k for k in RUNTIMES if any(r["runtime"] == k for r in rows)]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    width = 0.8 / len(names)
    x = np.arange(len(settings))
    for i, name in enumerate(names):
        v = [
            next(
                r["decode_tok_s"] for r in rows if r["runtime"] == name and (r["batch"], r["prompt_len"]) == s
            )
            for s in settings
        ]
        ax.bar(x + (i - (len(names) - 1) / 2) * width, v, width, color=f"C{i}", label=RUNTIMES[name])
    ax.set_xticks(x, [f"B={b}, prompt {p}" for b, p in settings])
    ax.set_yscale("log")
    ax.set_ylabel("decode tokens/s")
    ax.legend(fontsize=9, ncols=2, loc="upper left")
    ax.grid(axis="y", color=style.muted(), alpha=0.3)
    return fig


@TOPIC.figure(
    "bench", "latency", caption="Time to first token and per-token p95 latency at batch 1 (log scale)"
)
def latency(result: Result) -> Any:
    """Two panels stacked: TTFT and p95 per runtime at batch 1, one bar per prompt length."""
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if r["batch"] == min(r["batch"] for r in result["rows"])]
    prompts = sorted({r["prompt_len"] for r in rows})
    names = [k for k in RUNTIMES if any(r["runtime"] == k for r in rows)]
    fig, axes = plt.subplots(2, 1, figsize=(6.4, 4.8), layout="constrained", sharex=True)
    x = np.arange(len(names))
    for ax, key, label in zip(
        axes, ("ttft_ms", "p95_ms"), ("time to first token (ms)", "p95 per token (ms)"), strict=True
    ):
        for j, p in enumerate(prompts):
            v = [next(r[key] for r in rows if r["runtime"] == n and r["prompt_len"] == p) for n in names]
            ax.bar(x + (j - 0.5) * 0.4, v, 0.4, color=f"C{j}", label=f"prompt {p}")
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.legend(fontsize=9)
    axes[1].set_xticks(x, [n for n in names], rotation=20)
    return fig


@TOPIC.figure(
    "parity", "drift", caption="Largest logit difference from PyTorch fp32 on held-out text (log scale)"
)
def drift(result: Result) -> Any:
    """Horizontal bars, one per runtime and format (the reference itself omitted)."""
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if r["runtime and format"] != "PyTorch fp32"]
    fig, ax = plt.subplots(figsize=(6.4, 2.8), layout="constrained")
    v = [max(r["max |Δ logit|"], 1e-9) for r in rows]
    ax.barh(np.arange(len(rows)), v, color=[f"C{i}" for i in range(len(rows))])
    ax.set_yticks(np.arange(len(rows)), [r["runtime and format"] for r in rows])
    ax.set_xscale("log")
    ax.set_xlabel("max |Δ logit|")
    return fig
