"""Instruction tuning of the shared model: exact match per task before and after, with and without prompt masking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from llmkb.data.instruct import INSTRUCT_VOCAB, make_examples
from llmkb.lab import RunContext, kit
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.lab.topics.finetuning import text
from llmkb.lab.topics.finetuning.analysis import group_mean
from llmkb.lab.topics.finetuning.names import HELD_OUT_TASKS, TOPIC, TRAIN_TASKS
from llmkb.nn import GPT
from llmkb.train.finetune import exact_match_by_task, extend_vocab, sft

_FULL = {"steps": 300, "batch_size": 32, "lr": 3e-3, "digits": 2, "add_digits": 1, "n_train": 4000,
         "n_test": 30, "max_new": 6, "seed": 0}  # fmt: skip
_QUICK = {**_FULL, "steps": 3, "batch_size": 4, "n_train": 50, "n_test": 2}

VARIANTS: dict[str, bool] = {"masked": True, "unmasked": False}
"""The two SFT runs: loss on the response only, or on the whole sequence."""


def sft_dir(out_dir: Path) -> Path:
    """Where ``sft`` keeps the instruction-tuned model (masked prompt loss) that RLHF starts from."""
    return out_dir / "sft"


def load_sft(result: Any) -> GPT:
    """The instruction-tuned model from the ``sft`` result, in eval mode."""
    return GPT.load(sft_dir(result.dir)).eval()


def test_examples(cfg: dict[str, Any]) -> list:
    """The held-out examples: fresh inputs for every training task and for the held-out compositions."""
    tasks = (*TRAIN_TASKS, *HELD_OUT_TASKS)
    return make_examples(tasks, cfg["n_test"] * len(tasks), seed=cfg["seed"] + 1, digits=cfg["digits"],
                         add_digits=cfg["add_digits"])  # fmt: skip


@TOPIC.experiment(
    "sft",
    profiles={"quick": _QUICK, "full": _FULL},
    needs=[SHARED_MODEL],
    title="Instruction tuning with and without prompt-loss masking: exact match per task, held-out compositions",
)
def instruction_tuning(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Extend the shared model with the chat tokens, evaluate it, tune it twice (masked, unmasked), evaluate."""
    train = make_examples(TRAIN_TASKS, cfg["n_train"], seed=cfg["seed"], digits=cfg["digits"],
                          add_digits=cfg["add_digits"])  # fmt: skip
    test = test_examples(cfg)
    base = extend_vocab(load_shared_model(ctx.need(SHARED_MODEL))[0], INSTRUCT_VOCAB)
    scores = {"before": exact_match_by_task(base, test, cfg["max_new"])}
    losses = {}
    for variant, mask in VARIANTS.items():
        torch.manual_seed(cfg["seed"])
        model = extend_vocab(load_shared_model(ctx.need(SHARED_MODEL))[0], INSTRUCT_VOCAB)
        losses[variant] = sft(model, train, cfg["steps"], batch_size=cfg["batch_size"], lr=cfg["lr"],
                              mask_prompt=mask, seed=cfg["seed"])  # fmt: skip
        scores[variant] = exact_match_by_task(model, test, cfg["max_new"])
        if mask:
            model.save(sft_dir(ctx.out_dir))
    groups = {
        stage: {"train": group_mean(s, TRAIN_TASKS), "held_out": group_mean(s, HELD_OUT_TASKS)}
        for stage, s in scores.items()
    }
    rows = [
        {"task": t, "seen in training": "yes" if t in TRAIN_TASKS else "no (held out)",
         **{f"{stage}": kit.fmt(scores[stage][t], ".0%") for stage in ("before", *VARIANTS)}}
        for t in (*TRAIN_TASKS, *HELD_OUT_TASKS)
    ]  # fmt: skip
    return {
        "config": cfg,
        "scores": scores,
        "groups": groups,
        "losses": losses,
        "table": kit.table(rows),
        "n_test": cfg["n_test"],
        "masking": text.masking_phrase(groups),
        "held_out": text.held_out_phrase(groups),
        "tokens_note": f"{cfg['steps']} steps of {cfg['batch_size']} examples",
    }
