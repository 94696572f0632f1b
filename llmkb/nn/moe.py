"""Mixture of experts: a routed feed-forward layer, selectable as ``GPTConfig.activation = "moe"``.

A router scores every token against ``E`` experts and sends it to its ``k`` best; only those ``k`` experts
run on it (conditional computation, Shazeer et al. 2017, arXiv 1701.06538). For one token ``x``::

    p = softmax(x W_r^T)                        router probabilities over the E experts, W_r: (E, d)
    S = top-k indices of p                      the token's k experts
    g_i = p_i / sum_{j in S} p_j    (mixtral)   the k weights renormalised to sum to 1 (Mixtral, arXiv 2401.04088)
    g_i = p_i                       (switch)    the raw probability (Switch, Fedus et al. 2021, arXiv 2101.03961)
    y = sum_{i in S} g_i FFN_i(x)  [+ FFN_shared(x)]

The experts are the dense model's feed-forward classes (``FFNS[expert]``), so an MoE with ``E`` experts of
width ``f`` holds ``E`` times the feed-forward parameters but spends the FLOPs of ``k`` of them per token.
The optional always-on shared expert follows DeepSeekMoE (Dai et al. 2024, arXiv 2401.06066).

**Auxiliary losses** (kept apart from the language-model loss, see ``GPT.forward``):

* load balancing (Switch eq. 4): ``alpha E sum_i f_i P_i``, where ``f_i`` is the fraction of the ``N k``
  token→expert assignments of the batch that chose expert ``i`` and ``P_i`` the mean router probability of
  expert ``i`` over the ``N`` tokens. Uniform routing gives ``f_i = P_i = 1/E`` and the loss equals
  ``alpha``; any imbalance that the probabilities follow makes it larger (``E sum f_i P_i >= 1`` when ``f = P``).
* router z-loss (ST-MoE, Zoph et al. 2022, arXiv 2202.08906): ``beta mean_tokens (logsumexp(x W_r^T))^2``,
  which keeps router logits small.

**Capacity** (GShard, Lepikhin et al. 2020, arXiv 2006.16668; Switch): with a capacity factor ``c`` each
expert takes at most ``C = ceil(c N k / E)`` assignments per batch. Assignments are served in a fixed order —
every token's first choice before any second choice, and within one choice in token order (the flattened
``(B, T)`` index) — and an expert's assignments past its ``C``-th are dropped: that expert contributes
nothing to that token (the residual connection carries it through). ``capacity_factor=None`` drops nothing.

Dispatch sorts the assignments by expert (a stable sort keeps the serving order), so each expert runs once
on the gathered batch of its tokens and scatters its weighted outputs back with ``index_add_``: a loop over
experts, never over tokens.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from llmkb.nn.ffn import FFNS

if TYPE_CHECKING:
    from llmkb.nn.config import GPTConfig

__all__ = [
    "ROUTINGS",
    "MoE",
    "MoEConfig",
    "RouterStats",
    "balance_loss",
    "ffn_parameters",
    "route",
    "router_record",
    "z_loss",
]

ROUTINGS: tuple[str, ...] = ("mixtral", "switch")
"""Gate weights of the chosen experts: ``mixtral`` renormalises the top-k probabilities, ``switch`` keeps them."""


@dataclass(frozen=True)
class MoEConfig:
    """Settings of a [`MoE`][llmkb.nn.moe.MoE] layer (``GPTConfig.moe`` holds them as a dict).

    Attributes:
        n_experts: number of routed experts ``E`` (>= 2).
        top_k: experts per token ``k`` (1 = Switch, 2 = GShard/Mixtral); at most ``n_experts``.
        routing: ``mixtral`` (renormalised top-k weights) or ``switch`` (raw router probabilities).
        capacity_factor: ``c`` > 0 caps each expert at ``ceil(c N k / E)`` assignments; ``None``: no cap.
        shared_expert: add one always-on expert of the same kind and width (DeepSeekMoE).
        balance_alpha: coefficient ``alpha`` of the load-balancing loss (Switch: 0.01); 0 turns it off.
        z_loss: coefficient ``beta`` of the router z-loss (ST-MoE: 0.001); 0 turns it off.
        expert: the experts' feed-forward network, a dense key of ``FFNS`` (``swiglu``, ``gelu``, ...).
    """

    n_experts: int = 8
    top_k: int = 2
    routing: str = "mixtral"
    capacity_factor: float | None = None
    shared_expert: bool = False
    balance_alpha: float = 0.01
    z_loss: float = 0.0
    expert: str = "swiglu"

    def __post_init__(self) -> None:
        """Validate; raise ``ValueError`` with a one-line message on the first problem."""
        for name, low in (("n_experts", 2), ("top_k", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"moe.{name} must be an integer >= {low}, got {value!r}")
        if self.top_k > self.n_experts:
            raise ValueError(f"moe.top_k={self.top_k} must not exceed moe.n_experts={self.n_experts}")
        if self.routing not in ROUTINGS:
            raise ValueError(f"moe.routing must be one of {'|'.join(ROUTINGS)}, got {self.routing!r}")
        cf = self.capacity_factor
        if cf is not None and (isinstance(cf, bool) or not isinstance(cf, int | float) or cf <= 0):
            raise ValueError(f"moe.capacity_factor must be a positive number or None, got {cf!r}")
        if not isinstance(self.shared_expert, bool):
            raise ValueError(f"moe.shared_expert must be True or False, got {self.shared_expert!r}")
        for name in ("balance_alpha", "z_loss"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"moe.{name} must be a number >= 0, got {value!r}")
        dense = [k for k, v in FFNS.items() if v is not MoE]
        if self.expert not in dense:
            raise ValueError(f"moe.expert must be one of {'|'.join(dense)}, got {self.expert!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> MoEConfig:
        """Build from ``GPTConfig.moe`` (``None`` = all defaults); unknown keys raise ``ValueError``."""
        data = dict(data or {})
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown moe setting(s): {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-serializable dict."""
        return asdict(self)

    def capacity(self, n_tokens: int) -> int | None:
        """Assignments one expert may take from ``n_tokens`` tokens: ``ceil(c N k / E)``, or ``None``."""
        if self.capacity_factor is None:
            return None
        return math.ceil(self.capacity_factor * n_tokens * self.top_k / self.n_experts)


