"""CLM, MLM and prefix LM on one backbone at equal compute: learning curves by tokens seen and predicted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmkb.data import TokenDataset
from llmkb.data.corpus import load_corpus
from llmkb.data.objectives import OBJECTIVE_VOCAB, OBJECTIVES, ObjectiveData
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import seed_stats
from llmkb.lab.topics.pretraining_objectives import text
from llmkb.lab.topics.pretraining_objectives.analysis import efficiency, task_text
from llmkb.lab.topics.pretraining_objectives.names import (
    ALPHABET,
    HELD_OUT,
    LLAMA,
    OBJECTIVE_NAMES,
    TASK_LEN,
    TOPIC,
)
from llmkb.nn import GPT
from llmkb.train.objectives import eval_objective, train_objective
from llmkb.train.shared_model import SHARED_CORPUS

_MODEL = {
    "vocab_size": OBJECTIVE_VOCAB,
    "d_model": 64,
    "n_layers": 2,
    "n_heads": 4,
    "max_seq_len": 32,
    **LLAMA,
}
_TRAIN = {"steps": 700, "batch_size": 16, "seq_len": 32, "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 20,
          "weight_decay": 0.1, "eval_every": 50, "eval_batches": 4, "log_every": 50}  # fmt: skip
_QUICK = {**_TRAIN, "steps": 12, "batch_size": 8, "warmup_steps": 2, "eval_every": 6, "eval_batches": 1}


def model_dir(out_dir: Path, objective: str, seed: int) -> Path:
    """Where the training experiment keeps the model of ``objective`` trained with ``seed``."""
    return out_dir / f"{objective}-seed{seed}"


def training_ids(task_lines: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pydoc's training split, the training task lines (held-out inputs left out) and pydoc's held-out split."""
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    tasks = torch.tensor(list(task_text(task_lines, seed=0).encode()), dtype=torch.long)
    return data.train, tasks, data.val


def objective_data(objective: str, cfg: dict[str, Any], streams: tuple[torch.Tensor, ...]) -> ObjectiveData:
    """The one mixture every objective trains on: prose and task lines, a ``task_share`` of rows from tasks."""
    prose, tasks, val = streams
    share = cfg["task_share"]
    return ObjectiveData(objective, [prose, tasks], val, cfg["train"]["seq_len"], weights=[1 - share, share])


def check_same_windows(cfg: dict[str, Any], streams: tuple[torch.Tensor, ...], n_batches: int = 3) -> None:
    """Raise unless every objective's first batches of one seed hold the same true tokens (what the page says).

    Raises:
        AssertionError: an objective read other windows than CLM.
    """
    truths = {}
    for objective in OBJECTIVES:
        data, g = objective_data(objective, cfg, streams), torch.Generator().manual_seed(0)
        batches = [data.train_batch(cfg["train"]["batch_size"], g) for _ in range(n_batches)]
        truths[objective] = [
            torch.where(b.y != -100, b.y, b.x) if objective == "mlm" else b.x for b in batches
        ]
    for objective in OBJECTIVES:
        if not all(torch.equal(a, b) for a, b in zip(truths[objective], truths["clm"], strict=True)):
            raise AssertionError(f"{objective} read other windows than CLM")


@TOPIC.experiment(
    "train",
    profiles={
        "quick": {
            "model": _MODEL,
            "train": _QUICK,
            "seeds": [0],
            "task_lines": 2000,
            "task_share": 0.6,
            "code_chars": 50_000,
        },
        "full": {
            "model": _MODEL,
            "train": _TRAIN,
            "seeds": [0, 1, 2],
            "task_lines": 20000,
            "task_share": 0.6,
            "code_chars": 200_000,
        },
    },
    title="CLM, MLM and prefix LM at equal compute: held-out loss by tokens seen and by tokens predicted",
)
def train_models(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train each objective with each seed on the same windows; keep the models for ``samples``."""
    streams = training_ids(cfg["task_lines"])
    check_same_windows(cfg, streams)
    code_ids = torch.tensor(
        list(load_corpus("stdlib", max_chars=cfg["code_chars"]).encode()), dtype=torch.long
    )
    tcfg = kit.train_config(cfg)
    rows = []
    for objective in OBJECTIVES:
        runs = []
        for seed in cfg["seeds"]:
            torch.manual_seed(seed)
            model = GPT(kit.model_config(cfg))
            data = objective_data(objective, cfg, streams)
            curve = train_objective(model, data, kit.train_config(cfg, seed=seed))
            model.save(model_dir(ctx.out_dir, objective, seed))
            code = ObjectiveData(objective, [code_ids], code_ids, tcfg.seq_len)
            runs.append({"curve": curve, "code": eval_objective(model, code, tcfg)})
        losses = np.mean([r["curve"].val_loss for r in runs], axis=0).tolist()
        c = runs[0]["curve"]
        predicted = np.mean([r["curve"].predicted for r in runs], axis=0).round().astype(int).tolist()
        finals = [r["curve"].val_loss[-1] for r in runs]
        rows.append({
            "objective": objective, "name": OBJECTIVE_NAMES[objective], "steps": c.step, "seen": c.seen,
            "predicted": predicted, "val_loss": losses, "finals": finals, **seed_stats(finals),
            "code": seed_stats([r["code"] for r in runs])["mean"],
            **efficiency(losses, c.seen, predicted),
        })  # fmt: skip
    by = {r["objective"]: r for r in rows}
    table = [
        {
            "objective": r["name"],
            "tokens seen": r["seen"][-1],
            "tokens predicted": r["predicted"][-1],
            "held-out loss, prose": text.mean_sd(r, ".3f"),
            "held-out loss, code": round(r["code"], 3),
            "loss drop per 1k seen": round(1000 * r["per_seen"], 4),
            "loss drop per 1k predicted": round(1000 * r["per_predicted"], 4),
        }
        for r in rows
    ]
    return {
        "config": {k: cfg[k] for k in ("model", "train", "seeds", "task_lines", "task_share", "code_chars")},
        "rows": rows,
        "table": kit.table(table),
        **kit.training_facts(cfg),
        "tasks": {"length": TASK_LEN, "letters": len(ALPHABET), "held_out": 1 / HELD_OUT},
        "mlm_share": by["mlm"]["predicted"][-1] / by["mlm"]["seen"][-1],
        "seen_ratio": by["clm"]["per_seen"] / by["mlm"]["per_seen"],
        "predicted_ratio": by["mlm"]["per_predicted"] / by["clm"]["per_predicted"],
        "headline": text.efficiency_phrase(by["clm"], by["mlm"]),
    }
