"""Next-token sampling: composable logits processors and ``sample_next``.

A decoding step turns the model's last-position logits ``(B, V)`` into one token id per row. Between
the two sits a chain of *logits processors*. Each one is a callable object

    ``processor(logits: Tensor (B, V), history: LongTensor (B, T) | None) -> Tensor (B, V)``

that returns new logits; a token it filters out gets ``-inf`` (probability exactly 0 after softmax).
Processors never modify their input in place.

Canonical order (used by [`SamplingConfig.pipeline`][llmkb.infer.sampling.SamplingConfig.pipeline] and by the
browser dashboard, which replicates it step for step):

1. **repetition penalty** — acts on the raw logits, because its rule (divide positive / multiply
   negative logits) depends on the sign of the logit, which temperature scaling would not change but
   truncation (``-inf``) would make meaningless;
2. **temperature** — reshapes the distribution before any truncation, so that top-p and min-p judge
   the distribution that will actually be sampled (top-k alone is unaffected by temperature);
3. **top-k** — a hard cap on the candidate count;
4. **top-p** — nucleus on the distribution *renormalized after top-k*;
5. **min-p** — threshold relative to the most likely token of the distribution renormalized after
   top-p. Ratios ``p_i / p_max`` do not change under renormalization, so min-p commutes with top-k, but
   not with top-p (top-p's mass threshold sees a different renormalized distribution).

Temperature 0 means greedy decoding: the temperature step keeps only the arg-max token (the lowest
index among tied maxima), so every later filter is a no-op and sampling returns that token.

Ties are always broken by *index*: wherever tokens are ranked (top-k, top-p, greedy), a stable
descending sort places equal values in increasing index order, so the lower index wins.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from numbers import Integral, Real

import torch
from torch import Tensor

__all__ = [
    "LogitsProcessor",
    "Temperature",
    "TopK",
    "TopP",
    "MinP",
    "RepetitionPenalty",
    "LogitsPipeline",
    "compose",
    "SamplingConfig",
    "sample_next",
    "filtered_probs",
    "entropy",
    "entropy_bits",
    "surviving_count",
]

LogitsProcessor = Callable[[Tensor, Tensor | None], Tensor]
"""Type of a logits processor: ``(logits (B, V), history (B, T) | None) -> logits (B, V)``."""

_NEG_INF = float("-inf")


# --------------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------------


def _check_real(name: str, value: object) -> float:
    """Return ``value`` as a float or raise ``ValueError`` naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _check_temperature(t: object) -> float:
    v = _check_real("temperature", t)
    if not (math.isfinite(v) and v >= 0.0):
        raise ValueError(f"temperature must be a finite number >= 0 (0 = greedy), got {t!r}")
    return v


def _check_top_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, Integral):
        raise ValueError(f"top_k must be an integer >= 1 (or None to disable), got {k!r}")
    if int(k) < 1:
        raise ValueError(f"top_k must be an integer >= 1 (or None to disable), got {k!r}")
    return int(k)


def _check_top_p(p: object) -> float:
    v = _check_real("top_p", p)
    if not (0.0 < v <= 1.0):
        raise ValueError(f"top_p must be in (0, 1] (or None to disable), got {p!r}")
    return v


def _check_min_p(p: object) -> float:
    v = _check_real("min_p", p)
    if not (0.0 <= v <= 1.0):
        raise ValueError(f"min_p must be in [0, 1] (or None to disable), got {p!r}")
    return v


def _check_repetition_penalty(r: object) -> float:
    v = _check_real("repetition_penalty", r)
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"repetition_penalty must be a finite number > 0 (1 = off), got {r!r}")
    return v


def _check_logits(logits: Tensor) -> None:
    """Reject logits that cannot define a distribution (NaN, +inf, or a row that is all -inf)."""
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise ValueError("logits must be a floating-point torch.Tensor")
    if logits.ndim < 1 or logits.shape[-1] == 0:
        raise ValueError(f"logits need a non-empty vocabulary dimension, got shape {tuple(logits.shape)}")
    # One reduction (one device sync): the row max is NaN if any NaN, +inf if any +inf, -inf if all -inf.
    if not bool(torch.isfinite(logits.amax(dim=-1)).all()):
        if bool(torch.isnan(logits).any()) or bool(torch.isposinf(logits).any()):
            raise ValueError("logits must not contain NaN or +inf")
        raise ValueError("every row of logits needs at least one finite value (a row is all -inf)")


