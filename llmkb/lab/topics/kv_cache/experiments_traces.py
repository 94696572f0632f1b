"""``kv-cache/hitmiss``: hit/miss/evicted traces recorded on the shared model, prefix reuse and its hit rate."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from llmkb.infer.kvtrace import (
    EVICTED,
    STATE_NAMES,
    KVTrace,
    PrefixCache,
    RecordingKVCache,
    decode_trace,
    prefix_reuse_check,
    prefix_reuse_trace,
)
from llmkb.infer.sampling import SamplingConfig, sample_next
from llmkb.lab import RunContext
from llmkb.lab.kit import byte_labels, table
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.lab.topics.kv_cache.analysis import (
    check_same_tokens,
    check_same_trace,
    state_palette,
    visible_share,
)
from llmkb.lab.topics.kv_cache.names import (
    DEMO_PROMPTS,
    MIN_VISIBLE,
    QUESTIONS,
    SYSTEM_PROMPT,
    TOPIC,
    TRACE_ORDER,
)
from llmkb.lab.topics.kv_cache.text import decoding_phrase, workload_verdict
from llmkb.nn import GPT

_PREFIX_PROMPTS = ["The cache stores keys and values. Why?", "The cache stores keys and values. How?"]


def _windowed(model: GPT, window: int) -> GPT:
    """The same weights under a config with a sliding window (parameters do not depend on it)."""
    other = GPT(dataclasses.replace(model.config, sliding_window=window))
    other.load_state_dict(model.state_dict())
    return other.eval()


@torch.no_grad()
def traced_sample(
    model: GPT, idx: torch.Tensor, n: int, sampling: SamplingConfig, seed: int
) -> tuple[torch.Tensor, KVTrace]:
    """Seeded sampling through a ``RecordingKVCache``: the forward calls and draws of ``model.generate(idx, n,
    sampling, generator=torch.Generator().manual_seed(seed))``, with each call's hits, misses and evictions."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    p = model.tok_emb.weight
    cache = RecordingKVCache(model.config, idx.shape[0], idx.shape[1] + n - 1, p.dtype, p.device)
    out = idx
    logits = model(idx, kv_cache=cache).logits  # (B, P, V)
    for step in range(n):
        nxt = sample_next(logits[:, -1, :], sampling, history=out, generator=gen)  # (B,)
        out = torch.cat((out, nxt[:, None].to(out.dtype)), dim=1)
        if step < n - 1:
            logits = model(out[:, -1:], kv_cache=cache).logits  # (B, 1, V)
    return out, cache.trace(mode="window" if cache.window is not None else "cache")


def _checked(
    model: GPT, idx: torch.Tensor, n: int, sampling: SamplingConfig, seed: int, name: str
) -> tuple[torch.Tensor, KVTrace, int]:
    """:func:`traced_sample`, checked token for token against uncached ``generate`` with the same seed."""
    tokens, trace = traced_sample(model, idx, n, sampling, seed)
    gen = torch.Generator().manual_seed(seed)
    plain = model.generate(idx, n, sampling, use_cache=False, generator=gen)
    return tokens, trace, check_same_tokens(name, plain, tokens)


def _demo_prompt(models: tuple[GPT, ...], tok: Any, cfg: dict[str, Any], sampling: SamplingConfig) -> str:
    """The first candidate prompt whose continuations (on every model) are mostly visible text.

    Raises:
        AssertionError: when every candidate's continuation is mostly whitespace.
    """
    n, shares = cfg["new_tokens"], []
    for text in cfg["prompts"]:
        idx = torch.tensor([tok.encode(text)], dtype=torch.long)
        runs = [traced_sample(m, idx, n, sampling, cfg["seed"])[0] for m in models]
        # the generated positions the widget's axis shows (the last token is never fed)
        shares.append(min(visible_share(t[0, idx.shape[1] : idx.shape[1] + n - 1]) for t in runs))
        if shares[-1] >= MIN_VISIBLE:
            return text
    raise AssertionError(f"every demo continuation is mostly whitespace (visible shares {shares})")


