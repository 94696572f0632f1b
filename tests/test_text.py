"""Tests for llmkb.metrics.text: n-gram diversity, repetition, loops and self-similarity, and the type checks
that keep a word-level metric from silently becoming a character-level one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llmkb.metrics.text import (
    Loop,
    distinct_n,
    distinct_n_corpus,
    find_loop,
    loop_length,
    ngrams,
    repeated_ngram_rate,
    self_similarity,
)

PROPS = settings(max_examples=60, deadline=None)
TEXT = "The value of the value of the value of the value of"


def test_find_loop_hand_examples() -> None:
    assert find_loop(list("abcabcabc")) == Loop(start=0, period=3, length=9)
    assert loop_length(list("abcabcabc")) == 3
    assert find_loop(list("xyzabab")) == Loop(start=3, period=2, length=7)
    assert find_loop(list("abcd")) is None and loop_length(list("abcd")) == 0
    assert find_loop(b"aaaa") == Loop(start=0, period=1, length=4)  # bytes are a sequence of ints
    assert find_loop([5, 1, 2, 3, 1, 2, 3, 1]) == Loop(start=1, period=3, length=8)
    assert find_loop(list("qab ab"), min_repeats=2) is None
    assert find_loop(list("xyzababab"), min_repeats=3) == Loop(start=3, period=2, length=9)
    assert find_loop(list("xyzabab"), min_repeats=3) is None
    loop = find_loop(list("xyabababab"))
    assert loop is not None and loop.repeats == 4.0 and loop.coverage == pytest.approx(0.8)
    with pytest.raises(ValueError, match="min_repeats"):
        find_loop(list("abc"), min_repeats=1)


@PROPS
@given(
    prefix=st.lists(st.integers(0, 3), max_size=8), unit=st.lists(st.integers(0, 3), min_size=1, max_size=4)
)
def test_find_loop_on_constructed_sequences(prefix: list[int], unit: list[int]) -> None:
    seq = prefix + unit * 3
    loop = find_loop(seq)
    assert loop is not None
    assert loop.start <= len(prefix) and loop.length == len(seq)
    tail = seq[loop.start :]
    assert all(tail[i] == tail[i + loop.period] for i in range(len(tail) - loop.period))
    assert len(tail) >= 2 * loop.period


def test_ngram_metrics_hand_examples() -> None:
    assert ngrams(list("abcd"), 2) == [("a", "b"), ("b", "c"), ("c", "d")]
    assert repeated_ngram_rate(list("abcabcabc"), 3) == pytest.approx(4 / 7)
    assert repeated_ngram_rate(list("abcdef"), 2) == 0.0
    assert repeated_ngram_rate(list("ab"), 3) == 0.0
    assert distinct_n(list("abcabcabc"), 3) == pytest.approx(3 / 7)
    assert distinct_n([1, 2, 1, 2], 2) == pytest.approx(2 / 3)
    assert distinct_n([], 2) == 0.0
    assert distinct_n_corpus(["the cat sat".split(), "the cat ran".split()], 1) == pytest.approx(4 / 6)
    assert distinct_n_corpus([[1, 2, 3], [1, 2, 4]], 2) == pytest.approx(3 / 4)  # no gram crosses texts
    assert distinct_n_corpus([], 2) == 0.0
    assert self_similarity([list("abc"), list("abc")], 2) == 1.0
    assert self_similarity([list("abc"), list("xyz")], 2) == 0.0
    assert self_similarity([list("abc"), list("abd")], 2) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="n must"):
        distinct_n(list("abc"), 0)
    with pytest.raises(ValueError, match="at least 2"):
        self_similarity([list("abc")])


def test_word_distinct_2_counts_word_bigrams() -> None:
    """12 words, 11 bigrams, 4 of them distinct: the page's example."""
    assert round(distinct_n(TEXT.split(), 2), 3) == 0.364
    assert distinct_n(TEXT.split(), 2) == pytest.approx(4 / 11)
    assert repeated_ngram_rate(TEXT.split(), 3) == pytest.approx(6 / 10)
    assert repeated_ngram_rate(TEXT.split(), 3) == pytest.approx(1 - distinct_n(TEXT.split(), 3))


@pytest.mark.parametrize(
    "call",
    [
        lambda: distinct_n(TEXT, 2),
        lambda: repeated_ngram_rate(TEXT, 3),
        lambda: ngrams("abcd", 2),
        lambda: find_loop(TEXT, min_repeats=3),
        lambda: distinct_n_corpus(TEXT, 2),
    ],
    ids=["distinct_n", "repeated_ngram_rate", "ngrams", "find_loop", "distinct_n_corpus"],
)
def test_a_bare_str_is_refused(call) -> None:
    with pytest.raises(TypeError, match=r"got a str where .* expected") as err:
        call()
    assert "\n" not in str(err.value)


def test_nested_sequences_are_refused_where_one_sequence_is_expected() -> None:
    with pytest.raises(TypeError, match="sequence of lists where one token sequence is expected"):
        distinct_n([TEXT.split(), TEXT.split()], 2)
    with pytest.raises(TypeError, match="sequence of tuples"):
        repeated_ngram_rate([(1, 2), (1, 2)], 1)
    with pytest.raises(TypeError, match="hashable"):
        distinct_n([{1}, {2}], 1)


def test_a_list_of_texts_is_refused_where_a_corpus_of_tokens_is_expected() -> None:
    with pytest.raises(TypeError, match=r"list of str .* \[t\.split\(\) for t in texts\]"):
        distinct_n_corpus(["the cat sat", "the cat ran"], 2)
    with pytest.raises(TypeError, match="list of str"):
        self_similarity(["abc", "abd"], 2)


def test_arrays_and_tensors_are_read_as_their_values() -> None:
    """Elements of a torch tensor hash by identity: without ``.tolist()`` every n-gram would be distinct."""
    assert distinct_n(torch.tensor([1, 2, 1, 2]), 2) == pytest.approx(2 / 3)
    assert distinct_n(np.array([1, 2, 1, 2]), 2) == pytest.approx(2 / 3)
    assert find_loop(torch.tensor([7, 1, 2, 1, 2, 1, 2])) == Loop(start=1, period=2, length=7)
    with pytest.raises(TypeError, match="sequence of lists"):
        distinct_n(torch.tensor([[1, 2], [1, 2]]), 1)


@PROPS
@given(st.lists(st.lists(st.integers(0, 4), max_size=12), max_size=5), st.integers(1, 3))
def test_corpus_distinct_pools_the_per_text_ngrams(corpus: list[list[int]], n: int) -> None:
    grams = [g for s in corpus for g in ngrams(s, n)]
    want = len(set(grams)) / len(grams) if grams else 0.0
    assert distinct_n_corpus(corpus, n) == pytest.approx(want)
    if len(corpus) == 1:
        assert distinct_n_corpus(corpus, n) == pytest.approx(distinct_n(corpus[0], n))
