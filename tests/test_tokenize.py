"""Tests of llmkb.tokenize: exactness against tiktoken and Hugging Face tokenizers, the incremental trainer
against a naive one, special tokens, files, the JavaScript export (run in node) and the visualizers."""

from __future__ import annotations

import html
import json
import os
import random
import re
import shutil
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from pydoc_data.topics import topics
from typing import Any

import pytest
import regex
import tiktoken
import tiktoken.load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from llmkb.errors import UsageError
from llmkb.tokenize import (
    GPT2_PATTERN,
    GPT4_PATTERN,
    BPETokenizer,
    _unicode_data,
    export_vocab_json,
    js_pattern,
    render_ansi,
    render_html,
    to_tiktoken,
)
from llmkb.tokenize._fastsplit import fast_pattern, parse_ranges
from llmkb.tokenize._merge import _merge_ids_heap, build_pair_table, merge_ids
from llmkb.tokenize.bytelevel import BYTE_TO_CHAR, bytes_to_symbols, symbols_to_bytes
from llmkb.tokenize.formats import HF_FILE, META_FILE, RANKS_FILE, hf_merge_list
from llmkb.tokenize.naive import encode_piece, train_naive
from llmkb.tokenize.patterns import resolve_pattern
from llmkb.tokenize.trainer import train_merges, train_vocab

EOT = "<|endoftext|>"
# The pydoc corpus, as llmkb.data.load_corpus("pydoc") builds it (without importing torch).
PYDOC = "\n\n".join(topics[key].strip() for key in sorted(topics)) + "\n"
PATTERNS = ["gpt2", "gpt4"]

# Text the tokenizers see in training besides the pydoc topics, so that some tokens hold parts of
# multi-byte characters, whitespace runs and digits.
_EXTRA = (
    "東京都の天気は晴れです。漢字とかなの文章。 😀😀 👍🏽 family 👨‍👩‍👧 café naïve résumé "
    "e\u0301 a\u0300 Ωμέγα Привет мир مرحبا بالعالم 12345 3.14159 2024-01-01\n\n    \t\t  \n"
)


