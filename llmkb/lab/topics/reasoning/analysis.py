"""Pure functions of the reasoning lab: training one model, greedy accuracy by size, vote curves, loading."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmkb.data.instruct import END_ID, INSTRUCT_VOCAB, decode_response, prompt_ids
from llmkb.data.reasoning_tasks import Problem, parse_answer, to_example, verify
from llmkb.infer.self_consistency import Votes, majority_vote
from llmkb.lab.topics.reasoning.names import MODEL
from llmkb.nn import GPT, GPTConfig
from llmkb.train.finetune import sft
from llmkb.train.sequences import generate_responses

__all__ = ["new_model", "train_model", "train_and_eval", "run_jobs",
    "one_thread", "greedy_eval", "max_new", "prompts", "parse_ids", "vote_curve", "model_dir",
           "load_model", "by_size"]  # fmt: skip


def max_new(sizes: Sequence[int]) -> int:
    """Tokens enough for the longest scratchpad of these sizes: 9 per column, ``#``, the answer, ``<end>``."""
    return 9 * max(sizes) + max(sizes) + 4


def prompts(problems: Sequence[Problem], fmt: str) -> list[list[int]]:
    """The chat-template prompt ids of every problem."""
    return [prompt_ids(to_example(p, fmt)) for p in problems]


def parse_ids(ids: Sequence[int]) -> str | None:
    """The answer of a generated response (ids up to ``<end>``); ``None`` if unfinished or unparseable."""
    text, ended = decode_response(ids)
    return parse_answer(text) if ended else None


def new_model() -> GPT:
    """A fresh GPT of :data:`.names.MODEL` over the byte + chat-token vocabulary."""
    return GPT(GPTConfig(vocab_size=INSTRUCT_VOCAB, **MODEL))


def train_model(
    fmt: str, problems: Sequence[Problem], train: dict[str, Any], seed: int
) -> tuple[GPT, list[float]]:
    """A fresh GPT of :data:`.names.MODEL` trained on ``problems`` written in format ``fmt`` (loss on the
    response only), with the settings ``train`` (steps, batch_size, lr). Returns the model and its losses."""
    torch.manual_seed(seed)
    model = new_model()
    losses = sft(model, [to_example(p, fmt) for p in problems], train["steps"], batch_size=train["batch_size"],
                 lr=train["lr"], seed=seed)  # fmt: skip
    return model, losses


Job = tuple[str, Sequence[Problem], dict[str, Any], int, Sequence[Problem]]
"""One run of ``direct-vs-cot``: format, training problems, training settings, seed, test problems."""


def train_and_eval(job: Job) -> tuple[dict[str, torch.Tensor], list[float], dict[str, Any]]:
    """Train one model (:func:`train_model`) and evaluate it greedily: its weights, losses and evaluation."""
    fmt, train, settings, seed, test = job
    model, losses = train_model(fmt, train, settings, seed)
    return model.state_dict(), losses, greedy_eval(model, test, fmt)


def _one_thread() -> None:
    torch.set_num_threads(1)


def _can_spawn() -> bool:
    """Whether a spawned process can re-import ``__main__`` (not when it was read from a pipe, ``<stdin>``)."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return main is None or Path(main).exists()


def run_jobs(fn: Callable[[Job], Any], jobs: Sequence[Job], workers: int) -> list[Any]:
    """``[fn(job) for job in jobs]``, each job single-threaded: in ``workers`` processes when ``workers > 1``.

    Small models train faster as independent processes, one per core, than as one process whose every small
    matrix product is split across threads. Each job seeds its own generators and runs on one thread either way,
    so the results do not depend on which process ran it (nor on falling back to this process when a
    process cannot be spawned).
    """
    if workers > 1 and len(jobs) > 1 and _can_spawn():
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_one_thread) as pool:
            return list(pool.map(fn, jobs))
    with one_thread():
        return [fn(j) for j in jobs]


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with one torch thread (restored after): models this small gain little from a second
    thread and lose much when another process holds the other core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def by_size(values: Sequence[float], problems: Sequence[Problem]) -> dict[int, float]:
    """Mean of ``values`` per problem size, sizes in increasing order."""
    v, s = np.asarray(values, dtype=float), np.asarray([p.size for p in problems])
    return {int(k): float(v[s == k].mean()) for k in sorted(set(s.tolist()))}


def greedy_eval(model: GPT, problems: Sequence[Problem], fmt: str) -> dict[str, Any]:
    """Greedy answers to ``problems``: accuracy and mean response length (tokens) by size, and the texts."""
    out = generate_responses(model, prompts(problems, fmt), max_new([p.size for p in problems]), END_ID)
    texts = [decode_response(o)[0] for o in out]
    right = [float(verify(p, t) and END_ID in o) for p, t, o in zip(problems, texts, out, strict=True)]
    return {"accuracy": by_size(right, problems), "tokens": by_size([len(o) for o in out], problems),
            "mean": float(np.mean(right)), "texts": texts}  # fmt: skip


def vote_curve(votes: Votes, answers: Sequence[str], ns: Sequence[int]) -> list[dict[str, float]]:
    """Accuracy of the majority vote over ``n`` chains, for each ``n`` of ``ns``, and its cost.

    The ``N`` chains of a question are cut into ``N // n`` disjoint blocks of ``n``; the accuracy is the mean
    over questions and blocks (every chain is used once, which steadies the small-``n`` points), and the cost
    is the mean number of tokens the ``n`` chains of a block generated.
    """
    N = len(votes.answers[0])
    rows = []
    for n in ns:
        if n > N:
            raise ValueError(f"cannot vote over {n} chains out of {N}")
        hits, cost = [], []
        for q, a in enumerate(answers):
            for b in range(N // n):
                block = votes.answers[q][b * n : (b + 1) * n]
                hits.append(float(majority_vote(block) == a))
                cost.append(float(sum(votes.tokens[q][b * n : (b + 1) * n])))
        rows.append({"n": n, "accuracy": float(np.mean(hits)), "tokens": float(np.mean(cost))})
    return rows


def model_dir(out_dir: Path, fmt: str) -> Path:
    """Where ``direct-vs-cot`` keeps its first seed's model of format ``fmt``."""
    return out_dir / f"model-{fmt}"


def load_model(result: Any, fmt: str) -> GPT:
    """The first seed's model of format ``fmt`` from the ``direct-vs-cot`` result, in eval mode."""
    return GPT.load(model_dir(result.dir, fmt)).eval()
