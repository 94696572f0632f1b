"""Preference pairs from the judge, the Bradley–Terry reward model, and DPO on the same pairs."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from llmkb.data.instruct import END_ID, Example, make_examples, prompt_ids
from llmkb.infer.sampling import SamplingConfig
from llmkb.lab import RunContext
from llmkb.lab.topics.finetuning import text
from llmkb.lab.topics.finetuning.experiments_sft import load_sft
from llmkb.lab.topics.finetuning.names import REWARD, SFT, SINGLE_TASKS, TOPIC
from llmkb.nn import GPT
from llmkb.train.dpo import train_dpo
from llmkb.train.finetune import exact_match_by_task
from llmkb.train.reward import Pair, judge, make_pairs, reward_accuracy, train_reward_model
from llmkb.train.sequences import ScalarHead, generate_responses

_FULL = {"n_prompts": 240, "candidates": 4, "noise": 0.1, "held_out": 0.25, "steps": 80, "batch_size": 16,
         "lr": 1e-3, "temperature": 1.0, "candidate_temperature": 2.0, "max_new": 6, "n_eval": 96, "demonstration": False, "seed": 0}  # fmt: skip
_QUICK = {
    **_FULL,
    "n_prompts": 12,
    "candidates": 3,
    "steps": 2,
    "batch_size": 4,
    "n_eval": 5,
    "demonstration": True,
}
_DPO_FULL = {"steps": 60, "batch_size": 16, "lr": 1e-4, "beta": 0.1, "seed": 0}
_DPO_QUICK = {**_DPO_FULL, "steps": 2, "batch_size": 4}


def eval_prompts(cfg: dict[str, Any]) -> list[Example]:
    """The fixed prompts every policy (SFT, PPO, DPO) is scored on: single tasks, fresh inputs."""
    return make_examples(SINGLE_TASKS, cfg["n_eval"], seed=cfg["seed"] + 7, digits=2, add_digits=1)


def true_score(model: GPT, examples: list[Example], cfg: dict[str, Any], seed: int = 5) -> dict[str, float]:
    """The judge's mean score of sampled responses (temperature of ``cfg``) and of greedy ones, and exact match."""
    g = torch.Generator().manual_seed(seed)
    prompts = [prompt_ids(e) for e in examples]
    sampled = generate_responses(
        model, prompts, cfg["max_new"], END_ID, SamplingConfig(temperature=cfg["temperature"]), g
    )
    greedy = generate_responses(model, prompts, cfg["max_new"], END_ID)
    em = exact_match_by_task(model, examples, cfg["max_new"])
    return {
        "sampled": sum(judge(e, r) for e, r in zip(examples, sampled, strict=True)) / len(examples),
        "greedy": sum(judge(e, r) for e, r in zip(examples, greedy, strict=True)) / len(examples),
        "exact": sum(em.values()) / len(em),
        "exact_by_task": em,
    }


def load_reward_model(result: Any) -> ScalarHead:
    """The trained reward model of the ``reward`` result, in eval mode."""
    rm = ScalarHead(GPT.load(Path(result.dir) / "rm"))
    rm.head.load_state_dict(load_file(str(Path(result.dir) / "rm_head.safetensors")))
    return rm.eval()


def load_pairs(result: Any, split: str = "train") -> list[Pair]:
    """The ``train`` (noisy labels) or ``held_out`` (clean) pairs the ``reward`` experiment built."""
    data = json.loads((Path(result.dir) / "pairs.json").read_text())
    return [Pair(**p) for p in data[split]]