@pytest.fixture(scope="module", params=PATTERNS)
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small tokenizer per pattern (a few hundred merges), saved, plus tiktoken / HF read from its files."""
    corpus = [PYDOC[:150_000], _EXTRA * 30]
    tok = BPETokenizer.train(corpus, 256 + 400 + 1, pattern=request.param, special_tokens=[EOT])
    out = tok.save(tmp_path_factory.mktemp(request.param) / "tok")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_CACHE_DIR", "")  # read our file, never a cached copy
        ranks = tiktoken.load.load_tiktoken_bpe(str(out / RANKS_FILE))
    meta = json.loads((out / META_FILE).read_text())
    enc = tiktoken.Encoding(
        "t", pat_str=meta["pattern"], mergeable_ranks=ranks, special_tokens=meta["special_tokens"]
    )
    hf = Tokenizer.from_file(str(out / HF_FILE))
    return {"tok": tok, "tiktoken": enc, "hf": hf, "dir": out, "pattern": request.param}


# ----------------------------------------------------------------------------- strategies


def _assigned(ch: str) -> bool:
    # Unassigned code points may be assigned in the Unicode version of another regex engine.
    return unicodedata.category(ch) not in ("Cn", "Cs")


_FRAGMENTS = [
    "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "漢字", "東京", "かな", "한국어", "e\u0301", "a\u0300\u0301", "\u0301",
    " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n ", "\u00a0", "\u3000", "\u2028", "\x85", "\x0b", "\x0c",
    "\x00", "\x07", "\x1b[31m", "\x7f", "\x1c", "\ufeff", "'s", "'S", "'ll", "'LL", "'ve", "'Re", "'d", "'m",
    "'\u017f", "'t", "don't", "123", "4567890", "٣٤", "½", "Ⅻ", "3.14", "-", "--", "===", "...", "!!\n",
    "<|", "|>", "endoftext", "hello", " world", "Привет", "مرحبا", "Ωμέγα", "ﬅ", "ǅ", "İ", "ß",
]  # fmt: skip

_chars = st.characters(codec="utf-8").filter(_assigned)
_runs = st.tuples(st.sampled_from([" ", "\n", "\t", "a", "=", "1", "é", "漢"]), st.integers(1, 80)).map(
    lambda t: t[0] * t[1]
)
texts = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(_chars, max_size=8), _runs), max_size=12).map(
    "".join
)

_FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# ----------------------------------------------------------------------------- exactness


@_FAST
@given(text=texts)
def test_decode_inverts_encode(trained: dict[str, Any], text: str) -> None:
    tok = trained["tok"]
    assert tok.decode(tok.encode(text)) == text


@_FAST
@given(text=texts)
def test_ids_equal_tiktoken_with_our_ranks(trained: dict[str, Any], text: str) -> None:
    assert trained["tok"].encode(text) == trained["tiktoken"].encode_ordinary(text)


@_FAST
@given(text=texts)
def test_ids_equal_hf_tokenizers_from_our_json(trained: dict[str, Any], text: str) -> None:
    tok, hf = trained["tok"], trained["hf"]
    ids = tok.encode(text)
    assert hf.encode(text).ids == ids
    assert hf.decode(ids, skip_special_tokens=False) == text


def test_fixed_texts_agree(trained: dict[str, Any]) -> None:
    tok, enc, hf = trained["tok"], trained["tiktoken"], trained["hf"]
    cases = ["", " ", "\n", "   \n\n  x", "x   ", "The cat's 12345 items!\n\tdef f(x):\n        return x\n"]
    cases += [_EXTRA, PYDOC[150_000:170_000]]
    for text in cases:
        ids = tok.encode(text)
        assert ids == enc.encode_ordinary(text) == hf.encode(text).ids
        assert tok.decode(ids) == text
    assert tok.encode("") == []


def test_trained_tokens_are_used(trained: dict[str, Any]) -> None:
    tok = trained["tok"]
    text = PYDOC[:20_000]
    assert len(tok.encode(text)) < 0.45 * len(text.encode())
    assert tok.vocab_size == 657 and tok.special_tokens == {EOT: 656}
    assert len(tok.merges) == 400 and tok.token_bytes(256) == tok.token_bytes(
        tok.merges[0][0]
    ) + tok.token_bytes(tok.merges[0][1])
    # some learned token holds part of a multi-byte character (from the CJK / emoji text)
    partial = [i for i in range(256, 656) if not _valid_utf8(tok.token_bytes(i))]
    assert partial


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_decode_of_a_split_character_replaces_only_that(trained: dict[str, Any]) -> None:
    tok = trained["tok"]
    ids = tok.encode("a🦀b")  # not in the training text
    assert len(ids) > 3 and tok.token_bytes(ids[0]) == b"a"
    assert tok.decode(ids[:2]) == "a\ufffd"
    assert tok.decode(ids) == "a🦀b"
    assert tok.decode_bytes(ids) == "a🦀b".encode()
    with pytest.raises(ValueError):
        tok.decode([tok.vocab_size])
    with pytest.raises(ValueError):
        tok.decode([-1])


def test_lone_surrogates_are_replaced_like_tiktoken(trained: dict[str, Any]) -> None:
    text = "a\ud800b"
    assert trained["tok"].encode(text) == trained["tiktoken"].encode_ordinary(text)
    assert trained["tok"].decode(trained["tok"].encode(text)) == "a\ufffdb"


# ----------------------------------------------------------------------------- special tokens


def test_special_tokens_are_atomic_when_allowed(trained: dict[str, Any]) -> None:
    tok, enc, hf = trained["tok"], trained["tiktoken"], trained["hf"]
    text = f"hello{EOT}world {EOT}{EOT}\n"
    ids = tok.encode(text, allowed_special="all")
    assert ids.count(656) == 3
    assert ids == enc.encode(text, allowed_special="all") == hf.encode(text).ids
    assert tok.decode(ids) == text
    assert tok.encode(text, allowed_special={EOT}) == ids
    with pytest.raises(ValueError, match="special token"):
        tok.encode(text)
    as_text = tok.encode(text, disallowed_special=())
    assert 656 not in as_text and as_text == enc.encode(text, disallowed_special=())
    assert tok.decode(as_text) == text
    with pytest.raises(ValueError):
        tok.encode(text, allowed_special={"<|nope|>"})
    assert tok.is_special(656) and not tok.is_special(655) and tok.token_bytes(656) == EOT.encode()


def test_special_tokens_are_never_learned() -> None:
    corpus = f"ab{EOT}cd{EOT}" * 200 + "endoftext"
    tok = BPETokenizer.train(corpus, 300, pattern="gpt2", special_tokens=[EOT])
    learned = [tok.token_bytes(i) for i in range(256, tok.vocab_size - 1)]
    assert not any(b"|" in t or b"<" in t for t in learned)  # "<|" and "|>" only occur in the special
    assert b"ab" in learned


def test_overlapping_special_tokens_match_the_longest_like_hf() -> None:
    """``<|end|>`` is a prefix of ``<|end|>\\n``: the longer one wins wherever it occurs, as in HF tokenizers."""
    specials = ["<|end|>", "<|end|>\n"]  # the shorter first, so that list order alone cannot pick the longer
    tok = BPETokenizer([(104, 105)], pattern="gpt4", special_tokens=specials)
    short, long = tok.special_tokens["<|end|>"], tok.special_tokens["<|end|>\n"]
    hf = _hf(tok)
    for text in ["hi<|end|>\nthere", "<|end|><|end|>\n", "a<|end|>\n\n<|end|>b<|end|>"]:
        ids = tok.encode(text, allowed_special="all")
        assert ids == hf.encode(text).ids, text
        assert list(tok.encode_iterable(iter(text), allowed_special="all")) == ids, text  # one char a chunk
        assert tok.decode(ids) == text
    assert tok.encode("hi<|end|>\nthere", allowed_special="all") == [256, long, *b"there"]
    assert tok.encode("hi<|end|>there", allowed_special="all") == [256, short, *b"there"]


def test_bad_special_tokens_and_vocab_size() -> None:
    with pytest.raises(ValueError):
        BPETokenizer.train("abc", 256, special_tokens=[EOT])
    with pytest.raises(ValueError):
        BPETokenizer.train("abc", 300, special_tokens=[EOT, EOT])
    with pytest.raises(ValueError):
        BPETokenizer([], special_tokens=[""])
    assert BPETokenizer.train("abc", 257, special_tokens=[EOT]).vocab_size == 257


# ----------------------------------------------------------------------------- training


_LINES = r"[^\n]+"
"""A split pattern that makes each line one piece: random words are trained on as they are."""


def _random_words(seed: int) -> Counter[str]:
    rng = random.Random(seed)
    alphabet = rng.choice(["ab", "abc", "aab ", "xyzé"])
    return Counter(
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 14)))
        for _ in range(rng.randrange(5, 60))
    )


def _as_lines(words: Counter[str]) -> str:
    return "".join(f"{word}\n" * count for word, count in words.items())


@pytest.mark.parametrize("seed", range(12))
def test_incremental_trainer_equals_naive_recount_on_random_words(seed: int) -> None:
    words = _random_words(seed)
    assert train_merges(words, 80) == train_naive(_as_lines(words), 80, _LINES)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_incremental_trainer_equals_naive_recount_on_prose(pattern: str) -> None:
    expr, _ = resolve_pattern(pattern)
    text = PYDOC[:2500]
    assert BPETokenizer.train(text, 256 + 60, pattern).merges == train_naive(text, 60, expr)


_corpora = st.lists(
    st.sampled_from(["a", "b", "ab", " ", "  ", "\n", "'s", "1", "123", "é", ".", "x"]), max_size=60
).map("".join)


@settings(max_examples=120, deadline=None)
@given(text=_corpora, pattern=st.sampled_from(PATTERNS), merges=st.integers(1, 40))
def test_naive_and_fast_trainers_learn_the_same_merges_on_random_corpora(
    text: str, pattern: str, merges: int
) -> None:
    """Small alphabets make many ties and many tokens with several splits: both rules are exercised."""
    expr, _ = resolve_pattern(pattern)
    assert BPETokenizer.train(text, 256 + merges, pattern).merges == train_naive(text, merges, expr)


def test_naive_encode_piece_is_the_encoder() -> None:
    tok = BPETokenizer.train(PYDOC[:20_000], 256 + 120, "gpt4")
    ranks = tok.mergeable_ranks
    for piece in regex.findall(GPT4_PATTERN, PYDOC[30_000:32_000] + " naïve 東京"):
        assert encode_piece(piece.encode(), ranks) == tok.encode(piece)


def test_random_words_exercise_tokens_with_several_splits() -> None:
    """The naive comparison covers the trainer's general path: some token can be split in two ways."""
    several = 0
    for seed in range(12):
        vocab = train_vocab(_random_words(seed), 80)
        several += len(vocab.table) > len(vocab.merges)
    assert several > 0


