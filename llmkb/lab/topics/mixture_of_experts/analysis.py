"""Pure analysis of the mixture-of-experts lab: the variants compared, byte kinds, routing shares, entropy."""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from llmkb.nn import GPT, GPTConfig, count_parameters
from llmkb.nn.moe import MoE, MoEConfig, ffn_parameters, route

__all__ = [
    "capacity_drops",
    "effective_experts",
    "expert_choices",
    "load_entropy",
    "share_matrix",
    "synthetic_text",
    "token_kinds",
    "total_and_active",
    "variants",
]


def variants(dense_width: int, experts: Sequence[int], probe: int) -> list[dict[str, Any]]:
    """The models of the training experiment, dense first.

    ``equal active``: each of the ``E`` experts is as wide as the dense FFN (top-1 runs one of them per
    token, so a token meets as many FFN weights as in the dense model). ``equal total``: the dense FFN's
    width split into ``E`` experts of ``width / E`` (the same FFN parameters in all, ``1/E`` of them active).
    The ``probe`` expert count is trained once more without the balancing loss.

    Returns:
        Dicts with ``label``, ``experts`` (0 = dense), ``width`` (of one expert), ``budget`` and ``alpha``.
    """
    out: list[dict[str, Any]] = [{"label": "dense", "experts": 0, "width": dense_width, "budget": "dense",
                                  "alpha": None}]  # fmt: skip
    for e in experts:
        out.append({"label": f"{e} experts, equal active", "experts": e, "width": dense_width,
                    "budget": "equal active", "alpha": 0.01})  # fmt: skip
    for e in experts:
        if dense_width % e:
            raise ValueError(f"the dense width {dense_width} must split evenly into {e} experts")
        out.append({"label": f"{e} experts, equal total", "experts": e, "width": dense_width // e,
                    "budget": "equal total", "alpha": 0.01})  # fmt: skip
    out.append({"label": f"{probe} experts, no balancing", "experts": probe, "width": dense_width,
                "budget": "equal active", "alpha": 0.0})  # fmt: skip
    return out


_KEYWORD = re.compile(rb"\b(?:" + b"|".join(k.encode() for k in keyword.kwlist) + rb")\b")


def token_kinds(data: bytes) -> Tensor:
    """The kind of every byte, as an index into ``names.TOKEN_KINDS``.

    ``keyword`` (4) wins over ``letter`` (0) for the bytes of a whole-word Python keyword (``def``, ``in``,
    ``None``); then ``digit`` (1), ``whitespace`` (2), ASCII ``punctuation`` (3); any other byte (UTF-8
    continuation bytes, control bytes) is ``other`` (5).
    """
    t = torch.tensor(list(data), dtype=torch.long)
    kinds = torch.full_like(t, 5)
    letter = ((t >= 65) & (t <= 90)) | ((t >= 97) & (t <= 122))
    punct = (
        ((t >= 33) & (t <= 47))
        | ((t >= 58) & (t <= 64))
        | ((t >= 91) & (t <= 96))
        | ((t >= 123) & (t <= 126))
    )
    kinds[punct] = 3
    kinds[(t == 32) | (t == 9) | (t == 10) | (t == 13)] = 2
    kinds[(t >= 48) & (t <= 57)] = 1
    kinds[letter] = 0
    for m in _KEYWORD.finditer(data):
        kinds[m.start() : m.end()] = 4
    return kinds


def synthetic_text(n: int, length: int = 8, seed: int = 0) -> str:
    """``n`` copy and sort examples written as text, e.g. ``copy 4930397|4930397`` / ``sort 4930|0349``."""
    g = torch.Generator().manual_seed(seed)
    lines = []
    for i in range(n):
        digits = torch.randint(0, 10, (length,), generator=g).tolist()
        task, answer = ("copy", digits) if i % 2 == 0 else ("sort", sorted(digits))
        lines.append(f"{task} {''.join(map(str, digits))}|{''.join(map(str, answer))}")
    return "\n".join(lines) + "\n"


