"""The built-in split patterns compiled with the standard library's ``re`` instead of ``regex``.

``re`` finds the GPT-2 / GPT-4 pieces about 1.5 times faster than ``regex``, which matters because
splitting is most of the time of a cached encode. ``re`` has no ``\\p{...}`` classes, so ``\\p{L}``,
``\\p{N}`` and ``\\s`` are spelled out from the tables in :mod:`llmkb.tokenize._unicode_data` (taken from
``regex``, so both engines split alike). Large classes are written so that ``re`` keeps its bitmap fast
path: the part below U+10000 is one class, and the rest is a second class guarded by a cheap look-ahead
for a supplementary-plane character. ``(?i:[sdmt]|ll|ve|re)`` is spelled out with both cases and ``ſ``
(U+017F), as in :func:`llmkb.tokenize.patterns.js_pattern`. Possessive quantifiers need Python 3.11.
"""

from __future__ import annotations

import functools
import re

from llmkb.tokenize import _unicode_data
from llmkb.tokenize._regexes import GPT2_PATTERN, GPT4_PATTERN

__all__ = ["fast_pattern", "generate_tables", "parse_ranges"]

Ranges = list[tuple[int, int]]

_ASTRAL = 0x10000
_MAX = 0x10FFFF


def parse_ranges(spec: str) -> Ranges:
    """Parse ``"41-5a 61-7a aa"`` into ``[(0x41, 0x5A), (0x61, 0x7A), (0xAA, 0xAA)]``."""
    out: Ranges = []
    for item in spec.split():
        lo, _, hi = item.partition("-")
        out.append((int(lo, 16), int(hi or lo, 16)))
    return out


def _union(*sets: Ranges) -> Ranges:
    merged: Ranges = []
    for lo, hi in sorted(r for s in sets for r in s):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _complement(ranges: Ranges) -> Ranges:
    out: Ranges = []
    nxt = 0
    for lo, hi in _union(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= _MAX:
        out.append((nxt, _MAX))
    return out


def _body(ranges: Ranges) -> str:
    def esc(c: int) -> str:
        return f"\\U{c:08x}"

    return "".join(esc(lo) if lo == hi else f"{esc(lo)}-{esc(hi)}" for lo, hi in ranges)


def _class(ranges: Ranges) -> str:
    """A ``re`` expression matching one character in ``ranges`` (bitmap-friendly, see module docstring)."""
    ranges = _union(ranges)
    bmp = [(lo, min(hi, _ASTRAL - 1)) for lo, hi in ranges if lo < _ASTRAL]
    astral = [(max(lo, _ASTRAL), hi) for lo, hi in ranges if hi >= _ASTRAL]
    if astral == [(_ASTRAL, _MAX)]:
        return f"[^{_body(_complement(bmp + astral))}]" if bmp != [(0, _ASTRAL - 1)] else r"[\s\S]"
    if not astral:
        return f"[{_body(bmp)}]"
    guarded = f"(?=[\\U{_ASTRAL:08x}-\\U{_MAX:08x}])[{_body(astral)}]"
    return f"(?:[{_body(bmp)}]|{guarded})" if bmp else f"(?:{guarded})"


@functools.cache
def _classes() -> dict[str, str]:
    letters = parse_ranges(_unicode_data.LETTERS)
    numbers = parse_ranges(_unicode_data.NUMBERS)
    space = parse_ranges(_unicode_data.WHITE_SPACE)
    crlf = [(0x0A, 0x0A), (0x0D, 0x0D)]
    return {
        "L": _class(letters),
        "N": _class(numbers),
        "S": _class(space),
        "notS": _class(_complement(space)),
        "notCRLF_L_N": _class(_complement(_union(crlf, letters, numbers))),
        "notS_L_N": _class(_complement(_union(space, letters, numbers))),
    }


def _translations() -> dict[str, str]:
    c = _classes()
    gpt2 = (
        rf"'(?:[sdmt]|ll|ve|re)| ?{c['L']}++| ?{c['N']}++| ?{c['notS_L_N']}++|{c['S']}++$"
        rf"|{c['S']}+(?!{c['notS']})|{c['S']}"
    )
    gpt4 = (
        rf"'(?:[sSdDmMtT\u017f]|[lL][lL]|[vV][eE]|[rR][eE])|{c['notCRLF_L_N']}?+{c['L']}++|{c['N']}{{1,3}}+"
        rf"| ?{c['notS_L_N']}++[\r\n]*+|{c['S']}++$|{c['S']}*[\r\n]|{c['S']}+(?!{c['notS']})|{c['S']}"
    )
    return {GPT2_PATTERN: gpt2, GPT4_PATTERN: gpt4}


@functools.cache
def fast_pattern(expression: str) -> re.Pattern[str] | None:
    """The ``re`` translation of a built-in split expression, or ``None`` for any other expression."""
    translated = _translations().get(expression)
    return re.compile(translated) if translated is not None else None


def generate_tables() -> str:
    """Source of :mod:`llmkb.tokenize._unicode_data` from the installed ``regex`` (run ``ruff format`` after)."""
    import textwrap

    import regex

    def ranges(prop: str) -> Ranges:
        out: Ranges = []
        for lo, hi in ((0, 0xD7FF), (0xE000, _MAX)):  # no surrogates
            text = "".join(map(chr, range(lo, hi + 1)))
            out.extend((lo + m.start(), lo + m.end() - 1) for m in regex.finditer(prop + "+", text))
        return out

    def literal(r: Ranges) -> str:
        items = " ".join(f"{a:x}" if a == b else f"{a:x}-{b:x}" for a, b in r)
        return "(\n" + "".join(f'    "{line} "\n' for line in textwrap.wrap(items, 100)) + ")"

    doc = (
        '"""Unicode tables for the fast split patterns: ``\\\\p{L}``, ``\\\\p{N}`` and ``\\\\s`` as code point '
        f"ranges.\n\nGenerated from the ``regex`` module (version {regex.__version__}) by "
        ":func:`llmkb.tokenize._fastsplit.generate_tables`;\n``tests/test_tokenize.py`` checks them against "
        "the installed ``regex`` on every code point that Python's\n``unicodedata`` knows. Ranges are "
        'hexadecimal, ``a-b`` or a single ``a``, separated by spaces.\n"""\n'
    )
    letters, numbers, space = (literal(ranges(p)) for p in (r"\p{L}", r"\p{N}", r"\s"))
    return (
        f"{doc}\n#: General category L (letters).\nLETTERS = {letters}\n\n"
        f"#: General category N (numbers).\nNUMBERS = {numbers}\n\n"
        f"#: The White_Space property (what ``\\\\s`` matches).\nWHITE_SPACE = {space}\n"
    )
