"""The depth sweep and the norm-placement runs: small GPT-2-style models trained from scratch on sorting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmkb.lab import RunContext, kit
from llmkb.lab.topics.transformer_block.analysis import (
    chance_accuracy,
    chance_loss,
    evaluate,
    make_task,
    max_grad_norm,
    model_facts,
    ms_per_step,
    sized_for,
    train_operated,
)
from llmkb.lab.topics.transformer_block.names import (
    DEPTH,
    NORM_VARIANTS,
    REFERENCE_VARIANT,
    TOPIC,
    variant_label,
)
from llmkb.lab.topics.transformer_block.text import compare_phrase, describe_task, number_range
from llmkb.nn import count_parameters
from llmkb.train import train

__all__ = [
    "SORT",
    "REVERSE",
    "MODEL",
    "TRAIN_FULL",
    "TRAIN_QUICK",
    "references",
    "depth_sweep",
    "norm_placement",
]

SORT = {"name": "sort", "length": 10, "n_symbols": 16}
REVERSE = {"name": "reverse", "length": 6, "n_symbols": 8}
MODEL = {"d_model": 32, "n_heads": 4}  # GPTConfig defaults otherwise: pre-norm LayerNorm, GELU MLP, biases
TRAIN_FULL = {"steps": 250, "batch_size": 32, "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 25,
              "weight_decay": 0.0, "eval_every": 50, "eval_batches": 2, "log_every": 10}  # fmt: skip
TRAIN_QUICK = {**TRAIN_FULL, "steps": 20, "warmup_steps": 4, "eval_every": 10, "eval_batches": 1}


def references(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The fixed references of a task: its description, best possible loss and the uniform guess's scores."""
    task = make_task(spec)
    return {
        "task": repr(task),
        "task_text": describe_task(spec),
        "best_loss": task.best_loss,
        "chance_loss": chance_loss(task),
        "chance_accuracy": chance_accuracy(task),
    }


