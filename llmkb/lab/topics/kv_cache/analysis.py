"""The per-call cost model of generation, its predictions, and the checks that make the experiments fail loudly.

Every forward call of greedy generation is modelled as ``latency = c0 + c1 * tokens + c2 * pairs``: ``c0`` the
fixed cost of making a call (Python, operator dispatch, sampling), ``c1`` the cost per token fed through the
weight matrices, ``c2`` the cost per scored (query, key) pair. Fitted to the measured calls of both modes, the
model explains the measured speed-up and predicts how it moves with the generation length, the prompt length,
the model size and the per-call overhead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from llmkb.infer.kvtrace import EMPTY, EVICTED, HIT, MISS, KVTrace
from llmkb.nn import GPTConfig, count_parameters

__all__ = [
    "call_features",
    "check_same_tokens",
    "check_same_trace",
    "fit_call_cost",
    "latency_slope",
    "predicted_ratio",
    "predicted_seconds",
    "prediction_rows",
    "scale_coef",
    "state_palette",
    "visible_share",
]


def call_features(prompt_len: int, n: int, use_cache: bool) -> np.ndarray:
    """``(n, 3)`` features ``[1, tokens fed, causal attention pairs]`` of the ``n`` forward calls.

    Without a cache call ``s`` feeds ``t = P + s`` tokens and scores ``t (t + 1) / 2`` pairs; with it the
    prefill feeds ``P`` tokens (``P (P + 1) / 2`` pairs) and decode call ``s`` one token (``P + s`` pairs).

    Args:
        prompt_len: prompt tokens ``P``.
        n: new tokens, i.e. forward calls.
        use_cache: decode with a KV cache.
    """
    rows = []
    for s in range(n):
        if not use_cache:
            t = prompt_len + s
            rows.append((1.0, t, t * (t + 1) / 2))
        elif s == 0:
            rows.append((1.0, prompt_len, prompt_len * (prompt_len + 1) / 2))
        else:
            rows.append((1.0, 1, prompt_len + s))
    return np.array(rows, dtype=np.float64).reshape(n, 3)


def fit_call_cost(prompt_len: int, latencies: Mapping[str, np.ndarray]) -> np.ndarray:
    """Least-squares fit of ``latency = c0 + c1 * tokens + c2 * pairs`` over every forward call.

    Coefficients are clipped at 0 (a cost is never negative).

    Args:
        prompt_len: prompt tokens.
        latencies: ``{mode: (n,) seconds of each call}`` for ``"no-cache"`` and cached modes.

    Returns:
        ``[c0, c1, c2]`` in seconds.
    """
    feats = [call_features(prompt_len, len(lat), mode != "no-cache") for mode, lat in latencies.items()]
    x, y = (
        np.concatenate(feats),
        np.concatenate([np.asarray(v, dtype=np.float64) for v in latencies.values()]),
    )
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return np.clip(coef, 0.0, None)


def predicted_seconds(coef: np.ndarray, prompt_len: int, n: int, use_cache: bool) -> float:
    """Time of generating ``n`` tokens under the cost model: ``sum over calls of c0 + c1 tokens + c2 pairs``."""
    return float(call_features(prompt_len, n, use_cache).sum(axis=0) @ coef)


def predicted_ratio(coef: np.ndarray, prompt_len: int, n: int) -> float:
    """Predicted speed-up ``T_no-cache / T_cache`` of generating ``n`` tokens after ``prompt_len``.

    Both runs make ``n`` calls, so ``R = (n c0 + c1 F_nc + c2 A_nc) / (n c0 + c1 F_c + c2 A_c)`` with ``F`` the
    token-forwards and ``A`` the attention pairs: the fixed ``n c0`` caps ``R`` however much work the cache saves.
    """
    cached = predicted_seconds(coef, prompt_len, n, True)
    if cached <= 0.0:  # a fit with no cost at all (every coefficient clipped to 0 on a noisy machine)
        return 1.0
    return predicted_seconds(coef, prompt_len, n, False) / cached


def scale_coef(coef: np.ndarray, base: GPTConfig, other: GPTConfig) -> np.ndarray:
    """Coefficients for ``other`` if it ran at the measured speed of ``base``: each cost scales with its work.

    ``c1`` scales with the FLOPs per token in the weight matrices, ``2 N_b + 2 V d`` (``N_b`` non-embedding
    parameters, Kaplan et al. 2020); ``c2`` with the FLOPs per attention pair, ``4 L d``; ``c0`` with the layers
    (each layer launches the same kernels whatever its width).
    """

    def per_token(c: GPTConfig) -> int:
        return 2 * count_parameters(c, exclude_embeddings=True) + 2 * c.vocab_size * c.d_model

    return np.array(
        [
            coef[0] * other.n_layers / base.n_layers,
            coef[1] * per_token(other) / per_token(base),
            coef[2] * (other.n_layers * other.d_model) / (base.n_layers * base.d_model),
        ]
    )


def prediction_rows(
    coef: np.ndarray, config: GPTConfig, prompt_len: int, n: int, factors: Mapping[str, int]
) -> list[dict[str, Any]]:
    """What the fitted cost model predicts when one thing changes at a time.

    Rows: as measured; ``factors["longer"]`` times more new tokens; a ``factors["prompt"]`` times longer prompt;
    a model ``factors["wider"]`` times wider (same layers, costs scaled by [`scale_coef`][llmkb.lab.topics.kv_cache.analysis.scale_coef]);
    no per-call cost (``c0 = 0``).

    Returns:
        One dict per scenario: ``scenario``, ``key``, ``prompt``, ``new tokens``, ``c0 ms``, ``c1 µs``,
        ``c2 ns``, ``predicted speed-up``.
    """
    wide = GPTConfig.from_dict(
        {**config.to_dict(), "d_model": config.d_model * factors["wider"], "d_ff": None}
    )
    scenarios = [
        ("as measured", "measured", coef, prompt_len, n),
        (f"{factors['longer']}× more new tokens", "longer", coef, prompt_len, n * factors["longer"]),
        (f"{factors['prompt']}× longer prompt", "prompt", coef, prompt_len * factors["prompt"], n),
        (
            f"{factors['wider']}× wider model (d = {wide.d_model})",
            "wider",
            scale_coef(coef, config, wide),
            prompt_len,
            n,
        ),
        ("no per-call cost (c0 = 0)", "no_overhead", np.array([0.0, coef[1], coef[2]]), prompt_len, n),
    ]
    return [
        {
            "scenario": name,
            "key": key,
            "prompt": p,
            "new tokens": m,
            "c0 ms": round(1e3 * float(c[0]), 3),
            "c1 µs": round(1e6 * float(c[1]), 2),
            "c2 ns": round(1e9 * float(c[2]), 2),
            "predicted speed-up": round(predicted_ratio(c, p, m), 2),
        }
        for name, key, c, p, m in scenarios
    ]


def latency_slope(latency_ms: np.ndarray) -> float:
    """Least-squares slope (ms per position) of the decode calls' latency; the prefill call 0 is left out."""
    y = np.asarray(latency_ms, dtype=np.float64)[1:]
    if len(y) < 2:
        return 0.0
    return float(np.polyfit(np.arange(len(y), dtype=np.float64), y, 1)[0])