@TOPIC.experiment(
    "hitmiss",
    needs=[SHARED_MODEL],
    profiles={
        "quick": {
            "prompts": list(DEMO_PROMPTS),
            "temperature": 0.8,
            "seed": 0,
            "new_tokens": 16,
            "window": 8,
            "block_size": 4,
            "prefix_prompts": _PREFIX_PROMPTS,
            "block_sizes": [1, 4, 16, 64],
        },
        "full": {
            "prompts": list(DEMO_PROMPTS),
            "temperature": 0.8,
            "seed": 0,
            "new_tokens": 24,
            "window": 8,
            "block_size": 4,
            "prefix_prompts": _PREFIX_PROMPTS,
            "block_sizes": [1, 2, 4, 8, 16, 32, 64],
        },
    },
    title="Cache hits, misses and evictions per step; prefix reuse on the shared model",
)
def hitmiss(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Record traces on the shared model, check them and its tokens, and test prefix reuse.

    The demo samples (seeded) from the first of ``cfg["prompts"]`` whose continuations are mostly visible text,
    so the widget's axis shows what the model wrote rather than a run of spaces.

    Fails (``AssertionError``) when no candidate prompt gives visible text, when cached and uncached generation
    differ, when a recorded trace differs from the simulation, or when reusing a cached prefix changes the logits.
    """
    model, tok = load_shared_model(ctx.need(SHARED_MODEL))
    n, w = cfg["new_tokens"], cfg["window"]
    sampling, seed = SamplingConfig(temperature=cfg["temperature"]), cfg["seed"]
    windowed = _windowed(model, w)
    text = _demo_prompt((model, windowed), tok, cfg, sampling)
    prompt = tok.encode(text)
    idx = torch.tensor([prompt], dtype=torch.long)
    tokens, rec_cache, checked_c = _checked(model, idx, n, sampling, seed, "cache")
    w_tokens, rec_window, checked_w = _checked(windowed, idx, n, sampling, seed, f"window {w}")
    cells = check_same_trace("cache", rec_cache, decode_trace(len(prompt), n))
    cells += check_same_trace("window", rec_window, decode_trace(len(prompt), n, window=w))
    no_cache = decode_trace(len(prompt), n, use_cache=False)
    first, second = (tok.encode(p) for p in cfg["prefix_prompts"])
    prefix = prefix_reuse_trace([first, second], cfg["block_size"])
    check = prefix_reuse_check(model, first, second, cfg["block_size"])
    if check["max_abs_diff"] > 1e-4 or not check["same_argmax"]:
        raise AssertionError(f"prefix reuse changed the logits: {check}")
    requests = [tok.encode(SYSTEM_PROMPT + q) for q in QUESTIONS]
    shared = len(tok.encode(SYSTEM_PROMPT)) * (len(QUESTIONS) - 1)  # every request after the first
    workload = []
    for b in cfg["block_sizes"]:
        pc = PrefixCache(b)
        for r in requests:
            pc(r)
        workload.append({"block size": b, "hit rate": round(pc.hit_rate, 3), "blocks stored": len(pc)})
    ideal = shared / sum(len(r) for r in requests)
    traces = dict(zip(TRACE_ORDER, (no_cache, rec_cache, rec_window, prefix), strict=True))
    seq = tokens[0, : len(prompt) + n - 1].tolist()  # the positions that were fed
    w_seq = w_tokens[0, : len(prompt) + n - 1].tolist()
    texts = {
        "no-cache": [byte_labels(seq)] * n,
        "cache": [byte_labels(seq)] * n,
        "window": [byte_labels(w_seq)] * n,
        "prefix": [byte_labels(first), byte_labels(second)],
    }
    titles = {
        "no-cache": "no cache: every step recomputes every position",
        "cache": "KV cache: prefill, then one new entry per step",
        "window": f"sliding window W={w}: old entries are evicted",
        "prefix": f"prefix cache (blocks of {cfg['block_size']}): prompt 2 reuses prompt 1's prefix",
    }
    widget = {
        "states": list(STATE_NAMES),
        "colors": state_palette("light"),
        "colors_dark": state_palette("dark"),
        "modes": [
            {"name": k, "title": titles[k], "chars": texts[k], **t.to_dict()} for k, t in traces.items()
        ],
    }
    summary = [
        {
            "mode": k,
            "forward calls": t.summary()["steps"],
            "hits": t.hits,
            "misses (token-forwards)": t.misses,
            "evicted": t.count(EVICTED),
            "hit rate": round(t.hit_rate, 3),
        }
        for k, t in traces.items()
    ]
    return {
        "grids": {k: t.grid for k, t in traces.items()},
        "labels": {k: list(t.labels) for k, t in traces.items()},
        "titles": titles,
        "table": table(summary),
        "hit_rate": {k: t.hit_rate for k, t in traces.items()},
        "checked": {"tokens": checked_c + checked_w, "trace_cells": cells},
        "prefix_check": check,
        "workload": table(workload),
        "workload_ideal": ideal,
        "workload_requests": len(requests),
        "workload_verdict": workload_verdict(
            [r["block size"] for r in workload], [r["hit rate"] for r in workload], ideal
        ),
        "prompt": text,
        "decoding": decoding_phrase(text, cfg["temperature"], seed),
        "generated": tok.decode(tokens[0, len(prompt) :].tolist()),
        "widget": widget,
    }
