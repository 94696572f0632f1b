"""Seq2seq metrics (llmkb/metrics/seq2seq.py): against sacrebleu and hand-computed values."""

from __future__ import annotations

import pytest
import sacrebleu

from llmkb.metrics.seq2seq import bio_spans, bleu, chrf, entity_f1, exact_match, token_f1

PREDS = [["the", "cat", "sat", "on", "the", "mat"], ["a", "dog", "barks", "loudly"], ["hello"]]
REFS = [["the", "cat", "is", "on", "the", "mat"], ["the", "dog", "barks"], ["hello", "world"]]


def test_bleu_and_chrf_are_sacrebleus():
    hyp, ref = [" ".join(p) for p in PREDS], [[" ".join(r) for r in REFS]]
    assert bleu(PREDS, REFS) == pytest.approx(sacrebleu.corpus_bleu(hyp, ref, tokenize="none").score)
    assert chrf(PREDS, REFS) == pytest.approx(sacrebleu.corpus_chrf(hyp, ref).score)
    assert bleu(REFS, REFS) == pytest.approx(100.0) and chrf(REFS, REFS) == pytest.approx(100.0)
    assert 0 < bleu(PREDS, REFS) < 100


def test_exact_match_and_token_f1_by_hand():
    assert exact_match(PREDS, REFS) == 0.0
    assert exact_match([["a"], ["b"]], [["a"], ["c"]]) == 0.5
    # pair 1: 5 common of 6/6 -> 5/6; pair 2: dog, barks: P 2/4, R 2/3 -> 4/7; pair 3: P 1, R 1/2 -> 2/3
    assert token_f1(PREDS, REFS) == pytest.approx((5 / 6 + 4 / 7 + 2 / 3) / 3)
    assert token_f1([["x", "x"]], [["x"]]) == pytest.approx(2 * 0.5 * 1 / 1.5)  # multiset, not set
    assert token_f1([[]], [[]]) == 1.0 and token_f1([["a"]], [[]]) == 0.0
    with pytest.raises(ValueError):
        exact_match([["a"]], [])


def test_bio_spans():
    assert bio_spans(["B-PER", "I-PER", "O", "B-NUM", "B-NUM", "I-DATE"]) == {
        ("PER", 0, 2),
        ("NUM", 3, 4),
        ("NUM", 4, 5),
        ("DATE", 5, 6),
    }
    assert bio_spans(["I-PER", "I-PER", "I-ID"]) == {("PER", 0, 2), ("ID", 2, 3)}  # conlleval's reading
    assert bio_spans(["O", "O"]) == set() and bio_spans([]) == set()


def test_entity_f1_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-DATE", "I-DATE"], ["B-ID", "O", "B-NUM"]]
    pred = [["B-PER", "O", "O", "B-DATE", "I-DATE"], ["B-ID", "O", "B-ID"]]
    # gold 4 entities; predicted 4 (PER 0-1, DATE, ID, ID 2-3); right: DATE, ID -> P = R = 1/2
    assert entity_f1(pred, gold) == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})
    assert entity_f1(gold, gold)["f1"] == 1.0
    assert entity_f1([["O"]], [["B-PER"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    short = entity_f1([["B-PER"]], [["B-PER", "O", "B-NUM"]])  # a shorter output loses what it lacks
    assert short == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3})
