"""Loading a tokenizer by name or folder: :func:`get_tokenizer` (byte, or a saved byte or BPE tokenizer).

:class:`~llmkb.tokenize.byte.ByteTokenizer` and the :class:`~llmkb.tokenize.byte.Tokenizer` protocol live in
:mod:`llmkb.tokenize`; they are re-exported here for the data pipeline.
"""

from __future__ import annotations

from pathlib import Path

from llmkb.errors import UsageError
from llmkb.tokenize.byte import ByteTokenizer, Tokenizer, is_saved_byte_tokenizer

__all__ = ["ByteTokenizer", "Tokenizer", "get_tokenizer"]


def get_tokenizer(spec: str | Path = "byte") -> Tokenizer:
    """Return the tokenizer named by ``spec``.

    Args:
        spec: ``"byte"`` for :class:`ByteTokenizer`, or a directory written by ``save`` of a byte or
            BPE tokenizer (:class:`llmkb.tokenize.BPETokenizer`, imported only when needed).

    Raises:
        UsageError: ``spec`` is neither ``"byte"`` nor a directory holding a saved tokenizer.
    """
    if isinstance(spec, str) and spec == "byte":
        return ByteTokenizer()
    path = Path(spec)
    if not path.is_dir():
        raise UsageError(f"tokenizer {str(spec)!r} not found: use 'byte' or the folder of a saved tokenizer")
    if is_saved_byte_tokenizer(path):
        return ByteTokenizer()
    from llmkb.tokenize.bpe import BPETokenizer

    try:
        return BPETokenizer.load(path)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to read is bad user input here
        raise UsageError(f"cannot load a tokenizer from {str(path)!r}: {exc}") from None
