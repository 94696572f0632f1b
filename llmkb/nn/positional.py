"""Positional information for a decoder-only transformer: four ways to tell attention *where* a token is.

Self-attention is permutation-equivariant: without positional information (and ignoring the causal mask)
the model sees a bag of tokens. The schemes here differ in *where* position enters:

* **added to the input** —
  [`SinusoidalPositionalEncoding`][llmkb.nn.positional.SinusoidalPositionalEncoding]
  (fixed, Vaswani et al. 2017) and
  [`LearnedPositionalEmbedding`][llmkb.nn.positional.LearnedPositionalEmbedding] (a trained table, GPT-2);
* **rotating queries and keys** — [`RotaryEmbedding`][llmkb.nn.positional.RotaryEmbedding]
  (RoPE, Su et al. 2021), so the score ``q_m . k_n`` depends on ``m - n`` only;
* **biasing the scores** — [`alibi_bias`][llmkb.nn.positional.alibi_bias] (ALiBi, Press et al. 2021), a
  per-head linear penalty on distance.

All position arguments are absolute positions (LongTensor ``(T,)``), so cached generation just passes
``offset + arange(T)``.

Protocol. ``GPTConfig.positional`` names an entry of [`POSITIONAL`][llmkb.nn.positional.POSITIONAL], a
subclass of [`PositionalScheme`][llmkb.nn.positional.PositionalScheme] built once per model with
``from_config(config)``. The model and attention call three methods on it, and each scheme overrides the
ones it needs (the others are the identity):

* ``add_to_embeddings(x (B, T, d), offset) -> x`` — once, on the token embeddings;
* ``rotate(q (B, H, T, D), k (B, H_kv, T, D), offset) -> (q, k)`` — in every attention layer, before the
  KV cache;
* ``score_bias(query_positions (T,), key_positions (S,)) -> (H, T, S) | None`` — added to the scores.

Plus ``token_scale`` (token embeddings are multiplied by it), ``context_limit`` (positions past it have no
encoding) and ``check(config)`` (configuration errors, raised by ``GPTConfig``). A new scheme is one subclass
plus one entry in ``POSITIONAL``: RoPE with position interpolation,
[`InterpolatedRotaryEmbedding`][llmkb.nn.positional.InterpolatedRotaryEmbedding] (``rope-pi``), is one.
NTK-aware scaling, [`NTKRotaryEmbedding`][llmkb.nn.positional.NTKRotaryEmbedding] (``rope-ntk``), is plain
RoPE with the base [`ntk_scaled_base`][llmkb.nn.positional.ntk_scaled_base].
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from llmkb.nn.config import GPTConfig

__all__ = [
    "POSITIONAL",
    "PositionalScheme",
    "NoPosition",
    "NO_POSITION",
    "ALiBi",
    "sinusoidal_table",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEmbedding",
    "rope_inv_freq",
    "rotate_half",
    "apply_rotary",
    "RotaryEmbedding",
    "InterpolatedRotaryEmbedding",
    "NTKRotaryEmbedding",
    "ntk_scaled_base",
    "rope_wavelengths",
    "alibi_slopes",
    "alibi_bias",
]


# --------------------------------------------------------------------------------------------------
# the protocol, and no positions at all
# --------------------------------------------------------------------------------------------------


class PositionalScheme(nn.Module):
    """Where position enters the model; every method is the identity here (protocol: module docstring)."""

    token_scale: float = 1.0
    """Token embeddings are multiplied by this before ``add_to_embeddings``."""
    context_limit: int | None = None
    """Positions ``>= context_limit`` have no encoding (``GPT.generate`` crops there); ``None``: no limit."""

    @classmethod
    def from_config(cls, config: GPTConfig) -> PositionalScheme:
        """Build the scheme for a model of ``config``."""
        return cls()

    @classmethod
    def check(cls, config: GPTConfig) -> None:
        """Raise ``ValueError`` (one line) if ``config`` cannot use this scheme."""

    def add_to_embeddings(self, x: Tensor, offset: int) -> Tensor:
        """Token embeddings ``x`` ``(B, T, d)`` of positions ``offset ..`` plus their encoding."""
        return x

    def rotate(self, q: Tensor, k: Tensor, offset: int) -> tuple[Tensor, Tensor]:
        """Queries ``(B, H, T, D)`` and keys ``(B, H_kv, T, D)`` of positions ``offset ..``, rotated."""
        return q, k

    def score_bias(self, query_positions: Tensor, key_positions: Tensor) -> Tensor | None:
        """Additive score bias ``(H, T, S)`` for queries and keys at these positions, or ``None``."""
        return None


class NoPosition(PositionalScheme):
    """No positional encoding (NoPE): only the causal mask tells positions apart (Haviv et al. 2022,
    arXiv 2203.16634)."""


NO_POSITION: PositionalScheme = NoPosition()
"""The stateless no-position scheme, shared (used when there is no scheme or positions are hooked off)."""


# --------------------------------------------------------------------------------------------------
# sinusoidal (Vaswani et al. 2017)
# --------------------------------------------------------------------------------------------------


def sinusoidal_table(positions: Tensor, d_model: int, base: float = 10000.0) -> Tensor:
    """Fixed sinusoidal encodings of Vaswani et al. 2017 ("Attention Is All You Need", arXiv 1706.03762).

    ``PE[p, 2i] = sin(p / base^(2i/d))`` and ``PE[p, 2i+1] = cos(p / base^(2i/d))`` for
    ``i = 0 .. d/2 - 1``: channel pairs are sine/cosine at geometrically spaced wavelengths from
    ``2*pi`` to ``base * 2*pi``. Defined for every position, so it can be evaluated past training length.

    Args:
        positions: absolute positions, LongTensor ``(T,)``.
        d_model: even model width.
        base: wavelength base (10000 in the paper).

    Returns:
        Float32 tensor ``(T, d_model)``.
    """
    if d_model % 2:
        raise ValueError(f"sinusoidal encoding needs an even d_model, got {d_model}")
    i = torch.arange(0, d_model, 2, dtype=torch.float64, device=positions.device)  # (d/2,) = 2i
    inv_freq = base ** (-i / d_model)  # (d/2,)
    angles = positions.to(torch.float64)[:, None] * inv_freq[None, :]  # (T, d/2)
    table = torch.empty(positions.shape[0], d_model, dtype=torch.float64, device=positions.device)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles)
    return table.to(torch.float32)  # (T, d)


class SinusoidalPositionalEncoding(PositionalScheme):
    """Adds nothing trainable: returns the sinusoidal table rows for the requested positions.

    The first ``max_len`` rows are precomputed (a non-persistent buffer); later positions are computed on
    the fly with [`sinusoidal_table`][llmkb.nn.positional.sinusoidal_table], so the module extrapolates.
    As a scheme it scales token embeddings by ``sqrt(d_model)`` before adding the table, as Vaswani et al.
    2017 do (the encoding has unit amplitude).

    Args:
        d_model: even model width.
        max_len: rows to precompute.
        base: wavelength base.
    """

    def __init__(self, d_model: int, max_len: int, base: float = 10000.0) -> None:
        super().__init__()
        self.d_model = d_model
        self.base = base
        self.token_scale = math.sqrt(d_model)
        table = sinusoidal_table(torch.arange(max_len), d_model, base)  # (max_len, d)
        self.register_buffer("table", table, persistent=False)

    def forward(self, positions: Tensor) -> Tensor:
        """Return encodings ``(T, d_model)`` for absolute ``positions`` ``(T,)``."""
        table: Tensor = self.table
        if positions.numel() and int(positions.max()) < table.shape[0]:
            return table[positions]
        return sinusoidal_table(positions, self.d_model, self.base).to(table.dtype)

    def span(self, offset: int, length: int) -> Tensor:
        """Encodings ``(length, d_model)`` of positions ``offset .. offset+length-1`` (a view when precomputed)."""
        table: Tensor = self.table
        if offset + length <= table.shape[0]:
            return table[offset : offset + length]
        return self(torch.arange(offset, offset + length, device=table.device))

    @classmethod
    def from_config(cls, config: GPTConfig) -> SinusoidalPositionalEncoding:
        """The encoding of width ``d_model`` with ``max_seq_len`` rows precomputed."""
        return cls(config.d_model, config.max_seq_len)

    @classmethod
    def check(cls, config: GPTConfig) -> None:
        """The table needs an even ``d_model``."""
        if config.d_model % 2:
            raise ValueError(f"sinusoidal positions need an even d_model, got {config.d_model}")

    def add_to_embeddings(self, x: Tensor, offset: int) -> Tensor:
        """``x + PE[offset : offset + T]``, broadcast over the batch."""
        return x + self.span(offset, x.shape[1]).to(x.dtype)  # (T, d) broadcast over B


# --------------------------------------------------------------------------------------------------
# learned absolute (GPT, Radford et al. 2018/2019)
# --------------------------------------------------------------------------------------------------


class LearnedPositionalEmbedding(PositionalScheme):
    """A trained table ``P`` of shape ``(max_len, d_model)``; position ``p`` contributes ``P[p]``.

    Used by GPT-2 (Radford et al. 2019). It cannot extrapolate: positions ``>= max_len`` have no row
    and raise ``ValueError`` (generation crops the context window instead, see ``GPT.generate``).

    Args:
        max_len: number of positions (``GPTConfig.max_seq_len``).
        d_model: model width.
    """

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__()
        self.max_len = self.context_limit = max_len
        self.weight = nn.Parameter(torch.empty(max_len, d_model))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, positions: Tensor) -> Tensor:
        """Return rows ``(T, d_model)`` for absolute ``positions`` ``(T,)``."""
        if positions.numel() and int(positions.max()) >= self.max_len:
            raise ValueError(
                f"position {int(positions.max())} is past the {self.max_len} learned positions; "
                "crop the input to max_seq_len tokens"
            )
        return self.weight[positions]

    def span(self, offset: int, length: int) -> Tensor:
        """Rows ``(length, d_model)`` of positions ``offset .. offset+length-1`` (a slice, no gather)."""
        if offset < 0 or offset + length > self.max_len:
            raise ValueError(
                f"positions {offset}..{offset + length - 1} are past the {self.max_len} learned positions; "
                "crop the input to max_seq_len tokens"
            )
        return self.weight[offset : offset + length]

    @classmethod
    def from_config(cls, config: GPTConfig) -> LearnedPositionalEmbedding:
        """A table of ``max_seq_len`` rows of width ``d_model``."""
        return cls(config.max_seq_len, config.d_model)

    def add_to_embeddings(self, x: Tensor, offset: int) -> Tensor:
        """``x + P[offset : offset + T]``, broadcast over the batch."""
        return x + self.span(offset, x.shape[1]).to(x.dtype)  # (T, d) broadcast over B


# --------------------------------------------------------------------------------------------------
# rotary (RoPE, Su et al. 2021)
# --------------------------------------------------------------------------------------------------


def rope_inv_freq(head_dim: int, base: float = 10000.0, device: torch.device | str | None = None) -> Tensor:
    """RoPE frequencies ``theta_i = base^(-2i/D)``, ``i = 0 .. D/2 - 1``, as float32 ``(D/2,)``.

    Computed exactly as Hugging Face's Llama implementation does (integer exponents, float32), so the
    tables agree bit for bit.
    """
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64, device=device).to(torch.float32) / head_dim
    return 1.0 / (base**exponents)


def rotate_half(x: Tensor) -> Tensor:
    """Split the last dim into halves ``(x1, x2)``, return ``(-x2, x1)``: a 90 degree turn of every pair."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate every channel pair of ``x`` by its position's angle (RoPE, Su et al. 2021, arXiv 2104.09864).

    Pairing convention (the one used by Hugging Face Llama/GPT-NeoX, chosen here): channel ``i`` is paired
    with channel ``i + D/2`` (a *half split*), not with ``i + 1`` (the interleaved pairs of the paper
    and of Meta's complex-number code). The two conventions are the same function up to a fixed
    permutation of the query/key projection's output channels, so they train identically.

    For a pair ``(a, b)`` at position ``m`` with frequency ``theta_i``:
    ``(a, b) -> (a cos(m theta_i) - b sin(m theta_i), b cos(m theta_i) + a sin(m theta_i))``,
    i.e. ``x * cos + rotate_half(x) * sin``.

    Args:
        x: ``(..., T, D)`` queries or keys (D even).
        cos: ``(T, D)`` from [`RotaryEmbedding`][llmkb.nn.positional.RotaryEmbedding] (each angle twice).
        sin: ``(T, D)``.

    Returns:
        Tensor shaped like ``x``.
    """
    return x * cos + rotate_half(x) * sin


class RotaryEmbedding(PositionalScheme):
    """Cos/sin tables for rotary position embedding (Su et al. 2021, "RoFormer", arXiv 2104.09864).

    RoPE rotates query and key channel pairs by an angle proportional to the absolute position,
    ``R(m theta_i)``. Because rotations compose, ``<R_m q, R_n k> = <q, R_(n-m) k>``: the attention score
    depends on positions only through ``m - n``. Nothing is trained and nothing is added to the residual
    stream.

    Tables for ``max_len`` positions are precomputed (non-persistent buffers, float32, angles computed as
    in Hugging Face Llama); positions beyond are computed on the fly, so the module never fails — but a
    model trained on ``max_len`` positions has never seen the larger angles (poor extrapolation).

    Args:
        head_dim: even per-head width ``D``.
        max_len: positions to precompute.
        base: frequency base ``b`` in ``theta_i = b^(-2i/D)``.
    """

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary embedding needs an even head_dim, got {head_dim}")
        self.head_dim = head_dim
        self.base = float(base)
        cos, sin = self._compute(torch.arange(max_len))
        self.register_buffer("cos_table", cos, persistent=False)  # (max_len, D)
        self.register_buffer("sin_table", sin, persistent=False)  # (max_len, D)

    def _inv_freq(self, device: torch.device) -> Tensor:
        return rope_inv_freq(self.head_dim, self.base, device)  # (D/2,)

    def _compute(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        inv_freq = self._inv_freq(positions.device)  # (D/2,)
        angles = positions.to(torch.float32)[:, None] * inv_freq[None, :]  # (T, D/2)
        emb = torch.cat((angles, angles), dim=-1)  # (T, D): half-split convention
        return emb.cos(), emb.sin()

    def forward(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(cos, sin)``, each ``(T, D)``, for absolute ``positions`` ``(T,)``."""
        cos_t: Tensor = self.cos_table
        sin_t: Tensor = self.sin_table
        if positions.numel() and int(positions.max()) < cos_t.shape[0]:
            return cos_t[positions], sin_t[positions]
        cos, sin = self._compute(positions.to(cos_t.device))
        return cos.to(cos_t.dtype), sin.to(sin_t.dtype)

    def span(self, offset: int, length: int) -> tuple[Tensor, Tensor]:
        """``(cos, sin)``, each ``(length, D)``, for positions ``offset .. offset+length-1`` (views when
        precomputed; equal to ``self(torch.arange(offset, offset + length))``)."""
        cos_t: Tensor = self.cos_table
        if offset + length <= cos_t.shape[0]:
            return cos_t[offset : offset + length], self.sin_table[offset : offset + length]
        return self(torch.arange(offset, offset + length, device=cos_t.device))

    @classmethod
    def from_config(cls, config: GPTConfig) -> RotaryEmbedding:
        """Tables for ``head_dim`` and ``max_seq_len`` positions with base ``rope_base``."""
        return cls(config.head_dim, config.max_seq_len, config.rope_base)

    @classmethod
    def check(cls, config: GPTConfig) -> None:
        """Channels rotate in pairs: ``head_dim`` must be even."""
        if config.head_dim % 2:
            raise ValueError(f"rope needs an even head_dim, got d_model/n_heads={config.head_dim}")

    def rotate(self, q: Tensor, k: Tensor, offset: int = 0) -> tuple[Tensor, Tensor]:
        """Apply RoPE to ``q`` and ``k`` ``(..., T, D)`` at positions ``offset .. offset+T-1``."""
        cos, sin = self.span(offset, q.shape[-2])  # (T, D) each
        cos, sin = cos.to(q.dtype), sin.to(q.dtype)
        return apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)


