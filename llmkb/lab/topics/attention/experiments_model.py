"""Experiments on the trained shared model: what its heads do, one query step by step, causality by autograd."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import Tensor

from llmkb.lab import RunContext, kit
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.lab.topics.attention.analysis import (
    classify_head,
    head_label,
    head_scores,
    induction_scores,
    uniform_weight,
    word_starts,
)
from llmkb.lab.topics.attention.analysis_probe import jacobian_norms, query_walkthrough
from llmkb.lab.topics.attention.names import JACOBIAN_CHARS, QUERY_POSITION, SENTENCE, THRESHOLDS, TOPIC
from llmkb.lab.topics.attention.text import head_notes, query_note, query_scale_note

__all__ = ["causality", "heads", "query"]

START, WINDOW = 2, 4
"""Head scores average over queries from position 2 on; ``local`` is the weight on the last 4 keys."""


def _ids(tok: Any, text: str) -> Tensor:
    return torch.tensor([tok.encode(text)], dtype=torch.long)  # (1, T)


@TOPIC.experiment(
    "heads",
    profiles={"quick": {"period": 16, "repeats": 2}, "full": {"period": 32, "repeats": 8}},
    needs=[SHARED_MODEL],
    title="Per-head attention maps of the shared model, measured and labelled",
)
def heads(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Attention maps on :data:`~llmkb.lab.topics.attention.names.SENTENCE`, per-head scores, induction
    scores on a repeated random letter string, and a label per head."""
    model, tok = load_shared_model(ctx.need(SHARED_MODEL))
    ids = _ids(tok, SENTENCE)
    with torch.no_grad():
        attn = model(ids, return_attn=True).attn
    maps = torch.stack([a[0] for a in attn])  # (L, H, T, T)
    spaces = ids[0] == tok.encode(" ")[0]  # (T,) word boundaries
    scores = head_scores(maps, start=START, boundary=spaces, window=WINDOW)
    gen = torch.Generator().manual_seed(0)
    period = int(cfg["period"])
    letters = torch.tensor(tok.encode("abcdefghijklmnopqrstuvwxyz"), dtype=torch.long)
    block = letters[torch.randint(len(letters), (int(cfg["repeats"]), period), generator=gen)]  # (R, P)
    with torch.no_grad():
        attn_rep = model(torch.cat([block, block], dim=1), return_attn=True).attn
    ind = induction_scores(torch.stack(attn_rep).mean(1), period)  # (L, H), averaged over the R strings
    L, H = ind.shape
    rows = []
    for li in range(L):
        for h in range(H):
            s = {k: float(v[li, h]) for k, v in scores.items()} | {"induction": float(ind[li, h])}
            rows.append(
                {"head": head_label(li, h), "layer": li, "kind": classify_head(s)}
                | {k: s[k] for k in ("prev", "first", "self", "local")}
                | {"space": s["boundary"], "induction": s["induction"], "entropy": s["entropy"]}
            )
    T = ids.shape[1]
    ind_uniform = uniform_weight(period, 2 * period)
    space_uniform = float(np.mean([float(spaces[: t + 1].double().mean()) for t in range(START, T)]))
    starts, words = word_starts(SENTENCE)
    return {
        "sentence": SENTENCE,
        "tokens": kit.token_labels(tok, ids[0].tolist()),
        "word_starts": starts,
        "words": words,
        "maps": maps.numpy(),
        "rows": rows,
        "table": kit.table([{k: v for k, v in r.items() if k != "layer"} for r in rows], digits=2),
        "thresholds": dict(THRESHOLDS),
        "start": START,
        "window": WINDOW,
        "space_uniform": space_uniform,
        "notes": head_notes(rows, L, ind_uniform, space_uniform, WINDOW),
        "induction_uniform": ind_uniform,
        "uniform_weight": uniform_weight(START, T),
        "n_heads": L * H,
        "n_layers": L,
    }


@TOPIC.experiment(
    "query",
    profiles={"quick": {"t": QUERY_POSITION}, "full": {"t": QUERY_POSITION}},
    needs=[SHARED_MODEL],
    title="One query of the shared model, step by step: scores, softmax, weighted sum of values",
)
def query(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Follow query ``t`` of the sentence through its sharpest head, recomputed from the head's q, k, v;
    raises if the recomputation disagrees with the model's own weights or head output."""
    model, tok = load_shared_model(ctx.need(SHARED_MODEL))
    ids = _ids(tok, SENTENCE)
    res = query_walkthrough(model, ids, int(cfg["t"]))
    if res["weights_diff"] > 1e-5 or res["output_diff"] > 1e-4:
        raise RuntimeError(
            f"the recomputed query differs from the model: weights by {res['weights_diff']:.1e}, "
            f"output by {res['output_diff']:.1e}"
        )
    tokens = kit.token_labels(tok, ids[0].tolist())
    n_heads = model.config.n_layers * model.config.n_heads
    return res | {
        "sentence": SENTENCE,
        "tokens": tokens,
        "n_heads": n_heads,
        "positional": model.config.positional,
        "note": query_note(res, tokens, n_heads),
        "scale_note": query_scale_note(res),
    }


@TOPIC.experiment(
    "causality",
    profiles={"quick": {"n_chars": 4, "chunk": 512}, "full": {"n_chars": JACOBIAN_CHARS, "chunk": 608}},
    needs=[SHARED_MODEL],
    title="Jacobian norms ||d logits_t / d embedding_s|| of the shared model",
)
def causality(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Dependency of every output position on every input position, measured with autograd; raises unless
    the future has exactly zero influence (Jacobian above the diagonal, logits before a rewrite)."""
    model, tok = load_shared_model(ctx.need(SHARED_MODEL))
    ids = _ids(tok, SENTENCE[: int(cfg["n_chars"])])
    t0 = time.perf_counter()
    norms = jacobian_norms(model, ids, chunk=int(cfg["chunk"]))  # (T, T)
    seconds = time.perf_counter() - t0
    T = norms.shape[0]
    upper = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    lower = norms[~upper]
    # a second view: change every token after position p and compare the logits up to p
    p = T // 2
    other = ids.clone()
    other[0, p + 1 :] = torch.tensor(tok.encode("#" * (T - p - 1)), dtype=torch.long)
    with torch.no_grad():
        a, b = model(ids).logits, model(other).logits
    res = {
        "tokens": kit.token_labels(tok, ids[0].tolist()),
        "norms": norms.numpy(),
        "max_above_diagonal": float(norms[upper].abs().max()),
        "min_on_or_below_diagonal": float(lower.min()),
        "zeros_on_or_below_diagonal": int((lower == 0).sum()),
        "perturbed_from": p + 1,
        "max_past_logit_change": float((a[0, : p + 1] - b[0, : p + 1]).abs().max()),
        "max_future_logit_change": float((a[0, p + 1 :] - b[0, p + 1 :]).abs().max()),
        "seconds": seconds,
        "T": T,
    }
    if res["max_above_diagonal"] != 0.0 or res["max_past_logit_change"] != 0.0:
        raise RuntimeError(
            f"the future leaks into the past: Jacobian above the diagonal up to {res['max_above_diagonal']}, "
            f"past logits changed by {res['max_past_logit_change']}"
        )
    return res
