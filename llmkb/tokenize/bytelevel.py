"""GPT-2's reversible map from bytes to printable characters (the "byte-level" alphabet).

Hugging Face ``tokenizers`` stores byte-level BPE vocabularies as strings, so every byte needs a visible,
non-whitespace character. Bytes that already are such a character in Latin-1 (``!`` to ``~``, ``¡`` to
``¬``, ``®`` to ``ÿ``) stand for themselves; the other 68 bytes (controls, space, DEL, NBSP, soft hyphen)
are given the code points 256, 257, ... in byte order, so that the space byte becomes ``Ġ`` (U+0120).
"""

from __future__ import annotations

__all__ = ["BYTE_TO_CHAR", "CHAR_TO_BYTE", "bytes_to_symbols", "symbols_to_bytes"]


def _build() -> list[str]:
    printable = set(range(ord("!"), ord("~") + 1))
    printable |= set(range(ord("¡"), ord("¬") + 1))
    printable |= set(range(ord("®"), ord("ÿ") + 1))
    table: list[str] = []
    extra = 0
    for byte in range(256):
        if byte in printable:
            table.append(chr(byte))
        else:
            table.append(chr(256 + extra))
            extra += 1
    return table


#: ``BYTE_TO_CHAR[b]`` is the character that stands for byte ``b``.
BYTE_TO_CHAR: list[str] = _build()

#: The inverse of :data:`BYTE_TO_CHAR`.
CHAR_TO_BYTE: dict[str, int] = {ch: b for b, ch in enumerate(BYTE_TO_CHAR)}


def bytes_to_symbols(data: bytes) -> str:
    """Spell ``data`` in the byte-level alphabet (one character per byte)."""
    return "".join(BYTE_TO_CHAR[b] for b in data)


def symbols_to_bytes(symbols: str) -> bytes:
    """Invert :func:`bytes_to_symbols`.

    Raises:
        KeyError: A character is not in the byte-level alphabet.
    """
    return bytes(CHAR_TO_BYTE[ch] for ch in symbols)