def rope_wavelengths(head_dim: int, base: float = 10000.0) -> Tensor:
    """Wavelength of every RoPE pair in positions, ``lambda_i = 2 pi / theta_i = 2 pi b^(2i/D)``, float64 ``(D/2,)``.

    The shortest is ``2 pi`` (pair 0); the longest is ``2 pi b^((D-2)/D)`` (pair ``D/2 - 1``), which is
    *not* ``2 pi b``: for ``D = 32`` it is ``0.56`` of it, for ``D = 16`` only ``0.32`` (Su et al. 2021,
    arXiv 2104.09864). A pair whose wavelength exceeds the training length never turns a full circle in
    training, so longer inputs show it angles it has never seen.
    """
    i = torch.arange(0, head_dim, 2, dtype=torch.float64)  # (D/2,) = 2i
    return 2.0 * math.pi * float(base) ** (i / head_dim)


def ntk_scaled_base(base: float, scale: float, head_dim: int) -> float:
    """NTK-aware RoPE base for a context ``scale`` times longer: ``b' = b * s^(D / (D - 2))``.

    With ``b'`` the slowest pair's frequency ``b'^(-(D-2)/D) = b^(-(D-2)/D) / s`` is divided by ``s``, as
    position interpolation would do, while the fastest pair (``theta_0 = 1``) is untouched, so local
    order stays as sharp as in training (bloc97 2023, "NTK-aware scaled RoPE"; analysed as "NTK-by-parts"
    in Peng et al. 2023, YaRN, arXiv 2309.00071). Use it as ``GPTConfig(positional="rope", rope_base=b')``.

    Args:
        base: the trained base ``b``.
        scale: the context extension factor ``s >= 1``.
        head_dim: even per-head width ``D > 2``.

    Returns:
        The new base (``base`` itself at ``scale = 1``).
    """
    if head_dim <= 2 or head_dim % 2:
        raise ValueError(f"NTK scaling needs an even head_dim > 2, got {head_dim}")
    if not scale >= 1.0:
        raise ValueError(f"the scale must be >= 1, got {scale!r}")
    return float(base) * float(scale) ** (head_dim / (head_dim - 2))


