"""Page prose and table rows of the inference-stacks lab, computed from its numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmkb.lab import kit
from llmkb.lab.kit.memory import human_bytes


def bench_row(r: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the speed table, rounded for reading."""
    return {
        "runtime": r["runtime"], "batch": r["batch"], "prompt": r["prompt_len"],
        "TTFT (ms)": kit.readable(r["ttft_ms"], 3), "prefill tok/s": kit.readable(r["prefill_tok_s"], 3),
        "decode tok/s": kit.readable(r["decode_tok_s"], 3), "p50 (ms)": kit.readable(r["p50_ms"], 2),
        "p95 (ms)": kit.readable(r["p95_ms"], 2), "decode × eager": kit.fmt(r["decode_x"], ".2f"),
        "same tokens": kit.fmt(100 * r["same_tokens"], ".0f") + " %",
    }  # fmt: skip


def memory_row(r: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """One row of the memory table: measured bytes beside the formula."""
    return {
        "runtime": labels[r["runtime"]], "weights held": human_bytes(r["weight_bytes"]),
        "KV cache held": human_bytes(r["kv_bytes"]), "KV formula 2·L·H_kv·D·T·B·4": human_bytes(r["kv_formula"]),
    }  # fmt: skip


def parity_row(r: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the parity table."""
    return {
        "runtime and format": r["runtime and format"], "max |Δ logit| vs PyTorch fp32": kit.fmt(r["max |Δ logit|"], ".1e"),
        "perplexity": kit.fmt(r["perplexity"], ".4f"), "same argmax": kit.fmt(100 * r["argmax agreement"], ".2f") + " %",
    }  # fmt: skip


def speed_summary(rows: Sequence[Mapping[str, Any]], reference: str, labels: Mapping[str, str]) -> str:
    """Which runtime decodes fastest at batch 1 and at the largest batch, and by how much over the reference.

    Example:
        ```python
        from llmkb.lab.topics.inference_stacks.text import speed_summary

        rows = [
            {"runtime": "eager", "batch": 1, "prompt_len": 8, "decode_x": 1.0},
            {"runtime": "fast", "batch": 1, "prompt_len": 8, "decode_x": 3.0},
        ]
        s = speed_summary(rows, "eager", {"eager": "Eager", "fast": "Fast"})
        assert s == "At batch 1 the fastest decoder is Fast, 3.0× eager at the longest prompt."
        ```
    """
    out = []
    longest = max(r["prompt_len"] for r in rows)
    for b in sorted({r["batch"] for r in rows}):
        sel = [
            r for r in rows if r["batch"] == b and r["prompt_len"] == longest and r["runtime"] != reference
        ]
        best = max(sel, key=lambda r: r["decode_x"])
        out.append(
            f"At batch {b} the fastest decoder is {labels[best['runtime']]}, "
            f"{kit.fmt(best['decode_x'], '.1f')}× {reference} at the longest prompt."
        )
    return " ".join(out)


def tokens_verdict(rows: Sequence[Mapping[str, Any]], reference: str, labels: Mapping[str, str]) -> str:
    """Whether every runtime generated the reference's greedy tokens, or which ones did not and how often.

    Example:
        ```python
        from llmkb.lab.topics.inference_stacks.text import tokens_verdict

        rows = [{"runtime": "a", "same_tokens": 1.0}, {"runtime": "b", "same_tokens": 1.0}]
        assert tokens_verdict(rows, "a", {"a": "A", "b": "B"}) == "every runtime generated exactly the same tokens"
        ```
    """
    worst: dict[str, float] = {}
    for r in rows:
        worst[r["runtime"]] = min(worst.get(r["runtime"], 1.0), r["same_tokens"])
    off = [f"{labels[k]} ({kit.fmt(100 * v, '.0f')} % at worst)" for k, v in worst.items() if v < 1.0]
    if not off:
        return "every runtime generated exactly the same tokens"
    return f"the tokens differ from {labels[reference]}'s for {kit.join_names(off)}: a near-tie flipped by rounding"


def parity_verdict(rows: Sequence[Mapping[str, Any]]) -> str:
    """The fp32 ports against the reduced formats: how far each group's logits move.

    Example:
        ```python
        from llmkb.lab.topics.inference_stacks.text import parity_verdict

        rows = [
            {"runtime and format": "PyTorch fp32", "max |Δ logit|": 0.0},
            {"runtime and format": "ONNX Runtime fp32", "max |Δ logit|": 2e-6},
            {"runtime and format": "PyTorch bf16", "max |Δ logit|": 0.2},
        ]
        s = parity_verdict(rows)
        assert s.startswith("the fp32 ports stay within 2.0e-06 of PyTorch")
        ```
    """
    ports = [r["max |Δ logit|"] for r in rows if r["runtime and format"].endswith("fp32")]
    low = [r for r in rows if not r["runtime and format"].endswith("fp32")]
    worst = max(low, key=lambda r: r["max |Δ logit|"])
    ratio = worst["max |Δ logit|"] / max(max(ports), 1e-12)
    return (
        f"the fp32 ports stay within {kit.fmt(max(ports), '.1e')} of PyTorch, while {worst['runtime and format']} "
        f"moves a logit by up to {kit.fmt(worst['max |Δ logit|'], '.2g')}, about {kit.readable(ratio, 2)}× more"
    )
