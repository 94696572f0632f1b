"""Generate and inspect (samples, statistics, cleaning per rule); deduplicate (S-curve, planted pairs, cost)."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import numpy as np
import torch

from llmkb.data.clean import RULES, CleanReport, check
from llmkb.data.dedup import (
    LSHIndex,
    MinHasher,
    candidate_pairs,
    candidate_probability,
    exact_duplicates,
    jaccard,
    near_duplicates,
    shingles,
    threshold_of,
)
from llmkb.data.generate import generate
from llmkb.data.generate.model import prompts_from, sample_records
from llmkb.infer.sampling import SamplingConfig
from llmkb.lab import RunContext, kit
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.lab.topics.synthetic_data import text
from llmkb.lab.topics.synthetic_data.analysis import (
    VOCAB_WORDS,
    pair_with_jaccard,
    plant_duplicates,
    real_documents,
    text_stats,
)
from llmkb.lab.topics.synthetic_data.names import TOPIC


def _model_docs(cfg: dict[str, Any], ctx: RunContext) -> dict[str, list[str]]:
    """Continuations of real prompts from the shared model, one list per sampling setting."""
    model, tok = load_shared_model(ctx.need(SHARED_MODEL))
    ids = torch.tensor(tok.encode("\n\n".join(real_documents())), dtype=torch.long)
    prompts = prompts_from(ids, cfg["model_prompts"], cfg["prompt_len"], seed=1)
    out: dict[str, list[str]] = {}
    for t, p in cfg["settings"]:
        name = text.setting_name(t, p)
        recs = sample_records(
            model, tok.decode, prompts, cfg["new_tokens"], [SamplingConfig(temperature=t, top_p=p)]
        )
        out[name] = [r["text"] for r in recs]
    return out


@TOPIC.experiment(
    "generate",
    profiles={
        "quick": {
            "real_docs": 20,
            "n_docs": 12,
            "model_prompts": 2,
            "prompt_len": 24,
            "new_tokens": 48,
            "settings": [[0.7, None], [1.0, 0.9], [1.3, None]],
        },
        "full": {
            "n_docs": 120,
            "model_prompts": 8,
            "prompt_len": 32,
            "new_tokens": 192,
            "settings": [[0.7, None], [1.0, 0.9], [1.0, None], [1.3, None]],
        },
    },  # fmt: skip
    needs=[SHARED_MODEL],
    title="Samples of every generator, their statistics beside the real corpus, and what each Gopher rule removes",
)
def generate_and_inspect(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Draw ``n_docs`` documents per template generator, sample the shared model, measure and clean them all."""
    sources: dict[str, list[str]] = {"real (pydoc)": real_documents()[: cfg.get("real_docs")]}
    for name in ("grammar", "textbook", "code"):
        sources[name] = [r["text"] for r in generate(name, cfg["n_docs"], seed=0)]
    by_setting = _model_docs(cfg, ctx)
    sources["model"] = [d for docs in by_setting.values() for d in docs]
    stats = {k: text_stats(v) for k, v in sources.items()}
    reports: dict[str, CleanReport] = {}
    for k, docs in sources.items():
        reports[k] = CleanReport(max_examples=1)
        for d in docs:
            reports[k].add(d, check(d))
    used = [r for r in RULES if any(rep.removed[r] for rep in reports.values())]
    examples = {
        r: next(f"[{k}] {rep.examples[r][0]}" for k, rep in reports.items() if r in rep.examples)
        for r in used
    }
    return {
        "config": cfg,
        "vocab_words": VOCAB_WORDS,
        "samples": {
            "real": sources["real (pydoc)"][0][:400],
            "grammar": sources["grammar"][0][:400],
            "textbook": sources["textbook"][0][:400],
            "code": sources["code"][0][:400],
            "model": next(iter(by_setting.values()))[0][:300],
        },
        "model_setting": next(iter(by_setting)),
        "stats": stats,
        "stats_table": kit.table([text.stats_row(k, s) for k, s in stats.items()]),
        "model_table": kit.table(
            [text.stats_row(k, text_stats(v), "sampling") for k, v in by_setting.items()]
        ),
        "clean_table": kit.table([text.clean_row(k, rep, used) for k, rep in reports.items()]),
        "kept": {k: rep.kept / rep.seen for k, rep in reports.items()},
        "removed_examples": examples,
        "examples_text": "\n\n".join(f"{r}: {e}" for r, e in examples.items()),
        "clean_text": text.clean_phrase({k: rep.kept / rep.seen for k, rep in reports.items()}),
        "n_docs": cfg["n_docs"],
        "n_real": len(sources["real (pydoc)"]),
    }


def _paragraphs(n: int) -> list[str]:
    paras = [p for d in real_documents() for p in d.split("\n\n") if len(p.split()) >= 30]
    return paras[:n]


def _s_curve(bands: int, rows: int, grid: list[float], pairs: int) -> list[float]:
    """Measured share of pairs of Jaccard similarity ``s`` (union of 100 hashes) that share a band, per ``s``;
    every pair gets its own draw of hash functions."""
    rng = np.random.default_rng(0)
    rates = []
    for s in grid:
        hits = 0
        for t in range(pairs):
            a, b, _ = pair_with_jaccard(s, 100, rng)
            h = MinHasher(bands * rows, seed=10_000 + t)
            index = LSHIndex(bands, rows)
            index.insert(0, h.signature_of_hashes(a))
            hits += bool(index.query(h.signature_of_hashes(b)))
        rates.append(hits / pairs)
    return rates


