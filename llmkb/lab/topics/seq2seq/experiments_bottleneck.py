"""The bottleneck: translation accuracy by source length for a fixed context vector, attention, a transformer."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from llmkb.data.seq2seq_tasks import Vocab, encode_pairs, translation
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import seed_stats
from llmkb.lab.topics.seq2seq import text
from llmkb.lab.topics.seq2seq.analysis import build_model, by_bucket, drop, n_params
from llmkb.lab.topics.seq2seq.experiments_tasks import decode_all
from llmkb.lab.topics.seq2seq.names import MODEL_NAMES, TOPIC
from llmkb.metrics.seq2seq import token_f1
from llmkb.train.seq2seq import Seq2SeqTrainConfig, train_seq2seq

FAMILIES = ("gru", "gru-att", "encdec")
_TRAIN = {"steps": 240, "batch_size": 32, "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 30}
_SIZE = {"d_model": 32, "layers": 1, "d_emb": 24, "d_hidden": 32}


def examples(n: int, max_clauses: int, seed: int) -> list:
    """``n`` translation pairs, the number of clauses uniform in ``1..max_clauses`` (one adjective at most)."""
    rng = random.Random(seed)
    return [translation(rng, rng.randint(1, max_clauses), max_adj=1) for _ in range(n)]


@torch.no_grad()
def alignment(model: torch.nn.Module, data: tuple, i: int) -> list[list[float]]:
    """Cross-attention weights ``(T, S)`` of test row ``i`` under teacher forcing: Bahdanau's ``a_tj``, or
    the transformer's last decoder layer averaged over heads."""
    S = int(data[1][i].sum())
    T = int((data[3][i] != -100).sum())
    _, maps = model.decode(model.encode(data[0][i : i + 1, :S], data[1][i : i + 1, :S]), data[2][i : i + 1, :T],
                           return_attn=True)  # fmt: skip
    m = maps if isinstance(maps, torch.Tensor) else maps[-1].mean(1)  # (1, T, S)
    return m[0].tolist()


@TOPIC.experiment(
    "bottleneck",
    profiles={
        "quick": {"n_train": 200, "n_test": 24, "max_clauses": 4, "seeds": [0],
                  "train": {**_TRAIN, "steps": 6, "warmup_steps": 2},
                  "size": {"d_model": 16, "layers": 1, "d_emb": 8, "d_hidden": 16}},
        "full": {"n_train": 3000, "n_test": 240, "max_clauses": 4, "seeds": [0, 1, 2], "train": _TRAIN,
                 "size": _SIZE},
    },
    title="Translation accuracy by source length: GRU with a fixed vector, GRU + attention, transformer",
)  # fmt: skip
def bottleneck(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train each family with each seed on the same pairs; exact match and token F1 by number of clauses."""
    train_ex = examples(cfg["n_train"], cfg["max_clauses"], seed=1)
    test_ex = examples(cfg["n_test"], cfg["max_clauses"], seed=2)
    vocab = Vocab.build(train_ex, test_ex)
    data, test = encode_pairs(train_ex, vocab), encode_pairs(test_ex, vocab)
    refs = [list(e.target) for e in test_ex]
    buckets = [e.source.count("and") + 1 for e in test_ex]
    lengths = by_bucket([len(e.source) for e in test_ex], buckets)
    show = next(i for i, b in enumerate(buckets) if b == 2)  # one two-clause sentence for the maps
    rows, maps, params = [], {}, {}
    for kind in FAMILIES:
        em_curves, f1_curves = [], []
        for seed in cfg["seeds"]:
            torch.manual_seed(seed)
            model = build_model(kind, len(vocab), cfg["size"])
            params[kind] = n_params(model)
            train_seq2seq(model, data, Seq2SeqTrainConfig(**cfg["train"], seed=seed))
            out = decode_all(model, test, vocab, max(map(len, refs)) + 2)
            em_curves.append(
                list(by_bucket([float(o == r) for o, r in zip(out, refs, strict=True)], buckets).values())
            )
            f1_curves.append(
                list(
                    by_bucket([token_f1([o], [r]) for o, r in zip(out, refs, strict=True)], buckets).values()
                )
            )
            if seed == cfg["seeds"][0] and kind != "gru":
                maps[kind] = alignment(model, test, show)
        em, f1 = np.asarray(em_curves), np.asarray(f1_curves)
        rows.append({
            "model": kind, "name": MODEL_NAMES[kind], "em": em.mean(0).tolist(), "em_sd": em.std(0, ddof=1).tolist()
            if len(cfg["seeds"]) > 1 else [0.0] * em.shape[1], "f1": f1.mean(0).tolist(), "em_curves": em_curves,
            "drop": drop(em_curves), "overall": seed_stats(em.mean(1).tolist()),
        })  # fmt: skip
    clauses = list(lengths)
    table = [
        {"model": r["name"], **{f"{kit.plural(c, 'clause')} ({kit.fmt(lengths[c], '.0f')} words)": text.mean_sd_pct(r["em"][j], r["em_sd"][j],
                                                                                              len(cfg["seeds"]))
                                for j, c in enumerate(clauses)}}
        for r in rows
    ]  # fmt: skip
    return {
        "config": cfg,
        "rows": rows,
        "clauses": clauses,
        "lengths": [lengths[c] for c in clauses],
        "table": kit.table(table),
        "params": params,
        "maps": maps,
        "map_source": list(test_ex[show].source),
        "map_target": [*test_ex[show].target, "<eos>"],
        "verdict": text.bottleneck_verdict(rows, len(cfg["seeds"])),
        "seeds": len(cfg["seeds"]),
        "seeds_text": kit.plural(len(cfg["seeds"]), "seed"),
        "steps": cfg["train"]["steps"],
    }