def test_trainer_pair_table_and_words_are_consistent(trained: dict[str, Any]) -> None:
    """The pair table built during training equals the one rebuilt from the vocabulary."""
    tok = trained["tok"]
    tb = [tok.token_bytes(i) for i in range(256 + len(tok.merges))]
    assert build_pair_table(tb) == tok._table
    rebuilt = BPETokenizer(tok.merges, pattern=tok.pattern, special_tokens=[EOT])
    assert rebuilt._table == tok._table


def test_training_is_deterministic_across_hash_seeds() -> None:
    corpus = "".join(sorted(topics.values()))[:30_000]
    first = BPETokenizer.train(corpus, 400).merges
    assert BPETokenizer.train(corpus, 400).merges == first
    code = (
        "from llmkb.tokenize import BPETokenizer; from pydoc_data.topics import topics; "
        "print(BPETokenizer.train(''.join(sorted(topics.values()))[:30000], 400).merges)"
    )
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.strip() == str(first)


def test_training_stops_when_pairs_run_out_and_takes_iterables() -> None:
    tok = BPETokenizer.train(iter(["ab ab", "ab"]), 1000, pattern="gpt2")
    # pieces "ab" x2 and " ab": after ab, the only pair left is (" ", "ab")
    assert [tok.token_bytes(i) for i in range(256, 256 + len(tok.merges))] == [b"ab", b" ab"]
    assert tok.vocab_size == 258
    calls: list[tuple[int, int]] = []
    BPETokenizer.train(
        "abcabc", 258, pattern="gpt2", progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(1, 2), (2, 2)]


