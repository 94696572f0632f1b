"""Pretraining objectives on one backbone: attention-mask builders and batch collators for CLM, MLM, prefix LM.

All three train the same decoder (:class:`llmkb.nn.GPT`) and differ in three things only: what the model
sees (its input ``x``), which keys each query may attend to (``attn_mask``), and where a loss is taken
(``y``, ``-100`` = no loss). A :class:`Batch` carries the three; ``model(b.x, b.y, attn_mask=b.attn_mask)``
trains any of them.

* **CLM** (causal language modeling, GPT-2: Radford et al. 2019): ``x = w_{1..T}``, ``y_t = w_{t+1}``,
  query ``i`` sees keys ``j <= i``; every position is predicted:
  ``L = -1/T sum_t log p(w_{t+1} | w_{<=t})``.
* **MLM** (masked language modeling, BERT: Devlin et al. 2019, arXiv:1810.04805): each position is
  selected with probability 15 %; a selected position's input becomes ``[MASK]`` (80 %), a random token
  (10 %) or stays (10 %); attention is bidirectional and the loss is taken on the selected positions only,
  at the position itself: ``L = -1/|S| sum_{t in S} log p(w_t | x)``.
* **Prefix LM** (UniLM: Dong et al. 2019, arXiv:1905.03197; T5's prefix LM: Raffel et al. 2020,
  arXiv:1910.10683): a prefix of length ``P`` is read bidirectionally, the rest causally; the loss is on the
  continuation ``w_{P+1..T+1}`` only (predicting a prefix token from a query that sees it would leak).

:class:`ObjectiveData` is the data source the main trainer (:func:`llmkb.train.train`) takes for any of them:
windows drawn from a weighted mixture of token streams (prose and task text, say), turned into the
objective's :class:`Batch`. The windows depend on the batch generator only, never on the objective, so three
models trained on three objectives with one seed read exactly the same tokens.

Special tokens extend the byte vocabulary (:data:`MASK_ID` = 256, :data:`OBJECTIVE_VOCAB` = 257 ids); for
a synthetic task with ``V`` ids, pass ``mask_id=V`` and a model with ``V + 1`` ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from llmkb.data.synthetic import IGNORE_INDEX

__all__ = [
    "CORRUPTION",
    "MASK_ID",
    "OBJECTIVES",
    "OBJECTIVE_VOCAB",
    "Batch",
    "ObjectiveData",
    "bidirectional_mask",
    "clm_batch",
    "make_batch",
    "mlm_batch",
    "prefix_lm_batch",
    "prefix_lm_mask",
]

#: Id of ``[MASK]`` appended to the 256 byte ids.
MASK_ID: int = 256
#: Vocabulary size of a byte model that knows ``[MASK]``.
OBJECTIVE_VOCAB: int = 257
#: The objectives :func:`make_batch` knows.
OBJECTIVES: tuple[str, ...] = ("clm", "mlm", "prefix")
#: Codes of :attr:`Batch.corruption`: what an MLM collator did to each position.
CORRUPTION: dict[str, int] = {"none": 0, "mask": 1, "random": 2, "kept": 3}


@dataclass(frozen=True)
class Batch:
    """One training batch of an objective.

    Attributes:
        x: model input ``(B, T)``.
        y: targets ``(B, T)``; ``-100`` where no loss is taken.
        attn_mask: bool, True = may attend: ``(T, T)``, ``(B, 1, T, T)``, or ``None`` for causal.
        corruption: MLM only: ``(B, T)`` codes of :data:`CORRUPTION`.
    """

    x: Tensor
    y: Tensor
    attn_mask: Tensor | None
    corruption: Tensor | None = None

    @property
    def predicted(self) -> int:
        """Number of positions with a loss (tokens predicted)."""
        return int((self.y != IGNORE_INDEX).sum())

    @property
    def seen(self) -> int:
        """Number of input positions (tokens seen)."""
        return self.x.numel()


def bidirectional_mask(T: int, device: torch.device | str | None = None) -> Tensor:
    """All-True ``(T, T)``: every query attends to every key (BERT's encoder)."""
    return torch.ones(T, T, dtype=torch.bool, device=device)


def prefix_lm_mask(T: int, prefix_len: Tensor | int, device: torch.device | str | None = None) -> Tensor:
    """Prefix-LM mask ``(B, 1, T, T)``: ``allowed[i, j] = (j <= i) or (j < P)``.

    Prefix queries (``i < P``) see the whole prefix and nothing after it; continuation queries see the prefix
    and their own past. ``P = 0`` is the causal mask, ``P = T`` the bidirectional one.

    Args:
        T: sequence length.
        prefix_len: ``P`` per row ``(B,)``, or one int for a batch of one.
        device: where to build it.

    Raises:
        ValueError: a prefix length outside ``0..T``.
    """
    P = torch.as_tensor(prefix_len, device=device).reshape(-1)  # (B,)
    if bool(((P < 0) | (P > T)).any()):
        raise ValueError(f"prefix lengths must be within 0..{T}, got {P.tolist()}")
    i = torch.arange(T, device=device)[:, None]  # (T, 1) queries
    j = torch.arange(T, device=device)[None, :]  # (1, T) keys
    return ((j <= i)[None] | (j[None] < P[:, None, None]))[:, None]  # (B, 1, T, T)


def clm_batch(tokens: Tensor) -> Batch:
    """Next-token batch from windows ``(B, T + 1)``: ``x = w[:, :-1]``, ``y = w[:, 1:]``, causal."""
    return Batch(tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous(), None)


def mlm_batch(
    tokens: Tensor,
    generator: torch.Generator | None = None,
    *,
    mask_id: int = MASK_ID,
    n_random: int = 256,
    rate: float = 0.15,
) -> Batch:
    """BERT's masked-LM batch from windows ``(B, T)``.

    Every random draw has a fixed shape and is made before the tokens are read, so the corruption pattern
    depends on the generator only: changing a selected token's true value never changes ``x`` where it was
    replaced (by ``[MASK]`` or a random id); the kept 10 % show their token, as in BERT.

    Args:
        tokens: windows ``(B, T)``.
        generator: the source of randomness (three draws).
        mask_id: id of ``[MASK]``.
        n_random: random replacements are drawn uniformly from ``0..n_random-1`` (the real tokens).
        rate: selection probability per position (15 %).

    Returns:
        A :class:`Batch`: ``y`` is the true token at selected positions, ``-100`` elsewhere; attention is
        bidirectional.
    """
    B, T = tokens.shape
    select = torch.rand(B, T, generator=generator) < rate  # (B, T)
    u = torch.rand(B, T, generator=generator)  # (B, T) which corruption
    random_ids = torch.randint(0, n_random, (B, T), generator=generator)  # (B, T)
    to_mask = select & (u < 0.8)
    to_random = select & (u >= 0.8) & (u < 0.9)
    x = torch.where(to_mask, torch.full_like(tokens, mask_id), tokens)
    x = torch.where(to_random, random_ids, x)
    y = torch.where(select, tokens, torch.full_like(tokens, IGNORE_INDEX))
    corruption = torch.zeros(B, T, dtype=torch.int8)
    corruption[to_mask] = CORRUPTION["mask"]
    corruption[to_random] = CORRUPTION["random"]
    corruption[select & (u >= 0.9)] = CORRUPTION["kept"]
    return Batch(x, y, bidirectional_mask(T, tokens.device), corruption)


def prefix_lm_batch(
    tokens: Tensor, generator: torch.Generator | None = None, *, prefix_len: Tensor | int | None = None
) -> Batch:
    """Prefix-LM batch from windows ``(B, T + 1)``.

    Args:
        tokens: windows ``(B, T + 1)``.
        generator: draws ``P`` uniformly from ``1..T-1`` per row when ``prefix_len`` is not given.
        prefix_len: fixed prefix length(s) ``P`` (an int or ``(B,)``).

    Returns:
        A :class:`Batch` with ``x = w[:, :T]``, the prefix mask, and ``y_t = w_{t+1}`` for ``t >= P - 1``
        (the continuation), ``-100`` before.
    """
    B, T1 = tokens.shape
    T = T1 - 1
    if prefix_len is None:
        P = torch.randint(1, T, (B,), generator=generator)  # (B,)
    else:
        P = torch.as_tensor(prefix_len).reshape(-1).expand(B)  # (B,)
    x, y = tokens[:, :-1].contiguous(), tokens[:, 1:].clone()
    in_prefix = torch.arange(T)[None, :] < (P[:, None] - 1)  # (B, T): target w_{t+1} lies in the prefix
    y[in_prefix] = IGNORE_INDEX
    return Batch(x, y, prefix_lm_mask(T, P, tokens.device))


def make_batch(
    objective: str, windows: Tensor, generator: torch.Generator | None = None, **kw: object
) -> Batch:
    """Dispatch on the objective name; ``windows`` is ``(B, T + 1)`` (MLM uses the first ``T`` tokens).

    Raises:
        ValueError: an unknown objective.
    """
    if objective == "clm":
        return clm_batch(windows)
    if objective == "mlm":
        return mlm_batch(windows[:, :-1].contiguous(), generator, **kw)  # type: ignore[arg-type]
    if objective == "prefix":
        return prefix_lm_batch(windows, generator, **kw)  # type: ignore[arg-type]
    raise ValueError(f"unknown objective {objective!r}; choose from {', '.join(OBJECTIVES)}")


def _draw_windows(
    streams: Sequence[Tensor], weights: Tensor, batch_size: int, length: int, g: torch.Generator
) -> Tensor:
    """``batch_size`` windows of ``length`` ids: each row from a stream drawn by weight, at a uniform offset."""
    which = torch.multinomial(weights, batch_size, replacement=True, generator=g)  # (B,)
    u = torch.rand(batch_size, generator=g, dtype=torch.float64)  # (B,) offset as a fraction of the room
    offsets = torch.arange(length)  # (L,)
    rows = []
    for b in range(batch_size):
        ids = streams[int(which[b])]
        start = int(u[b] * (len(ids) - length + 1))
        rows.append(ids[start + offsets])
    return torch.stack(rows)  # (B, L)


@dataclass
class ObjectiveData:
    """Batches of one objective from a weighted mixture of token streams, for :func:`llmkb.train.train`.

    Each training row is a window of ``seq_len + 1`` ids cut from stream ``k`` with probability
    ``weights[k]`` (at a uniform offset); validation rows come from ``val``. The objective's own randomness
    (MLM's corruption, the prefix lengths) comes from a generator seeded by one number drawn from the batch
    generator, which every objective draws: the sequence of windows is the same for all objectives.

    Attributes:
        objective: a key of :data:`OBJECTIVES`.
        train: training streams, each ``(N_k,)`` with ``N_k > seq_len``.
        val: held-out ids ``(M,)``.
        seq_len: model input length ``T``.
        weights: mixture weights (normalized here), one per stream; equal if ``None``.
        mask_id: id of ``[MASK]`` (MLM).
    """

    objective: str
    train: Sequence[Tensor]
    val: Tensor
    seq_len: int
    weights: Sequence[float] | None = None
    mask_id: int = MASK_ID
    vocab_size: int = field(init=False)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; choose from {', '.join(OBJECTIVES)}")
        streams = [*self.train, self.val]
        if any(len(s) <= self.seq_len + 1 for s in streams):
            raise ValueError(f"every stream needs more than seq_len + 1 = {self.seq_len + 1} ids")
        w = (
            torch.ones(len(self.train))
            if self.weights is None
            else torch.tensor(self.weights, dtype=torch.float)
        )
        if w.shape != (len(self.train),) or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError(f"need one non-negative weight per stream, got {list(w.tolist())}")
        self._w = w / w.sum()
        top = max(int(s.max()) for s in streams) + 1
        self.vocab_size = max(top, self.mask_id + 1) if self.objective == "mlm" else top

    def _batch(
        self, streams: Sequence[Tensor], weights: Tensor, batch_size: int, g: torch.Generator
    ) -> Batch:
        windows = _draw_windows(streams, weights, batch_size, self.seq_len + 1, g)  # (B, T + 1)
        seed = int(torch.randint(0, 2**62, (1,), generator=g))  # drawn by every objective alike
        kw = {"mask_id": self.mask_id} if self.objective == "mlm" else {}
        return make_batch(self.objective, windows, torch.Generator().manual_seed(seed), **kw)

    def train_batch(self, batch_size: int, g: torch.Generator) -> Batch:
        """A training :class:`Batch` of ``batch_size`` rows; advances ``g`` the same way for every objective."""
        return self._batch(self.train, self._w, batch_size, g)

    def val_batch(self, batch_size: int, g: torch.Generator) -> Batch:
        """A held-out :class:`Batch` from :attr:`val`."""
        return self._batch([self.val], torch.ones(1), batch_size, g)
