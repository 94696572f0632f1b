"""The sampling lab's experiments: the settings grid (entropy, diversity, quality, dashboard) and greedy loops."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from llmkb.data import load_corpus
from llmkb.infer.sampling import SamplingConfig
from llmkb.lab import RunContext, kit
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.lab.topics.sampling import text
from llmkb.lab.topics.sampling.analysis import (
    Grid,
    correlation,
    diversity,
    loop_stats,
    nearest_index,
    prompt_seed,
    seen_before,
    valid_word_rate,
    vocabulary,
)
from llmkb.lab.topics.sampling.analysis_decode import decode_settings, next_logits
from llmkb.lab.topics.sampling.names import PROMPTS, TOPIC
from llmkb.metrics.text import repeated_ngram_rate
from llmkb.train.shared_model import SHARED_CORPUS

_GRID_FULL = {
    "temperatures": [0.0, 0.5, 0.8, 1.0, 1.3, 2.0],
    "top_ks": [None, 5, 20, 50],
    "top_ps": [0.5, 0.8, 0.9, 0.95, 1.0],
}
_GRID_QUICK = {"temperatures": [0.0, 0.8, 1.3], "top_ks": [None, 20], "top_ps": [0.9, 1.0]}
_METRICS = {
    "entropy": "entropy (nats)",
    "distinct_1": "distinct-1",
    "distinct_2": "distinct-2",
    "self_similarity": "self-similarity",
    "rep_3": "repeated 3-grams",
    "valid_words": "real words",
}


def _model_info(model: Any) -> dict[str, int]:
    c = model.config
    return {
        "n_layers": c.n_layers,
        "n_heads": c.n_heads,
        "d_model": c.d_model,
        "n_params": model.num_parameters(),
    }


@TOPIC.experiment(
    "grid",
    profiles={
        "quick": {"prompts": 2, **_GRID_QUICK, "samples": 2, "new_tokens": 24, "seed": 0},
        "full": {"prompts": 5, **_GRID_FULL, "samples": 2, "new_tokens": 64, "seed": 0},
    },
    needs=[SHARED_MODEL],
    title="Sample the shared model over a temperature x top-k x top-p grid; entropy, diversity and quality",
)
def grid(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Decode every prompt under every grid setting; export the dashboard data, diversity and quality."""
    torch.manual_seed(cfg["seed"])
    model, tok = load_shared_model(ctx.need(SHARED_MODEL))
    g = Grid(tuple(cfg["temperatures"]), tuple(cfg["top_ks"]), tuple(cfg["top_ps"]), tok.vocab_size)
    if g.temperatures[0] != 0.0:
        raise ValueError(f"the grid's first temperature must be 0 (greedy), got {g.temperatures[0]}")
    configs, cells = g.settings()
    prompts = list(PROMPTS[: cfg["prompts"]])
    texts: list[list[list[str]]] = []  # [prompt][setting][sample]
    ent = np.zeros((len(prompts), len(configs)))  # mean entropy per prompt and setting
    logits = []
    for i, prompt in enumerate(ctx.progress(prompts, total=len(prompts), desc="prompts")):
        ids = tok.encode(prompt)
        logits.append(next_logits(model, ids))
        dec = decode_settings(
            model,
            ids,
            configs,
            n_samples=cfg["samples"],
            max_new_tokens=cfg["new_tokens"],
            seed=prompt_seed(cfg["seed"], i),
        )
        texts.append([[tok.decode(row.tolist()) for row in dec.tokens[s]] for s in range(len(configs))])
        ent[i] = dec.entropy.mean(dim=(1, 2)).double().numpy()
    vocab = vocabulary(load_corpus(SHARED_CORPUS))
    rows = []
    for s, c in enumerate(configs):
        per_prompt = [texts[i][s] for i in range(len(prompts))]
        if c.greedy and any(len(set(group)) > 1 for group in per_prompt):
            raise RuntimeError("greedy samples of one prompt differ: temperature 0 must be deterministic")
        valid, n_words = valid_word_rate([t for group in per_prompt for t in group], vocab)
        rows.append(
            {
                "temperature": c.temperature,
                "top_k": "off" if c.top_k is None or c.greedy else c.top_k,
                "top_p": 1.0 if c.top_p is None or c.greedy else c.top_p,
                "entropy": float(ent[:, s].mean()),
                **diversity(per_prompt),
                "valid_words": valid,
                "n_words": n_words,
            }
        )

    def cell(t: float, k: int | None, p: float) -> int:
        it, ik, ip = g.nearest(t, k, p)
        return cells[it][ik][ip]

    def slice_row(label: str, r: dict[str, Any]) -> dict[str, Any]:
        vals = {name: round(r[key], 3) if np.isfinite(r[key]) else "–" for key, name in _METRICS.items()}
        return {"setting": label, **vals}  # "–": no whole word to rate

    t1 = rows[cell(1.0, None, 1.0)]
    highlight = [slice_row(f"T={t:g}", rows[cell(t, None, 1.0)]) for t in g.temperatures]
    highlight += [
        slice_row(f"T={t1['temperature']:g}, k={k}", rows[cell(1.0, k, 1.0)]) for k in g.top_ks if k
    ]
    highlight += [
        slice_row(f"T={t1['temperature']:g}, p={p:g}", rows[cell(1.0, None, p)]) for p in g.top_ps if p < 1
    ]
    sweep = [rows[cell(t, None, 1.0)] for t in g.temperatures]  # no top-k or top-p, ascending T
    greedy, hot = sweep[0], sweep[-1]
    corr_ed = correlation([r["entropy"] for r in rows], [r["distinct_2"] for r in rows])
    corr_dq = correlation([r["distinct_2"] for r in rows], [r["valid_words"] for r in rows])
    return {
        "dashboard": {
            "vocab_size": tok.vocab_size,
            "prompts": prompts,
            "logits": [lg.tolist() for lg in logits],
            "grid": {"temperature": g.temperatures, "top_k": g.top_ks, "top_p": g.top_ps},
            "cells": cells,
            "continuations": texts,
            "new_tokens": cfg["new_tokens"],
        },
        "model": _model_info(model),
        "rows": rows,
        "highlight": highlight,
        "highlight_table": kit.table(highlight, first=("setting",)),
        "t1": t1,
        "greedy": greedy,
        "hot": hot,
        "n_settings": len(configs),
        "n_prompts": len(prompts),
        "samples": cfg["samples"],
        "vocabulary_size": len(vocab),
        "corr_entropy_distinct2": text.correlation_phrase(corr_ed),
        "corr_distinct2_valid": text.correlation_phrase(corr_dq),
        "greedy_words": text.greedy_words_phrase(
            greedy["valid_words"], greedy["n_words"], t1["valid_words"], t1["temperature"]
        ),
        "tradeoff": text.tradeoff_phrase(
            [r["temperature"] for r in sweep],
            [r["distinct_2"] for r in sweep],
            [r["valid_words"] for r in sweep],
        ),
        "hot_phrase": text.hot_phrase(
            hot["temperature"], hot["distinct_2"], hot["valid_words"], greedy["valid_words"]
        ),
        "example_t1": texts[0][cell(1.0, None, 1.0)][0],
    }


