"""Tests of streaming encoding (``BPETokenizer.encode_iterable``, :mod:`llmkb.tokenize.stream`): the ids of
``encode`` on the whole text, for random chunkings (Hypothesis) and for a few-MB generated file read line by
line and in fixed-size blocks, with a bounded gap between what was read and what was encoded."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path
from pydoc_data.topics import topics

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmkb.tokenize import GPT2_PATTERN, GPT4_PATTERN, BPETokenizer
from llmkb.tokenize.stream import (
    LOOKAHEAD,
    PieceStream,
    check_disallowed,
    cut_specials,
    fix_surrogates,
    special_cutter,
)

EOT = "<|endoftext|>"
SPECIALS = [EOT, "<|e|>"]
PYDOC = "\n\n".join(topics[key].strip() for key in sorted(topics)) + "\n"
_EXTRA = "東京の天気 😀 👍🏽 café naïve e\u0301 Привет 12345 3.14159 don't we'll 'S 'LL\n\n    \t\t  \r\n"


@pytest.fixture(scope="module", params=["gpt2", "gpt4"])
def tok(request: pytest.FixtureRequest) -> BPETokenizer:
    return BPETokenizer.train([PYDOC[:30_000], _EXTRA * 20], 256 + 200 + 2, request.param, SPECIALS)


_FRAGMENTS = [
    "a", "l", "ll", "'", "'l", "'s", "'LL", "don't", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n ",
    "\u00a0", "\u3000", "\x85", "1", "12", "12345", "3.14", "-", "...", "é", "e\u0301", "東京", "😀", "👍🏽", "𝐀",
    "\ud83d", "\ude00", "\ud835", "\udc00", "<|e", "|>", "<|endof", "text|>", EOT, "<|e|>", " the", "The",
]  # fmt: skip
_texts = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=4)), max_size=30).map("".join)
_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _chunked(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *sorted(c % (len(text) + 1) for c in cuts), len(text)]
    return [text[i:j] for i, j in zip(bounds, bounds[1:], strict=False)]


def _outcome(fn: object) -> list[int] | str:
    try:
        return list(fn())  # type: ignore[operator]
    except ValueError as exc:
        return f"ValueError: {exc}"


@_SETTINGS
@given(
    text=_texts,
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
    mode=st.sampled_from(["all", "one", "none"]),
)
def test_stream_equals_encode_on_random_chunkings(
    tok: BPETokenizer, text: str, cuts: list[int], mode: str
) -> None:
    kwargs = {
        "all": {"allowed_special": "all"},
        "one": {"allowed_special": {"<|e|>"}},  # the other special token is disallowed
        "none": {"disallowed_special": ()},  # special tokens are plain text
    }[mode]
    chunks = _chunked(text, cuts)
    whole = _outcome(lambda: tok.encode(text, **kwargs))
    assert _outcome(lambda: tok.encode_iterable(chunks, **kwargs)) == whole
    assert _outcome(lambda: tok.encode_iterable(iter(text), **kwargs)) == whole  # one character at a time


def test_default_refuses_special_tokens_split_across_chunks(tok: BPETokenizer) -> None:
    with pytest.raises(ValueError, match="special token"):
        list(tok.encode_iterable(["abc <|endof", "text|> def"]))
    with pytest.raises(ValueError, match="not special tokens"):
        tok.encode_iterable(["x"], allowed_special={"<|nope|>"})  # at once, before iteration
    assert list(tok.encode_iterable(["<|endof", "text|>"], allowed_special="all")) == [
        tok.special_tokens[EOT]
    ]
    assert list(tok.encode_iterable([])) == [] and list(tok.encode_iterable(["", ""])) == []


@pytest.mark.parametrize("expression", [GPT2_PATTERN, GPT4_PATTERN])
def test_piece_stream_holds_back_what_more_text_can_change(expression: str) -> None:
    split = regex.compile(expression)
    stream = PieceStream(split)
    # GPT-2 cuts "a'l" into a, ', l but "a'll" into a, 'll: a piece before the last one can change
    got = stream.feed("xyz a'l") + stream.feed("l  ") + stream.feed(" b") + stream.flush()
    assert got == regex.findall(expression, "xyz a'll   b")
    assert regex.findall(GPT2_PATTERN, "a'l") == ["a", "'", "l"] and LOOKAHEAD == 3
    high = PieceStream(split)
    assert (
        high.feed("xyzw \ud83d") == ["xyzw"] and high.feed("\ude00y") == [] and high.flush() == [" 😀", "y"]
    )


def test_cut_specials_and_check_disallowed() -> None:
    parts = list(cut_specials(["a<|e", "|>b<|endoftext", "|>", "<|e"], ["<|e|>", EOT]))
    joined: list[tuple[str, bool]] = []
    for text, special in parts:  # ordinary text may come in several parts: join them to compare
        if joined and not special and not joined[-1][1]:
            joined[-1] = (joined[-1][0] + text, False)
        else:
            joined.append((text, special))
    assert joined == [("a", False), ("<|e|>", True), ("b", False), (EOT, True), ("<|e", False)]
    assert all(text for text, _ in parts)
    with pytest.raises(ValueError, match="<|e|>"):
        list(check_disallowed(["x<|", "e", "|>"], {"<|e|>"}))
    assert list(check_disallowed(["x<|", "e|"], {"<|e|>"})) == ["x<|", "e|"]
    assert fix_surrogates("a\ud83d\ude00\ud83d") == "a😀\ufffd" and fix_surrogates("plain") == "plain"


def _generated_text(seed: int, target_chars: int) -> str:
    """A few MB with awkward places to cut: long whitespace runs, CRLF, multi-byte characters, numbers,
    contractions and special-token look-alikes, from pydoc prose."""
    rng = random.Random(seed)
    awkward = [
        " " * 3000, "\t" * 50 + "\n", "\r\n", "\r\n\r\n", "😀" * 40, "東京" * 30, "9" * 400, " don't we'll",
        "<|endof", "text|", EOT, "<|e|>", "e\u0301" * 20, "\u3000\u00a0", "x" * 2000, "\n" * 30,
    ]  # fmt: skip
    parts, size = [], 0
    while size < target_chars:
        start = rng.randrange(len(PYDOC) - 5000)
        part = PYDOC[start : start + rng.randrange(50, 5000)] if rng.random() < 0.7 else rng.choice(awkward)
        parts.append(part)
        size += len(part)
    return "".join(parts)


def _bounded(chunks: Iterator[str], read: list[int], done: list[int], bound: int) -> Iterator[str]:
    """Pass ``chunks`` through, checking before each one that the encoder holds at most ``bound`` bytes."""
    for chunk in chunks:
        # encode_iterable asks for the next chunk once it has yielded every id it can: what it read but has
        # not encoded yet is the tail it carries over
        assert read[0] - done[0] <= bound
        read[0] += len(chunk.encode("utf-8"))
        yield chunk


def test_a_generated_file_line_by_line_and_in_blocks(tok: BPETokenizer, tmp_path: Path) -> None:
    text = _generated_text(0, 2_500_000 if tok.pattern_name == "gpt4" else 800_000)
    assert len(text.encode("utf-8")) > (2_500_000 if tok.pattern_name == "gpt4" else 800_000)
    path = tmp_path / "big.txt"
    path.write_text(text, encoding="utf-8", newline="")
    want = tok.encode(text, allowed_special="all")
    assert want.count(tok.special_tokens[EOT]) > 5
    segments = special_cutter(frozenset(SPECIALS)).split(text)
    longest = max(len(p.encode("utf-8")) for seg in segments[::2] for p in regex.findall(tok.pattern, seg))
    assert longest >= 3000  # the whitespace runs: the bound below is about pieces, not lines
    read, done = [0], [0]
    got = []
    with path.open(encoding="utf-8", newline="") as f:  # newline="" keeps "\r\n" as it is
        for i in tok.encode_iterable(_bounded(f, read, done, longest + 64), allowed_special="all"):
            got.append(i)
            done[0] += len(tok.token_bytes(i))
    assert got == want and done[0] == read[0] == len(text.encode("utf-8"))
    reader = io.StringIO(text)
    blocks = iter(lambda: reader.read(4093), "")  # fixed-size blocks cut words, runs and characters
    assert list(tok.encode_iterable(blocks, allowed_special="all")) == want
