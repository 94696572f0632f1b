"""Deduplication: exact hashing, MinHash against the true Jaccard and against datasketch, the LSH S-curve."""

from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from llmkb.data.dedup import (
    MERSENNE_61,
    LSHIndex,
    MinHasher,
    _mulmod,
    candidate_pairs,
    candidate_probability,
    clusters,
    estimate_jaccard,
    exact_duplicates,
    jaccard,
    near_duplicates,
    normalize,
    pair_metrics,
    shingle_hashes,
    shingles,
    threshold_of,
)


def _pair(s: float, union: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Two hash sets with ``|A ∪ B| = union`` and Jaccard as close to ``s`` as integers allow."""
    common = round(s * union)
    only = union - common
    ids = rng.choice(2**32, size=union + only // 2 + 1, replace=False).astype(np.uint64)
    a_only, b_only = only // 2, only - only // 2
    shared = ids[:common]
    a = np.concatenate([shared, ids[common : common + a_only]])
    b = np.concatenate([shared, ids[common + a_only : common + a_only + b_only]])
    return a, b, common / union


def test_normalize_and_exact_duplicates() -> None:
    assert normalize("  The\tQuick\n\nFOX ") == "the quick fox"
    assert normalize("ﬁne") == "fine"  # NFKC folds the ligature
    docs = ["Hello  world", "hello world", "hello, world", "HELLO WORLD\n", "other"]
    assert exact_duplicates(docs) == [1, 3]
    assert exact_duplicates([]) == []


def test_shingles_and_jaccard() -> None:
    assert shingles("a b c d", 2) == {"a b", "b c", "c d"}
    assert shingles("One, two!", 3) == {"one two"}
    assert shingles("...", 3) == set()
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 1.0
    with pytest.raises(ValueError, match="n must be"):
        shingles("a", 0)
    # the 32-bit shingle hash is datasketch's (first 4 bytes of SHA-1, little-endian)
    assert int(shingle_hashes(["abc"])[0]) == 0x363E99A9  # SHA-1("abc") = a9993e36…


def test_mulmod_is_exact() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(1, MERSENNE_61, 2000, dtype=np.uint64)
    x = rng.integers(0, 2**32, 2000, dtype=np.uint64)
    a[:3] = [MERSENNE_61 - 1, 1 << 60, (1 << 31) - 1]
    x[:3] = [2**32 - 1, 2**32 - 1, 2**32 - 1]
    got = _mulmod(a, x)
    assert [int(g) for g in got] == [int(ai) * int(xi) % MERSENNE_61 for ai, xi in zip(a, x, strict=True)]


@pytest.mark.parametrize("s", [0.1, 0.5, 0.8, 0.95])
def test_minhash_estimate_within_theoretical_error(s: float) -> None:
    """Over 40 pairs, every estimate lies within 4.5 sd of J, and their mean within 4 sd/sqrt(40) (unbiased)."""
    k = 128
    hasher = MinHasher(num_perm=k, seed=3)
    rng = np.random.default_rng(int(100 * s))
    errors = []
    for _ in range(40):
        a, b, j = _pair(s, 150, rng)
        est = estimate_jaccard(hasher.signature_of_hashes(a), hasher.signature_of_hashes(b))
        errors.append(est - j)
    sd = np.sqrt(s * (1 - s) / k)
    assert np.max(np.abs(errors)) <= 4.5 * sd
    assert abs(np.mean(errors)) <= 4 * sd / np.sqrt(40)
    assert np.std(errors) == pytest.approx(sd, rel=0.5)


def test_identical_and_disjoint_sets() -> None:
    hasher = MinHasher(num_perm=64)
    a = np.arange(10, 60, dtype=np.uint64)
    assert estimate_jaccard(hasher.signature_of_hashes(a), hasher.signature_of_hashes(a[::-1])) == 1.0
    b = np.arange(1000, 1050, dtype=np.uint64)
    assert estimate_jaccard(hasher.signature_of_hashes(a), hasher.signature_of_hashes(b)) <= 0.1
    assert (hasher.signature_of_hashes(np.array([], dtype=np.uint64)) == MERSENNE_61).all()
    with pytest.raises(ValueError):
        estimate_jaccard(np.zeros(3), np.zeros(4))


def _documents(
    n_base: int, seed: int, edit: tuple[float, float] = (0.03, 0.25)
) -> tuple[list[str], list[tuple[int, int]]]:
    """Random-word documents, and copies of half of them with a fraction ``edit`` of their words replaced."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(3000)]
    docs = [" ".join(rng.choice(vocab) for _ in range(80)) for _ in range(n_base)]
    planted = []
    for i in range(n_base // 2):
        words = docs[i].split()
        for pos in rng.sample(range(len(words)), int(len(words) * rng.uniform(*edit))):
            words[pos] = rng.choice(vocab)
        planted.append((i, len(docs)))
        docs.append(" ".join(words))
    return docs, planted


def _ours_and_datasketch(
    docs: list[str], bands: int, rows: int
) -> tuple[set[tuple[int, int]], set[tuple[int, int]], float]:
    """Our candidate pairs, datasketch's, and the expected size of their symmetric difference.

    The hash functions differ, so a pair of similarity s is a candidate in each run independently with
    probability P(s) = 1 - (1 - s^r)^b: the runs disagree on it with probability 2 P (1 - P).
    """
    sets = [shingles(d, 3) for d in docs]
    ours = candidate_pairs(MinHasher(bands * rows, seed=11).signatures(docs), bands, rows)
    lsh = MinHashLSH(num_perm=bands * rows, params=(bands, rows))
    theirs: set[tuple[int, int]] = set()
    for i, s in enumerate(sets):
        m = MinHash(num_perm=bands * rows, seed=7)
        m.update_batch([x.encode("utf-8") for x in s])
        theirs.update((j, i) for j in lsh.query(m))
        lsh.insert(i, m)
    n = len(docs)
    p = np.array(
        [
            candidate_probability(jaccard(sets[i], sets[j]), bands, rows)
            for i in range(n)
            for j in range(i + 1, n)
        ]
    )
    return ours, theirs, float(np.sum(2 * p * (1 - p)))


def test_lsh_candidates_match_datasketch_on_separated_pairs() -> None:
    """Near-duplicates (1–6 % of words edited, J ≳ 0.7) far above the S-curve's rise at (1/16)^(1/4) = 0.5:
    our candidate pairs and datasketch's MinHashLSH (same shingles, b = 16, r = 4) agree to ≥ 95 % precision
    and recall, within the disagreement the S-curve predicts for two independent hash families."""
    docs, planted = _documents(160, seed=5, edit=(0.01, 0.06))
    ours, theirs, expected = _ours_and_datasketch(docs, 16, 4)
    assert len(ours ^ theirs) <= expected + 4 * np.sqrt(expected) + 1
    m = pair_metrics(ours, theirs)
    assert m["precision"] >= 0.95 and m["recall"] >= 0.95
    assert pair_metrics(ours, planted)["recall"] >= 0.95
    assert len(theirs) >= len(planted)  # the comparison is not vacuous


def test_lsh_disagreement_with_datasketch_follows_the_s_curve() -> None:
    """Pairs spread over 0.28–0.86 similarity, many on the S-curve's steep part (b = 16, r = 8): the two
    implementations disagree on about sum 2 P (1 - P) pairs, within 4 sd."""
    docs, _ = _documents(120, seed=5)
    ours, theirs, expected = _ours_and_datasketch(docs, 16, 8)
    assert abs(len(ours ^ theirs) - expected) <= 4 * np.sqrt(expected) + 1
    assert expected > 3  # the steep part is really exercised


def test_s_curve_matches_measured_candidate_rates() -> None:
    """The fraction of pairs of similarity s that share a band is 1 - (1 - s^r)^b within 4 binomial sd."""
    bands, rows, n = 8, 4, 300
    rng = np.random.default_rng(1)
    for s in (0.3, 0.5, 0.6, 0.8):
        hits = 0
        for t in range(n):
            hasher = MinHasher(bands * rows, seed=1000 + t)
            a, b, j = _pair(s, 100, rng)
            index = LSHIndex(bands, rows)
            index.insert(0, hasher.signature_of_hashes(a))
            hits += bool(index.query(hasher.signature_of_hashes(b)))
        prob = candidate_probability(j, bands, rows)
        assert abs(hits / n - prob) <= 4 * np.sqrt(prob * (1 - prob) / n) + 0.01, (s, hits / n, prob)


def test_s_curve_formula() -> None:
    assert candidate_probability(0.0, 20, 5) == 0.0
    assert candidate_probability(1.0, 20, 5) == 1.0
    assert candidate_probability(0.5, 2, 1) == pytest.approx(0.75)
    assert candidate_probability(0.5, 1, 2) == pytest.approx(0.25)
    assert threshold_of(20, 5) == pytest.approx(0.0500**0.2)


def test_clusters_and_near_duplicates_find_planted_pairs() -> None:
    assert clusters(5, [(3, 4), (1, 3)]) == [0, 1, 2, 1, 1]
    docs, planted = _documents(60, seed=2, edit=(0.01, 0.06))
    sig = MinHasher(128, seed=4).signatures(docs)
    found = near_duplicates(sig, 16, 8, threshold=0.4)
    truth = {(i, j) for i, j in planted if jaccard(shingles(docs[i]), shingles(docs[j])) >= 0.4}
    m = pair_metrics(found.pairs, truth)
    assert m["recall"] >= 0.9 and m["precision"] >= 0.9
    assert set(found.removed) <= {j for _, j in planted}
    assert all(found.root[j] == i for i, j in found.pairs)


def test_lsh_index_checks_shapes() -> None:
    with pytest.raises(ValueError, match="bands"):
        LSHIndex(0, 4)
    index = LSHIndex(4, 4)
    with pytest.raises(ValueError, match="does not fit"):
        index.insert(0, np.zeros(15, dtype=np.uint64))
    sig = np.arange(16, dtype=np.uint64)
    assert index.add_and_query(0, sig) == set()
    other = sig.copy()
    other[:12] += 1  # only the last band agrees
    assert index.add_and_query(1, other) == {0}
    assert index.query(sig + 100) == set()
