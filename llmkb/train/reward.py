"""Preferences and the reward model: a programmatic judge, preference pairs (optionally noisy), Bradley–Terry.

The judge scores a response to an instruction example (:class:`llmkb.data.instruct.Example`) in ``[0, 1]``:

    score = 0.5 [format: only digits, ended by <end>] + 0.5 (characters right at their position) / max(|y|, |y*|)

so the correct answer scores 1, a wrong one less, and a response that breaks the format loses half. A pair
prefers the higher score; label noise flips a pair with probability ``p``.

The reward model ``r_phi(x, y)`` is the backbone with a scalar head read at the last token
(:class:`llmkb.train.sequences.ScalarHead`), trained with the Bradley–Terry likelihood of the preferences
(Bradley & Terry 1952; Christiano et al. 2017, arXiv:1706.03741; Ouyang et al. 2022, arXiv:2203.02155):

    P(y_c > y_r | x) = sigma(r(x, y_c) - r(x, y_r)),    L = -E log sigma(r(x, y_c) - r(x, y_r)).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from llmkb.data.instruct import END_ID, Example, decode_response, prompt_ids
from llmkb.train.optim import AdamW
from llmkb.train.sequences import ScalarHead, pad_right

__all__ = ["Pair", "bt_loss", "judge", "make_pairs", "pair_batch", "reward_accuracy", "score_responses",
           "train_reward_model"]  # fmt: skip


@dataclass(frozen=True)
class Pair:
    """A preference: ``chosen`` is preferred to ``rejected`` as a response to ``prompt`` (all id lists)."""

    prompt: list[int]
    chosen: list[int]
    rejected: list[int]


def judge(ex: Example, response: Sequence[int]) -> float:
    """The true score of ``response`` (ids, ``<end>`` included if it ended) to ``ex``, in ``[0, 1]``."""
    text, ended = decode_response(response)
    fmt_ok = ended and text.isdigit() and text.isascii()
    right = sum(a == b for a, b in zip(text, ex.output, strict=False))
    return 0.5 * float(fmt_ok) + 0.5 * right / max(len(text), len(ex.output))


def make_pairs(
    examples: Sequence[Example],
    responses: Sequence[Sequence[Sequence[int]]],
    noise: float = 0.0,
    seed: int = 0,
) -> list[Pair]:
    """Pairs from candidate responses: for each example, its best vs. its worst candidate by the judge.

    Args:
        examples: the instructions.
        responses: for each example, its candidate responses (ids).
        noise: probability that a pair's labels are swapped.
        seed: seeds the noise.

    Returns:
        One pair per example whose candidates do not all tie.
    """
    rng = random.Random(seed)
    pairs = []
    for ex, cands in zip(examples, responses, strict=True):
        ranked = sorted(cands, key=lambda r: judge(ex, r))
        lo, hi = list(ranked[0]), list(ranked[-1])
        if judge(ex, hi) == judge(ex, lo):
            continue
        if rng.random() < noise:
            lo, hi = hi, lo
        pairs.append(Pair(prompt_ids(ex), hi, lo))
    return pairs


def pair_batch(
    prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]]
) -> tuple[Tensor, Tensor, Tensor]:
    """Right-padded ``prompt ++ response`` ids ``(B, T)``, their lengths ``(B,)`` and prompt lengths ``(B,)``."""
    ids, real = pad_right([[*p, *r] for p, r in zip(prompts, responses, strict=True)], END_ID)
    return ids, real.sum(1), torch.tensor([len(p) for p in prompts])


def score_responses(
    rm: ScalarHead, prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]]
) -> Tensor:
    """The reward model's score of each response, ``(B,)``."""
    ids, lengths, _ = pair_batch(prompts, responses)
    return rm.score(ids, lengths)


def bt_loss(r_chosen: Tensor, r_rejected: Tensor) -> Tensor:
    """Bradley–Terry negative log-likelihood ``-mean log sigma(r_c - r_r)``."""
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def _margins(rm: ScalarHead, pairs: Sequence[Pair]) -> Tensor:
    prompts = [p.prompt for p in pairs] * 2
    scores = score_responses(rm, prompts, [p.chosen for p in pairs] + [p.rejected for p in pairs])
    return scores[: len(pairs)] - scores[len(pairs) :]  # (B,) r_c - r_r


@torch.no_grad()
def reward_accuracy(rm: ScalarHead, pairs: Sequence[Pair]) -> float:
    """Fraction of pairs where the reward model scores the chosen response higher."""
    was = rm.training
    rm.eval()
    acc = float((_margins(rm, pairs) > 0).float().mean())
    rm.train(was)
    return acc


def train_reward_model(
    rm: ScalarHead, pairs: Sequence[Pair], steps: int, batch_size: int = 16, lr: float = 1e-3, seed: int = 0
) -> list[float]:
    """Minimize the Bradley–Terry loss with AdamW on random minibatches of ``pairs``; returns the losses."""
    g = torch.Generator().manual_seed(seed)
    opt = AdamW([p for p in rm.parameters() if p.requires_grad], lr=lr, weight_decay=0.0, max_grad_norm=1.0)
    rm.train()
    losses = []
    for _ in range(steps):
        pick = torch.randint(0, len(pairs), (batch_size,), generator=g).tolist()
        margin = _margins(rm, [pairs[i] for i in pick])
        loss = bt_loss(margin, torch.zeros_like(margin))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    rm.eval()
    return losses