def check_same_tokens(
    name: str, reference: torch.Tensor | Sequence[int], other: torch.Tensor | Sequence[int]
) -> int:
    """Raise unless two generations are identical; return the number of tokens compared.

    Raises:
        AssertionError: naming ``name`` and the first position where they differ.
    """
    a = torch.as_tensor(reference).reshape(-1)
    b = torch.as_tensor(other).reshape(-1)
    if a.shape != b.shape:
        raise AssertionError(f"{name}: generations have different lengths, {a.numel()} and {b.numel()}")
    diff = (a != b).nonzero()
    if diff.numel():
        raise AssertionError(f"{name}: cached and uncached generations differ from token {int(diff[0])}")
    return int(a.numel())


def check_same_trace(name: str, recorded: KVTrace, simulated: KVTrace) -> int:
    """Raise unless a trace recorded on a model equals the simulation cell for cell; return the cells compared.

    Raises:
        AssertionError: naming ``name``.
    """
    if recorded.grid.shape != simulated.grid.shape or not np.array_equal(recorded.grid, simulated.grid):
        raise AssertionError(f"{name}: trace recorded on the model differs from the simulation")
    return int(recorded.grid.size)


_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c")


def visible_share(ids: torch.Tensor | Sequence[int]) -> float:
    """Share of the byte ids that are not ASCII whitespace (0.0 for no ids).

    Example:
        ```python
        from llmkb.lab.topics.kv_cache.analysis import visible_share

        assert visible_share(list(b"ab \\n")) == 0.5 and visible_share([]) == 0.0
        ```
    """
    values = [int(i) for i in torch.as_tensor(ids).reshape(-1).tolist()]
    if not values:
        return 0.0
    return sum(v not in _WHITESPACE for v in values) / len(values)


def state_palette(theme: str) -> list[str]:
    """Colour of each trace state (empty, hit, miss, evicted) in a figure theme of the lab kit, as ``#rrggbb``.

    The figures' rule: hit and miss in the theme's first two cycle colours (blue, orange), evicted in its muted
    grey, empty a faint tint of the paper. The widget draws with these, light or dark as the page is.

    Example:
        ```python
        from llmkb.lab.topics.kv_cache.analysis import state_palette

        assert state_palette("light")[1:3] == ["#3f51b5", "#e8710a"]
        ```
    """
    from matplotlib.colors import to_hex, to_rgb

    from llmkb.lab.kit.style import THEMES

    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}; use one of {sorted(THEMES)}")
    t = THEMES[theme]
    cycle = t["axes.prop_cycle"].by_key()["color"]
    paper, ink = np.array(to_rgb(t["axes.facecolor"])), np.array(to_rgb(t["text.color"]))
    colors = {
        EMPTY: to_hex(0.94 * paper + 0.06 * ink),
        HIT: cycle[0],
        MISS: cycle[1],
        EVICTED: t["grid.color"],
    }
    return [to_hex(colors[s]) for s in sorted(colors)]
