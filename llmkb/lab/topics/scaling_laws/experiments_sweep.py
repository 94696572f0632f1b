"""Models of several sizes, each read at several token budgets; the laws fitted to their held-out losses."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmkb.data import TokenDataset
from llmkb.lab import RunContext, kit
from llmkb.lab.cache import cache_root
from llmkb.lab.kit.evals import eval_windows
from llmkb.lab.topics.scaling_laws import text
from llmkb.lab.topics.scaling_laws.analysis import envelope, fingerprint, fit_all, points, sweep_runs
from llmkb.lab.topics.scaling_laws.names import LLAMA, TOPIC
from llmkb.train.shared_model import SHARED_CORPUS
from llmkb.train.sweep import run_sweep, train_point

_TRAIN = {"batch_size": 16, "seq_len": 64, "lr": 2e-3, "warmup_steps": 10, "weight_decay": 0.1, "eval_every": 0,
          "eval_batches": 1, "log_every": 10}  # fmt: skip
_FULL = {"model": {**LLAMA, "max_seq_len": 64}, "train": _TRAIN, "layers": 2,
         "widths": [16, 24, 32, 48, 64, 96], "budgets": [30, 60, 120, 240], "n_windows": 64, "n_boot": 100, "max_nfev": None}  # fmt: skip
_QUICK = {"model": {**LLAMA, "max_seq_len": 32}, "train": {**_TRAIN, "batch_size": 4, "seq_len": 32, "warmup_steps": 1,
          "log_every": 1}, "layers": 1, "widths": [8, 16, 24], "budgets": [2, 3, 4], "n_windows": 8, "n_boot": 4, "max_nfev": 20}  # fmt: skip


@TOPIC.experiment(
    "sweep",
    profiles={"quick": _QUICK, "full": _FULL},
    title="Sizes × token budgets: held-out loss, FLOPs counted vs 6ND, time; L(N), L(D), L(N, D) fitted",
)
def sweep(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Run (or resume) the sweep, then fit the three laws with bootstrap intervals."""
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    windows = eval_windows(data.val, cfg["train"]["seq_len"], cfg["n_windows"], seed=0)
    runs = sweep_runs(cfg)
    store = cache_root() / "runs" / ctx.profile / "scaling-laws"
    records = run_sweep(runs, lambda r: train_point(r, data, windows), store, fingerprint=fingerprint(),
                        progress=ctx.show_progress)  # fmt: skip
    p = points(records)
    fits = fit_all(p, cfg["n_boot"], max_nfev=cfg["max_nfev"])
    env = envelope(p["compute"], p["loss"])
    ratio = np.array([r["step_flops"] / (6 * r["non_embedding"] * cfg["train"]["batch_size"] * cfg["train"]["seq_len"])
                      for r in records])  # fmt: skip
    head_share = [
        cfg["model"]["vocab_size"] * w / r["non_embedding"]
        for w, r in zip(cfg["widths"], records, strict=True)
    ]
    rows = [
        {
            "model": f"d = {w}, {kit.plural(cfg['layers'], 'layer')}",
            "N (non-embedding)": r["non_embedding"],
            "parameters (all)": r["params"],
            **{
                f"loss @ {kit.readable(t)} tokens": round(v, 3)
                for t, v in zip(r["tokens"], r["loss"], strict=True)
            },
            "ms / step": round(1e3 * r["s_per_step"], 1),
            "tokens / s": round(r["tokens_per_s"]),
            "counted FLOPs / 6ND": kit.fmt(q, ".2f"),
        }
        for w, r, q in zip(cfg["widths"], records, ratio, strict=True)
    ]
    span = max(r["non_embedding"] for r in records) / min(r["non_embedding"] for r in records)
    return {
        "config": cfg,
        "records": records,
        "points": {k: v.tolist() for k, v in p.items()},
        "envelope": env.tolist(),
        "fits": fits,
        "table": kit.table(rows),
        "exponents": kit.table(text.exponent_rows(fits)),
        "sizes": len(records),
        "budgets": len(cfg["budgets"]),
        "span": span,
        "flops_ratio": {"min": float(ratio.min()), "max": float(ratio.max())},
        "head_share": {"min": float(min(head_share)), "max": float(max(head_share))},
        "tokens_max": int(p["d"].max()),
        "steps_max": max(cfg["budgets"]),
        "layers_text": kit.plural(cfg["layers"], "layer"),
        "widths_text": ", ".join(str(w) for w in cfg["widths"]),
        "flops_text": text.flops_phrase(ratio, head_share),
        "exponent_text": text.exponent_phrase(fits),
        "order_text": text.order_phrase([r["loss"][-1] for r in records]),
    }
