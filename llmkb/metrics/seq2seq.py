"""Scores of sequence-to-sequence outputs: accuracy, exact match, token F1, BLEU/chrF and entity F1.

* Exact match: the fraction of outputs equal to their reference, word for word.
* Token F1 (the SQuAD answer score, Rajpurkar et al. 2016, arXiv 1606.05250): per pair, with ``c`` the size
  of the multiset intersection, ``P = c / |pred|``, ``R = c / |ref|``, ``F1 = 2PR / (P + R)`` (1 when both are
  empty); averaged over pairs.
* BLEU (Papineni et al. 2002) and chrF (Popović 2015): corpus scores from ``sacrebleu``, the reference
  implementation (Post 2018, arXiv 1804.08771), on 0..100.
* Entity F1 (CoNLL-2003, Tjong Kim Sang & De Meulder 2003): entities are the maximal ``B-X I-X*`` spans of a
  BIO tag sequence (a stray ``I-X`` starts a span, as in ``conlleval``); an entity counts as found only
  with the same type, start and end; micro ``P``, ``R``, ``F1`` over the corpus.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

__all__ = ["exact_match", "token_f1", "bleu", "chrf", "bio_spans", "entity_f1"]

Words = Sequence[str]


def _check(preds: Sequence[object], refs: Sequence[object]) -> None:
    if len(preds) != len(refs) or not preds:
        raise ValueError(
            f"need as many predictions as references (and at least one), got {len(preds)}, {len(refs)}"
        )


def exact_match(preds: Sequence[Words], refs: Sequence[Words]) -> float:
    """Fraction of ``preds[i]`` equal to ``refs[i]`` (as word sequences)."""
    _check(preds, refs)
    return sum(list(p) == list(r) for p, r in zip(preds, refs, strict=True)) / len(refs)


def _pair_f1(pred: Words, ref: Words) -> float:
    if not pred and not ref:
        return 1.0
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    p, r = common / len(pred), common / len(ref)
    return 2 * p * r / (p + r)


def token_f1(preds: Sequence[Words], refs: Sequence[Words]) -> float:
    """Mean over pairs of the bag-of-words F1 (module docstring)."""
    _check(preds, refs)
    return sum(_pair_f1(p, r) for p, r in zip(preds, refs, strict=True)) / len(refs)


def bleu(preds: Sequence[Words], refs: Sequence[Words]) -> float:
    """Corpus BLEU (0..100) of space-joined words, one reference each, by ``sacrebleu`` (tokenizer off)."""
    import sacrebleu

    _check(preds, refs)
    return float(
        sacrebleu.corpus_bleu(
            [" ".join(p) for p in preds], [[" ".join(r) for r in refs]], tokenize="none"
        ).score
    )


def chrf(preds: Sequence[Words], refs: Sequence[Words]) -> float:
    """Corpus chrF (0..100) of space-joined words by ``sacrebleu``."""
    import sacrebleu

    _check(preds, refs)
    return float(sacrebleu.corpus_chrf([" ".join(p) for p in preds], [[" ".join(r) for r in refs]]).score)


def bio_spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """Entities ``(type, start, end)`` (end exclusive) of a BIO tag sequence.

    ``B-X`` starts an entity of type ``X``; ``I-X`` continues it if the previous tag is ``B-X`` or ``I-X``,
    and otherwise starts one (``conlleval``'s reading of an ill-formed sequence); ``O`` (or anything else)
    ends it.
    """
    spans: set[tuple[str, int, int]] = set()
    kind, start = None, 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        if kind is not None and not (prefix == "I" and label == kind):
            spans.add((kind, start, i))
            kind = None
        if prefix in ("B", "I") and label and kind is None:
            kind, start = label, i
    return spans


def entity_f1(preds: Sequence[Sequence[str]], refs: Sequence[Sequence[str]]) -> dict[str, float]:
    """Micro precision, recall and F1 of exact (type, start, end) entity matches over a corpus of tag lists.

    Returns:
        ``{"precision", "recall", "f1"}`` (each 0 when its denominator is 0).
    """
    _check(preds, refs)
    found = gold = hit = 0
    for p, r in zip(preds, refs, strict=True):
        ps, rs = bio_spans(p), bio_spans(r)
        found, gold, hit = found + len(ps), gold + len(rs), hit + len(ps & rs)
    precision = hit / found if found else 0.0
    recall = hit / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