@dataclass
class RouterStats:
    """What one MoE layer's router did on the last batch (detached; floats in ``[0, 1]`` unless noted).

    Attributes:
        load: ``(E,)`` fraction of the ``N k`` assignments each expert was chosen for (before capacity).
        dropped: fraction of the ``N k`` assignments dropped by the capacity limit.
        entropy: mean over tokens of the router distribution's entropy ``-sum_i p_i ln p_i`` (nats).
        aux_loss: this layer's balancing + z-loss (a float).
    """

    load: Tensor
    dropped: float
    entropy: float
    aux_loss: float


def route(logits: Tensor, top_k: int, routing: str) -> tuple[Tensor, Tensor, Tensor]:
    """Router probabilities, the chosen experts and their gate weights.

    Args:
        logits: ``(N, E)`` router logits.
        top_k: experts per token.
        routing: ``mixtral`` (``g = p_S / sum p_S``) or ``switch`` (``g = p_S``).

    Returns:
        ``(probs (N, E) float32, experts (N, k) long, gates (N, k))``, experts in decreasing probability.
    """
    probs = torch.softmax(logits.float(), dim=-1)  # (N, E)
    top_p, experts = probs.topk(top_k, dim=-1)  # (N, k)
    gates = top_p / top_p.sum(dim=-1, keepdim=True) if routing == "mixtral" else top_p
    return probs, experts, gates


def balance_loss(probs: Tensor, experts: Tensor, alpha: float) -> Tensor:
    """Switch load-balancing loss ``alpha E sum_i f_i P_i`` (``f`` over the ``N k`` assignments).

    Args:
        probs: ``(N, E)`` router probabilities.
        experts: ``(N, k)`` chosen experts.
        alpha: coefficient; the loss equals ``alpha`` at perfectly uniform routing.
    """
    n_experts = probs.shape[-1]
    f = torch.bincount(experts.reshape(-1), minlength=n_experts).to(probs.dtype) / experts.numel()  # (E,)
    P = probs.mean(dim=0)  # (E,)
    return alpha * n_experts * (f * P).sum()


def z_loss(logits: Tensor, beta: float) -> Tensor:
    """ST-MoE router z-loss ``beta mean_tokens (logsumexp_i logits_i)^2`` over ``(N, E)`` logits."""
    return beta * torch.logsumexp(logits.float(), dim=-1).square().mean()


def ffn_parameters(kind: str, d_model: int, d_ff: int, bias: bool) -> int:
    """Parameters of one dense feed-forward network ``FFNS[kind](d_model, d_ff, bias)`` (closed form): a gated
    network (SwiGLU, GeGLU: three matrices) ``3 d f + b (2 f + d)``, an MLP ``2 d f + b (f + d)``."""
    b = int(bias)
    if getattr(FFNS[kind], "gated", False):
        return 3 * d_model * d_ff + b * (2 * d_ff + d_model)
    return 2 * d_model * d_ff + b * (d_ff + d_model)


