"""Page prose computed from the tokenization results: verdicts and phrases the page quotes with
``{{ lab.text(...) }}``, never typed by hand. Pure functions, tested in ``tests/test_lab_tokenization.py``."""

from __future__ import annotations

from collections.abc import Sequence

from llmkb.lab import kit

__all__ = ["case_verdict", "doubling_verdict", "more_or_fewer", "script_phrase"]


def case_verdict(gap: float) -> str:
    """How a lowercase letter's embedding relates to its capital, from ``gap = cos(x, X) - cos(x, Y≠X)``."""
    if gap > 0.15:
        return "clearly closer to its own capital than to the other capitals: the model has paired the cases"
    if gap > 0.02:
        return (
            "only slightly closer to its own capital than to the other capitals: case separates the letters "
            "more than their identity joins them"
        )
    return "no closer to its own capital than to the other capitals: case pairs have not been learned"


def doubling_verdict(gains: Sequence[Sequence[float]]) -> str:
    """Whether the relative gain per doubling of the merges shrinks, on every corpus measured.

    Args:
        gains: For each corpus, the gains of its successive doublings (at least two each to compare).
    """
    if any(len(g) < 2 for g in gains):
        return "cannot be compared here: the grid has fewer than two doublings"
    steps = [[b - a for a, b in zip(g, g[1:], strict=False)] for g in gains]
    if all(d < 0 for s in steps for d in s):
        return "shrinks at every doubling"
    if all(d > 0 for s in steps for d in s):
        return "grows at every doubling over this range"
    if all(g[-1] < g[0] for g in gains):
        return "shrinks overall, though not at every doubling"
    return "neither shrinks nor grows steadily over this range"


def more_or_fewer(ratio_minus_one: float) -> str:
    """``12% more`` / ``3% fewer`` / ``as many`` for a ratio of token counts minus one."""
    if abs(ratio_minus_one) < 0.005:
        return "as many"
    return f"{abs(ratio_minus_one):.0%} {'more' if ratio_minus_one > 0 else 'fewer'}"


def script_phrase(languages: Sequence[str]) -> str:
    """The languages whose every token is a single byte, as a clause for the page."""
    if not languages:
        return "every language here uses at least one learned merge"
    verb = "gets" if len(languages) == 1 else "get"
    return f"{kit.join_names(list(languages), limit=12)} {verb} no merge at all: one token per UTF-8 byte"
