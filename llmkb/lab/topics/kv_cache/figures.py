"""Figures of the KV-cache lab, drawn from cached results only."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmkb.infer.kvtrace import EMPTY, EVICTED, HIT, MISS, STATE_NAMES
from llmkb.lab.cache import Result
from llmkb.lab.kit import style, table_rows
from llmkb.lab.kit.axes import nice_log_yticks, plain_log_ticks
from llmkb.lab.topics.kv_cache.analysis import state_palette
from llmkb.lab.topics.kv_cache.names import TOPIC, TRACE_ORDER


@TOPIC.figure("speedup", "speedup", caption="Speed-up of cached generation: measured, theoretical and fitted")
def speedup(res: Result) -> Any:
    """Measured speed-up per length next to the token-forward and FLOP ratios and the fitted cost model."""
    import matplotlib.pyplot as plt

    n = res["lengths"]
    fig, ax = plt.subplots(figsize=(6.4, 4.6), layout="constrained")
    ax.plot(n, res["theory_forward_ratio"], "--", color=style.muted(), label="theory: token-forwards ratio")
    ax.plot(n, res["theory_flop_ratio"], ":", color=style.muted(), label="theory: FLOP ratio")
    ax.plot(n, res["no_overhead_ratio"], "-.", color="C3", lw=1.0, label="fitted model without per-call cost")
    ax.plot(n, res["predicted_ratio"], "-.", color="C2", label="fitted per-call cost model")
    for mode, values in res["speedup"].items():
        ax.plot(
            n,
            values,
            "o-",
            label="measured (compiled step)" if mode == "compiled" else f"measured ({mode} cache)",
        )
    ax.set(xscale="log", yscale="log", xlabel="new tokens generated", ylabel="no-cache time / cached time")
    plain_log_ticks(ax, n)
    nice_log_yticks(ax, powers_of_two=True)  # 1, 2, 4, 8, ... labelled
    fig.legend(loc="outside lower center", ncols=2)  # below the axes: the curves span its whole height
    return fig


@TOPIC.figure("speedup", "throughput", caption="Generation throughput with and without the cache")
def throughput(res: Result) -> Any:
    """Tokens per second of each mode per length."""
    import matplotlib.pyplot as plt

    n = res["lengths"]
    fig, ax = plt.subplots()
    for mode, secs in res["seconds"].items():
        ax.plot(n, n / secs, "o-", label=mode)
    ax.set(xscale="log", yscale="log", xlabel="new tokens generated", ylabel="tokens / s")
    plain_log_ticks(ax, n)
    nice_log_yticks(ax)
    ax.legend()
    return fig


@TOPIC.figure("speedup", "latency", caption="Latency of each generated token (one round)")
def latency(res: Result) -> Any:
    """Milliseconds of every forward call of the first round, per mode."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    for mode, lat in res["latency_ms"].items():
        ax.plot(np.arange(1, len(lat) + 1), lat, lw=1.0, label=mode)
    ax.set(yscale="log", xlabel="token index", ylabel="ms for this token")
    nice_log_yticks(ax)
    ax.legend()
    return fig


def _state_colors() -> dict[int, Any]:
    """Trace-state colours of the theme being drawn: the rule the widget shares (``analysis.state_palette``)."""
    theme = next((n for n, t in style.THEMES.items() if t["axes.facecolor"] == style.paper()), "light")
    states = sorted((EMPTY, HIT, MISS, EVICTED))
    return dict(zip(states, state_palette(theme), strict=True))


def _draw_grid(ax: Any, grid: np.ndarray, labels: list[str], title: str) -> None:
    import textwrap

    from matplotlib.colors import ListedColormap
    from matplotlib.ticker import MaxNLocator

    colors = _state_colors()
    cmap = ListedColormap([colors[s] for s in range(len(STATE_NAMES))])
    ax.imshow(grid, cmap=cmap, vmin=-0.5, vmax=len(STATE_NAMES) - 0.5, aspect="auto", interpolation="nearest")
    ax.set_title("\n".join(textwrap.wrap(title, 38)), fontsize=9.5)
    ax.set_xlabel("token position")
    if len(labels) <= 4:
        ax.set_yticks(range(len(labels)), labels)
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("forward call (0 = prefill)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(False)


@TOPIC.figure(
    "hitmiss", "grids", caption="Which keys/values each forward call reused (hit), computed (miss) or lost"
)
def grids(res: Result) -> Any:
    """The four trace grids (no cache, cache, window, prefix) side by side."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, axes = plt.subplots(2, 2, figsize=(7.0, 6.6), layout="constrained")
    for ax, mode in zip(axes.flat, TRACE_ORDER, strict=True):
        _draw_grid(ax, res["grids"][mode], res["labels"][mode], res["titles"][mode])
    colors = _state_colors()
    handles = [Patch(color=colors[s], label=STATE_NAMES[s]) for s in (HIT, MISS, EVICTED)]
    fig.legend(handles=handles, loc="outside lower center", ncols=3)
    return fig


@TOPIC.figure(
    "hitmiss", "prefix-hit-rate", caption="Prefix-cache hit rate on a chat-like workload vs block size"
)
def prefix_hit_rate(res: Result) -> Any:
    """Hit rate of the prefix cache per block size, against the shared system prompt's share of the tokens."""
    import matplotlib.pyplot as plt

    rows = table_rows(res["workload"])
    sizes = [r["block size"] for r in rows]
    rates = [r["hit rate"] for r in rows]
    fig, ax = plt.subplots()
    ax.plot(sizes, rates, "o-", label="prefix cache")
    ax.axhline(res["workload_ideal"], ls="--", color=style.muted(), label="shared system prompt / all tokens")
    ax.set(xscale="log", xlabel="block size (tokens)", ylabel="hit rate", ylim=(0, 1))
    plain_log_ticks(ax, sizes)
    ax.legend()
    return fig


@TOPIC.figure(
    "memory", "memory", caption="KV-cache memory vs sequence length: formula, tensor bytes, process RSS"
)
def memory(res: Result) -> Any:
    """The closed form per dtype as lines, the measured RSS increase and its peak as markers."""
    import matplotlib.pyplot as plt

    shape = res["shape"]
    per_elem = 2 * shape["n_layers"] * shape["kv_heads"] * shape["head_dim"]
    t = np.unique(np.concatenate([res["lengths"], res["rss_lengths"]]))
    fig, ax = plt.subplots(figsize=(6.6, 4.6), layout="constrained")
    for i, (name, size) in enumerate((("fp32", 4), ("bf16", 2))):
        color = f"C{i}"
        label = f"2·L·H_kv·D·T·{size} B ({name}) = KVCache.nbytes"
        ax.plot(t, per_elem * size * t / 2**20, "-", color=color, lw=1.0, label=label)
        r = res["rss"][name]
        ax.plot(res["rss_lengths"], r["rss_delta"] / 2**20, "o", color=color, label=f"RSS increase {name}")
        ax.plot(
            res["rss_lengths"],
            r["peak_delta"] / 2**20,
            "x",
            color=color,
            ms=8,
            label=f"peak RSS increase {name}",
        )
    ax.set(xscale="log", yscale="log", xlabel="cached positions T", ylabel="MiB")
    plain_log_ticks(ax)
    fig.legend(loc="outside lower center", ncols=2)  # one column per dtype
    return fig
