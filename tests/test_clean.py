"""Gopher quality rules: each rule on hand-written documents, exact statistics, the report."""

from __future__ import annotations

import pytest

from llmkb.data.clean import RULES, CleanConfig, CleanReport, check, clean_stream, doc_stats

GOOD = (
    "The library keeps its modules small. Each module has one job, and its tests say what that job is.\n"
    "A reader who opens a file should find the formula, the paper it comes from, and the shapes of every "
    "tensor written beside the code.\n"
    "When a number appears on a page, the build computed it; nobody typed it by hand, so it cannot drift "
    "away from the code that produced it.\n"
)


def test_a_clean_document_passes_every_rule() -> None:
    assert check(GOOD) == []
    assert check(GOOD, CleanConfig(min_punct_lines=0.9)) == []


def test_length_rules() -> None:
    assert check("Too short to keep.") == ["too_short"]
    assert check(GOOD, CleanConfig(max_words=20)) == ["too_long"]
    assert check("Too short to keep.", CleanConfig(min_words=None)) == []


def test_mean_word_length() -> None:
    tiny = " ".join(["a b c d."] * 20)  # mean word length 1.25
    assert "mean_word_length" in check(tiny, CleanConfig(top_ngram=None, dup_ngram=None))
    long = " ".join(f"extraordinarilyverbose{i}" for i in range(60)) + "."
    assert check(long) == ["mean_word_length"]


def test_symbol_ratio_counts_hashes_and_ellipses() -> None:
    s = doc_stats("one # two ... three … four")
    assert s["words"] == 7 and s["symbol_ratio"] == pytest.approx(3 / 7)
    doc = GOOD + " ".join(f"#tag{i}" for i in range(12)) + "\n"
    assert s["words"] > 0 and check(doc) == ["symbol_ratio"]


def test_alpha_words_and_line_punctuation() -> None:
    numbers = GOOD + " ".join(str(1000 + i) for i in range(40)) + ".\n"
    assert check(numbers) == ["alpha_words"]
    menu = "\n".join(f"Home page link number {w} of the site menu bar" for w in "abcdefghij") + "\n"
    assert doc_stats(menu)["punct_lines"] == 0.0
    assert "line_punctuation" in check(
        menu, CleanConfig(min_punct_lines=0.12, top_ngram=None, dup_ngram=None)
    )
    assert "line_punctuation" not in check(menu, CleanConfig(top_ngram=None, dup_ngram=None))


def test_duplicate_lines() -> None:
    lines = GOOD.splitlines()
    doc = "\n".join(lines + [lines[0]] * 2)
    s = doc_stats(doc)
    assert s["dup_line_frac"] == pytest.approx(2 / 5)
    assert s["dup_line_chars"] == pytest.approx(
        2 * len(lines[0]) / (sum(map(len, lines)) + 2 * len(lines[0]))
    )
    assert "duplicate_lines" in check(doc)
    assert "duplicate_lines" not in check(doc, CleanConfig(max_dup_line_frac=0.5, max_dup_line_chars=0.5))


def test_ngram_fractions_by_hand() -> None:
    # words: ab cd ab cd ef (10 characters); the 2-gram "ab cd" occurs twice: 4 chars × 2 / 10
    s = doc_stats("ab cd ab cd ef", ngrams=(2, 3))
    assert s["top_2gram"] == pytest.approx(0.8)
    assert s["dup_2gram"] == pytest.approx(0.8)  # ab cd ab cd are inside a repeated 2-gram
    assert s["top_3gram"] == 0.0 and s["dup_3gram"] == 0.0  # no 3-gram repeats
    spam = GOOD + " ".join(["buy cheap pills now"] * 15) + ".\n"
    assert set(check(spam)) == {"top_ngram", "duplicate_ngrams"}


def test_nonprintable() -> None:
    assert check(GOOD + "\x00\x07") == ["nonprintable"]
    assert check(GOOD + "\ufffd") == ["nonprintable"]
    assert check(GOOD + "\x00", CleanConfig(max_nonprintable=0.01)) == []


def test_report_and_stream() -> None:
    docs = [GOOD, "short.", GOOD + "\x00", "tiny\x00"]
    report = CleanReport(max_examples=1)
    out = list(clean_stream(docs, report=report))
    assert [r for _, r in out] == [[], ["too_short"], ["nonprintable"], ["too_short", "nonprintable"]]
    assert (report.seen, report.kept) == (4, 1)
    assert report.removed == {"too_short": 2, "nonprintable": 2}
    assert report.first_reason == {"too_short": 2, "nonprintable": 1}
    assert sum(report.first_reason.values()) == report.seen - report.kept
    assert report.examples["too_short"] == ["short."]
    assert [r["rule"] for r in report.rows()] == ["too_short", "nonprintable"]
    assert set(RULES) >= set(report.removed)


def test_config_from_dict() -> None:
    cfg = CleanConfig.from_dict({"min_words": 5, "top_ngram": {"2": 0.5}})
    assert cfg.min_words == 5 and cfg.top_ngram == {2: 0.5}
    with pytest.raises(ValueError, match="unknown clean setting"):
        CleanConfig.from_dict({"min_wrods": 5})
