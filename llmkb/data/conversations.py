"""A seeded generator of long conversations about a user, with questions whose exact answers are known.

A conversation alternates user and assistant messages for hundreds of turns. Most user messages are chit-chat
(distractors that reuse the facts' words: a sister who *lives* in a city, a film about a *pilot*); some state a
fact about the user — their city, job, pet's name, favourite colour, food, sport, instrument, car. A fact is
stated once, then may be **updated** (a new value, in any of the attribute's phrasings), **corrected** (``sorry,
i got that wrong: i live in oslo, not quito`` — the old value appears in the sentence) or **restated**. At the
end one question per attribute asks for the latest value, so a memory that answers with an older value is
caught (a *stale* answer).

Every fact sentence follows one of :data:`ATTRIBUTES`' templates; :func:`fact_pattern` compiles them into
the regular expression that :mod:`llmkb.memory.reader` uses to read a fact back, and no distractor matches
one (a test checks). The templates, values and distractors are this module's own.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

__all__ = [
    "ATTRIBUTES",
    "CORRECTION",
    "CORRECTION_SHARE",
    "MAX_CHANGES",
    "Attribute",
    "Conversation",
    "Message",
    "Question",
    "fact_pattern",
    "generate",
    "sentences",
]


@dataclass(frozen=True)
class Attribute:
    """One fact about the user.

    Attributes:
        noun: the word a retraction names (``please forget my city``).
        question: the question asked at the end of a conversation.
        values: the possible values, one lower-case word each, disjoint across attributes.
        templates: the phrasings that state the fact, ``{v}`` the value; the first is the canonical one.
    """

    noun: str
    question: str
    values: tuple[str, ...]
    templates: tuple[str, ...]


ATTRIBUTES: dict[str, Attribute] = {
    "city": Attribute("city", "which city do i live in now?",
                      ("lisbon", "osaka", "denver", "nairobi", "krakow", "quito", "perth", "oslo"),
                      ("i live in {v}", "i moved to {v} last month", "my home is in {v} now",
                       "these days i am based in {v}")),
    "job": Attribute("job", "what is my job now?",
                     ("nurse", "plumber", "architect", "baker", "pilot", "chemist", "librarian", "welder"),
                     ("i work as a {v}", "i started a new job as a {v}", "my job is {v} now",
                      "i am a {v} by trade")),
    "pet": Attribute("pet", "what is my pet called?",
                     ("biscuit", "pepper", "mango", "ziggy", "noodle", "pickle", "otis", "clover"),
                     ("my pet is called {v}", "i adopted a dog named {v}", "i have a new kitten called {v}",
                      "we named our puppy {v}")),
    "colour": Attribute("colour", "what is my favourite colour?",
                        ("teal", "crimson", "ochre", "violet", "amber", "indigo", "maroon", "olive"),
                        ("my favourite colour is {v}", "i love wearing {v} lately",
                         "{v} is the colour i like most")),
    "food": Attribute("food", "what is my favourite food?",
                      ("ramen", "paella", "falafel", "risotto", "dumplings", "tacos", "curry", "lasagne"),
                      ("my favourite food is {v}", "i could eat {v} every day", "nothing beats {v} for dinner")),
    "sport": Attribute("sport", "which sport do i play?",
                       ("tennis", "rowing", "fencing", "climbing", "judo", "cricket", "squash", "hockey"),
                       ("i play {v} on weekends", "i took up {v} recently", "my sport is {v}")),
    "instrument": Attribute("instrument", "which instrument am i learning?",
                            ("cello", "banjo", "oboe", "ukulele", "harp", "trumpet", "flute", "drums"),
                            ("i am learning the {v}", "i practise the {v} every evening",
                             "i switched to the {v}")),
    "car": Attribute("car", "what car do i drive?",
                     ("volvo", "fiat", "skoda", "toyota", "kia", "saab", "lada", "tesla"),
                     ("i drive a {v}", "i bought a {v}", "my car is a {v}")),
}  # fmt: skip
"""The facts a conversation can state, by attribute name."""

CORRECTION = "sorry, i got that wrong: {s}, not {old}"
"""A correction: ``{s}`` a fact sentence with the new value, ``{old}`` the value it replaces."""

CORRECTION_SHARE = 1 / 3
"""The probability that a change of a fact is phrased as a correction rather than a plain update."""

MAX_CHANGES = 3
"""How many times, at most, :func:`generate` changes a fact by default."""

_EVERYONE = ("my sister", "my neighbour", "a colleague", "my cousin", "an old friend")
_CHAT = (
    "{p} lives in {city} and loves it", "{p} works as a {job} in {city}", "i watched a film about a {job}",
    "{p} has a dog that looks like a {food}", "the weather was grey all day", "work was busy again today",
    "i read an article about {city} on the train", "{p} plays {sport} badly", "i might cook {food} tonight",
    "the new season of that show is out", "my phone battery died twice today", "{p} painted a room {colour}",
    "i saw a {car} parked on the pavement", "{p} is learning the {instrument} too", "the bus was late",
    "i need to renew my passport soon", "we talked about {sport} at lunch", "traffic near the bridge was bad",
    "i found a nice cafe near work", "my plants need more light", "the concert was too loud",
)  # fmt: skip
_REPLIES = (
    "that sounds nice",
    "tell me more",
    "i see",
    "oh really",
    "how did that go",
    "good to know",
    "that must be tiring",
    "ha, fair enough",
    "{v} sounds lovely",
    "nice, {v} is a good choice",
)


@dataclass(frozen=True)
class Message:
    """One message: ``turn`` counts user messages (the assistant's reply shares its turn)."""

    turn: int
    role: str
    text: str


@dataclass(frozen=True)
class Question:
    """A question at the end of a conversation and its exact answer, the attribute's latest value.

    Attributes:
        attribute: key of :data:`ATTRIBUTES`.
        text: the question.
        answer: the latest value.
        old_values: earlier values, oldest first (an answer among them is *stale*).
        changes: how many times the value changed after it was first stated (corrections included).
        last_turn: the turn that last stated the answer.
    """

    attribute: str
    text: str
    answer: str
    old_values: tuple[str, ...]
    changes: int
    last_turn: int


@dataclass(frozen=True)
class Conversation:
    """Messages in order and the questions asked after the last one."""

    messages: tuple[Message, ...]
    questions: tuple[Question, ...]
    seed: int
    events: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    """Per attribute, ``(turn, kind, value)`` with kind ``state``, ``update``, ``correct`` or ``restate``."""


def sentences(text: str) -> list[str]:
    """Split a message into normalised sentences: lower case, split at ``. ! ?``, trailing punctuation off."""
    parts = re.split(r"[.!?]+(?:\s+|$)", text.strip().lower())
    return [p.strip() for p in parts if p.strip()]


def fact_pattern(attribute: str) -> re.Pattern[str]:
    """The regular expression a whole sentence matches when it states ``attribute``'s value (group ``v``),
    in any template, plain or as a correction (then group ``old`` is the replaced value)."""
    alts = []
    for i, template in enumerate(ATTRIBUTES[attribute].templates):
        head, tail = template.split("{v}")
        alts.append(f"{re.escape(head)}(?P<v{i}>\\w+){re.escape(tail)}")
    return re.compile(rf"^(?:sorry, i got that wrong: )?(?:{'|'.join(alts)})(?:, not (?P<old>\w+))?$")


def _capital(s: str) -> str:
    return s[:1].upper() + s[1:] + "."


def _chat(rng: random.Random) -> str:
    slots = {a: rng.choice(ATTRIBUTES[a].values) for a in ("city", "job", "food", "sport", "colour", "car")}
    slots["instrument"] = rng.choice(ATTRIBUTES["instrument"].values)
    return rng.choice(_CHAT).format(p=rng.choice(_EVERYONE), **slots)


def generate(seed: int, n_turns: int = 300, max_changes: int = MAX_CHANGES) -> Conversation:
    """A conversation of ``n_turns`` user messages, each followed by an assistant reply.

    Every attribute is first stated in the first half; it then changes 0 to ``max_changes`` times (updates,
    a share ``CORRECTION_SHARE`` of them corrections on average) and may be restated, all at distinct turns; each user message carries at
    most one fact sentence, with or without a chit-chat sentence, in random order.

    Raises:
        ValueError: if ``n_turns`` leaves too few turns for the facts.
    """
    rng = random.Random(seed)
    slots_needed = len(ATTRIBUTES) * (max_changes + 3)
    if n_turns < 2 * slots_needed:
        raise ValueError(f"n_turns={n_turns} is too short for the facts: use at least {2 * slots_needed}")
    free = list(range(n_turns))
    rng.shuffle(free)
    early = sorted(t for t in free if t < n_turns // 2)
    rng.shuffle(early)
    taken: set[int] = set()
    by_turn: dict[int, tuple[str, str]] = {}  # turn -> (value, sentence)
    events: dict[str, list[tuple[int, str, str]]] = {}
    questions = []
    for attr, spec in ATTRIBUTES.items():
        first = next(t for t in early if t not in taken)
        taken.add(first)
        k = rng.randint(0, max_changes)
        later = sorted(
            rng.sample([t for t in range(first + 1, n_turns) if t not in taken], k + rng.randint(0, 2))
        )
        taken.update(later)
        change_turns = set(rng.sample(later, k))
        value = rng.choice(spec.values)
        history = [value]
        by_turn[first] = (value, rng.choice(spec.templates).format(v=value))
        evs = [(first, "state", value)]
        last = first
        for t in later:
            if t in change_turns:
                old, value = value, rng.choice([v for v in spec.values if v != value])
                history.append(value)
                s = rng.choice(spec.templates).format(v=value)
                kind = "correct" if rng.random() < CORRECTION_SHARE else "update"
                by_turn[t] = (value, CORRECTION.format(s=s, old=old) if kind == "correct" else s)
            else:
                kind = "restate"
                by_turn[t] = (value, rng.choice(spec.templates).format(v=value))
            evs.append((t, kind, value))
            last = t
        events[attr] = evs
        old_values = tuple(dict.fromkeys(v for v in history[:-1] if v != value))
        questions.append(Question(attr, spec.question, value, old_values, k, last))
    messages = []
    for t in range(n_turns):
        parts = [_chat(rng) for _ in range(rng.choice((1, 1, 2)))]
        mention = None
        if t in by_turn:
            mention = by_turn[t][1]
            parts = [mention] + parts[:1] if rng.random() < 0.5 else parts[:1] + [mention]
            parts = parts if rng.random() < 0.6 else [mention]
        messages.append(Message(t, "user", " ".join(_capital(p) for p in parts)))
        reply = rng.choice(_REPLIES)
        echo = by_turn[t][0] if t in by_turn else rng.choice(ATTRIBUTES["food"].values)
        messages.append(Message(t, "assistant", _capital(reply.format(v=echo))))
    return Conversation(tuple(messages), tuple(questions), seed, events)