@TOPIC.experiment(
    "reward",
    profiles={"quick": _QUICK, "full": _FULL},
    needs=[SFT],
    title="Preference pairs from a programmatic judge and a Bradley–Terry reward model: held-out accuracy",
)
def reward(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Sample candidates from the SFT model, pair best vs worst by the judge, train the reward model on them."""
    policy = load_sft(ctx.need(SFT))
    examples = make_examples(SINGLE_TASKS, cfg["n_prompts"], seed=cfg["seed"] + 3, digits=2, add_digits=1)
    g = torch.Generator().manual_seed(cfg["seed"])
    sampling = SamplingConfig(temperature=cfg["candidate_temperature"])  # hot: varied candidates
    prompts = [prompt_ids(e) for e in examples]
    cands = [
        generate_responses(policy, prompts, cfg["max_new"], END_ID, sampling, g)
        for _ in range(cfg["candidates"])
    ]
    per_example = [[c[i] for c in cands] for i in range(len(examples))]
    if cfg[
        "demonstration"
    ]:  # the correct answer joins the candidates (a barely trained model ties everywhere)
        per_example = [
            [*rs, [*e.output.encode(), END_ID]] for e, rs in zip(examples, per_example, strict=True)
        ]
    order = list(range(len(examples)))
    random.Random(cfg["seed"]).shuffle(order)
    n_held = max(1, int(cfg["held_out"] * len(order)))
    held = [order[i] for i in range(n_held)]
    rest = [order[i] for i in range(n_held, len(order))]
    train_pairs = make_pairs(
        [examples[i] for i in rest], [per_example[i] for i in rest], cfg["noise"], cfg["seed"]
    )
    held_pairs = make_pairs([examples[i] for i in held], [per_example[i] for i in held], 0.0)
    if not train_pairs:
        raise RuntimeError("every candidate set tied under the judge: no preference pair to train on")
    rm = ScalarHead(load_sft(ctx.need(SFT)))
    before = reward_accuracy(rm, held_pairs) if held_pairs else 0.0
    losses = train_reward_model(rm, train_pairs, cfg["steps"], cfg["batch_size"], cfg["lr"], cfg["seed"])
    acc_train, acc_held = reward_accuracy(rm, train_pairs), reward_accuracy(rm, held_pairs)
    rm.backbone.save(ctx.out_dir / "rm")
    save_file(
        {k: v.contiguous() for k, v in rm.head.state_dict().items()}, str(ctx.out_dir / "rm_head.safetensors")
    )
    (ctx.out_dir / "pairs.json").write_text(json.dumps({
        "train": [vars(p) for p in train_pairs], "held_out": [vars(p) for p in held_pairs]}))  # fmt: skip
    scores = [judge(e, r) for e, rs in zip(examples, per_example, strict=True) for r in rs]
    sft_eval = true_score(policy, eval_prompts(cfg), cfg)
    return {
        "config": cfg,
        "n_train_pairs": len(train_pairs),
        "n_held_pairs": len(held_pairs),
        "losses": losses,
        "accuracy": {"before": before, "train": acc_train, "held_out": acc_held},
        "candidate_score": sum(scores) / len(scores),
        "sft": sft_eval,
        "headline": text.reward_phrase(acc_held, cfg["noise"], len(held_pairs)),
    }


@TOPIC.experiment(
    "dpo",
    profiles={"quick": _DPO_QUICK, "full": _DPO_FULL},
    needs=[SFT, REWARD],
    title="DPO from the SFT model on the reward model's training pairs: the judge's score it reaches",
)
def dpo(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train DPO on the same (noisy) pairs the reward model saw; score it like the PPO policies."""
    rres = ctx.need(REWARD)
    policy, ref = load_sft(ctx.need(SFT)), load_sft(ctx.need(SFT))
    pairs = load_pairs(rres)
    losses = train_dpo(
        policy, ref, pairs, cfg["steps"], cfg["batch_size"], cfg["lr"], cfg["beta"], cfg["seed"]
    )
    score = true_score(policy, eval_prompts(rres["config"]), rres["config"])
    return {"config": cfg, "losses": losses, "score": score, "sft": rres["sft"],
            "headline": text.dpo_phrase(rres["sft"], score)}  # fmt: skip
