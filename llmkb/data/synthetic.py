"""Synthetic sequence tasks whose best achievable loss is known: copy, reverse, sort, associative recall,
passkey retrieval.

Every task produces sequences ``prompt ++ answer``. A batch is the usual next-token pair ``(x, y)`` (``y``
is ``x`` shifted left by one), except that targets outside the answer are set to ``-100`` (PyTorch's
``ignore_index``): the prompt is random, so predicting it teaches nothing about the task.

**Loss definition.** A task's loss is the mean cross-entropy, in nats, over *scored* positions only, i.e.
the answer tokens: ``F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-100)``
(:func:`task_loss`). Without noise every answer token is a deterministic function of the prompt, so the
Bayes-optimal loss :attr:`SyntheticTask.best_loss` is 0.

**Label noise.** With ``noise = p > 0`` each answer token is independently replaced, with probability
``p``, by a symbol drawn uniformly from the task's ``V`` answer symbols (possibly the right one). The
correct symbol then has probability ``q = 1 - p + p/V`` and each other symbol ``r = p/V``; no predictor
can do better than putting exactly those probabilities on them, so the best achievable loss is the entropy

    best_loss = -(q ln q + (V - 1) r ln r).

Layouts (``SEP`` is the last id of the vocabulary):

* copy:    ``s_1 … s_n SEP s_1 … s_n``
* reverse: ``s_1 … s_n SEP s_n … s_1``
* sort:    ``s_1 … s_n SEP sorted(s)``
* recall:  ``k_1 v_1 … k_m v_m SEP k_j v_j`` with distinct keys; only ``v_j`` is scored.
  Associative recall in the sense of Ba et al. (2016), "Using Fast Weights to Attend to the Recent
  Past", arXiv:1610.06258, and of the induction-head analyses of Olsson et al. (2022), arXiv:2209.11895.
* passkey: ``f … f v f … f SEP v``: one passkey symbol ``v`` planted among filler symbols ``f`` (two
  disjoint alphabets), asked for at the end; only ``v`` is scored. The distance from ``SEP`` back to ``v``
  is drawn from a range, so a model's accuracy can be measured per distance (a long-range retrieval test
  in the spirit of the passkey test of Mohtashami & Jaggi 2023, arXiv:2305.16300).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import torch
import torch.nn.functional as F

from llmkb.errors import UsageError

__all__ = [
    "IGNORE_INDEX",
    "AssociativeRecallTask",
    "CopyTask",
    "PasskeyTask",
    "ReverseTask",
    "SortTask",
    "SyntheticTask",
    "TASKS",
    "get_task",
    "noisy_label_entropy",
    "sequence_accuracy",
    "task_loss",
    "token_accuracy",
]

#: Target value of positions that are not scored (PyTorch's default ``ignore_index``).
IGNORE_INDEX: int = -100


def noisy_label_entropy(noise: float, n_symbols: int) -> float:
    """Entropy (nats) of an answer token under uniform label noise; the best achievable loss.

    Args:
        noise: Probability ``p`` that a token is replaced by a uniform draw over ``n_symbols`` symbols.
        n_symbols: Number ``V`` of answer symbols.

    Returns:
        ``-(q ln q + (V - 1) r ln r)`` with ``q = 1 - p + p/V`` and ``r = p/V`` (0 when ``p = 0``).
    """
    if noise == 0.0:
        return 0.0
    r = noise / n_symbols
    q = 1.0 - noise + r
    return -(q * math.log(q) + (n_symbols - 1) * r * math.log(r))


def task_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over scored positions (targets ``!= -100``).

    Args:
        logits: Shape ``(B, T, V)``.
        y: Targets, shape ``(B, T)``.

    Returns:
        A scalar tensor, in nats.
    """
    return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), ignore_index=IGNORE_INDEX)


def sequence_accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of sequences whose every scored token is predicted exactly by the arg-max.

    Args:
        logits: Shape ``(B, T, V)``.
        y: Targets, shape ``(B, T)``; ``-100`` marks unscored positions.

    Returns:
        Exact-match accuracy over the sequences that have at least one scored token.
    """
    scored = y != IGNORE_INDEX  # (B, T)
    ok = (logits.argmax(dim=-1) == y) | ~scored  # (B, T)
    has_scored = scored.any(dim=1)  # (B,)
    if not bool(has_scored.any()):
        raise ValueError("no scored position in y")
    return ok.all(dim=1)[has_scored].float().mean().item()


def token_accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of scored tokens predicted exactly by the arg-max (shapes as in :func:`sequence_accuracy`)."""
    scored = y != IGNORE_INDEX  # (B, T)
    if not bool(scored.any()):
        raise ValueError("no scored position in y")
    return (logits.argmax(dim=-1) == y)[scored].float().mean().item()


