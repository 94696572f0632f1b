"""Templated "textbook" lessons on the synthetic tasks of :mod:`llmkb.data.synthetic`.

Gunasekar et al. 2023 ("Textbooks Are All You Need", arXiv:2306.11644) trained phi-1 on model-written
explanations with exercises; Eldan & Li 2023 ("TinyStories", arXiv:2305.07759) showed that a narrow,
clean synthetic distribution lets very small models write fluently. Here the "textbook" is written by
templates instead of a model: each lesson explains one task of :mod:`llmkb.data.synthetic` (copy, reverse,
sort, associative recall) in prose, then works examples, every example in the one line format
:func:`task_line` defines::

    reverse: 3 9 1 4 -> 4 1 9 3

so a model trained on lessons can be scored on fresh task lines (:func:`task_example`).
"""

from __future__ import annotations

import random

__all__ = ["TASKS", "document", "task_example", "task_line"]

#: The tasks the lessons teach, named as in :mod:`llmkb.data.synthetic`.
TASKS: tuple[str, ...] = ("copy", "reverse", "sort", "recall")

_EXPLAIN = {
    "copy": ("To copy a sequence, write every item again in the same order.",
             "Copying keeps each item where it was: the answer is the sequence itself."),
    "reverse": ("To reverse a sequence, read it from the last item back to the first.",
                "The reverse of a sequence starts with its final item and ends with its first one."),
    "sort": ("To sort a sequence of digits, write them from the smallest to the largest.",
             "Sorting keeps every digit, repeated ones included, but puts them in increasing order."),
    "recall": ("In a recall question, letters are paired with digits, and the question names one letter.",
               "To answer a recall question, find the named letter and give the digit stored with it."),
}  # fmt: skip
_OPENINGS = ("Lesson: {task}.", "Chapter on the {task} task.", "Exercise set: {task}.", "Notes on {task}.")
_LINKS = (
    "For example:",
    "Here is a worked example:",
    "Look at this case:",
    "Another example:",
    "Try this one:",
)


def task_example(task: str, rng: random.Random, length: int | None = None) -> tuple[str, str]:
    """One example as ``(prompt, answer)``; the line is ``prompt + answer``.

    ``copy``/``reverse``/``sort`` act on 3–7 digits; ``recall`` stores 3–5 distinct letters with digits and
    asks for one: ``"recall: a=3 k=7 d=1 ? k -> "`` and ``"7"``.

    Raises:
        ValueError: an unknown task.
    """
    if task == "recall":
        keys = rng.sample("abcdefghijklmnopqrstuvwxyz", length or rng.randint(3, 5))
        vals = [str(rng.randrange(10)) for _ in keys]
        j = rng.randrange(len(keys))
        pairs = " ".join(f"{k}={v}" for k, v in zip(keys, vals, strict=True))
        return f"recall: {pairs} ? {keys[j]} -> ", vals[j]
    if task not in _EXPLAIN:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    digits = [str(rng.randrange(10)) for _ in range(length or rng.randint(3, 7))]
    answer = {"copy": digits, "reverse": digits[::-1], "sort": sorted(digits)}[task]
    return f"{task}: {' '.join(digits)} -> ", " ".join(answer)


def task_line(task: str, rng: random.Random) -> str:
    """One worked example line, ``prompt + answer``."""
    prompt, answer = task_example(task, rng)
    return prompt + answer


def document(rng: random.Random, min_examples: int = 2, max_examples: int = 5) -> str:
    """One lesson: a title, an explanation, then worked examples introduced by varied phrases."""
    task = rng.choice(TASKS)
    lines = [rng.choice(_OPENINGS).format(task=task), " ".join(rng.sample(_EXPLAIN[task], 2))]
    for _ in range(rng.randint(min_examples, max_examples)):
        lines.append(rng.choice(_LINKS))
        lines.append(task_line(task, rng))
    return "\n".join(lines)
