"""The main context under a token budget, and the policies that decide what fills it (MemGPT, Packer et al.
2023, arXiv:2310.08560; Mem0, Chhikara et al. 2025, arXiv:2504.19413).

A model reads at most ``budget`` tokens. When a question comes, the context is assembled as

.. math::

    \\underbrace{\\text{memory}}_{\\le \\lfloor s (B - q) \\rfloor}
    \\;+\\; \\underbrace{\\text{recent messages}}_{\\le B - q - \\text{cap}}
    \\;+\\; \\underbrace{\\text{question}}_{q} \\;\\le\\; B,

with :math:`B` the budget, :math:`q` the question's tokens and :math:`s` the memory share. The recent window is
the newest messages that fit, whole and contiguous; older ones are *evicted* (they stay in the recall store).
Each segment is tokenized on its own (as chat templates tokenize messages), and the context's size is the sum.
The policies differ only in the memory part:

==============  ==========================================================================================
``none``        the question alone: the model remembers nothing.
``truncation``  no memory part; the recent window gets the whole room (FIFO eviction).
``summary``     an extractive summary of the evicted messages: their first-person user sentences (with
                ``i``, ``my`` or ``me``), the newest that fit — the same as a running summary that drops its oldest line
                when full. Deterministic; it cannot tell a fact from chit-chat in the first person.
``recall``      BM25 search of the question over the evicted messages (the recall store), best first.
``archival``    BM25 search over the archival store's sentences of evicted user messages, best first (or, with
                an ``embed`` encoder, every such sentence by embedding similarity, most similar first).
``facts``       the fact store (Mem0 extract-update over every user message so far), one canonical sentence
                per fact, most recently updated first.
==============  ==========================================================================================

Memory items are taken best first while they fit, then shown in conversation order, so a reader that trusts
the latest statement sees them in the order they were said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from llmkb.data.conversations import sentences
from llmkb.memory.facts import FactStore
from llmkb.memory.stores import ArchivalStore, Embed, Item, RecallStore

__all__ = ["POLICIES", "Context", "MemoryManager", "Segment"]

_FIRST_PERSON = {"i", "my", "me"}

POLICIES = ("none", "truncation", "summary", "recall", "archival", "facts")
"""The memory policies, from none to Mem0-style facts."""


@dataclass(frozen=True)
class Segment:
    """A piece of the context: ``kind`` is ``memory``, ``message`` or ``question``."""

    kind: str
    text: str
    tokens: int


@dataclass
class Context:
    """What the model reads for one question."""

    segments: list[Segment] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        """Tokens of the whole context (segments counted one by one)."""
        return sum(s.tokens for s in self.segments)

    def reading(self) -> str:
        """The text a reader answers from: every segment but the question, in order."""
        return "\n".join(s.text for s in self.segments if s.kind != "question")

    def count(self, kind: str) -> int:
        """How many segments of ``kind`` the context holds."""
        return sum(s.kind == kind for s in self.segments)


class MemoryManager:
    """Messages in, a budgeted context out.

    Args:
        policy: one of :data:`POLICIES`.
        budget: the context size in tokens (question included).
        count: the token counter (the lab uses a BPE tokenizer; any ``str -> int`` works).
        memory_share: the fraction of the room left after the question that the memory part may use.
        embed: a sentence encoder; the ``archival`` policy then ranks passages by embedding similarity to the
            question instead of BM25 (other policies ignore it).

    Raises:
        ValueError: on an unknown policy, a budget below 1 or a share outside (0, 1).
    """

    def __init__(
        self,
        policy: str,
        budget: int,
        count: Callable[[str], int],
        memory_share: float = 0.5,
        embed: Embed | None = None,
    ):
        if policy not in POLICIES:
            raise ValueError(f"unknown memory policy {policy!r}: use one of {', '.join(POLICIES)}")
        if budget < 1:
            raise ValueError(f"budget must be at least 1 token, got {budget}")
        if not 0 < memory_share < 1:
            raise ValueError(f"memory_share must be between 0 and 1, got {memory_share}")
        self.policy, self.budget, self.count, self.share, self.embed = (
            policy,
            budget,
            count,
            memory_share,
            embed,
        )
        self.messages: list[Segment] = []
        self.turns: list[int] = []
        self.recall = RecallStore()
        self.archive = ArchivalStore()
        self.facts = FactStore()

    def observe(self, turn: int, role: str, text: str) -> None:
        """Take in the next message: it joins the history, and the stores the policy keeps."""
        index = len(self.messages)
        shown = f"{role}: {text}"
        self.messages.append(Segment("message", shown, self.count(shown)))
        self.turns.append(turn)
        self.recall.add(role, text)
        if role == "user" and self.policy == "archival":
            self.archive.insert(index, text)
        if role == "user" and self.policy == "facts":
            self.facts.observe(text, turn)

    def context(self, question: str, budget: int | None = None) -> Context:
        """The context for ``question`` within ``budget`` (default: the manager's).

        Raises:
            ValueError: if the question alone does not fit the budget.
        """
        budget = self.budget if budget is None else budget
        q = Segment("question", f"user: {question}", self.count(f"user: {question}"))
        if q.tokens > budget:
            raise ValueError(
                f"the question takes {q.tokens} tokens, more than the budget of {budget}: raise it"
            )
        if self.policy == "none":
            return Context([q])
        room = budget - q.tokens
        cap = 0 if self.policy == "truncation" else int(self.share * room)
        start, used = len(self.messages), 0
        while start > 0 and used + self.messages[start - 1].tokens <= room - cap:
            start -= 1
            used += self.messages[start].tokens
        memory = self._memory(question, start, cap)
        return Context(memory + self.messages[start:] + [q])

    def _memory(self, question: str, start: int, cap: int) -> list[Segment]:
        """Memory segments for messages evicted before ``start``, ``cap`` tokens at most, in conversation order."""
        if cap <= 0:
            return []
        ranked: list[tuple[int, str]]  # (order key, text), best first
        if self.policy == "summary":
            lines = [
                (i * 100 + j, s[:1].upper() + s[1:] + ".")
                for i, m in enumerate(self.messages[:start])
                if m.text.startswith("user: ")
                for j, s in enumerate(sentences(m.text[len("user: ") :]))
                if _FIRST_PERSON & set(s.replace(":", " ").replace(",", " ").split())
            ]
            ranked = lines[::-1]
        elif self.policy == "recall":
            ranked = [(k, self.recall.items[k].text) for k in self.recall.search(question, start)]
        elif self.policy == "archival":
            items: list[Item] = self.archive.items
            ranked = [(k, items[k].text) for k in self.archive.search(question, start, self.embed)]
        else:  # facts
            ranked = [(f.turn, f.sentence()) for f in reversed(self.facts.current())]
        chosen, used = [], 0
        for key, text in ranked:
            n = self.count(text)
            if used + n <= cap:
                chosen.append((key, Segment("memory", text, n)))
                used += n
        return [seg for _, seg in sorted(chosen, key=lambda c: c[0])]
