"""Pure functions of the memory lab: the token counter, scoring one conversation, aggregating over seeds."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from llmkb.data.conversations import Conversation, generate
from llmkb.lab.kit.evals import seed_stats
from llmkb.lab.topics.memory.names import TOKENIZER_SEED
from llmkb.memory import MemoryManager, answer
from llmkb.memory.embed import MiniLM
from llmkb.memory.stores import Embed
from llmkb.tokenize import BPETokenizer

__all__ = ["minilm", "bpe_counter", "conversation_tokens", "score_policy", "summarise", "by_changes"]


def bpe_counter(vocab_size: int, n_conversations: int, n_turns: int) -> tuple[Callable[[str], int], int]:
    """A token counter: llmkb's byte-level BPE (GPT-4 split pattern) trained to ``vocab_size`` on
    ``n_conversations`` generated conversations that the benchmark never uses; memoised per text.

    Returns:
        the counter and the tokenizer's vocabulary size.
    """
    corpus = "\n".join(
        m.text for s in range(n_conversations) for m in generate(TOKENIZER_SEED + s, n_turns=n_turns).messages
    )
    tok = BPETokenizer.train(corpus, vocab_size)

    @functools.cache
    def count(text: str) -> int:
        return len(tok.encode(text))

    return count, tok.vocab_size


def conversation_tokens(conv: Conversation, count: Callable[[str], int]) -> int:
    """Tokens of the whole conversation as the context shows it (``role: text`` per message)."""
    return sum(count(f"{m.role}: {m.text}") for m in conv.messages)


@functools.cache
def minilm() -> MiniLM:
    """One MiniLM encoder per process, so both experiments of a run share its model and its embedding cache."""
    return MiniLM()


def score_policy(
    conv: Conversation,
    policy: str,
    budgets: Sequence[int],
    count: Callable[[str], int],
    share: float,
    embed: Embed | None = None,
) -> dict[int, list[dict[str, Any]]]:
    """Feed ``conv`` to a manager with ``policy`` (and ``embed``, for archival retrieval by embedding) and answer
    every question at every budget.

    Returns:
        per budget, one record per question: ``correct``, ``stale`` (an earlier value), ``tokens`` read,
        ``changes``, ``answer``.

    Raises:
        AssertionError: if a context exceeds its budget (the manager's promise).
    """
    m = MemoryManager(policy, max(budgets), count, memory_share=share, embed=embed)
    for msg in conv.messages:
        m.observe(msg.turn, msg.role, msg.text)
    out: dict[int, list[dict[str, Any]]] = {}
    for b in budgets:
        recs = []
        for q in conv.questions:
            ctx = m.context(q.text, b)
            if ctx.tokens > b:
                raise AssertionError(f"{policy}: {ctx.tokens} tokens in a budget of {b}")
            got = answer(ctx.reading(), q.attribute)
            recs.append({"correct": got == q.answer, "stale": got in q.old_values, "tokens": ctx.tokens,
                         "changes": q.changes, "answer": got})  # fmt: skip
        out[b] = recs
    return out


def summarise(per_seed: Sequence[Sequence[dict[str, Any]]]) -> dict[str, Any]:
    """Accuracy, stale rate and mean tokens per answer: mean and sd over seeds (each seed: its records)."""
    acc = seed_stats([sum(r["correct"] for r in rs) / len(rs) for rs in per_seed])
    stale = seed_stats([sum(r["stale"] for r in rs) / len(rs) for rs in per_seed])
    tokens = seed_stats([sum(r["tokens"] for r in rs) / len(rs) for rs in per_seed])
    return {"acc": acc["mean"], "acc_sd": acc["sd"], "stale": stale["mean"], "tokens": tokens["mean"],
            "n": acc["n"]}  # fmt: skip


def by_changes(
    records: Sequence[dict[str, Any]], groups: dict[str, tuple[int, ...]]
) -> dict[str, float | None]:
    """Accuracy of the records in each group of change counts (``None`` for an empty group)."""
    out: dict[str, float | None] = {}
    for name, counts in groups.items():
        rs = [r for r in records if r["changes"] in counts]
        out[name] = sum(r["correct"] for r in rs) / len(rs) if rs else None
    return out