def _cost(docs: list[str], sizes: list[int], bands: int, rows: int) -> list[dict[str, float]]:
    """Seconds for signatures and for LSH, and the LSH index's peak Python memory, per corpus size."""
    out = []
    for n in sizes:
        part = [docs[i % len(docs)] + f" copy {i // len(docs)}" for i in range(n)]
        t0 = time.perf_counter()
        sig = MinHasher(bands * rows).signatures(part)
        t1 = time.perf_counter()
        candidate_pairs(sig, bands, rows)
        t2 = time.perf_counter()
        tracemalloc.start()
        candidate_pairs(sig, bands, rows)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out.append({"docs": n, "signature_s": t1 - t0, "lsh_s": t2 - t1, "index_bytes": peak,
                    "signature_bytes": sig.nbytes})  # fmt: skip
    return out


@TOPIC.experiment(
    "dedup",
    profiles={
        "quick": {
            "bands": 32,
            "rows": 4,
            "threshold": 0.5,
            "real": 60,
            "grammar": 20,
            "near": 16,
            "exact": 6,
            "edit": [0.01, 0.12],
            "grid": [0.2, 0.5, 0.8],
            "pairs": 20,
            "sizes": [50, 100],
        },
        "full": {
            "bands": 32,
            "rows": 4,
            "threshold": 0.5,
            "real": 800,
            "grammar": 400,
            "near": 150,
            "exact": 50,
            "edit": [0.01, 0.12],
            "grid": [round(0.05 * i, 2) for i in range(1, 20)],
            "pairs": 150,
            "sizes": [250, 500, 1000, 2000],
        },
    },  # fmt: skip
    title="MinHash LSH: the S-curve over measured candidate rates, planted duplicates found, time and memory",
)
def dedup(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Plant duplicates in real paragraphs + grammar prose, find them, score against the planted truth."""
    from datasketch import MinHash, MinHashLSH

    b, r, thr = cfg["bands"], cfg["rows"], cfg["threshold"]
    base = _paragraphs(cfg["real"]) + [d["text"] for d in generate("grammar", cfg["grammar"], seed=7)]
    corpus, planted = plant_duplicates(base, cfg["near"], cfg["exact"], tuple(cfg["edit"]), seed=3)
    sets = [shingles(d) for d in corpus]
    t0 = time.perf_counter()
    sig = MinHasher(b * r, seed=1).signatures(corpus)
    found = near_duplicates(sig, b, r, thr)
    seconds = time.perf_counter() - t0
    true_j = {(i, j): jaccard(sets[i], sets[j]) for i, j in found.pairs | {(i, j) for i, j, _, _ in planted}}
    truth = {(i, j) for i, j, _, _ in planted if true_j[(i, j)] >= thr}
    correct = {p for p in found.pairs if true_j[p] >= thr}
    lsh = MinHashLSH(num_perm=b * r, params=(b, r))
    theirs: set[tuple[int, int]] = set()
    for i, s in enumerate(sets):
        m = MinHash(num_perm=b * r, seed=7)
        m.update_batch([x.encode() for x in s])
        theirs.update((j, i) for j in lsh.query(m))
        lsh.insert(i, m)
    agree = len(found.candidates & theirs)
    exact_dups = set(exact_duplicates(corpus))
    grid = cfg["grid"]
    planted_rows = [{"kind": k, "edit": f, "jaccard": true_j[(i, j)], "found": (i, j) in found.pairs}
                    for i, j, k, f in planted]  # fmt: skip
    metrics = {
        "precision": len(correct) / len(found.pairs) if found.pairs else 1.0,
        "recall": len(truth & found.pairs) / len(truth) if truth else 1.0,
        "recall_all_planted": sum(r_["found"] for r_ in planted_rows) / len(planted),
        "found": len(found.pairs), "truth": len(truth), "candidates": len(found.candidates),
        "exact_found": len(exact_dups), "exact_planted": cfg["exact"],
        "exact_planted_found": sum(j in exact_dups for _, j, k, _ in planted if k == "exact"),
        "vs_datasketch_precision": agree / len(found.candidates) if found.candidates else 1.0,
        "vs_datasketch_recall": agree / len(theirs) if theirs else 1.0,
        "datasketch_candidates": len(theirs),
    }  # fmt: skip
    measured = _s_curve(b, r, grid, cfg["pairs"])
    predicted = [float(candidate_probability(s, b, r)) for s in grid]
    for s, m_, p_ in zip(grid, measured, predicted, strict=True):  # what the page's figure shows
        if abs(m_ - p_) > 4.5 * np.sqrt(p_ * (1 - p_) / cfg["pairs"]) + 0.02:
            raise AssertionError(f"LSH candidate rate {m_:.3f} at s = {s} is far from the S-curve's {p_:.3f}")
    cost = _cost(base, cfg["sizes"], b, r)
    return {
        "config": cfg,
        "docs": len(corpus),
        "seconds": seconds,
        "metrics": metrics,
        "metrics_table": kit.table(text.dedup_rows(metrics)),
        "planted": planted_rows,
        "grid": grid,
        "measured": measured,
        "predicted": predicted,
        "s_star": threshold_of(b, r),
        "cost": cost,
        "cost_table": kit.table(text.cost_rows(cost)),
        "text": text.dedup_phrase(metrics, thr),
    }
