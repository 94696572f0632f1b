"""Mem0-style fact memory (Chhikara et al. 2025, arXiv:2504.19413): extract salient facts, then update the store.

Mem0 runs two phases on each new message. **Extraction** turns the message into candidate facts; **update**
compares each candidate with the stored facts most similar to it and applies one of four operations:

* ``ADD`` — nothing stored on this subject: store the new fact;
* ``UPDATE`` — a stored fact on the same subject says something else: replace it (the new value supersedes);
* ``DELETE`` — the message contradicts or retracts a stored fact: remove it;
* ``NOOP`` — the store already says this: change nothing.

In Mem0 a language model does both phases. Here extraction is :func:`llmkb.memory.reader.extract` (the
conversation templates, exactly) and "most similar stored fact" is the stored fact with the same attribute, so
each decision is exact; what the benchmark then measures is the *policy* — keep one current value per subject —
not an LLM's skill at applying it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from llmkb.data.conversations import ATTRIBUTES, sentences
from llmkb.memory.reader import extract

__all__ = ["Fact", "FactStore", "Op"]


class Op(StrEnum):
    """The four update operations of Mem0."""

    ADD = "ADD"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    NOOP = "NOOP"


@dataclass(frozen=True)
class Fact:
    """A stored fact: the attribute's current value and the turn that last set it."""

    attribute: str
    value: str
    turn: int

    def sentence(self) -> str:
        """The fact in the attribute's canonical phrasing, as the context shows it (``I live in oslo.``)."""
        s = ATTRIBUTES[self.attribute].templates[0].format(v=self.value)
        return s[:1].upper() + s[1:] + "."


class FactStore:
    """One current fact per attribute, maintained by :meth:`observe`; ``log`` keeps every operation applied."""

    def __init__(self) -> None:
        self.facts: dict[str, Fact] = {}
        self.log: list[tuple[Op, str, str | None]] = []

    def update(self, attribute: str, value: str | None, turn: int) -> Op:
        """Apply one candidate fact (``value`` ``None``: a retraction) and return the operation chosen."""
        current = self.facts.get(attribute)
        if value is None:
            op = Op.DELETE if current else Op.NOOP
            self.facts.pop(attribute, None)
        elif current is None:
            op = Op.ADD
        elif current.value == value:
            op = Op.NOOP
        else:
            op = Op.UPDATE
        if op in (Op.ADD, Op.UPDATE):
            self.facts[attribute] = Fact(attribute, value, turn)  # type: ignore[arg-type]
        self.log.append((op, attribute, value))
        return op

    def observe(self, text: str, turn: int) -> list[Op]:
        """Extract the facts a user message states and apply each, in order."""
        ops = []
        for s in sentences(text):
            fact = extract(s)
            if fact:
                ops.append(self.update(fact[0], fact[1], turn))
        return ops

    def current(self) -> list[Fact]:
        """The stored facts, oldest update first."""
        return sorted(self.facts.values(), key=lambda f: f.turn)
