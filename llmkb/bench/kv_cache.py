"""``llmkb bench kv-cache``: generation speed with and without the KV cache, as a ratio.

The modes run ``GPT.generate`` (greedy) on the same model and prompt, for several numbers of new tokens:
without a cache, with the static or the growing cache, and — ``compiled`` — the fixed-shape decode step of
[`StaticDecoder`][llmkb.infer.compiled.StaticDecoder] under ``torch.compile`` (compiled once, in the warm-up,
and reported separately; it must generate the same tokens).
Measurements are interleaved (every round times each mode once per length, rotating the order) so that a
change in machine load hits both modes alike, and the ratio of *medians* is reported. The model has the
shape of the shared model (``GPTConfig.preset("shared")``, RoPE) with ``max_seq_len`` raised to fit the
longest run; its weights are random, which does not change the amount of work.
"""

from __future__ import annotations

import argparse
import statistics
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from llmkb.errors import UsageError
from llmkb.infer.compiled import StaticDecoder
from llmkb.infer.kvtrace import decode_cost
from llmkb.infer.sampling import SamplingConfig
from llmkb.nn import GPT, GPTConfig

__all__ = [
    "NAME",
    "HELP",
    "MODES",
    "bench_model",
    "time_generate",
    "time_generate_steps",
    "measure_speedup",
    "format_table",
    "add_arguments",
    "run",
]

NAME = "kv-cache"
HELP = "Tokens/s of generation with vs without the KV cache (interleaved runs, ratio of medians)."

MODES: tuple[str, ...] = ("no-cache", "static", "concat", "compiled")
"""Timed modes: recompute everything, pre-allocated ``KVCache``, growing ``ConcatKVCache``, and the compiled
fixed-shape step on a static cache ([`StaticDecoder`][llmkb.infer.compiled.StaticDecoder])."""

_DECODERS: weakref.WeakKeyDictionary[GPT, dict[int, StaticDecoder]] = weakref.WeakKeyDictionary()


def compiled_decoder(model: GPT, batch_size: int) -> StaticDecoder:
    """The model's compiled [`StaticDecoder`][llmkb.infer.compiled.StaticDecoder] for ``batch_size`` rows and
    ``max_seq_len`` positions, built (and compiled at its first step) once per model and batch size."""
    per_model = _DECODERS.setdefault(model, {})
    if batch_size not in per_model:
        per_model[batch_size] = StaticDecoder(model, batch_size, model.config.max_seq_len, compile=True)
    return per_model[batch_size]


def _generate(
    model: GPT, idx: torch.Tensor, new_tokens: int, mode: str, stamps: list[float] | None = None
) -> torch.Tensor:
    """Greedy generation in ``mode``; ``stamps`` (compiled mode) receives a time after each token."""
    greedy = SamplingConfig(temperature=0.0)
    if mode == "compiled":
        with torch.compiler.set_stance(
            "default", skip_guard_eval_unsafe=compiled_decoder(model, idx.shape[0]).warm
        ):
            return compiled_decoder(model, idx.shape[0]).generate(idx, new_tokens, greedy, stamps=stamps)
    use_cache = mode != "no-cache"
    return model.generate(
        idx, new_tokens, greedy, use_cache=use_cache, cache_impl=mode if use_cache else "static"
    )


MAX_POSITIONS = 8192
"""Largest ``prompt + new tokens`` the benchmark accepts (no-cache cost grows like the cube)."""


def bench_model(max_len: int, seed: int = 0) -> GPT:
    """A randomly initialized model of the shared shape whose RoPE tables cover ``max_len`` positions.

    Args:
        max_len: ``max_seq_len`` of the config (prompt + new tokens).
        seed: initialization seed.
    """
    torch.manual_seed(seed)
    model = GPT(GPTConfig.preset("shared", max_seq_len=max_len))
    return model.eval()


