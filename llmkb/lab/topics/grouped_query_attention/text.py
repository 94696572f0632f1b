"""Page prose of the grouped-query attention lab, computed from the measured numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmkb.lab import kit
from llmkb.lab.topics.grouped_query_attention.analysis import variant_label

__all__ = ["frontier_phrase", "real_phrase", "regime_phrase", "speedup", "uptrain_phrase"]


def speedup(points: Sequence[Mapping[str, Any]], width: str, context: int, n_heads: int) -> dict[str, Any]:
    """Decode tokens/s of MHA and MQA at one width and context, their ratio and the cache ratio."""
    at = {q["kv_heads"]: q for q in points if q["width"] == width and q["context"] == context}
    mha, mqa = at[n_heads], at[1]
    ratio = mqa["tokens_per_s"] / mha["tokens_per_s"]
    return {
        "mha_tokens_per_s": round(mha["tokens_per_s"]),
        "mqa_tokens_per_s": round(mqa["tokens_per_s"]),
        "ratio": round(ratio, 2),
        "cache_ratio": mha["kv_read"] / mqa["kv_read"],
        "mha_regime": mha["regime"],
        "mqa_regime": mqa["regime"],
        "phrase": f"decodes at {ratio:.2f}× the tokens/s of MHA" if ratio >= 1.005 else
        f"decodes no faster than MHA ({ratio:.2f}×)",
    }  # fmt: skip


def regime_phrase(points: Sequence[Mapping[str, Any]], width: str) -> str:
    """``memory-bound at 9 of the 16 points: MHA from 512 positions, GQA-4 from 1,024 …``."""
    sel = [q for q in points if q["width"] == width]
    bound = [q for q in sel if q["regime"] == "memory-bound"]
    if not bound:
        return f"overhead-bound at {kit.count_of(len(sel), len(sel), 'point')} timed"
    firsts = []
    for n_kv in sorted({q["kv_heads"] for q in sel}, reverse=True):
        ctxs = sorted(q["context"] for q in bound if q["kv_heads"] == n_kv)
        if ctxs:
            name = variant_label(max(q["kv_heads"] for q in sel), n_kv)
            firsts.append(f"{name} from {kit.readable(ctxs[0])} positions")
    return f"memory-bound at {kit.count_of(len(bound), len(sel), 'point')} timed ({kit.join_names(firsts)})"


def frontier_phrase(rows: Sequence[Mapping[str, Any]]) -> str:
    """How the loss of the grouped models compares with MHA's, measured against the spread over seeds."""
    mha, rest = rows[0], rows[1:]
    parts = []
    for r in rest:
        delta = r["mean"] - mha["mean"]
        noise = max(r["sd"], mha["sd"])
        if min(r["n"], mha["n"]) < 2:
            verdict = "one seed, no spread to judge by"
        else:
            verdict = "within the seed spread" if abs(delta) <= noise else "beyond the seed spread"
        parts.append(f"{r['attention']} is {kit.gap_phrase(delta)} MHA ({verdict})")
    return "; ".join(parts)


def uptrain_phrase(method_rows: Sequence[Mapping[str, Any]]) -> str:
    """Which initialization starts closer and ends closer, per target, from the uptraining rows."""
    out = []
    for target in dict.fromkeys(r["target"] for r in method_rows):  # in the order of the rows
        by = {r["method"]: r for r in method_rows if r["target"] == target}
        mean, first = by["mean"], by["first"]
        start = "mean-pooling" if mean["converted"] < first["converted"] else "picking the first head"
        end = "mean-pooling" if mean["uptrained"] < first["uptrained"] else "picking the first head"
        ending = "and still ends lower" if start == end else f"and {end} ends lower"
        out.append(f"to {target}, {start} starts lower {ending}")
    return "; ".join(out)


def real_phrase(rows: Sequence[Mapping[str, Any]], model: str, grouped: str = "GQA-8") -> dict[str, Any]:
    """The MHA and ``grouped`` variants of ``model`` from the bandwidth table, and how they compare (MQA too)."""
    mine = {r["attention"].split(" ")[0]: r for r in rows if r["model"] == model}
    mha, gqa, mqa = mine["MHA"], mine[grouped], mine["MQA"]
    return {
        "mha": mha,
        "gqa": gqa,
        "cache_ratio": round(mha["KiB / token"] / gqa["KiB / token"], 1),
        "speed_ratio": round(gqa["tokens/s bound"] / mha["tokens/s bound"], 2),
        "mqa_gain": round(mqa["tokens/s bound"] / gqa["tokens/s bound"], 2),
        "weights_vs_cache": "outweighs" if mha["cache share of a step"] > 0.5 else "is lighter than",
    }