@TOPIC.experiment(
    "greedy",
    profiles={
        "quick": {
            "prompts": 2,
            "greedy_tokens": 48,
            "temperatures": [0.0, 1.0, 2.0],
            "samples": 2,
            "seed": 0,
        },
        "full": {
            "prompts": 5,
            "greedy_tokens": 192,
            "temperatures": [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0],
            "samples": 4,
            "seed": 0,
        },
    },
    needs=[SHARED_MODEL],
    title="Greedy decoding loops; repetition vs temperature",
)
def greedy(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Where greedy continuations start to loop, and how repetition falls as temperature rises."""
    torch.manual_seed(cfg["seed"])
    model, tok = load_shared_model(ctx.need(SHARED_MODEL))
    prompts = list(PROMPTS[: cfg["prompts"]])
    length, temps = cfg["greedy_tokens"], list(cfg["temperatures"])
    if 0.0 not in temps:
        raise ValueError(f"the greedy experiment needs temperature 0 among {temps}")
    configs = [SamplingConfig(temperature=t) for t in temps]
    greedy_rows, seen, examples, units = [], [], [], []
    rep = np.zeros((len(prompts), len(temps)))
    looped = np.zeros((len(prompts), len(temps)))
    for i, prompt in enumerate(ctx.progress(prompts, total=len(prompts), desc="prompts")):
        dec = decode_settings(
            model,
            tok.encode(prompt),
            configs,
            n_samples=cfg["samples"],
            max_new_tokens=length,
            seed=prompt_seed(cfg["seed"], i),
        )
        for j in range(len(temps)):
            samples = dec.tokens[j].tolist()
            rep[i, j] = np.mean([repeated_ngram_rate(tok.decode(s).split(), 3) for s in samples])
            looped[i, j] = np.mean([loop_stats(s).looped for s in samples])
        ids = dec.tokens[temps.index(0.0)][0].tolist()
        st = loop_stats(ids)
        seen.append(seen_before(ids, 8))
        unit = tok.decode(ids[st.start : st.start + st.period]) if st.looped else ""
        greedy_rows.append(
            {
                "prompt": prompt,
                "loop start (byte)": st.start,
                "period (bytes)": st.period,
                "repeats": round(st.repeats, 1),
                "repeated 8-byte grams": round(float(repeated_ngram_rate(ids, 8)), 3),
                "repeated word 3-grams": round(float(repeated_ngram_rate(tok.decode(ids).split(), 3)), 3),
                "unit": repr(unit) if st.looped else "",
            }
        )
        if st.looped:
            units.append(unit)
            examples.append(f"{prompt}{tok.decode(ids[: st.start])}⟦LOOP: {unit!r} × {st.repeats:g}⟧")
        else:
            examples.append(prompt + tok.decode(ids))
    loops = [r for r in greedy_rows if r["period (bytes)"] > 0]
    starts = [r["loop start (byte)"] for r in loops]
    periods = [r["period (bytes)"] for r in loops]
    i0, i1 = nearest_index(temps, 0.0), nearest_index(temps, 1.0)
    return {
        "verdict": text.loop_verdict(starts, periods, units, len(greedy_rows), length),
        "loops_phrase": text.loops_phrase(len(loops), len(greedy_rows)),
        "rep3_t0": float(rep[:, i0].mean()),
        "rep3_t1": float(rep[:, i1].mean()),
        "t1": temps[i1],
        "looped_t0": float(looped[:, i0].mean()),
        "looped_t1": float(looped[:, i1].mean()),
        "greedy": greedy_rows,
        "greedy_table": kit.table(greedy_rows, first=("prompt",)),
        "loop_fraction_greedy": len(loops) / len(greedy_rows),
        "mean_loop_start": float(np.mean(starts)) if loops else -1.0,
        "median_period": float(np.median(periods)) if loops else 0.0,
        "seen": np.stack(seen),
        "loop_starts": [r["loop start (byte)"] for r in greedy_rows],
        "temperatures": temps,
        "rep3": rep.mean(axis=0),
        "looped": looped.mean(axis=0),
        "example": examples[0],
        "examples": "\n\n".join(examples),
    }
