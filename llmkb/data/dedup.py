"""Deduplication: exact (normalised hash) and near-duplicate (MinHash + LSH), written out with numpy.

**Exact.** A document is reduced to a canonical form (:func:`normalize`: Unicode NFKC, lower case, runs of
whitespace collapsed) and hashed; the first document of each hash is kept.

**MinHash** (Broder 1997, "On the resemblance and containment of documents"). A document is a set ``A`` of
shingles (word ``n``-grams, :func:`shingles`). For a random permutation ``π`` of the shingle universe,

    P[min π(A) = min π(B)] = |A ∩ B| / |A ∪ B| = J(A, B),

so with ``k`` independent permutations the fraction of equal minima estimates the Jaccard similarity,
unbiased, with standard deviation ``sqrt(J (1 - J) / k)``. The permutations are approximated by universal
hash functions ``h_i(x) = (a_i x + b_i) mod p`` over the Mersenne prime ``p = 2^61 - 1`` (shingles are hashed
to 32-bit integers ``x`` first, so ``a_i x`` is computed exactly in 128 bits by splitting ``a_i``).

**LSH banding** (Leskovec, Rajaraman & Ullman, *Mining of Massive Datasets*, ch. 3). The ``k = b · r``
signature rows are cut into ``b`` bands of ``r`` rows; two documents become a *candidate pair* when all ``r``
rows of at least one band agree. For a pair of similarity ``s`` that happens with probability

    P(candidate | s) = 1 - (1 - s^r)^b,

an S-curve whose steepest point sits near ``s* ≈ (1/b)^(1/r)``. Candidates are then checked with the
signature's estimated similarity (or the exact one) against the threshold, and duplicate clusters are
formed with union-find; the first document of each cluster is kept.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "MERSENNE_61",
    "LSHIndex",
    "MinHasher",
    "NearDuplicates",
    "StreamDeduper",
    "candidate_pairs",
    "candidate_probability",
    "clusters",
    "estimate_jaccard",
    "exact_duplicates",
    "jaccard",
    "near_duplicates",
    "normalize",
    "pair_metrics",
    "sequence_pairs",
    "shingle_hashes",
    "shingles",
    "threshold_of",
]

#: The Mersenne prime ``2^61 - 1``, modulus of the universal hash functions.
MERSENNE_61: int = (1 << 61) - 1
_MASK_30 = (1 << 30) - 1
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


def normalize(text: str) -> str:
    """The canonical form exact deduplication hashes: NFKC, lower case, whitespace runs → one space, trimmed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def exact_duplicates(docs: Iterable[str]) -> list[int]:
    """Indices of documents whose normalised text (:func:`normalize`) repeats an earlier document's.

    Only a 16-byte digest per distinct document is kept, so memory grows with the number of documents,
    not their size.
    """
    seen: set[bytes] = set()
    dups = []
    for i, doc in enumerate(docs):
        h = hashlib.blake2b(normalize(doc).encode("utf-8"), digest_size=16).digest()
        if h in seen:
            dups.append(i)
        else:
            seen.add(h)
    return dups


def shingles(text: str, n: int = 3) -> set[str]:
    """The set of word ``n``-grams of ``text`` (words: ``\\w+`` runs of the normalised text, joined by spaces).

    A text of fewer than ``n`` words gives its words joined as one shingle (never an empty set for a text
    with a word in it).
    """
    if n < 1:
        raise ValueError(f"shingle size n must be >= 1, got {n}")
    words = _WORD.findall(normalize(text))
    if len(words) < n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def shingle_hashes(items: Iterable[str]) -> np.ndarray:
    """32-bit hashes of shingles (the first 4 bytes of their SHA-1, little-endian, as datasketch does)."""
    return np.array(
        [int.from_bytes(hashlib.sha1(s.encode("utf-8")).digest()[:4], "little") for s in items],
        dtype=np.uint64,
    )


def jaccard(a: set[str], b: set[str]) -> float:
    """``|A ∩ B| / |A ∪ B|`` (1 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _mulmod(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(a * x) mod (2^61 - 1)`` for ``a < 2^61`` and ``x < 2^32`` without overflowing uint64.

    ``a = a_hi 2^30 + a_lo`` with ``a_hi < 2^31`` and ``a_lo < 2^30``; ``a_hi x < 2^63`` and ``a_lo x < 2^62``
    fit; ``2^30 (a_hi x mod p)`` is reduced with ``2^61 ≡ 1 (mod p)``.
    """
    p = np.uint64(MERSENNE_61)
    hi = (a >> np.uint64(30)) * x % p  # < 2^61
    lo = (a & np.uint64(_MASK_30)) * x % p
    # hi * 2^30 mod p: split hi = h1 2^31 + h0; h1 2^61 ≡ h1, h0 2^30 < 2^61
    h1, h0 = hi >> np.uint64(31), hi & np.uint64((1 << 31) - 1)
    shifted = (h1 + (h0 << np.uint64(30))) % p
    return (shifted + lo) % p


