"""Finetune the shared model on Python source: full finetuning vs LoRA at several ranks, new vs old domain."""

from __future__ import annotations

from typing import Any

import torch

from llmkb.data import TokenDataset
from llmkb.data.corpus import load_corpus
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import eval_windows
from llmkb.lab.kit.memory import human_bytes
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.lab.topics.finetuning import text
from llmkb.lab.topics.finetuning.analysis import method_summary
from llmkb.lab.topics.finetuning.names import TOPIC
from llmkb.train.finetune import eval_lm, finetune_lm
from llmkb.train.lora import DEFAULT_TARGETS, LoRA, adam_state_bytes, trainable_parameters
from llmkb.train.shared_model import SHARED_CORPUS

_FULL = {"steps": 30, "batch_size": 4, "seq_len": 128, "lr": 1e-3, "lora_lr": 4e-3, "ranks": [1, 4, 16],
         "alpha": 16.0, "eval_every": 10, "n_eval": 8, "code_chars": 300_000, "seed": 0}  # fmt: skip
_QUICK = {**_FULL, "steps": 2, "batch_size": 2, "seq_len": 32, "ranks": [1, 4], "eval_every": 2, "n_eval": 2,
          "code_chars": 30_000}  # fmt: skip


def _run(
    model, params, cfg: dict[str, Any], train_ids: torch.Tensor, evals: dict[str, torch.Tensor], lr: float
):
    return finetune_lm(model, params, train_ids, evals, cfg["steps"], batch_size=cfg["batch_size"],
                       seq_len=cfg["seq_len"], lr=lr, eval_every=cfg["eval_every"], seed=cfg["seed"])  # fmt: skip


@TOPIC.experiment(
    "domain",
    profiles={"quick": _QUICK, "full": _FULL},
    needs=[SHARED_MODEL],
    title="Finetune the shared model on Python source: full vs LoRA ranks, loss on code and on prose",
)
def domain(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Each method starts from the same shared model, trains on the same batches and is scored on the same windows."""
    code_ids = torch.tensor(
        list(load_corpus("stdlib", max_chars=cfg["code_chars"]).encode()), dtype=torch.long
    )
    split = int(0.9 * len(code_ids))
    prose = TokenDataset.from_corpus(SHARED_CORPUS)
    evals = {
        "new": eval_windows(code_ids[split:], cfg["seq_len"], cfg["n_eval"], seed=1),
        "old": eval_windows(prose.val, cfg["seq_len"], cfg["n_eval"], seed=1),
    }
    shared = ctx.need(SHARED_MODEL)
    total = load_shared_model(shared)[0].num_parameters()
    rows, curves = [], {}
    model, _ = load_shared_model(shared)
    curve = _run(model, model.parameters(), cfg, code_ids[:split], evals, cfg["lr"])
    rows.append(method_summary("full finetuning", total, total, curve))
    curves["full finetuning"] = curve
    for r in cfg["ranks"]:
        model, _ = load_shared_model(shared)
        lora = LoRA(model, rank=r, alpha=cfg["alpha"], targets=DEFAULT_TARGETS, seed=cfg["seed"])
        lora.freeze_base()
        with lora:
            curve = _run(model, lora.parameters(), cfg, code_ids[:split], evals, cfg["lora_lr"])
            adapted = eval_lm(model, evals["new"])
        lora.merge()
        merged = eval_lm(model, evals["new"])
        if abs(merged - adapted) > 1e-4:
            raise AssertionError(f"merged LoRA (rank {r}) scores {merged}, the adapter path {adapted}")
        name = f"LoRA r={r}"
        rows.append(method_summary(name, trainable_parameters(lora.parameters()), total, curve))
        curves[name] = curve
    for row in rows:
        row["adam_bytes"] = adam_state_bytes(row["trainable"])
    table = [
        {
            "method": r["name"],
            "trainable parameters": kit.readable(r["trainable"]),
            "share of the model": kit.fmt(r["share"], ".2%"),
            "AdamW state": human_bytes(r["adam_bytes"]),
            "code loss (before → after)": f"{kit.fmt(r['new_before'], '.3f')} → {kit.fmt(r['new_after'], '.3f')}",
            "prose loss (before → after)": f"{kit.fmt(r['old_before'], '.3f')} → {kit.fmt(r['old_after'], '.3f')}",
        }
        for r in rows
    ]
    return {
        "config": cfg,
        "rows": rows,
        "curves": curves,
        "table": kit.table(table),
        "total_params": total,
        "targets": kit.join_names(list(DEFAULT_TARGETS)),
        "tokens": cfg["steps"] * cfg["batch_size"] * cfg["seq_len"],
        "headline": text.domain_phrase(rows),
        "forgetting": text.forgetting_phrase(rows),
    }
