"""Pure functions of the sampling lab: the settings grid, diversity, quality and loop statistics."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from llmkb.infer.sampling import SamplingConfig
from llmkb.lab.topics.sampling.names import LOOP_MIN_REPEATS, LOOP_MIN_SPAN, PROMPT_SEED_STRIDE, SELF_SIM_N
from llmkb.metrics.text import distinct_n_corpus, find_loop, ngrams, repeated_ngram_rate, self_similarity

__all__ = [
    "Grid",
    "LoopStats",
    "correlation",
    "diversity",
    "loop_stats",
    "nearest_index",
    "prompt_seed",
    "seen_before",
    "valid_word_rate",
    "vocabulary",
    "words_of",
]

_WORD = re.compile(r"[A-Za-z]+")


def nearest_index(values: Sequence[float], x: float) -> int:
    """Index of the value nearest to ``x`` (absolute difference; ties go to the lower index).

    The dashboard's JavaScript uses the same rule, so both pick the same grid point.
    """
    if not values:
        raise ValueError("nearest_index needs at least one value")
    best, best_d = 0, abs(values[0] - x)
    for i, v in enumerate(values[1:], start=1):
        d = abs(v - x)
        if d < best_d:
            best, best_d = i, d
    return best


@dataclass(frozen=True)
class Grid:
    """A grid of sampling settings: every (temperature, top-k, top-p) combination.

    ``top_k=None`` is "off" (for distances it counts as ``vocab_size``, which keeps every token);
    ``top_p=1.0`` is off. All temperature-0 cells are one setting (greedy decoding ignores k and p).

    Attributes:
        temperatures: temperature values (``0`` = greedy).
        top_ks: top-k values, ``None`` = off.
        top_ps: top-p values in ``(0, 1]``.
        vocab_size: vocabulary size, the distance stand-in for ``top_k=None``.
    """

    temperatures: tuple[float, ...]
    top_ks: tuple[int | None, ...]
    top_ps: tuple[float, ...]
    vocab_size: int = 256

    def config(self, temperature: float, top_k: int | None, top_p: float) -> SamplingConfig:
        """The [`SamplingConfig`][llmkb.infer.sampling.SamplingConfig] of one cell."""
        if temperature == 0.0:
            return SamplingConfig(temperature=0.0)
        return SamplingConfig(temperature=temperature, top_k=top_k, top_p=None if top_p >= 1.0 else top_p)

    def settings(self) -> tuple[list[SamplingConfig], list[list[list[int]]]]:
        """Unique settings and, for each cell ``[iT][ik][ip]``, the index of its setting.

        Returns:
            ``(configs, cells)``.
        """
        configs: list[SamplingConfig] = []
        index: dict[SamplingConfig, int] = {}
        cells: list[list[list[int]]] = []
        for t in self.temperatures:
            plane: list[list[int]] = []
            for k in self.top_ks:
                row = []
                for p in self.top_ps:
                    cfg = self.config(t, k, p)
                    if cfg not in index:
                        index[cfg] = len(configs)
                        configs.append(cfg)
                    row.append(index[cfg])
                plane.append(row)
            cells.append(plane)
        return configs, cells

    def nearest(self, temperature: float, top_k: int | None, top_p: float) -> tuple[int, int, int]:
        """Cell ``(iT, ik, ip)`` nearest to a setting, coordinate by coordinate (see :func:`nearest_index`)."""
        ks = [self.vocab_size if k is None else k for k in self.top_ks]
        return (
            nearest_index(self.temperatures, temperature),
            nearest_index(ks, self.vocab_size if top_k is None else top_k),
            nearest_index(self.top_ps, top_p),
        )


def correlation(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation ``r = cov(x, y) / (sd(x) sd(y))`` over the pairs where both values are finite.

    Returns:
        ``r`` in ``[-1, 1]``, or NaN when fewer than three pairs remain or either side is constant (then no
        correlation is defined, and the page shows ``nan`` rather than a made-up number).
    """
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def prompt_seed(seed: int, prompt_index: int) -> int:
    """Seed base of one prompt: prompts must not share random draws, or their samples correlate."""
    return seed + PROMPT_SEED_STRIDE * prompt_index