def _work_dtype(logits: Tensor) -> Tensor:
    """Upcast half-precision logits to float32 (float64 stays float64)."""
    return logits if logits.dtype == torch.float64 else logits.float()


def _probs64(logits: Tensor) -> Tensor:
    """Softmax in float64, used for the top-p / min-p keep decisions (matches JS ``Number`` math)."""
    return torch.softmax(logits.double(), dim=-1)


# --------------------------------------------------------------------------------------------------
# processors
# --------------------------------------------------------------------------------------------------


class Temperature:
    """Temperature scaling: ``l_i -> l_i / t``.

    ``softmax(l / t)`` sharpens the distribution for ``t < 1`` and flattens it for ``t > 1``
    (Ackley, Hinton & Sejnowski 1985; as used for neural text generation e.g. by Holtzman et al. 2019,
    arXiv 1904.09751). ``t = 1`` is the identity.

    For ``t > 0`` the output is ``(l - max_j l_j) / t``: the row max is subtracted first, which leaves
    the softmax unchanged but keeps tiny temperatures from overflowing.

    ``t = 0`` is greedy decoding: every token except the arg-max is set to ``-inf`` and the arg-max keeps
    its logit. Among tied maxima the **lowest index** is kept (exactly one token survives), matching
    ``torch.argmax``. (The limit ``t -> 0+`` instead spreads the mass evenly over tied maxima.)

    Args:
        t: Temperature, finite and ``>= 0``.

    Raises:
        ValueError: If ``t`` is negative, infinite, NaN or not a number.
    """

    def __init__(self, t: float) -> None:
        self.t = _check_temperature(t)

    def __call__(self, logits: Tensor, history: Tensor | None = None) -> Tensor:
        """Scale ``logits`` (B, V); ``history`` is ignored."""
        if self.t == 0.0:
            top = logits.argmax(dim=-1, keepdim=True)  # (B, 1), first maximal index
            out = torch.full_like(logits, _NEG_INF)
            return out.scatter(-1, top, logits.gather(-1, top))
        if self.t == 1.0:
            return logits.clone()
        # Shift by the row max first (softmax is shift-invariant) so a tiny t cannot overflow to
        # +inf and produce inf - inf = NaN; the max becomes 0, everything else <= 0.
        top = logits.amax(dim=-1, keepdim=True)  # (B, 1)
        top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
        shifted = logits - top  # (B, V), <= 0
        # t may round to 0 in the logits' dtype: keep 0 / t at 0 instead of NaN (d < 0 gives -inf).
        return torch.where(shifted == 0, shifted, shifted / self.t)

    def __repr__(self) -> str:
        return f"Temperature({self.t})"


class TopK:
    """Top-k truncation: keep the ``k`` highest logits, set the rest to ``-inf``.

    Fan, Lewis & Dauphin 2018 (arXiv 1805.04833). Exactly ``min(k, V)`` positions are kept, chosen by a
    **stable descending sort** of the logits: among tokens tied at the cut-off value, those with the
    **lower index** are kept. (Positions already at ``-inf`` may be among the kept ones when fewer than
    ``k`` tokens are finite; they stay at ``-inf``.) Top-k does not depend on temperature.

    Args:
        k: Number of tokens to keep, an integer ``>= 1``.

    Raises:
        ValueError: If ``k`` is not an integer ``>= 1``.
    """

    def __init__(self, k: int) -> None:
        self.k = _check_top_k(k)

    def __call__(self, logits: Tensor, history: Tensor | None = None) -> Tensor:
        """Filter ``logits`` (B, V); ``history`` is ignored."""
        v = logits.shape[-1]
        if self.k >= v:
            return logits.clone()
        order = torch.sort(logits, dim=-1, descending=True, stable=True).indices  # (B, V)
        drop = order[..., self.k :]  # (B, V - k) indices of removed tokens
        return logits.scatter(-1, drop, _NEG_INF)

    def __repr__(self) -> str:
        return f"TopK({self.k})"


