"""Pure helpers of the pretraining-objectives lab: task text, exact scoring, the sample-efficiency ratios."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from llmkb.lab.topics.pretraining_objectives.names import TASKS

__all__ = ["efficiency", "exact_match", "span_accuracy", "task_line", "task_text"]


def task_line(task: str, rng: random.Random, length: int = 5) -> tuple[str, str]:
    """One task as ``(prompt, answer)``: ``"rev qwert="`` and ``"trewq"``; ``add`` sums two 3-digit numbers.

    Raises:
        ValueError: an unknown task.
    """
    if task == "add":
        a, b = rng.randrange(100, 1000), rng.randrange(100, 1000)
        return f"add {a}+{b}=", str(a + b)
    s = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(length))
    answers = {"copy": s, "rev": s[::-1], "sort": "".join(sorted(s))}
    if task not in answers:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    return f"{task} {s}=", answers[task]


def task_text(n_lines: int, seed: int) -> str:
    """``n_lines`` task lines, tasks in turn, each ``prompt + answer + "\\n"``."""
    rng = random.Random(seed)
    return "".join("".join(task_line(TASKS[i % len(TASKS)], rng)) + "\n" for i in range(n_lines))


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
