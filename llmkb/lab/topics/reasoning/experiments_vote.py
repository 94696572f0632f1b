"""Self-consistency: majority vote over sampled chains, accuracy against chains and tokens generated."""

from __future__ import annotations

from typing import Any

import torch

from llmkb.data.instruct import END_ID
from llmkb.data.reasoning_tasks import FORMATS, make_problems
from llmkb.infer.sampling import SamplingConfig
from llmkb.infer.self_consistency import self_consistency
from llmkb.lab import RunContext, kit
from llmkb.lab.topics.reasoning import text
from llmkb.lab.topics.reasoning.analysis import (
    greedy_eval,
    load_model,
    max_new,
    one_thread,
    parse_ids,
    prompts,
    vote_curve,
)
from llmkb.lab.topics.reasoning.names import DIRECT_VS_COT, FORMAT_NAMES, TASK, TOPIC

_FULL = {"sizes": [1, 2, 3], "n_questions": 60, "chains": 16, "ns": [1, 2, 4, 8, 16], "temperature": 0.6,
         "seed": 0, "check": True}  # fmt: skip
_QUICK = {**_FULL, "n_questions": 3, "chains": 4, "ns": [1, 2, 4], "check": False}


def _vote(
    cfg: dict[str, Any], ctx: RunContext, fmt: str, problems: list, g: torch.Generator
) -> tuple[list, float]:
    """One format's vote curve and greedy accuracy."""
    model = load_model(ctx.need(DIRECT_VS_COT), fmt)
    greedy = greedy_eval(model, problems, fmt)["mean"]
    votes = self_consistency(model, prompts(problems, fmt), cfg["chains"], parse_ids, max_new=max_new(cfg["sizes"]),
                             end_id=END_ID, sampling=SamplingConfig(temperature=cfg["temperature"]),
                             generator=g)  # fmt: skip
    return vote_curve(votes, [p.answer for p in problems], cfg["ns"]), greedy


@TOPIC.experiment(
    "self-consistency",
    profiles={"quick": _QUICK, "full": _FULL},
    needs=[DIRECT_VS_COT],
    title="Self-consistency: accuracy of the majority vote against the number of chains and tokens generated",
)
def self_consistency_curve(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Sample ``chains`` answers per question from each format's first-seed model; vote over n of them."""
    problems = make_problems(TASK, cfg["sizes"], cfg["n_questions"], seed=3)
    g = torch.Generator().manual_seed(cfg["seed"])
    curves, greedy = {}, {}
    for fmt in FORMATS:
        with one_thread():
            curves[fmt], greedy[fmt] = _vote(cfg, ctx, fmt, problems, g)
    sc = curves["scratchpad"]
    if cfg["check"] and not sc[-1]["accuracy"] > sc[0]["accuracy"]:
        raise RuntimeError(
            f"the page says voting helps the scratchpad model; measured {text.vote_verdict(curves, greedy)}"
        )
    rows = [{"format": FORMAT_NAMES[f], "chains n": r["n"], "majority-vote accuracy": text.pct(r["accuracy"]),
             "tokens per question": kit.fmt(r["tokens"], ".0f")} for f in FORMATS for r in curves[f]]  # fmt: skip
    return {
        "config": cfg,
        "curves": curves,
        "greedy": greedy,
        "table": kit.table(rows),
        "verdict": text.vote_verdict(curves, greedy),
        "cheaper": text.cheaper_phrase(curves),
        "sizes_text": text.sizes_phrase(cfg["sizes"]),
    }