class SyntheticTask(ABC):
    """A generator of ``prompt ++ answer`` sequences with a known best loss (see the module docstring).

    Subclasses define :meth:`_sequences`; everything else (batching, masking, noise, metrics) is shared.

    Attributes:
        name: Registry name of the task.
        noise: Label-noise probability on answer tokens.
    """

    name: str = ""

    def __init__(self, noise: float = 0.0) -> None:
        if not 0.0 <= noise <= 1.0:
            raise UsageError(f"noise must be in [0, 1], got {noise}")
        self.noise = float(noise)

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of token ids the task uses (the last one is ``SEP``)."""

    @property
    @abstractmethod
    def prompt_len(self) -> int:
        """Length of the prompt, ``SEP`` (and query) included."""

    @property
    @abstractmethod
    def answer_len(self) -> int:
        """Number of answer tokens (the scored part)."""

    @property
    @abstractmethod
    def answer_symbols(self) -> tuple[int, int]:
        """Half-open id range ``[lo, hi)`` the answer tokens (and the noise) are drawn from."""

    @abstractmethod
    def _sequences(self, batch_size: int, generator: torch.Generator | None) -> torch.Tensor:
        """Clean sequences ``prompt ++ answer``, shape ``(B, prompt_len + answer_len)``."""

    @property
    def sep(self) -> int:
        """Id of the separator token."""
        return self.vocab_size - 1

    @property
    def seq_len(self) -> int:
        """Length ``T`` of ``x`` and ``y`` (the model's context must be at least this)."""
        return self.prompt_len + self.answer_len - 1

    @property
    def best_loss(self) -> float:
        """Bayes-optimal mean cross-entropy on scored tokens, in nats (0 without noise)."""
        lo, hi = self.answer_symbols
        return noisy_label_entropy(self.noise, hi - lo)

    def make_batch(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample a batch; deterministic given ``generator``'s state.

        Args:
            batch_size: Number of sequences ``B``.
            generator: Source of randomness.

        Returns:
            ``(x, y)``, both ``(B, T)`` long tensors with ``T =`` :attr:`seq_len`; ``y`` is ``-100`` except
            at the :attr:`answer_len` answer positions.
        """
        seq = self._sequences(batch_size, generator)  # (B, P + A)
        if self.noise > 0.0:
            lo, hi = self.answer_symbols
            answer = seq[:, self.prompt_len :]  # (B, A)
            flip = torch.rand(answer.shape, generator=generator) < self.noise  # (B, A)
            draw = torch.randint(lo, hi, answer.shape, generator=generator)  # (B, A)
            seq[:, self.prompt_len :] = torch.where(flip, draw, answer)
        x = seq[:, :-1].clone()  # (B, T)
        y = seq[:, 1:].clone()  # (B, T)
        y[:, : self.prompt_len - 1] = IGNORE_INDEX
        return x, y

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """See :func:`task_loss`."""
        return task_loss(logits, y)

    def accuracy(self, logits: torch.Tensor, y: torch.Tensor) -> float:
        """Exact-match accuracy of whole answers; see :func:`sequence_accuracy`."""
        return sequence_accuracy(logits, y)

    def token_accuracy(self, logits: torch.Tensor, y: torch.Tensor) -> float:
        """Per-token accuracy of answers; see :func:`token_accuracy`."""
        return token_accuracy(logits, y)

    def __repr__(self) -> str:
        cls = type(self).__name__
        return f"{cls}(vocab_size={self.vocab_size}, seq_len={self.seq_len}, noise={self.noise})"


class _SymbolsTask(SyntheticTask):
    """Shared layout of copy / reverse / sort: ``n`` uniform symbols, ``SEP``, then a function of them."""

    def __init__(self, length: int = 8, n_symbols: int = 10, noise: float = 0.0) -> None:
        super().__init__(noise)
        if length < 1 or n_symbols < 2:
            raise UsageError(
                f"need length >= 1 and n_symbols >= 2, got length={length}, n_symbols={n_symbols}"
            )
        self.length = length
        self.n_symbols = n_symbols

    @property
    def vocab_size(self) -> int:
        return self.n_symbols + 1

    @property
    def prompt_len(self) -> int:
        return self.length + 1

    @property
    def answer_len(self) -> int:
        return self.length

    @property
    def answer_symbols(self) -> tuple[int, int]:
        return (0, self.n_symbols)

    @abstractmethod
    def _answer(self, symbols: torch.Tensor) -> torch.Tensor:
        """The answer for ``symbols``, shape ``(B, n)`` → ``(B, n)``."""

    def _sequences(self, batch_size: int, generator: torch.Generator | None) -> torch.Tensor:
        s = torch.randint(0, self.n_symbols, (batch_size, self.length), generator=generator)  # (B, n)
        sep = torch.full((batch_size, 1), self.sep, dtype=torch.long)  # (B, 1)
        return torch.cat([s, sep, self._answer(s)], dim=1)  # (B, 2n + 1)


class CopyTask(_SymbolsTask):
    """Repeat the prompt: ``s SEP s``.

    Args:
        length: Number of symbols ``n`` in the prompt.
        n_symbols: Alphabet size.
        noise: Label-noise probability on answer tokens.
    """

    name = "copy"

    def _answer(self, symbols: torch.Tensor) -> torch.Tensor:
        return symbols.clone()


class ReverseTask(_SymbolsTask):
    """Reverse the prompt: ``s SEP reversed(s)`` (arguments as :class:`CopyTask`)."""

    name = "reverse"

    def _answer(self, symbols: torch.Tensor) -> torch.Tensor:
        return symbols.flip(dims=[1])


class SortTask(_SymbolsTask):
    """Sort the prompt ascending: ``s SEP sorted(s)`` (arguments as :class:`CopyTask`)."""

    name = "sort"

    def _answer(self, symbols: torch.Tensor) -> torch.Tensor:
        return symbols.sort(dim=1).values


class AssociativeRecallTask(SyntheticTask):
    """Key–value lookup: ``k_1 v_1 … k_m v_m SEP k_j`` → ``v_j``.

    Keys are ids ``0..n_keys-1`` (distinct within a sequence), values ``n_keys..n_keys+n_values-1``
    (drawn with replacement); only the final value is scored.

    Args:
        n_pairs: Number of pairs ``m`` in the prompt.
        n_keys: Key alphabet size (at least ``n_pairs``).
        n_values: Value alphabet size.
        noise: Label-noise probability on the answer.
    """

    name = "recall"

    def __init__(self, n_pairs: int = 6, n_keys: int = 16, n_values: int = 16, noise: float = 0.0) -> None:
        super().__init__(noise)
        if n_pairs < 1 or n_keys < n_pairs or n_values < 2:
            raise UsageError(
                f"need 1 <= n_pairs <= n_keys and n_values >= 2, got n_pairs={n_pairs}, "
                f"n_keys={n_keys}, n_values={n_values}"
            )
        self.n_pairs = n_pairs
        self.n_keys = n_keys
        self.n_values = n_values

    @property
    def vocab_size(self) -> int:
        return self.n_keys + self.n_values + 1

    @property
    def prompt_len(self) -> int:
        return 2 * self.n_pairs + 2

    @property
    def answer_len(self) -> int:
        return 1

    @property
    def answer_symbols(self) -> tuple[int, int]:
        return (self.n_keys, self.n_keys + self.n_values)

    def _sequences(self, batch_size: int, generator: torch.Generator | None) -> torch.Tensor:
        b, m = batch_size, self.n_pairs
        keys = torch.rand(b, self.n_keys, generator=generator).argsort(dim=1)[:, :m]  # (B, m) distinct
        lo, hi = self.answer_symbols
        values = torch.randint(lo, hi, (b, m), generator=generator)  # (B, m)
        pick = torch.randint(0, m, (b, 1), generator=generator)  # (B, 1)
        pairs = torch.stack([keys, values], dim=2).reshape(b, 2 * m)  # (B, 2m) interleaved k v k v ...
        sep = torch.full((b, 1), self.sep, dtype=torch.long)  # (B, 1)
        query = keys.gather(1, pick)  # (B, 1)
        answer = values.gather(1, pick)  # (B, 1)
        return torch.cat([pairs, sep, query, answer], dim=1)  # (B, 2m + 3)


class PasskeyTask(SyntheticTask):
    """Passkey retrieval: ``context`` tokens of filler with one passkey symbol planted ``d`` positions before
    ``SEP``, then the passkey: ``f … f v f … f SEP v``.

    Filler ids are ``0..n_filler-1``, passkey ids ``n_filler..n_filler+n_values-1`` (so the passkey is told
    apart by its symbol, not by a marker). The distance ``d`` from ``SEP`` back to the passkey (1: right before
    ``SEP``) is uniform over ``min_distance..max_distance`` in each sequence; only the passkey after ``SEP``
    is scored. The passkey is independent of everything else in the sequence, so a model that cannot see it
    and answers with one of the passkey symbols is right with probability ``1 / n_values`` (:attr:`chance`).

    Args:
        context: Tokens before ``SEP`` (filler and passkey).
        n_values: Passkey alphabet size.
        n_filler: Filler alphabet size.
        min_distance: Smallest distance drawn (at least 1).
        max_distance: Largest distance drawn (at most ``context``; ``None``: ``context``).
        noise: Label-noise probability on the answer.
    """

    name = "passkey"

    def __init__(
        self,
        context: int = 32,
        n_values: int = 8,
        n_filler: int = 8,
        min_distance: int = 1,
        max_distance: int | None = None,
        noise: float = 0.0,
    ) -> None:
        super().__init__(noise)
        hi = context if max_distance is None else max_distance
        if context < 1 or n_values < 2 or n_filler < 1 or not 1 <= min_distance <= hi <= context:
            raise UsageError(
                f"need context >= 1, n_values >= 2, n_filler >= 1 and 1 <= min_distance <= max_distance <= "
                f"context, got context={context}, n_values={n_values}, n_filler={n_filler}, "
                f"min_distance={min_distance}, max_distance={max_distance}"
            )
        self.context = context
        self.n_values = n_values
        self.n_filler = n_filler
        self.min_distance = min_distance
        self.max_distance = hi

    def at_distance(self, distance: int) -> PasskeyTask:
        """The same task with the passkey always ``distance`` positions before ``SEP``."""
        return PasskeyTask(self.context, self.n_values, self.n_filler, distance, distance, self.noise)

    @property
    def chance(self) -> float:
        """Accuracy of a model that cannot see the passkey and picks one of the passkey symbols: ``1 / n_values``."""
        return 1.0 / self.n_values

    @property
    def vocab_size(self) -> int:
        return self.n_filler + self.n_values + 1

    @property
    def prompt_len(self) -> int:
        return self.context + 1

    @property
    def answer_len(self) -> int:
        return 1

    @property
    def answer_symbols(self) -> tuple[int, int]:
        return (self.n_filler, self.n_filler + self.n_values)

    def _sequences(self, batch_size: int, generator: torch.Generator | None) -> torch.Tensor:
        b, n = batch_size, self.context
        filler = torch.randint(0, self.n_filler, (b, n), generator=generator)  # (B, n)
        lo, hi = self.answer_symbols
        key = torch.randint(lo, hi, (b, 1), generator=generator)  # (B, 1)
        d = torch.randint(self.min_distance, self.max_distance + 1, (b, 1), generator=generator)  # (B, 1)
        seq = filler.scatter(1, n - d, key)  # SEP will sit at index n: the passkey d before it
        sep = torch.full((b, 1), self.sep, dtype=torch.long)  # (B, 1)
        return torch.cat([seq, sep, key], dim=1)  # (B, n + 2)


#: Registry of task classes by name.
TASKS: dict[str, type[SyntheticTask]] = {
    "copy": CopyTask,
    "reverse": ReverseTask,
    "sort": SortTask,
    "recall": AssociativeRecallTask,
    "passkey": PasskeyTask,
}


def get_task(name: str, **kwargs: Any) -> SyntheticTask:
    """Build a task from the registry.

    Args:
        name: One of ``copy``, ``reverse``, ``sort``, ``recall`` (alias ``associative-recall``),
            ``passkey``.
        **kwargs: Passed to the task's constructor (e.g. ``length``, ``n_symbols``, ``noise``).

    Raises:
        UsageError: Unknown name or bad arguments.
    """
    key = "recall" if name in ("associative-recall", "associative_recall") else name
    if key not in TASKS:
        raise UsageError(f"unknown synthetic task {name!r}: choose one of {', '.join(sorted(TASKS))}")
    try:
        return TASKS[key](**kwargs)
    except TypeError as exc:
        raise UsageError(f"bad arguments for task {name!r}: {exc}") from None
