"""The tokenizer experiments: the page's BPE and its failure cases, the split pattern and a training trace
worked by hand, and compression against vocabulary size."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import regex

from llmkb.data.corpus import load_corpus
from llmkb.lab import RunContext, kit
from llmkb.lab.topics.tokenization import analysis as A
from llmkb.lab.topics.tokenization import text as T
from llmkb.lab.topics.tokenization.names import (
    EOT,
    NUMBERS,
    PARALLEL,
    PIECE_EXAMPLES,
    SAMPLE,
    SPACES,
    TOPIC,
    TOY_CORPUS,
    WIDGET_EXAMPLES,
)
from llmkb.tokenize import GPT4_PATTERN, BPETokenizer, export_vocab_json, render_html
from llmkb.tokenize.naive import train_naive

__all__ = ["bpe", "vocab_sweep", "walkthrough"]

_WORDLIKE = regex.compile(rb" ?[A-Za-z]+")


@TOPIC.experiment(
    "bpe",
    profiles={
        "quick": {"vocab_size": 512, "max_chars": 150_000},
        "full": {"vocab_size": 4096, "max_chars": None},
    },
    title="Train the page's byte-level BPE on pydoc; export it for the widget; failure cases",
)
def bpe(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train, save and export the tokenizer; measure numbers, leading spaces and scripts."""
    corpus = load_corpus("pydoc")
    if cfg["max_chars"]:
        corpus = corpus[: cfg["max_chars"]]
    t0 = time.perf_counter()
    tok = BPETokenizer.train(corpus, cfg["vocab_size"], pattern="gpt4", special_tokens=[EOT])
    seconds = time.perf_counter() - t0
    tok.save(ctx.out_dir / "tokenizer")

    n_learned = len(tok.merges)
    by_length = sorted(range(256, 256 + n_learned), key=lambda i: (-len(tok.token_bytes(i)), i))
    wordlike = [i for i in by_length if _WORDLIKE.fullmatch(tok.token_bytes(i))]
    numbers = A.token_rows(tok, NUMBERS)
    digit_run = max(A.longest_digit_run(tok, tok.encode(t)) for t in NUMBERS)
    assert digit_run <= 3, "the GPT-4 pattern caps digit runs at three"
    spaces = A.token_rows(tok, SPACES)
    assert len({r["ids"] for r in spaces}) == len(SPACES), "spacing and case variants must differ"
    scripts = A.script_rows(tok, PARALLEL, "English")
    as_special = tok.encode(EOT, allowed_special="all")
    assert len(as_special) == 1, "an allowed special token is one id"
    eot_as_text = tok.encode(EOT, disallowed_special=())
    longest = tok.token_bytes(by_length[0]) if by_length else b""
    corpus_bytes = corpus.encode("utf-8")
    view = A.run_view(longest)
    return {
        "widget": {"vocab": export_vocab_json(tok), "examples": WIDGET_EXAMPLES},
        "sample": SAMPLE,
        "sample_html": render_html(tok, SAMPLE),
        "stats": {
            "vocab_size": tok.vocab_size,
            "merges": n_learned,
            "corpus_chars": len(corpus),
            "train_seconds": seconds,
            "bytes_per_token": A.compression(tok, corpus)["bytes_per_token"],
        },
        "first_merges": A.bracketed(tok, range(256, 256 + min(20, n_learned))),
        "longest_words": " ".join(A.bracketed(tok, [i]) for i in wordlike[:12]),
        "longest_bytes": len(tok.token_bytes(by_length[0])) if by_length else 1,
        "longest_token": kit.token_labels(tok, by_length[:1])[0] if by_length else "",
        "longest": {
            "view": view,
            "legend": T.run_legend(view),
            "note": T.longest_token_note(longest, corpus_bytes.count(longest), len(corpus)),
            "context": A.first_context(corpus_bytes, longest),
        },
        "numbers": kit.table(numbers),
        "longest_digit_run": digit_run,
        "spaces": kit.table(spaces),
        "scripts": kit.table(scripts, digits=3),
        "worst_script": max(scripts, key=lambda r: r["vs_english"])["language"],
        "bytes_only": T.script_phrase([r["language"] for r in scripts if r["bytes_only"]]),
        "special": {
            "chars": len(EOT),
            "as_special": len(as_special),
            "as_text": len(eot_as_text),
            "as_text_tokens": A.bracketed(tok, eot_as_text),
        },
    }


