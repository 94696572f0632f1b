"""Streaming pre-tokenization: text that arrives in chunks, cut into the pieces the whole text would give.

:meth:`llmkb.tokenize.BPETokenizer.encode_iterable` encodes a file line by line with the ids that ``encode`` gives
for the whole text, holding only a short tail in memory. Three things can span a chunk boundary, and each
stage below carries its unfinished tail into the next chunk:

* a **special token** (``<|endoftext|>`` split as ``<|endof`` + ``text|>``): :func:`check_disallowed` and
  :func:`cut_specials` keep the last ``max_len - 1`` characters, where ``max_len`` is the longest special token;
* a **pre-tokenizer piece** (a run of spaces, a word, a digit group): :class:`PieceStream` holds back the last
  piece of what it has seen, because more text can extend it (``"  "`` + ``"x"`` gives ``" "``, ``" x"``), and
  every piece that starts in the last three characters, because more text can complete a contraction that
  starts there (GPT-2 cuts ``"a'l"`` into ``"a"``, ``"'"``, ``"l"`` but ``"a'll"`` into ``"a"``, ``"'ll"``);
* a **surrogate pair** written as two code units: a trailing high surrogate waits for its partner, since
  ``encode`` turns a pair into its character and a lone surrogate into U+FFFD, as tiktoken does.

Why that is enough: an alternative of the split pattern either reads a bounded number of characters (the
contractions read at most three) or reads a run to its end plus one character (``\\p{L}++``, ``\\s+(?!\\S)``),
and a run that reaches the end of the text seen so far makes the last piece. So appending text cannot change
a piece that starts three characters or more before the end, unless it is the last one. This holds for the
GPT-2 and GPT-4 patterns, which the tests check on random chunkings; a custom pattern with longer lookaheads
could break it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Iterator

import regex

__all__ = [
    "LOOKAHEAD",
    "PieceStream",
    "check_disallowed",
    "cut_specials",
    "disallowed_error",
    "fix_surrogates",
    "special_cutter",
]


LOOKAHEAD = 3
"""How many characters past its start a bounded alternative of the built-in patterns reads (``'ll``)."""


def disallowed_error(token: str) -> ValueError:
    """The error for text that contains a special token the caller did not allow."""
    return ValueError(
        f"text contains the special token {token!r}; pass allowed_special to encode it as one "
        "token, or disallowed_special=() to encode it as text"
    )


def fix_surrogates(text: str) -> str:
    """``text`` with surrogate pairs joined into characters and lone surrogates replaced by U+FFFD.

    Valid text is returned unchanged; this is what tiktoken does before encoding.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def check_disallowed(chunks: Iterable[str], disallowed: Collection[str]) -> Iterator[str]:
    """Pass ``chunks`` through, raising as soon as the text so far contains one of ``disallowed``.

    Raises:
        ValueError: A disallowed special token occurs (possibly across chunks).
    """
    if not disallowed:
        yield from chunks
        return
    keep = max(map(len, disallowed)) - 1
    tail = ""
    for chunk in chunks:
        window = tail + chunk  # every occurrence that ends in `chunk` starts at most `keep` chars earlier
        for token in disallowed:
            if token in window:
                raise disallowed_error(token)
        tail = window[-keep:] if keep else ""
        yield chunk


@functools.lru_cache(maxsize=64)
def special_cutter(specials: frozenset[str]) -> regex.Pattern[str]:
    """A pattern whose ``split`` keeps the special tokens (longest first) as separate items."""
    ordered = sorted(specials, key=lambda s: (-len(s), s))
    return regex.compile("(" + "|".join(regex.escape(s) for s in ordered) + ")")


def cut_specials(chunks: Iterable[str], specials: Collection[str]) -> Iterator[tuple[str, bool]]:
    """Cut a stream of text at the special tokens ``specials``, as ``special_cutter(specials).split`` would.

    Args:
        chunks: The text, in chunks of any size.
        specials: The special tokens to cut out (the allowed ones).

    Yields:
        ``(text, is_special)``: a special token, or a part of the ordinary text between two special tokens
        (one stretch of ordinary text may come in several parts). Parts are never empty.
    """
    if not specials:
        yield from ((chunk, False) for chunk in chunks if chunk)
        return
    cutter = special_cutter(frozenset(specials))
    keep = max(map(len, specials)) - 1
    buf = ""
    for chunk in chunks:
        buf += chunk
        safe = len(buf) - keep  # a special token that starts before `safe` lies wholly in `buf`
        pos = 0
        for m in cutter.finditer(buf):
            if m.start() >= safe:
                break
            if m.start() > pos:
                yield buf[pos : m.start()], False
            yield m.group(), True
            pos = m.end()
        if safe > pos:
            yield buf[pos:safe], False
            pos = safe
        buf = buf[pos:]
    for i, part in enumerate(cutter.split(buf)):
        if part:
            yield part, bool(i % 2)


class PieceStream:
    """Feed ordinary text in parts; get back the pre-tokenizer pieces that can no longer change.

    Args:
        split: The compiled split pattern (every character must belong to some match, as for the patterns
            :func:`llmkb.tokenize.patterns.resolve_pattern` returns).
    """

    def __init__(self, split: re.Pattern[str] | regex.Pattern[str]) -> None:
        self._split = split
        self._tail = ""  # the last piece seen (fixed text) + a trailing high surrogate, if any

    def _pieces(self, text: str) -> list[str]:
        split = self._split
        return split.findall(text) if not split.groups else [m.group() for m in split.finditer(text)]

    def feed(self, text: str) -> list[str]:
        """Append ``text``; return the pieces before the last one (which more text could still change)."""
        buf = self._tail + text
        hold = ""
        if buf and "\ud800" <= buf[-1] <= "\udbff":  # a high surrogate waits for its low half
            buf, hold = buf[:-1], buf[-1]
        text = fix_surrogates(buf)
        pieces = self._pieces(text)
        # hold back the last piece and every piece that starts in the last LOOKAHEAD characters
        keep, start = len(pieces), len(text)
        while keep:
            first = start - len(pieces[keep - 1])
            if keep < len(pieces) and first < len(text) - LOOKAHEAD:
                break
            keep, start = keep - 1, first
        self._tail = text[start:] + hold
        return pieces[:keep]

    def flush(self) -> list[str]:
        """End the stretch of text: return the remaining pieces and start afresh."""
        pieces = self._pieces(fix_surrogates(self._tail)) if self._tail else []
        self._tail = ""
        return pieces