# ----------------------------------------------------------------------------- merge loop


def test_rank_rule_differs_from_pair_rule_and_matches_tiktoken() -> None:
    """A token is reachable through any of its splits, not only the pair that made it (tiktoken's rule)."""
    # 256 "bc", 257 "abc" = a+bc, 258 "ab", 259 "cd", 260 "abcd" = ab+cd (also abc+d).
    merges = [(98, 99), (97, 256), (97, 98), (99, 100), (258, 259)]
    tok = BPETokenizer(merges, pattern=r"[a-z]+")
    enc = to_tiktoken(tok)
    hf = _hf(tok)
    for text in ["abcd", "abc", "ab", "xabcdx", "abcdabcd", "bcd", "dabc", "xabcx"]:
        assert tok.encode(text) == enc.encode_ordinary(text) == hf.encode(text).ids, text
    # x a b c d x -> x a bc d x -> x abc d x -> x abcd x: the last step uses abc+d, which no merge made.
    assert [tok.token_bytes(i) for i in tok.encode("xabcdx")] == [b"x", b"abcd", b"x"]


def test_the_lowest_rank_pair_merges_first_not_the_leftmost() -> None:
    # 256 "bc", 257 "ab": in "abc" both pairs can merge; rank 256 wins although "ab" is further left.
    merges = [(98, 99), (97, 98)]
    tok, enc = BPETokenizer(merges, pattern=r"[a-z]+"), _tiktoken_from_merges(merges, r"[a-z]+")
    assert tok.encode("abc") == enc.encode_ordinary("abc") == [97, 256]
    assert tok.encode("abcabc") == [97, 256, 97, 256]


def test_equal_rank_pairs_merge_leftmost_first() -> None:
    # 256 "aa": "aaa" has two a-a pairs of the same rank; the left one merges.
    tok, enc = BPETokenizer([(97, 97)], pattern=r"[a-z]+"), _tiktoken_from_merges([(97, 97)], r"[a-z]+")
    assert tok.encode("aaa") == enc.encode_ordinary("aaa") == [256, 97]


def _tiktoken_from_merges(merges: list[tuple[int, int]], pattern: str) -> tiktoken.Encoding:
    """A ``tiktoken.Encoding`` built here from the merges (token ``256 + i`` = the bytes of merge ``i``)."""
    tb = [bytes([i]) for i in range(256)]
    for left, right in merges:
        tb.append(tb[left] + tb[right])
    return tiktoken.Encoding(
        "t", pat_str=pattern, mergeable_ranks={b: i for i, b in enumerate(tb)}, special_tokens={}
    )


