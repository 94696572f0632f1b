"""The byte-level BPE tokenizer: training, encoding with a per-piece cache, decoding, saving and loading.

Token ids: ``0..255`` are the single bytes (id = byte value); ``256..`` are the learned tokens in the order
they were learned, so a token's id is also its *rank*; special tokens come last. Encoding follows
tiktoken's rule (see :mod:`llmkb.tokenize._merge`), so the ids equal those of a ``tiktoken.Encoding``
built from :attr:`BPETokenizer.mergeable_ranks` and of a Hugging Face tokenizer loaded from the
``tokenizer.json`` that :meth:`BPETokenizer.save` writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from itertools import chain
from pathlib import Path
from typing import Literal

from llmkb.errors import UsageError
from llmkb.tokenize import formats
from llmkb.tokenize._merge import PairTable, build_pair_table, merge_ids
from llmkb.tokenize.patterns import compile_pattern, resolve_pattern
from llmkb.tokenize.stream import (
    PieceStream,
    check_disallowed,
    cut_specials,
    disallowed_error,
    special_cutter,
)
from llmkb.tokenize.trainer import TrainedVocab, count_words, train_vocab

__all__ = ["BPETokenizer"]

# The per-piece cache is emptied when it reaches this many entries.
_CACHE_LIMIT = 1 << 20

ProgressArg = bool | Callable[[int, int], None]


class _PieceCache(dict[str, tuple[int, ...]]):
    """``piece -> ids``, filled on first use (``__missing__``) so that hits never leave C code."""

    def __init__(self, encode_piece: Callable[[str], tuple[int, ...]]) -> None:
        super().__init__()
        self._encode_piece = encode_piece

    def __missing__(self, piece: str) -> tuple[int, ...]:
        ids = self._encode_piece(piece)
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        self[piece] = ids
        return ids


class BPETokenizer:
    """A byte-level BPE tokenizer with a regex pre-tokenizer and atomic special tokens.

    Build one with :meth:`train` (a classmethod that returns a new tokenizer) or :meth:`load`.

    Examples:
        >>> tok = BPETokenizer.train("low lower lowest " * 50, vocab_size=263, pattern="gpt2")
        >>> [tok.token_bytes(i) for i in range(256, tok.vocab_size)]
        [b'lo', b'low', b' low', b' lowe', b' lower', b' lowes', b' lowest']
        >>> [tok.token_bytes(i) for i in tok.encode(" lowest lows")]
        [b' lowest', b' low', b's']
        >>> tok.decode(tok.encode("lowest lows")) == "lowest lows"
        True

    Args:
        merges: Learned merges in rank order; merge ``i`` makes token ``256 + i`` from
            ``(left_id, right_id)``. The resulting byte strings must be distinct.
        pattern: ``"gpt4"``, ``"gpt2"`` or a custom split expression (see
            :func:`llmkb.tokenize.patterns.resolve_pattern`).
        special_tokens: Strings that get ids after the learned tokens, in this order.

    Raises:
        ValueError: A merge refers to an unknown id, two merges make the same bytes, a special token is
            empty or repeated, or the pattern is invalid.
    """

    def __init__(
        self,
        merges: Sequence[tuple[int, int]],
        pattern: str = "gpt4",
        special_tokens: Sequence[str] = (),
    ) -> None:
        token_bytes = [bytes([i]) for i in range(256)]
        seen = set(token_bytes)
        for i, (left, right) in enumerate(merges):
            if not (0 <= left < len(token_bytes) and 0 <= right < len(token_bytes)):
                raise ValueError(f"merge {i} refers to an id not yet defined: {(left, right)}")
            data = token_bytes[left] + token_bytes[right]
            if data in seen:
                raise ValueError(f"merge {i} makes {data!r}, which is already a token")
            seen.add(data)
            token_bytes.append(data)
        self._setup(merges, token_bytes, build_pair_table(token_bytes), pattern, special_tokens)

    def _setup(
        self,
        merges: Sequence[tuple[int, int]],
        token_bytes: list[bytes],
        table: PairTable,
        pattern: str,
        special_tokens: Sequence[str],
    ) -> None:
        if len(set(special_tokens)) != len(special_tokens) or not all(special_tokens):
            raise ValueError("special tokens must be distinct non-empty strings")
        self._merges: list[tuple[int, int]] = [(int(a), int(b)) for a, b in merges]
        self._token_bytes: list[bytes] = token_bytes
        self._ids: dict[bytes, int] = {b: i for i, b in enumerate(token_bytes)}
        self._table = table
        self._pattern, self._pattern_name = resolve_pattern(pattern)
        self._split = compile_pattern(self._pattern)
        n = len(token_bytes)
        self._special: dict[str, int] = {s: n + i for i, s in enumerate(special_tokens)}
        self._id_bytes: list[bytes] = token_bytes + [s.encode("utf-8") for s in special_tokens]
        self._cache = _PieceCache(self._encode_piece)

    # ------------------------------------------------------------------ training
    @classmethod
    def train(
        cls,
        text: str | Iterable[str],
        vocab_size: int,
        pattern: str = "gpt4",
        special_tokens: Sequence[str] = (),
        progress: ProgressArg = False,
    ) -> BPETokenizer:
        """Learn a tokenizer from a corpus (see :mod:`llmkb.tokenize.trainer` for the algorithm).

        Args:
            text: The corpus: one string or an iterable of strings (documents are never merged across).
            vocab_size: Total size including the 256 bytes and the special tokens. Training stops early
                (a smaller vocabulary) if the corpus runs out of pairs.
            pattern: ``"gpt4"`` (default), ``"gpt2"`` or a custom split expression.
            special_tokens: Strings cut out of the corpus before counting and encoded atomically.
            progress: ``True`` for a tqdm bar on stderr, or a callable ``(merges_done, merges_total)``.

        Returns:
            The trained tokenizer.

        Raises:
            ValueError: ``vocab_size`` is below ``256 + len(special_tokens)``, the special tokens are not
                distinct non-empty strings, or the pattern is invalid.
        """
        floor = 256 + len(special_tokens)
        if vocab_size < floor:
            raise ValueError(f"vocab_size must be at least 256 + {len(special_tokens)} specials = {floor}")
        if len(set(special_tokens)) != len(special_tokens) or not all(special_tokens):
            raise ValueError("special tokens must be distinct non-empty strings")
        expression, _ = resolve_pattern(pattern)
        texts = [text] if isinstance(text, str) else text
        words = count_words(texts, compile_pattern(expression), special_tokens)
        vocab = _train_with_progress(words, vocab_size - floor, progress)
        tok = cls.__new__(cls)
        tok._setup(vocab.merges, vocab.token_bytes, vocab.table, expression, list(special_tokens))
        return tok

    # ------------------------------------------------------------------ vocabulary
    @property
    def vocab_size(self) -> int:
        """Number of ids: 256 bytes + learned tokens + special tokens."""
        return len(self._id_bytes)

    @property
    def merges(self) -> list[tuple[int, int]]:
        """The learned merges in rank order: token ``256 + i`` was made from ``merges[i]``."""
        return list(self._merges)

    @property
    def pattern(self) -> str:
        """The split regular expression in use (``regex`` / tiktoken / Oniguruma syntax)."""
        return self._pattern

    @property
    def pattern_name(self) -> str | None:
        """``"gpt2"`` or ``"gpt4"`` for a built-in pattern, else ``None``."""
        return self._pattern_name

    @property
    def special_tokens(self) -> dict[str, int]:
        """``{special token: id}``."""
        return dict(self._special)

    @property
    def mergeable_ranks(self) -> dict[bytes, int]:
        """``{token bytes: rank}`` for every non-special token, as ``tiktoken.Encoding`` expects."""
        return dict(self._ids)

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes that ``token_id`` stands for (a special token's UTF-8 text).

        Raises:
            ValueError: ``token_id`` is not in ``range(vocab_size)``.
        """
        if not 0 <= token_id < len(self._id_bytes):
            raise ValueError(f"token id {token_id} is outside 0..{len(self._id_bytes) - 1}")
        return self._id_bytes[token_id]

    def is_special(self, token_id: int) -> bool:
        """Whether ``token_id`` is a special token."""
        return len(self._token_bytes) <= token_id < len(self._id_bytes)

    # ------------------------------------------------------------------ encoding
    def encode_ordinary(self, text: str) -> list[int]:
        """Encode ``text`` treating special-token strings as plain text.

        Lone surrogates (not encodable as UTF-8) are replaced by U+FFFD first, as tiktoken does.
        """
        try:
            return self._encode_chunk(text)
        except UnicodeEncodeError:
            fixed = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            return self._encode_chunk(fixed)

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Encode ``text`` into token ids (tiktoken's interface and results).

        Args:
            text: Any string.
            allowed_special: Special tokens encoded atomically when they occur in ``text`` (``"all"``
                for every one).
            disallowed_special: Special tokens whose presence is an error (``"all"``: every special
                token not allowed). Special tokens neither allowed nor disallowed are encoded as text.

        Returns:
            The ids.

        Raises:
            ValueError: ``text`` contains a disallowed special token.
        """
        allowed, disallowed = self._special_sets(allowed_special, disallowed_special)
        for token in disallowed:
            if token in text:
                raise disallowed_error(token)
        if not allowed:
            return self.encode_ordinary(text)
        cutter = special_cutter(frozenset(allowed))
        ids: list[int] = []
        for i, chunk in enumerate(cutter.split(text)):
            if i % 2:
                ids.append(self._special[chunk])
            elif chunk:
                ids.extend(self.encode_ordinary(chunk))
        return ids

    def encode_iterable(
        self,
        chunks: Iterable[str],
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> Iterator[int]:
        """Encode text that arrives in chunks (the lines of a file), yielding ``encode("".join(chunks))``.

        Memory stays bounded by the longest pre-tokenizer piece plus the longest special token, whatever the
        total length: a piece or a special token that spans a chunk boundary is carried over to the next
        chunk (see :mod:`llmkb.tokenize.stream`).

        Example:
            ```python
            import io

            from llmkb.tokenize import BPETokenizer

            tok = BPETokenizer.train("the lowest newer newest lower low widest " * 50, 256 + 10)
            text = "the newest   lowest\nlower\n" * 3
            ids = list(tok.encode_iterable(io.StringIO(text)))  # a file, line by line
            assert ids == tok.encode(text)
            ```

        Args:
            chunks: The text in parts of any size, e.g. an open text file.
            allowed_special: As for :meth:`encode`.
            disallowed_special: As for :meth:`encode`.

        Returns:
            An iterator over the ids.

        Raises:
            ValueError: ``allowed_special`` names an unknown special token (at once), or the text contains a
                disallowed special token (when the iterator reaches it; earlier ids have been yielded).
        """
        allowed, disallowed = self._special_sets(allowed_special, disallowed_special)
        return self._encode_stream(check_disallowed(chunks, disallowed), allowed)

    def _encode_stream(self, chunks: Iterable[str], allowed: set[str]) -> Iterator[int]:
        pieces, ids = PieceStream(self._split), self._cache
        for text, special in cut_specials(chunks, allowed):
            if special:
                for piece in pieces.flush():
                    yield from ids[piece]
                yield self._special[text]
            else:
                for piece in pieces.feed(text):
                    yield from ids[piece]
        for piece in pieces.flush():
            yield from ids[piece]

    def _special_sets(
        self,
        allowed_special: Literal["all"] | AbstractSet[str],
        disallowed_special: Literal["all"] | Collection[str],
    ) -> tuple[set[str], set[str]]:
        """The allowed and the disallowed special tokens, as :meth:`encode` reads its arguments."""
        allowed = set(self._special) if allowed_special == "all" else set(allowed_special)
        unknown = allowed - set(self._special)
        if unknown:
            raise ValueError(f"not special tokens of this tokenizer: {sorted(unknown)}")
        disallowed = set(self._special) - allowed if disallowed_special == "all" else set(disallowed_special)
        return allowed, disallowed

    def _encode_chunk(self, text: str) -> list[int]:
        split = self._split
        pieces = split.findall(text) if not split.groups else [m.group() for m in split.finditer(text)]
        return list(chain.from_iterable(map(self._cache.__getitem__, pieces)))

    def _encode_piece(self, piece: str) -> tuple[int, ...]:
        data = piece.encode("utf-8")
        whole = self._ids.get(data)
        if whole is not None:
            return (whole,)
        return tuple(merge_ids(list(data), self._table))

    # ------------------------------------------------------------------ decoding
    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """Concatenate the bytes of ``ids``.

        Raises:
            ValueError: An id is not in ``range(vocab_size)``.
        """
        table = self._id_bytes
        ids = list(ids)
        if ids and (min(ids) < 0 or max(ids) >= len(table)):
            bad = next(i for i in ids if not 0 <= i < len(table))
            raise ValueError(f"token id {bad} is outside 0..{len(table) - 1}")
        return b"".join(map(table.__getitem__, ids))

    def decode(self, ids: Iterable[int]) -> str:
        """Decode ids to text; an incomplete UTF-8 sequence (e.g. half a character) becomes U+FFFD.

        ``decode(encode(s)) == s`` for every string ``s`` without lone surrogates.
        """
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # ------------------------------------------------------------------ files
    def save(self, directory: str | Path) -> Path:
        """Write the tokenizer into ``directory``, atomically (all files or none).

        Files: ``tokenizer.json`` (Hugging Face ``tokenizers``), ``tokenizer.tiktoken`` (tiktoken ranks:
        base64 bytes, space, rank), ``tokenizer_meta.json`` (pattern, special tokens, merges). An existing
        directory is replaced only after the new one is complete.

        Returns:
            The directory.
        """
        meta = {
            "format": formats.META_FORMAT,
            "version": 1,
            "pattern": self._pattern,
            "pattern_name": self._pattern_name,
            "special_tokens": self._special,
            "merges": [list(m) for m in self._merges],
        }
        files = {
            formats.HF_FILE: json.dumps(
                formats.hf_tokenizer_json(self._token_bytes, self._pattern, self._special), ensure_ascii=False
            ),
            formats.RANKS_FILE: formats.tiktoken_ranks_text(self._token_bytes),
            formats.META_FILE: json.dumps(meta, ensure_ascii=False, indent=1),
        }
        return formats.write_dir_atomically(Path(directory), files)

    @classmethod
    def load(cls, directory: str | Path) -> BPETokenizer:
        """Read a tokenizer written by :meth:`save`.

        Raises:
            UsageError: ``directory`` does not hold a saved BPE tokenizer, or its files disagree.
        """
        path = Path(directory)
        try:
            meta = json.loads((path / formats.META_FILE).read_text(encoding="utf-8"))
            ranks = formats.parse_tiktoken_ranks((path / formats.RANKS_FILE).read_text(encoding="ascii"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{str(path)!r} does not hold a saved BPE tokenizer ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != formats.META_FORMAT:
            raise UsageError(f"{str(path)!r}: {formats.META_FILE} is not an llmkb BPE tokenizer description")
        try:
            specials = sorted(meta["special_tokens"].items(), key=lambda kv: kv[1])
            tok = cls([tuple(m) for m in meta["merges"]], meta["pattern"], [s for s, _ in specials])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UsageError(f"{str(path)!r}: corrupt {formats.META_FILE} ({exc})") from None
        if ranks != tok._token_bytes or tok._special != dict(specials):
            raise UsageError(f"{str(path)!r}: {formats.RANKS_FILE} does not match {formats.META_FILE}")
        return tok

    def __repr__(self) -> str:
        name = self._pattern_name or "custom"
        return f"BPETokenizer(vocab_size={self.vocab_size}, pattern={name!r}, special_tokens={list(self._special)})"


def _train_with_progress(words: dict[str, int], total: int, progress: ProgressArg) -> TrainedVocab:
    if progress is True:
        from tqdm import tqdm

        with tqdm(total=total, desc="BPE merges", unit="merge") as bar:
            return train_vocab(words, total, lambda done: bar.update(1))
    if callable(progress):
        report = progress
        return train_vocab(words, total, lambda done: report(done, total))
    return train_vocab(words, total)
