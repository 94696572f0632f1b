"""Interchange formats: Hugging Face ``tokenizer.json``, tiktoken rank files, a JSON vocabulary for JavaScript.

* ``tokenizer.json``: a ``tokenizers`` BPE model over the byte-level alphabet
  (:mod:`llmkb.tokenize.bytelevel`). Pre-tokenizer: ``Split`` on our pattern (behaviour ``Isolated``;
  in Oniguruma syntax, see :func:`llmkb.tokenize.patterns.hf_pattern`),
  then ``ByteLevel`` with ``use_regex: false``; decoder ``ByteLevel``; special tokens as ``added_tokens``.
  Hugging Face BPE merges *pairs*, while our rule (tiktoken's) merges any two adjacent tokens whose
  concatenation is a token, by rank. The merge list therefore holds, for every token in rank order, every
  split of it into two tokens (ordered by the ranks of the left, then the right part), and
  ``ignore_merges: true`` makes a piece that is itself a token come out whole, as in tiktoken.
* ``*.tiktoken``: one line per mergeable token, ``base64(bytes) rank``, the format of
  ``tiktoken.load.load_tiktoken_bpe``.
* :func:`export_vocab_json`: what a browser encoder needs (JavaScript split pattern, ranks, specials).
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkb.tokenize.bytelevel import bytes_to_symbols
from llmkb.tokenize.patterns import hf_pattern, js_pattern

if TYPE_CHECKING:
    import tiktoken
    import tokenizers

    from llmkb.tokenize.bpe import BPETokenizer

__all__ = [
    "HF_FILE",
    "META_FILE",
    "META_FORMAT",
    "RANKS_FILE",
    "export_vocab_json",
    "hf_merge_list",
    "hf_tokenizer_json",
    "parse_tiktoken_ranks",
    "tiktoken_ranks_text",
    "to_hf_tokenizer",
    "to_tiktoken",
    "write_dir_atomically",
]

HF_FILE = "tokenizer.json"
RANKS_FILE = "tokenizer.tiktoken"
META_FILE = "tokenizer_meta.json"
META_FORMAT = "llmkb-bpe"


def hf_merge_list(token_bytes: Sequence[bytes]) -> list[tuple[int, int]]:
    """The merge list for Hugging Face: every split of every token into two tokens.

    Args:
        token_bytes: Mergeable tokens by id (= rank).

    Returns:
        ``(left_id, right_id)`` pairs, ordered by the rank of the token they make, then by the ranks of
        the left and the right part.
    """
    ids = {b: i for i, b in enumerate(token_bytes)}
    merges: list[tuple[int, int]] = []
    for data in token_bytes[256:]:
        splits = []
        for k in range(1, len(data)):
            left, right = ids.get(data[:k]), ids.get(data[k:])
            if left is not None and right is not None:
                splits.append((left, right))
        merges.extend(sorted(splits))
    return merges


def hf_tokenizer_json(
    token_bytes: Sequence[bytes], pattern: str, special_tokens: Mapping[str, int]
) -> dict[str, Any]:
    """Build the Hugging Face ``tokenizer.json`` document (see the module docstring).

    Args:
        token_bytes: Mergeable tokens by id (= rank).
        pattern: The split expression (``regex`` syntax; translated by
            :func:`llmkb.tokenize.patterns.hf_pattern`).
        special_tokens: ``{text: id}``.

    Returns:
        The JSON document as a dict.
    """
    symbols = [bytes_to_symbols(b) for b in token_bytes]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": i,
                "content": s,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for s, i in special_tokens.items()
        ],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {"Regex": hf_pattern(pattern)},
                    "behavior": "Isolated",
                    "invert": False,
                },
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
            ],
        },
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": True,
            "vocab": {s: i for i, s in enumerate(symbols)},
            "merges": [f"{symbols[a]} {symbols[b]}" for a, b in hf_merge_list(token_bytes)],
        },
    }


def tiktoken_ranks_text(token_bytes: Sequence[bytes]) -> str:
    """The ``.tiktoken`` file: ``base64(bytes) rank`` per line, in rank order."""
    return "".join(f"{base64.b64encode(b).decode('ascii')} {rank}\n" for rank, b in enumerate(token_bytes))


def parse_tiktoken_ranks(text: str) -> list[bytes]:
    """Read a ``.tiktoken`` file whose ranks are ``0, 1, 2, ...``; return the bytes by rank.

    Raises:
        ValueError: A line is malformed or the ranks are not consecutive from 0.
    """
    out: list[bytes] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) != len(out):
            raise ValueError(f"line {lineno}: expected 'base64 {len(out)}'")
        out.append(base64.b64decode(parts[0], validate=True))
    return out


def write_dir_atomically(dest: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (name -> text, UTF-8) into directory ``dest`` all at once.

    The files go into a temporary sibling directory that is renamed to ``dest`` when complete; an existing
    ``dest`` directory is moved aside first and deleted afterwards. On any error nothing is left behind.

    Raises:
        FileExistsError: ``dest`` exists and is not a directory.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise FileExistsError(f"{dest} exists and is not a directory")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    old: Path | None = None
    try:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
            os.replace(dest, old / "dir")
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not dest.exists() and (old / "dir").exists():
            os.replace(old / "dir", dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return dest


def export_vocab_json(tok: BPETokenizer) -> dict[str, Any]:
    """Everything a JavaScript encoder needs, as a JSON-ready dict.

    Args:
        tok: The tokenizer to export.

    Returns:
        A dict with ``format`` (``"llmkb-bpe-js"``) and ``version`` (1); ``pattern``, the split pattern as
        a JavaScript ``RegExp`` source, and ``flags`` (``"gu"``) to compile it with (see
        :func:`llmkb.tokenize.patterns.js_pattern` for how it was adapted); ``pattern_name`` (``"gpt2"``,
        ``"gpt4"`` or ``None``); ``ranks``, the base64 of each mergeable token's bytes, indexed by rank
        (= id); ``special_tokens`` (``{text: id}``); ``vocab_size``; and ``algorithm``, the merge rule the
        encoder must apply, in one sentence.

    Raises:
        ValueError: A custom pattern has no JavaScript translation.
    """
    n = len(tok.mergeable_ranks)
    return {
        "format": "llmkb-bpe-js",
        "version": 1,
        "pattern": js_pattern(tok.pattern),
        "flags": "gu",
        "pattern_name": tok.pattern_name,
        "ranks": [base64.b64encode(tok.token_bytes(i)).decode("ascii") for i in range(n)],
        "special_tokens": tok.special_tokens,
        "vocab_size": tok.vocab_size,
        "algorithm": (
            "split text with pattern; for each piece: if its UTF-8 bytes are a token, emit it; else start "
            "from its bytes and repeatedly merge the adjacent pair whose concatenation has the lowest rank "
            "(leftmost on ties) until no concatenation is a token"
        ),
    }


def to_tiktoken(tok: BPETokenizer, name: str = "llmkb-bpe") -> tiktoken.Encoding:
    """A ``tiktoken.Encoding`` with ``tok``'s pattern, ranks and special tokens (needs ``tiktoken``)."""
    import tiktoken

    return tiktoken.Encoding(
        name,
        pat_str=tok.pattern,
        mergeable_ranks=tok.mergeable_ranks,
        special_tokens=tok.special_tokens,
        explicit_n_vocab=tok.vocab_size,
    )


def to_hf_tokenizer(tok: BPETokenizer) -> tokenizers.Tokenizer:
    """A Hugging Face ``tokenizers.Tokenizer`` built from the ``tokenizer.json`` of ``tok``."""
    import json

    from tokenizers import Tokenizer

    doc = hf_tokenizer_json(
        [tok.token_bytes(i) for i in range(len(tok.mergeable_ranks))], tok.pattern, tok.special_tokens
    )
    return Tokenizer.from_str(json.dumps(doc))
