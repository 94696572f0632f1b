"""Pre-tokenization split patterns (GPT-2, GPT-4) and their translation to JavaScript regular expressions.

A byte-level BPE never merges across the pieces that a regular expression cuts the text into, so the
pattern decides what a token *can* be: GPT-2's keeps a leading space with the word that follows it and
separates letters, digits and punctuation; GPT-4's (``cl100k_base``) also caps digit runs at three and
folds the case of English contractions.

The two built-in patterns are written in the possessive form that tiktoken ships (``++``, ``?+``), which
is equivalent to the original (greedy) form and faster. Python's ``regex`` module, Rust's ``fancy-regex``
(tiktoken) and Oniguruma (Hugging Face ``tokenizers``, after :func:`hf_pattern`) understand it, and agree on ``\\s`` (the Unicode
``White_Space`` property) and ``\\p{L}`` / ``\\p{N}``.

JavaScript has neither possessive quantifiers nor (before ES2025) inline ``(?i:...)`` groups, and its
``\\s`` differs (it adds U+FEFF and drops U+0085). :func:`js_pattern` therefore returns a hand-checked
equivalent for each built-in pattern:

* Possessive quantifiers become greedy ones. This is safe here because every possessive quantifier is
  followed either by nothing that can fail (``\\p{L}++`` ends its alternative, ``[\\r\\n]*`` after
  ``[^\\s\\p{L}\\p{N}]++`` always succeeds) or by a class disjoint from the one quantified
  (``[^\\r\\n\\p{L}\\p{N}]?+`` before ``\\p{L}+``), so backtracking into it could never produce a match
  the possessive form would not.
* ``(?i:[sdmt]|ll|ve|re)`` is spelled out with both cases, plus ``ſ`` (U+017F LATIN SMALL LETTER LONG S),
  which simple case folding maps to ``s``.
* ``\\s`` / ``\\S`` become explicit classes of the 25 ``White_Space`` code points.

The translated source is meant for ``new RegExp(source, "gu")``.
"""

from __future__ import annotations

import re

import regex

from llmkb.tokenize._fastsplit import fast_pattern
from llmkb.tokenize._regexes import GPT2_PATTERN, GPT4_PATTERN

__all__ = [
    "GPT2_PATTERN",
    "GPT4_PATTERN",
    "PATTERNS",
    "compile_pattern",
    "hf_pattern",
    "js_pattern",
    "resolve_pattern",
]

#: Built-in patterns by name.
PATTERNS: dict[str, str] = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN}

# The Unicode White_Space code points, as the body of a character class (JavaScript syntax).
_JS_WS = r"\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_JS_S = f"[{_JS_WS}]"
_JS_NOT_S = f"[^{_JS_WS}]"

_JS_PATTERNS: dict[str, str] = {
    GPT2_PATTERN: (
        rf"""'(?:[sdmt]|ll|ve|re)| ?\p{{L}}+| ?\p{{N}}+| ?[^{_JS_WS}\p{{L}}\p{{N}}]+|{_JS_S}+$"""
        rf"""|{_JS_S}+(?!{_JS_NOT_S})|{_JS_S}"""
    ),
    GPT4_PATTERN: (
        r"""'(?:[sSdDmMtT\u017f]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"""
        rf"""| ?[^{_JS_WS}\p{{L}}\p{{N}}]+[\r\n]*|{_JS_S}+$|{_JS_S}*[\r\n]|{_JS_S}+(?!{_JS_NOT_S})|{_JS_S}"""
    ),
}

# A sample on which a pattern that can match the empty string will show it.
_EMPTY_PROBE = "a 1,\n\u00e9"