@dataclass(frozen=True)
class MinHasher:
    """``num_perm`` universal hash functions ``h_i(x) = (a_i x + b_i) mod (2^61 - 1)``, drawn from ``seed``.

    Attributes:
        num_perm: Signature length ``k``.
        seed: Seed of the coefficients.
        ngram: Words per shingle.
    """

    num_perm: int = 128
    seed: int = 1
    ngram: int = 3
    _a: np.ndarray = field(init=False, repr=False, compare=False)
    _b: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.num_perm < 1:
            raise ValueError(f"num_perm must be >= 1, got {self.num_perm}")
        rng = np.random.default_rng(self.seed)
        object.__setattr__(self, "_a", rng.integers(1, MERSENNE_61, self.num_perm, dtype=np.uint64))
        object.__setattr__(self, "_b", rng.integers(0, MERSENNE_61, self.num_perm, dtype=np.uint64))

    def signature_of_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """``min_x h_i(x)`` for each ``i``: a ``(num_perm,)`` uint64 signature (all ``2^61 - 1`` when empty)."""
        if hashes.size == 0:
            return np.full(self.num_perm, MERSENNE_61, dtype=np.uint64)
        x = hashes.astype(np.uint64)[:, None]  # (S, 1)
        h = (_mulmod(self._a[None, :], x) + self._b[None, :]) % np.uint64(MERSENNE_61)  # (S, k)
        return h.min(axis=0)  # (k,)

    def signature(self, text: str) -> np.ndarray:
        """The MinHash signature of ``text``'s shingles (:func:`shingles` with ``ngram`` words)."""
        return self.signature_of_hashes(shingle_hashes(shingles(text, self.ngram)))

    def signatures(self, docs: Iterable[str]) -> np.ndarray:
        """Signatures of many documents, ``(N, num_perm)``."""
        rows = [self.signature(d) for d in docs]
        return np.stack(rows) if rows else np.zeros((0, self.num_perm), dtype=np.uint64)


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Fraction of equal signature rows: an unbiased estimate of ``J`` with sd ``sqrt(J (1 - J) / k)``."""
    if sig_a.shape != sig_b.shape:
        raise ValueError(f"signatures differ in shape: {sig_a.shape} vs {sig_b.shape}")
    return float(np.mean(sig_a == sig_b))


def candidate_probability(s: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """The LSH S-curve ``1 - (1 - s^r)^b``: probability that a pair of similarity ``s`` becomes a candidate."""
    return 1.0 - (1.0 - np.asarray(s, dtype=np.float64) ** rows) ** bands


def threshold_of(bands: int, rows: int) -> float:
    """The approximate similarity of the S-curve's steepest rise, ``(1/b)^(1/r)``."""
    return (1.0 / bands) ** (1.0 / rows)


class LSHIndex:
    """Banded LSH over MinHash signatures: ``bands`` buckets tables, keyed by each band's ``rows`` values.

    Only the band keys (8-byte digests) and document ids are stored, never the text.
    """

    def __init__(self, bands: int, rows: int) -> None:
        if bands < 1 or rows < 1:
            raise ValueError(f"bands and rows must be >= 1, got bands={bands}, rows={rows}")
        self.bands, self.rows = bands, rows
        self._tables: list[dict[bytes, list[int]]] = [defaultdict(list) for _ in range(bands)]
        self.size = 0

    def _keys(self, sig: np.ndarray) -> Iterator[bytes]:
        if sig.shape != (self.bands * self.rows,):
            raise ValueError(
                f"signature of length {sig.shape} does not fit {self.bands} bands × {self.rows} rows"
            )
        for j in range(self.bands):
            band = np.ascontiguousarray(sig[j * self.rows : (j + 1) * self.rows])
            yield hashlib.blake2b(band.tobytes(), digest_size=8).digest()

    def query(self, sig: np.ndarray) -> set[int]:
        """Ids already in the index that share at least one band with ``sig``."""
        found: set[int] = set()
        for table, key in zip(self._tables, self._keys(sig), strict=True):
            found.update(table.get(key, ()))
        return found

    def insert(self, doc_id: int, sig: np.ndarray) -> None:
        """Add ``sig`` under ``doc_id``."""
        for table, key in zip(self._tables, self._keys(sig), strict=True):
            table[key].append(doc_id)
        self.size += 1

    def add_and_query(self, doc_id: int, sig: np.ndarray) -> set[int]:
        """Candidates of ``sig`` among earlier documents, then insert it (one pass over a stream)."""
        found = self.query(sig)
        self.insert(doc_id, sig)
        return found


