"""Self-consistency: sample several reasoning chains per question and answer by majority vote.

Wang et al. 2022 ("Self-consistency improves chain of thought reasoning in language models",
arXiv:2203.11171): instead of one greedy chain, sample ``n`` chains ``y_1 … y_n`` at a temperature above 0,
read each chain's final answer ``a_i = parse(y_i)``, and return the most frequent one,

    a* = argmax_a  sum_i 1[a_i = a].

Different chains can make different mistakes but tend to agree on the right answer, so the vote is more often
right than a single chain when a single chain is right more often than any one wrong answer. The price is
compute: ``n`` times the generated tokens (the decode tokens that dominate the cost of long chains).

**Tie rule** (this module's, stated because the paper leaves it open): among answers with the most votes, the
one seen *earliest* in the sample order wins; a chain whose answer cannot be parsed (``None``) never votes, and
a question whose chains are all unparseable gets ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from llmkb.infer.sampling import SamplingConfig
from llmkb.nn.model import GPT
from llmkb.train.sequences import generate_responses

__all__ = ["Votes", "majority_vote", "self_consistency"]


def majority_vote(answers: Sequence[str | None]) -> str | None:
    """The most frequent non-``None`` answer; ties go to the earliest seen; ``None`` if no answer parses.

    >>> majority_vote(["7", None, "9", "9", "7"]), majority_vote([None, None])
    ('7', None)
    """
    counts: dict[str, int] = {}  # insertion order = order first seen
    for a in answers:
        if a is not None:
            counts[a] = counts.get(a, 0) + 1
    if not counts:
        return None
    best = max(counts.values())
    return next(a for a, c in counts.items() if c == best)


@dataclass(frozen=True)
class Votes:
    """The chains sampled for each question.

    Attributes:
        answers: ``answers[q][i]``, the parsed answer of chain ``i`` of question ``q`` (``None``: unparseable).
        tokens: ``tokens[q][i]``, the number of tokens chain ``i`` generated (its end token included).
    """

    answers: list[list[str | None]]
    tokens: list[list[int]]

    def vote(self, n: int | None = None) -> list[str | None]:
        """Each question's majority answer over its first ``n`` chains (all of them by default)."""
        return [majority_vote(a[:n]) for a in self.answers]


@torch.no_grad()
def self_consistency(
    model: GPT,
    prompts: Sequence[Sequence[int]],
    n: int,
    parse: Callable[[list[int]], str | None],
    *,
    max_new: int,
    end_id: int,
    sampling: SamplingConfig,
    generator: torch.Generator | None = None,
) -> Votes:
    """Sample ``n`` chains for every prompt and parse each chain's answer.

    Args:
        model: the language model.
        prompts: token ids of each question.
        n: chains per question.
        parse: a chain's generated ids -> its answer (``None`` if there is none).
        max_new: most tokens per chain.
        end_id: the token that ends a chain.
        sampling: the sampling settings (temperature 0 would make every chain the greedy one).
        generator: random source of the samples.

    Returns:
        Every chain's answer and token count; :meth:`Votes.vote` gives the majority answers.
    """
    if n < 1:
        raise ValueError(f"n (chains per question) must be >= 1, got {n}")
    flat = [p for p in prompts for _ in range(n)]  # question q's chains are rows q*n … q*n + n - 1
    chains = generate_responses(model, flat, max_new, end_id, sampling, generator)
    answers = [parse(c) for c in chains]
    return Votes(
        [answers[q * n : (q + 1) * n] for q in range(len(prompts))],
        [[len(c) for c in chains[q * n : (q + 1) * n]] for q in range(len(prompts))],
    )
