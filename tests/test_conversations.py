"""The long-conversation generator (llmkb/data/conversations.py): exact answers, supersession, no false facts."""

from __future__ import annotations

import pytest

from llmkb.data.conversations import ATTRIBUTES, CORRECTION, fact_pattern, generate, sentences
from llmkb.memory.reader import extract


def test_fact_pattern_reads_plain_and_corrected_statements():
    p = fact_pattern("city")
    m = p.match("sorry, i got that wrong: i moved to oslo last month, not quito")
    assert m and m["v1"] == "oslo" and m["old"] == "quito"
    assert p.match("i live in perth")["v0"] == "perth"
    assert p.match("my sister lives in perth") is None and p.match("which city do i live in now") is None
    assert sentences("I live in Oslo. Tell me more!  Fine?") == ["i live in oslo", "tell me more", "fine"]


def test_values_are_one_word_and_disjoint_across_attributes():
    seen: set[str] = set()
    for spec in ATTRIBUTES.values():
        assert all(v.isalpha() and v.islower() for v in spec.values)
        assert not seen & set(spec.values)
        seen |= set(spec.values)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_answers_are_the_latest_stated_values(seed):
    c = generate(seed, n_turns=200)
    assert c == generate(seed, n_turns=200) and c.messages != generate(seed + 100, n_turns=200).messages
    assert [m.role for m in c.messages[:4]] == ["user", "assistant", "user", "assistant"]
    assert len(c.messages) == 400 and [q.attribute for q in c.questions] == list(ATTRIBUTES)
    by_turn = {m.turn: m.text for m in c.messages if m.role == "user"}
    for q in c.questions:
        events = c.events[q.attribute]
        assert events[0][0] < 100 and events[0][1] == "state"
        assert [t for t, _, _ in events] == sorted({t for t, _, _ in events})
        assert q.answer == events[-1][2] and q.last_turn == events[-1][0]
        assert q.changes == sum(k in ("update", "correct") for _, k, _ in events)
        assert q.answer not in q.old_values
        for t, kind, value in events:  # each event is read back from its message, and only there
            found = [extract(s) for s in sentences(by_turn[t])]
            assert (q.attribute, value) in found, (t, kind, by_turn[t])
            if kind == "correct":
                assert ", not " in by_turn[t].lower()
    counted = {m.turn for m in c.messages if m.role == "user" and any(extract(s) for s in sentences(m.text))}
    assert counted == {t for evs in c.events.values() for t, _, _ in evs}


def test_updates_happen_and_some_facts_never_change():
    qs = [q for s in range(6) for q in generate(s, n_turns=160).questions]
    assert {q.changes for q in qs} == {0, 1, 2, 3}
    assert any(CORRECTION.split(":")[0] in m.text.lower() for m in generate(0).messages)


def test_assistant_and_chit_chat_never_state_a_fact():
    c = generate(3)
    for m in c.messages:
        if m.role == "assistant":
            assert all(extract(s) is None for s in sentences(m.text)), m


def test_too_short_conversations_are_refused():
    with pytest.raises(ValueError, match="too short"):
        generate(0, n_turns=20)