def candidate_pairs(signatures: np.ndarray, bands: int, rows: int) -> set[tuple[int, int]]:
    """All pairs ``(i, j)``, ``i < j``, that share a band (one streaming pass through :class:`LSHIndex`)."""
    index = LSHIndex(bands, rows)
    pairs: set[tuple[int, int]] = set()
    for j, sig in enumerate(signatures):
        pairs.update((i, j) for i in index.add_and_query(j, sig))
    return pairs


def clusters(n: int, pairs: Iterable[tuple[int, int]]) -> list[int]:
    """Union-find over ``pairs``: for each of the ``n`` documents, the smallest id of its cluster."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(n)]


@dataclass
class NearDuplicates:
    """What :func:`near_duplicates` found.

    Attributes:
        candidates: Pairs that shared a band.
        pairs: Candidates whose estimated Jaccard reached the threshold.
        root: Cluster id (smallest member) of every document.
        removed: Documents that are not the first of their cluster.
    """

    candidates: set[tuple[int, int]]
    pairs: set[tuple[int, int]]
    root: list[int]
    removed: list[int]


def near_duplicates(signatures: np.ndarray, bands: int, rows: int, threshold: float) -> NearDuplicates:
    """Candidate pairs by LSH, verified by the signatures' estimated Jaccard ``>= threshold``, clustered.

    Args:
        signatures: ``(N, bands * rows)`` MinHash signatures in document order.
        bands: ``b``.
        rows: ``r``.
        threshold: Estimated similarity a candidate needs to count as a duplicate.
    """
    cands = candidate_pairs(signatures, bands, rows)
    pairs = {(i, j) for i, j in cands if estimate_jaccard(signatures[i], signatures[j]) >= threshold}
    root = clusters(len(signatures), pairs)
    return NearDuplicates(cands, pairs, root, [i for i, r in enumerate(root) if r != i])


def pair_metrics(found: Iterable[tuple[int, int]], truth: Iterable[tuple[int, int]]) -> dict[str, float]:
    """Precision and recall of ``found`` pairs against ``truth`` (order within a pair ignored)."""
    f = {tuple(sorted(p)) for p in found}
    t = {tuple(sorted(p)) for p in truth}
    hit = len(f & t)
    return {
        "precision": hit / len(f) if f else 1.0,
        "recall": hit / len(t) if t else 1.0,
        "found": len(f),
        "true": len(t),
        "hit": hit,
    }


def sequence_pairs(items: Sequence[int]) -> set[tuple[int, int]]:
    """Every pair ``(i, j)``, ``i < j``, of the given ids."""
    s = sorted(items)
    return {(s[a], s[b]) for a in range(len(s)) for b in range(a + 1, len(s))}


class StreamDeduper:
    """One pass over a stream: each document is kept, or dropped as an exact or a near duplicate of an earlier
    kept one.

    Memory holds a 16-byte digest and a ``bands * rows`` signature per *kept* document, never the texts.

    Args:
        hasher: The MinHash functions (``hasher.num_perm`` must be ``bands * rows``).
        bands: ``b``.
        rows: ``r``.
        threshold: Estimated Jaccard from which a candidate counts as a near duplicate.
        near: Also drop near duplicates (else exact ones only).
    """

    def __init__(self, hasher: MinHasher, bands: int, rows: int, threshold: float, near: bool = True) -> None:
        if hasher.num_perm != bands * rows:
            raise ValueError(f"num_perm {hasher.num_perm} must equal bands × rows = {bands * rows}")
        self.hasher, self.threshold, self.near = hasher, threshold, near
        self.index = LSHIndex(bands, rows)
        self._digests: set[bytes] = set()
        self._sigs: dict[int, np.ndarray] = {}
        self.seen = 0
        self.counts = {"kept": 0, "exact": 0, "near": 0}

    def __call__(self, text: str) -> tuple[str, int | None]:
        """``("kept", None)``, ``("exact", None)`` or ``("near", id of the kept document it resembles)``."""
        i = self.seen
        self.seen += 1
        digest = hashlib.blake2b(normalize(text).encode("utf-8"), digest_size=16).digest()
        if digest in self._digests:
            self.counts["exact"] += 1
            return "exact", None
        if self.near:
            sig = self.hasher.signature(text)
            for j in sorted(self.index.query(sig)):
                if estimate_jaccard(sig, self._sigs[j]) >= self.threshold:
                    self.counts["near"] += 1
                    return "near", j
            self.index.insert(i, sig)
            self._sigs[i] = sig
        self._digests.add(digest)
        self.counts["kept"] += 1
        return "kept", None
