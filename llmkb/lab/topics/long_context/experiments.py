"""The long-context lab's experiments: the attention benchmark and perplexity vs context length."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from llmkb.bench import attention as bench
from llmkb.data import TokenDataset
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import eval_windows
from llmkb.lab.topics.positional_embeddings.experiments import load_checkpoint
from llmkb.lab.topics.positional_embeddings.names import COMPARE

from . import text
from .analysis import collapse_point, loglog_slope, tail_loss, variant_model
from .names import COLLAPSE_RATIO, TOPIC, VARIANTS, label

_MIB = 2**20


@TOPIC.experiment(
    "benchmark",
    profiles={
        "quick": {"lengths": [128, 256], "max_backward": 128, "reference": [128, 256], "repeats": 1},
        "full": {
            "lengths": [256, 512, 1024, 2048, 4096, 8192],
            "max_backward": 2048,
            "reference": [1024, 8192],
            "repeats": 3,
        },
    },
    title="Time and measured peak memory of naive, chunked, SDPA (each backend) and sliding-window attention",
)
def benchmark(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Measure every kernel in a fresh subprocess (``llmkb.bench.attention``); slopes, ratios and prose."""
    shape = {"heads": 2, "head_dim": 64, "window": 256, "chunk": 256}
    rows = bench.run_subprocess(
        cfg["lengths"], repeats=cfg["repeats"], max_backward=cfg["max_backward"], budget_s=1.0, **shape
    )
    series: dict[str, dict[str, Any]] = {}
    for mode in bench.MODES:
        series[mode] = {}
        for k in bench.KERNELS:
            pts = [r for r in rows if r["mode"] == mode and r["kernel"] == k and r["available"]]
            if pts:
                series[mode][k] = {
                    "T": [r["T"] for r in pts],
                    "ms": [1e3 * r["seconds"] for r in pts],
                    "mib": [r["peak_bytes"] / _MIB for r in pts],
                }
    lo, hi = (int(t) for t in cfg["reference"])
    slopes = {
        mode: {
            k: {
                "time": loglog_slope(
                    [t for t in s["T"] if t >= lo],
                    [m for t, m in zip(s["T"], s["ms"], strict=True) if t >= lo],
                ),
                "memory": loglog_slope(
                    [t for t in s["T"] if t >= lo],
                    [m for t, m in zip(s["T"], s["mib"], strict=True) if t >= lo],
                ),
            }
            for k, s in series[mode].items()
        }
        for mode in bench.MODES
    }
    ratios = {str(T): bench.ratios(rows, T, "forward") for T in (lo, hi)}
    growth = {
        k: _growth(series["forward"].get(k), lo, hi) for k in ("naive", "chunked", "sdpa-flash", "window")
    }
    unavailable = sorted({r["kernel"] for r in rows if not r["available"]})
    table_rows = []
    for r in rows:
        if r["available"]:
            table_rows.append(
                {
                    "mode": "forward" if r["mode"] == "forward" else "forward + backward",
                    "T": r["T"],
                    "kernel": label(r["kernel"]),
                    "time (ms)": kit.round_sig(1e3 * r["seconds"], 3),
                    "peak extra memory (MiB)": kit.round_sig(r["peak_bytes"] / _MIB, 3),
                }
            )
    summary_rows = []
    for k in bench.KERNELS:
        if k in unavailable:
            continue
        sl = slopes["forward"].get(k, {})
        summary_rows.append(
            {
                "kernel": label(k),
                **{f"speed vs naive, T={T}": _ratio(ratios[str(T)]["speedup"][k]) for T in (lo, hi)},
                **{f"memory vs naive, T={T}": _ratio(ratios[str(T)]["memory_vs_naive"][k]) for T in (lo, hi)},
                "time slope": _ratio(sl.get("time")),
                "memory slope": _ratio(sl.get("memory")),
            }
        )
    return {
        **shape,
        "threads": torch.get_num_threads(),  # the subprocess runs with as many (OMP_NUM_THREADS)
        "ratio_table": kit.table(summary_rows),
        "fastest_exact": label(ratios[str(hi)]["fastest_exact"] or "naive"),
        "lengths": cfg["lengths"],
        "max_backward": cfg["max_backward"],
        "reference": [lo, hi],
        "series": series,
        "slopes": slopes,
        "ratios": ratios,
        "growth": growth,
        "unavailable": unavailable,
        "unavailable_text": text.unavailable_phrase([label(k) for k in unavailable]),
        "table": kit.table(table_rows),
        "summary": text.benchmark_summary(ratios, growth, lo, hi),
        "memory_text": text.memory_phrase(
            slopes["forward"].get("naive", {}).get("memory"),
            slopes["forward"].get("chunked", {}).get("memory"),
        ),
        "rows": rows,
    }


