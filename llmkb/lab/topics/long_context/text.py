"""Page prose computed from the long-context lab's numbers: benchmark ratios, collapse points, window reach.

Each function is a pure function of result values; the page quotes its output with ``{{ lab.text(...) }}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from llmkb.lab.kit import count_of, fmt, join_names, plural

from .names import label

__all__ = [
    "unavailable_phrase",
    "benchmark_summary",
    "memory_phrase",
    "collapse_phrase",
    "best_at",
    "reach_phrase",
    "window_phrase",
    "passkey_phrase",
    "relay_phrase",
]


def _x(v: float | None) -> str:
    return "not measured" if v is None or not math.isfinite(v) else f"{fmt(v, '.2f')}×"


def unavailable_phrase(names: Sequence[str]) -> str:
    """What this PyTorch build could not run, as a sentence."""
    if not names:
        return "Every SDPA backend asked for ran on this build."
    verb = "is" if len(names) == 1 else "are"
    return f"{join_names(list(names))} {verb} not available in this CPU build of PyTorch (the call raises), so no row shows it."


def benchmark_summary(ratios: Mapping[str, Any], growth: Mapping[str, float | None], lo: int, hi: int) -> str:
    """The benchmark's closing sentence: fastest exact kernel vs naive at ``lo`` and ``hi``, memory growth."""
    parts = []
    for T in (lo, hi):
        r = ratios[str(T)]
        best = r["fastest_exact"]
        if best is None:
            parts.append(f"at T = {T} no exact kernel besides naive was measured")
        else:
            parts.append(
                f"at T = {T} the fastest exact kernel, {label(best)}, runs {_x(r['speedup'][best])} as fast as "
                f"naive attention and our chunked kernel {_x(r['speedup']['chunked'])}"
            )
    text = "; ".join(parts) + ". "
    n, c = growth.get("naive"), growth.get("chunked")
    text += (
        f"From T = {lo} to {hi} ({hi // lo}× longer) the naive kernel's peak memory grows {_x(n)}, "
        f"the chunked kernel's {_x(c)}."
    )
    return text


def memory_phrase(naive: float | None, chunked: float | None) -> str:
    """The forward memory slopes of the naive and chunked kernels, and what they show."""
    if naive is None or chunked is None:
        return "The memory slopes could not be fitted (a kernel's peak was below what the probe resolves)."
    text = (
        f"The naive kernel's peak memory grows with slope {fmt(naive, '.2f')} in T, the chunked kernel's with "
        f"slope {fmt(chunked, '.2f')}"
    )
    if chunked < naive - 0.5:
        return text + ": the T × T matrix is what the online softmax removes."
    return (
        text + ": at these lengths the chunked kernel's fixed-size blocks, not the sequence, set its memory."
    )


def collapse_phrase(collapse: Mapping[str, int | None], T: int, measured_to: Mapping[str, int]) -> str:
    """Where each variant collapses, in multiples of the training length ``T``; the others, and how far each
    was measured (``measured_to``: the longest length with a value, e.g. the end of a learned table)."""
    held = [v for v, c in collapse.items() if c is None]
    fell = sorted((c, v) for v, c in collapse.items() if c is not None)
    bits = [f"{label(v)} at {c} bytes ({fmt(c / T, 'g')}× the training length)" for c, v in fell]
    text = f"Collapse points: {join_names(bits, limit=8)}. " if bits else ""
    if held:
        ends = sorted({measured_to[v] for v in held}, reverse=True)
        groups = [
            f"{join_names([label(v) for v in held if measured_to[v] == e])} up to {e} bytes" for e in ends
        ]
        verb = ("stays", "stay")
        text += (
            f"{count_of(len(held), len(collapse), 'variant', verb=verb)} within the threshold as far as "
            f"{'it was' if len(held) == 1 else 'they were'} measured: {'; '.join(groups)}."
        )
    return text.strip()


def best_at(ppl: Mapping[str, Sequence[float]], lengths: Sequence[int], index: int) -> str:
    """``"ALiBi (4.1)"``: the variant with the lowest perplexity at ``lengths[index]``."""
    vals = {v: float(p[index]) for v, p in ppl.items() if math.isfinite(float(p[index]))}
    best = min(vals, key=vals.__getitem__)
    return f"{label(best)} ({fmt(vals[best], '.2f')} at {lengths[index]} bytes)"