@TOPIC.experiment(
    "depth",
    profiles={
        "quick": {"task": SORT, "model": MODEL, "train": TRAIN_QUICK, "depths": [1, 2], "eval_batches": 1},
        "full": {
            "task": SORT,
            "model": MODEL,
            "train": TRAIN_FULL,
            "depths": [1, 2, 3, 4, 5, 6],
            "eval_batches": 4,
        },
    },
)
def depth_sweep(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train the same model with each number of blocks in ``cfg["depths"]``: curves, parameters, time per step.

    Raises:
        AssertionError: one block's parameters differ from the page's ``12 d^2 + 13 d``.
    """
    task = make_task(cfg["task"])
    tc = kit.train_config(cfg)
    rows: list[dict[str, Any]] = []
    runs: dict[str, Any] = {}
    metrics_by_depth: dict[str, dict[str, float]] = {}
    for depth in ctx.progress(cfg["depths"], total=len(cfg["depths"]), desc="depth"):
        mcfg = kit.model_config(cfg, **sized_for(task), n_layers=depth)
        res = train(mcfg, tc, task, progress=False)
        metrics = evaluate(res.model, task, batches=cfg["eval_batches"])
        ms = ms_per_step(res, tc.batch_size, task.seq_len)
        rows.append(
            {
                "blocks": depth,
                "parameters": count_parameters(mcfg),
                "non-embedding": count_parameters(mcfg, exclude_embeddings=True),
                "ms/step": round(ms, 2),
                "final loss": round(metrics["loss"], 4),
                "token accuracy": round(metrics["token_accuracy"], 3),
                "accuracy": round(metrics["accuracy"], 3),
            }
        )
        runs[str(depth)] = kit.curves(res)
        metrics_by_depth[str(depth)] = {**metrics, "ms_per_step": ms, "max_grad_norm": max_grad_norm(res)}
    one = kit.model_config(cfg, **sized_for(task), n_layers=1)
    per_block = count_parameters(kit.model_config(cfg, **sized_for(task), n_layers=2)) - count_parameters(one)
    d = one.d_model
    if per_block != 12 * d * d + 13 * d:
        raise AssertionError(
            f"a block has {per_block} parameters, not 12 d^2 + 13 d: is the model GPT-2 style?"
        )
    best = min(rows, key=lambda r: r["final loss"])
    first, last = rows[0], rows[-1]
    config = {k: cfg[k] for k in ("task", "model", "train", "eval_batches")}
    return {
        **references(cfg["task"]),
        "config": config,
        "model": model_facts(one),
        "depths_text": number_range(cfg["depths"]),
        "rows": rows,
        "table": kit.table(rows),
        "runs": runs,
        "metrics": metrics_by_depth,
        "best_depth": best["blocks"],
        "best_loss_measured": best["final loss"],
        "deepest": last["blocks"],
        "ms_ratio": last["ms/step"] / first["ms/step"],
        "params_ratio": last["parameters"] / first["parameters"],
        "params_per_block": per_block,
        "deepest_vs_one": compare_phrase(last["final loss"], first["final loss"]),
    }


@TOPIC.experiment(
    "norm",
    profiles={"quick": {"variants": NORM_VARIANTS}, "full": {"variants": NORM_VARIANTS}},
    needs=[DEPTH],
)
def norm_placement(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Pre-norm vs post-norm at the deepest depth of the depth sweep, with and without warm-up.

    The pre-norm run with warm-up is the depth sweep's deepest run (same task, model and training settings,
    read from its result); the other variants, and a pre-norm stack without residual connections (the
    residual hook ``no_residual``, in force while training and evaluating), are trained here.
    """
    depth = ctx.need(DEPTH)
    base = depth["config"]
    n_layers = int(depth["deepest"])
    task = make_task(base["task"])
    results: dict[str, dict[str, float]] = {REFERENCE_VARIANT: dict(depth["metrics"][str(n_layers)])}
    curves: dict[str, Any] = {REFERENCE_VARIANT: depth["runs"][str(n_layers)]}
    for v in ctx.progress(cfg["variants"], total=len(cfg["variants"]), desc="norm"):
        residual = bool(v.get("residual", True))
        tc = kit.train_config(base) if v["warmup"] else kit.train_config(base, warmup_steps=0)
        mcfg = kit.model_config(base, **sized_for(task), n_layers=n_layers, norm_position=v["norm_position"])
        res, metrics = train_operated(
            mcfg, "none" if residual else "no_residual", tc, task, int(base["eval_batches"])
        )
        label = variant_label(v["norm_position"], v["warmup"], residual)
        results[label] = {**metrics, "max_grad_norm": max_grad_norm(res)}
        curves[label] = kit.curves(res)
    rows = [
        {
            "variant": k,
            "final loss": round(m["loss"], 4),
            "token accuracy": round(m["token_accuracy"], 3),
            "accuracy": round(m["accuracy"], 3),
            "max grad norm": round(m["max_grad_norm"], 2),
        }
        for k, m in results.items()
    ]
    loss = {k: m["loss"] for k, m in results.items()}

    def vs(variant: str, ref: str) -> str:
        return compare_phrase(loss[variant], loss[ref]) if variant in loss and ref in loss else "not run"

    return {
        **references(base["task"]),
        "n_layers": n_layers,
        "d_model": depth["model"]["d_model"],
        "rows": rows,
        "table": kit.table(rows),
        "curves": curves,
        "best": min(rows, key=lambda r: r["final loss"])["variant"],
        "worst": max(rows, key=lambda r: r["final loss"])["variant"],
        "post_vs_pre": vs(variant_label("post", True), REFERENCE_VARIANT),
        "no_warmup_pre": vs(variant_label("pre", False), REFERENCE_VARIANT),
        "no_warmup_post": vs(variant_label("post", False), variant_label("post", True)),
        "no_residual": vs(variant_label("pre", True, False), REFERENCE_VARIANT),
    }
