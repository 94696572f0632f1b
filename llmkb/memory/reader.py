"""The deterministic reader and fact extractor: exact answers from the text a model would have in context.

A tiny model cannot read a conversation and answer "which city do I live in now?", so the memory lab uses a
reader that can, within a strict limit: it recognises the fact sentences of :mod:`llmkb.data.conversations`
(any of an attribute's phrasings, plain or as a correction) and nothing else. Asked about an attribute it scans
the context from the end and answers with the value of the **last** sentence that states that attribute —
recency decides, as it should when later statements supersede earlier ones. It cannot paraphrase, infer
("I moved to the capital of Norway"), notice a fact stated in a form outside the templates, or weigh two
conflicting sentences other than by their order. What it reads is therefore a test of *what the memory put in
the context and in which order*, which is the thing being measured; an LLM reader would add its own errors
(lost in the middle, distraction) on top.
"""

from __future__ import annotations

import functools
import re

from llmkb.data.conversations import ATTRIBUTES, fact_pattern, sentences

__all__ = ["RETRACTION", "answer", "extract"]

RETRACTION = re.compile(r"^please forget (?:what i said about )?my (?P<noun>\w+)$")
"""A retraction: ``please forget my car`` — the fact is deleted, not replaced."""
_SPEAKER = re.compile(r"^(?:user|assistant): ")


@functools.cache
def _patterns() -> dict[str, re.Pattern[str]]:
    return {a: fact_pattern(a) for a in ATTRIBUTES}


@functools.cache
def extract(sentence: str) -> tuple[str, str | None] | None:
    """The fact a normalised sentence states, as ``(attribute, value)``; ``(attribute, None)`` for a
    retraction of it; ``None`` when the sentence states no fact about the user."""
    m = RETRACTION.match(sentence)
    if m:
        attr = next((a for a, spec in ATTRIBUTES.items() if spec.noun == m["noun"]), None)
        return (attr, None) if attr else None
    for attr, pattern in _patterns().items():
        m = pattern.match(sentence)
        if m:
            value = next(v for k, v in m.groupdict().items() if k.startswith("v") and v is not None)
            return attr, value
    return None


def answer(text: str, attribute: str) -> str | None:
    """The value of ``attribute`` stated last in ``text``; ``None`` if no sentence states it or the last one
    retracts it. A sentence may start with its speaker (``user: i live in oslo``), as messages in a context do.

    Raises:
        KeyError: for an attribute the conversations do not have.
    """
    if attribute not in ATTRIBUTES:
        raise KeyError(f"unknown attribute {attribute!r}: use one of {', '.join(ATTRIBUTES)}")
    for s in reversed(sentences(text)):
        fact = extract(_SPEAKER.sub("", s))
        if fact and fact[0] == attribute:
            return fact[1]
    return None