def test_a_piece_that_is_a_token_is_emitted_whole_like_tiktoken() -> None:
    """tiktoken returns a piece that is itself a token as that token, even when no merge path reaches it."""
    # 256 "bc", 257 "ab", 258 "cd", 259 "abcd" = ab+cd; but a b c d merges bc first: a bc d, then stuck.
    merges = [(98, 99), (97, 98), (99, 100), (257, 258)]
    tok = BPETokenizer(merges, pattern=r"[a-z]+")
    enc = _tiktoken_from_merges(merges, r"[a-z]+")
    assert enc.encode_ordinary("abcd") == [259]
    assert tok.encode("abcd") == [259]
    assert tok.encode("xabcdx") == enc.encode_ordinary("xabcdx") == [120, 97, 256, 100, 120]


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_ids_equal_tiktoken_on_random_untrained_merge_lists(data: st.DataObject) -> None:
    """Arbitrary merge lists (not what a trainer would learn) hold tokens the merge loop cannot reach."""
    rng = random.Random(data.draw(st.integers(0, 10**6)))
    pool, seen, tb = [97, 98, 99, 100], {bytes([i]) for i in range(256)}, [bytes([i]) for i in range(256)]
    merges: list[tuple[int, int]] = []
    for _ in range(data.draw(st.integers(1, 25))):
        left, right = rng.choice(pool), rng.choice(pool)
        if tb[left] + tb[right] not in seen and len(tb[left] + tb[right]) <= 8:
            merges.append((left, right))
            seen.add(tb[left] + tb[right])
            tb.append(tb[left] + tb[right])
            pool.append(len(tb) - 1)
    pattern = r"[a-z]+| "
    tok, enc = BPETokenizer(merges, pattern=pattern), _tiktoken_from_merges(merges, pattern)
    words = [tb[i].decode() for i in pool] + [
        "".join(rng.choice("abcd") for _ in range(rng.randrange(1, 12)))
    ]
    text = " ".join(data.draw(st.lists(st.sampled_from(words), min_size=1, max_size=12)))
    assert tok.encode(text) == enc.encode_ordinary(text)


def _hf(tok: BPETokenizer) -> Tokenizer:
    from llmkb.tokenize import to_hf_tokenizer

    return to_hf_tokenizer(tok)


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_heap_merge_loop_equals_scan_loop(data: st.DataObject) -> None:
    rng = random.Random(data.draw(st.integers(0, 10**6)))
    tb = [bytes([i]) for i in range(256)]
    seen = set(tb)
    pool = [97, 98, 99]
    while len(tb) < 256 + data.draw(st.integers(1, 30)):
        merged = tb[rng.choice(pool)] + tb[rng.choice(pool)]
        if merged not in seen and len(merged) <= 12:
            seen.add(merged)
            tb.append(merged)
            pool.append(len(tb) - 1)
    table = build_pair_table(tb)
    parts = data.draw(st.lists(st.sampled_from([97, 98, 99]), max_size=200))
    assert _merge_ids_heap(list(parts), table) == _scan(list(parts), table)
    assert merge_ids(list(parts), table) == _scan(list(parts), table)


def test_heap_merge_loop_skips_entries_whose_pair_has_changed() -> None:
    # 256 "ba", 257 "ab". In "aba" the heap holds (256, b-a) and (257, a-b); merging b+a first leaves the
    # entry for a-b stale (its right token is now "ba"): using it would glue a + ba into "ab".
    merges = [(98, 97), (97, 98)]
    tb = [bytes([i]) for i in range(256)] + [b"ba", b"ab"]
    assert _merge_ids_heap([97, 98, 97], build_pair_table(tb)) == [97, 256]
    tok = BPETokenizer(merges, pattern=r"[a-z]+")
    text = "ab" * 40 + "a"  # one piece longer than the scan loop's limit: the heap loop encodes it
    assert (
        tok.encode(text)
        == _tiktoken_from_merges(merges, r"[a-z]+").encode_ordinary(text)
        == [97] + [256] * 40
    )
    assert tok.decode(tok.encode(text)) == text


