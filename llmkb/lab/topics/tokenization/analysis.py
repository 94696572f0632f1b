"""Measurements of tokenizers: held-out splits, truncated vocabularies, compression, token tables, split
pieces and a merge-by-merge training trace. Pure functions, tested in ``tests/test_lab_tokenization.py``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import regex

from llmkb.lab import kit
from llmkb.lab.kit.labels import GLYPHS
from llmkb.tokenize import BPETokenizer
from llmkb.tokenize.naive import encode_piece

__all__ = [
    "bracketed",
    "byte_runs",
    "compression",
    "doubling_gains",
    "first_context",
    "longest_digit_run",
    "merge_trace",
    "piece_rows",
    "run_view",
    "script_rows",
    "show_tokens",
    "split_holdout",
    "token_rows",
    "truncated",
    "visible",
]


def split_holdout(text: str, fraction: float) -> tuple[str, str]:
    """Split a corpus into a training head and a held-out tail, at a blank line.

    Args:
        text: The corpus.
        fraction: Approximate share of characters that go to the held-out tail, in ``(0, 1)``.

    Returns:
        ``(train, held_out)``; their concatenation (with the blank line between them) is ``text``.

    Raises:
        ValueError: ``fraction`` is not in ``(0, 1)`` or there is no blank line to cut at.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    cut = text.find("\n\n", int(len(text) * (1.0 - fraction)))
    if cut < 0:
        cut = text.rfind("\n\n")
    if cut <= 0:
        raise ValueError("the corpus has no blank line to split at")
    return text[:cut], text[cut + 2 :]


def truncated(tok: BPETokenizer, n_merges: int) -> BPETokenizer:
    """The tokenizer made of the first ``n_merges`` merges of ``tok`` (same pattern and special tokens).

    Training is greedy — each merge is chosen from counts that depend only on the merges before it — so
    this equals training on the same corpus with ``vocab_size = 256 + n_merges (+ specials)``.

    Raises:
        ValueError: ``n_merges`` is negative or more than ``tok`` has.
    """
    merges = tok.merges
    if not 0 <= n_merges <= len(merges):
        raise ValueError(f"n_merges must be in 0..{len(merges)}, got {n_merges}")
    specials = sorted(tok.special_tokens, key=tok.special_tokens.__getitem__)
    return BPETokenizer(merges[:n_merges], pattern=tok.pattern, special_tokens=specials)


def compression(tok: BPETokenizer, text: str) -> dict[str, float]:
    """Compression statistics of ``tok`` on ``text`` (special-token strings encoded as plain text).

    Returns:
        ``tokens``; ``bytes_per_token`` (UTF-8 bytes / tokens, higher = better compression);
        ``chars_per_token``; ``tokens_per_word`` (fertility: tokens / whitespace-separated words).

    Raises:
        ValueError: ``text`` has no word.
    """
    words = len(text.split())
    if words == 0:
        raise ValueError("compression needs a text with at least one word")
    n = len(tok.encode_ordinary(text))
    return {
        "tokens": float(n),
        "bytes_per_token": len(text.encode("utf-8")) / n,
        "chars_per_token": len(text) / n,
        "tokens_per_word": n / words,
    }


def doubling_gains(merges: Sequence[int], values: Sequence[float]) -> list[tuple[int, float]]:
    """Relative gain of ``values`` each time the number of merges doubles.

    For consecutive grid points with ``merges[i + 1] == 2 * merges[i] > 0`` the gain is
    ``values[i + 1] / values[i] - 1`` (e.g. bytes per token at ``2k`` merges over ``k`` merges, minus one).

    Returns:
        ``(k, gain)`` for each doubling ``k -> 2k`` in the grid, in grid order.
    """
    return [
        (int(k), float(v2 / v - 1.0))
        for k, k2, v, v2 in zip(merges, merges[1:], values, values[1:], strict=False)
        if k > 0 and k2 == 2 * k
    ]


def visible(text: str) -> str:
    """``text`` with space, newline and tab as the kit's glyphs (``␣``, ``⏎``, ``⇥``)."""
    return "".join(GLYPHS.get(ord(c), c) for c in text)


def bracketed(tok: BPETokenizer, ids: Sequence[int]) -> str:
    """Tokens as one line, each in angle brackets ``⟨⟩`` with the kit's labels (``⟨␣print⟩``).

    Angle brackets, not square ones: ``[a][b]`` in a Markdown table would read as a reference link.
    """
    return "".join(f"⟨{label}⟩" for label in kit.token_labels(tok, ids))


def show_tokens(tok: BPETokenizer, text: str, *, allowed_special: str | frozenset[str] = frozenset()) -> str:
    """The tokens of ``text`` as :func:`bracketed` writes them (``allowed_special`` as for ``encode``)."""
    return bracketed(tok, tok.encode(text, allowed_special=allowed_special))


def token_rows(tok: BPETokenizer, texts: Sequence[str]) -> list[dict[str, Any]]:
    """One row per text: the text, its tokens, their ids and their number."""
    rows = []
    for text in texts:
        ids = tok.encode(text)
        rows.append(
            {
                "text": visible(text),
                "tokens": bracketed(tok, ids),
                "ids": " ".join(map(str, ids)),
                "n": len(ids),
            }
        )
    return rows


def longest_digit_run(tok: BPETokenizer, ids: Sequence[int]) -> int:
    """The longest run of ASCII digits inside any single token of ``ids``."""
    runs = [len(m) for i in ids for m in regex.findall(rb"[0-9]+", tok.token_bytes(i))]
    return max(runs, default=0)


