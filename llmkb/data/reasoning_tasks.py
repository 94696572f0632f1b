"""Multi-step problems with verifiable answers, at a chosen difficulty, each with a direct and a scratchpad target.

Four generators draw a [`Problem`][llmkb.data.reasoning_tasks.Problem] from a ``random.Random``; ``size`` is the
difficulty knob (digits, list length or number of operations). The answer is computed, never sampled, so every
output can be checked exactly (:func:`verify`). Every target ends in ``#`` and the answer; a *direct* target is
only that (``#1023``), a *scratchpad* target first writes the intermediate steps, one per comma (the idea of Nye
et al. 2021, "Show your work", arXiv:2112.00114; the layouts here are this module's own):

* ``add`` — two ``size``-digit numbers, ``345+678``; one column per step, least significant first, with the
  carry in and the two-digit column sum: ``5+8+0=13,4+7+1=12,3+6+1=10,#1023``. The answer's digits are the
  units of the column sums read backwards, after the last carry.
* ``mul`` — a ``size``-digit number times one digit, ``347*6``: ``7*6+0=42,4*6+4=28,3*6+2=20,#2082``.
* ``sort`` — ``size`` digits to sort, ``3121``: first how many of each digit there are (a counting sort),
  ``1:2,2:1,3:1,#1123``.
* ``word`` — a story with ``size`` operations, ``ann has 3. gets 5. loses 2. how many?``: one running total per
  step, ``3+5=8,8-2=6,#6``.

Problems become instruction examples (:func:`to_example`) for the chat template of :mod:`llmkb.data.instruct`,
so models train with :func:`llmkb.train.finetune.sft` and decode with
:func:`llmkb.train.sequences.generate_responses`.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llmkb.data.instruct import Example
from llmkb.errors import UsageError

__all__ = [
    "Problem",
    "TASKS",
    "FORMATS",
    "add_problem",
    "make_problems",
    "mul_problem",
    "parse_answer",
    "verify",
    "to_example",
]

ANSWER_MARK = "#"
"""The character that introduces the answer in every target."""

FORMATS: tuple[str, ...] = ("direct", "scratchpad")
"""The two ways a model is trained to answer."""


@dataclass(frozen=True)
class Problem:
    """One problem.

    Attributes:
        task: a key of :data:`TASKS`.
        size: its difficulty (digits, list length or operations).
        prompt: the question, e.g. ``"345+678"``.
        answer: the correct answer, e.g. ``"1023"``.
        steps: the scratchpad steps, e.g. ``("5+8+0=13", "4+7+1=12", "3+6+1=10")``.
    """

    task: str
    size: int
    prompt: str
    answer: str
    steps: tuple[str, ...]

    def target(self, fmt: str) -> str:
        """The response to train on: ``#answer`` (``direct``) or ``step,step,…,#answer`` (``scratchpad``)."""
        if fmt == "direct":
            return ANSWER_MARK + self.answer
        if fmt == "scratchpad":
            return "".join(s + "," for s in self.steps) + ANSWER_MARK + self.answer
        raise UsageError(f"unknown answer format {fmt!r}; choose one of: {', '.join(FORMATS)}")


def _number(rng: random.Random, digits: int) -> int:
    """A number of exactly ``digits`` digits (0-9 for one digit)."""
    return rng.randrange(10 ** (digits - 1) if digits > 1 else 0, 10**digits)


def add_problem(a: int, b: int, size: int) -> Problem:
    """The addition problem ``a+b`` of ``size``-digit numbers: one step per column, ``a_i+b_i+c=s``."""
    da, db = str(a).zfill(size)[::-1], str(b).zfill(size)[::-1]  # least significant digit first
    steps, carry = [], 0
    for x, y in zip(da, db, strict=True):
        s = int(x) + int(y) + carry
        steps.append(f"{x}+{y}+{carry}={s:02d}")
        carry = s // 10
    return Problem("add", size, f"{a}+{b}", str(a + b), tuple(steps))


