"""Sampling lab: what temperature, top-k and top-p do to the shared model's text.

Two experiments read the shared model:

* ``sampling/grid`` decodes a few prompts under every setting of a (temperature, top-k, top-p) grid,
  several samples each, and measures the entropy of the distribution every token was drawn from and
  the diversity of the results (distinct-1/2, self-similarity). Its ``dashboard`` part (the prompts'
  next-byte logits plus the sampled continuations) feeds the page's interactive widget.
* ``sampling/greedy`` decodes long greedy (temperature 0) continuations, finds where they fall into a
  loop, and measures repetition as a function of temperature.

The helpers (:func:`decode_settings`, :class:`Grid`, :func:`diversity`, :func:`loop_stats`) are plain
functions, tested on a tiny model in ``tests/test_lab_sampling.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from llmkb.data import ByteTokenizer
from llmkb.infer.sampling import SamplingConfig, entropy, filtered_probs
from llmkb.lab import Result, RunContext, experiment, figure
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.metrics.text import distinct_n_corpus, find_loop, ngrams, repeated_ngram_rate, self_similarity
from llmkb.nn import GPT

__all__ = [
    "PROMPTS",
    "Decoded",
    "Grid",
    "LoopStats",
    "byte_label",
    "decode_settings",
    "diversity",
    "loop_stats",
    "nearest_index",
]

PROMPTS: tuple[str, ...] = (
    "If the primary is a ",
    "The default value of ",
    "This method is called ",
    "A function definition ",
    "The expression ",
)
"""Prompts in the style of the shared model's corpus (CPython's pydoc topics)."""

LOOP_MIN_REPEATS = 3
"""A loop must repeat its unit at least this many times ..."""
LOOP_MIN_SPAN = 24
"""... and cover at least this many bytes, so that a short run of spaces (indentation) does not count."""


# --------------------------------------------------------------------------------------------------
# decoding many settings at once
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    """Continuations of one prompt under several sampling settings.

    Attributes:
        tokens: generated ids (prompt excluded), ``(S, N, L)`` for ``S`` settings, ``N`` samples each.
        entropy: entropy in nats of the filtered distribution each token was drawn from, ``(S, N, L)``.
    """

    tokens: Tensor
    entropy: Tensor


@torch.no_grad()
def decode_settings(
    model: GPT,
    prompt: Sequence[int],
    configs: Sequence[SamplingConfig],
    *,
    n_samples: int,
    max_new_tokens: int,
    seed: int = 0,
) -> Decoded:
    """Sample ``n_samples`` continuations of ``prompt`` under each config, all in one batch.

    All ``S * N`` rows share one forward pass per step (with a KV cache). Each config's rows then get their
    sampling distribution from [`filtered_probs`][llmkb.infer.sampling.filtered_probs] (its entropy is recorded,
    which ``generate`` does not expose) and draw from it the way
    [`sample_next`][llmkb.infer.sampling.sample_next] does (``torch.multinomial``; arg-max at temperature 0),
    with that config's own generator seeded ``seed + s``. Computing the distribution once serves both the
    entropy and the draw. With a single config the tokens equal those of
    ``model.generate(prompt.repeat(N, 1), max_new_tokens, config, generator=Generator().manual_seed(seed))``
    (a test checks this).

    Args:
        model: the language model.
        prompt: prompt token ids (at least one).
        configs: sampling settings ``S >= 1``.
        n_samples: samples per setting ``N >= 1``.
        max_new_tokens: continuation length ``L >= 1``.
        seed: base seed of the per-setting generators.

    Returns:
        The [`Decoded`][llmkb.lab.topics.sampling.Decoded] tokens and entropies, ``(S, N, L)`` each.

    Raises:
        ValueError: on an empty prompt or config list, non-positive counts, or a context longer than
            the model's ``max_seq_len``.
    """
    s_count, n = len(configs), n_samples
    if not prompt or s_count == 0 or n < 1 or max_new_tokens < 1:
        raise ValueError(
            "need a non-empty prompt, at least one config, n_samples >= 1 and max_new_tokens >= 1"
        )
    t0 = len(prompt)
    if t0 + max_new_tokens > model.config.max_seq_len:
        raise ValueError(
            f"prompt ({t0}) + max_new_tokens ({max_new_tokens}) exceeds max_seq_len {model.config.max_seq_len}"
        )
    device = model.tok_emb.weight.device
    b = s_count * n
    out = torch.tensor(list(prompt), dtype=torch.long, device=device).repeat(b, 1)  # (B, T0)
    gens = [torch.Generator(device=device).manual_seed(seed + s) for s in range(s_count)]
    tokens = torch.empty(b, max_new_tokens, dtype=torch.long, device=device)  # (B, L)
    ents = torch.empty(b, max_new_tokens, dtype=torch.float32, device=device)  # (B, L)
    was_training = model.training
    model.eval()
    try:
        cache = model.make_cache(b, t0 + max_new_tokens - 1)
        logits = model(out, kv_cache=cache).logits[:, -1, :]  # (B, V)
        for step in range(max_new_tokens):
            nxt = torch.empty(b, dtype=torch.long, device=device)  # (B,)
            for s, cfg in enumerate(configs):
                rows = slice(s * n, (s + 1) * n)
                probs = filtered_probs(logits[rows], cfg, out[rows])  # (N, V)
                ents[rows, step] = entropy(probs).float()
                if cfg.greedy:  # one-hot on the arg-max of the (penalized) logits, as sample_next
                    nxt[rows] = probs.argmax(dim=-1)
                else:  # the draw sample_next makes from the same distribution
                    nxt[rows] = torch.multinomial(probs, 1, generator=gens[s]).squeeze(-1)
            tokens[:, step] = nxt
            out = torch.cat((out, nxt[:, None]), dim=1)  # (B, T0 + step + 1)
            if step < max_new_tokens - 1:
                logits = model(out[:, -1:], kv_cache=cache).logits[:, -1, :]  # (B, V)
    finally:
        model.train(was_training)
    return Decoded(tokens.reshape(s_count, n, -1).cpu(), ents.reshape(s_count, n, -1).cpu())


@torch.no_grad()
def next_logits(model: GPT, prompt: Sequence[int]) -> Tensor:
    """The model's next-token logits after ``prompt``, ``(V,)`` float32."""
    model.eval()
    idx = torch.tensor([list(prompt)], dtype=torch.long, device=model.tok_emb.weight.device)  # (1, T)
    return model(idx).logits[0, -1, :].float().cpu()  # (V,)


