"""The quantization page's prose, computed from the numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmkb.lab.kit import fmt, join_names

__all__ = [
    "frontier_phrase",
    "gguf_phrase",
    "cliff_phrase",
    "awq_phrase",
    "sensitivity_phrase",
    "qat_phrase",
    "group_phrase",
]


def frontier_phrase(names: Sequence[str], frontier: Sequence[int]) -> str:
    """``int4 g32, int8 channel and FP16 are on the frontier``."""
    on = [names[i] for i in frontier]
    verb = "is" if len(on) == 1 else "are"
    return f"{join_names(on)} {verb} on the frontier"


def gguf_phrase(delta: Mapping[str, float], published: Mapping[str, float], noise: float = 5e-4) -> str:
    """How our GGUF files' perplexity costs compare with llama.cpp's LLaMA-7B numbers (the order, and the ratio
    Q4_0 : Q8_0 when both are measurable).

    A change below ``noise`` (the largest change that merely rounding to 16 bits causes) or below zero is no
    measurable cost."""
    d8, d4 = delta["Q8_0"], delta["Q4_0"]
    theirs = f"llama.cpp lists +{published['Q8_0']} and +{published['Q4_0']} per token for LLaMA-7B"
    if d4 <= d8:
        return (
            f"Q8_0 changes our perplexity by {fmt(d8, '+.4f')} and Q4_0 by {fmt(d4, '+.4f')}: unlike llama.cpp's "
            f"LLaMA-7B numbers (+{published['Q8_0']}, +{published['Q4_0']}), 4 bits did not cost more here"
        )
    if d8 < max(noise, 5e-4):
        return (
            f"Q8_0 changes our model's perplexity per byte by {fmt(d8, '+.4f')}, no measurable cost, and Q4_0 "
            f"costs {fmt(d4, '+.3f')}; "
            f"{theirs}. The units differ, but the order is the same: 8-bit blocks are free, 4-bit blocks are not"
        )
    ratio, pub = d4 / d8, published["Q4_0"] / published["Q8_0"]
    return (
        f"Q8_0 costs our model {fmt(d8, '+.4f')} in perplexity per byte and Q4_0 costs {fmt(d4, '+.3f')}; {theirs}. "
        f"The units differ, but the order is the same: Q4_0's cost is {fmt(ratio, '.0f')}× Q8_0's here and "
        f"{fmt(pub, '.0f')}× there"
    )


def cliff_phrase(d4: float, d3: float) -> str:
    """``going from 4 to 3 bits multiplies the perplexity increase by 6.2``."""
    if d4 <= 0:
        return f"4 bits cost nothing measurable here, 3 bits {fmt(d3, '+.3f')}"
    return f"going from 4 to 3 bits multiplies the perplexity increase by {fmt(d3 / d4, '.1f')}"


def awq_phrase(rtn: float, awq: float, label: str, method: str = "AWQ") -> str:
    """``AWQ removes 35% of the int4 g128 perplexity increase`` (or says it did not help); also for GPTQ."""
    if rtn <= 0:
        return (
            f"round-to-nearest {label} already costs nothing measurable, so {method} has nothing to recover"
        )
    gain = (rtn - awq) / rtn
    if gain > 0.02:
        return f"{method} removes {fmt(gain, '.0%')} of the {label} perplexity increase"
    if gain < -0.02:
        return f"{method} adds {fmt(-gain, '.0%')} to the {label} perplexity increase"
    return f"{method} leaves the {label} perplexity increase about where it was"


def gptq_phrase(rtn: float, gptq: float, label: str, rtn_error: float, gptq_error: float) -> str:
    """[`awq_phrase`][llmkb.lab.topics.quantization.text.awq_phrase] for GPTQ, noting when its weights end further
    from the float ones than rounding's (it minimises the layer's output error, not the weights')."""
    out = awq_phrase(rtn, gptq, label, "GPTQ")
    if gptq_error > rtn_error:
        out += (
            f", although its relative weight error is larger ({fmt(gptq_error, '.1%')} against "
            f"{fmt(rtn_error, '.1%')}): it minimises the error of each layer's output, not of its weights"
        )
    return out


def group_phrase(groups: Sequence[int], deltas: Sequence[float], errors: Sequence[float]) -> str:
    """How the relative weight error and the perplexity increase of int4 move from the largest group to the smallest."""
    order = sorted(range(len(groups)), key=lambda i: -groups[i])
    big, small = order[0], order[-1]
    falls = deltas[small] < deltas[big]
    out = (
        f"from groups of {groups[big]} to groups of {groups[small]} the relative weight error of int4 falls from "
        f"{fmt(errors[big], '.2%')} to {fmt(errors[small], '.2%')}, while the perplexity increase "
        f"{'falls' if falls else 'does not fall'} ({fmt(deltas[big], '+.3f')} to {fmt(deltas[small], '+.3f')})"
    )
    if not falls:
        out += (
            ": at this size, which way each weight happens to round moves the perplexity as much as the group size "
            "does, and the weight error is the cleaner measure of the quantizer"
        )
    return out


def sensitivity_phrase(rows: Sequence[Mapping[str, Any]]) -> str:
    """Which layer kind hurts most when it alone is quantized (rows: ``{"kind", "delta"}`` per layer)."""
    by: dict[str, list[float]] = {}
    for r in rows:
        by.setdefault(r["kind"], []).append(float(r["delta"]))
    mean = {k: sum(v) / len(v) for k, v in by.items()}
    ranked = sorted(mean, key=lambda k: -mean[k])
    worst = max(rows, key=lambda r: float(r["delta"]))
    return (
        f"the most sensitive single layer is {worst['layer']} ({fmt(float(worst['delta']), '+.3f')}); by kind, "
        f"{ranked[0]} layers cost most on average ({fmt(mean[ranked[0]], '+.3f')}) and {ranked[-1]} least "
        f"({fmt(mean[ranked[-1]], '+.3f')})"
    )


def qat_phrase(label: str, ptq: float, qat: Mapping[str, float], control: float, steps: int) -> str:
    """PTQ vs QAT (mean and spread over seeds) against the float control, as perplexity increases."""
    n = int(qat["n"])
    if ptq <= 0:
        return (
            f"at {label}, post-training quantization costs nothing measurable, so QAT has nothing to recover"
        )
    recovered = (ptq - qat["mean"]) / ptq
    beats = qat["max"] < ptq
    verdict = (
        f"QAT beats post-training quantization in all {n} seeds"
        if beats
        else "QAT does not beat post-training quantization in every seed"
    )
    return (
        f"at {label}, post-training quantization adds {fmt(ptq, '.3f')} to the perplexity; after {steps} steps of QAT "
        f"the increase is {fmt(qat['mean'], '.3f')} ± {fmt(qat['sd'], '.3f')} over {n} seeds "
        f"({fmt(recovered, '.0%')} recovered). {verdict}; the same fine-tuning without quantization moves the float "
        f"model by {fmt(control, '+.3f')}"
        + (", so the recovery is not the extra training" if abs(control) < 0.25 * (ptq - qat["mean"]) else "")
    )