def _scan(parts: list[int], table: dict[tuple[int, int], int]) -> list[int]:
    while True:
        ranks = [(table[p], i) for i, p in enumerate(zip(parts, parts[1:], strict=False)) if p in table]
        if not ranks:
            return parts
        rank, i = min(ranks)
        parts[i : i + 2] = [rank]


# ----------------------------------------------------------------------------- patterns


def test_custom_pattern_keeps_every_character() -> None:
    corpus = "hello world, hello there! " * 20
    tok = BPETokenizer.train(corpus, 280, pattern=r"\w+")
    assert tok.pattern_name is None and tok.pattern.endswith(r"|[\s\S]")
    text = "hello,  world!\n"
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode(text) == to_tiktoken(tok).encode_ordinary(text) == _hf(tok).encode(text).ids
    with pytest.raises(ValueError, match="empty"):
        BPETokenizer.train(corpus, 280, pattern=r"\w*")
    with pytest.raises(ValueError, match="invalid"):
        BPETokenizer.train(corpus, 280, pattern="(")


_ASTRAL = ["𝐀𝐁", "𐍈", "𝟘𝟙", "𞤀", "🄰", "\U0001f600", "\U00020000", "\U000e0001", "\U0010fffd"]


_MIXED = st.lists(
    st.one_of(st.sampled_from(_FRAGMENTS + _ASTRAL), st.text(_chars, max_size=6), _runs), max_size=12
).map("".join)


@settings(max_examples=100, deadline=None)
@given(text=_MIXED)
def test_fast_re_patterns_split_like_regex(text: str) -> None:
    """The standard-library ``re`` translations of the built-in patterns equal the ``regex`` originals."""
    for expression in (GPT2_PATTERN, GPT4_PATTERN):
        fast = fast_pattern(expression)
        assert fast is not None and fast.findall(text) == regex.findall(expression, text)


def test_unicode_tables_match_regex_on_assigned_code_points() -> None:
    """The tables behind the fast patterns agree with ``regex`` wherever Python's ``unicodedata`` is defined."""
    assigned = [c for c in range(0x110000) if unicodedata.category(chr(c)) not in ("Cn", "Cs")]
    chars = "".join(map(chr, assigned))
    tables = {
        r"\p{L}": _unicode_data.LETTERS,
        r"\p{N}": _unicode_data.NUMBERS,
        r"\s": _unicode_data.WHITE_SPACE,
    }
    for prop, spec in tables.items():
        ours = {c for lo, hi in parse_ranges(spec) for c in range(lo, hi + 1)}.intersection(assigned)
        assert ours == set(map(ord, regex.findall(prop, chars))), prop


def test_builtin_patterns_resolve_by_name_or_text() -> None:
    assert resolve_pattern("gpt4") == (GPT4_PATTERN, "gpt4")
    assert resolve_pattern(GPT2_PATTERN) == (GPT2_PATTERN, "gpt2")


# ----------------------------------------------------------------------------- byte-level alphabet


def test_byte_level_alphabet_is_gpt2s() -> None:
    assert len(set(BYTE_TO_CHAR)) == 256
    assert BYTE_TO_CHAR[ord(" ")] == "Ġ" and BYTE_TO_CHAR[ord("\n")] == "Ċ" and BYTE_TO_CHAR[ord("a")] == "a"
    assert all(not ch.isspace() and ch.isprintable() for ch in BYTE_TO_CHAR)
    data = bytes(range(256))
    assert symbols_to_bytes(bytes_to_symbols(data)) == data
    from tokenizers.pre_tokenizers import ByteLevel

    assert sorted(ByteLevel.alphabet()) == sorted(BYTE_TO_CHAR)


def test_hf_merge_list_holds_every_split_in_rank_order() -> None:
    tok = BPETokenizer([(98, 99), (97, 256), (97, 98)], pattern=r"[a-z]+")
    # "abc" (257) splits as a+bc and (once "ab" exists) ab+c.
    assert hf_merge_list([tok.token_bytes(i) for i in range(259)]) == [
        (98, 99),
        (97, 256),
        (258, 99),
        (97, 98),
    ]


# ----------------------------------------------------------------------------- files