class InterpolatedRotaryEmbedding(RotaryEmbedding):
    """RoPE with linear position interpolation (Chen et al. 2023, arXiv 2306.15595), ``rope-pi``.

    Position ``p`` is rotated as if it were ``p / s``: every angle becomes ``(p / s) theta_i``, so a model
    trained on ``L`` positions and run on ``s L`` sees only angles inside its trained range (at fractional
    positions) instead of larger, unseen ones. Implemented as Hugging Face's ``linear`` RoPE scaling does:
    the frequencies are divided by ``s``. ``s = 1`` is plain RoPE. Chen et al. fine-tune briefly after
    interpolating; used on a checkpoint as is, local order is blurred by a factor ``s``.

    Args:
        head_dim: even per-head width ``D``.
        max_len: positions to precompute.
        base: frequency base ``b``.
        scale: the interpolation factor ``s >= 1`` (``GPTConfig.rope_scale``).
    """

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0, scale: float = 1.0) -> None:
        if isinstance(scale, bool) or not (isinstance(scale, int | float) and scale >= 1.0):
            raise ValueError(f"rope_scale must be a number >= 1, got {scale!r}")
        self.scale = float(scale)  # read by _inv_freq while the parent builds its tables
        super().__init__(head_dim, max_len, base)

    def _inv_freq(self, device: torch.device) -> Tensor:
        return rope_inv_freq(self.head_dim, self.base, device) / self.scale  # (D/2,)

    @classmethod
    def from_config(cls, config: GPTConfig) -> InterpolatedRotaryEmbedding:
        """Tables for ``head_dim`` and ``max_seq_len`` positions, base ``rope_base``, factor ``rope_scale``."""
        return cls(config.head_dim, config.max_seq_len, config.rope_base, config.rope_scale)


