"""The budgeted main context (llmkb/memory/manager.py): never over budget, newest first, updates supersede."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmkb.data.conversations import generate
from llmkb.memory.manager import POLICIES, MemoryManager
from llmkb.memory.reader import answer


def words(s: str) -> int:
    return len(s.split())


def chars(s: str) -> int:
    return max(1, len(s) // 4)


def fed(policy: str, seed: int, n_turns: int, count=words, budget: int = 100) -> tuple[MemoryManager, object]:
    c = generate(seed, n_turns=n_turns)
    m = MemoryManager(policy, budget, count)
    for msg in c.messages:
        m.observe(msg.turn, msg.role, msg.text)
    return m, c


@settings(max_examples=40, deadline=None)
@given(
    policy=st.sampled_from(POLICIES),
    seed=st.integers(0, 10_000),
    n_turns=st.integers(96, 160),
    budget=st.integers(12, 2500),
    share=st.floats(0.05, 0.95),
    count=st.sampled_from([words, chars]),
)
def test_the_budget_is_never_exceeded(policy, seed, n_turns, budget, share, count):
    m, c = fed(policy, seed, n_turns, count)
    m.share = share
    for q in c.questions:
        ctx = m.context(q.text, budget)
        assert ctx.tokens <= budget
        assert ctx.segments[-1].kind == "question" and ctx.count("question") == 1
        kinds = [s.kind for s in ctx.segments]
        assert kinds == sorted(kinds, key=["memory", "message", "question"].index)  # memory, recent, question
        shown = [s.text for s in ctx.segments if s.kind == "message"]
        assert shown == [s.text for s in m.messages[len(m.messages) - len(shown) :]]  # the newest, contiguous
        if policy in ("none", "truncation"):
            assert ctx.count("memory") == 0


def test_truncation_with_room_for_everything_is_the_whole_history():
    m, c = fed("truncation", 0, 100)
    total = sum(s.tokens for s in m.messages)
    ctx = m.context(c.questions[0].text, total + 20)
    assert ctx.count("message") == len(c.messages)
    assert all(answer(ctx.reading(), q.attribute) == q.answer for q in c.questions)
    none, _ = fed("none", 0, 100)
    assert none.context("which car do i drive?", 50).count("message") == 0


def test_updates_supersede_old_facts_in_every_memory():
    old = ["I live in oslo.", "I drive a kia."]
    chat = ["The bus was late.", "Traffic was bad.", "The concert was too loud."] * 8  # no first person
    new = ["I moved to perth last month.", "Sorry, i got that wrong: i drive a fiat, not kia."]
    for policy in ("summary", "recall", "archival", "facts"):
        m = MemoryManager(policy, 80, words)
        for t, text in enumerate(old + chat + new + chat):
            m.observe(t, "user", text)
        for attr, q, want in (
            ("city", "which city do i live in now?", "perth"),
            ("car", "what car do i drive?", "fiat"),
        ):
            ctx = m.context(q)
            assert ctx.count("message") < len(m.messages) - 2  # both statements were evicted
            assert answer(ctx.reading(), attr) == want, (policy, ctx.reading())
    facts = MemoryManager("facts", 60, words)
    for t, text in enumerate(old + new):
        facts.observe(t, "user", text)
    assert {f.value for f in facts.facts.current()} == {"perth", "fiat"}


def test_summary_keeps_first_person_user_sentences():
    m = MemoryManager("summary", 30, words)
    for t, text in enumerate(["I drive a kia. The bus was late.", "My sister lives in oslo."] + ["Ok."] * 20):
        m.observe(t, "user", text)
        m.observe(t, "assistant", "I see.")
    mem = [s.text for s in m.context("what car do i drive?").segments if s.kind == "memory"]
    assert mem == ["I drive a kia.", "My sister lives in oslo."]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="unknown memory policy 'lru'"):
        MemoryManager("lru", 10, words)
    with pytest.raises(ValueError, match="at least 1 token"):
        MemoryManager("none", 0, words)
    with pytest.raises(ValueError, match="memory_share"):
        MemoryManager("facts", 10, words, memory_share=1.0)
    with pytest.raises(ValueError, match="more than the budget of 3"):
        MemoryManager("facts", 3, words).context("which city do i live in now?")


def test_archival_ranks_by_embedding_when_given_an_encoder():
    concepts = [("city", "perth", "oslo", "moved"), ("bus", "late")]

    def embed(texts):  # a toy encoder of two concepts, places and transport, plus a little noise; unit length
        v = np.array([[float(any(w in t.lower() for w in c)) for c in concepts] + [1e-3] for t in texts])
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    calls = []
    history = ["I moved to perth last month.", "The bus was late."] + ["Ok."] * 30
    dense = MemoryManager("archival", 40, words, embed=lambda t: calls.append(len(t)) or embed(t))
    bm25 = MemoryManager("archival", 40, words)
    for t, text in enumerate(history):
        dense.observe(t, "user", text)
        bm25.observe(t, "user", text)
    mem = [s.text for s in dense.context("which city now?").segments if s.kind == "memory"]
    assert mem[0] == "I moved to perth last month." and calls  # shares no word with the question
    assert bm25.context("which city now?").count("memory") == 0
