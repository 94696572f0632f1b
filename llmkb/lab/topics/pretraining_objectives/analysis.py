"""Pure helpers of the pretraining-objectives lab: task text, held-out task sets, exact scoring, the
sample-efficiency ratios."""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence

import numpy as np

from llmkb.lab.topics.pretraining_objectives.names import ALPHABET, HELD_OUT, TASK_LEN, TASKS

__all__ = [
    "efficiency",
    "eval_pairs",
    "exact_match",
    "is_held_out",
    "span_accuracy",
    "task_line",
    "task_text",
]


def task_line(task: str, rng: random.Random, length: int = TASK_LEN) -> tuple[str, str]:
    """One task as ``(prompt, answer)``: ``"rev qwe="`` and ``"ewq"``; ``add`` sums two digits (``"add 7+5="``).

    Raises:
        ValueError: an unknown task.
    """
    if task == "add":
        a, b = rng.randrange(10), rng.randrange(10)
        return f"add {a}+{b}=", str(a + b)
    s = "".join(rng.choice(ALPHABET) for _ in range(length))
    answers = {"copy": s, "rev": s[::-1], "sort": "".join(sorted(s))}
    if task not in answers:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    return f"{task} {s}=", answers[task]


def is_held_out(prompt: str) -> bool:
    """Whether a copy/reverse/sort input is kept out of training (one in :data:`HELD_OUT`, by CRC-32 of the
    letters). Sums are never held out: the 100 one-digit sums are a table, all of it in training."""
    if prompt.startswith("add "):
        return False
    return zlib.crc32(prompt.split(" ")[1].encode()) % HELD_OUT == 0


def task_text(n_lines: int, seed: int) -> str:
    """``n_lines`` training task lines, tasks in turn, each ``prompt + answer + "\\n"``, held-out inputs skipped."""
    rng = random.Random(seed)
    lines: list[str] = []
    while len(lines) < n_lines:
        prompt, answer = task_line(TASKS[len(lines) % len(TASKS)], rng)
        if not is_held_out(prompt):
            lines.append(prompt + answer + "\n")
    return "".join(lines)


def eval_pairs(task: str, n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` scoring instances ``(prompt, answer)`` of ``task``, inputs held out of training (sums excepted)."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    while len(pairs) < n:
        prompt, answer = task_line(task, rng)
        if task == "add" or is_held_out(prompt):
            pairs.append((prompt, answer))
    return pairs


def exact_match(predicted: Sequence[str], answers: Sequence[str]) -> float:
    """Fraction of answers reproduced exactly."""
    if len(predicted) != len(answers) or not answers:
        raise ValueError(
            f"need as many predictions as answers (> 0), got {len(predicted)} and {len(answers)}"
        )
    return float(np.mean([p == a for p, a in zip(predicted, answers, strict=True)]))


def span_accuracy(predicted: Sequence[Sequence[int]], truth: Sequence[Sequence[int]]) -> float:
    """Fraction of span tokens filled with the true token (all spans pooled)."""
    p, t = np.asarray(predicted), np.asarray(truth)
    if p.shape != t.shape or p.size == 0:
        raise ValueError(f"predicted and true spans must have one shape, got {p.shape} and {t.shape}")
    return float((p == t).mean())


def efficiency(losses: Sequence[float], seen: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    """Loss drop of one curve per token seen and per token predicted: ``(L_0 - L_end) / N``.

    Args:
        losses: held-out loss at each evaluation (the first is the untrained model).
        seen: input tokens seen up to each evaluation.
        predicted: tokens with a loss up to each evaluation.
    """
    drop = float(losses[0] - losses[-1])
    return {"drop": drop, "per_seen": drop / seen[-1], "per_predicted": drop / predicted[-1]}
