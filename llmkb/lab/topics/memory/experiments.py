"""Memory policies at a ladder of context budgets, and BM25 retrieval of the latest statement."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from llmkb.data.conversations import ATTRIBUTES, CORRECTION_SHARE, MAX_CHANGES, generate, sentences
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import seed_stats
from llmkb.lab.topics.memory import text
from llmkb.lab.topics.memory.analysis import (
    bpe_counter,
    by_changes,
    conversation_tokens,
    minilm,
    score_policy,
    summarise,
)
from llmkb.lab.topics.memory.names import CHANGE_GROUPS, POLICY_NAMES, STORE_NAMES, TOPIC
from llmkb.memory import BM25, POLICIES, ArchivalStore, FactStore, RecallStore, answer, extract, terms
from llmkb.memory.embed import dense_top

_TOKENIZER = {"vocab_size": 512, "conversations": 2, "n_turns": 300}


def conversations(seed: int, cfg: dict[str, Any]) -> list:
    """The conversations of one benchmark seed (seeds ``100 * seed + i``)."""
    return [generate(100 * seed + i, n_turns=cfg["n_turns"]) for i in range(cfg["conversations"])]


@TOPIC.experiment(
    "budget",
    profiles={
        "quick": {"seeds": [0, 1, 2], "conversations": 1, "n_turns": 120, "budgets": [64, 256, 1024], "small": 64, "focus": 256, "wide": 1024,
                  "share": 0.5, "dense": False, "tokenizer": {**_TOKENIZER, "vocab_size": 320, "conversations": 1, "n_turns": 100}},
        "full": {"seeds": [0, 1, 2, 3, 4], "conversations": 6, "n_turns": 400,
                 "budgets": [32, 64, 128, 256, 512, 1024, 2048, 4096], "small": 64, "focus": 256, "wide": 1024,
                 "share": 0.5,
                 "dense": True, "tokenizer": _TOKENIZER},
    },
    title="Accuracy and tokens per answer of the memory policies by context budget, over conversation seeds",
)  # fmt: skip
def budget(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Every policy at every budget on every seed's conversations; the whole history as the reference."""
    count, vocab = bpe_counter(cfg["tokenizer"]["vocab_size"], cfg["tokenizer"]["conversations"],
                               cfg["tokenizer"]["n_turns"])  # fmt: skip
    budgets, seeds = cfg["budgets"], cfg["seeds"]
    policies = list(POLICIES) + (["archival-minilm"] if cfg["dense"] else [])
    embed = minilm().encode if cfg["dense"] else None
    recs: dict[str, dict[int, list[list[dict]]]] = {p: {b: [] for b in budgets} for p in policies}
    whole, ops, conv_tokens = [], Counter(), []
    for seed in seeds:
        convs = conversations(seed, cfg)
        for p in policies:
            policy, enc = ("archival", embed) if p == "archival-minilm" else (p, None)
            per_conv = [score_policy(c, policy, budgets, count, cfg["share"], enc) for c in convs]
            for b in budgets:
                recs[p][b].append([r for pc in per_conv for r in pc[b]])
        seed_whole = []
        for c in convs:
            n = conversation_tokens(c, count)
            conv_tokens.append(n)
            seed_whole += score_policy(c, "truncation", [n + 64], count, cfg["share"])[n + 64]
            store = FactStore()
            for m in c.messages:
                if m.role == "user":
                    store.observe(m.text, m.turn)
            ops.update(op.value for op, _, _ in store.log)
        whole.append(seed_whole)
    rows = []
    for p in policies:
        s = [summarise(recs[p][b]) for b in budgets]
        rows.append(
            {
                "policy": p,
                "budgets": budgets,
                **{k: [x[k] for x in s] for k in ("acc", "acc_sd", "stale", "tokens")},
            }
        )
    whole_s = summarise(whole)
    if whole_s["acc"] != 1.0:
        raise AssertionError(f"the reader misses facts with the whole history in context: {whole_s['acc']}")
    if any(a > 0 for a in rows[0]["acc"]):
        raise AssertionError("no memory answered a question: the questions leak their answers")
    by_policy = {r["policy"]: r for r in rows}
    if any(x > 0 for x in by_policy["truncation"]["stale"]):
        raise AssertionError("truncation gave a stale answer: its window is not the newest messages")
    fi = budgets.index(cfg["focus"])
    if not all(
        by_policy[p]["stale"][fi] > 0 for p in ("recall", "archival", "archival-minilm") if p in by_policy
    ):
        raise AssertionError("retrieval gave no stale answer: the page says it does")
    if by_policy["facts"]["tokens"][-1] >= by_policy["truncation"]["tokens"][-1]:
        raise AssertionError("fact memory read as many tokens as truncation at the largest budget")
    n = len(seeds)
    table = [{"policy": POLICY_NAMES[r["policy"]],
              **{kit.fmt(b, ","): text.acc_cell(a, sd, n) for b, a, sd in zip(budgets, r["acc"], r["acc_sd"], strict=True)}}
             for r in rows]  # fmt: skip
    cost = [{"policy": POLICY_NAMES[r["policy"]], **{kit.fmt(b, ","): kit.fmt(t, ",.0f") for b, t in zip(budgets, r["tokens"], strict=True)}}
            for r in rows]  # fmt: skip
    changes = [{"policy": POLICY_NAMES[p], **{g: text.pct(v) for g, v in by_changes(
        [r for rs in recs[p][cfg["focus"]] for r in rs], CHANGE_GROUPS).items()},
        "stale answers": text.pct(rows[i]["stale"][fi])} for i, p in enumerate(policies)]  # fmt: skip
    all_q = [r for rs in recs["none"][budgets[0]] for r in rs]
    return {
        "config": cfg,
        "rows": rows,
        "table": kit.table(table),
        "cost": kit.table(cost),
        "changes": kit.table(changes),
        "whole": {"acc": whole_s["acc"], "tokens": whole_s["tokens"]},
        "ops": {op: ops.get(op, 0) for op in ("ADD", "UPDATE", "NOOP", "DELETE")},
        "vocab": vocab,
        "questions": len(all_q),
        "questions_per_seed": len(all_q) // n,
        "conversation_tokens": float(np.mean(conv_tokens)),
        "group_sizes": {g: sum(r["changes"] in c for r in all_q) for g, c in CHANGE_GROUPS.items()},
        "reach": text.reach_phrase(rows, 1.0),
        "lead_small": text.lead_phrase(rows, budgets.index(cfg["small"]), n),
        "lead_focus": text.lead_phrase(rows, fi, n),
        "stale_focus": text.stale_phrase(rows, fi),
        "dense_budget": "; ".join(
            dict.fromkeys(  # one sentence, not two, when the profile has no MiniLM
                text.pair_phrase(rows, "archival-minilm", "archival", budgets.index(cfg[b]), n)
                for b in ("focus", "wide")
            )
        ),
        "seeds": n,
        "facts_text": f"{kit.plural(len(ATTRIBUTES), 'fact')} ({kit.join_names(list(ATTRIBUTES), limit=len(ATTRIBUTES))})",
        "max_changes": MAX_CHANGES,
        "correction_share": CORRECTION_SHARE,
        "sample_text": f"{kit.plural(cfg['conversations'], 'conversation')} of {cfg['n_turns']} turns for each of "
        f"{kit.plural(n, 'seed')}",
    }


