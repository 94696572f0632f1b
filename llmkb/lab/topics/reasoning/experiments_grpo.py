"""GRPO from the scratchpad model, rewarded by the verifier: reward, held-out accuracy and length by step."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from llmkb.data.instruct import END_ID, decode_response
from llmkb.data.reasoning_tasks import make_problems, verify
from llmkb.lab import RunContext, kit
from llmkb.lab.topics.reasoning import text
from llmkb.lab.topics.reasoning.analysis import greedy_eval, load_model, max_new, one_thread, prompts
from llmkb.lab.topics.reasoning.names import DIRECT_VS_COT, TASK, TOPIC
from llmkb.train.grpo import GRPOConfig, grpo_rollout, grpo_step
from llmkb.train.optim import AdamW

_FULL = {"steps": 30, "questions": 8, "group_size": 8, "lr": 3e-4, "beta": 0.04, "clip": 0.2, "temperature": 1.0,
         "eval_every": 10, "n_eval": 40, "n_pool": 2000, "seed": 0, "smooth": 5}  # fmt: skip
_QUICK = {**_FULL, "steps": 2, "questions": 2, "group_size": 2, "eval_every": 1, "n_eval": 2, "n_pool": 20,
          "smooth": 1}  # fmt: skip


@TOPIC.experiment(
    "grpo",
    profiles={"quick": _QUICK, "full": _FULL},
    needs=[DIRECT_VS_COT],
    title="GRPO from the scratchpad model with the verifier as reward: reward, held-out accuracy, length by step",
)
def grpo(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Groups of sampled chains per question, rewarded 1 for a right answer, updated with GRPO; no value head."""
    with one_thread():
        return _grpo(cfg, ctx)


def _grpo(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    dvc = ctx.need(DIRECT_VS_COT)
    sizes = dvc["config"]["train_sizes"]
    policy, ref = load_model(dvc, "scratchpad"), load_model(dvc, "scratchpad")
    for p in ref.parameters():
        p.requires_grad_(False)
    pool = make_problems(TASK, sizes, cfg["n_pool"], seed=4)
    held_out = make_problems(TASK, sizes, cfg["n_eval"] * len(sizes), seed=5)
    gcfg = GRPOConfig(group_size=cfg["group_size"], clip=cfg["clip"], beta=cfg["beta"], max_new=max_new(sizes),
                      temperature=cfg["temperature"])  # fmt: skip
    opt = AdamW(policy.parameters(), lr=cfg["lr"], weight_decay=0.0, max_grad_norm=1.0)
    g = torch.Generator().manual_seed(cfg["seed"])
    rng = random.Random(cfg["seed"])
    hist: dict[str, list[float]] = {"reward": [], "length": [], "kl": [], "flat": []}
    before = greedy_eval(policy, held_out, "scratchpad")
    evals = {"step": [0], "accuracy": [before["mean"]]}
    for step in range(1, cfg["steps"] + 1):
        batch = rng.sample(pool, cfg["questions"])
        ro = grpo_rollout(policy, ref, prompts(batch, "scratchpad"),
                          lambda q, r, b=batch: float(verify(b[q], decode_response(r)[0])), gcfg, END_ID, g)  # fmt: skip
        stats = grpo_step(policy, opt, ro, gcfg)
        hist["reward"].append(float(ro.rewards.mean()))
        hist["length"].append(float(np.mean([len(r) for r in ro.responses])))
        hist["kl"].append(stats["kl"])
        hist["flat"].append(float((ro.rewards.std(1) == 0).float().mean()))  # groups that teach nothing
        if step % cfg["eval_every"] == 0 or step == cfg["steps"]:
            after = greedy_eval(policy, held_out, "scratchpad")  # the last one is the final model's
            evals["step"].append(step)
            evals["accuracy"].append(after["mean"])
    rows = [{"model": name, **{kit.plural(s, "digit"): text.pct(ev["accuracy"][s]) for s in sizes},
             "all": text.pct(ev["mean"]), "mean response tokens": kit.fmt(float(np.mean(list(ev["tokens"].values()))), ".1f")}
            for name, ev in (("scratchpad SFT (start)", before), (f"after {cfg['steps']} GRPO steps", after))]  # fmt: skip
    return {
        "config": cfg,
        "history": hist,
        "evals": evals,
        "before": {"mean": before["mean"], "accuracy": before["accuracy"]},
        "after": {"mean": after["mean"], "accuracy": after["accuracy"]},
        "table": kit.table(rows),
        "verdict": text.grpo_verdict(before, after, hist, evals, cfg["smooth"]),
        "flat_share": float(np.mean(hist["flat"])),
        "samples": cfg["questions"] * cfg["group_size"],
    }
