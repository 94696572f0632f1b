"""Generated sequence-to-sequence tasks with exact answers, and their word-level vocabulary.

Each task draws an [`Example`][llmkb.data.seq2seq_tasks.Example] (source words, target words) from a
``random.Random``; the answer is computed, never sampled, so every output can be scored exactly:

* ``classify`` — the topic and the sentiment of a templated sentence (``not`` flips the sentiment):
  ``the striker was not great today`` → ``sports negative``.
* ``translate`` — English-like clauses to a made-up language that is not a word-by-word cipher: subject,
  object, verb order (SOV), adjectives after their noun, nouns inflected for number and case and adjectives for
  number as one fused word, the verb agreeing with its subject, articles dropped. Clauses joined by ``and``.
* ``summarize`` — a paragraph of four facts and some filler, in random order → the facts in a fixed order.
* ``qa`` — a question, ``|``, and a passage of facts about several people → the answer span, copied.
* ``entities`` — a templated sentence → one BIO tag per word for person names, numbers, dates and
  identifiers (a day is a number token too: only its context makes it a date).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Example", "Vocab", "TASKS", "make_examples", "encode_pairs", "PAD", "BOS", "EOS"]

PAD, BOS, EOS = 0, 1, 2
"""Special token ids: padding, start of the target (also the prompt/target separator), end of the target."""
_SPECIALS = ("<pad>", "<bos>", "<eos>")


@dataclass(frozen=True)
class Example:
    """One task instance: ``source`` and ``target`` word tuples."""

    source: tuple[str, ...]
    target: tuple[str, ...]


# ---------------------------------------------------------------------------------------------- classify
_TOPICS = {
    "sports": ("striker", "goalkeeper", "match", "coach", "team", "league"),
    "finance": ("bank", "market", "investor", "budget", "stock", "loan"),
    "weather": ("storm", "forecast", "rain", "wind", "sunshine", "snow"),
    "science": ("experiment", "telescope", "lab", "theory", "physicist", "vaccine"),
}
_GOOD, _BAD = ("great", "excellent", "wonderful"), ("terrible", "awful", "poor")
_WHEN = ("today", "yesterday", "this week", "again", "at last")


def classify(rng: random.Random) -> Example:
    """``the <topic noun> was [not] <good|bad adjective> <when>`` → ``<topic> <positive|negative>``."""
    topic = rng.choice(sorted(_TOPICS))
    good = rng.random() < 0.5
    negated = rng.random() < 0.4
    words = ["the", rng.choice(_TOPICS[topic]), rng.choice(("was", "looked", "seemed"))]
    words += ["not"] if negated else []
    words += [rng.choice(_GOOD if good else _BAD), *rng.choice(_WHEN).split()]
    return Example(tuple(words), (topic, "positive" if good != negated else "negative"))


# ---------------------------------------------------------------------------------------------- translate
_NOUNS = {"dog": "vak", "cat": "miru", "bird": "tel", "fox": "osan", "horse": "druv", "farmer": "palo",
          "teacher": "senki", "child": "imo", "king": "raz", "queen": "raza"}  # fmt: skip
_PLURALS = {"child": "children", "fox": "foxes"}
_ADJS = {"big": "gor", "small": "nis", "red": "kel", "old": "sur", "young": "bam", "happy": "lu"}
_VERBS = {
    "sees": "dun",
    "chases": "parak",
    "likes": "omi",
    "helps": "vel",
    "finds": "tas",
    "follows": "sokor",
}
_CASE = {"subject": "ko", "object": "ra"}


def _noun_phrase(rng: random.Random, n_adj: int, case: str) -> tuple[list[str], list[str], bool]:
    """A source noun phrase (article, adjectives, noun) and its translation (noun, adjectives), and plurality."""
    noun = rng.choice(sorted(_NOUNS))
    plural = rng.random() < 0.4
    adjs = rng.sample(sorted(_ADJS), n_adj)
    article = "the" if plural else rng.choice(("the", "a"))
    src = [article, *adjs, (_PLURALS.get(noun, noun + "s") if plural else noun)]
    tgt = [
        _NOUNS[noun] + ("li" if plural else "") + _CASE[case],
        *(_ADJS[a] + ("i" if plural else "") for a in adjs),
    ]
    return src, tgt, plural


def translation(rng: random.Random, clauses: int, max_adj: int = 2) -> Example:
    """``clauses`` clauses ``S V O`` joined by ``and`` → ``S_subj adj* O_obj adj* V(+agreement)`` joined by ``i``.

    Args:
        rng: the random source.
        clauses: number of clauses (the source grows by 5 to 9 words per clause, plus ``and``).
        max_adj: most adjectives per noun phrase.
    """
    src: list[str] = []
    tgt: list[str] = []
    for i in range(clauses):
        if i:
            src.append("and")
            tgt.append("i")
        s_src, s_tgt, s_plural = _noun_phrase(rng, rng.randint(0, max_adj), "subject")
        o_src, o_tgt, _ = _noun_phrase(rng, rng.randint(0, max_adj), "object")
        verb = rng.choice(sorted(_VERBS))
        src += [*s_src, verb[:-1] if s_plural else verb, *o_src]  # "the dog sees", "the dogs see"
        tgt += [*s_tgt, *o_tgt, _VERBS[verb] + ("en" if s_plural else "")]
    return Example(tuple(src), tuple(tgt))


def translate(rng: random.Random) -> Example:
    """A translation pair of 1 to 3 clauses."""
    return translation(rng, rng.randint(1, 3))


# ---------------------------------------------------------------------------------------------- summarize
_COMPANIES = ("acme", "globex", "initech", "umbrella", "hooli", "vandelay", "stark", "wayne")
_CITIES = ("paris", "rome", "oslo", "lima", "cairo", "tokyo", "quito", "dublin")
_METRICS = ("profit", "revenue", "loss", "growth")
_FIRST = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
_LAST = ("smith", "jones", "brown", "lee", "khan", "garcia")
_FILLERS = (
    "analysts expect more news soon",
    "the market was quiet today",
    "shares moved little",
    "a meeting is planned next month",
    "the report was published online",
)


def summarize(rng: random.Random) -> Example:
    """Four facts (company, city, metric and amount, chief) among 1-3 fillers → ``company city metric N chief``."""
    company, city, metric = rng.choice(_COMPANIES), rng.choice(_CITIES), rng.choice(_METRICS)
    amount, chief = str(rng.randint(2, 99)), rng.choice(_FIRST)
    facts = [
        f"{company} reported a {metric} of {amount} million",
        f"the company is based in {city}",
        f"its chief is {chief}",
        *rng.sample(_FILLERS, rng.randint(1, 3)),
    ]
    rng.shuffle(facts)
    words = " . ".join(facts).split() + ["."]
    return Example(tuple(words), (company, city, metric, amount, chief))


# ---------------------------------------------------------------------------------------------- qa
_COLORS = ("red", "blue", "green", "black", "white")
_THINGS = ("car", "bike", "boat", "house", "piano")


def qa(rng: random.Random) -> Example:
    """``question | passage`` about three people → the answer span (a city, a company or ``color thing``)."""
    people = rng.sample(_FIRST, 3)
    facts, answers = [], {}
    for name in people:
        city, company = rng.choice(_CITIES), rng.choice(_COMPANIES)
        thing = [rng.choice(_COLORS), rng.choice(_THINGS)]
        facts += [f"{name} lives in {city}", f"{name} works at {company}", f"{name} owns a {' '.join(thing)}"]
        answers[name] = {"live": [city], "work": [company], "own": thing}
    rng.shuffle(facts)
    name, what = rng.choice(people), rng.choice(("live", "work", "own"))
    question = f"what does {name} own ?" if what == "own" else f"where does {name} {what} ?"
    words = question.split() + ["|"] + " . ".join(facts).split() + ["."]
    return Example(tuple(words), tuple(answers[name][what]))


# ---------------------------------------------------------------------------------------------- entities
_MONTHS = ("january", "march", "may", "july", "october", "december")
_IDS = tuple(f"{a}{b}{n}" for a in "kqx" for b in "ab" for n in (7, 42))


def _person(rng: random.Random) -> list[tuple[str, str]]:
    first = [(rng.choice(_FIRST), "B-PER")]
    return first + ([(rng.choice(_LAST), "I-PER")] if rng.random() < 0.5 else [])


def entities(rng: random.Random) -> Example:
    """A templated sentence with names, numbers, dates and identifiers → its BIO tags, one per word."""
    date = [(rng.choice(_MONTHS), "B-DATE"), (str(rng.randint(1, 28)), "I-DATE")]
    num = [(str(rng.randint(1, 99)), "B-NUM")]
    ident = [(rng.choice(_IDS), "B-ID")]
    o = lambda text: [(w, "O") for w in text.split()]  # noqa: E731
    templates = [
        lambda: _person(rng) + o("paid") + num + o("dollars on") + date + o("for order") + ident,
        lambda: o("order") + ident + o("was shipped to") + _person(rng) + o("on") + date,
        lambda: _person(rng) + o("and") + _person(rng) + o("met on") + date,
        lambda: o("on") + date + _person(rng) + o("bought") + num + o("boxes with code") + ident,
        lambda: o("ticket") + ident + o("lists") + num + o("items for") + _person(rng),
    ]
    pairs = rng.choice(templates)()
    return Example(tuple(w for w, _ in pairs), tuple(t for _, t in pairs))


TASKS: dict[str, Callable[[random.Random], Example]] = {
    "classify": classify,
    "translate": translate,
    "summarize": summarize,
    "qa": qa,
    "entities": entities,
}
"""The generated tasks by name."""


def make_examples(task: str, n: int, seed: int) -> list[Example]:
    """``n`` examples of ``task`` drawn with ``random.Random(seed)``."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")
    rng = random.Random(seed)
    return [TASKS[task](rng) for _ in range(n)]