# --------------------------------------------------------------------------------------------------
# the settings grid
# --------------------------------------------------------------------------------------------------


def nearest_index(values: Sequence[float], x: float) -> int:
    """Index of the value nearest to ``x`` (absolute difference; ties go to the lower index).

    The dashboard's JavaScript uses the same rule, so both pick the same grid point.
    """
    if not values:
        raise ValueError("nearest_index needs at least one value")
    best, best_d = 0, abs(values[0] - x)
    for i, v in enumerate(values[1:], start=1):
        d = abs(v - x)
        if d < best_d:
            best, best_d = i, d
    return best


@dataclass(frozen=True)
class Grid:
    """A grid of sampling settings: every (temperature, top-k, top-p) combination.

    ``top_k=None`` is "off" (for distances it counts as ``vocab_size``, which keeps every token);
    ``top_p=1.0`` is off. All temperature-0 cells are one setting (greedy decoding ignores k and p).

    Attributes:
        temperatures: temperature values (``0`` = greedy).
        top_ks: top-k values, ``None`` = off.
        top_ps: top-p values in ``(0, 1]``.
        vocab_size: vocabulary size, the distance stand-in for ``top_k=None``.
    """

    temperatures: tuple[float, ...]
    top_ks: tuple[int | None, ...]
    top_ps: tuple[float, ...]
    vocab_size: int = 256

    def config(self, temperature: float, top_k: int | None, top_p: float) -> SamplingConfig:
        """The [`SamplingConfig`][llmkb.infer.sampling.SamplingConfig] of one cell."""
        if temperature == 0.0:
            return SamplingConfig(temperature=0.0)
        return SamplingConfig(temperature=temperature, top_k=top_k, top_p=None if top_p >= 1.0 else top_p)

    def settings(self) -> tuple[list[SamplingConfig], list[list[list[int]]]]:
        """Unique settings and, for each cell ``[iT][ik][ip]``, the index of its setting.

        Returns:
            ``(configs, cells)``.
        """
        configs: list[SamplingConfig] = []
        index: dict[SamplingConfig, int] = {}
        cells: list[list[list[int]]] = []
        for t in self.temperatures:
            plane: list[list[int]] = []
            for k in self.top_ks:
                row = []
                for p in self.top_ps:
                    cfg = self.config(t, k, p)
                    if cfg not in index:
                        index[cfg] = len(configs)
                        configs.append(cfg)
                    row.append(index[cfg])
                plane.append(row)
            cells.append(plane)
        return configs, cells

    def nearest(self, temperature: float, top_k: int | None, top_p: float) -> tuple[int, int, int]:
        """Cell ``(iT, ik, ip)`` nearest to a setting, coordinate by coordinate (see :func:`nearest_index`)."""
        ks = [self.vocab_size if k is None else k for k in self.top_ks]
        return (
            nearest_index(self.temperatures, temperature),
            nearest_index(ks, self.vocab_size if top_k is None else top_k),
            nearest_index(self.top_ps, top_p),
        )


