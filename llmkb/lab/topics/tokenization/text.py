"""Page prose computed from the tokenization results: verdicts and phrases the page quotes with
``{{ lab.text(...) }}``, never typed by hand. Pure functions, tested in ``tests/test_lab_tokenization.py``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import regex

from llmkb.lab import kit
from llmkb.lab.kit.labels import GLYPHS

__all__ = [
    "case_verdict",
    "doubling_verdict",
    "longest_token_note",
    "more_or_fewer",
    "run_legend",
    "script_phrase",
]

_PIECES = (  # (what a token of this shape is, why GPT-4's split pattern keeps it in one piece)
    (
        r" ?[^\s\p{L}\p{N}]+[\r\n]*",
        "a run of punctuation",
        "the split pattern keeps such a run, with the line break after it, together as one piece",
    ),
    (r"\s+", "a run of whitespace", "the split pattern keeps a run of whitespace as one piece"),
    (
        r" \p{L}+",
        "a word with its leading space",
        "the split pattern keeps a word and its leading space as one piece",
    ),
    (
        r"[^\r\n\p{L}\p{N}]?\p{L}+",
        "a word",
        "the split pattern keeps a word (and one mark before it) as one piece",
    ),
)
_GLYPH_NAMES = {"␣": "a space", "⏎": "a newline", "⇥": "a tab"}


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
    return f"{kit.fmt(abs(ratio_minus_one), '.0%')} {'more' if ratio_minus_one > 0 else 'fewer'}"


def script_phrase(languages: Sequence[str]) -> str:
    """The languages whose every token is a single byte, as a clause for the page."""
    if not languages:
        return "every language here uses at least one learned merge"
    verb = "gets" if len(languages) == 1 else "get"
    return f"{kit.join_names(list(languages), limit=12)} {verb} no merge at all: one token per UTF-8 byte"


def longest_token_note(data: bytes, occurrences: int, corpus_chars: int) -> str:
    """Why the longest token is what it is: its characters, the piece of the split pattern it is, and how
    often it occurs in the training text.

    Args:
        data: the token's bytes.
        occurrences: how many times those bytes occur in the training text.
        corpus_chars: the training text's length in characters.

    Example:
        ```python
        from llmkb.lab.topics.tokenization.text import longest_token_note

        s = longest_token_note(b"+" + b"-" * 30 + b"+\\n", 12, 1000)
        assert s.startswith("It holds only 3 distinct characters (30 × “-”, 2 × “+” and 1 × “⏎”): a run of punctuation")
        ```
    """
    text = data.decode("utf-8", errors="replace")
    what, why = "one piece of the split pattern", "the split pattern does not cut it"
    for pattern, shape, reason in _PIECES:
        if regex.fullmatch(pattern, text):
            what, why = shape, reason
            break
    counts = Counter(data).most_common()
    if len(counts) == 1 and len(data) > 1:
        head = f"It is one character repeated, “{kit.byte_label(counts[0][0])}”: {what}"
    elif len(counts) <= 4 < len(data):
        mix = kit.join_names([f"{n} × “{kit.byte_label(b)}”" for b, n in counts])
        head = f"It holds only {len(counts)} distinct characters ({mix}): {what}"
    else:
        head = f"It is {what}"
    return (
        f"{head}; {why}. It occurs {kit.plural(occurrences, 'time')} verbatim in the "
        f"{corpus_chars:,} characters of training text, so merge after merge joined it into one token."
    )


def run_legend(view: str) -> str:
    """The legend of a :func:`~llmkb.lab.topics.tokenization.analysis.run_view`: the run notation when it
    collapsed a run, and the glyphs it uses (``"runs of one character collapsed: -×32 is “-” 32 times in a
    row; ⏎ is a newline"``)."""
    parts = []
    run = regex.search(r"(\S)×(\d+)", view)
    if run:
        parts.append(f"runs of one character collapsed: {run[0]} is “{run[1]}” {run[2]} times in a row")
    parts += [f"{g} is {_GLYPH_NAMES[g]}" for g in GLYPHS.values() if g in view]
    if regex.search(r"x[0-9a-f]{2}", view):
        parts.append("xNN is a byte by its hex code")
    return "; ".join(parts) if parts else "every character is itself"