def time_generate(model: GPT, idx: torch.Tensor, new_tokens: int, mode: str) -> float:
    """Seconds for one greedy ``model.generate`` call in ``mode`` (one of [`MODES`][llmkb.bench.kv_cache.MODES])."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    t0 = time.perf_counter()
    _generate(model, idx, new_tokens, mode)
    return time.perf_counter() - t0


def time_generate_steps(
    model: GPT, idx: torch.Tensor, new_tokens: int, mode: str
) -> tuple[np.ndarray, torch.Tensor]:
    """Elapsed seconds after each of the ``new_tokens`` tokens of one greedy ``model.generate`` call.

    A forward pre-hook stamps the start of every forward call; token ``N`` is complete (its logits computed,
    sampled and appended) when forward ``N + 1`` starts, and the last one when ``generate`` returns. Since
    greedy generation of ``N`` tokens does exactly the first ``N`` forward calls of a longer run,
    ``stamps[N - 1]`` is the time ``generate(idx, N)`` would take, for every ``N`` at once.

    Returns:
        ``stamps``, a ``(new_tokens,)`` float64 array, non-decreasing; and the generated ids,
        ``(B, P + new_tokens)``, so that callers can check that every mode generated the same tokens.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    stamps: list[float] = []
    if mode == "compiled":  # no model forward calls to hook: the decoder stamps each token itself
        t0 = time.perf_counter()
        tokens = _generate(model, idx, new_tokens, mode, stamps)
        return np.array(stamps) - t0, tokens
    handle = model.register_forward_pre_hook(lambda _m, _a: stamps.append(time.perf_counter()))
    try:
        t0 = time.perf_counter()
        tokens = _generate(model, idx, new_tokens, mode)
        t_end = time.perf_counter()
    finally:
        handle.remove()
    if len(stamps) != new_tokens:
        raise RuntimeError(f"expected {new_tokens} forward calls, saw {len(stamps)}")
    return np.array(stamps[1:] + [t_end]) - t0, tokens


