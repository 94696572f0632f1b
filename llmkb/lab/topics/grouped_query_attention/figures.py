"""The grouped-query attention lab's figures, each drawn from one experiment's result."""

from __future__ import annotations

import numpy as np

from llmkb.lab import Result
from llmkb.lab.kit import style
from llmkb.lab.kit.axes import plain_log_ticks
from llmkb.lab.topics.grouped_query_attention.analysis import kv_head_counts, variant_label
from llmkb.lab.topics.grouped_query_attention.names import TOPIC

_INIT = {"mean": "mean of each group", "first": "first head of each group"}
"""Legend of each way to initialise the shared heads."""


@TOPIC.figure(
    "bench",
    "decode",
    caption="Decode tokens/s over the cached context, MHA to MQA, at two widths (filled: memory-bound)",
)
def decode(res: Result):
    """One panel per width: tokens/s against cached positions, one line per key/value head count."""
    import matplotlib.pyplot as plt

    points, H = res["points"], res["n_heads"]
    widths = list(res["widths"])
    fig, axes = plt.subplots(len(widths), 1, figsize=(6.4, 2.9 * len(widths)), layout="constrained")
    for ax, width in zip(np.atleast_1d(axes), widths, strict=True):
        for i, n_kv in enumerate(kv_head_counts(H)):
            sel = sorted((q for q in points if q["width"] == width and q["kv_heads"] == n_kv),
                         key=lambda q: q["context"])  # fmt: skip
            x, y = [q["context"] for q in sel], [q["tokens_per_s"] for q in sel]
            ax.plot(x, y, color=f"C{i}", label=variant_label(H, n_kv))
            for q in sel:
                bound = q["regime"] == "memory-bound"
                ax.plot(q["context"], q["tokens_per_s"], "o", color=f"C{i}",
                        mfc=f"C{i}" if bound else style.paper(), ms=6)  # fmt: skip
        ax.set_xscale("log", base=2)
        plain_log_ticks(ax, res["contexts"])
        ax.set_ylim(bottom=0)
        ax.set_title(f"{width}: d_model = {res['widths'][width]}, batch {res['batch']}")
        ax.set_ylabel("tokens / s")
        ax.legend(ncols=2, fontsize=9)
    np.atleast_1d(axes)[-1].set_xlabel("cached positions (context)")
    return fig


@TOPIC.figure(
    "quality",
    "frontier",
    caption="Held-out loss against KV bytes per token and parameters, mean ± sd over seeds (dots: seeds)",
)
def frontier(res: Result):
    """Two stacked panels: loss vs KV-cache bytes per token, loss vs parameters."""
    import matplotlib.pyplot as plt

    rows = res["rows"]
    fig, axes = plt.subplots(2, 1, figsize=(6.4, 5.6), layout="constrained", sharey=True)
    for ax, key, label in (
        (axes[0], "kv_bytes_per_token", "KV-cache bytes per token (fp32, all layers)"),
        (axes[1], "parameters", "parameters"),
    ):
        x = [r[key] for r in rows]
        ax.errorbar(
            x, [r["mean"] for r in rows], yerr=[r["sd"] for r in rows], color="C0", capsize=4, marker="o"
        )
        for r in rows:
            ax.plot([r[key]] * len(r["losses"]), r["losses"], ".", color=style.muted(), ms=5)
            ax.annotate(r["attention"], (r[key], r["mean"]), xytext=(6, 6), textcoords="offset points")
        ax.axhline(res["unigram_loss"], color=style.muted(), ls=":", lw=1.5, label="byte frequencies alone")
        ax.legend(loc="center")
        ax.set_xlabel(label)
        ax.set_ylabel("held-out loss (nats/byte)")
    axes[0].set_xscale("log", base=2)
    plain_log_ticks(axes[0], [r["kv_bytes_per_token"] for r in rows])
    return fig


@TOPIC.figure(
    "uptrain",
    "recovery",
    caption="Converted MHA models during uptraining (mean ± sd over seeds) vs MHA and GQA trained from scratch",
)
def recovery(res: Result):
    """One panel per target: held-out loss over uptraining steps for mean-pool and pick-first."""
    import matplotlib.pyplot as plt

    rows, steps = res["rows"], res["eval_steps"]
    targets = list(dict.fromkeys(r["target"] for r in rows))
    fig, axes = plt.subplots(len(targets), 1, figsize=(6.4, 2.9 * len(targets)), layout="constrained")
    for ax, target in zip(np.atleast_1d(axes), targets, strict=True):
        sel = [r for r in rows if r["target"] == target]
        for i, r in enumerate(sel):
            m, sd = np.asarray(r["curve_mean"]), np.asarray(r["curve_sd"])
            ax.plot(steps, m, marker="o", ms=4, color=f"C{i}", label=_INIT[r["method"]])
            ax.fill_between(steps, m - sd, m + sd, color=f"C{i}", alpha=0.2, lw=0)
        ax.axhline(sel[0]["original"], color=style.ink(), ls="--", lw=1, label="MHA before conversion")
        ax.axhline(sel[0]["scratch"], color=style.muted(), ls=":", lw=1.5, label=f"{target} from scratch")
        ax.set_title(f"MHA → {target}")
        ax.set_ylabel("held-out loss (nats/byte)")
        ax.legend(fontsize=9)
    np.atleast_1d(axes)[-1].set_xlabel(
        f"uptraining steps ({res['fraction']:.0%} of the {res['pretrain_steps']} pre-training steps)"
    )
    return fig
