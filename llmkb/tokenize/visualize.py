"""Show how a tokenizer cuts text: coloured chunks in HTML (ids on hover) or in a terminal (ANSI colours).

A token need not hold whole characters: a byte-level BPE can split a multi-byte UTF-8 character between
two tokens. Such a token's bytes are shown as the characters they complete plus ``\\xNN`` escapes for the
stray bytes, never as a half character. Everything is escaped: HTML special characters in the HTML, and
control characters (which could drive the terminal) in the ANSI output.
"""

from __future__ import annotations

import html
from typing import Literal, Protocol

__all__ = ["render_ansi", "render_html", "token_label"]

# Pastel backgrounds, cycled by token position so that neighbours always differ.
_HTML_COLOURS = ("#fde68a", "#bfdbfe", "#bbf7d0", "#fecaca", "#ddd6fe", "#fbcfe8", "#c7d2fe", "#a5f3fc")
# 256-colour ANSI backgrounds with black text.
_ANSI_COLOURS = (229, 153, 157, 217, 189, 225, 195, 223)


class _TokenizerLike(Protocol):
    def encode(self, text: str, *, allowed_special: Literal["all"] = ...) -> list[int]: ...

    def token_bytes(self, token_id: int) -> bytes: ...


def token_label(data: bytes) -> str:
    """Text of a token's bytes: valid UTF-8 as characters, stray bytes of a split character as ``\\xNN``."""
    return data.decode("utf-8", errors="backslashreplace")


def _tokens(tok: _TokenizerLike, text: str) -> list[tuple[int, bytes]]:
    ids = tok.encode(text, allowed_special="all")
    return [(i, tok.token_bytes(i)) for i in ids]


def render_html(tok: _TokenizerLike, text: str) -> str:
    """Render ``text`` as one ``<span>`` per token, with background colours and the id in ``title``.

    Args:
        tok: A tokenizer with ``encode(text, allowed_special=...)`` and ``token_bytes(id)``.
        text: The text to show. Special tokens in it are shown as single tokens.

    Returns:
        An HTML fragment: ``<span class="llmkb-tokens">`` (``white-space: pre-wrap``) holding
        ``<span class="llmkb-tok" data-id="ID" title="...">`` per token. Tokens holding part of a character
        also get the class ``llmkb-tok-partial``. All text and attributes are escaped.
    """
    parts = ['<span class="llmkb-tokens" style="white-space:pre-wrap;font-family:monospace">']
    for n, (token_id, data) in enumerate(_tokens(tok, text)):
        label = token_label(data)
        classes = "llmkb-tok llmkb-tok-partial" if _is_partial(data) else "llmkb-tok"
        title = f"id {token_id}: {data!r}"
        colour = _HTML_COLOURS[n % len(_HTML_COLOURS)]
        parts.append(
            f'<span class="{classes}" data-id="{token_id}" title="{html.escape(title, quote=True)}" '
            f'style="background:{colour}">{html.escape(label, quote=True)}</span>'
        )
    parts.append("</span>")
    return "".join(parts)


def _is_partial(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def render_ansi(tok: _TokenizerLike, text: str, *, color: bool = True) -> str:
    """Render ``text`` for a terminal: each token on its own background colour.

    Control characters other than newline and tab, and bidirectional overrides, are shown escaped
    (``\\u001b``), so hostile text cannot move the cursor, change colours or reorder the line.
    Without ``color``, tokens are separated by ``|`` instead.

    Args:
        tok: A tokenizer with ``encode(text, allowed_special=...)`` and ``token_bytes(id)``.
        text: The text to show.
        color: Use ANSI colours (``True``) or plain ``|`` separators (``False``).

    Returns:
        The rendered string (no trailing newline).
    """
    chunks = [_escape_controls(token_label(data)) for _, data in _tokens(tok, text)]
    if not color:
        return "|".join(chunks)
    out: list[str] = []
    for n, chunk in enumerate(chunks):
        bg = _ANSI_COLOURS[n % len(_ANSI_COLOURS)]
        # Colour each line separately so that a newline never carries the background to the line's end.
        lines = chunk.split("\n")
        out.append("\n".join(f"\x1b[48;5;{bg}m\x1b[30m{line}\x1b[0m" if line else "" for line in lines))
    return "".join(out)


def _escape_controls(label: str) -> str:
    """Escape C0/C1 controls (except newline and tab) and the bidirectional-override characters."""
    return "".join(f"\\u{ord(ch):04x}" if _is_unsafe(ch) else ch for ch in label)


def _is_unsafe(ch: str) -> bool:
    code = ord(ch)
    if ch in "\n\t":
        return False
    return code < 0x20 or 0x7F <= code < 0xA0 or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069