def byte_runs(data: bytes) -> list[tuple[int, int]]:
    """``data`` as runs of one repeated byte: ``(byte, length)`` in order (``b"+--+"`` → ``[(43, 1), (45, 2), (43, 1)]``)."""
    runs: list[tuple[int, int]] = []
    for b in data:
        if runs and runs[-1][0] == b:
            runs[-1] = (b, runs[-1][1] + 1)
        else:
            runs.append((b, 1))
    return runs


def run_view(data: bytes, min_run: int = 4) -> str:
    """The bytes of a token made readable: the kit's labels, and a run of ``min_run`` or more of one byte
    written ``c×n`` between spaces (a table border ``+----…+`` becomes ``+ -×32 + -×34 +⏎``)."""
    parts: list[str] = []
    word = ""
    for b, n in byte_runs(data):
        if n >= min_run:
            parts += [word] if word else []
            parts.append(f"{kit.byte_label(b)}×{n}")
            word = ""
        else:
            word += kit.byte_label(b) * n
    parts += [word] if word else []
    return " ".join(parts)


def first_context(corpus: bytes, data: bytes, max_width: int = 100) -> str:
    """Where ``data`` first occurs in ``corpus``: the line(s) it sits on plus the line before and after,
    each cut to ``max_width`` characters (with ``…``); ``""`` when it does not occur."""
    at = corpus.find(data)
    if at < 0:
        return ""
    line_start = corpus.rfind(b"\n", 0, at) + 1
    start = corpus.rfind(b"\n", 0, line_start - 1) + 1 if line_start > 0 else 0
    end = corpus.find(b"\n", at + len(data.rstrip(b"\n")))  # the end of the token's last line
    end = -1 if end < 0 else corpus.find(b"\n", end + 1)  # ... and of the line after it
    block = corpus[start : end if end >= 0 else len(corpus)].decode("utf-8", errors="replace")
    lines = [line if len(line) <= max_width else line[: max_width - 1] + "…" for line in block.splitlines()]
    return "\n".join(lines).strip("\n")  # a blank neighbour line shows nothing


def script_rows(tok: BPETokenizer, texts: Mapping[str, str], reference: str) -> list[dict[str, Any]]:
    """Tokens per character of the same sentence in several languages, relative to ``texts[reference]``.

    Returns:
        One row per language: ``language``, ``chars``, ``utf8_bytes``, ``tokens``, ``tokens_per_char``,
        ``vs_english`` (tokens / tokens of the reference), ``letter_bytes`` (the UTF-8 length of most of its
        letters) and ``bytes_only`` (every token a single byte: no merge learned for the script helped).
    """
    base = len(tok.encode(texts[reference]))
    rows = []
    for lang, text in texts.items():
        ids = tok.encode(text)
        rows.append(
            {
                "language": lang,
                "chars": len(text),
                "utf8_bytes": len(text.encode("utf-8")),
                "tokens": len(ids),
                "tokens_per_char": len(ids) / len(text),
                "vs_english": len(ids) / base,
                "letter_bytes": _usual_letter_bytes(text),
                "bytes_only": all(i < 256 for i in ids),
            }
        )
    return rows


def _usual_letter_bytes(text: str) -> int:
    lengths = Counter(len(c.encode("utf-8")) for c in text if c.isalpha())
    return lengths.most_common(1)[0][0] if lengths else 0


def piece_rows(pattern: str, texts: Sequence[str]) -> list[dict[str, str]]:
    """How the split ``pattern`` cuts each text: one row with the text and its pieces in ``⟨⟩``."""
    return [
        {"text": visible(text), "pieces": "".join(f"⟨{visible(p)}⟩" for p in regex.findall(pattern, text))}
        for text in texts
    ]


def merge_trace(text: str, merges: Sequence[tuple[int, int]], pattern: str) -> list[dict[str, Any]]:
    """Replay training merge by merge: before each merge, the pair's count and what it makes.

    At step ``i`` the corpus pieces are segmented with the first ``i`` merges (tiktoken's rule,
    :func:`llmkb.tokenize.naive.encode_piece`); ``count`` is ``c(a, b)``, the number of adjacent occurrences
    of the merged pair, and ``tokens after`` the corpus length once token ``256 + i`` exists.

    Returns:
        One row per merge: ``step``, ``pair`` (``⟨a⟩ + ⟨b⟩``), ``count``, ``new token``, ``tokens after``.
    """
    words = Counter(regex.findall(pattern, text))
    labels = kit.token_labels(BPETokenizer(list(merges), pattern=pattern), range(256 + len(merges)))
    vocab = [bytes([b]) for b in range(256)]
    ranks = {t: i for i, t in enumerate(vocab)}

    def segment() -> list[tuple[list[int], int]]:
        return [(encode_piece(w.encode("utf-8"), ranks), n) for w, n in words.items()]

    rows = []
    for step, (a, b) in enumerate(merges, start=1):
        count = sum(n for ids, n in segment() for pair in zip(ids, ids[1:], strict=False) if pair == (a, b))
        ranks[vocab[a] + vocab[b]] = len(vocab)
        vocab.append(vocab[a] + vocab[b])
        rows.append(
            {
                "step": step,
                "pair": f"⟨{labels[a]}⟩ + ⟨{labels[b]}⟩",
                "count": count,
                "new token": f"⟨{labels[len(vocab) - 1]}⟩",
                "tokens after": sum(len(ids) * n for ids, n in segment()),
            }
        )
    return rows
