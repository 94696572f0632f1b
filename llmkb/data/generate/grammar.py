"""English-like sentences from a probabilistic context-free grammar (PCFG).

A PCFG rewrites a non-terminal by one of its productions, chosen with the production's probability,
until only words remain (Booth & Thompson 1973, "Applying probability measures to abstract languages").
Recursive productions (a relative clause, a prepositional phrase, a clause after *that*) are what make the
language unbounded; past ``max_depth`` only the non-recursive productions of a symbol are allowed, so every
derivation ends. Words are drawn from small lexicons with Zipf-like weights ``1 / rank``, as in natural
text, where a few words are very common and most are rare.
"""

from __future__ import annotations

import random

__all__ = ["GRAMMAR", "LEXICON", "document", "sentence"]

#: ``symbol -> [(weight, production)]``; a production is a tuple of symbols and words.
GRAMMAR: dict[str, list[tuple[float, tuple[str, ...]]]] = {
    "S": [(0.75, ("NP", "VP")), (0.15, ("NP", "VP", "CONJ", "NP", "VP")), (0.10, ("ADVP", "NP", "VP"))],
    "NP": [(0.45, ("DET", "N")), (0.25, ("DET", "ADJ", "N")), (0.15, ("DET", "N", "PP")),
           (0.05, ("DET", "N", "that", "VP")), (0.10, ("NAME",))],
    "VP": [(0.40, ("VT", "NP")), (0.20, ("VI",)), (0.15, ("VI", "ADV")), (0.15, ("VT", "NP", "PP")),
           (0.10, ("VS", "that", "S"))],
    "PP": [(1.0, ("P", "NP"))],
    "ADVP": [(1.0, ("ADV_S", ","))],
}  # fmt: skip

_RECURSIVE = {"S", "NP", "VP", "PP"}

#: Word lists of the pre-terminals, most frequent first.
LEXICON: dict[str, tuple[str, ...]] = {
    "DET": ("the", "a", "every", "this", "some", "one", "no", "that"),
    "N": ("model", "reader", "function", "token", "teacher", "student", "program", "garden", "river",
          "window", "letter", "machine", "city", "story", "number", "question", "friend", "signal", "bridge",
          "lamp", "market", "engine", "forest", "child", "library", "pattern", "sentence", "robot"),
    "ADJ": ("small", "old", "quiet", "bright", "careful", "strange", "green", "simple", "heavy", "clever",
            "empty", "warm", "distant", "honest", "broken"),
    "NAME": ("Ada", "Alan", "Grace", "Claude", "Edsger", "Barbara", "Donald", "Frances"),
    "VT": ("sees", "finds", "builds", "reads", "follows", "writes", "carries", "opens", "counts", "trusts",
           "remembers", "answers", "repairs", "watches"),
    "VI": ("sleeps", "waits", "runs", "laughs", "arrives", "falls", "listens", "works", "stops", "wanders"),
    "VS": ("says", "knows", "believes", "thinks", "hopes", "notices"),
    "ADV": ("slowly", "quickly", "again", "today", "quietly", "twice", "alone", "there"),
    "ADV_S": ("later", "then", "yesterday", "suddenly", "at night", "in the morning", "meanwhile"),
    "P": ("near", "under", "with", "behind", "from", "inside", "across", "beside"),
    "CONJ": (", and", ", but", ", so", "while"),
}  # fmt: skip


def _expand(symbol: str, rng: random.Random, depth: int, max_depth: int, out: list[str]) -> None:
    if symbol in LEXICON:
        words = LEXICON[symbol]
        out.append(rng.choices(words, weights=[1.0 / (i + 1) for i in range(len(words))])[0])
        return
    if symbol not in GRAMMAR:
        out.append(symbol)  # a literal word
        return
    options = GRAMMAR[symbol]
    if depth >= max_depth:  # only productions without a recursive symbol
        options = [o for o in options if not any(s in _RECURSIVE for s in o[1])] or [
            min(options, key=lambda o: len(o[1]))
        ]
    _, production = rng.choices(options, weights=[w for w, _ in options])[0]
    for s in production:
        _expand(s, rng, depth + 1, max_depth, out)


def sentence(rng: random.Random, max_depth: int = 6) -> str:
    """One sentence: a derivation of ``S``, capitalised, punctuation attached, ending in a full stop."""
    words: list[str] = []
    _expand("S", rng, 0, max_depth, words)
    text = " ".join(words).replace(" ,", ",")
    return text[0].upper() + text[1:] + "."


def document(rng: random.Random, min_sentences: int = 3, max_sentences: int = 8, max_depth: int = 6) -> str:
    """A paragraph of ``min_sentences`` … ``max_sentences`` sentences."""
    n = rng.randint(min_sentences, max_sentences)
    return " ".join(sentence(rng, max_depth) for _ in range(n))
