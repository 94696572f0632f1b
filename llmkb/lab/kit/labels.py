"""One printable label per byte or token, the same glyphs on every page, figure and widget.

Printable ASCII is itself; space, newline and tab become ``␣``, ``⏎``, ``⇥``; any other byte becomes its hex
code (``x0c``, ``xe2``), since alone it is a control code or one part of a UTF-8 sequence. The widgets
(``docs/assets/widgets/*.js``) use the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

__all__ = ["GLYPHS", "byte_label", "byte_labels", "token_labels"]

GLYPHS: dict[int, str] = {0x20: "␣", 0x0A: "⏎", 0x09: "⇥"}
"""The visible stand-ins of the whitespace bytes."""


class _Decoder(Protocol):
    def decode_bytes(self, ids: list[int]) -> bytes: ...


def byte_label(b: int) -> str:
    """A safe label for byte ``b``.

    Example:
        ```python
        from llmkb.lab.kit import byte_label

        assert [byte_label(b) for b in b"a \\n\\xe2"] == ["a", "␣", "⏎", "xe2"]
        ```
    """
    if not 0 <= b <= 255:
        raise ValueError(f"a byte is 0..255, got {b}")
    if b in GLYPHS:
        return GLYPHS[b]
    return chr(b) if 0x21 <= b <= 0x7E else f"x{b:02x}"


def byte_labels(ids: Iterable[int]) -> list[str]:
    """:func:`byte_label` of each byte id."""
    return [byte_label(int(b)) for b in ids]


def token_labels(tokenizer: _Decoder, ids: Iterable[int]) -> list[str]:
    """A label per token: its bytes, each printable byte as itself and the others as :func:`byte_label`."""
    out = []
    for i in ids:
        data = tokenizer.decode_bytes([int(i)])
        out.append("".join(byte_label(b) if b in GLYPHS or not 0x21 <= b <= 0x7E else chr(b) for b in data))
    return out
