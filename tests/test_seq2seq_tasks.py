"""Generated seq2seq tasks (llmkb/data/seq2seq_tasks.py): every answer follows from its source."""

from __future__ import annotations

import random

import pytest
import torch

from llmkb.data import seq2seq_tasks as T


def test_tasks_are_deterministic_and_named():
    assert T.make_examples("qa", 5, seed=3) == T.make_examples("qa", 5, seed=3)
    assert T.make_examples("qa", 5, seed=3) != T.make_examples("qa", 5, seed=4)
    with pytest.raises(ValueError, match="unknown task"):
        T.make_examples("poetry", 1, 0)


def test_classify_label_follows_topic_word_and_negation():
    for ex in T.make_examples("classify", 200, 0):
        topic, sentiment = ex.target
        assert ex.source[1] in T._TOPICS[topic]
        good = any(w in T._GOOD for w in ex.source)
        assert sentiment == ("positive" if good != ("not" in ex.source) else "negative")


def test_translation_reorders_inflects_and_agrees():
    ex = T.translation(random.Random(0), 1, max_adj=0)
    src, tgt = ex.source, ex.target
    assert len(src) == 5 and len(tgt) == 3  # article noun verb article noun -> subj obj verb
    for ex in T.make_examples("translate", 300, 1):
        clauses_src = " ".join(ex.source).split(" and ")
        clauses_tgt = " ".join(ex.target).split(" i ")
        assert len(clauses_src) == len(clauses_tgt)
        for cs, ct in zip(clauses_src, clauses_tgt, strict=True):
            words, out = cs.split(), ct.split()
            assert len(out) == len(words) - 2  # the two articles are dropped, nothing else
            assert out[0].endswith("ko") and sum(w.endswith("ra") for w in out) == 1  # subject, object cases
            plural_subject = "li" in out[0][-4:]
            assert out[-1].endswith("en") == plural_subject  # the verb agrees with its subject
            verb = next(w for w in words if w.rstrip("s") in {v.rstrip("s") for v in T._VERBS})
            assert out[-1].removesuffix("en") == T._VERBS[verb if verb in T._VERBS else verb + "s"]
    src = T.translation(random.Random(0), 3).source
    assert src.count("and") == 2


def test_summary_facts_come_from_the_paragraph():
    for ex in T.make_examples("summarize", 100, 0):
        company, city, metric, amount, chief = ex.target
        text = " ".join(ex.source)
        assert f"{company} reported a {metric} of {amount} million" in text
        assert f"based in {city}" in text and f"its chief is {chief} ." in text


def test_qa_answer_is_a_span_of_the_passage_about_the_asked_person():
    for ex in T.make_examples("qa", 200, 0):
        bar = ex.source.index("|")
        question, passage = ex.source[:bar], " ".join(ex.source[bar + 1 :])
        name = question[2]
        verb = {"live": "lives in", "work": "works at", "own": "owns a"}[
            question[3] if question[0] == "where" else "own"
        ]
        assert f"{name} {verb} {' '.join(ex.target)} ." in passage


def test_entity_tags_one_per_word_and_typed_by_word_lists():
    for ex in T.make_examples("entities", 200, 0):
        assert len(ex.source) == len(ex.target)
        for w, tag in zip(ex.source, ex.target, strict=True):
            if tag == "B-PER":
                assert w in T._FIRST
            elif tag == "I-PER":
                assert w in T._LAST
            elif tag == "B-DATE":
                assert w in T._MONTHS
            elif tag in ("I-DATE", "B-NUM"):
                assert w.isdigit()
            elif tag == "B-ID":
                assert w in T._IDS
            else:
                assert tag == "O" and w not in T._FIRST


def test_vocab_and_padded_tensors():
    ex = [T.Example(("a", "b", "c"), ("x",)), T.Example(("b",), ("y", "x"))]
    v = T.Vocab.build(ex)
    assert v.itos[:3] == ["<pad>", "<bos>", "<eos>"] and len(v) == 8
    assert v.decode(v.encode(["c", "y"])) == ["c", "y"]
    src, mask, tgt_in, tgt_out = T.encode_pairs(ex, v)
    assert src.shape == (2, 3) and mask.tolist() == [[True] * 3, [True, False, False]]
    assert tgt_in.tolist() == [[T.BOS, v.stoi["x"], 0], [T.BOS, v.stoi["y"], v.stoi["x"]]]
    assert tgt_out.tolist() == [[v.stoi["x"], T.EOS, -100], [v.stoi["y"], v.stoi["x"], T.EOS]]
    assert torch.equal(src[1, 1:], torch.zeros(2, dtype=torch.long))