class NTKRotaryEmbedding(RotaryEmbedding):
    """RoPE with NTK-aware base scaling, ``rope-ntk``: base ``b' = b s^(D / (D - 2))`` for a context ``s``
    times the trained one (bloc97 2023; Peng et al. 2023, YaRN, arXiv 2309.00071).

    Where position interpolation divides every frequency by ``s``, this divides the slowest by ``s`` and
    leaves the fastest alone (see [`ntk_scaled_base`][llmkb.nn.positional.ntk_scaled_base]): long
    wavelengths stretch to cover the longer context while neighbouring tokens keep the angles they had in
    training. ``s = 1`` is plain RoPE.

    Args:
        head_dim: even per-head width ``D > 2``.
        max_len: positions to precompute.
        base: the trained frequency base ``b``.
        scale: the context extension factor ``s >= 1`` (``GPTConfig.rope_scale``).
    """

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0, scale: float = 1.0) -> None:
        if isinstance(scale, bool) or not (isinstance(scale, int | float) and scale >= 1.0):
            raise ValueError(f"rope_scale must be a number >= 1, got {scale!r}")
        self.scale = float(scale)
        self.trained_base = float(base)
        super().__init__(head_dim, max_len, ntk_scaled_base(base, scale, head_dim))

    @classmethod
    def from_config(cls, config: GPTConfig) -> NTKRotaryEmbedding:
        """Tables for ``head_dim`` and ``max_seq_len`` positions, base ``rope_base`` scaled by ``rope_scale``."""
        return cls(config.head_dim, config.max_seq_len, config.rope_base, config.rope_scale)

    @classmethod
    def check(cls, config: GPTConfig) -> None:
        """NTK scaling needs an even ``head_dim > 2``."""
        if config.head_dim <= 2 or config.head_dim % 2:
            raise ValueError(f"rope-ntk needs an even head_dim > 2, got d_model/n_heads={config.head_dim}")


