"""Pure helpers of the synthetic-data lab: corpus statistics, planted duplicates, mixtures, task scoring, tails."""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from llmkb.data.generate.textbook import task_example
from llmkb.nn import GPT

__all__ = [
    "answer_loss",
    "edit_words",
    "entropy_bits",
    "mixture_ids",
    "pair_with_jaccard",
    "plant_duplicates",
    "real_documents",
    "tail_share",
    "tail_tokens",
    "task_set",
    "text_stats",
]

_WORD = re.compile(r"\w+")


def real_documents() -> list[str]:
    """The real corpus as documents: CPython's pydoc topic texts, in key order (the shared model's corpus)."""
    from pydoc_data.topics import topics

    return [topics[k].strip() for k in sorted(topics)]


def entropy_bits(counts: Counter[Any]) -> float:
    """Shannon entropy ``-sum p log2 p`` of a count table, in bits."""
    n = sum(counts.values())
    return -sum(c / n * math.log2(c / n) for c in counts.values() if c) if n else 0.0


VOCAB_WORDS = 3000
"""Distinct words are counted among each source's first this many words (equal samples for a fair count)."""


def text_stats(docs: Sequence[str], words_for_vocab: int = VOCAB_WORDS) -> dict[str, float]:
    """Length, vocabulary and n-gram entropy of a set of documents.

    ``vocab`` counts distinct words among the first ``words_for_vocab`` words (a fixed sample, so sources of
    different sizes compare); ``h1`` is the byte entropy and ``h2`` the conditional entropy of a byte given the
    one before, ``H(bigrams) - H(bytes)``, both in bits per byte.
    """
    data = "\n\n".join(docs).encode("utf-8")
    words = _WORD.findall("\n".join(docs).lower())
    uni = Counter(data)
    bi = Counter(zip(data, data[1:], strict=False))
    h1 = entropy_bits(uni)
    return {
        "docs": len(docs),
        "chars": float(np.mean([len(d) for d in docs])) if docs else 0.0,
        "words": float(np.mean([len(_WORD.findall(d)) for d in docs])) if docs else 0.0,
        "vocab": len(set(words[:words_for_vocab])),
        "h1": h1,
        "h2": entropy_bits(bi) - h1,
    }


def edit_words(text: str, frac: float, rng: random.Random, vocab: Sequence[str]) -> str:
    """``text`` with a fraction ``frac`` of its (whitespace) words replaced by draws from ``vocab``."""
    words = text.split()
    for pos in rng.sample(range(len(words)), round(frac * len(words))):
        words[pos] = rng.choice(vocab)
    return " ".join(words)


def plant_duplicates(
    docs: Sequence[str], n_near: int, n_exact: int, edit: tuple[float, float], seed: int = 0
) -> tuple[list[str], list[tuple[int, int, str, float]]]:
    """``docs`` followed by planted copies: near duplicates (a fraction in ``edit`` of words replaced) and exact
    ones (case and spacing changed only), in shuffled order after the originals.

    Returns:
        The corpus and the planted pairs ``(original, copy, kind, edit fraction)``.
    """
    rng = random.Random(seed)
    vocab = sorted({w for d in docs for w in d.split()})
    sources = rng.sample(range(len(docs)), n_near + n_exact)
    copies: list[tuple[int, str, str, float]] = []
    for k, i in enumerate(sources):
        if k < n_near:
            f = rng.uniform(*edit)
            copies.append((i, edit_words(docs[i], f, rng, vocab), "near", f))
        else:
            copies.append((i, "  ".join(docs[i].upper().split()), "exact", 0.0))
    rng.shuffle(copies)
    corpus = list(docs) + [c[1] for c in copies]
    return corpus, [(i, len(docs) + k, kind, f) for k, (i, _, kind, f) in enumerate(copies)]


def pair_with_jaccard(s: float, union: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Two sets of distinct 32-bit hashes with ``|A ∪ B| = union`` and ``|A ∩ B| = round(s · union)``.

    Returns:
        ``(A, B, J)`` with ``J`` the exact Jaccard similarity (``s`` rounded to a multiple of ``1 / union``).
    """
    common = round(s * union)
    rest = union - common
    ids = rng.choice(2**32, size=union, replace=False).astype(np.uint64)
    a = np.concatenate([ids[:common], ids[common : common + rest // 2]])
    b = np.concatenate([ids[:common], ids[common + rest // 2 :]])
    return a, b, common / union


def mixture_ids(real: torch.Tensor, synthetic: torch.Tensor, frac: float, n_tokens: int) -> torch.Tensor:
    """``n_tokens`` training ids: the first ``round(frac n)`` of ``synthetic`` after the first ``n - that`` of ``real``.

    Raises:
        ValueError: a source is shorter than its share.
    """
    n_syn = round(frac * n_tokens)
    if n_syn > len(synthetic) or n_tokens - n_syn > len(real):
        raise ValueError(
            f"need {n_tokens - n_syn} real and {n_syn} synthetic tokens, have {len(real)}, {len(synthetic)}"
        )
    return torch.cat([real[: n_tokens - n_syn], synthetic[:n_syn]])


def task_set(n: int, seed: int, tasks: Sequence[str]) -> list[tuple[str, str, str]]:
    """``n`` fresh examples ``(task, prompt, answer)``, tasks in turn, each on its own line (prompt starts with a newline)."""
    rng = random.Random(f"eval:{seed}")
    return [(t, "\n" + p, a) for t, (p, a) in ((tasks[i % len(tasks)], task_example(tasks[i % len(tasks)], rng))
                                             for i in range(n))]  # fmt: skip


@torch.no_grad()
def answer_loss(model: GPT, examples: Sequence[tuple[str, str, str]]) -> dict[str, float]:
    """Mean negative log-likelihood (nats per byte) of each task's answer bytes given the prompt, and overall.

    Every example is one row, right-padded with newlines to the longest (padding comes after the answer, so a
    causal model's scores of the answer do not see it).
    """
    rows = [list((p + a).encode()) for _, p, a in examples]
    width = max(len(r) for r in rows)
    x = torch.tensor([r + [10] * (width - len(r)) for r in rows])  # (N, W)
    logp = F.log_softmax(model.eval()(x[:, :-1]).logits.float(), dim=-1)  # (N, W-1, V)
    nll = -logp.gather(-1, x[:, 1:, None])[..., 0]  # (N, W-1)
    per_task: dict[str, list[float]] = {}
    for k, (task, p, a) in enumerate(examples):
        lo, n = len(p.encode()), len(a.encode())
        per_task.setdefault(task, []).extend(nll[k, lo - 1 : lo - 1 + n].tolist())
    out = {t: float(np.mean(v)) for t, v in per_task.items()}
    out["all"] = float(np.mean([v for vs in per_task.values() for v in vs]))
    return out


def tail_tokens(ids: torch.Tensor, mass: float = 0.05, vocab: int = 256) -> list[int]:
    """The rarest tokens of ``ids`` that together hold at most ``mass`` of its occurrences (seen tokens only)."""
    counts = torch.bincount(ids, minlength=vocab)
    order = [int(i) for i in torch.argsort(counts, stable=True) if counts[i] > 0]
    tail, total = [], 0
    for i in order:
        if total + int(counts[i]) > mass * len(ids):
            break
        tail.append(i)
        total += int(counts[i])
    return tail


def tail_share(ids: torch.Tensor, tail: Sequence[int]) -> float:
    """Fraction of ``ids`` that are tail tokens."""
    return (
        float(torch.isin(ids, torch.tensor(list(tail), dtype=ids.dtype)).float().mean()) if len(ids) else 0.0
    )