class TopP:
    """Nucleus (top-p) truncation.

    Holtzman, Buys, Du, Forbes & Choi 2019, "The Curious Case of Neural Text Degeneration"
    (arXiv 1904.09751): keep the smallest set ``V^(p)`` of most likely tokens with
    ``sum_{x in V^(p)} P(x) >= p``.

    Exact semantics: compute ``P = softmax(logits)`` (in float64) — i.e. the distribution *renormalized
    after any earlier filter* — sort it with a stable descending sort (ties: lower index first), and keep
    sorted position ``j`` iff the mass strictly before it, ``sum_{i<j} P_(i)``, is ``< p``. That is the
    shortest sorted prefix whose mass reaches ``p``; the top token is always kept. ``p = 1`` keeps every
    token (identity).

    Args:
        p: Target mass, in ``(0, 1]``.

    Raises:
        ValueError: If ``p`` is outside ``(0, 1]``.
    """

    def __init__(self, p: float) -> None:
        self.p = _check_top_p(p)

    def __call__(self, logits: Tensor, history: Tensor | None = None) -> Tensor:
        """Filter ``logits`` (B, V); ``history`` is ignored."""
        if self.p >= 1.0:
            return logits.clone()
        probs = _probs64(logits)  # (B, V)
        sorted_p, order = torch.sort(probs, dim=-1, descending=True, stable=True)  # (B, V)
        mass_before = torch.cumsum(sorted_p, dim=-1) - sorted_p  # (B, V) exclusive prefix sum
        drop_sorted = mass_before >= self.p  # (B, V); position 0 has mass_before 0 < p: always kept
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # back to vocab order
        return logits.masked_fill(drop, _NEG_INF)

    def __repr__(self) -> str:
        return f"TopP({self.p})"


class MinP:
    """Min-p truncation: keep tokens at least ``p`` times as likely as the most likely one.

    Nguyen, Baker, Neo, Roush, Kirsch & Shwartz-Ziv 2024, "Turning Up the Heat: Min-p Sampling for
    Creative and Coherent LLM Outputs" (arXiv 2407.01082): with ``P = softmax(logits)`` (float64), keep
    token ``i`` iff ``P_i >= p * max_j P_j``. All tokens tied with the maximum are kept; ``p = 0`` is the
    identity; ``p = 1`` keeps only the maximal token(s). Because the test is a ratio, it is unaffected
    by renormalization after earlier truncations that keep the top token.

    Args:
        p: Relative threshold, in ``[0, 1]``.

    Raises:
        ValueError: If ``p`` is outside ``[0, 1]``.
    """

    def __init__(self, p: float) -> None:
        self.p = _check_min_p(p)

    def __call__(self, logits: Tensor, history: Tensor | None = None) -> Tensor:
        """Filter ``logits`` (B, V); ``history`` is ignored."""
        if self.p == 0.0:
            return logits.clone()
        probs = _probs64(logits)  # (B, V)
        threshold = self.p * probs.amax(dim=-1, keepdim=True)  # (B, 1)
        return logits.masked_fill(probs < threshold, _NEG_INF)

    def __repr__(self) -> str:
        return f"MinP({self.p})"


class RepetitionPenalty:
    """CTRL repetition penalty on tokens that already occur in ``history``.

    Keskar, McCann, Varshney, Xiong & Socher 2019, "CTRL" (arXiv 1909.05858), in the signed form used
    by common implementations: for every token id ``i`` present in the row's history (how often does not
    matter), ``l_i -> l_i / r`` if ``l_i > 0`` else ``l_i * r``. With ``r > 1`` a seen token always
    becomes less likely relative to unseen ones; ``r < 1`` favours repetition; ``r = 1`` is the identity.
    Tokens absent from the history are untouched. Negative ids in ``history`` are treated as padding
    and ignored. ``history=None`` means no history (identity).

    Args:
        r: Penalty, finite and ``> 0``.

    Raises:
        ValueError: If ``r <= 0``, infinite or NaN.
    """

    def __init__(self, r: float) -> None:
        self.r = _check_repetition_penalty(r)

    def __call__(self, logits: Tensor, history: Tensor | None = None) -> Tensor:
        """Penalize seen tokens in ``logits`` (B, V) given ``history`` (B, T)."""
        if history is None or history.numel() == 0 or self.r == 1.0:
            return logits.clone()
        seen = _seen_mask(history.to(logits.device), logits.shape)  # (B, V) bool
        penalized = torch.where(logits > 0, logits / self.r, logits * self.r)  # (B, V)
        return torch.where(seen, penalized, logits)

    def __repr__(self) -> str:
        return f"RepetitionPenalty({self.r})"