# --------------------------------------------------------------------------------------------------
# ALiBi (Press et al. 2021)
# --------------------------------------------------------------------------------------------------


def _power_of_two_slopes(n: int) -> list[float]:
    start = 2.0 ** (-8.0 / n)
    return [start ** (i + 1) for i in range(n)]


def alibi_slopes(n_heads: int) -> Tensor:
    """Per-head ALiBi slopes ``m_h`` (Press et al. 2021, "Train Short, Test Long", arXiv 2108.12409).

    For ``n`` a power of two the slopes are the geometric sequence ``2^(-8/n), 2^(-16/n), ..., 2^(-8)``
    (ratio and first term ``2^(-8/n)``). Otherwise, with ``p`` the largest power of two below ``n``, the
    paper takes the ``p`` slopes for ``p`` heads and fills the remaining ``n - p`` with every other slope
    of the ``2p``-head sequence (``2^(-8/(2p)) * ratio^0, ratio^2, ...``), i.e. slopes interleaved
    between the existing ones.

    Args:
        n_heads: number of attention heads.

    Returns:
        Float32 tensor ``(n_heads,)``.
    """
    if n_heads < 1:
        raise ValueError(f"n_heads must be >= 1, got {n_heads}")
    p = 2 ** int(math.floor(math.log2(n_heads)))
    slopes = _power_of_two_slopes(p)
    if p < n_heads:
        slopes += _power_of_two_slopes(2 * p)[0::2][: n_heads - p]
    return torch.tensor(slopes, dtype=torch.float32)


