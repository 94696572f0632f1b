"""Suffix-array exact-substring deduplication against brute force on random strings, and on planted boilerplate."""

from __future__ import annotations

import random

import numpy as np
import pytest

from llmkb.data.substrings import lcp_array, longest_previous_factor, remove_repeats, suffix_array


def _random(n: int, alphabet: str, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


def _lcp(s: str, a: int, b: int) -> int:
    k = 0
    while a + k < len(s) and b + k < len(s) and s[a + k] == s[b + k]:
        k += 1
    return k


@pytest.mark.parametrize("seed", range(6))
def test_suffix_lcp_and_lpf_match_brute_force(seed: int) -> None:
    s = _random(random.Random(seed).randint(1, 120), "ab" if seed % 2 else "abcab", seed)
    t = np.array([ord(c) for c in s])
    sa = suffix_array(t)
    assert sa.tolist() == sorted(range(len(s)), key=lambda i: s[i:])
    lcp = lcp_array(t, sa)
    assert lcp.tolist() == [0] + [_lcp(s, int(sa[i - 1]), int(sa[i])) for i in range(1, len(s))]
    lpf = longest_previous_factor(t)
    assert lpf.tolist() == [max([_lcp(s, p, q) for q in range(p)], default=0) for p in range(len(s))]


def test_known_suffix_array() -> None:
    t = np.array([ord(c) for c in "banana"])
    assert suffix_array(t).tolist() == [5, 3, 1, 0, 4, 2]
    assert lcp_array(t, suffix_array(t)).tolist() == [0, 1, 3, 0, 0, 2]
    assert longest_previous_factor(t).tolist() == [0, 0, 0, 3, 2, 1]
    assert suffix_array(np.array([], dtype=np.int64)).tolist() == []


def test_remove_repeats_keeps_the_first_copy_of_boilerplate() -> None:
    boiler = "Copyright notice: all rights reserved by the authors of this page."
    docs = [
        _random(80, "xyz ", 1) + "\n" + boiler,
        "Intro. " + boiler + _random(40, "pq ", 2),
        _random(60, "mn ", 3),
        boiler[:30],  # shorter than min_len: stays
    ]
    out, removed = remove_repeats(docs, min_len=len(boiler) - 5)
    assert out[0] == docs[0] and out[2] == docs[2] and out[3] == docs[3]
    assert boiler not in out[1] and out[1].startswith("Intro. ") and removed == len(boiler)
    # no match crosses a document boundary: a string split over two documents is not a repeat
    out, removed = remove_repeats(["abcdef", "ghij", "abc", "defghij"], min_len=5)
    assert removed == 0
    with pytest.raises(ValueError, match="min_len"):
        remove_repeats(["a"], 0)
