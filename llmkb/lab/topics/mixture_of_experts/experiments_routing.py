"""Which experts each dataset and each kind of byte is routed to, with and without the balancing loss."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from llmkb.data import TokenDataset
from llmkb.data.corpus import load_corpus
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import eval_windows, seed_stats
from llmkb.lab.topics.mixture_of_experts import text
from llmkb.lab.topics.mixture_of_experts.analysis import (
    capacity_drops,
    effective_experts,
    expert_choices,
    load_entropy,
    share_matrix,
    synthetic_text,
    token_kinds,
)
from llmkb.lab.topics.mixture_of_experts.experiments_train import probe_dir
from llmkb.lab.topics.mixture_of_experts.names import (
    CAPACITY_FACTOR,
    DATASETS,
    PROBE_EXPERTS,
    TOKEN_KINDS,
    TOPIC,
    TRAIN,
)
from llmkb.nn import GPT
from llmkb.train.shared_model import SHARED_CORPUS


def _datasets(length: int, n_windows: int, stdlib_chars: int) -> list[torch.Tensor]:
    """Fixed windows ``(n, length)`` of held-out prose, of standard-library code and of synthetic tasks."""
    prose = TokenDataset.from_corpus(SHARED_CORPUS).val
    code = torch.tensor(list(load_corpus("stdlib", max_chars=stdlib_chars).encode()), dtype=torch.long)
    tasks = torch.tensor(
        list(synthetic_text(max(64, 4 * n_windows * length // 18)).encode()), dtype=torch.long
    )
    return [eval_windows(ids, length - 1, n_windows, seed=1) for ids in (prose, code, tasks)]


@TOPIC.experiment(
    "routing",
    profiles={
        "quick": {"n_windows": 8, "stdlib_chars": 200_000},
        "full": {"n_windows": 64, "stdlib_chars": 1_000_000},
    },
    needs=[TRAIN],
    title="Route prose, code and synthetic tasks through the trained 8-expert models: load per dataset and byte kind",
)
def routing(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Route every dataset through each seed's probe models (balanced and not); share and entropy of load."""
    trained = ctx.need(TRAIN)
    length = trained["config"]["train"]["seq_len"]
    sets = _datasets(length, cfg["n_windows"], cfg["stdlib_chars"])
    mix = torch.randperm(sum(len(s) for s in sets), generator=torch.Generator().manual_seed(0))
    windows = torch.cat(sets)[mix]  # (3 n, length), datasets mixed as in a training batch
    dataset_of = torch.arange(len(sets)).repeat_interleave(torch.tensor([len(s) for s in sets]))[mix]
    batch_tokens = trained["config"]["train"]["batch_size"] * length
    groups_ds = dataset_of[:, None].expand(windows.shape).reshape(-1)
    kinds = torch.cat([token_kinds(bytes(row.tolist())) for row in windows])
    E = PROBE_EXPERTS
    out: dict[str, Any] = {}
    for alpha, name in ((0.01, "balanced"), (0.0, "unbalanced")):
        entropies, drops, per_seed = [], [], []
        for seed in trained["config"]["seeds"]:
            model = GPT.load(probe_dir(trained.dir, alpha, seed))
            choices = expert_choices(model, windows)
            loads = [torch.bincount(c, minlength=E).float() for c in choices]
            entropies.append(float(np.mean([load_entropy(q) for q in loads])))
            drops.append(
                float(np.mean([capacity_drops(c, E, CAPACITY_FACTOR, batch_tokens) for c in choices]))
            )
            per_seed.append(choices)
        first = per_seed[0]  # the heatmaps show seed 0
        out[name] = {
            "by_dataset": [share_matrix(c, groups_ds, len(sets), E).tolist() for c in first],
            "by_kind": [share_matrix(c, kinds, len(TOKEN_KINDS), E).tolist() for c in first],
            "load": [(torch.bincount(c, minlength=E).float() / len(c)).tolist() for c in first],
            "entropies": entropies,
            "entropy": seed_stats(entropies),
            "drops": seed_stats(drops),
            "effective": effective_experts(torch.bincount(first[0], minlength=E)),
        }
    probe = next(r for r in trained["rows"] if r["experts"] == E and r["alpha"] == 0.01)
    bare = next(r for r in trained["rows"] if r["experts"] == E and r["alpha"] == 0.0)
    kind_counts = torch.bincount(kinds, minlength=len(TOKEN_KINDS)).tolist()
    return {
        "experts": E,
        "datasets": list(DATASETS),
        "kinds": list(TOKEN_KINDS),
        "kind_counts": kind_counts,
        "tokens_per_dataset": [int(s.numel()) for s in sets],
        "seeds": len(trained["config"]["seeds"]),
        "max_entropy": float(np.log(E)),
        **out,
        "log_steps": probe["log_steps"],
        "entropy_curves": {"balanced": probe["router_entropy"], "unbalanced": bare["router_entropy"]},
        "busiest_curves": {"balanced": probe["busiest"], "unbalanced": bare["busiest"]},
        "capacity_factor": CAPACITY_FACTOR,
        "batch_tokens": batch_tokens,
        "sample": synthetic_text(2),
        "verdict": text.entropy_phrase(out["balanced"]["entropy"], out["unbalanced"]["entropy"], E),
        "specialist": text.specialist_phrase(out["balanced"]["by_dataset"], list(DATASETS)),
        "kinds_vs_datasets": text.kind_vs_dataset_phrase(
            out["balanced"]["by_kind"][0], out["balanced"]["by_dataset"][0]
        ),
        "table": kit.table(
            [
                {
                    "model": f"{E} experts, {name}",
                    "load entropy (nats), mean ± sd": f"{out[name]['entropy']['mean']:.2f} ± {out[name]['entropy']['sd']:.2f}",
                    "of the maximum ln E": kit.fmt(out[name]["entropy"]["mean"] / np.log(E), ".0%"),
                    "effective experts (layer 1, seed 0)": round(out[name]["effective"], 2),
                    f"dropped at capacity factor {CAPACITY_FACTOR}": f"{out[name]['drops']['mean']:.1%} ± {out[name]['drops']['sd']:.1%}",
                }
                for name in ("balanced", "unbalanced")
            ]
        ),  # fmt: skip
    }
