"""The embedding experiment: one-hot vectors against the byte embeddings the shared model learned."""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch

from llmkb.data.corpus import load_corpus
from llmkb.lab import RunContext, kit
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.lab.topics.tokenization import analysis_embeddings as E
from llmkb.lab.topics.tokenization import text as T
from llmkb.lab.topics.tokenization.names import BYTE_GROUPS, HEATMAP_BYTES, TOPIC

__all__ = ["embeddings"]

STRUCTURE_MARGIN = 0.1
"""A group is called structured when its mean within-group cosine beats its between-group cosine by this."""


@TOPIC.experiment(
    "embeddings",
    profiles={"quick": {"min_count": 20, "k": 5, "seed": 0}, "full": {"min_count": 20, "k": 5, "seed": 0}},
    needs=[SHARED_MODEL],
    title="One-hot vs learned byte embeddings of the shared model: cosines, groups, neighbours, PCA",
)
def embeddings(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Compare one-hot vectors with the shared model's token embeddings on frequent bytes."""
    model, _ = load_shared_model(ctx.need(SHARED_MODEL))
    assert model.config.tie_embeddings, "the page says the output layer is the embedding matrix"
    weight = model.tok_emb.weight.detach().double()  # (256, d)
    counts = Counter(load_corpus("pydoc").encode("utf-8"))
    chosen = E.selected_bytes(counts, cfg["min_count"])
    groups = [g for g, _ in chosen]
    ids = [b for _, b in chosen]
    labels = kit.byte_labels(ids)

    one_hot = torch.eye(256, dtype=torch.float64)[ids]  # (N, 256)
    sim_one_hot = E.cosine_matrix(one_hot)  # (N, N)
    off_diag = sim_one_hot - torch.diag(torch.diagonal(sim_one_hot))
    assert float(off_diag.abs().max()) == 0.0, "one-hot vectors must be exactly orthogonal"
    assert torch.equal(torch.diagonal(sim_one_hot), torch.ones(len(ids), dtype=torch.float64))

    learned = weight[ids]  # (N, d)
    sim = E.cosine_matrix(learned)  # (N, N)
    gen = torch.Generator().manual_seed(cfg["seed"])
    random_emb = torch.randn(weight.shape, generator=gen, dtype=torch.float64)[ids]  # (N, d)
    sim_random = E.cosine_matrix(random_emb)

    learned_groups = E.group_cosines(sim, groups)
    random_groups = {r["group"]: r for r in E.group_cosines(sim_random, groups)}
    table = [
        {
            "group": r["group"],
            "bytes": r["n"],
            "learned within": r["within"],
            "learned between": r["between"],
            "random within": random_groups[r["group"]]["within"],
            "one-hot within": 0.0,
        }
        for r in learned_groups
    ]
    cases = E.case_pair_cosines(sim, ids)
    cases_random = E.case_pair_cosines(sim_random, ids)

    neighbours = []
    for c in (c for c in "aeA0.( s" if ord(c) in ids):
        near = E.nearest_neighbours(sim, ids.index(ord(c)), cfg["k"])
        neighbours.append(
            {"byte": kit.byte_label(ord(c))}
            | {f"#{n + 1}": f"{labels[i]}  {kit.fmt(v, '.2f')}" for n, (i, v) in enumerate(near)}
        )
    coords, explained = E.pca_2d(learned)
    structured = [r["group"] for r in learned_groups if r["within"] - r["between"] > STRUCTURE_MARGIN]
    return {
        "labels": labels,
        "groups": groups,
        "heatmap_index": [ids.index(ord(c)) for c in HEATMAP_BYTES if ord(c) in ids],
        "sim_learned": sim.float(),
        "sim_random": sim_random.float(),
        "one_hot_max_off_diagonal": float(off_diag.abs().max()),
        "table": kit.table(table),
        "case_pairs": {"learned": cases, "random": cases_random},
        "neighbours": kit.table(neighbours),
        "case_verdict": T.case_verdict(cases["same"] - cases["other"]),
        "pca": coords.float(),
        "pca_explained": explained.float(),
        "pca_explained_total": float(explained.sum()),
        "d_model": int(weight.shape[1]),
        "positional": model.config.positional,
        "min_count": cfg["min_count"],
        "structure_margin": STRUCTURE_MARGIN,
        "structured_groups": kit.join_names(structured, limit=len(BYTE_GROUPS)),
        "n_structured": len(structured),
    }