class MoE(nn.Module):
    """Routed mixture of experts replacing the feed-forward network (formulas in the module docstring).

    ``forward`` maps ``(B, T, d_model)`` to the same shape, like every ``FFNS`` entry; the auxiliary loss
    of the last call (with its graph) is ``self.aux_loss`` and its statistics ``self.stats``, which
    [`GPT.forward`][llmkb.nn.GPT.forward] gathers into its ``ModelOutput``.

    Args:
        d_model: input/output width.
        d_ff: hidden width of each expert.
        bias: biases in the experts' linear layers (the router has none).
        dropout: dropout on the layer's output.
        settings: a [`MoEConfig`][llmkb.nn.moe.MoEConfig] (``None``: the defaults).
    """

    def __init__(
        self,
        d_model: int,
        d_ff: int,
        bias: bool = False,
        dropout: float = 0.0,
        settings: MoEConfig | None = None,
    ) -> None:
        super().__init__()
        self.settings = s = settings or MoEConfig()
        kind = FFNS[s.expert]
        self.router = nn.Linear(d_model, s.n_experts, bias=False)
        self.experts = nn.ModuleList(kind(d_model, d_ff, bias=bias) for _ in range(s.n_experts))
        self.shared = kind(d_model, d_ff, bias=bias) if s.shared_expert else None
        self.dropout = nn.Dropout(dropout)
        self.aux_loss: Tensor | None = None
        self.stats: RouterStats | None = None

    @classmethod
    def from_config(cls, config: GPTConfig) -> MoE:
        """The layer ``GPTConfig`` describes (``activation="moe"``, settings in ``config.moe``)."""
        settings = MoEConfig.from_dict(config.moe)
        return cls(
            config.d_model, config.ffn_dim, bias=config.bias, dropout=config.dropout, settings=settings
        )

    @classmethod
    def default_width(cls, d_model: int) -> int:
        """Each expert's default width: that of the default expert kind (SwiGLU)."""
        return FFNS[MoEConfig().expert].default_width(d_model)  # type: ignore[attr-defined]

    def forward(self, x: Tensor) -> Tensor:
        """``(B, T, d_model) -> (B, T, d_model)``; sets ``self.aux_loss`` and ``self.stats``."""
        s = self.settings
        shape = x.shape
        flat = x.reshape(-1, shape[-1])  # (N, d)
        n = flat.shape[0]
        logits = self.router(flat)  # (N, E)
        probs, experts, gates = route(logits, s.top_k, s.routing)
        # assignments in serving order: all first choices (token order), then all second choices, ...
        expert_of = experts.t().reshape(-1)  # (k N,)
        token_of = torch.arange(n, device=x.device).repeat(s.top_k)  # (k N,)
        gate_of = gates.t().reshape(-1)  # (k N,)
        order = torch.argsort(expert_of, stable=True)  # grouped by expert, serving order kept inside
        counts = torch.bincount(expert_of, minlength=s.n_experts)  # (E,)
        starts = torch.cumsum(counts, 0) - counts
        cap = s.capacity(n)
        kept = counts if cap is None else counts.clamp(max=cap)
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            m = int(kept[e])
            if m == 0:
                continue
            idx = order[int(starts[e]) : int(starts[e]) + m]  # this expert's served assignments
            tokens = token_of[idx]
            y = expert(flat[tokens]) * gate_of[idx, None].to(flat.dtype)  # (m, d)
            out.index_add_(0, tokens, y)
        if self.shared is not None:
            out = out + self.shared(flat)
        aux = balance_loss(probs, experts, s.balance_alpha) + z_loss(logits, s.z_loss)
        self.aux_loss = aux
        with torch.no_grad():
            entropy = -(probs * torch.log(probs.clamp_min(1e-12))).sum(-1).mean()
            self.stats = RouterStats(
                load=counts.float() / expert_of.numel(),
                dropped=float((counts - kept).sum()) / expert_of.numel(),
                entropy=float(entropy),
                aux_loss=float(aux),
            )
        return self.dropout(out.reshape(shape))

    def dense_simulation(self, x: Tensor) -> Tensor:
        """The same output computed the wasteful way: every expert on every token, masked by the gates.

        No capacity limit; used to check dispatch and to count the FLOPs routing saves.
        """
        s = self.settings
        flat = x.reshape(-1, x.shape[-1])
        _, experts, gates = route(self.router(flat), s.top_k, s.routing)
        weight = torch.zeros(flat.shape[0], s.n_experts, dtype=flat.dtype, device=flat.device)
        weight.scatter_(1, experts, gates.to(flat.dtype))  # (N, E), zero off the top-k
        every = torch.stack([expert(flat) for expert in self.experts], dim=1)  # (N, E, d)
        out = (weight.unsqueeze(-1) * every).sum(1)
        if self.shared is not None:
            out = out + self.shared(flat)
        return out.reshape(x.shape)


FFNS["moe"] = MoE


def router_record(model: nn.Module) -> dict[str, Any]:
    """The router statistics of ``model``'s MoE layers after its last forward, as a history record.

    Returns:
        ``{}`` for a model without MoE layers; else ``expert_load`` (one list of ``E`` load fractions per
        layer), ``dropped_frac`` and ``router_entropy`` (means over layers).
    """
    stats = [m.stats for m in model.modules() if isinstance(m, MoE) and m.stats is not None]
    if not stats:
        return {}
    return {
        "expert_load": [s.load.tolist() for s in stats],
        "dropped_frac": sum(s.dropped for s in stats) / len(stats),
        "router_entropy": sum(s.entropy for s in stats) / len(stats),
    }