def _latest(conv, attr: str) -> int:
    """Index of the user message that last stated ``attr``."""
    turn = conv.events[attr][-1][0]
    return next(i for i, m in enumerate(conv.messages) if m.turn == turn and m.role == "user")


@TOPIC.experiment(
    "retrieval",
    profiles={
        "quick": {"seeds": [0, 1, 2], "conversations": 1, "n_turns": 120, "ks": [1, 3, 5], "dense": False},
        "full": {"seeds": [0, 1, 2, 3, 4], "conversations": 6, "n_turns": 400, "ks": [1, 2, 3, 5, 10, 20],
                 "dense": True},
    },
    title="BM25 over messages and sentences, MiniLM over sentences: the latest statement in the top k, stale answers",
)  # fmt: skip
def retrieval(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Rank the whole history for each closing question; where is the statement of the latest value?"""
    from rank_bm25 import BM25Okapi

    ks, names = cfg["ks"], [n for n in STORE_NAMES if cfg["dense"] or n != "dense"]
    encoder = minilm() if cfg["dense"] else None
    per_seed: dict[str, list[dict[str, list[float]]]] = {n: [] for n in names}
    max_diff = 0.0
    for seed in cfg["seeds"]:
        hits = {n: {"latest": [[] for _ in ks], "stale": [[] for _ in ks]} for n in names}
        for conv in conversations(seed, cfg):
            recall, archive = RecallStore(), ArchivalStore()
            for i, m in enumerate(conv.messages):
                recall.add(m.role, m.text)
                if m.role == "user":
                    archive.insert(i, m.text)
            docs = [terms(it.text) for it in archive.items]
            ours, ref = BM25(docs), BM25Okapi(docs)
            vecs = encoder.encode([it.text for it in archive.items]) if encoder else None
            for q in conv.questions:
                diff = np.abs(ours.scores(terms(q.text)) - ref.get_scores(terms(q.text))).max()
                max_diff = max(max_diff, float(diff))
                ranked = {"recall": (recall.items, recall.search(q.text, len(conv.messages))),
                          "archival": (archive.items, archive.search(q.text, len(conv.messages)))}  # fmt: skip
                if encoder is not None:
                    ranked["dense"] = (archive.items, dense_top(encoder.encode([q.text])[0], vecs, len(vecs)))
                target = _latest(conv, q.attribute)
                for name, (items, order) in ranked.items():
                    for j, k in enumerate(ks):
                        top = order[:k]
                        hits[name]["latest"][j].append(any(
                            items[t].message == target and (q.attribute, q.answer) in
                            [extract(s.removeprefix("user: ")) for s in sentences(items[t].text)] for t in top))  # fmt: skip
                        read = answer("\n".join(items[t].text for t in sorted(top)), q.attribute)
                        hits[name]["stale"][j].append(read in q.old_values)
        for name in names:
            per_seed[name].append(
                {m: [float(np.mean(v)) for v in hits[name][m]] for m in ("latest", "stale")}
            )
    if max_diff > 1e-9:
        raise AssertionError(f"BM25 differs from rank_bm25 by {max_diff}")
    n = len(cfg["seeds"])
    rows = []
    for name in names:
        stats = {
            m: [seed_stats([s[m][j] for s in per_seed[name]]) for j in range(len(ks))]
            for m in ("latest", "stale")
        }
        rows.append({"store": name, "ks": ks, **{m: [x["mean"] for x in stats[m]] for m in stats},
                     **{f"{m}_sd": [x["sd"] for x in stats[m]] for m in stats}})  # fmt: skip
    tables = {m: kit.table([{"k": k, **{STORE_NAMES[r["store"]]: text.acc_cell(r[m][j], r[f"{m}_sd"][j], n)
                                       for r in rows}} for j, k in enumerate(ks)]) for m in ("latest", "stale")}  # fmt: skip
    return {"config": cfg, "rows": rows, "latest": tables["latest"], "stale": tables["stale"], "max_diff": max_diff,
            "seeds": n, "dense_phrase": text.dense_phrase(rows, n)}  # fmt: skip
