"""Page prose of the KV-cache lab, computed from its numbers (the page quotes it with ``{{ lab.text(...) }}``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmkb.lab.kit import fmt, join_names, plural

__all__ = [
    "decoding_phrase",
    "fit_reading",
    "latency_trend",
    "overtaking_sentence",
    "plain_number",
    "predictions_sentence",
    "workload_verdict",
]


def fit_reading(measured: float, predicted: float, new_tokens: int, no_overhead: float) -> str:
    """How the fitted cost model compares with the measurement, and what it says without the per-call cost.

    Example:
        ```python
        from llmkb.lab.topics.kv_cache.text import fit_reading

        s = fit_reading(4.0, 5.0, 512, 60.0)
        assert s.startswith("The fit predicts 5.0× at 512 new tokens (measured: 4.0×, 20% below the fit)")
        ```
    """
    gap = measured / predicted - 1.0
    agree = (
        "the same"
        if abs(gap) < 0.005
        else f"{fmt(abs(gap), '.0%')} {'above' if gap > 0 else 'below'} the fit"
    )
    return (
        f"The fit predicts {_times(predicted)} at {new_tokens} new tokens (measured: {_times(measured)}, {agree}). "
        f"Take away the fixed cost of a call and the same fit predicts {_times(no_overhead)}."
    )


def _times(ratio: float) -> str:
    """A speed-up as the page writes it: ``3.6×`` below 100, ``234×`` from 100 on."""
    return f"{fmt(ratio, '.1f' if abs(ratio) < 100 else '.0f')}×"


def predictions_sentence(rows: Sequence[Mapping[str, Any]]) -> str:
    """One sentence over the scenarios of [`prediction_rows`][llmkb.lab.topics.kv_cache.analysis.prediction_rows]
    that change the setting (the measured one and the one without a per-call cost are what
    :func:`fit_reading` says).

    Example:
        ```python
        from llmkb.lab.topics.kv_cache.text import predictions_sentence

        rows = [
            {"key": "measured", "scenario": "as measured", "prompt": 16, "new tokens": 512, "predicted speed-up": 4.0},
            {"key": "prompt", "scenario": "16× longer prompt", "prompt": 256, "new tokens": 512, "predicted speed-up": 9.0},
            {"key": "no_overhead", "scenario": "no per-call cost", "prompt": 16, "new tokens": 512, "predicted speed-up": 60.0},
        ]
        assert predictions_sentence(rows) == "Each change on its own gives 9.0× with a 16× longer prompt (256 tokens)."
        ```
    """
    parts = []
    for r in rows:
        if r["key"] in ("measured", "no_overhead"):
            continue
        article = "a " if r["key"] in ("prompt", "wider") else ""
        detail = {"longer": f" ({r['new tokens']:,})", "prompt": f" ({r['prompt']:,} tokens)"}.get(
            r["key"], ""
        )
        parts.append(f"{_times(r['predicted speed-up'])} with {article}{r['scenario']}{detail}")
    return f"Each change on its own gives {join_names(parts)}."


def latency_trend(slope_ms: Mapping[str, float]) -> str:
    """Compare how fast each mode's per-token latency grows with the position (least-squares slopes, ms/position).

    Example:
        ```python
        from llmkb.lab.topics.kv_cache.text import latency_trend

        s = latency_trend({"no-cache": 0.05, "static": 0.001})
        assert s == (
            "the uncached latency grows by 0.0500 ms per position and the cached one by 0.0010 ms: "
            "a slope 50× steeper"
        )
        ```
    """
    slow, fast = slope_ms["no-cache"], min(v for k, v in slope_ms.items() if k != "no-cache")
    s, f = fmt(slow, ".4f"), fmt(fast, ".4f")
    if slow > 0 and fast > 0:
        head = f"the uncached latency grows by {s} ms per position and the cached one by {f} ms"
    elif slow > 0:
        head = f"the uncached latency grows by {s} ms per position and the cached one does not grow (slope {f} ms)"
    elif fast > 0:
        head = f"the cached latency grows by {f} ms per position and the uncached one does not grow (slope {s} ms)"
    else:
        head = f"neither latency grows (slopes: {s} ms per position uncached, {f} ms cached)"
    if slow > 0 >= fast:
        return head + ": only the uncached calls get slower"
    if slow > fast > 0:
        return head + f": a slope {fmt(slow / fast, '.0f')}× steeper"
    return head + ": over so few positions the uncached calls do not slow down faster than the cached ones"


def plain_number(v: float) -> str:
    """A table cell without exponents: ``34,150`` from 34150.3, ``36.2`` from 36.24, ``0`` from 0.

    Example:
        ```python
        from llmkb.lab.topics.kv_cache.text import plain_number

        assert [plain_number(v) for v in (34150.3, 36.24, 0.0612, 0.0)] == ["34,150", "36.2", "0.0612", "0"]
        ```
    """
    return fmt(v, ",.0f") if abs(v) >= 1000 else fmt(v, ".3g")


def workload_verdict(sizes: Sequence[int], rates: Sequence[float], ideal: float) -> str:
    """How the prefix-cache hit rate moves with the block size, against the shared prompt's share of tokens.

    Example:
        ```python
        from llmkb.lab.topics.kv_cache.text import workload_verdict

        s = workload_verdict([1, 4, 16], [0.8, 0.75, 0.6], 0.7)
        assert s == "the hit rate falls as blocks grow; with blocks of up to 4 tokens it exceeds the shared prompt's share"
        ```
    """
    pairs = sorted(zip(sizes, rates, strict=True))
    falls = all(b[1] <= a[1] for a, b in zip(pairs, pairs[1:], strict=False))
    head = (
        "the hit rate falls as blocks grow" if falls else "the hit rate does not fall steadily as blocks grow"
    )
    above = [s for s, r in pairs if r > ideal]
    if not above:
        return head + "; it never exceeds the shared prompt's share"
    return head + f"; with blocks of up to {max(above)} tokens it exceeds the shared prompt's share"


def overtaking_sentence(rows: Sequence[Mapping[str, Any]]) -> str:
    """Name, per model, the batch from which its cache at full context outweighs its weights (the units
    said once, on the first model).

    Example:
        ```python
        from llmkb.lab.topics.kv_cache.text import overtaking_sentence

        rows = [
            {"model": "A", "context": 1024, "cache > weights from batch": 7},
            {"model": "B", "context": 4096, "cache > weights from batch": 1},
        ]
        assert overtaking_sentence(rows) == "7 sequences for A (1,024 tokens each) and 1 for B (4,096)"
        ```
    """
    parts = [
        f"{plural(r['cache > weights from batch'], 'sequence')} for {r['model']} ({r['context']:,} tokens each)"
        if i == 0
        else f"{r['cache > weights from batch']} for {r['model']} ({r['context']:,})"
        for i, r in enumerate(rows)
    ]
    return join_names(parts, limit=len(parts))


def decoding_phrase(prompt: str, temperature: float, seed: int) -> str:
    """How the recorded demo was generated, for the sentence above the widget.

    Example:
        ```python
        from llmkb.lab.topics.kv_cache.text import decoding_phrase

        s = decoding_phrase("The value of the", 0.8, 0)
        assert s == "sampled at temperature 0.8, seed 0, after the prompt “The value of the”"
        ```
    """
    return f"sampled at temperature {plain_number(temperature)}, seed {seed}, after the prompt “{prompt}”"


def compiled_phrase(seconds: Mapping[str, Any], lengths: Sequence[int], at: int, cached: str) -> str:
    """What the compiled decode step adds at the headline length, or ``""`` when it was not measured.

    Example:
        ```python
        import numpy as np
        from llmkb.lab.topics.kv_cache.text import compiled_phrase

        secs = {"no-cache": np.array([8.0]), "static": np.array([2.0]), "compiled": np.array([1.0])}
        assert compiled_phrase(secs, [512], 512, "static") == (
            "Compiled, the same cached decoding runs 8.0× faster than no cache at 512 new tokens, "
            "2.0× the eager cached run: most of what the eager cache left on the table was per-call overhead."
        )
        assert compiled_phrase({"no-cache": [1.0], "static": [1.0]}, [512], 512, "static") == ""
        ```
    """
    if "compiled" not in seconds:
        return ""
    k = list(lengths).index(at)
    total = float(seconds["no-cache"][k] / seconds["compiled"][k])
    gain = float(seconds[cached][k] / seconds["compiled"][k])
    tail = (
        "most of what the eager cache left on the table was per-call overhead."
        if gain >= 1.5
        else "compilation recovers little here, so the eager cached step was not overhead-bound."
    )
    return (
        f"Compiled, the same cached decoding runs {fmt(total, '.1f')}× faster than no cache at {at} new tokens, "
        f"{fmt(gain, '.1f')}× the eager cached run: {tail}"
    )