@torch.no_grad()
def expert_choices(model: GPT, windows: Tensor, chunk: int = 16) -> list[Tensor]:
    """Every MoE layer's first-choice expert for every input token of ``windows`` ``(N, L)``.

    The input of each MoE layer is read with a forward hook (nothing of the model is changed) and routed
    again with its own router.

    Returns:
        One LongTensor ``(N * L,)`` per MoE layer, in the flattened order of ``windows``.
    """
    layers = [m for m in model.modules() if isinstance(m, MoE)]
    seen: list[list[Tensor]] = [[] for _ in layers]
    handles = [
        layer.register_forward_hook(
            lambda mod, args, out, i=i: seen[i].append(args[0].reshape(-1, args[0].shape[-1]))
        )
        for i, layer in enumerate(layers)
    ]
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(windows), chunk):
            model(windows[start : start + chunk])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    out = []
    for layer, xs in zip(layers, seen, strict=True):
        s = layer.settings
        out.append(route(layer.router(torch.cat(xs)), s.top_k, s.routing)[1][:, 0])
    return out


def share_matrix(choices: Tensor, groups: Tensor, n_groups: int, n_experts: int) -> Tensor:
    """``(n_groups, n_experts)``: row ``g`` is how group ``g``'s tokens spread over the experts (rows sum
    to 1; a group with no tokens is a row of zeros)."""
    counts = torch.zeros(n_groups, n_experts)
    counts.index_put_((groups, choices), torch.ones(len(choices)), accumulate=True)
    totals = counts.sum(1, keepdim=True)
    return torch.where(totals > 0, counts / totals.clamp_min(1), counts)


def load_entropy(load: Sequence[float] | Tensor) -> float:
    """Entropy ``-sum_i q_i ln q_i`` (nats) of the experts' load ``q`` (normalised here; ``0 ln 0 = 0``).

    ``ln E`` when every expert gets the same share, 0 when one expert gets everything.
    """
    q = torch.as_tensor(load, dtype=torch.float64)
    if q.sum() <= 0:
        raise ValueError("load_entropy needs a load with a positive total")
    q = q / q.sum()
    nz = q[q > 0]
    return float(-(nz * nz.log()).sum())


def effective_experts(load: Sequence[float] | Tensor) -> float:
    """``exp(entropy)``: the number of equally used experts with the same entropy (1 … E)."""
    return math.exp(load_entropy(load))


def capacity_drops(choices: Tensor, n_experts: int, capacity_factor: float, batch_tokens: int) -> float:
    """Share of top-1 assignments a capacity limit would drop, batch by batch.

    ``choices`` is cut into consecutive batches of ``batch_tokens`` (a last shorter one counts too); in a
    batch of ``n`` tokens each expert keeps at most ``C = ceil(c n / E)`` and the rest overflow
    (``MoEConfig.capacity`` with ``k = 1``). Returns the dropped assignments over all assignments.
    """
    dropped = 0
    for part in choices.split(batch_tokens):
        cap = math.ceil(capacity_factor * len(part) / n_experts)
        dropped += int((torch.bincount(part, minlength=n_experts) - cap).clamp_min(0).sum())
    return dropped / len(choices)


def total_and_active(model: dict[str, Any]) -> tuple[int, int]:
    """Total parameters of an MoE model config and those one token uses: all but ``E - k`` experts per layer.

    Args:
        model: ``GPTConfig`` fields with ``activation="moe"``.

    Returns:
        ``(total, active)``.
    """
    cfg = GPTConfig.from_dict(model)
    moe = MoEConfig.from_dict(cfg.moe)
    one = ffn_parameters(moe.expert, cfg.d_model, cfg.ffn_dim, cfg.bias)
    total = count_parameters(cfg)
    return total, total - cfg.n_layers * (moe.n_experts - moe.top_k) * one
