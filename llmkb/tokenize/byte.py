"""The byte-level tokenizer: text as its UTF-8 bytes, ids 0–255 (the default tokenizer of every model here).

Its vocabulary is exactly the 256 byte values, so any string round-trips. It has the same interface as
:class:`llmkb.tokenize.BPETokenizer` (``encode``, ``decode``, ``vocab_size``, ``save``, ``load``) — the
:class:`Tokenizer` protocol — so training code never needs to know which one it holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from llmkb.errors import UsageError

__all__ = ["ByteTokenizer", "Tokenizer", "is_saved_byte_tokenizer"]

BYTE_FILE = "byte_tokenizer.json"


@runtime_checkable
class Tokenizer(Protocol):
    """What training and generation need from a tokenizer."""

    @property
    def vocab_size(self) -> int:
        """Number of distinct token ids; every id is in ``range(vocab_size)``."""
        ...

    def encode(self, text: str) -> list[int]:
        """Turn text into token ids."""
        ...

    def decode(self, ids: Sequence[int]) -> str:
        """Turn token ids back into text."""
        ...

    def save(self, directory: str | Path) -> None:
        """Write the tokenizer into ``directory`` (created if needed)."""
        ...


class ByteTokenizer:
    """Text as its UTF-8 bytes: ids 0–255, no merges, no unknown token.

    Decoding replaces byte sequences that are not valid UTF-8 (a sampled model can produce them) with
    U+FFFD instead of failing.

    Examples:
        >>> tok = ByteTokenizer()
        >>> tok.encode("hé")
        [104, 195, 169]
        >>> tok.decode([104, 195, 169])
        'hé'
    """

    @property
    def vocab_size(self) -> int:
        """Always 256."""
        return 256

    def encode(self, text: str) -> list[int]:
        """Return the UTF-8 bytes of ``text`` as a list of ints."""
        return list(text.encode("utf-8"))

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        """Return the bytes ``ids`` stand for.

        Raises:
            ValueError: An id is outside 0–255.
        """
        values = [int(i) for i in ids]
        bad = [i for i in values if not 0 <= i < 256]
        if bad:
            raise ValueError(f"byte tokenizer ids must be in 0..255, got {bad[0]}")
        return bytes(values)

    def decode(self, ids: Sequence[int]) -> str:
        """Return the text whose UTF-8 bytes are ``ids`` (invalid sequences become U+FFFD).

        Raises:
            ValueError: An id is outside 0–255.
        """
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def save(self, directory: str | Path) -> None:
        """Write ``byte_tokenizer.json`` (``{"type": "byte"}``) into ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        (out / BYTE_FILE).write_text(json.dumps({"type": "byte", "vocab_size": 256}) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> ByteTokenizer:
        """Read a tokenizer written by :meth:`save`.

        Raises:
            UsageError: ``directory`` does not hold a saved byte tokenizer.
        """
        if not is_saved_byte_tokenizer(Path(directory)):
            raise UsageError(f"{str(directory)!r} does not hold a saved byte tokenizer")
        return cls()

    def __repr__(self) -> str:
        return "ByteTokenizer()"


def is_saved_byte_tokenizer(directory: Path) -> bool:
    """Whether ``directory`` holds a tokenizer written by :meth:`ByteTokenizer.save`."""
    try:
        meta = json.loads((directory / BYTE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("type") == "byte"
