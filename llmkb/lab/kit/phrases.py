"""Small generators of page prose: a measured gap as words, a list of names, counts with their nouns (and
verbs) in agreement, significant digits.

Pages never type a verdict: an experiment returns the phrase, computed from its numbers, and the page quotes
it with ``{{ lab.text(...) }}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["count_of", "gap_phrase", "join_names", "plural", "round_sig"]


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


def plural(n: int, word: str, many: str | None = None, *, number: bool = True) -> str:
    """``1 block`` / ``0 blocks`` / ``3 blocks``: the one place a count meets its noun.

    Args:
        n: the count.
        word: the singular (``"block"``, ``"head"``; a verb such as ``"ends"`` with ``number=False``).
        many: the plural when it is not ``word + "s"`` (``"batches"``, ``"end"``).
        number: write the count before the word; ``False`` gives the agreeing word alone.

    Example:
        ```python
        from llmkb.lab.kit import plural

        assert [plural(n, "block") for n in (0, 1, 2)] == ["0 blocks", "1 block", "2 blocks"]
        assert plural(1, "ends", "end", number=False) == "ends" and plural(3, "is", "are", number=False) == "are"
        ```
    """
    form = word if n == 1 else (many if many is not None else word + "s")
    return f"{n} {form}" if number else form


def count_of(
    k: int, n: int, noun: str, many: str | None = None, *, verb: tuple[str, str] | None = None
) -> str:
    """``k`` of ``n`` things as a reader would say it, with an agreeing verb when ``verb`` is given.

    ``none of the 5 loops``, ``1 of the 7 operations``, ``the only run``, ``both runs``, ``all 5 runs``;
    ``verb=("ends", "end")`` appends the singular for none or one and the plural otherwise.

    Example:
        ```python
        from llmkb.lab.kit import count_of

        ends = ("ends", "end")
        assert count_of(5, 5, "greedy continuation", verb=ends) == "all 5 greedy continuations end"
        assert count_of(2, 2, "run") == "both runs" and count_of(1, 1, "run") == "the only run"
        assert count_of(1, 7, "operation", verb=("matches", "match")) == "1 of the 7 operations matches"
        assert count_of(0, 3, "seed", verb=ends) == "none of the 3 seeds ends"
        ```
    """
    if not 0 <= k <= n:
        raise ValueError(f"a count of {k} out of {n} is not possible")
    nouns = plural(n, noun, many, number=False)
    if k == n == 1:
        subject, one = f"the only {noun}", True
    elif k == 0:
        subject, one = f"none of the {n} {nouns}", True
    elif k == n:
        subject, one = (f"both {nouns}" if n == 2 else f"all {n} {nouns}"), False
    else:
        subject, one = f"{k} of the {n} {nouns}", k == 1
    return subject if verb is None else f"{subject} {verb[0] if one else verb[1]}"


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