def words_of(text: str) -> list[str]:
    """The lower-cased words (runs of ASCII letters) of a continuation, without a word cut off at its end.

    A continuation stops after a fixed number of bytes, usually inside a word; that last fragment is dropped
    when it touches the end of the text. (The lab's prompts end with a space, so the first word is whole.)
    """
    found = list(_WORD.finditer(text))
    if found and found[-1].end() == len(text):
        found.pop()
    return [m.group().lower() for m in found]


def vocabulary(corpus: str) -> frozenset[str]:
    """The lower-cased words (runs of ASCII letters) of a corpus."""
    return frozenset(m.lower() for m in _WORD.findall(corpus))


def valid_word_rate(texts: Iterable[str], vocab: frozenset[str]) -> tuple[float, int]:
    """Share of the words of ``texts`` that are words of ``vocab``, pooled: ``|{w in W : w in vocab}| / |W|``.

    A cheap quality measure for a byte-level model: a sample can be diverse because it is fluent or because it
    spells non-words, and only the second lowers this rate. (Holtzman et al. 2019, arXiv 1904.09751, judge
    samples by perplexity and human ratings; a vocabulary check needs neither a second model nor people.)

    Returns:
        ``(rate, n_words)``; the rate is NaN when the texts hold no whole word.
    """
    words = [w for t in texts for w in words_of(t)]
    if not words:
        return float("nan"), 0
    return sum(w in vocab for w in words) / len(words), len(words)


def diversity(samples: Sequence[Sequence[str]]) -> dict[str, float]:
    """Diversity of continuations, grouped by prompt.

    Args:
        samples: ``samples[prompt][i]`` is the ``i``-th continuation (text) of a prompt.

    Returns:
        ``distinct_1`` and ``distinct_2`` on words (pooled over all texts, Li et al. 2016), ``self_similarity``
        (Jaccard overlap of the character-4-gram sets of two samples of the same prompt, averaged over pairs and
        prompts; needs 2+ samples per prompt, else 0) and ``rep_3`` (mean fraction of repeated word
        trigrams within a text).
    """
    flat = [t.split() for group in samples for t in group]
    sims = [self_similarity([list(t) for t in group], SELF_SIM_N) for group in samples if len(group) >= 2]
    return {
        "distinct_1": distinct_n_corpus(flat, 1),
        "distinct_2": distinct_n_corpus(flat, 2),
        "self_similarity": float(np.mean(sims)) if sims else 0.0,
        "rep_3": float(np.mean([repeated_ngram_rate(w, 3) for w in flat])) if flat else 0.0,
    }


@dataclass(frozen=True)
class LoopStats:
    """Where a continuation falls into a loop.

    Attributes:
        looped: whether it ends in a loop of at least ``LOOP_MIN_REPEATS`` units spanning
            ``LOOP_MIN_SPAN`` bytes or more.
        start: first byte of the loop (``-1`` if none).
        period: length of the repeating unit in bytes (``0`` if none).
        repeats: copies of the unit in the loop (``0`` if none).
    """

    looped: bool
    start: int
    period: int
    repeats: float


def loop_stats(ids: Sequence[int]) -> LoopStats:
    """Loop statistics of a byte sequence via [`find_loop`][llmkb.metrics.text.find_loop]."""
    loop = find_loop(list(ids), min_repeats=LOOP_MIN_REPEATS)
    if loop is None or loop.length - loop.start < LOOP_MIN_SPAN:
        return LoopStats(False, -1, 0, 0.0)
    return LoopStats(True, loop.start, loop.period, loop.repeats)


def seen_before(ids: Sequence[int], n: int) -> np.ndarray:
    """For each position ``i >= n - 1``: 1 if the ``n``-gram ending at ``i`` occurred earlier, else 0."""
    out = np.zeros(len(ids), dtype=np.int8)
    seen: set[tuple[int, ...]] = set()
    for i, g in enumerate(ngrams(list(ids), n)):
        if g in seen:
            out[i + n - 1] = 1
        seen.add(g)
    return out
