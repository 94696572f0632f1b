"""Tasks, evaluation, and operations on a model: the measuring half of the transformer-block lab.

Every function takes tasks, configs or models and returns numbers (or a model under an operation); nothing here
registers an experiment or draws. The operations of ``transformer-block/surgery`` are hooks of
[`GPT.hooks`][llmkb.nn.GPT.hooks] (see [`operation_hooks`][llmkb.lab.topics.transformer_block.analysis.operation_hooks]),
except ``random_qk``, which changes parameters.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from llmkb.data.synthetic import SyntheticTask, get_task
from llmkb.lab.topics.transformer_block.names import OPERATIONS
from llmkb.nn import GPT, SURGERIES, GPTConfig, freeze_qk, no_residual
from llmkb.train import train
from llmkb.train.config import TrainConfig
from llmkb.train.loop import TrainResult

__all__ = [
    "make_task",
    "sized_for",
    "model_facts",
    "chance_loss",
    "chance_accuracy",
    "evaluate",
    "operation_hooks",
    "operate",
    "train_operated",
    "kept_fraction",
    "ms_per_step",
    "max_grad_norm",
]


def make_task(spec: Mapping[str, Any]) -> SyntheticTask:
    """The synthetic task named by ``spec["name"]`` with the remaining keys as its arguments.

    Args:
        spec: e.g. ``{"name": "reverse", "length": 6, "n_symbols": 8}``.
    """
    return get_task(str(spec["name"]), **{k: v for k, v in spec.items() if k != "name"})


def sized_for(task: SyntheticTask) -> dict[str, int]:
    """The ``GPTConfig`` fields a task fixes: ``vocab_size`` and ``max_seq_len`` (for ``kit.model_config``)."""
    return {"vocab_size": task.vocab_size, "max_seq_len": task.seq_len}


def model_facts(config: GPTConfig) -> dict[str, Any]:
    """The fields of a config a page describes, resolved: every ``GPTConfig`` field plus the derived
    ``head_dim``, ``kv_heads`` and ``ffn_dim`` (so a page never types "4 heads of width 8")."""
    return {
        **config.to_dict(),
        "head_dim": config.head_dim,
        "kv_heads": config.kv_heads,
        "ffn_dim": config.ffn_dim,
    }


def _n_answer_symbols(task: SyntheticTask) -> int:
    lo, hi = task.answer_symbols
    return hi - lo


def chance_loss(task: SyntheticTask) -> float:
    """Loss of a uniform guess over the ``V`` answer symbols, ``ln V`` (nats per answer token)."""
    return math.log(_n_answer_symbols(task))


def chance_accuracy(task: SyntheticTask) -> float:
    """Exact-match accuracy of a uniform guess: ``V ** -answer_len``."""
    return float(_n_answer_symbols(task)) ** -task.answer_len


@torch.no_grad()
def evaluate(
    model: GPT, task: SyntheticTask, *, batches: int = 4, batch_size: int = 64, seed: int = 1234
) -> dict[str, float]:
    """Loss and accuracies of ``model`` (under the hooks in force) on fixed held-out batches.

    Args:
        model: the model (put in eval mode for the call, then restored).
        task: the task.
        batches: number of batches.
        batch_size: sequences per batch.
        seed: seed of the batch generator (same seed: same batches).

    Returns:
        ``{"loss", "accuracy", "token_accuracy"}``: mean cross-entropy on answer tokens (nats), exact-match
        accuracy of whole answers, and per-token accuracy.
    """
    g = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    loss = acc = tok = 0.0
    try:
        for _ in range(batches):
            x, y = task.make_batch(batch_size, g)
            logits = model(x).logits  # (B, T, V)
            loss += float(task.loss(logits, y))
            acc += task.accuracy(logits, y)
            tok += task.token_accuracy(logits, y)
    finally:
        model.train(was_training)
    return {"loss": loss / batches, "accuracy": acc / batches, "token_accuracy": tok / batches}


def operation_hooks(operation: str) -> dict[str, Any]:
    """Keyword arguments of [`GPT.hooks`][llmkb.nn.GPT.hooks] that switch ``operation`` on (a key of
    ``OPERATIONS``, or ``"none"``): a surgery's hooks, or the residual hook of ``no_residual``. ``random_qk``
    has none: it changes parameters (see ``operate`` and ``train_operated``).

    Raises:
        ValueError: unknown operation.
    """
    if operation in ("none", "random_qk"):
        return {}
    if operation == "no_residual":
        return {"residual": no_residual}
    if operation not in SURGERIES:
        raise ValueError(f"unknown operation {operation!r}; choose one of: none, {', '.join(OPERATIONS)}")
    return SURGERIES[operation][1]()


@contextlib.contextmanager
def operate(model: GPT, operation: str, seed: int = 0) -> Iterator[GPT]:
    """A trained ``model`` with ``operation`` switched on for the ``with`` block; ``model`` is left unchanged.

    Every operation but one is a set of hooks (``operation_hooks``) acting on the trained parameters.
    ``random_qk`` works on a copy whose query and key projections are re-drawn from the model's
    initialization distribution, ``N(0, 0.02^2)`` weights and zero biases, and frozen
    ([`freeze_qk`][llmkb.nn.hooks.freeze_qk]).

    Args:
        model: the trained model.
        operation: a key of ``OPERATIONS`` or ``"none"``.
        seed: seed of the re-drawn Q/K weights.

    Yields:
        The operated model (``model`` itself, or the copy for ``random_qk``).
    """
    if operation == "random_qk":
        model = copy.deepcopy(model)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if ".q_proj." in f".{name}" or ".k_proj." in f".{name}":
                    p.copy_(torch.randn(p.shape, generator=g) * 0.02 if p.dim() == 2 else torch.zeros_like(p))
        freeze_qk(model)
    with model.hooks(**operation_hooks(operation)):
        yield model


def train_operated(
    config: GPTConfig, operation: str, tc: TrainConfig, task: SyntheticTask, eval_batches: int
) -> tuple[TrainResult, dict[str, float]]:
    """Train a fresh ``GPT(config)`` with ``operation`` on from the first step, and evaluate it with it on.

    The model is initialized as [`train`][llmkb.train.train] would (``torch.manual_seed(tc.seed)``); for
    ``random_qk`` its random Q/K are frozen; the other operations are hooks in force during training and
    evaluation, lifted afterwards.

    Returns:
        ``(training result, evaluate(...) metrics)``.
    """
    torch.manual_seed(tc.seed)
    model = GPT(config)
    if operation == "random_qk":
        freeze_qk(model)
    with model.hooks(**operation_hooks(operation)):
        res = train(model, tc, task, progress=False)
        return res, evaluate(res.model, task, batches=eval_batches)


def kept_fraction(loss: float, baseline: float, chance: float) -> float:
    """Share of the baseline's improvement over chance that a variant keeps: ``(chance - loss) /
    (chance - baseline)``; 1 = as good as the baseline, 0 = no better than a uniform guess."""
    gap = chance - baseline
    return (chance - loss) / gap if gap > 0 else float("nan")


def ms_per_step(result: TrainResult, batch_size: int, seq_len: int) -> float:
    """Median training milliseconds per step, ``1000 B T / median(tokens per second)``, from the loop's
    throughput windows (evaluation excluded)."""
    tps = [r["tokens_per_s"] for r in result.history if r.get("tokens_per_s")]
    return 1000.0 * batch_size * seq_len / float(np.median(tps))


def max_grad_norm(result: TrainResult) -> float:
    """The largest gradient norm (before clipping) logged during a run."""
    _, norms = result.series("grad_norm")
    return float(max(norms))