# --------------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------------


def byte_label(b: int) -> str:
    """A safe one-glyph label for byte ``b`` (the widget uses the same rule).

    Printable ASCII is itself; space, newline and tab become ``␣``, ``⏎``, ``⇥``; any other byte
    becomes its hex code (``x0c``, ``xe2``), since alone it is a control code or part of a UTF-8 sequence.
    """
    if b == 0x20:
        return "␣"
    if b == 0x0A:
        return "⏎"
    if b == 0x09:
        return "⇥"
    if 0x21 <= b <= 0x7E:
        return chr(b)
    return f"x{b:02x}"


SELF_SIM_N = 4
"""Self-similarity compares character ``n``-grams: short samples rarely share a whole word bigram."""


def diversity(samples: Sequence[Sequence[str]]) -> dict[str, float]:
    """Diversity of continuations, grouped by prompt.

    Args:
        samples: ``samples[prompt][i]`` is the ``i``-th continuation (text) of a prompt.

    Returns:
        ``distinct_1`` and ``distinct_2`` on words (pooled over all texts), ``self_similarity`` (Jaccard
        overlap of the character-4-gram sets of two samples of the same prompt, averaged over pairs and
        prompts; needs 2+ samples per prompt, else 0) and ``rep_3`` (mean fraction of repeated word
        trigrams within a text).
    """
    words = [[t.split() for t in group] for group in samples]
    flat = [w for group in words for w in group]
    sims = [self_similarity([list(t) for t in group], SELF_SIM_N) for group in samples if len(group) >= 2]
    return {
        "distinct_1": distinct_n_corpus(flat, 1),
        "distinct_2": distinct_n_corpus(flat, 2),
        "self_similarity": float(np.mean(sims)) if sims else 0.0,
        "rep_3": float(np.mean([repeated_ngram_rate(w, 3) for w in flat])) if flat else 0.0,
    }


@dataclass(frozen=True)
class LoopStats:
    """Where a continuation falls into a loop.

    Attributes:
        looped: whether it ends in a loop of at least ``LOOP_MIN_REPEATS`` units spanning
            ``LOOP_MIN_SPAN`` bytes or more.
        start: first byte of the loop (``-1`` if none).
        period: length of the repeating unit in bytes (``0`` if none).
        repeats: copies of the unit in the loop (``0`` if none).
    """

    looped: bool
    start: int
    period: int
    repeats: float


def loop_stats(ids: Sequence[int]) -> LoopStats:
    """Loop statistics of a byte sequence via [`find_loop`][llmkb.metrics.text.find_loop]."""
    loop = find_loop(list(ids), min_repeats=LOOP_MIN_REPEATS)
    if loop is None or loop.length - loop.start < LOOP_MIN_SPAN:
        return LoopStats(False, -1, 0, 0.0)
    return LoopStats(True, loop.start, loop.period, loop.repeats)


def seen_before(ids: Sequence[int], n: int) -> np.ndarray:
    """For each position ``i >= n - 1``: 1 if the ``n``-gram ending at ``i`` occurred earlier, else 0."""
    out = np.zeros(len(ids), dtype=np.int8)
    seen: set[tuple[int, ...]] = set()
    for i, g in enumerate(ngrams(list(ids), n)):
        if g in seen:
            out[i + n - 1] = 1
        seen.add(g)
    return out


# --------------------------------------------------------------------------------------------------
# experiments
# --------------------------------------------------------------------------------------------------

_GRID_FULL = {
    "temperatures": [0.0, 0.5, 0.8, 1.0, 1.3, 2.0],
    "top_ks": [None, 5, 20, 50],
    "top_ps": [0.5, 0.8, 0.9, 0.95, 1.0],
}
_GRID_QUICK = {"temperatures": [0.0, 0.8, 1.3], "top_ks": [None, 20], "top_ps": [0.9, 1.0]}


