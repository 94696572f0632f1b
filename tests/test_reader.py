"""The deterministic reader (llmkb/memory/reader.py): the last statement of an attribute wins."""

from __future__ import annotations

import pytest

from llmkb.memory.reader import answer, extract


def test_the_last_statement_wins_and_corrections_count():
    text = "user: I live in oslo. The bus was late.\nassistant: Nice, oslo sounds lovely.\nuser: I moved to perth last month."
    assert answer(text, "city") == "perth"
    assert answer(text + "\nuser: Sorry, i got that wrong: i live in quito, not perth.", "city") == "quito"
    assert answer("My sister lives in oslo and loves it.", "city") is None
    assert answer(text, "car") is None
    assert answer(text + " Please forget my city.", "city") is None


def test_extract_and_bad_attributes():
    assert extract("i drive a kia") == ("car", "kia")
    assert extract("we named our puppy otis") == ("pet", "otis")
    assert extract("please forget what i said about my job") == ("job", None)
    assert extract("please forget my shoes") is None and extract("i drive a kia fast") is None
    with pytest.raises(KeyError, match="unknown attribute 'shoe'"):
        answer("i drive a kia", "shoe")
