"""The recall and archival stores (llmkb/memory/stores.py): retrieval returns planted facts."""

from __future__ import annotations

from llmkb.data.conversations import generate
from llmkb.memory.stores import ArchivalStore, RecallStore


def test_retrieval_returns_the_planted_fact():
    archive, recall = ArchivalStore(), RecallStore()
    chat = ["The bus was late.", "My sister lives in perth and loves it.", "I found a nice cafe near work."]
    for i, text in enumerate(chat * 3 + ["Traffic was bad. I live in oslo."] + chat):
        archive.insert(i, text)
        recall.add("user", text)
    top = archive.search("which city do i live in now?", before=100)
    assert archive.items[top[0]].text == "I live in oslo." and archive.items[top[0]].message == 9
    assert recall.search("which city do i live in now?", before=100)[0] == 9
    assert all(archive.items[i].message < 9 for i in archive.search("which city do i live in now?", before=9))
    assert archive.search("anything", before=0) == []


def test_stores_keep_every_message_and_sentence():
    c = generate(2, n_turns=120)
    archive, recall = ArchivalStore(), RecallStore()
    for i, m in enumerate(c.messages):
        recall.add(m.role, m.text)
        if m.role == "user":
            archive.insert(i, m.text)
    assert len(recall.items) == 240 and recall.items[1].text.startswith("assistant: ")
    assert len(archive.items) == sum(m.text.count(".") for m in c.messages if m.role == "user")