def addition(rng: random.Random, size: int) -> Problem:
    """``a+b`` with two random ``size``-digit numbers (:func:`add_problem`)."""
    return add_problem(_number(rng, size), _number(rng, size), size)


def mul_problem(a: int, d: int) -> Problem:
    """The product ``a*d`` of a number and one digit: one step per digit of ``a``, ``a_i*d+c=p``."""
    steps, carry = [], 0
    for x in str(a)[::-1]:
        p = int(x) * d + carry
        steps.append(f"{x}*{d}+{carry}={p:02d}")
        carry = p // 10
    return Problem("mul", len(str(a)), f"{a}*{d}", str(a * d), tuple(steps))


def multiplication(rng: random.Random, size: int) -> Problem:
    """``a*d``: a random ``size``-digit number times a digit 2-9 (:func:`mul_problem`)."""
    return mul_problem(_number(rng, size), rng.randint(2, 9))


def sorting(rng: random.Random, size: int) -> Problem:
    """``size`` random digits to sort ascending; the steps count each digit that occurs (``digit:count``)."""
    xs = [rng.randint(0, 9) for _ in range(size)]
    counts = sorted(Counter(xs).items())
    answer = "".join(str(x) for x in sorted(xs))
    return Problem("sort", size, "".join(map(str, xs)), answer, tuple(f"{d}:{c}" for d, c in counts))


_NAMES = ("ann", "bob", "cat", "dan", "eve", "kim", "max", "sam")


def word_problem(rng: random.Random, size: int) -> Problem:
    """``<name> has N. gets N. loses N. … how many?`` with ``size`` operations; steps ``total±n=new``.

    A loss never takes the total below zero, and every number is 1 to 9.
    """
    total = rng.randint(1, 9)
    words, steps = [f"{rng.choice(_NAMES)} has {total}."], []
    for _ in range(size):
        n = rng.randint(1, 9)
        if total >= n and rng.random() < 0.5:
            words.append(f"loses {n}.")
            steps.append(f"{total}-{n}={total - n}")
            total -= n
        else:
            words.append(f"gets {n}.")
            steps.append(f"{total}+{n}={total + n}")
            total += n
    return Problem("word", size, " ".join([*words, "how many?"]), str(total), tuple(steps))


TASKS: dict[str, Callable[[random.Random, int], Problem]] = {
    "add": addition,
    "mul": multiplication,
    "sort": sorting,
    "word": word_problem,
}
"""The problem generators by name; each takes ``(rng, size)``."""


def make_problems(task: str, sizes: Sequence[int], n: int, seed: int) -> list[Problem]:
    """``n`` problems of ``task`` drawn with ``random.Random(seed)``, sizes cycling through ``sizes``.

    Raises:
        UsageError: an unknown task or a size below 1.
    """
    if task not in TASKS:
        raise UsageError(f"unknown reasoning task {task!r}; choose one of: {', '.join(TASKS)}")
    if not sizes or min(sizes) < 1:
        raise UsageError(f"problem sizes must be whole numbers >= 1, got {list(sizes)}")
    rng = random.Random(seed)
    return [TASKS[task](rng, sizes[i % len(sizes)]) for i in range(n)]


def parse_answer(text: str) -> str | None:
    """The answer a response gives: the digits after its last ``#``, or ``None`` if there are none.

    >>> parse_answer("5+8+0=13,#13"), parse_answer("13"), parse_answer("#1x")
    ('13', None, None)
    """
    if ANSWER_MARK not in text:
        return None
    ans = text.rsplit(ANSWER_MARK, 1)[1]
    return ans if ans.isdigit() and ans.isascii() else None


def verify(problem: Problem, text: str) -> bool:
    """The verifiable reward: does the response's answer (:func:`parse_answer`) equal the problem's answer?

    Only the answer counts: a response with wrong steps and the right answer passes, one with no ``#`` fails.
    """
    return parse_answer(text) == problem.answer


def to_example(problem: Problem, fmt: str) -> Example:
    """The instruction example ``<user> task: prompt <assistant> target <end>`` for answer format ``fmt``."""
    return Example(problem.task, problem.prompt, problem.target(fmt))