def test_save_load_round_trip(trained: dict[str, Any], tmp_path: Path) -> None:
    tok = trained["tok"]
    loaded = BPETokenizer.load(trained["dir"])
    assert loaded.merges == tok.merges and loaded.special_tokens == tok.special_tokens
    assert loaded.pattern == tok.pattern and loaded.pattern_name == trained["pattern"]
    text = _EXTRA + f"{EOT}x"
    assert loaded.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")
    assert sorted(p.name for p in trained["dir"].iterdir()) == sorted([HF_FILE, META_FILE, RANKS_FILE])
    assert repr(loaded).startswith("BPETokenizer(vocab_size=657")


def test_save_replaces_atomically_and_leaves_nothing_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tok = BPETokenizer.train("abab cdcd " * 10, 260, pattern="gpt2")
    out = tmp_path / "tok"
    tok.save(out)
    bigger = BPETokenizer.train("abab cdcd efef " * 10, 264, pattern="gpt2")
    bigger.save(out)
    assert BPETokenizer.load(out).merges == bigger.merges
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tok"]

    calls = {"n": 0}
    real_write = Path.write_text

    def flaky(self: Path, *args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", flaky)
    with pytest.raises(OSError, match="disk full"):
        tok.save(tmp_path / "new")
    calls["n"] = 0
    with pytest.raises(OSError, match="disk full"):
        tok.save(out)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tok"]
    assert BPETokenizer.load(out).merges == bigger.merges  # the old one survived
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError):
        tok.save(tmp_path / "file")


def test_load_errors(trained: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        BPETokenizer.load(tmp_path / "missing")
    broken = tmp_path / "broken"
    shutil.copytree(trained["dir"], broken)
    lines = (broken / RANKS_FILE).read_text().splitlines()
    lines[300], lines[301] = lines[301].split()[0] + " 300", lines[300].split()[0] + " 301"
    (broken / RANKS_FILE).write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageError, match="does not match"):
        BPETokenizer.load(broken)
    (broken / META_FILE).write_text('{"format": "something else"}')
    with pytest.raises(UsageError):
        BPETokenizer.load(broken)
    (broken / META_FILE).write_text("{")
    with pytest.raises(UsageError):
        BPETokenizer.load(broken)


# ----------------------------------------------------------------------------- JavaScript export

_JS_ENCODER = r"""
const fs = require("fs");
const [vocabPath, textsPath] = process.argv.slice(2);
const vocab = JSON.parse(fs.readFileSync(vocabPath, "utf8"));
const texts = JSON.parse(fs.readFileSync(textsPath, "utf8"));
const key = (bytes) => Buffer.from(bytes).toString("latin1");
const ranks = new Map(vocab.ranks.map((b64, r) => [key(Buffer.from(b64, "base64")), r]));
const re = new RegExp(vocab.pattern, vocab.flags);
function encodePiece(bytes) {
  const whole = ranks.get(key(bytes));
  if (whole !== undefined) return [whole];
  let parts = Array.from(bytes, (b) => [b]);
  for (;;) {
    let best = Infinity, at = -1;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = ranks.get(key(parts[i].concat(parts[i + 1])));
      if (r !== undefined && r < best) { best = r; at = i; }
    }
    if (at < 0) break;
    parts.splice(at, 2, parts[at].concat(parts[at + 1]));
  }
  return parts.map((p) => ranks.get(key(p)));
}
const out = texts.map((t) => {
  const pieces = Array.from(t.matchAll(re), (m) => m[0]);
  return { pieces, ids: pieces.flatMap((p) => encodePiece(Buffer.from(p, "utf8"))) };
});
process.stdout.write(JSON.stringify(out));
"""


def _node() -> str:
    node = shutil.which("node")
    assert node is not None, "node (Debian package nodejs) is needed to check the JavaScript export"
    return node


def test_js_export_encodes_like_python_in_node(trained: dict[str, Any], tmp_path: Path) -> None:
    tok = trained["tok"]
    vocab = export_vocab_json(tok)
    assert vocab["flags"] == "gu" and vocab["special_tokens"] == {EOT: 656} and vocab["vocab_size"] == 657
    assert len(vocab["ranks"]) == 656
    rng = random.Random(0)
    samples = [
        _EXTRA,
        PYDOC[170_000:172_000],
        "",
        "x  ",
        "'\u017f 'LL 'Ve",
        "\ufeff\x85 a\u3000b",
    ]
    samples += ["".join(rng.choice(_FRAGMENTS) for _ in range(rng.randrange(1, 15))) for _ in range(300)]
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "texts.json").write_text(json.dumps(samples))
    (tmp_path / "enc.js").write_text(_JS_ENCODER)
    result = subprocess.run(
        [_node(), str(tmp_path / "enc.js"), str(tmp_path / "vocab.json"), str(tmp_path / "texts.json")],
        capture_output=True,
        text=True,
        check=True,
    )
    got = json.loads(result.stdout)
    for text, js in zip(samples, got, strict=True):
        assert js["pieces"] == tok._split.findall(text), text
        assert js["ids"] == tok.encode(text), text


