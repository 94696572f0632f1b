"""Small generators of page prose: a measured gap as words, a list of names, significant digits.

Pages never type a verdict: an experiment returns the phrase, computed from its numbers, and the page quotes
it with ``{{ lab.text(...) }}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["gap_phrase", "join_names", "round_sig"]


def gap_phrase(delta: float, unit: str = "nats", *, tol: float = 5e-4, digits: int = 3) -> str:
    """``0.123 nats above`` / ``0.045 nats below`` / ``the same as`` for a difference ``delta``.

    Example:
        ```python
        from llmkb.lab.kit import gap_phrase

        assert gap_phrase(0.1234) == "0.123 nats above"
        assert gap_phrase(-0.0001) == "the same as"
        ```
    """
    if abs(delta) < tol:
        return "the same as"
    return f"{abs(delta):.{digits}f} {unit} {'above' if delta > 0 else 'below'}"


def join_names(names: Sequence[str], limit: int = 6) -> str:
    """``a``, ``a and b``, ``a, b and c``; past ``limit`` names, ``a, b, … and N more``."""
    names = list(names)
    if not names:
        return "none"
    if len(names) > limit:
        return f"{', '.join(names[:limit])} and {len(names) - limit} more"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def round_sig(x: float, digits: int = 3) -> float:
    """``x`` rounded to ``digits`` significant digits (0 stays 0; never rounds a small loss to ``0``)."""
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))