def _prompt_seed(seed: int, prompt_index: int) -> int:
    """Seed base of one prompt: prompts must not share random draws, or their samples correlate."""
    return seed + 10_000 * prompt_index


def _span(values: Sequence[int]) -> str:
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else f"{lo}–{hi}"


def _decode_text(tok: ByteTokenizer, ids: Tensor) -> str:
    return tok.decode(ids.tolist())


@experiment(
    "sampling/grid",
    topic="sampling",
    profiles={
        "quick": {"prompts": 2, **_GRID_QUICK, "samples": 2, "new_tokens": 24, "seed": 0},
        "full": {"prompts": 5, **_GRID_FULL, "samples": 2, "new_tokens": 64, "seed": 0},
    },
    needs=[SHARED_MODEL],
    title="Sample the shared model over a temperature x top-k x top-p grid; entropy vs diversity",
)
def sampling_grid(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Decode every prompt under every grid setting; export the dashboard data and diversity table."""
    torch.manual_seed(cfg["seed"])
    model, tok = load_shared_model(ctx.need(SHARED_MODEL))
    grid = Grid(tuple(cfg["temperatures"]), tuple(cfg["top_ks"]), tuple(cfg["top_ps"]), tok.vocab_size)
    configs, cells = grid.settings()
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
            seed=_prompt_seed(cfg["seed"], i),
        )
        texts.append([[_decode_text(tok, row) for row in dec.tokens[s]] for s in range(len(configs))])
        ent[i] = dec.entropy.mean(dim=(1, 2)).double().numpy()
    rows = []
    for s, c in enumerate(configs):
        div = diversity([texts[i][s] for i in range(len(prompts))])
        rows.append(
            {
                "temperature": c.temperature,
                "top_k": "off" if c.top_k is None or c.greedy else c.top_k,
                "top_p": 1.0 if c.top_p is None or c.greedy else c.top_p,
                "entropy": float(ent[:, s].mean()),
                **div,
            }
        )
    dashboard = {
        "vocab_size": tok.vocab_size,
        "prompts": prompts,
        "logits": [lg.tolist() for lg in logits],
        "grid": {"temperature": grid.temperatures, "top_k": grid.top_ks, "top_p": grid.top_ps},
        "cells": cells,
        "continuations": texts,
        "new_tokens": cfg["new_tokens"],
    }

    def cell(t: float, k: int | None, p: float) -> int:
        it, ik, ip = grid.nearest(t, k, p)
        return cells[it][ik][ip]

    def pick(t: float, k: int | None, p: float) -> dict[str, Any]:
        return rows[cell(t, k, p)]

    t1 = pick(1.0, None, 1.0)
    highlight = []
    for t in grid.temperatures:
        r = pick(t, None, 1.0)
        highlight.append({"setting": f"T={t:g}", **_fmt_row(r)})
    for k in grid.top_ks:
        if k is not None:
            r = pick(1.0, k, 1.0)
            highlight.append({"setting": f"T={r['temperature']:g}, k={k}", **_fmt_row(r)})
    for p in grid.top_ps:
        if p < 1.0:
            r = pick(1.0, None, p)
            highlight.append({"setting": f"T={r['temperature']:g}, p={p:g}", **_fmt_row(r)})
    ents = [r["entropy"] for r in rows]
    d2s = [r["distinct_2"] for r in rows]
    return {
        "dashboard": dashboard,
        "rows": rows,
        "highlight": highlight,
        "highlight_table": _as_table(highlight),
        "t1": t1,
        "greedy": rows[cells[0][0][0]] if grid.temperatures[0] == 0.0 else t1,
        "n_settings": len(configs),
        "corr_entropy_distinct2": float(np.corrcoef(ents, d2s)[0, 1]) if len(rows) > 2 else 0.0,
        "example_t1": texts[0][cell(1.0, None, 1.0)][0],
    }


def _as_table(rows: list[dict[str, Any]], first: tuple[str, ...] = ("setting",)) -> dict[str, list[Any]]:
    """``{"columns", "rows"}`` form of row dicts, columns ``first`` then in insertion order.

    The result cache stores JSON with sorted keys, so a list of row dicts loses its column order; this
    form keeps it for ``lab.table``.
    """
    if not rows:
        return {"columns": [], "rows": []}
    columns = [c for c in first if c in rows[0]] + [c for c in rows[0] if c not in first]
    return {"columns": columns, "rows": [[r[c] for c in columns] for r in rows]}


def _fmt_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "entropy (nats)": round(r["entropy"], 3),
        "distinct-1": round(r["distinct_1"], 3),
        "distinct-2": round(r["distinct_2"], 3),
        "self-similarity": round(r["self_similarity"], 3),
        "repeated 3-grams": round(r["rep_3"], 3),
    }


@experiment(
    "sampling/greedy",
    topic="sampling",
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
def sampling_greedy(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Where greedy continuations start to loop, and how repetition falls as temperature rises."""
    torch.manual_seed(cfg["seed"])
    model, tok = load_shared_model(ctx.need(SHARED_MODEL))
    prompts = list(PROMPTS[: cfg["prompts"]])
    length = cfg["greedy_tokens"]
    temps = list(cfg["temperatures"])
    configs = [SamplingConfig(temperature=t) for t in temps]
    greedy_rows, seen, examples = [], [], []
    loop_units: list[str] = []
    rep = np.zeros((len(prompts), len(temps)))
    looped = np.zeros((len(prompts), len(temps)))
    for i, prompt in enumerate(ctx.progress(prompts, total=len(prompts), desc="prompts")):
        ids = tok.encode(prompt)
        dec = decode_settings(
            model,
            ids,
            configs,
            n_samples=cfg["samples"],
            max_new_tokens=length,
            seed=_prompt_seed(cfg["seed"], i),
        )
        for j in range(len(temps)):
            samples = dec.tokens[j].tolist()
            rep[i, j] = np.mean([repeated_ngram_rate(tok.decode(s).split(), 3) for s in samples])
            looped[i, j] = np.mean([loop_stats(s).looped for s in samples])
        g = dec.tokens[temps.index(0.0)][0].tolist() if 0.0 in temps else dec.tokens[0][0].tolist()
        st = loop_stats(g)
        seen.append(seen_before(g, 8))
        greedy_rows.append(
            {
                "prompt": prompt,
                "loop start (byte)": st.start,
                "period (bytes)": st.period,
                "repeats": round(st.repeats, 1),
                "repeated 8-byte grams": round(float(repeated_ngram_rate(g, 8)), 3),
                "repeated word 3-grams": round(float(repeated_ngram_rate(tok.decode(g).split(), 3)), 3),
                "unit": repr(tok.decode(g[st.start : st.start + st.period])) if st.looped else "",
            }
        )
        if st.looped:
            loop_units.append(tok.decode(g[st.start : st.start + st.period]))
            unit = greedy_rows[-1]["unit"]
            examples.append(f"{prompt}{tok.decode(g[: st.start])}⟦LOOP: {unit} × {st.repeats:g}⟧")
        else:
            examples.append(prompt + tok.decode(g))
    loops = [r for r in greedy_rows if r["period (bytes)"] > 0]
    blank = bool(loop_units) and all(u.isspace() for u in loop_units)
    i0, i1 = nearest_index(temps, 0.0), nearest_index(temps, 1.0)
    if loops:
        units = sorted({r["unit"] for r in loops})
        verdict = (
            f"{len(loops)} of {len(greedy_rows)} greedy continuations end in a loop. The loops start after "
            f"{_span([r['loop start (byte)'] for r in loops])} bytes and repeat "
            f"{'the unit' if len(units) == 1 else 'the units'} {', '.join(units[:4])} "
            f"({_span([r['period (bytes)'] for r in loops])} "
            f"{'byte' if max(r['period (bytes)'] for r in loops) == 1 else 'bytes'}) to the end."
        )
        if blank:
            verdict += (
                " Every loop is a run of whitespace: from its start on, the arg-max after each space is another"
                " space, so greedy decoding never leaves it."
            )
    else:
        verdict = f"None of the {len(greedy_rows)} greedy continuations ends in a loop within {length} bytes."
    return {
        "verdict": verdict,
        "rep3_t0": float(rep[:, i0].mean()),
        "rep3_t1": float(rep[:, i1].mean()),
        "looped_t0": float(looped[:, i0].mean()),
        "looped_t1": float(looped[:, i1].mean()),
        "greedy": greedy_rows,
        "greedy_table": _as_table(greedy_rows, first=("prompt",)),
        "loop_fraction_greedy": len(loops) / len(greedy_rows),
        "mean_loop_start": float(np.mean([r["loop start (byte)"] for r in loops])) if loops else -1.0,
        "median_period": float(np.median([r["period (bytes)"] for r in loops])) if loops else 0.0,
        "seen": np.stack(seen),
        "loop_starts": [r["loop start (byte)"] for r in greedy_rows],
        "temperatures": temps,
        "rep3": rep.mean(axis=0),
        "looped": looped.mean(axis=0),
        "example": examples[0],
        "examples": "\n\n".join(examples),
    }


# --------------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------------


@figure("sampling/grid", "entropy-diversity", caption="Entropy of the sampling distribution vs diversity")
def _fig_entropy_diversity(res: Result):
    import matplotlib.pyplot as plt

    rows = res["rows"]
    ent = np.array([r["entropy"] for r in rows])
    temps = np.array([r["temperature"] for r in rows])
    fig, axes = plt.subplots(1, 3, figsize=(11.0, 3.6), sharex=True, layout="constrained")
    for ax, key, label in (
        (axes[0], "distinct_1", "distinct-1 (words)"),
        (axes[1], "distinct_2", "distinct-2 (word bigrams)"),
        (axes[2], "self_similarity", "self-similarity (char 4-gram Jaccard)"),
    ):
        y = np.array([r[key] for r in rows])
        sc = ax.scatter(ent, y, c=temps, cmap="viridis", s=18, vmin=0, vmax=max(2.0, temps.max()))
        ax.set_xlabel("mean entropy per step (nats)")
        ax.set_ylabel(label)
    fig.colorbar(sc, ax=axes, label="temperature")
    axes[0].set_title("unique words / all words", fontsize=9)
    axes[1].set_title("unique bigrams / all bigrams", fontsize=9)
    axes[2].set_title("overlap between two samples", fontsize=9)
    return fig


@figure("sampling/grid", "filters", caption="Next-byte distribution of one prompt under four settings")
def _fig_filters(res: Result):
    import matplotlib.pyplot as plt

    dash = res["dashboard"]
    logits = torch.tensor(dash["logits"][0], dtype=torch.float64)  # (V,)
    order = torch.sort(logits, descending=True, stable=True).indices[:16].tolist()
    settings = [
        ("T=1", SamplingConfig(1.0)),
        ("T=0.5", SamplingConfig(0.5)),
        ("T=1.5, k=5", SamplingConfig(1.5, top_k=5)),
        ("T=1, p=0.8", SamplingConfig(1.0, top_p=0.8)),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(10.0, 3.2), sharey=True, layout="constrained")
    for ax, (name, c) in zip(axes, settings, strict=True):
        probs = filtered_probs(logits, c)
        ax.bar(range(len(order)), probs[order].numpy())
        ax.set_xticks(range(len(order)), [byte_label(b) for b in order], fontsize=7)
        h = float(entropy(probs))
        ax.set_title(f"{name}\nH={h:.2f} nats, {int((probs > 0).sum())} kept", fontsize=9)
        ax.grid(axis="x", visible=False)
    axes[0].set_ylabel("probability")
    fig.suptitle(f"after {dash['prompts'][0]!r}", fontsize=9)
    return fig


@figure(
    "sampling/greedy", "loops", caption="Greedy continuations: repeated 8-byte grams and where loops start"
)
def _fig_loops(res: Result):
    import matplotlib.pyplot as plt

    seen = np.asarray(res["seen"])
    fig, ax = plt.subplots(figsize=(8.0, 0.5 + 0.45 * seen.shape[0]))
    ax.imshow(seen, aspect="auto", cmap="Greys", interpolation="nearest", vmin=0, vmax=1.4)
    for i, s in enumerate(res["loop_starts"]):
        if s >= 0:
            ax.plot([s - 0.5, s - 0.5], [i - 0.45, i + 0.45], color="#d01884", lw=2.5)
    ax.set_yticks(range(seen.shape[0]), [r["prompt"].strip() for r in res["greedy"]], fontsize=8)
    ax.set_xlabel(
        "byte position in the greedy continuation (dark: this 8-gram occurred before; pink: loop start)"
    )
    ax.grid(False)
    return fig


@figure("sampling/greedy", "repetition-vs-temperature", caption="Repetition vs temperature")
def _fig_repetition(res: Result):
    import matplotlib.pyplot as plt

    temps = res["temperatures"]
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    ax.plot(temps, res["rep3"], marker="o", label="repeated word 3-grams")
    ax.plot(temps, res["looped"], marker="s", label="fraction ending in a loop")
    ax.set_xlabel("temperature (no top-k / top-p)")
    ax.set_ylabel("rate")
    ax.set_ylim(-0.03, 1.03)
    ax.legend()
    return fig
