"""Direct answers against a scratchpad: the same GPT, the same steps, accuracy by number of digits, over seeds."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmkb.data.reasoning_tasks import FORMATS, make_problems
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import seed_stats
from llmkb.lab.topics.reasoning import text
from llmkb.lab.topics.reasoning.analysis import model_dir, new_model, run_jobs, train_and_eval
from llmkb.lab.topics.reasoning.names import FORMAT_NAMES, TASK, TOPIC

_FULL = {"train_sizes": [1, 2, 3], "test_sizes": [1, 2, 3, 4], "n_train": 6000, "n_test": 50,
         "train": {"steps": 450, "batch_size": 32, "lr": 5e-3}, "seeds": [0, 1, 2], "workers": 2, "check": True}  # fmt: skip
_QUICK = {**_FULL, "train_sizes": [1], "test_sizes": [1, 2], "n_train": 200, "n_test": 4, "seeds": [0],
          "train": {"steps": 4, "batch_size": 8, "lr": 5e-3}, "workers": 1, "check": False}  # fmt: skip


def test_problems(cfg: dict[str, Any]) -> list:
    """The held-out problems: ``n_test`` of each test size, fresh draws (seed 2; training uses seed 1)."""
    return make_problems(TASK, cfg["test_sizes"], cfg["n_test"] * len(cfg["test_sizes"]), seed=2)


@TOPIC.experiment(
    "direct-vs-cot",
    profiles={"quick": _QUICK, "full": _FULL},
    title="Direct answer vs scratchpad: the same GPT and steps, addition accuracy by digits, over seeds",
)
def direct_vs_cot(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train one model per format and seed on sums of ``train_sizes`` digits; greedy accuracy per size."""
    train = make_problems(TASK, cfg["train_sizes"], cfg["n_train"], seed=1)
    test = test_problems(cfg)
    sizes = cfg["test_sizes"]
    first = {s: next(i for i, p in enumerate(test) if p.size == s) for s in sizes}  # one example per size
    curves: dict[str, list[list[float]]] = {f: [] for f in FORMATS}
    tokens: dict[str, list[list[float]]] = {f: [] for f in FORMATS}
    losses: dict[str, list[float]] = {}
    samples: dict[str, list[str]] = {}
    jobs = [
        (fmt, train, cfg["train"], seed, test) for fmt in ("scratchpad", "direct") for seed in cfg["seeds"]
    ]
    done = run_jobs(train_and_eval, jobs, cfg["workers"])
    for (fmt, _, _, seed, _), (weights, loss, ev) in zip(jobs, done, strict=True):
        curves[fmt].append([ev["accuracy"][s] for s in sizes])
        tokens[fmt].append([ev["tokens"][s] for s in sizes])
        if seed == cfg["seeds"][0]:
            model = new_model()
            model.load_state_dict(weights)
            model.save(model_dir(ctx.out_dir, fmt))
            n_params = sum(p.numel() for p in model.parameters())
            losses[fmt] = loss
            samples[fmt] = [ev["texts"][first[s]] for s in sizes]
    stats = {f: [seed_stats([c[j] for c in curves[f]]) for j in range(len(sizes))] for f in FORMATS}
    n = len(cfg["seeds"])
    rows = [
        {"digits": s, "in training": "yes" if s in cfg["train_sizes"] else "no",
         **{FORMAT_NAMES[f]: text.mean_sd_pct(stats[f][j]["mean"], stats[f][j]["sd"], n) for f in FORMATS},
         "scratchpad tokens": kit.fmt(float(np.mean([t[j] for t in tokens["scratchpad"]])), ".0f")}
        for j, s in enumerate(sizes)
    ]  # fmt: skip
    verdict = text.format_verdict(stats, sizes, cfg["train_sizes"])
    largest = sizes.index(max(cfg["train_sizes"]))
    if cfg["check"] and text.ahead(stats["scratchpad"][largest], stats["direct"][largest]) != 1:
        raise RuntimeError(
            f"the page says the scratchpad wins at the largest trained size; measured: {verdict}"
        )
    unseen = [
        stats[f][j]["mean"] for f in FORMATS for j, s in enumerate(sizes) if s not in cfg["train_sizes"]
    ]
    if cfg["check"] and unseen and max(unseen) >= 0.1:
        raise RuntimeError(f"the page says neither format extrapolates to longer sums; measured: {verdict}")
    examples = [{"digits": s, "problem": test[first[s]].prompt,
                 **{FORMAT_NAMES[f]: samples[f][j] for f in FORMATS}} for j, s in enumerate(sizes)]  # fmt: skip
    return {
        "config": cfg,
        "sizes": sizes,
        "stats": stats,
        "curves": curves,
        "tokens": tokens,
        "losses": losses,
        "table": kit.table(rows),
        "examples": kit.table(examples),
        "verdict": verdict,
        "seeds_text": kit.plural(n, "seed"),
        "train_sizes_text": text.sizes_phrase(cfg["train_sizes"]),
        "unseen": text.unseen_phrase(stats, sizes, cfg["train_sizes"]),
        "params": n_params,
        "steps": cfg["train"]["steps"],
        "n_test": cfg["n_test"],
    }