class Vocab:
    """Word <-> id mapping with ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2, then the words in sorted order."""

    def __init__(self, words: Iterable[str]) -> None:
        self.itos = list(_SPECIALS) + sorted(set(words) - set(_SPECIALS))
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def build(cls, *example_lists: Sequence[Example]) -> Vocab:
        """The vocabulary of every source and target word in the given examples."""
        return cls(w for ex in example_lists for e in ex for w in (*e.source, *e.target))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, words: Sequence[str]) -> list[int]:
        """Ids of ``words`` (a word outside the vocabulary raises ``KeyError``)."""
        return [self.stoi[w] for w in words]

    def decode(self, ids: Sequence[int]) -> list[str]:
        """Words of ``ids``."""
        return [self.itos[i] for i in ids]


def _pad(rows: list[list[int]]) -> Tensor:
    out = torch.full((len(rows), max(map(len, rows))), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out


def encode_pairs(examples: Sequence[Example], vocab: Vocab) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Right-padded tensors for teacher forcing.

    Returns:
        ``src (N, S)``, ``src_mask`` bool ``(N, S)``, ``tgt_in (N, T)`` = ``BOS y``, ``tgt_out (N, T)`` =
        ``y EOS`` with ``-100`` at padding (ignored by the loss).
    """
    src = _pad([vocab.encode(e.source) for e in examples])
    tgt = [vocab.encode(e.target) for e in examples]
    tgt_in = _pad([[BOS, *t] for t in tgt])
    tgt_out = _pad([[*t, EOS] for t in tgt])
    lengths = torch.tensor([len(t) + 1 for t in tgt])
    tgt_out = tgt_out.masked_fill(torch.arange(tgt_out.shape[1])[None, :] >= lengths[:, None], -100)
    return src, src != PAD, tgt_in, tgt_out