def _seen_mask(history: Tensor, shape: torch.Size) -> Tensor:
    """Boolean mask (B, V): token ``v`` occurs in ``history[b]`` (negative ids ignored)."""
    b, v = shape
    if history.ndim != 2 or history.shape[0] != b:
        raise ValueError(f"history must have shape (B={b}, T), got {tuple(history.shape)}")
    if history.dtype.is_floating_point or history.dtype == torch.bool:
        raise ValueError(f"history must hold integer token ids, got dtype {history.dtype}")
    if (history >= v).any():
        raise ValueError(f"history contains token ids >= vocabulary size {v}")
    ids = torch.where(history < 0, v, history).long()  # (B, T), padding -> spare column v
    mask = torch.zeros(b, v + 1, dtype=torch.bool, device=history.device)  # (B, V + 1)
    mask.scatter_(1, ids, True)
    return mask[:, :v]


# --------------------------------------------------------------------------------------------------
# composition
# --------------------------------------------------------------------------------------------------


class LogitsPipeline:
    """Apply logits processors in order: ``p_n(... p_2(p_1(logits, h), h) ..., h)``.

    Args:
        processors: Processors to apply, first to last. An empty pipeline is the identity.
    """

    def __init__(self, processors: Iterable[LogitsProcessor] = ()) -> None:
        self.processors: list[LogitsProcessor] = list(processors)

    def __call__(self, logits: Tensor, history: Tensor | None = None) -> Tensor:
        """Run every processor on ``logits`` (B, V) with the same ``history`` (B, T)."""
        out = logits
        for proc in self.processors:
            out = proc(out, history)
        return out if self.processors else logits.clone()

    def __len__(self) -> int:
        return len(self.processors)

    def __repr__(self) -> str:
        return f"LogitsPipeline({self.processors!r})"


def compose(*processors: LogitsProcessor) -> LogitsPipeline:
    """Build a [`LogitsPipeline`][llmkb.infer.sampling.LogitsPipeline] from processors given in order.

    Args:
        *processors: Processors, applied left to right.

    Returns:
        The pipeline.
    """
    return LogitsPipeline(processors)


