"""Page prose computed from the sampling lab's numbers: loop verdicts and the diversity/quality phrases.

Each function is a pure function of result values; the page quotes its output with ``{{ lab.text(...) }}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from llmkb.lab.kit import count_of, fmt, plural

__all__ = [
    "correlation_phrase",
    "greedy_words_phrase",
    "hot_phrase",
    "loop_verdict",
    "loops_phrase",
    "span",
    "tradeoff_phrase",
]


def span(values: Sequence[int]) -> str:
    """``"7"`` for one value, ``"3–12"`` for a range (en dash)."""
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else f"{lo}–{hi}"


def _pct(x: float) -> str:
    return _value(x, ".0%")


def _value(x: float, spec: str) -> str:
    """``x`` formatted, or "undefined (no whole word)" for NaN, the rate of a text without a word."""
    return "undefined (no whole word)" if math.isnan(x) else fmt(x, spec)


def correlation_phrase(r: float) -> str:
    """``"0.87"`` / ``"−0.42"`` for a correlation, or why there is none (NaN: a constant side or too few points)."""
    if math.isnan(r):
        return "undefined (one of the two is constant across the settings, or too few settings have both)"
    return fmt(r, ".2f").replace("-", "−")


def loops_phrase(n_looped: int, n_total: int) -> str:
    """``"all 5 greedy continuations end in a loop"`` / ``"1 of 5 … ends"`` / ``"none of the 5 … ends"``."""
    return f"{count_of(n_looped, n_total, 'greedy continuation', verb=('ends', 'end'))} in a loop"


def loop_verdict(
    starts: Sequence[int], periods: Sequence[int], units: Sequence[str], n_total: int, length: int
) -> str:
    """The paragraph's verdict on greedy loops.

    Args:
        starts: loop start (byte) of each continuation that loops.
        periods: loop period (bytes) of each.
        units: the repeating unit of each, as text (not ``repr``).
        n_total: greedy continuations decoded.
        length: bytes decoded per continuation.
    """
    if not starts:
        return f"None of the {n_total} greedy continuations ends in a loop within {length} bytes."
    one = len(starts) == 1
    head = loops_phrase(len(starts), n_total)
    shown = sorted({repr(u) for u in units})
    if max(starts) == 0:
        where = "right after the prompt"
    else:
        where = f"after {span(starts)} {plural(max(starts), 'byte', number=False)}"
    out = (
        f"{head[0].upper()}{head[1:]}. {'The loop starts' if one else 'The loops start'} {where} and "
        f"{plural(len(starts), 'repeats', 'repeat', number=False)} "
        f"{'the unit' if len(shown) == 1 else 'the units'} {', '.join(shown[:4])} "
        f"({span(periods)} {plural(max(periods), 'byte', number=False)}) to the end."
    )
    if all(u.isspace() for u in units):
        out += (
            f" {'The loop is' if one else 'Every loop is'} a run of whitespace: from its start on, the arg-max"
            " after each space is another space, so greedy decoding never leaves it."
        )
    return out


def greedy_words_phrase(
    greedy_valid: float, greedy_words: int, ref_valid: float, ref_temperature: float
) -> str:
    """The sentence on what the vocabulary check says about greedy text, against sampling at ``ref_temperature``.

    Args:
        greedy_valid: share of greedy's words that are words of the training corpus.
        greedy_words: number of whole words greedy wrote.
        ref_valid: the same share at the reference setting (no top-k or top-p).
        ref_temperature: that setting's temperature.
    """
    ref = f"at T = {fmt(ref_temperature, 'g')} without filters"
    if greedy_words == 0:
        return (
            f"Greedy decoding wrote no whole word to check ({_pct(ref_valid)} of the words {ref} are real)."
        )
    bad = round((1 - greedy_valid) * greedy_words)
    if bad == 0:
        return (
            f"Every one of the {greedy_words} words greedy decoding wrote is a word of the training corpus "
            f"({_pct(ref_valid)} {ref}): its failure is repetition, not spelling."
        )
    return (
        f"Nor is a chain of locally most likely bytes a guarantee of sense: {bad} of the {greedy_words} words "
        f"greedy decoding wrote ({_pct(1 - greedy_valid)}) are not words of the training corpus, against "
        f"{_pct(1 - ref_valid)} non-words {ref}."
    )


def tradeoff_phrase(
    temperatures: Sequence[float], distinct_2: Sequence[float], valid: Sequence[float]
) -> str:
    """How diversity and quality move along the unfiltered temperature sweep (first vs last setting).

    Args:
        temperatures: the sweep's temperatures, ascending (no top-k or top-p).
        distinct_2: word distinct-2 at each.
        valid: valid-word rate at each.
    """
    if len(temperatures) < 2:
        raise ValueError("a sweep needs at least two temperatures")

    def move(a: float, b: float, spec: str) -> str:
        if math.isnan(a) or math.isnan(b):
            return f"is {_value(a, spec)} at the first and {_value(b, spec)} at the last"
        if a == b:
            return f"stays at {_value(a, spec)}"
        return f"{'rises' if b > a else 'falls'} from {_value(a, spec)} to {_value(b, spec)}"

    return (
        f"from T = {fmt(temperatures[0], 'g')} to T = {fmt(temperatures[-1], 'g')} (no top-k or top-p), word distinct-2 "
        f"{move(distinct_2[0], distinct_2[-1], '.3f')} while the share of words found in the training corpus "
        f"{move(valid[0], valid[-1], '.0%')}"
    )


def hot_phrase(temperature: float, distinct_2: float, valid: float, greedy_valid: float) -> str:
    """The hottest unfiltered setting's diversity against its quality.

    Args:
        temperature: the hottest temperature of the grid.
        distinct_2: its word distinct-2.
        valid: its valid-word rate.
        greedy_valid: the valid-word rate of greedy decoding, for reference.
    """
    ref = "greedy wrote no whole word" if math.isnan(greedy_valid) else f"greedy: {_pct(greedy_valid)}"
    return (
        f"at T = {fmt(temperature, 'g')} without filters the shared model's text has word distinct-2 "
        f"{fmt(distinct_2, '.3f')}, "
        f"and {_pct(valid)} of its words are words of the training corpus ({ref})"
    )
