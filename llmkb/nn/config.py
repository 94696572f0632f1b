"""Configuration of the decoder-only transformer: one dataclass, validated, with named presets.

Every architectural choice the knowledge base compares is a field of [`GPTConfig`][llmkb.nn.GPTConfig]:
positional scheme, normalization and its placement, feed-forward network, attention kernel, grouped-query
attention, sliding-window attention, weight tying and biases. The named choices are the keys of the
registries [`POSITIONAL`][llmkb.nn.positional.POSITIONAL], [`NORMS`][llmkb.nn.norm.NORMS],
[`FFNS`][llmkb.nn.ffn.FFNS] and [`KERNELS`][llmkb.nn.attention.KERNELS], so registering a class there is all
a new variant needs. Ablations that change what a trained model computes are hooks
([`llmkb.nn.hooks`][llmkb.nn.hooks]), not fields. Derived sizes (``head_dim``, ``kv_heads``, ``ffn_dim``)
are read-only properties, so ``dataclasses.replace(cfg, activation="swiglu")`` re-derives them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from llmkb.nn.attention import KERNELS
from llmkb.nn.ffn import FFNS
from llmkb.nn.moe import MoEConfig
from llmkb.nn.norm import NORMS
from llmkb.nn.positional import POSITIONAL

__all__ = ["GPTConfig", "PRESETS", "NORM_POSITIONS"]

NORM_POSITIONS: tuple[str, ...] = ("pre", "post")
"""Accepted values of ``GPTConfig.norm_position``."""
_REMOVED: dict[str, Any] = {"residual": True, "surgery": None}  # ablation fields of older configs, now hooks


@dataclass
class GPTConfig:
    """Hyper-parameters of [`GPT`][llmkb.nn.GPT].

    Attributes:
        vocab_size: number of token ids.
        d_model: width of the residual stream.
        n_layers: number of transformer blocks.
        n_heads: number of query heads; must divide ``d_model``.
        n_kv_heads: number of key/value heads (grouped-query attention, Ainslie et al. 2023,
            arXiv 2305.13245). ``None`` means ``n_heads`` (classic multi-head attention); 1 is
            multi-query attention. Query head ``h`` reads key/value head ``h // (n_heads // n_kv_heads)``.
        d_ff: hidden width of the feed-forward network. ``None`` means the network's ``default_width``:
            ``4 * d_model``, or for SwiGLU ``2/3 * 4 * d_model`` rounded up to a multiple of 8 (same parameter
            count as a 4x MLP).
        max_seq_len: positions the model is trained for (size of the learned positional table; size of
            the precomputed RoPE/sinusoidal tables).
        positional: a key of [`POSITIONAL`][llmkb.nn.positional.POSITIONAL]: ``none`` | ``sinusoidal`` |
            ``learned`` | ``rope`` | ``rope-pi`` (position interpolation) | ``rope-ntk`` (NTK-aware base) |
            ``alibi``.
        rope_base: base ``b`` of the RoPE frequencies ``b^(-2i/head_dim)``.
        rope_scale: the context-extension factor ``s`` of ``rope-pi`` (position ``p`` is rotated as ``p / s``;
            Chen et al. 2023, arXiv 2306.15595) and of ``rope-ntk`` (the base becomes
            ``b s^(D / (D - 2))``, so the slowest pair turns ``s`` times slower); ignored by the other schemes.
        norm: a key of [`NORMS`][llmkb.nn.norm.NORMS]: ``layernorm`` | ``rmsnorm`` | ``none`` (no
            normalization, an ablation).
        norm_position: ``pre`` (normalize the sublayer input, plus a final norm) or ``post``
            (normalize after the residual addition, as in Vaswani et al. 2017; no final norm).
        norm_eps: epsilon of the normalization layers.
        activation: the feed-forward network, a key of [`FFNS`][llmkb.nn.ffn.FFNS]: ``gelu`` (tanh
            approximation, as GPT-2; also ``gelu-tanh``) | ``gelu-exact`` (erf) | ``relu`` | ``silu`` |
            ``swiglu`` | ``geglu`` (gated: ``SiLU`` / ``GELU`` on the gate branch) | ``moe`` (a routed
            mixture of experts, [`MoE`][llmkb.nn.moe.MoE], set by ``moe``).
        attention: the kernel, a key of [`KERNELS`][llmkb.nn.attention.KERNELS]: ``naive`` (explicit
            softmax(QK^T/sqrt(d))V) | ``sdpa`` (``torch.nn.functional.scaled_dot_product_attention``) |
            ``chunked`` (the online softmax by blocks, banded with a sliding window; no attention dropout).
        dropout: dropout probability on embeddings, attention weights and residual branches.
        bias: biases in all linear layers (except the LM head) and LayerNorm.
        tie_embeddings: the LM head reuses the token-embedding matrix (Press & Wolf 2017, arXiv 1608.05859).
        sliding_window: if set, query ``i`` attends only to keys ``j`` with ``0 <= i - j < sliding_window``
            (Beltagy et al. 2020, arXiv 2004.05150; Mistral, arXiv 2310.06825).
        moe: with ``activation="moe"``, the fields of [`MoEConfig`][llmkb.nn.moe.MoEConfig] to set (experts,
            top-k, routing, capacity factor, shared expert, auxiliary-loss coefficients, expert kind);
            ``None`` means the defaults there. Must be ``None`` for a dense feed-forward network.
    """

    vocab_size: int = 256
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    n_kv_heads: int | None = None
    d_ff: int | None = None
    max_seq_len: int = 256
    positional: str = "learned"
    rope_base: float = 10000.0
    rope_scale: float = 1.0
    norm: str = "layernorm"
    norm_position: str = "pre"
    norm_eps: float = 1e-5
    activation: str = "gelu"
    attention: str = "sdpa"
    dropout: float = 0.0
    bias: bool = True
    tie_embeddings: bool = True
    sliding_window: int | None = None
    moe: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        """Validate every field; raise ``ValueError`` with a one-line message on the first problem."""
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "max_seq_len"):
            _check_int(name, getattr(self, name), minimum=1)
        for name in ("n_kv_heads", "d_ff", "sliding_window"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), minimum=1)
        for name in ("bias", "tie_embeddings"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        _check_choice("positional", self.positional, POSITIONAL)
        _check_choice("norm", self.norm, NORMS)
        _check_choice("norm_position", self.norm_position, NORM_POSITIONS)
        _check_choice("activation", self.activation, FFNS)
        _check_choice("attention", self.attention, KERNELS)
        if self.moe is not None and self.activation != "moe":
            raise ValueError(f"moe settings need activation='moe', got activation={self.activation!r}")
        if self.activation == "moe":
            MoEConfig.from_dict(self.moe)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if self.n_heads % self.kv_heads:
            raise ValueError(f"n_kv_heads={self.n_kv_heads} must divide n_heads={self.n_heads}")
        POSITIONAL[self.positional].check(self)
        if not (isinstance(self.rope_base, int | float) and self.rope_base > 1.0):
            raise ValueError(f"rope_base must be a number > 1, got {self.rope_base!r}")
        if isinstance(self.rope_scale, bool) or not (
            isinstance(self.rope_scale, int | float) and self.rope_scale >= 1.0
        ):
            raise ValueError(f"rope_scale must be a number >= 1, got {self.rope_scale!r}")
        if not (isinstance(self.norm_eps, int | float) and self.norm_eps > 0.0):
            raise ValueError(f"norm_eps must be a positive number, got {self.norm_eps!r}")
        if not (isinstance(self.dropout, int | float) and 0.0 <= self.dropout < 1.0):
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")

    # ------------------------------------------------------------------ derived sizes
    @property
    def head_dim(self) -> int:
        """Width of one attention head, ``d_model // n_heads``."""
        return self.d_model // self.n_heads

    @property
    def kv_heads(self) -> int:
        """Resolved number of key/value heads (``n_kv_heads`` or ``n_heads``)."""
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    @property
    def ffn_dim(self) -> int:
        """Resolved feed-forward hidden width (see ``d_ff``)."""
        if self.d_ff is not None:
            return self.d_ff
        if self.activation == "moe":
            return FFNS[MoEConfig.from_dict(self.moe).expert].default_width(self.d_model)  # type: ignore[attr-defined]
        return FFNS[self.activation].default_width(self.d_model)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ (de)serialization
    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-serializable dict (``from_dict`` inverts it)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GPTConfig:
        """Build a config from ``to_dict()`` output; unknown keys raise ``ValueError``."""
        data = dict(data)
        for name, neutral in _REMOVED.items():  # older checkpoints: accept the neutral value, drop it
            if name in data and data.pop(name) != neutral:
                raise ValueError(
                    f"{name} is no longer a GPTConfig field; run the model under GPT.hooks instead"
                )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown GPTConfig field(s): {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> GPTConfig:
        """Return the named preset from [`PRESETS`][llmkb.nn.PRESETS], with ``overrides`` applied.

        Args:
            name: a key of ``PRESETS`` (``tiny``, ``small``, ``shared``, ``gpt2-style``, ``llama-style``).
            **overrides: any ``GPTConfig`` fields to change.

        Raises:
            ValueError: unknown preset name or invalid override.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
        return cls.from_dict({**PRESETS[name], **overrides})


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_choice(name: str, value: object, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {'|'.join(choices)}, got {value!r}")


_MODERN: dict[str, Any] = {
    "positional": "rope",
    "norm": "rmsnorm",
    "activation": "swiglu",
    "bias": False,
}

PRESETS: dict[str, dict[str, Any]] = {
    # unit tests: fast everywhere
    "tiny": {"vocab_size": 256, "d_model": 64, "n_layers": 2, "n_heads": 2, "max_seq_len": 64},
    # the shared model every topic reuses: byte-level, trains to a useful loss in about a minute on 2 CPU cores
    "shared": {
        "vocab_size": 256,
        "d_model": 128,
        "n_layers": 4,
        "n_heads": 4,
        "max_seq_len": 256,
        **_MODERN,
        "tie_embeddings": True,
    },
    # a bigger sibling of `shared` for experiments that can afford a few minutes
    "small": {
        "vocab_size": 256,
        "d_model": 256,
        "n_layers": 6,
        "n_heads": 8,
        "max_seq_len": 512,
        **_MODERN,
        "tie_embeddings": True,
    },
    # Radford et al. 2019: learned positions, LayerNorm, GELU, biases, tied embeddings
    "gpt2-style": {
        "vocab_size": 256,
        "d_model": 128,
        "n_layers": 4,
        "n_heads": 4,
        "max_seq_len": 256,
        "positional": "learned",
        "norm": "layernorm",
        "activation": "gelu",
        "bias": True,
        "tie_embeddings": True,
    },
    # Touvron et al. 2023 (arXiv 2302.13971): RoPE, RMSNorm, SwiGLU, no biases, untied head
    "llama-style": {
        "vocab_size": 256,
        "d_model": 128,
        "n_layers": 4,
        "n_heads": 4,
        "max_seq_len": 256,
        **_MODERN,
        "tie_embeddings": False,
    },
}
"""Named configurations: ``{name: GPTConfig field overrides}``; use ``GPTConfig.preset(name)``."""