def measure_speedup(
    model: GPT,
    prompt_len: int,
    new_tokens: Sequence[int],
    repeats: int | Mapping[int, int] = 3,
    modes: Sequence[str] = ("no-cache", "static"),
    seed: int = 0,
    on_measure: Callable[[int, str, float], None] | None = None,
) -> list[dict[str, Any]]:
    """Time generation in each mode for each length; interleaved rounds, medians.

    Round ``r`` times every mode once for every length that still needs a repeat, with the order of the
    modes rotated by ``r``. A warm-up call per mode precedes the first round.

    Args:
        model: the model to time.
        prompt_len: tokens in the (random) prompt.
        new_tokens: lengths to generate.
        repeats: repeats for every length, or ``{length: repeats}`` (fewer at long lengths).
        modes: modes to time; must include ``"no-cache"`` and at least one cached mode.
        seed: seed of the prompt.
        on_measure: called as ``on_measure(new_tokens, mode, seconds)`` after each timing.

    Returns:
        One row per length: ``new_tokens``, ``repeats``, per mode ``seconds[mode]`` (median) and
        ``tokens_per_s[mode]``, ``speedup[mode]`` (no-cache median / cached median for cached modes),
        ``times[mode]`` (all measurements), and the theoretical ratios ``forward_ratio`` (token-forwards)
        and ``flop_ratio`` from [`decode_cost`][llmkb.infer.kvtrace.decode_cost].
    """
    if "no-cache" not in modes or len(modes) < 2:
        raise ValueError(f"modes must include 'no-cache' and a cached mode, got {list(modes)}")
    reps = {n: (repeats[n] if isinstance(repeats, Mapping) else repeats) for n in new_tokens}
    if min(reps.values()) < 1 or min(new_tokens) < 1 or prompt_len < 1:
        raise ValueError("prompt_len, every length and every repeat count must be >= 1")
    gen = torch.Generator().manual_seed(seed)
    vocab = model.config.vocab_size
    idx = torch.randint(0, vocab, (1, prompt_len), generator=gen, device=model.tok_emb.weight.device)
    for mode in modes:
        time_generate(model, idx, min(8, min(new_tokens)), mode)  # warm-up
    times: dict[int, dict[str, list[float]]] = {n: {m: [] for m in modes} for n in new_tokens}
    for r in range(max(reps.values())):
        order = list(modes[r % len(modes) :]) + list(modes[: r % len(modes)])
        for n in new_tokens:
            if r >= reps[n]:
                continue
            for mode in order:
                seconds = time_generate(model, idx, n, mode)
                times[n][mode].append(seconds)
                if on_measure is not None:
                    on_measure(n, mode, seconds)
    rows = []
    for n in new_tokens:
        med = {m: statistics.median(times[n][m]) for m in modes}
        nc = decode_cost(model.config, prompt_len, n, use_cache=False)
        wc = decode_cost(model.config, prompt_len, n, use_cache=True)
        rows.append(
            {
                "new_tokens": n,
                "repeats": reps[n],
                "seconds": med,
                "tokens_per_s": {m: n / med[m] for m in modes},
                "speedup": {m: med["no-cache"] / med[m] for m in modes if m != "no-cache"},
                "times": {m: list(times[n][m]) for m in modes},
                "forward_ratio": nc["token_forwards"] / wc["token_forwards"],
                "flop_ratio": nc["flops"] / wc["flops"],
            }
        )
    return rows


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A plain-text table of [`measure_speedup`][llmkb.bench.kv_cache.measure_speedup] rows."""
    modes = list(rows[0]["seconds"]) if rows else []
    cached = [m for m in modes if m != "no-cache"]
    head = ["new", "reps"] + [f"{m} tok/s" for m in modes] + [f"x {m}" for m in cached] + ["x fwd", "x flop"]
    lines = ["  ".join(f"{h:>14}" for h in head)]
    for r in rows:
        cells = [str(r["new_tokens"]), str(r["repeats"])]
        cells += [f"{r['tokens_per_s'][m]:.1f}" for m in modes]
        cells += [f"{r['speedup'][m]:.2f}" for m in cached]
        cells += [f"{r['forward_ratio']:.1f}", f"{r['flop_ratio']:.1f}"]
        lines.append("  ".join(f"{c:>14}" for c in cells))
    return "\n".join(lines)


def same_tokens(model: GPT, args: argparse.Namespace) -> bool:
    """Whether the compiled path generates exactly the uncached tokens for the benchmark's prompt and length."""
    gen = torch.Generator().manual_seed(args.seed)
    idx = torch.randint(0, model.config.vocab_size, (1, args.prompt_len), generator=gen)
    n = max(args.new_tokens)
    return torch.equal(_generate(model, idx, n, "compiled"), _generate(model, idx, n, "static"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: lengths, prompt length, repeats, cache implementation(s), seed."""
    parser.add_argument(
        "--new-tokens", type=int, nargs="+", default=[64, 128, 256, 512], help="lengths to generate"
    )
    parser.add_argument("--prompt-len", type=int, default=16, help="prompt tokens (default 16)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per mode and length (default 3)")
    parser.add_argument(
        "--cache-impl",
        choices=("static", "concat", "both"),
        default="static",
        help="cached mode(s) to compare with no cache (default static)",
    )
    parser.add_argument(
        "--no-compiled", action="store_true", help="skip the compiled decode path (saves its compilation)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and prompt")


def run(args: argparse.Namespace) -> int:
    """Validate the options, time both modes and print the table of tokens/s and ratios."""
    lengths = list(dict.fromkeys(args.new_tokens))
    if min(lengths) < 1:
        raise UsageError(f"--new-tokens must all be >= 1, got {args.new_tokens}; e.g. --new-tokens 64 512")
    if args.prompt_len < 1:
        raise UsageError(f"--prompt-len must be >= 1, got {args.prompt_len}")
    if args.repeats < 1:
        raise UsageError(f"--repeats must be >= 1, got {args.repeats}")
    if args.prompt_len + max(lengths) > MAX_POSITIONS:
        raise UsageError(
            f"--prompt-len + the longest --new-tokens must be <= {MAX_POSITIONS}, "
            f"got {args.prompt_len + max(lengths)}; choose shorter runs"
        )
    cached = ["static", "concat"] if args.cache_impl == "both" else [args.cache_impl]
    if not args.no_compiled:
        cached.append("compiled")
    model = bench_model(args.prompt_len + max(lengths), seed=args.seed)
    cfg = model.config
    print(
        f"kv-cache: site-shaped model (d_model={cfg.d_model}, n_layers={cfg.n_layers}, n_heads={cfg.n_heads}, "
        f"{cfg.positional}, {model.num_parameters():,} parameters, random weights), prompt {args.prompt_len} "
        f"tokens, greedy, {torch.get_num_threads()} threads; interleaved, medians of {args.repeats}"
    )
    rows = measure_speedup(model, args.prompt_len, lengths, args.repeats, ("no-cache", *cached), args.seed)
    print(format_table(rows))
    print("x <mode> = no-cache time / cached time (measured); x fwd, x flop = theoretical ratios")
    if "compiled" in cached:
        dec = compiled_decoder(model, 1)
        print(
            f"compiled: torch.compile of the fixed-shape decode step took {dec.compile_seconds:.1f} s (once, "
            f"in the warm-up, not in the timings); same greedy tokens as GPT.generate: {same_tokens(model, args)}"
        )
    return 0