def test_js_pattern_of_custom_patterns() -> None:
    assert js_pattern(r"\s+|[^\s\d]+|\S") == (
        r"[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
        r"|[^\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\d]+"
        r"|[^\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )
    for bad in [r"a++", r"(?>ab)", r"(?i:x)", r"[^\S]"]:
        with pytest.raises(ValueError):
            js_pattern(bad)


# ----------------------------------------------------------------------------- visualizers

_HOSTILE = 'say <script>alert("x&y")</script> it\'s & 漢😀\x1b[2J\u202e'


def test_render_html_escapes_and_labels_tokens(trained: dict[str, Any]) -> None:
    tok = trained["tok"]
    text = _HOSTILE + EOT
    out = render_html(tok, text)
    spans = re.findall(
        r'<span class="(llmkb-tok[^"]*)" data-id="(\d+)" title="([^"]*)" style="[^"]*">([^<]*)</span>', out
    )
    # nothing but our own tags: every "<" in the output starts one of them
    assert out.count("<") == 2 * len(spans) + 2 and ">" not in "".join(s[3] for s in spans)
    assert not any(ch in s[3] or ch in s[2] for s in spans for ch in "\"'")
    assert "&lt;" in out and "&amp;" in out and "&quot;" in out
    ids = tok.encode(text, allowed_special="all")
    assert [int(s[1]) for s in spans] == ids
    assert spans[-1][3] == html.escape(EOT) and spans[-1][2].startswith("id 656")
    partial = [s for s in spans if "llmkb-tok-partial" in s[0]]
    assert partial and all(re.fullmatch(r"(\\x[0-9a-f]{2})+", html.unescape(s[3])) for s in partial)
    assert all(
        tok.token_bytes(int(s[1])).decode("utf-8", "backslashreplace") == html.unescape(s[3]) for s in spans
    )
    whole = "".join(html.unescape(s[3]) for s in spans if "partial" not in s[0])
    assert "say <script>alert(" in whole and "\ufffd" not in whole
    assert 'style="white-space:pre-wrap' in out.split(">")[0]


def test_render_ansi_colours_tokens_and_neutralises_escapes(trained: dict[str, Any]) -> None:
    tok = trained["tok"]
    text = "hello world\nline two \x1b[2J\x07 end"
    plain = render_ansi(tok, text, color=False)
    pieces = plain.split("|")
    assert len(pieces) == len(tok.encode(text))
    assert "\x1b" not in plain and "\x07" not in plain and "\\u001b" in plain and "\\u0007" in plain
    coloured = render_ansi(tok, text)
    codes = re.findall(r"\x1b\[[0-9;]*m", coloured)
    assert codes and all(c.startswith("\x1b[48;5;") or c in ("\x1b[30m", "\x1b[0m") for c in codes)
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain.replace("|", "")


def test_render_ansi_escapes_bidi_overrides() -> None:
    tok = BPETokenizer.train("a\u202eb " * 20, 270, pattern="gpt2")
    assert len(tok.encode("\u202e")) == 1  # a whole token, so it reaches the escaping as a character
    out = render_ansi(tok, "x\u202ey", color=False)
    assert "\u202e" not in out and "\\u202e" in out


# ----------------------------------------------------------------------------- byte tokenizer


def test_byte_tokenizer_is_llmkb_datas() -> None:
    import llmkb.tokenize
    from llmkb.data import ByteTokenizer

    assert llmkb.tokenize.ByteTokenizer is ByteTokenizer
    assert ByteTokenizer().encode("é") == [195, 169]
    with pytest.raises(AttributeError):
        _ = llmkb.tokenize.Nope  # type: ignore[attr-defined]