@TOPIC.experiment(
    "walkthrough",
    profiles={"quick": {"merges": 12}, "full": {"merges": 12}},
    title="GPT-4's split pattern on code and prose; training a BPE merge by merge on a toy corpus",
)
def walkthrough(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Cut example texts with the GPT-4 pattern; trace the naive trainer on :data:`TOY_CORPUS`."""
    pieces = regex.findall(GPT4_PATTERN, PIECE_EXAMPLES[0])
    assert ".append" in pieces and "(print" in pieces, "one leading punctuation mark joins the word after it"
    merges = train_naive(TOY_CORPUS, cfg["merges"], GPT4_PATTERN)
    fast = BPETokenizer.train(TOY_CORPUS, 256 + cfg["merges"], pattern="gpt4").merges
    assert merges == fast, "the naive and the fast trainer must learn the same merges"
    trace = A.merge_trace(TOY_CORPUS, merges, GPT4_PATTERN)
    before = [len(TOY_CORPUS.encode("utf-8"))] + [r["tokens after"] for r in trace[:-1]]
    assert all(r["tokens after"] == n - r["count"] for r, n in zip(trace, before, strict=True)), (
        "on the toy corpus no pair overlaps itself, so each merge saves exactly its count"
    )
    return {
        "pieces": kit.table(A.piece_rows(GPT4_PATTERN, PIECE_EXAMPLES)),
        "corpus": A.visible(TOY_CORPUS),
        "corpus_bytes": len(TOY_CORPUS.encode("utf-8")),
        "trace": kit.table(trace),
        "merges": len(merges),
        "tokens_after": trace[-1]["tokens after"],
    }


@TOPIC.experiment(
    "vocab-sweep",
    profiles={
        "quick": {
            "extra": [0, 128, 256, 512],
            "prose_chars": 150_000,
            "code_chars": 150_000,
            "holdout": 0.15,
        },
        "full": {
            "extra": [0, 128, 256, 512, 1024, 2048, 4096],
            "prose_chars": None,
            "code_chars": 1_000_000,
            "holdout": 0.1,
        },
    },
    title="Bytes per token and tokens per word vs vocabulary size, on prose and on code",
)
def vocab_sweep(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train one tokenizer per corpus at the largest size; evaluate every prefix on held-out text."""
    prose = load_corpus("pydoc")
    if cfg["prose_chars"]:
        prose = prose[: cfg["prose_chars"]]
    code = load_corpus("stdlib", max_chars=cfg["code_chars"])
    data = {"prose": A.split_holdout(prose, cfg["holdout"]), "code": A.split_holdout(code, cfg["holdout"])}
    extra = sorted(cfg["extra"])
    trained: dict[str, BPETokenizer] = {}
    seconds: dict[str, float] = {}
    for name, (train_text, _) in data.items():
        t0 = time.perf_counter()
        trained[name] = BPETokenizer.train(train_text, 256 + extra[-1], pattern="gpt4")
        seconds[name] = time.perf_counter() - t0
    grid = np.zeros((len(extra), 2, 2))  # (size, trained on prose|code, evaluated on prose|code)
    fertility = np.zeros((len(extra), 2))  # (size, evaluated on prose|code), own-domain tokenizer
    for s, k in enumerate(ctx.progress(extra, total=len(extra), desc="vocab sizes")):
        for a, train_name in enumerate(data):
            tok = A.truncated(trained[train_name], k)
            for b, eval_name in enumerate(data):
                st = A.compression(tok, data[eval_name][1])
                grid[s, a, b] = st["bytes_per_token"]
                if a == b:
                    fertility[s, b] = st["tokens_per_word"]
    if extra[0] == 0:
        assert np.all(grid[0] == 1.0), "with no merges every token is one byte"
    rows = [
        {
            "vocab": 256 + k,
            "prose bytes/token": grid[s, 0, 0],
            "code bytes/token": grid[s, 1, 1],
            "prose tok. on code": grid[s, 0, 1],
            "code tok. on prose": grid[s, 1, 0],
            "prose tokens/word": fertility[s, 0],
            "code tokens/word": fertility[s, 1],
        }
        for s, k in enumerate(extra)
    ]
    prose_gains = A.doubling_gains(extra, grid[:, 0, 0])
    code_gains = A.doubling_gains(extra, grid[:, 1, 1])
    gains = [
        {"merges": f"{k} → {2 * k}", "prose": g, "code": c}
        for (k, g), (_, c) in zip(prose_gains, code_gains, strict=True)
    ]
    prose_on_code_extra = float(grid[-1, 1, 1] / grid[-1, 0, 1] - 1.0)
    return {
        "vocab": np.array([256 + k for k in extra]),
        "bytes_per_token": grid,
        "tokens_per_word": fertility,
        "table": kit.table(rows),
        "gains": kit.table(gains),
        "doubling": {
            "first": {"prose": prose_gains[0][1], "code": code_gains[0][1]},
            "last": {"prose": prose_gains[-1][1], "code": code_gains[-1][1]},
            "from": prose_gains[0][0],
            "to": 2 * prose_gains[-1][0],
            "verdict": T.doubling_verdict([[g for _, g in prose_gains], [g for _, g in code_gains]]),
        },
        "train_seconds": seconds,
        "chars": {name: {"train": len(tr), "heldout": len(ho)} for name, (tr, ho) in data.items()},
        "largest": 256 + extra[-1],
        "gain": {
            "prose": float(grid[-1, 0, 0] / grid[0, 0, 0]),
            "code": float(grid[-1, 1, 1] / grid[0, 1, 1]),
            "prose_on_code_extra": prose_on_code_extra,
            "prose_on_code": T.more_or_fewer(prose_on_code_extra),
        },
    }
