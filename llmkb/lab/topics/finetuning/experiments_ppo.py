"""PPO against the learned reward model for a sweep of KL coefficients: the InstructGPT loop, measured."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from llmkb.data.instruct import Example, make_examples, prompt_ids
from llmkb.lab import RunContext, kit
from llmkb.lab.topics.finetuning import text
from llmkb.lab.topics.finetuning.analysis import divergence, smooth_last
from llmkb.lab.topics.finetuning.experiments_reward import eval_prompts, load_reward_model, true_score
from llmkb.lab.topics.finetuning.experiments_sft import load_sft
from llmkb.lab.topics.finetuning.names import REWARD, SFT, SINGLE_TASKS, TOPIC
from llmkb.train.optim import AdamW
from llmkb.train.ppo import PPOConfig, ppo_step, rollout
from llmkb.train.reward import judge, score_responses
from llmkb.train.sequences import ScalarHead

_FULL = {"betas": [1.0, 0.2, 0.0], "steps": 24, "batch_size": 32, "lr": 2e-4, "epochs": 2, "minibatches": 2,
         "max_new": 6, "temperature": 1.0, "n_prompts": 2000, "seed": 0}  # fmt: skip
_QUICK = {**_FULL, "betas": [0.1, 0.0], "steps": 2, "batch_size": 4, "n_prompts": 20}


def _run(cfg: dict[str, Any], beta: float, ctx: RunContext, pool: list[Example]) -> dict[str, Any]:
    """One PPO run from the SFT model; per step the reward model's and the judge's mean, KL and length."""
    sft, rres = ctx.need(SFT), ctx.need(REWARD)
    policy, ref, rm = ScalarHead(load_sft(sft)), load_sft(sft), load_reward_model(rres)
    for p in rm.parameters():
        p.requires_grad_(False)
    pcfg = PPOConfig(beta=beta, lr=cfg["lr"], epochs=cfg["epochs"], minibatches=cfg["minibatches"],
                     max_new=cfg["max_new"], temperature=cfg["temperature"])  # fmt: skip
    opt = AdamW(policy.parameters(), lr=cfg["lr"], weight_decay=0.0, max_grad_norm=1.0)
    g = torch.Generator().manual_seed(cfg["seed"])
    rng = random.Random(cfg["seed"])
    by_prompt: dict[tuple[int, ...], Example] = {}
    hist: dict[str, list[float]] = {"reward": [], "true": [], "kl": [], "length": []}
    for _ in range(cfg["steps"]):
        batch = rng.sample(pool, cfg["batch_size"])
        prompts = [prompt_ids(e) for e in batch]
        by_prompt.update({tuple(p): e for p, e in zip(prompts, batch, strict=True)})
        ro = rollout(policy, ref, prompts, lambda p, r: score_responses(rm, p, r), pcfg, g)
        hist["reward"].append(float(ro.score.mean()))
        hist["true"].append(float(np.mean([judge(e, r) for e, r in zip(batch, ro.responses, strict=True)])))
        hist["kl"].append(float(ro.kl.mean()))
        hist["length"].append(float(np.mean([len(r) for r in ro.responses])))
        ppo_step(policy, opt, ro, pcfg, g)
    final = true_score(policy.backbone, eval_prompts(ctx.need(REWARD)["config"]), ctx.need(REWARD)["config"])
    return {"beta": beta, "history": hist, "final": final, **divergence(hist["reward"], hist["true"])}


@TOPIC.experiment(
    "ppo",
    profiles={"quick": _QUICK, "full": _FULL},
    needs=[SFT, REWARD],
    title="PPO against the reward model for several KL coefficients: reward, true score, KL and length by step",
)
def ppo(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """One PPO run per KL coefficient, on the same prompts, from the same SFT model and reward model."""
    pool = make_examples(SINGLE_TASKS, cfg["n_prompts"], seed=cfg["seed"] + 11, digits=2, add_digits=1)
    runs = [_run(cfg, beta, ctx, pool) for beta in cfg["betas"]]
    sft = ctx.need(REWARD)["sft"]
    rows = [{"policy": "SFT (start)", "KL coefficient β": "–", "reward-model score (last steps)": "–",
             "KL to SFT (nats)": "0", "true score, sampled": kit.fmt(sft["sampled"], ".3f"),
             "exact match, greedy": kit.fmt(sft["exact"], ".0%")}]  # fmt: skip
    for r in runs:
        h = r["history"]
        rows.append({
            "policy": "PPO", "KL coefficient β": kit.fmt(r["beta"], "g"),
            "reward-model score (last steps)": kit.fmt(smooth_last(h["reward"]), ".3f"),
            "KL to SFT (nats)": kit.fmt(smooth_last(h["kl"]), ".3f"),
            "true score, sampled": kit.fmt(r["final"]["sampled"], ".3f"),
            "exact match, greedy": kit.fmt(r["final"]["exact"], ".0%"),
        })  # fmt: skip
    return {
        "config": cfg,
        "runs": runs,
        "table": kit.table(rows),
        "headline": text.hacking_phrase(runs),
        "last": {
            "reward": smooth_last(runs[-1]["history"]["reward"]),
            "kl": smooth_last(runs[-1]["history"]["kl"]),
        },
    }