def reach_phrase(measured: int, theory: int, layers: int, window: int) -> str:
    """Measured reach of a windowed model vs the ``L (w - 1)`` receptive field."""
    if measured > theory:
        raise ValueError(f"a token {measured} back changed the output, past the receptive field {theory}")
    share = measured / theory if theory else 0.0
    return (
        f"With {plural(layers, 'layer')} and a window of {window}, no token more than {theory} positions back can change "
        f"the last prediction (L·(w−1) = {theory}; measured: exactly zero change beyond it). Changes above the "
        f"floor reach {measured} positions back, {fmt(share, '.0%')} of that limit."
    )


def window_phrase(windows: Sequence[int], ppl: Sequence[float], T: int) -> str:
    """How perplexity at a fixed long length depends on the window size."""
    best_i = min(range(len(ppl)), key=lambda i: ppl[i])
    return (
        f"At a fixed length, perplexity goes from {fmt(ppl[0], '.2f')} with a window of {windows[0]} to "
        f"{fmt(ppl[-1], '.2f')} with {windows[-1]}; the lowest, {fmt(ppl[best_i], '.2f')}, is at a window of "
        f"{windows[best_i]} ({fmt(windows[best_i] / T, 'g')}× the training length)."
    )


def passkey_phrase(
    *,
    solid: int,
    solid_min: float,
    last: int,
    theory: int,
    layers: int,
    window: int,
    chance: float,
    pooled: float,
    n_beyond: int,
    full_min: float,
    longest: int,
    level: float,
) -> str:
    """Where a windowed model's passkey retrieval fails, against ``L (w - 1)``; the full-attention reference.

    Args:
        solid: largest distance up to which every accuracy is at least ``level`` (0: none).
        solid_min: the lowest accuracy at distances ``1 .. solid`` (ignored when ``solid`` is 0).
        last: largest distance with accuracy above the chance band (0: none).
        theory: ``L (w - 1)``.
        layers: ``L``.
        window: ``w``.
        chance: ``1 / n_values``.
        pooled: accuracy over all passkeys beyond ``theory``.
        n_beyond: how many passkeys that is.
        full_min: the full-attention model's lowest accuracy over the distances.
        longest: the largest distance measured.
        level: the accuracy ``solid`` refers to.
    """
    if last > theory:
        raise ValueError(f"retrieval above chance at {last}, past the receptive field {theory}")
    head = f"With {plural(layers, 'layer')} and a window of {window}, L·(w−1) = {theory}. "
    if last == 0:
        text = head + (
            "The windowed model did not learn to retrieve the passkey at any distance in this run (no accuracy "
            "above the chance band). "
        )
    else:
        if solid == 0:
            held = f"above chance up to distance {last}"
        else:
            held = (
                f"right on every passkey at every distance up to {solid}"
                if solid_min == 1.0
                else f"at least {fmt(solid_min, '.0%')} accurate at every distance up to {solid}"
            )
            held += f" and above chance up to {last}" if solid < last else ""
        where = (
            "exactly one position past L·(w−1), as the theory says"
            if last == theory
            else f"{plural(theory - last, 'position')} short of L·(w−1)"
        )
        if last >= longest:
            text = head + f"The windowed model is {held}, as far as it was measured. "
        else:
            text = head + (
                f"The windowed model is {held}; from {last + 1} on it is no better than chance, so retrieval "
                f"fails {where}. "
            )
    if n_beyond:
        text += (
            f"Beyond {theory} the passkey changes no logit at all (measured: exactly zero), and the accuracy "
            f"there, {fmt(pooled, '.1%')} over {n_beyond} passkeys, is chance: 1/{round(1 / chance)} = "
            f"{fmt(chance, '.1%')}. "
        )
    if full_min == 1.0:
        text += f"The full-attention model, trained on the same passkeys, retrieves every one at every distance up to {longest}."
    elif full_min >= level:
        text += (
            f"The full-attention model, trained on the same passkeys, is at least {fmt(full_min, '.0%')} "
            f"accurate at every distance up to {longest}."
        )
    else:
        text += f"The full-attention model's lowest accuracy over distances 1 to {longest} is {fmt(full_min, '.0%')}."
    return text


def relay_phrase(last: int, theory: int) -> str:
    """How far the windowed passkey model retrieves, in a few words for a Q&A (``last``: the largest distance
    above chance, 0 for none)."""
    if last == 0:
        return f"in this run it learned to retrieve at no distance, of a theoretical {theory}"
    return f"above chance up to {plural(last, 'position')} back, of a theoretical {theory}"
