"""Real vs synthetic: mixtures at equal tokens over seeds; recursive training on a model's own samples."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from llmkb.data import TokenDataset
from llmkb.data.generate import generate
from llmkb.data.generate.model import prompts_from
from llmkb.data.generate.textbook import TASKS
from llmkb.infer.sampling import SamplingConfig
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import eval_windows, per_position_loss, seed_stats
from llmkb.lab.topics.synthetic_data import text
from llmkb.lab.topics.synthetic_data.analysis import (
    answer_loss,
    mixture_ids,
    tail_share,
    tail_tokens,
    task_set,
)
from llmkb.lab.topics.synthetic_data.names import MODEL, SYNTHETIC_MIX, TOPIC
from llmkb.nn import GPT
from llmkb.train import train
from llmkb.train.shared_model import SHARED_CORPUS

_TRAIN = {"steps": 80, "batch_size": 16, "seq_len": 64, "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 10,
          "weight_decay": 0.1, "eval_every": 0, "eval_batches": 1}  # fmt: skip
_QUICK = {**_TRAIN, "steps": 6, "batch_size": 4, "warmup_steps": 2}


def synthetic_ids(n_tokens: int, seed: int) -> torch.Tensor:
    """At least ``n_tokens`` bytes of synthetic text: :data:`SYNTHETIC_MIX` documents in turn, blank-line separated."""
    parts, total, i = [], 0, 0
    streams = [generate(name, 10**9, seed=seed) for name in SYNTHETIC_MIX]
    while total < n_tokens:
        doc = next(streams[i % len(streams)])["text"].encode() + b"\n\n"
        parts.append(doc)
        total += len(doc)
        i += 1
    return torch.tensor(list(b"".join(parts)), dtype=torch.long)


def _loss(model: GPT, windows: torch.Tensor) -> float:
    return float(per_position_loss(model, windows).mean())


@TOPIC.experiment(
    "mixtures",
    profiles={
        "quick": {
            "model": MODEL,
            "train": _QUICK,
            "seeds": [0],
            "fractions": [0.0, 0.5, 1.0],
            "n_tokens": 20_000,
            "n_windows": 4,
            "n_tasks": 8,
        },
        "full": {
            "model": MODEL,
            "train": _TRAIN,
            "seeds": [0, 1, 2],
            "fractions": [0.0, 0.25, 0.5, 0.75, 1.0],
            "n_tokens": 120_000,
            "n_windows": 32,
            "n_tasks": 64,
        },
    },  # fmt: skip
    title="Real, synthetic and mixed training text at equal tokens: held-out real loss, synthetic loss, task loss",
)
def mixtures(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train one model per (fraction of synthetic text, seed) on ``n_tokens`` of mixed text; score each three ways."""
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    synth = synthetic_ids(cfg["n_tokens"], seed=0)
    T = cfg["train"]["seq_len"]
    real_w = eval_windows(data.val, T, cfg["n_windows"], seed=1)
    synth_w = eval_windows(synthetic_ids(20 * T + cfg["n_windows"] * 4, seed=99), T, cfg["n_windows"], seed=2)
    tasks = task_set(cfg["n_tasks"], seed=0, tasks=TASKS)
    rows = []
    for frac in cfg["fractions"]:
        ids = mixture_ids(data.train, synth, frac, cfg["n_tokens"])
        runs = []
        for seed in cfg["seeds"]:
            res = train(
                kit.model_config(cfg), kit.train_config(cfg, seed=seed), (ids, data.val), progress=False
            )
            m = res.model
            runs.append(
                {"real": _loss(m, real_w), "synthetic": _loss(m, synth_w), "task": answer_loss(m, tasks)}
            )
        rows.append({"fraction": frac, "real": seed_stats([r["real"] for r in runs]),
                     "synthetic": seed_stats([r["synthetic"] for r in runs]),
                     "task": seed_stats([r["task"]["all"] for r in runs]),
                     "per_task": {t: float(np.mean([r["task"][t] for r in runs])) for t in TASKS}})  # fmt: skip
    return {
        "config": cfg,
        "rows": rows,
        "table": kit.table([text.mixture_row(r) for r in rows]),
        **kit.training_facts(cfg),
        "n_tokens": cfg["n_tokens"],
        "text": text.mixture_phrase(rows),
    }


@torch.no_grad()
def _sample_corpus(
    model: GPT, prompts: torch.Tensor, new: int, sc: SamplingConfig, seed: int
) -> torch.Tensor:
    """The sampled continuations (prompts dropped), flattened into one id stream."""
    out = model.generate(prompts, new, sc, generator=torch.Generator().manual_seed(seed))  # (n, P + new)
    return out[:, prompts.shape[1] :].reshape(-1)


@TOPIC.experiment(
    "collapse",
    profiles={
        "quick": {
            "model": MODEL,
            "train": _QUICK,
            "seeds": [0],
            "generations": 2,
            "samples": 4,
            "prompt_len": 8,
            "new_tokens": 32,
            "temperature": 1.0,
            "top_p": 0.9,
            "n_windows": 4,
            "tail_mass": 0.05,
        },
        "full": {
            "model": MODEL,
            "train": _TRAIN,
            "seeds": [0, 1, 2],
            "generations": 3,
            "samples": 32,
            "prompt_len": 16,
            "new_tokens": 192,
            "temperature": 1.0,
            "top_p": 0.9,
            "n_windows": 32,
            "tail_mass": 0.05,
        },
    },  # fmt: skip
    title="Model collapse: each generation trained on the previous one's samples; real loss and tail share",
)
def collapse(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Generation 0 trains on real text; generation g on text sampled from g - 1, always as much as g - 1 had."""
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    n = cfg["samples"] * cfg["new_tokens"]
    tail = tail_tokens(data.train, cfg["tail_mass"])
    real_w = eval_windows(data.val, cfg["train"]["seq_len"], cfg["n_windows"], seed=1)
    sc = SamplingConfig(temperature=cfg["temperature"], top_p=cfg["top_p"])
    per_seed = []
    for seed in cfg["seeds"]:
        ids = data.train[seed * n : (seed + 1) * n]  # generation 0: a real slice of the same size
        gens = []
        for g in range(cfg["generations"] + 1):
            res = train(
                kit.model_config(cfg), kit.train_config(cfg, seed=seed), (ids, data.val), progress=False
            )
            gens.append({"real": _loss(res.model, real_w), "tail": tail_share(ids, tail),
                         "distinct": int(torch.unique(ids).numel())})  # fmt: skip
            prompts = prompts_from(data.val, cfg["samples"], cfg["prompt_len"], seed=100 * seed + g)
            ids = _sample_corpus(res.model, prompts, cfg["new_tokens"], sc, seed=100 * seed + g)
        per_seed.append(gens)
    rows = [{"generation": g, **{k: seed_stats([s[g][k] for s in per_seed]) for k in ("real", "tail", "distinct")}}
            for g in range(cfg["generations"] + 1)]  # fmt: skip
    return {
        "config": cfg,
        "rows": rows,
        "table": kit.table([text.collapse_row(r) for r in rows]),
        "real_tail": tail_share(data.train, tail),
        "tail_size": len(tail),
        "tokens_per_generation": n,
        **kit.training_facts(cfg),
        "text": text.collapse_phrase(rows),
    }
