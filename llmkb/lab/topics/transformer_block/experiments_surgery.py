"""Surgery on Q, K, V and the residual: each operation applied to a trained model, and trained with."""

from __future__ import annotations

from typing import Any

import torch

from llmkb.lab import RunContext, kit
from llmkb.lab.topics.transformer_block.analysis import (
    evaluate,
    make_task,
    model_facts,
    operate,
    sized_for,
    train_operated,
)
from llmkb.lab.topics.transformer_block.analysis_circuits import (
    attention_inputs,
    circuit_errors,
    first_token_influence,
    relabeled,
    uniform_gap,
)
from llmkb.lab.topics.transformer_block.experiments import MODEL, REVERSE, TRAIN_FULL, TRAIN_QUICK, references
from llmkb.lab.topics.transformer_block.names import EXACT, OPERATIONS, TOPIC
from llmkb.lab.topics.transformer_block.text import circuit_case, surgery_summary, verdict, verdict_pair
from llmkb.nn import GPT
from llmkb.train import train

__all__ = ["surgery"]

_SURGERY = {"task": REVERSE, "model": {**MODEL, "n_layers": 2}, "operations": list(OPERATIONS)}


@TOPIC.experiment(
    "surgery",
    profiles={
        "quick": {**_SURGERY, "train": TRAIN_QUICK, "eval_batches": 1},
        "full": {**_SURGERY, "train": TRAIN_FULL, "eval_batches": 4},
    },
)
def surgery(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Operate on Q/K/V (and the residual) of a trained model; train fresh models with each operation.

    Besides the verdicts, it checks on the trained baseline what the page explains (and raises if not):
    the QK circuit form reproduces the model's attention weights; ``swap_qk`` and ``shuffle_heads`` equal plain
    models with relabeled weights; with ``zero_v`` no position reads another.

    Raises:
        AssertionError: one of those checks fails.
    """
    task = make_task(cfg["task"])
    tc = kit.train_config(cfg)
    refs = references(cfg["task"])
    chance = {"loss": refs["chance_loss"], "accuracy": refs["chance_accuracy"]}
    base_cfg = kit.model_config(cfg, **sized_for(task))
    base = train(base_cfg, tc, task, progress=False)
    baseline = evaluate(base.model, task, batches=cfg["eval_batches"])
    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    curves: dict[str, Any] = {"baseline": kit.curves(base)}
    trained: dict[str, GPT] = {}
    for op in ctx.progress(cfg["operations"], total=len(cfg["operations"]), desc="surgery"):
        with operate(base.model, op, seed=tc.seed + 1) as operated:
            after = evaluate(operated, task, batches=cfg["eval_batches"])
        res, with_it = train_operated(base_cfg, op, tc, task, cfg["eval_batches"])
        trained[op] = res.model
        curves[op] = kit.curves(res)
        details[op] = {
            "description": OPERATIONS[op],
            "after_training": after,
            "after_verdict": verdict(after, baseline, chance),
            "trained_with": with_it,
            "trained_verdict": verdict(with_it, baseline, chance),
        }
        rows.append(
            {
                "operation": op,
                "after training: accuracy": round(after["accuracy"], 3),
                "after training: loss": kit.round_sig(after["loss"]),
                "trained with it: accuracy": round(with_it["accuracy"], 3),
                "trained with it: loss": kit.round_sig(with_it["loss"]),
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
    relabel = [op for op in ("swap_qk", "shuffle_heads") if op in details]
    pairs = {
        f"relabel_{when}": verdict_pair(*[(op, details[op][key]) for op in relabel], baseline, chance)
        for when, key in (("trained", "trained_with"), ("after", "after_training"))
        if len(relabel) == 2
    }
    x, _ = task.make_batch(8, torch.Generator().manual_seed(tc.seed + 2))  # (8, T) held-out sequences
    return {
        **refs,
        "model": model_facts(base_cfg),
        "baseline": baseline,
        "operations": details,
        "rows": rows,
        "table": kit.table(rows),
        "verdicts": kit.table(verdicts),
        "summary": surgery_summary(details),
        "pairs": pairs,
        "curves": curves,
        "checks": _checks(base.model, trained, x, tc.seed, chance["loss"], details),
    }


def _checks(
    model: GPT, trained: dict[str, GPT], x: torch.Tensor, seed: int, ln_v: float, details: dict[str, Any]
) -> dict[str, Any]:
    """The page's explanations, measured on the trained models (see ``surgery``)."""
    cfg = model.config
    circuit = {"case": circuit_case(cfg.bias, cfg.positional), **circuit_errors(model, x[:1])}
    if circuit["exact"] > EXACT:
        raise AssertionError(
            f"the QK circuit form misses the model's attention weights by {circuit['exact']:.2g}"
        )
    out: dict[str, Any] = {"circuit": circuit}
    with torch.no_grad():
        scale = float(model(x).logits.abs().max())
        for op in ("swap_qk", "shuffle_heads"):
            twin = relabeled(model, op)
            with operate(model, op) as operated:
                gap = float((operated(x).logits - twin(x).logits).abs().max())
            if gap > EXACT * max(1.0, scale):
                raise AssertionError(f"{op} is not a relabeling of the weights: logits differ by {gap:.2g}")
            out[f"{op}_relabel_gap"] = gap
    if "zero_v" in trained:
        with operate(trained["zero_v"], "zero_v") as cut:
            influence = first_token_influence(cut, x)
        if influence > 1e-6:
            raise AssertionError(f"under zero_v the first token still moves later logits by {influence:.2g}")
        floor = details["zero_v"]["trained_with"]["loss"] - ln_v
        out["zero_v"] = {"influence": influence, "baseline_influence": first_token_influence(model, x)}
        out["zero_v"]["floor_gap"] = kit.gap_phrase(floor)
    if "random_qk" in trained:
        torch.manual_seed(seed)  # the initialization every run of the experiment starts from
        _, at_init = attention_inputs(GPT(cfg).eval(), x)
        _, after = attention_inputs(trained["random_qk"].eval(), x)
        out["random_qk"] = {
            "uniform_gap_init": uniform_gap(at_init),
            "uniform_gap_trained": uniform_gap(after),
        }
    return out