def _ratio(x: float | None) -> float | str:
    """A ratio or slope for a table cell: 3 significant digits, or "–" when not measured."""
    return "–" if x is None or not math.isfinite(x) else kit.round_sig(float(x), 3)


def _growth(s: dict[str, Any] | None, lo: int, hi: int) -> float | None:
    """Peak memory at ``hi`` over peak memory at ``lo`` (forward)."""
    if s is None or lo not in s["T"] or hi not in s["T"]:
        return None
    a, b = s["mib"][s["T"].index(lo)], s["mib"][s["T"].index(hi)]
    return b / a if a > 0 else None


@TOPIC.experiment(
    "context",
    profiles={
        "quick": {"mults": [0.5, 1, 2, 4, 8, 16], "tail_mult": 0.25, "n_windows": 4, "seed": 2},
        "full": {"mults": [0.5, 1, 2, 4, 8, 16], "tail_mult": 0.25, "n_windows": 8, "seed": 2},
    },
    needs=[COMPARE],
    title="Perplexity vs context length (0.5x to 16x the training length) for RoPE, PI, NTK, ALiBi, window, learned",
)
def context(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Score the positional lab's checkpoints (trained at ``T``) on held-out pydoc at ``0.5 T .. 16 T``."""
    comp = ctx.need(COMPARE)
    T, seeds = int(comp["seq_len"]), [int(s) for s in comp["seeds"]]
    table_len = int(comp["max_seq_len"])  # the learned table's rows (only the first T were trained)
    lengths = [int(round(m * T)) for m in cfg["mults"]]
    tail = max(1, int(round(cfg["tail_mult"] * T)))
    if tail > min(lengths):
        raise ValueError(f"the scored tail ({tail}) must fit in the shortest length ({min(lengths)})")
    data = TokenDataset.from_corpus("pydoc")
    windows = eval_windows(data.val, max(lengths), cfg["n_windows"], seed=cfg["seed"])  # (N, 16T + 1)
    loss = {v: np.full((len(seeds), len(lengths)), np.nan) for v in VARIANTS}
    for si, seed in enumerate(ctx.progress(seeds, total=len(seeds), desc="seeds")):
        rope, learned, alibi = (load_checkpoint(comp, v, seed) for v in ("rope", "learned", "alibi"))
        for li, L in enumerate(lengths):
            s = max(1.0, L / T)
            models = {
                "rope": rope,
                "rope-pi": variant_model(rope, positional="rope-pi", scale=s),
                "rope-ntk": variant_model(rope, positional="rope-ntk", scale=s),
                "alibi": alibi,
                "rope-window": variant_model(rope, window=T),
                "learned": learned if L <= table_len else None,
            }
            for v, model in models.items():
                if model is not None:
                    loss[v][si, li] = tail_loss(model, windows, L, tail)
    ppl = {v: np.exp(loss[v].mean(axis=0)) for v in VARIANTS}  # perplexity of the seed-mean loss
    collapse = {v: collapse_point(lengths, [float(x) for x in ppl[v]], COLLAPSE_RATIO) for v in VARIANTS}
    rows = []
    for v in VARIANTS:
        row: dict[str, Any] = {"variant": label(v)}
        for L, p in zip(lengths, ppl[v], strict=True):
            row[f"{L}"] = round(float(p), 2) if math.isfinite(p) else "–"
        row["collapse"] = "none" if collapse[v] is None else f"{collapse[v]} ({collapse[v] / T:g}×)"
        rows.append(row)
    return {
        "seq_len": T,
        "table_len": table_len,
        "lengths": lengths,
        "mults": cfg["mults"],
        "n_seeds": len(seeds),
        "n_windows": cfg["n_windows"],
        "tail": tail,
        "ratio": COLLAPSE_RATIO,
        "ppl": {v: [float(x) for x in ppl[v]] for v in VARIANTS},
        "loss_seeds": {v: loss[v] for v in VARIANTS},
        "collapse": collapse,
        "table": kit.table(rows),
        "collapse_text": text.collapse_phrase(
            collapse,
            T,
            {v: max(L for L, p in zip(lengths, ppl[v], strict=True) if math.isfinite(p)) for v in VARIANTS},
        ),
        "best_at_longest": text.best_at(ppl, lengths, -1),
    }