def alibi_bias(slopes: Tensor, query_positions: Tensor, key_positions: Tensor) -> Tensor:
    """ALiBi attention bias ``b[h, i, j] = -m_h * (pos_i - pos_j)`` (Press et al. 2021, arXiv 2108.12409).

    Added to the pre-softmax scores ``q_i . k_j / sqrt(D)``: a key ``d`` positions in the past costs
    ``m_h * d`` logits, so each head has its own exponential recency preference. (The paper's code adds
    ``m_h * j``, which differs by a per-row constant and therefore gives the same softmax.) Entries with
    ``j > i`` are positive; the causal mask removes them.

    Args:
        slopes: ``(H,)`` from [`alibi_slopes`][llmkb.nn.positional.alibi_slopes].
        query_positions: absolute positions ``(T,)``.
        key_positions: absolute positions ``(S,)``.

    Returns:
        Tensor ``(H, T, S)`` in the dtype of ``slopes``.
    """
    distance = (query_positions[:, None] - key_positions[None, :]).to(slopes.dtype)  # (T, S)
    return -slopes[:, None, None] * distance[None, :, :]  # (H, T, S)


class ALiBi(PositionalScheme):
    """ALiBi as a scheme: nothing added, nothing rotated; [`alibi_bias`][llmkb.nn.positional.alibi_bias]
    added to every layer's scores (Press et al. 2021, arXiv 2108.12409).

    Args:
        n_heads: number of query heads (one slope each, a non-persistent buffer).
    """

    def __init__(self, n_heads: int) -> None:
        super().__init__()
        self.register_buffer("slopes", alibi_slopes(n_heads), persistent=False)  # (H,)

    @classmethod
    def from_config(cls, config: GPTConfig) -> ALiBi:
        """Slopes for ``n_heads`` heads."""
        return cls(config.n_heads)

    def score_bias(self, query_positions: Tensor, key_positions: Tensor) -> Tensor:
        """``-m_h (i - j)``, ``(H, T, S)``."""
        return alibi_bias(self.slopes, query_positions, key_positions)


POSITIONAL: dict[str, type[PositionalScheme]] = {
    "none": NoPosition,
    "sinusoidal": SinusoidalPositionalEncoding,
    "learned": LearnedPositionalEmbedding,
    "rope": RotaryEmbedding,
    "rope-pi": InterpolatedRotaryEmbedding,
    "rope-ntk": NTKRotaryEmbedding,
    "alibi": ALiBi,
}
"""Positional schemes by ``GPTConfig.positional`` name (protocol in the module docstring)."""
