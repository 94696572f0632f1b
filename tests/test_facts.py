"""Mem0-style extract-update (llmkb/memory/facts.py): ADD, UPDATE, DELETE, NOOP."""

from __future__ import annotations

from llmkb.memory.facts import Fact, FactStore, Op


def test_the_four_operations():
    store = FactStore()
    assert store.update("city", "oslo", 1) is Op.ADD
    assert store.update("city", "oslo", 2) is Op.NOOP and store.facts["city"].turn == 1
    assert store.update("city", "perth", 3) is Op.UPDATE and store.facts["city"] == Fact("city", "perth", 3)
    assert store.update("car", None, 4) is Op.NOOP
    assert store.update("city", None, 5) is Op.DELETE and store.facts == {}
    assert [op for op, _, _ in store.log] == [Op.ADD, Op.NOOP, Op.UPDATE, Op.NOOP, Op.DELETE]


def test_observe_extracts_from_messages_with_chit_chat():
    store = FactStore()
    assert store.observe("The bus was late. I work as a nurse.", 0) == [Op.ADD]
    assert store.observe("My sister works as a pilot in oslo.", 1) == []
    assert store.observe("Sorry, i got that wrong: i am a baker by trade, not nurse. I drive a fiat.", 2) == [
        Op.UPDATE,
        Op.ADD,
    ]
    assert [f.sentence() for f in store.current()] == ["I work as a baker.", "I drive a fiat."]
    assert store.observe("Please forget my car.", 3) == [Op.DELETE] and list(store.facts) == ["job"]
