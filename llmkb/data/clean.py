"""Document quality filters with recorded reasons: the Gopher rules and a few byte-level checks.

Rae et al. 2021 ("Scaling Language Models: Methods, Analysis & Insights from Training Gopher",
arXiv:2112.11446, appendix A.1.1) keep a web document only if it passes simple heuristics; :class:`CleanConfig`
holds them with their published thresholds as defaults, and every rule can be changed or switched off
(``None``):

* **length**: ``min_words ≤ words ≤ max_words`` (50 … 100 000);
* **mean word length**: ``3 ≤ mean characters per word ≤ 10``;
* **symbols**: ``(#'s + ellipses) / words ≤ 0.1``;
* **alphabetic words**: at least 80 % of words contain a letter;
* **line punctuation**: at least ``min_punct_lines`` of the non-empty lines end in ``. ! ? " '`` or ``:``
  (a C4 / FineWeb-style rule; 0.12 in FineWeb; off by default for Gopher);
* **repetition**: the fraction of duplicated lines ≤ 0.30 (by count) and the characters in duplicated
  lines ≤ 0.20; the most frequent word ``n``-gram (n = 2, 3, 4) covers ≤ 0.20, 0.18, 0.16 of the
  characters; the characters in duplicated word ``n``-grams (n = 5 … 10) ≤ 0.15 … 0.10;
* **non-printable**: the share of control characters (other than tab and newline) and of U+FFFD
  replacement characters ≤ ``max_nonprintable``.

:func:`check` returns every rule a document fails (empty: keep it); :class:`CleanReport` counts, per rule, how
many documents it removed, with a few examples of each.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields

__all__ = [
    "RULES",
    "CleanConfig",
    "CleanReport",
    "check",
    "clean_stream",
    "doc_stats",
]

_WORD = re.compile(r"\S+")
_ALPHA = re.compile(r"[^\W\d_]")
_NONPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_PUNCT_END = (".", "!", "?", '"', "'", ":")
#: Rule names in the order they are checked and reported.
RULES: tuple[str, ...] = (
    "too_short",
    "too_long",
    "mean_word_length",
    "symbol_ratio",
    "alpha_words",
    "line_punctuation",
    "duplicate_lines",
    "top_ngram",
    "duplicate_ngrams",
    "nonprintable",
)

_TOP_NGRAM = {2: 0.20, 3: 0.18, 4: 0.16}
_DUP_NGRAM = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


@dataclass(frozen=True)
class CleanConfig:
    """Thresholds of the filters (``None`` switches a rule off); defaults are Gopher's.

    Attributes:
        min_words: Fewest whitespace-separated words.
        max_words: Most words.
        min_mean_word_len: Smallest mean word length (characters).
        max_mean_word_len: Largest mean word length.
        max_symbol_ratio: Largest ``(count("#") + count("...") + count("…")) / words``.
        min_alpha_words: Smallest fraction of words with at least one letter.
        min_punct_lines: Smallest fraction of non-empty lines ending in punctuation (``None``: off).
        max_dup_line_frac: Largest fraction of non-empty lines that repeat an earlier line.
        max_dup_line_chars: Largest fraction of characters in repeated lines.
        top_ngram: ``{n: largest fraction of word characters covered by the most frequent n-gram}``.
        dup_ngram: ``{n: largest fraction of word characters inside n-grams that occur more than once}``.
        max_nonprintable: Largest fraction of control characters (tab and newline excepted) and U+FFFD.
    """

    min_words: int | None = 50
    max_words: int | None = 100_000
    min_mean_word_len: float | None = 3.0
    max_mean_word_len: float | None = 10.0
    max_symbol_ratio: float | None = 0.1
    min_alpha_words: float | None = 0.8
    min_punct_lines: float | None = None
    max_dup_line_frac: float | None = 0.30
    max_dup_line_chars: float | None = 0.20
    top_ngram: dict[int, float] | None = field(default_factory=lambda: dict(_TOP_NGRAM))
    dup_ngram: dict[int, float] | None = field(default_factory=lambda: dict(_DUP_NGRAM))
    max_nonprintable: float | None = 0.0

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> CleanConfig:
        """A config from a dict of field values (n-gram keys may be strings, as JSON gives them).

        Raises:
            ValueError: an unknown field.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(
                f"unknown clean setting(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
            )
        kw = dict(d)
        for key in ("top_ngram", "dup_ngram"):
            if isinstance(kw.get(key), dict):
                kw[key] = {int(n): float(v) for n, v in kw[key].items()}  # type: ignore[union-attr]
        return cls(**kw)  # type: ignore[arg-type]


def _ngram_fractions(words: list[str], n: int) -> tuple[float, float]:
    """(characters of the most frequent n-gram × its count, characters inside repeated n-grams) / word chars.

    Characters are those of the words (spaces excluded), as in Gopher; each word counts once in the
    duplicate measure even when several repeated n-grams overlap it.
    """
    total = sum(len(w) for w in words)
    if len(words) < n or total == 0:
        return 0.0, 0.0
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(grams)
    gram, c = counts.most_common(1)[0]
    top = (sum(len(w) for w in gram) * c / total) if c > 1 else 0.0
    covered = [False] * len(words)
    for i, g in enumerate(grams):
        if counts[g] > 1:
            covered[i : i + n] = [True] * n
    dup = sum(len(w) for w, k in zip(words, covered, strict=True) if k) / total
    return top, dup