def resolve_pattern(pattern: str) -> tuple[str, str | None]:
    """Turn a pattern argument into the regular expression actually used, and its built-in name.

    Args:
        pattern: ``"gpt2"``, ``"gpt4"``, or a custom regular expression (``regex`` module syntax).

    Returns:
        ``(expression, name)``: for a built-in name, its expression and the name; for a custom expression,
        ``(?:EXPR)|[\\s\\S]`` and ``None``. The fallback alternative ``[\\s\\S]`` makes every character belong
        to some piece, so no text is lost between matches (tiktoken silently drops such gaps).

    Raises:
        ValueError: The expression does not compile or can match the empty string.
    """
    if pattern in PATTERNS:
        return PATTERNS[pattern], pattern
    for name, expr in PATTERNS.items():
        if pattern == expr:
            return expr, name
    try:
        compiled = regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(f"invalid split pattern {pattern!r}: {exc}") from None
    if compiled.match("") is not None or any(m.end() == m.start() for m in compiled.finditer(_EMPTY_PROBE)):
        raise ValueError(
            f"split pattern {pattern!r} can match the empty string; make every branch consume text"
        )
    return f"(?:{pattern})|[\\s\\S]", None


def compile_pattern(expression: str) -> re.Pattern[str] | regex.Pattern[str]:
    """Compile a split expression (as returned by :func:`resolve_pattern`).

    The built-in expressions get an equivalent, faster standard-library ``re`` pattern
    (:mod:`llmkb.tokenize._fastsplit`); any other expression is compiled with the ``regex`` module.
    """
    fast = fast_pattern(expression)
    return fast if fast is not None else regex.compile(expression)


def hf_pattern(expression: str) -> str:
    """Return ``expression`` in the Oniguruma (Ruby) syntax that Hugging Face ``tokenizers`` compiles.

    The one difference that matters: in Ruby syntax ``X{1,3}+`` is not possessive but ``(X{1,3})+``. In
    GPT-4's pattern ``\\p{N}{1,3}+`` ends its alternative, so the greedy ``\\p{N}{1,3}`` is equivalent.

    Raises:
        ValueError: A custom expression has a possessive interval (write it as an atomic group ``(?>...)``).
    """
    if expression == GPT4_PATTERN:
        return expression.replace(r"\p{N}{1,3}+", r"\p{N}{1,3}")
    if regex.search(r"(?<!\\)(?:\\\\)*\{\d*(?:,\d*)?\}\+", expression):
        raise ValueError("possessive intervals like {1,3}+ mean something else in Oniguruma; use (?>...)")
    return expression


def js_pattern(expression: str) -> str:
    """Return a JavaScript ``RegExp`` source (for flags ``"gu"``) that splits text like ``expression``.

    Args:
        expression: A built-in expression (:data:`GPT2_PATTERN`, :data:`GPT4_PATTERN`) or a custom one
            as returned by :func:`resolve_pattern`.

    Returns:
        The JavaScript source. Built-in patterns use the hand-checked translations described in the module
        docstring; a custom expression has ``\\s`` / ``\\S`` outside character classes and ``\\s`` inside
        them replaced by explicit ``White_Space`` classes.

    Raises:
        ValueError: A custom expression uses a construct with no safe JavaScript equivalent (possessive
            quantifiers, atomic groups, inline flags, ``\\S`` inside a class).
    """
    if expression in _JS_PATTERNS:
        return _JS_PATTERNS[expression]
    if regex.search(r"(?<!\\)(?:\\\\)*(?:[+*?}][+]|\(\?>|\(\?[a-zA-Z]+[:)])", expression):
        raise ValueError(
            "cannot translate this split pattern to JavaScript: it uses possessive quantifiers, "
            "atomic groups or inline flags; spell them out"
        )
    return _translate_whitespace(expression)


def _translate_whitespace(expression: str) -> str:
    """Replace ``\\s`` and ``\\S`` by explicit ``White_Space`` classes, inside and outside ``[...]``."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(expression):
        ch = expression[i]
        if ch == "\\" and i + 1 < len(expression):
            nxt = expression[i + 1]
            if nxt == "s":
                out.append(_JS_WS if in_class else _JS_S)
            elif nxt == "S":
                if in_class:
                    raise ValueError(r"cannot translate \S inside a character class to JavaScript")
                out.append(_JS_NOT_S)
            else:
                out.append(expression[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)
