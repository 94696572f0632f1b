"""Experiments of the transformer-block topic: stacking blocks, operating on Q/K/V, and norm placement.

All three train small [`GPT`][llmkb.nn.GPT] models from scratch with [`llmkb.train.train`][llmkb.train.train]
on synthetic tasks from [`llmkb.data.synthetic`][llmkb.data.synthetic] (sorting for depth and norms, reversal
for surgery) whose best achievable loss is known (0 without label noise), so every number is read against two
fixed references: the best loss and the loss of a uniform guess over the answer symbols (``ln V``).

* ``transformer-block/depth``: the same model with 1 to 6 blocks: loss curves, parameter count
  ([`count_parameters`][llmkb.nn.count_parameters]), milliseconds per training step, final loss/accuracy.
* ``transformer-block/surgery``: a trained baseline is operated on (Q/K swapped, Q tied to K, random Q/K,
  zero V, identity V, heads shuffled, residual removed) and evaluated as is; then a fresh model is trained
  *with* each operation. Each outcome gets a verdict computed from the numbers
  ([`verdict`][llmkb.lab.topics.transformer_block.verdict]).
* ``transformer-block/norm``: pre-norm vs post-norm at the deepest depth, with and without learning-rate
  warm-up (Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture", arXiv 2002.04745),
  and the same stack without residual connections (He et al. 2016, arXiv 1512.03385). It reuses the depth
  sweep's deepest run as its reference.

The helpers are plain functions, tested in ``tests/test_lab_transformer_block.py``.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from llmkb.data.synthetic import SyntheticTask, get_task
from llmkb.lab import Result, RunContext, experiment, figure
from llmkb.nn import GPT, SURGERIES, GPTConfig, count_parameters, freeze_qk, no_residual
from llmkb.train import train
from llmkb.train.config import TrainConfig
from llmkb.train.loop import TrainResult

__all__ = [
    "OPERATIONS",
    "make_task",
    "describe_task",
    "chance_loss",
    "chance_accuracy",
    "model_config",
    "train_config",
    "evaluate",
    "operate",
    "operation_hooks",
    "train_operated",
    "kept_fraction",
    "verdict",
    "ms_per_step",
    "compare_phrase",
    "as_table",
]

OPERATIONS: dict[str, str] = {
    "swap_qk": "queries and keys trade places: scores become k_i . q_j instead of q_i . k_j",
    "tie_qk": "keys are the queries (k = q), so the score matrix is symmetric before the mask",
    "random_qk": "query and key projections are random (reset after training; frozen when training)",
    "zero_v": "values are zero: attention moves nothing between positions",
    "identity_v": "values are the layer input itself (no value projection)",
    "shuffle_heads": "head outputs are rotated by one slot before the output projection",
    "no_residual": "both residual connections removed: x = f(x) instead of x = x + f(x)",
}
"""The operations of ``transformer-block/surgery`` with a one-line description each. All but
``random_qk`` and ``no_residual`` are [`SURGERIES`][llmkb.nn.hooks.SURGERIES] of ``llmkb.nn``;
``random_qk`` is ``freeze_qk`` (applied to a trained model it also re-draws Q/K), ``no_residual`` is the
residual hook ``llmkb.nn.hooks.no_residual``."""


# --------------------------------------------------------------------------------------------------
# task, configs, evaluation
# --------------------------------------------------------------------------------------------------


def make_task(spec: Mapping[str, Any]) -> SyntheticTask:
    """The synthetic task named by ``spec["name"]`` with the remaining keys as its arguments.

    Args:
        spec: e.g. ``{"name": "reverse", "length": 6, "n_symbols": 8}``.
    """
    args = {k: v for k, v in spec.items() if k != "name"}
    return get_task(str(spec["name"]), **args)


def describe_task(spec: Mapping[str, Any]) -> str:
    """A short English description of a task spec, e.g. ``"sort 10 symbols drawn from 16"``."""
    name = str(spec["name"])
    if name in ("copy", "reverse", "sort"):
        task = make_task(spec)
        return f"{name} {task.length} symbols drawn from {task.n_symbols}"  # type: ignore[attr-defined]
    return f"{name} ({', '.join(f'{k}={v}' for k, v in spec.items() if k != 'name')})"


def _n_answer_symbols(task: SyntheticTask) -> int:
    lo, hi = task.answer_symbols
    return hi - lo


def chance_loss(task: SyntheticTask) -> float:
    """Loss of a uniform guess over the answer symbols, ``ln V`` (nats per answer token)."""
    return math.log(_n_answer_symbols(task))


def chance_accuracy(task: SyntheticTask) -> float:
    """Exact-match accuracy of a uniform guess: ``V ** -answer_len``."""
    return float(_n_answer_symbols(task)) ** -task.answer_len


def model_config(task: SyntheticTask, model: Mapping[str, Any], **overrides: Any) -> GPTConfig:
    """A [`GPTConfig`][llmkb.nn.GPTConfig] sized for ``task``.

    Args:
        task: sets ``vocab_size`` and ``max_seq_len``.
        model: ``GPTConfig`` fields (``d_model``, ``n_heads``, ``n_layers``, ...).
        **overrides: more fields, applied last.
    """
    fields = {"vocab_size": task.vocab_size, "max_seq_len": task.seq_len, **model, **overrides}
    return GPTConfig(**fields)


def train_config(cfg: Mapping[str, Any], **overrides: Any) -> TrainConfig:
    """The [`TrainConfig`][llmkb.train.config.TrainConfig] of an experiment config's ``train`` part.

    Args:
        cfg: an experiment config with a ``train`` mapping of ``TrainConfig`` fields.
        **overrides: fields to change (e.g. ``warmup_steps=0``).
    """
    return TrainConfig(**{**cfg["train"], **overrides})


@torch.no_grad()
def evaluate(
    model: GPT, task: SyntheticTask, *, batches: int = 4, batch_size: int = 64, seed: int = 1234
) -> dict[str, float]:
    """Loss and accuracies of ``model`` on fixed held-out batches (same ``seed``: same batches).

    Args:
        model: the model (put in eval mode for the call, then restored).
        task: the task.
        batches: number of batches.
        batch_size: sequences per batch.
        seed: seed of the batch generator.

    Returns:
        ``{"loss", "accuracy", "token_accuracy"}``: mean cross-entropy on answer tokens (nats), exact-match
        accuracy of whole answers, and per-token accuracy.
    """
    g = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    loss = acc = tok = 0.0
    try:
        for _ in range(batches):
            x, y = task.make_batch(batch_size, g)
            logits = model(x).logits
            loss += float(task.loss(logits, y))
            acc += task.accuracy(logits, y)
            tok += task.token_accuracy(logits, y)
    finally:
        model.train(was_training)
    return {"loss": loss / batches, "accuracy": acc / batches, "token_accuracy": tok / batches}


def operation_hooks(operation: str) -> dict[str, Any]:
    """Keyword arguments of [`GPT.hooks`][llmkb.nn.GPT.hooks] that switch ``operation`` on (a key of
    ``OPERATIONS``, or ``"none"``): a surgery's hooks, or the residual hook of ``no_residual``. ``random_qk``
    has none: it changes parameters (see ``operate`` and ``train_operated``).

    Raises:
        ValueError: unknown operation.
    """
    if operation in ("none", "random_qk"):
        return {}
    if operation == "no_residual":
        return {"residual": no_residual}
    if operation not in SURGERIES:
        raise ValueError(f"unknown operation {operation!r}; choose one of: none, {', '.join(OPERATIONS)}")
    return SURGERIES[operation][1]()


@contextlib.contextmanager
def operate(model: GPT, operation: str, seed: int = 0) -> Iterator[GPT]:
    """A trained ``model`` with ``operation`` switched on for the ``with`` block; ``model`` is left unchanged.

    Every operation but one is a set of hooks
    ([`operation_hooks`][llmkb.lab.topics.transformer_block.operation_hooks]) acting on the trained
    parameters. ``random_qk`` works on a copy whose query and key projections are re-drawn from the model's
    initialization distribution, ``N(0, 0.02)`` weights and zero biases, and frozen
    ([`freeze_qk`][llmkb.nn.hooks.freeze_qk]).

    Args:
        model: the trained model.
        operation: a key of ``OPERATIONS`` or ``"none"``.
        seed: seed of the re-drawn Q/K weights.

    Yields:
        The operated model (``model`` itself, or the copy for ``random_qk``).
    """
    if operation == "random_qk":
        model = copy.deepcopy(model)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for block in model.blocks:
                for proj in (block.attn.q_proj, block.attn.k_proj):
                    proj.weight.copy_(torch.randn(proj.weight.shape, generator=g) * 0.02)
                    if proj.bias is not None:
                        proj.bias.zero_()
        freeze_qk(model)
    with model.hooks(**operation_hooks(operation)):
        yield model


def train_operated(
    config: GPTConfig, operation: str, tc: TrainConfig, task: SyntheticTask, eval_batches: int
) -> tuple[TrainResult, dict[str, float]]:
    """Train a fresh ``GPT(config)`` with ``operation`` on from the first step, and evaluate it with it on.

    The model is initialized as [`train`][llmkb.train.train] would (``torch.manual_seed(tc.seed)``); for
    ``random_qk`` its random Q/K are frozen; the other operations are hooks in force during training and
    evaluation.

    Returns:
        ``(training result, evaluate(...) metrics)``.
    """
    torch.manual_seed(tc.seed)
    model = GPT(config)
    if operation == "random_qk":
        freeze_qk(model)
    with model.hooks(**operation_hooks(operation)):
        res = train(model, tc, task, progress=False)
        return res, evaluate(res.model, task, batches=eval_batches)


def kept_fraction(loss: float, baseline: float, chance: float) -> float:
    """Share of the baseline's improvement over chance that a variant keeps: ``(chance - loss) /
    (chance - baseline)``; 1 = as good as the baseline, 0 = no better than a uniform guess."""
    gap = chance - baseline
    return (chance - loss) / gap if gap > 0 else float("nan")


def verdict(
    metrics: Mapping[str, float],
    baseline: Mapping[str, float],
    chance: Mapping[str, float],
    *,
    match: float = 0.95,
    fail: float = 0.1,
    margin: float = 0.05,
) -> str:
    """A one-phrase reading of a variant's numbers against the baseline and chance.

    * ``matches the baseline`` (``beats`` above ``2 - match``): it keeps at least ``match`` of the
      baseline's loss gain over chance and its accuracy is at least ``match`` times the baseline's;
    * ``fails``: it keeps at most ``fail`` of the gain, or its accuracy is at most twice chance;
      the accuracy tests are skipped when the baseline's own accuracy is within twice chance;
    * ``worse than chance``: its loss is more than ``margin`` above the uniform guess's (confidently wrong);
    * ``degraded`` otherwise; each phrase carries the measured share of the gain kept.

    Args:
        metrics: ``{"loss", "accuracy"}`` of the variant.
        baseline: the same for the baseline.
        chance: ``{"loss", "accuracy"}`` of a uniform guess.
        match: threshold for "matches".
        fail: threshold for "fails".
        margin: relative excess over the chance loss that counts as "worse than chance".
    """
    kept = kept_fraction(metrics["loss"], baseline["loss"], chance["loss"])
    gain = (
        f"keeps {100 * kept:.0f}% of the gain over chance"
        if kept > 0
        else "keeps none of the gain over chance"
    )
    accuracy_counts = baseline["accuracy"] > 2 * chance["accuracy"]  # else accuracy says nothing here
    if metrics["loss"] > (1.0 + margin) * chance["loss"]:
        return f"worse than chance (loss {metrics['loss']:.2f} > ln V = {chance['loss']:.2f})"
    if kept >= match and (not accuracy_counts or metrics["accuracy"] >= match * baseline["accuracy"]):
        return f"{'beats' if kept > 2 - match else 'matches'} the baseline ({gain})"
    if kept <= fail or (accuracy_counts and metrics["accuracy"] <= 2 * chance["accuracy"]):
        return f"fails: accuracy {metrics['accuracy']:.0%}, at chance level ({gain})"
    return f"degraded ({gain})"


def ms_per_step(result: TrainResult, batch_size: int, seq_len: int) -> float:
    """Median training milliseconds per step, from the loop's throughput windows (evaluation excluded)."""
    tps = [r["tokens_per_s"] for r in result.history if r.get("tokens_per_s")]
    return 1000.0 * batch_size * seq_len / float(np.median(tps))