def doc_stats(text: str, ngrams: Iterable[int] = (2, 3, 4, 5, 6, 7, 8, 9, 10)) -> dict[str, float]:
    """Every quantity the rules test, for one document (words, ratios, per-``n`` n-gram fractions)."""
    words = _WORD.findall(text)
    n_words = len(words)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    seen: set[str] = set()
    dup_lines = dup_chars = 0
    for ln in lines:
        if ln in seen:
            dup_lines += 1
            dup_chars += len(ln)
        seen.add(ln)
    line_chars = sum(len(ln) for ln in lines)
    bad = len(_NONPRINTABLE.findall(text))
    stats: dict[str, float] = {
        "words": n_words,
        "mean_word_len": sum(len(w) for w in words) / n_words if n_words else 0.0,
        "symbol_ratio": (text.count("#") + text.count("...") + text.count("…")) / n_words if n_words else 0.0,
        "alpha_words": sum(1 for w in words if _ALPHA.search(w)) / n_words if n_words else 0.0,
        "punct_lines": sum(ln.endswith(_PUNCT_END) for ln in lines) / len(lines) if lines else 0.0,
        "dup_line_frac": dup_lines / len(lines) if lines else 0.0,
        "dup_line_chars": dup_chars / line_chars if line_chars else 0.0,
        "nonprintable": bad / len(text) if text else 0.0,
    }
    for n in ngrams:
        stats[f"top_{n}gram"], stats[f"dup_{n}gram"] = _ngram_fractions(words, n)
    return stats


def check(text: str, cfg: CleanConfig | None = None) -> list[str]:
    """The rules of :data:`RULES` that ``text`` fails under ``cfg`` (Gopher's defaults); empty means keep."""
    c = cfg or CleanConfig()
    ngrams = sorted(set(c.top_ngram or {}) | set(c.dup_ngram or {}))
    s = doc_stats(text, ngrams)
    failed = []
    if c.min_words is not None and s["words"] < c.min_words:
        failed.append("too_short")
    if c.max_words is not None and s["words"] > c.max_words:
        failed.append("too_long")
    lo, hi = c.min_mean_word_len, c.max_mean_word_len
    if s["words"] and (
        (lo is not None and s["mean_word_len"] < lo) or (hi is not None and s["mean_word_len"] > hi)
    ):
        failed.append("mean_word_length")
    if c.max_symbol_ratio is not None and s["symbol_ratio"] > c.max_symbol_ratio:
        failed.append("symbol_ratio")
    if c.min_alpha_words is not None and s["words"] and s["alpha_words"] < c.min_alpha_words:
        failed.append("alpha_words")
    if c.min_punct_lines is not None and s["punct_lines"] < c.min_punct_lines:
        failed.append("line_punctuation")
    if (c.max_dup_line_frac is not None and s["dup_line_frac"] > c.max_dup_line_frac) or (
        c.max_dup_line_chars is not None and s["dup_line_chars"] > c.max_dup_line_chars
    ):
        failed.append("duplicate_lines")
    if c.top_ngram and any(s[f"top_{n}gram"] > t for n, t in c.top_ngram.items()):
        failed.append("top_ngram")
    if c.dup_ngram and any(s[f"dup_{n}gram"] > t for n, t in c.dup_ngram.items()):
        failed.append("duplicate_ngrams")
    if c.max_nonprintable is not None and s["nonprintable"] > c.max_nonprintable:
        failed.append("nonprintable")
    return failed


@dataclass
class CleanReport:
    """What the filters did to a stream of documents.

    Attributes:
        seen: Documents read.
        kept: Documents that passed every rule.
        removed: Per rule, documents that failed it (a document failing two rules counts under both).
        first_reason: Per rule, documents for which it was the first failed rule (these sum to the removed
            documents).
        examples: Per rule, up to ``max_examples`` short excerpts of removed documents.
        max_examples: Excerpts kept per rule.
    """

    seen: int = 0
    kept: int = 0
    removed: Counter[str] = field(default_factory=Counter)
    first_reason: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    max_examples: int = 3

    def add(self, text: str, reasons: list[str]) -> None:
        """Record one document and the rules it failed."""
        self.seen += 1
        if not reasons:
            self.kept += 1
            return
        self.first_reason[reasons[0]] += 1
        for r in reasons:
            self.removed[r] += 1
            ex = self.examples.setdefault(r, [])
            if len(ex) < self.max_examples:
                ex.append(text[:160])

    def rows(self) -> list[dict[str, object]]:
        """One row per rule that removed something, in :data:`RULES` order."""
        return [
            {"rule": r, "removed": self.removed[r], "first reason": self.first_reason[r],
             "share": self.removed[r] / self.seen if self.seen else 0.0}
            for r in RULES if self.removed[r]
        ]  # fmt: skip

    def as_dict(self) -> dict[str, object]:
        """The report as plain JSON-able data."""
        return {"seen": self.seen, "kept": self.kept, "rules": self.rows(), "examples": self.examples}


def clean_stream(
    docs: Iterable[str], cfg: CleanConfig | None = None, report: CleanReport | None = None
) -> Iterator[tuple[str, list[str]]]:
    """Yield ``(document, failed rules)`` for every document, recording each in ``report`` if given."""
    for doc in docs:
        reasons = check(doc, cfg)
        if report is not None:
            report.add(doc, reasons)
        yield doc, reasons