@dataclass(frozen=True)
class SamplingConfig:
    """Sampling hyper-parameters; validated on construction.

    Attributes:
        temperature: ``>= 0``; 0 is greedy, 1 leaves logits unchanged.
        top_k: Keep the ``k`` most likely tokens; ``None`` disables.
        top_p: Nucleus mass in ``(0, 1]``; ``None`` (or 1) disables.
        min_p: Relative threshold in ``[0, 1]``; ``None`` (or 0) disables.
        repetition_penalty: ``> 0``; 1 disables.

    Raises:
        ValueError: On any invalid value; the message names the parameter.
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    repetition_penalty: float = 1.0

    def __post_init__(self) -> None:
        _check_temperature(self.temperature)
        _check_repetition_penalty(self.repetition_penalty)
        if self.top_k is not None:
            _check_top_k(self.top_k)
        if self.top_p is not None:
            _check_top_p(self.top_p)
        if self.min_p is not None:
            _check_min_p(self.min_p)

    @property
    def greedy(self) -> bool:
        """True when ``temperature == 0`` (arg-max decoding)."""
        return self.temperature == 0.0

    def pipeline(self) -> LogitsPipeline:
        """Processors in the canonical order, skipping those that would be the identity.

        Order: repetition penalty → temperature → top-k → top-p → min-p (see the module docstring
        for why). With ``temperature == 0`` the filters after temperature are dropped, since only the
        arg-max survives anyway.

        Returns:
            The pipeline.
        """
        procs: list[LogitsProcessor] = []
        if self.repetition_penalty != 1.0:
            procs.append(RepetitionPenalty(self.repetition_penalty))
        if self.temperature != 1.0:
            procs.append(Temperature(self.temperature))
        if self.greedy:
            return LogitsPipeline(procs)
        if self.top_k is not None:
            procs.append(TopK(self.top_k))
        if self.top_p is not None and self.top_p < 1.0:
            procs.append(TopP(self.top_p))
        if self.min_p is not None and self.min_p > 0.0:
            procs.append(MinP(self.min_p))
        return LogitsPipeline(procs)


_pipeline_of = functools.lru_cache(maxsize=64)(
    SamplingConfig.pipeline
)  # built once per config, not per token

# --------------------------------------------------------------------------------------------------
# sampling and distribution helpers
# --------------------------------------------------------------------------------------------------


def filtered_probs(
    logits: Tensor, config: SamplingConfig | LogitsPipeline, history: Tensor | None = None
) -> Tensor:
    """Final sampling distribution after every filter: ``softmax(pipeline(logits, history))``.

    Filtered tokens get probability exactly 0; each row sums to 1. With ``temperature == 0`` the
    result is one-hot on the arg-max (lowest index among ties).

    Args:
        logits: Logits of shape ``(..., V)`` (any leading dims, or just ``(V,)``).
        config: A [`SamplingConfig`][llmkb.infer.sampling.SamplingConfig] (its canonical pipeline is used)
            or an explicit [`LogitsPipeline`][llmkb.infer.sampling.LogitsPipeline].
        history: Optional token ids ``(B, T)`` for the repetition penalty, where ``B`` is the product
            of the leading dims of ``logits`` (``1`` for a 1-D ``logits``).

    Returns:
        Probabilities of shape ``(..., V)``, float32 (float64 if ``logits`` is float64).

    Raises:
        ValueError: If ``logits`` contain NaN/+inf or a row with no finite value.
    """
    _check_logits(logits)
    pipe = config.pipeline() if isinstance(config, SamplingConfig) else config
    flat = _work_dtype(logits).reshape(-1, logits.shape[-1])  # (B, V)
    out = pipe(flat, history)  # (B, V)
    return torch.softmax(out, dim=-1).reshape(logits.shape)


def sample_next(
    logits: Tensor,
    params: SamplingConfig,
    *,
    history: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw the next token id for each row of ``logits``.

    Applies the canonical pipeline of ``params`` (repetition penalty → temperature → top-k → top-p →
    min-p) and samples from the result with ``torch.multinomial``. With ``temperature == 0`` it returns
    the arg-max of the (penalized) logits instead — the lowest index among ties — and does not consume
    random numbers.

    Args:
        logits: Last-position logits ``(B, V)``; any float dtype (computed in float32 or float64).
        params: The [`SamplingConfig`][llmkb.infer.sampling.SamplingConfig], validated when it was built.
        history: Token ids seen so far ``(B, T)`` (prompt + generated), for the repetition penalty.
        generator: Optional ``torch.Generator`` (on the logits' device) for reproducible draws.

    Returns:
        Token ids, ``LongTensor`` of shape ``(B,)`` on the logits' device.

    Raises:
        ValueError: On unusable logits or history.
    """
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (B, V), got {tuple(logits.shape)}")
    _check_logits(logits)
    work = _work_dtype(logits)  # (B, V)
    if params.greedy:
        if params.repetition_penalty != 1.0:
            work = RepetitionPenalty(params.repetition_penalty)(work, history)
        return work.argmax(dim=-1)  # (B,) first maximal index
    probs = torch.softmax(_pipeline_of(params)(work, history), dim=-1)  # (B, V)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)  # (B,)


def entropy(probs: Tensor, dim: int = -1) -> Tensor:
    """Shannon entropy in **nats**: ``H(P) = -sum_i P_i ln P_i`` (with ``0 ln 0 = 0``).

    Args:
        probs: Probabilities, summing to 1 along ``dim``.
        dim: The distribution's dimension.

    Returns:
        Entropy with ``dim`` reduced, same float dtype as ``probs``.
    """
    return -torch.special.xlogy(probs, probs).sum(dim=dim)


def entropy_bits(probs: Tensor, dim: int = -1) -> Tensor:
    """Shannon entropy in **bits** (``entropy(probs) / ln 2``).

    Args:
        probs: Probabilities, summing to 1 along ``dim``.
        dim: The distribution's dimension.

    Returns:
        Entropy in bits with ``dim`` reduced.
    """
    return entropy(probs, dim=dim) / math.log(2.0)


def surviving_count(probs: Tensor, dim: int = -1) -> Tensor:
    """Number of tokens with non-zero probability (tokens that survived every filter).

    Args:
        probs: Probabilities, e.g. from [`filtered_probs`][llmkb.infer.sampling.filtered_probs].
        dim: The distribution's dimension.

    Returns:
        ``int64`` counts with ``dim`` reduced (a 0-d tensor for a single distribution; use ``int()``).
    """
    return (probs > 0).sum(dim=dim)