def as_table(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Row dicts as ``{"columns", "rows"}``, the form ``lab.table`` renders with the columns in order
    (cached results store dicts with sorted keys, which would shuffle the columns)."""
    columns = list(rows[0]) if rows else []
    return {"columns": columns, "rows": [[r[c] for c in columns] for r in rows]}


def _curves(result: TrainResult) -> dict[str, np.ndarray]:
    steps, train_loss = result.series("train_loss")
    val_steps, val_loss = result.series("val_loss")
    return {
        "steps": np.asarray(steps, dtype=np.int64),
        "train_loss": np.asarray(train_loss, dtype=np.float64),
        "val_steps": np.asarray(val_steps, dtype=np.int64),
        "val_loss": np.asarray(val_loss, dtype=np.float64),
    }


def _references(task: SyntheticTask, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "task": repr(task),
        "task_text": describe_task(spec),
        "best_loss": task.best_loss,
        "chance_loss": chance_loss(task),
        "chance_accuracy": chance_accuracy(task),
    }


def _smooth(y: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(y) < k:
        return y
    return np.convolve(y, np.ones(k) / k, mode="valid")


def compare_phrase(
    value: float, reference: float, *, tolerance: float = 0.1, lower_is_better: bool = True
) -> str:
    """``"lower"``/``"higher"`` with the relative difference, or ``"about the same"`` within ``tolerance``.

    Args:
        value: the measured value.
        reference: what it is compared with.
        tolerance: relative difference below which the two count as the same.
        lower_is_better: only used to add ``"(better)"`` / ``"(worse)"``.
    """
    scale = max(abs(reference), 1e-12)
    rel = (value - reference) / scale
    if abs(rel) <= tolerance:
        return f"about the same (within {100 * tolerance:.0f}%)"
    word = "lower" if rel < 0 else "higher"
    better = (rel < 0) == lower_is_better
    return f"{abs(rel):.0%} {word} ({'better' if better else 'worse'})"


# --------------------------------------------------------------------------------------------------
# depth sweep
# --------------------------------------------------------------------------------------------------

_SORT = {"name": "sort", "length": 10, "n_symbols": 16}
_REVERSE = {"name": "reverse", "length": 6, "n_symbols": 8}
_MODEL = {"d_model": 32, "n_heads": 4}  # pre-norm LayerNorm, GELU MLP (d_ff = 4 d), learned positions
_TRAIN_FULL = {"steps": 250, "batch_size": 32, "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 25,
               "weight_decay": 0.0, "eval_every": 50, "eval_batches": 2, "log_every": 10}  # fmt: skip
_TRAIN_QUICK = {**_TRAIN_FULL, "steps": 20, "warmup_steps": 4, "eval_every": 10, "eval_batches": 1}


@experiment(
    "transformer-block/depth",
    topic="transformer-block",
    profiles={
        "quick": {"task": _SORT, "model": _MODEL, "train": _TRAIN_QUICK, "depths": [1, 2], "eval_batches": 1},
        "full": {
            "task": _SORT,
            "model": _MODEL,
            "train": _TRAIN_FULL,
            "depths": [1, 2, 3, 4, 5, 6],
            "eval_batches": 4,
        },
    },  # fmt: skip
)
def depth_sweep(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train the same model with 1..6 blocks on one synthetic task: curves, parameters, time per step."""
    task = make_task(cfg["task"])
    tc = train_config(cfg)
    refs = _references(task, cfg["task"])
    rows: list[dict[str, Any]] = []
    runs: dict[str, Any] = {}
    metrics_by_depth: dict[str, dict[str, float]] = {}
    for depth in ctx.progress(cfg["depths"], total=len(cfg["depths"]), desc="depth"):
        mcfg = model_config(task, cfg["model"], n_layers=depth)
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
        runs[str(depth)] = _curves(res)
        metrics_by_depth[str(depth)] = {**metrics, "ms_per_step": ms, "max_grad_norm": _max_grad_norm(res)}
    best = min(rows, key=lambda r: r["final loss"])
    first, last = rows[0], rows[-1]
    return {
        **refs,
        "config": {
            "task": dict(cfg["task"]),
            "model": dict(cfg["model"]),
            "train": dict(cfg["train"]),
            "eval_batches": cfg["eval_batches"],
        },
        "rows": rows,
        "table": as_table(rows),
        "runs": runs,
        "metrics": metrics_by_depth,
        "best_depth": best["blocks"],
        "best_loss_measured": best["final loss"],
        "deepest": last["blocks"],
        "ms_ratio": last["ms/step"] / first["ms/step"],
        "params_ratio": last["parameters"] / first["parameters"],
        "params_per_block": count_parameters(model_config(task, cfg["model"], n_layers=2))
        - count_parameters(model_config(task, cfg["model"], n_layers=1)),
        "deepest_vs_one": compare_phrase(last["final loss"], first["final loss"]),
    }


def _max_grad_norm(result: TrainResult) -> float:
    _, norms = result.series("grad_norm")
    return float(max(norms))


@figure(
    "transformer-block/depth",
    "curves",
    caption="Training loss vs step for 1 to 6 blocks (best possible loss: 0)",
)
def _fig_depth_curves(res: Result) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    cmap = plt.get_cmap("viridis")
    depths = sorted(res["runs"], key=int)
    for i, d in enumerate(depths):
        run = res["runs"][d]
        y = _smooth(run["train_loss"], 9)
        ax.plot(run["steps"][len(run["steps"]) - len(y) :], y, color=cmap(i / max(1, len(depths) - 1)),
                label=f"{d} block{'' if d == '1' else 's'}")  # fmt: skip
    ax.axhline(res["chance_loss"], color="grey", ls="--", lw=1, label="uniform guess (ln V)")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss on answer tokens (nats, log scale)")
    ax.legend(fontsize=8, ncols=2)
    return fig


@figure("transformer-block/depth", "cost", caption="Parameters and milliseconds per step vs number of blocks")
def _fig_depth_cost(res: Result) -> Any:
    import matplotlib.pyplot as plt

    rows = res["rows"]
    depth = [r["blocks"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(depth, [r["parameters"] / 1e3 for r in rows], "o-", label="parameters (thousands)")
    ax.set_xlabel("blocks")
    ax.set_ylabel("parameters (thousands)")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    ax2.plot(depth, [r["ms/step"] for r in rows], "s--", color="C1", label="ms per training step")
    ax2.set_ylabel("ms per training step")
    ax2.set_ylim(bottom=0)
    fig.legend(loc="upper left", bbox_to_anchor=(0.12, 0.88), fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------------
# Q/K/V surgery
# --------------------------------------------------------------------------------------------------


_SURGERY_MODEL = {**_MODEL, "n_layers": 2}


@experiment(
    "transformer-block/surgery",
    topic="transformer-block",
    profiles={
        "quick": {
            "task": _REVERSE,
            "model": _SURGERY_MODEL,
            "train": _TRAIN_QUICK,
            "eval_batches": 1,
            "operations": list(OPERATIONS),
        },
        "full": {
            "task": _REVERSE,
            "model": _SURGERY_MODEL,
            "train": _TRAIN_FULL,
            "eval_batches": 4,
            "operations": list(OPERATIONS),
        },
    },  # fmt: skip
)
def surgery(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Operate on Q/K/V (and the residual) of a trained model; train fresh models with each operation."""
    task = make_task(cfg["task"])
    tc = train_config(cfg)
    refs = _references(task, cfg["task"])
    chance = {"loss": refs["chance_loss"], "accuracy": refs["chance_accuracy"]}
    base_cfg = model_config(task, cfg["model"])
    base = train(base_cfg, tc, task, progress=False)
    baseline = evaluate(base.model, task, batches=cfg["eval_batches"])
    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    curves: dict[str, Any] = {"baseline": _curves(base)}
    for op in ctx.progress(cfg["operations"], total=len(cfg["operations"]), desc="surgery"):
        with operate(base.model, op, seed=tc.seed + 1) as operated:
            after = evaluate(operated, task, batches=cfg["eval_batches"])
        res, trained = train_operated(base_cfg, op, tc, task, cfg["eval_batches"])
        curves[op] = _curves(res)
        details[op] = {
            "description": OPERATIONS[op],
            "after_training": after,
            "after_verdict": verdict(after, baseline, chance),
            "trained_with": trained,
            "trained_verdict": verdict(trained, baseline, chance),
        }
        rows.append(
            {
                "operation": op,
                "after training: accuracy": round(after["accuracy"], 3),
                "after training: loss": _sig(after["loss"]),
                "trained with it: accuracy": round(trained["accuracy"], 3),
                "trained with it: loss": _sig(trained["loss"]),
            }
        )
    verdicts = [
        {
            "operation": op,
            "applied after training": d["after_verdict"],
            "trained with it": d["trained_verdict"],
        }
        for op, d in details.items()
    ]
    broken = [op for op, d in details.items() if d["after_verdict"].startswith(("fails", "worse"))]
    kept = [op for op, d in details.items() if d["trained_verdict"].startswith("matches")]
    summary = (
        f"applied after training, {len(broken)} of {len(details)} operations leave the model no better than "
        f"chance; switched on from the start of training, {len(kept)} of {len(details)} match the baseline"
        + (f" ({', '.join(kept)})." if kept else ".")
    )
    return {**refs, "baseline": baseline, "operations": details, "rows": rows,
            "table": as_table(rows), "verdicts": as_table(verdicts),
            "summary": summary, "curves": curves}  # fmt: skip


def _sig(x: float, digits: int = 3) -> float:
    """``x`` rounded to ``digits`` significant digits, so that a loss of 2e-4 is not shown as 0."""
    return float(f"{x:.{digits}g}")


@figure(
    "transformer-block/surgery",
    "effects",
    caption="Per-token accuracy and loss after each operation: applied to the trained model vs trained with it",
)
def _fig_surgery(res: Result) -> Any:
    import matplotlib.pyplot as plt

    ops = [row["operation"] for row in res["rows"]]
    y = np.arange(len(ops))
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(8, 4), sharey=True)
    kinds = (
        ("after_training", "applied to the trained model", -0.2),
        ("trained_with", "trained with it", 0.2),
    )
    for key, label, shift in kinds:
        got = [res["operations"][o].get(key) for o in ops]
        acc = [g["token_accuracy"] if g else np.nan for g in got]
        loss = [max(g["loss"], 1e-4) if g else np.nan for g in got]
        acc_ax.barh(y + shift, acc, height=0.4, label=label)
        loss_ax.barh(y + shift, loss, height=0.4, label=label)
    base, chance_acc = res["baseline"], float(np.exp(-res["chance_loss"]))  # 1/V per token
    acc_ax.axvline(base["token_accuracy"], color="black", ls=":", lw=1, label="baseline")
    acc_ax.axvline(chance_acc, color="grey", ls="--", lw=1, label="chance (1/V)")
    loss_ax.axvline(max(base["loss"], 1e-4), color="black", ls=":", lw=1)
    loss_ax.axvline(res["chance_loss"], color="grey", ls="--", lw=1)
    acc_ax.set_yticks(y, ops)
    acc_ax.invert_yaxis()
    acc_ax.set_xlim(0, 1.02)
    acc_ax.set_xlabel("per-token accuracy")
    loss_ax.set_xscale("log")
    loss_ax.set_xlabel("loss (nats, log scale; floor 1e-4)")
    acc_ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(1.05, -0.14), ncols=4, frameon=False)
    return fig


# --------------------------------------------------------------------------------------------------
# pre-norm vs post-norm
# --------------------------------------------------------------------------------------------------

_NORM_VARIANTS = [
    {"norm_position": "pre", "warmup": False},
    {"norm_position": "post", "warmup": True},
    {"norm_position": "post", "warmup": False},
    {"norm_position": "pre", "warmup": True, "residual": False},
]


def _variant_label(norm_position: str, warmup: bool, residual: bool = True) -> str:
    label = f"{norm_position}-norm, {'warm-up' if warmup else 'no warm-up'}"
    return label if residual else f"{label}, no residual"


@experiment(
    "transformer-block/norm",
    topic="transformer-block",
    profiles={"quick": {"variants": _NORM_VARIANTS}, "full": {"variants": _NORM_VARIANTS}},
    needs=["transformer-block/depth"],
)
def norm_placement(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Pre-norm vs post-norm at the deepest depth of the depth sweep, with and without warm-up.

    The pre-norm run with warm-up is the depth sweep's deepest run (same task, model and training
    settings, read from its result); the other variants, and a pre-norm stack without residual
    connections, are trained here with those settings.
    """
    depth = ctx.need("transformer-block/depth")
    base = depth["config"]
    n_layers = int(depth["deepest"])
    task = make_task(base["task"])
    refs = _references(task, base["task"])
    reference = _variant_label("pre", True)
    results: dict[str, dict[str, float]] = {reference: dict(depth["metrics"][str(n_layers)])}
    curves: dict[str, Any] = {reference: depth["runs"][str(n_layers)]}
    for v in ctx.progress(cfg["variants"], total=len(cfg["variants"]), desc="norm"):
        residual = bool(v.get("residual", True))
        tc = train_config(base) if v["warmup"] else train_config(base, warmup_steps=0)
        mcfg = model_config(task, base["model"], n_layers=n_layers, norm_position=v["norm_position"])
        op = "none" if residual else "no_residual"  # trained and evaluated under the residual hook
        res, metrics = train_operated(mcfg, op, tc, task, int(base["eval_batches"]))
        label = _variant_label(v["norm_position"], v["warmup"], residual)
        results[label] = {**metrics, "max_grad_norm": _max_grad_norm(res)}
        curves[label] = _curves(res)
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
    best = min(rows, key=lambda r: r["final loss"])
    worst = max(rows, key=lambda r: r["final loss"])
    loss = {k: m["loss"] for k, m in results.items()}

    def vs(variant: str, ref: str) -> str:
        return compare_phrase(loss[variant], loss[ref]) if variant in loss and ref in loss else "not run"

    return {
        **refs,
        "n_layers": n_layers,
        "rows": rows,
        "table": as_table(rows),
        "curves": curves,
        "best": best["variant"],
        "worst": worst["variant"],
        "post_vs_pre": vs(_variant_label("post", True), reference),
        "no_warmup_pre": vs(_variant_label("pre", False), reference),
        "no_warmup_post": vs(_variant_label("post", False), _variant_label("post", True)),
        "no_residual": vs(_variant_label("pre", True, False), reference),
    }


@figure("transformer-block/norm", "curves", caption="Pre-norm vs post-norm, with and without warm-up")
def _fig_norm(res: Result) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (label, run) in enumerate(res["curves"].items()):
        y = _smooth(run["train_loss"], 9)
        style = ":" if "no residual" in label else ("-" if label.startswith("pre") else "--")
        ax.plot(run["steps"][len(run["steps"]) - len(y) :], y, ls=style, color=f"C{i}", label=label)
    ax.axhline(res["chance_loss"], color="grey", ls=(0, (1, 3)), lw=1, label="uniform guess (ln V)")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss on answer tokens (nats, log scale)")
    ax.legend(fontsize=8)
    return fig
