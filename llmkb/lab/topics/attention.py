"""Experiments of the attention topic: what the shared model's heads do, causality, scaling and memory.

* ``attention/heads``: per-head attention maps of the shared model on one sentence, per-head scores measured
  from those maps (previous-token, first-token, self, entropy, and an induction score on repeated random
  text, Olsson et al. 2022, arXiv 2209.11895), a label per head and the sentences the page prints.
* ``attention/causality``: the norms ``||d logits_t / d embedding_s||`` of the shared model, computed with
  ``torch.autograd``; everything above the diagonal must be exactly zero.
* ``attention/scaling``: entropy of ``softmax(q . k)`` with and without the ``1/sqrt(d)`` of Vaswani et al.
  2017 (arXiv 1706.03762) as the head width ``d`` grows.
* ``attention/memory``: measured bytes of the materialized ``(B, H, T, T)`` weight matrix against those of
  ``q, k, v``, and the FLOPs, as ``T`` grows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from llmkb.lab import Result, RunContext, experiment, figure
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.nn import GPT
from llmkb.nn.attention import causal_mask, scaled_dot_product

__all__ = [
    "SENTENCE",
    "JACOBIAN_CHARS",
    "KINDS",
    "head_scores",
    "induction_scores",
    "classify_head",
    "head_label",
    "jacobian_norms",
    "softmax_saturation",
    "attention_matrix_bytes",
]

SENTENCE = "A list is a mutable sequence, so it can be changed in place."
"""The sentence whose attention maps the page shows (60 bytes: one byte = one token)."""

JACOBIAN_CHARS = 19
"""The Jacobian figure uses the first 19 bytes, ``"A list is a mutable"`` (its cost grows as ``T^2``)."""

KINDS: tuple[str, ...] = (
    "previous-token",
    "first-token",
    "self",
    "word-boundary",
    "induction",
    "local",
    "broad",
    "mixed",
)
"""Labels a head can get, in the order :func:`classify_head` tries them."""

_DEFAULT_THRESHOLDS: dict[str, float] = {
    "focus": 0.4,
    "boundary": 0.5,
    "induction": 0.3,
    "local": 0.7,
    "broad": 0.75,
}


# --------------------------------------------------------------------------------------------------
# measuring heads
# --------------------------------------------------------------------------------------------------


def head_label(layer: int, head: int) -> str:
    """Short name of a head, ``L<layer>H<head>`` (both from 0)."""
    return f"L{layer}H{head}"


def head_scores(
    weights: Tensor, start: int = 2, boundary: Tensor | None = None, window: int = 4
) -> dict[str, np.ndarray]:
    """Per-head averages of where causal attention goes.

    For queries ``t >= start`` (from 2 on, "previous", "first" and "self" are three different keys):

    * ``prev``: mean weight on key ``t - 1``;
    * ``first``: mean weight on key ``0``;
    * ``self``: mean weight on key ``t``;
    * ``local``: mean total weight on the last ``window`` keys ``t - window + 1 .. t``;
    * ``boundary`` (when ``boundary`` is given): mean total weight on the keys it marks (e.g. spaces);
    * ``entropy``: mean of ``H(w_t) / ln(t + 1)``, the entropy of the row over its ``t + 1`` allowed keys
      divided by that of the uniform row (0 = one key, 1 = uniform).

    Args:
        weights: attention weights ``(L, H, T, T)`` (or ``(H, T, T)``), causal rows summing to 1.
        start: first query position averaged over.
        boundary: optional bool ``(T,)`` marking special keys (word boundaries).
        window: width of the ``local`` window.

    Returns:
        ``{"prev", "first", "self", "local", "entropy"}`` (+ ``"boundary"``), each an array ``(L, H)``
        (or ``(H,)``).
    """
    w = weights.detach().double()
    T = w.shape[-1]
    if T <= start:
        raise ValueError(f"need more than start={start} positions, got T={T}")
    t = torch.arange(start, T)  # (n,)
    n = torch.arange(len(t))  # (n,)
    rows = w[..., start:, :]  # (..., n, T)
    keys = torch.arange(T)  # (T,)
    near = (keys[None, :] <= t[:, None]) & (keys[None, :] > t[:, None] - window)  # (n, T)
    plogp = torch.where(rows > 0, rows * rows.clamp_min(1e-300).log(), torch.zeros_like(rows))
    parts = {
        "prev": rows[..., n, t - 1],  # (..., n)
        "first": rows[..., 0],
        "self": rows[..., n, t],
        "local": (rows * near).sum(-1),
        "entropy": -plogp.sum(-1) / torch.log(t.double() + 1.0),
    }
    if boundary is not None:
        parts["boundary"] = (rows * boundary.to(rows.dtype)).sum(-1)
    return {k: v.mean(-1).numpy() for k, v in parts.items()}


def induction_scores(weights: Tensor, period: int) -> np.ndarray:
    """Mean attention from each token of the second copy of a repeated sequence to the token that followed
    its earlier occurrence (key ``t - period + 1``), the prefix-matching score of Olsson et al. 2022
    ("In-context learning and induction heads", arXiv 2209.11895).

    Args:
        weights: ``(..., T, T)`` weights on a sequence whose second half repeats its first (``T = 2 period``).
        period: length of the repeated block.

    Returns:
        Array of the leading shape (e.g. ``(L, H)``); a uniform head scores about ``1 / t``.
    """
    T = weights.shape[-1]
    if T < 2 * period:
        raise ValueError(f"need T >= 2 * period = {2 * period}, got T={T}")
    t = torch.arange(period, 2 * period)  # (period,)
    picked = weights.detach().double()[..., t, t - period + 1]  # (..., period)
    return picked.mean(-1).numpy()


def classify_head(scores: Mapping[str, float], thresholds: Mapping[str, float] | None = None) -> str:
    """Label one head from its scores (see :data:`KINDS`), trying in order:

    1. the strongest of ``prev``, ``first``, ``self``, if at least ``focus`` (0.4): ``previous-token``,
       ``first-token`` or ``self``;
    2. ``boundary`` at least ``boundary`` (0.5): ``word-boundary``;
    3. ``induction`` at least ``induction`` (0.3): ``induction``;
    4. ``local`` at least ``local`` (0.7): ``local``;
    5. normalized ``entropy`` at least ``broad`` (0.75): ``broad``; else ``mixed``.

    Args:
        scores: ``prev``, ``first``, ``self``, ``entropy``; optionally ``boundary``, ``induction``,
            ``local`` (missing ones count as 0).
        thresholds: overrides of the defaults above (keys ``focus``, ``boundary``, ``induction``,
            ``local``, ``broad``).
    """
    th = {**_DEFAULT_THRESHOLDS, **(thresholds or {})}
    focus = {"previous-token": scores["prev"], "first-token": scores["first"], "self": scores["self"]}
    kind, best = max(focus.items(), key=lambda kv: kv[1])
    if best >= th["focus"]:
        return kind
    for name, key in (("word-boundary", "boundary"), ("induction", "induction"), ("local", "local")):
        if scores.get(key, 0.0) >= th[key]:
            return name
    return "broad" if scores["entropy"] >= th["broad"] else "mixed"


# --------------------------------------------------------------------------------------------------
# causality through autograd
# --------------------------------------------------------------------------------------------------


def jacobian_norms(model: GPT, idx: Tensor, chunk: int = 256) -> Tensor:
    """Frobenius norms ``N[t, s] = ||d logits_t / d e_s||`` of a model's Jacobian, with ``e_s`` the token
    embedding fed in at position ``s``, computed exactly with reverse-mode autograd.

    The logits are ``W_U z_t`` (no bias), so each block ``J = d logits_t / d e_s`` lies in the column space
    of ``W_U`` (``V x d``, rank ``<= d``). With ``U`` the ``d`` left singular vectors of ``W_U``,
    ``||J||_F^2 = ||U^T J||_F^2 = sum_i ||u_i^T J||^2``: ``d`` vector-Jacobian products per output position
    give the exact norm instead of ``V``. The products run as one batch: batch element ``b`` carries its
    own copy of the embeddings (swapped in with a forward hook on the embedding table) and the cotangent
    ``u_i`` at position ``t``, so ``T d`` products cost ``T d / chunk`` forward/backward passes.

    Args:
        model: a :class:`~llmkb.nn.GPT` whose LM head has no bias (eval mode switches off dropout).
        idx: token ids ``(1, T)``.
        chunk: products per batched pass.

    Returns:
        ``(T, T)`` float64 tensor, row = output position ``t``, column = input position ``s``. Causal
        attention makes every entry with ``s > t`` exactly zero.
    """
    if idx.dim() != 2 or idx.shape[0] != 1:
        raise ValueError(f"idx must be (1, T), got shape {tuple(idx.shape)}")
    if model.lm_head.bias is not None:
        raise ValueError("jacobian_norms needs an LM head without bias")
    T = idx.shape[1]
    w_u = model.lm_head.weight.detach()  # (V, d)
    basis = torch.linalg.svd(w_u.double(), full_matrices=False).U.to(w_u.dtype)  # (V, r)
    r = basis.shape[1]
    with torch.no_grad():
        emb0 = model.tok_emb(idx)  # (1, T, d)
    pos = torch.arange(T).repeat_interleave(r)  # (T r,) output position of each product
    vec = torch.arange(r).repeat(T)  # (T r,) which singular vector
    sq = torch.zeros(T, T, dtype=torch.float64)
    for c in range(0, T * r, chunk):
        t_b, i_b = pos[c : c + chunk], vec[c : c + chunk]
        n = len(t_b)
        emb = emb0.expand(n, -1, -1).clone().requires_grad_(True)  # (n, T, d)
        handle = model.tok_emb.register_forward_hook(lambda _m, _i, _o: emb)  # noqa: B023
        try:
            logits = model(idx.expand(n, -1)).logits  # (n, T, V)
        finally:
            handle.remove()
        assert isinstance(logits, Tensor)
        cot = torch.zeros_like(logits)  # (n, T, V)
        cot[torch.arange(n), t_b] = basis[:, i_b].T  # (n, V)
        (g,) = torch.autograd.grad(logits, emb, cot)  # (n, T, d): row b = u_i^T d logits_t / d e
        sq.index_add_(0, t_b, g.double().pow(2).sum(-1))  # (n, T) into rows t
    return sq.sqrt()


# --------------------------------------------------------------------------------------------------
# scaling and memory
# --------------------------------------------------------------------------------------------------


def softmax_saturation(dims: list[int], n_keys: int, trials: int, seed: int = 0) -> list[dict[str, float]]:
    """Entropy and peak weight of ``softmax(q . k_j)`` for random unit-variance ``q, k`` of width ``d``.

    With independent ``N(0, 1)`` components, ``q . k`` has variance ``d``: without scaling the scores spread
    as ``sqrt(d)`` and the softmax approaches a one-hot vector; dividing by ``sqrt(d)`` keeps unit variance
    (Vaswani et al. 2017, arXiv 1706.03762, footnote 4).

    Args:
        dims: head widths ``d`` to try.
        n_keys: keys per query.
        trials: queries per width.
        seed: random seed.

    Returns:
        One row per ``d``: ``score_std`` (unscaled), normalized entropies ``entropy_raw``,
        ``entropy_scaled`` (1 = uniform), mean peak weights ``max_raw``, ``max_scaled``, and the mean
        Frobenius norm of the softmax Jacobian ``diag(p) - p p^T`` (``grad_raw``, ``grad_scaled``), which
        goes to zero as the softmax saturates.
    """
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for d in dims:
        q = torch.randn(trials, d, 1, generator=gen)  # (N, d, 1)
        k = torch.randn(trials, n_keys, d, generator=gen)  # (N, K, d)
        raw = torch.bmm(k, q)[..., 0].double()  # (N, K) scores q . k_j
        row: dict[str, float] = {"d": d, "score_std": float(raw.std())}
        for name, s in (("raw", raw), ("scaled", raw / math.sqrt(d))):
            p = torch.softmax(s, dim=-1)  # (N, K)
            ent = -(torch.where(p > 0, p * p.clamp_min(1e-300).log(), torch.zeros_like(p))).sum(-1)
            jac = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # (N, K, K)
            row[f"entropy_{name}"] = float((ent / math.log(n_keys)).mean())
            row[f"max_{name}"] = float(p.max(-1).values.mean())
            row[f"grad_{name}"] = float(jac.flatten(1).norm(dim=-1).mean())
        rows.append(row)
    return rows


def attention_matrix_bytes(batch: int, heads: int, T: int, bytes_per_element: int = 4) -> int:
    """Bytes of one layer's attention weights ``(B, H, T, T)``: ``B H T^2`` elements."""
    return batch * heads * T * T * bytes_per_element


# --------------------------------------------------------------------------------------------------
# experiments
# --------------------------------------------------------------------------------------------------


def _ids(tok: Any, text: str) -> Tensor:
    return torch.tensor([tok.encode(text)], dtype=torch.long)  # (1, T)


def _char_labels(tok: Any, ids: Tensor) -> list[str]:
    out = []
    for i in ids[0].tolist():
        ch = tok.decode([i])
        out.append("\u2423" if ch == " " else ch if ch.isprintable() else f"x{i:02x}")
    return out


def _table(rows: list[dict[str, Any]], columns: list[str], digits: int) -> dict[str, Any]:
    """``{"columns", "rows"}`` (keeps the column order, which a JSON round trip of dicts would sort)."""
    return {
        "columns": columns,
        "rows": [[round(r[c], digits) if isinstance(r[c], float) else r[c] for c in columns] for r in rows],
    }


def _words(tokens: list[str]) -> tuple[list[int], list[str]]:
    """Positions where a word starts and the words, from byte labels (``\u2423`` = space)."""
    text = "".join(" " if t == "\u2423" else t if len(t) == 1 else "?" for t in tokens)
    pos, words = [], []
    for i, ch in enumerate(text):
        if ch != " " and (i == 0 or text[i - 1] == " "):
            pos.append(i)
            words.append(text[i:].split(" ", 1)[0])
    return pos, words


def _join_heads(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _notes(
    rows: list[dict[str, Any]], n_layers: int, induction_uniform: float, space_uniform: float
) -> dict[str, str]:
    """Sentences for the page, derived from the measured per-head rows."""
    n = len(rows)

    def strongest(key: str) -> dict[str, Any]:
        return max(rows, key=lambda r: r[key])

    def kind_note(kind: str, key: str, what: str) -> str:
        found = [r for r in rows if r["kind"] == kind]
        if len(found) == 1:
            r = found[0]
            return (
                f"1 of {n} heads is a {kind} head: {r['head']} puts {r[key]:.2f} of each query's attention "
                f"on {what}."
            )
        if found:
            mean = float(np.mean([r[key] for r in found]))
            top = max(found, key=lambda r: r[key])
            return (
                f"{len(found)} of {n} heads are {kind} heads ({_join_heads([r['head'] for r in found])}): "
                f"on average they put {mean:.2f} of each query's attention on {what}; the strongest, "
                f"{top['head']}, puts {top[key]:.2f} there."
            )
        best = strongest(key)
        return (
            f"No head is a {kind} head: the largest mean weight on {what} is {best[key]:.2f} "
            f"({best['head']}, labelled {best['kind']})."
        )

    ind_best = strongest("induction")
    found_ind = [r for r in rows if r["kind"] == "induction"]
    where = "of its attention to the letter that followed the earlier copy of the current letter"
    if found_ind:
        top = max(found_ind, key=lambda r: r["induction"])
        names = _join_heads([r["head"] for r in found_ind])
        counted = (
            "1 of {n} heads is an induction head"
            if len(found_ind) == 1
            else "{k} of {n} heads are induction heads"
        )
        induction = (
            counted.format(k=len(found_ind), n=n) + f" ({names}): on a random letter string repeated twice, "
            f"{top['head']} sends {top['induction']:.2f} {where} (a uniform head would send "
            f"{induction_uniform:.3f})."
        )
    elif ind_best["induction"] >= _DEFAULT_THRESHOLDS["induction"]:
        induction = (
            f"On a random letter string repeated twice, {ind_best['head']} sends {ind_best['induction']:.2f} "
            f"{where} (uniform: {induction_uniform:.3f}), but on the sentence its {ind_best['kind']} pattern "
            "is stronger, so that is its label."
        )
    else:
        verdict = (
            "a weak copying tendency, below the 0.3 threshold of an induction head"
            if ind_best["induction"] >= 3 * induction_uniform
            else "no head copies from the earlier occurrence"
        )
        induction = (
            f"On a random letter string repeated twice, the largest induction score is "
            f"{ind_best['induction']:.2f} ({ind_best['head']}), against {induction_uniform:.3f} for a uniform "
            f"head: {verdict}."
        )
    per_layer = [float(np.mean([r["entropy"] for r in rows if r["layer"] == li])) for li in range(n_layers)]
    sharp, broad = int(np.argmin(per_layer)), int(np.argmax(per_layer))
    layers = (
        "Mean normalized entropy per layer: "
        + ", ".join(f"layer {i} {e:.2f}" for i, e in enumerate(per_layer))
        + f"; layer {sharp} is the sharpest, layer {broad} the most diffuse."
    )
    counts = {k: sum(r["kind"] == k for r in rows) for k in KINDS}
    summary = ", ".join(f"{k} {c}" for k, c in counts.items() if c)
    return {
        "prev": kind_note("previous-token", "prev", "the byte just before it"),
        "first": kind_note("first-token", "first", "the first byte of the sentence"),
        "self": kind_note("self", "self", "itself"),
        "boundary": kind_note(
            "word-boundary", "space", f"the spaces between words (a uniform head: {space_uniform:.2f})"
        ),
        "local": kind_note("local", "local", "the last four bytes (itself included)"),
        "induction": induction,
        "layers": layers,
        "summary": f"Labels over the {n} heads: {summary}.",
    }


@experiment(
    "attention/heads",
    topic="attention",
    profiles={"quick": {"period": 16, "repeats": 2}, "full": {"period": 32, "repeats": 8}},
    needs=[SHARED_MODEL],
    title="Per-head attention maps of the shared model, measured and labelled",
)
def heads(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Attention maps on :data:`SENTENCE`, per-head scores, induction scores and a label per head."""
    model, tok = load_shared_model(ctx.need(SHARED_MODEL))
    ids = _ids(tok, SENTENCE)
    with torch.no_grad():
        attn = model(ids, return_attn=True).attn
    maps = torch.stack([a[0] for a in attn])  # (L, H, T, T)
    spaces = ids[0] == tok.encode(" ")[0]  # (T,) word boundaries
    scores = head_scores(maps, boundary=spaces)
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
                {
                    "head": head_label(li, h),
                    "layer": li,
                    "prev": s["prev"],
                    "first": s["first"],
                    "self": s["self"],
                    "local": s["local"],
                    "space": s["boundary"],
                    "entropy": s["entropy"],
                    "induction": s["induction"],
                    "kind": classify_head(s),
                }
            )
    T = ids.shape[1]
    uniform = float(np.mean([1.0 / (t + 1) for t in range(2, T)]))
    ind_uniform = float(np.mean([1.0 / (t + 1) for t in range(period, 2 * period)]))
    space_uniform = float(np.mean([float(spaces[: t + 1].double().mean()) for t in range(2, T)]))
    return {
        "sentence": SENTENCE,
        "tokens": _char_labels(tok, ids),
        "maps": maps.numpy(),
        "rows": rows,
        "table": _table(
            rows, ["head", "kind", "prev", "first", "self", "local", "space", "induction", "entropy"], 2
        ),
        "space_uniform": space_uniform,
        "notes": _notes(rows, L, ind_uniform, space_uniform),
        "induction_uniform": ind_uniform,
        "uniform_weight": uniform,
        "n_heads": L * H,
    }


@figure("attention/heads", "maps", caption="Attention weights of every layer (rows) and head (columns)")
def _fig_maps(res: Result):
    import matplotlib.pyplot as plt

    maps = np.asarray(res["maps"])  # (L, H, T, T)
    L, H, T, _ = maps.shape
    starts, words = _words(list(res["tokens"]))  # one tick per word start: 60 byte labels would not fit
    kinds = {r["head"]: r["kind"] for r in res["rows"]}
    fig, axes = plt.subplots(L, H, figsize=(3.1 * H, 3.1 * L), squeeze=False)
    for li in range(L):
        for h in range(H):
            ax = axes[li][h]
            ax.imshow(maps[li, h], cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(f"{head_label(li, h)} · {kinds[head_label(li, h)]}", fontsize=9)
            ax.grid(False)
            ax.set_xticks(starts, words if li == L - 1 else [], fontsize=6, rotation=90)
            ax.set_yticks(starts, words if h == 0 else [], fontsize=6)
            ax.tick_params(length=2, pad=1)
    fig.supxlabel("key (attended-to byte; ticks at word starts)")
    fig.supylabel("query (attending byte)")
    fig.tight_layout()
    return fig


@figure(
    "attention/heads", "examples", caption="The most typical head of each kind found, with bytes on the axes"
)
def _fig_examples(res: Result):
    import matplotlib.pyplot as plt

    maps = np.asarray(res["maps"])
    rows = res["rows"]
    key = {
        "previous-token": "prev",
        "first-token": "first",
        "self": "self",
        "word-boundary": "space",
        "induction": "induction",
        "local": "local",
    }
    picks = []
    for kind, k in key.items():
        found = [r for r in rows if r["kind"] == kind]
        if found:
            picks.append((kind, max(found, key=lambda r: r[k])))
    if not picks:  # nothing specialised: show the sharpest and the broadest head
        picks = [
            ("sharpest", min(rows, key=lambda r: r["entropy"])),
            ("broadest", max(rows, key=lambda r: r["entropy"])),
        ]
    labels = list(res["tokens"])
    T = len(labels)
    ncols = min(3, len(picks))
    nrows = -(-len(picks) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 5.2 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(picks):
            ax.set_visible(False)
            continue
        kind, r = picks[i]
        li, h = int(r["layer"]), int(r["head"].split("H")[1])
        ax.imshow(maps[li, h], cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(f"{r['head']} ({kind})")
        ax.grid(False)
        ax.set_xticks(range(T), labels, fontsize=5.5, rotation=90, family="monospace")
        ax.set_yticks(range(T), labels, fontsize=5.5, family="monospace")
        ax.tick_params(length=0, pad=1)
        if i % ncols == 0:
            ax.set_ylabel("query")
        if i >= len(picks) - ncols:
            ax.set_xlabel("key")
    fig.tight_layout()
    return fig


@experiment(
    "attention/causality",
    topic="attention",
    profiles={"quick": {"n_chars": 4, "chunk": 512}, "full": {"n_chars": JACOBIAN_CHARS, "chunk": 608}},
    needs=[SHARED_MODEL],
    title="Jacobian norms ||d logits_t / d embedding_s|| of the shared model",
)
def causality(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Dependency of every output position on every input position, measured with autograd."""
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
    return {
        "tokens": _char_labels(tok, ids),
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


@figure("attention/causality", "jacobian", caption="log10 ||d logits_t / d embedding_s|| of the shared model")
def _fig_jacobian(res: Result):
    import matplotlib.pyplot as plt

    norms = np.asarray(res["norms"])
    T = norms.shape[0]
    labels = list(res["tokens"])
    shown = np.where(norms > 0, np.log10(np.where(norms > 0, norms, 1.0)), np.nan)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    im = ax.imshow(shown, cmap="magma", interpolation="nearest")
    ax.grid(False)
    fs = 6 if T > 24 else 8
    ax.set_xticks(range(T), labels, fontsize=fs, rotation=90, family="monospace")
    ax.set_yticks(range(T), labels, fontsize=fs, family="monospace")
    ax.tick_params(length=0, pad=1)
    ax.set_xlabel("input position s (embedding)")
    ax.set_ylabel("output position t (logits)")
    ax.set_title(f"blank = exactly 0 (max above diagonal: {res['max_above_diagonal']:.1f})")
    fig.colorbar(im, ax=ax, shrink=0.8, label="log10 norm")
    return fig


@experiment(
    "attention/scaling",
    topic="attention",
    profiles={
        "quick": {"dims": [4, 16, 64, 256, 1024], "n_keys": 64, "trials": 100},
        "full": {"dims": [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], "n_keys": 64, "trials": 500},
    },
    title="Softmax saturation with and without 1/sqrt(d)",
)
def scaling(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Entropy, peak weight and Jacobian norm of softmax over random scores, scaled and unscaled."""
    rows = softmax_saturation(list(cfg["dims"]), int(cfg["n_keys"]), int(cfg["trials"]))
    by_d = {str(r["d"]): r for r in rows}
    cols = [
        "d",
        "score_std",
        "entropy_raw",
        "entropy_scaled",
        "max_raw",
        "max_scaled",
        "grad_raw",
        "grad_scaled",
    ]
    scaled = [r["entropy_scaled"] for r in rows]
    return {
        "rows": rows,
        "by_d": by_d,
        "n_keys": int(cfg["n_keys"]),
        "table": _table(rows, cols, 3),
        "entropy_scaled_min": min(scaled),
        "entropy_scaled_max": max(scaled),
    }


@figure(
    "attention/scaling", "entropy", caption="Softmax of random q·k: normalized entropy and peak weight vs d"
)
def _fig_scaling(res: Result):
    import matplotlib.pyplot as plt

    rows = res["rows"]
    d = [r["d"] for r in rows]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8.4, 3.4))
    a1.plot(d, [r["entropy_scaled"] for r in rows], marker="o", label="q·k / √d")
    a1.plot(d, [r["entropy_raw"] for r in rows], marker="s", label="q·k (unscaled)")
    a1.set_ylabel("entropy / ln(keys)")
    a1.set_ylim(0, 1.05)
    a2.plot(d, [r["max_scaled"] for r in rows], marker="o", label="q·k / √d")
    a2.plot(d, [r["max_raw"] for r in rows], marker="s", label="q·k (unscaled)")
    a2.set_ylabel("mean largest weight")
    a2.set_ylim(0, 1.05)
    for ax in (a1, a2):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("head width d")
    a1.legend()
    fig.tight_layout()
    return fig


@experiment(
    "attention/memory",
    topic="attention",
    profiles={
        "quick": {"lengths": [64, 128, 256], "heads": 4, "head_dim": 32},
        "full": {"lengths": [128, 256, 512, 1024, 2048], "heads": 4, "head_dim": 32},
    },
    title="Attention matrix bytes and FLOPs vs sequence length",
)
def memory(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Measured bytes of the materialized weights (vs the formula and vs q, k, v) and FLOPs per length."""
    H, D = int(cfg["heads"]), int(cfg["head_dim"])
    gen = torch.Generator().manual_seed(0)
    rows = []
    for T in ctx.progress(list(cfg["lengths"]), desc="lengths"):
        q, k, v = (torch.randn(1, H, T, D, generator=gen) for _ in range(3))  # (1, H, T, D)
        with torch.no_grad():
            out, weights = scaled_dot_product(q, k, v, mask=causal_mask(T))  # (1, H, T, D), (1, H, T, T)
            ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # fused: no (T, T) tensor kept
        rows.append(
            {
                "T": T,
                "weights_bytes": int(weights.untyped_storage().nbytes()),
                "formula_bytes": attention_matrix_bytes(1, H, T),
                "qkv_bytes": sum(int(x.untyped_storage().nbytes()) for x in (q, k, v)),
                "gflop": 4 * H * T * T * D / 1e9,  # Q K^T and A V: 2 T^2 D multiply-adds each, per head
                "max_diff_vs_sdpa": float((out - ref).abs().max()),
            }
        )
    logT = np.log([r["T"] for r in rows])
    slope = {
        name: float(np.polyfit(logT, np.log([r[key] for r in rows]), 1)[0])
        for name, key in (("weights", "weights_bytes"), ("qkv", "qkv_bytes"))
    }
    big = {"heads": 32, "T": 4096, "bytes_per_element": 2, "layers": 32}
    per_layer = attention_matrix_bytes(1, big["heads"], big["T"], big["bytes_per_element"])
    return {
        "rows": rows,
        "table": {
            "columns": ["T", "weights (MiB)", "H·T²·4 B (MiB)", "q, k, v (MiB)", "GFLOP (QKᵀ, AV)"],
            "rows": [
                [
                    r["T"],
                    round(r["weights_bytes"] / 2**20, 3),
                    round(r["formula_bytes"] / 2**20, 3),
                    round(r["qkv_bytes"] / 2**20, 3),
                    round(r["gflop"], 4),
                ]
                for r in rows
            ],
        },
        "all_equal": all(r["weights_bytes"] == r["formula_bytes"] for r in rows),
        "max_diff_vs_sdpa": max(r["max_diff_vs_sdpa"] for r in rows),
        "slope": slope,
        "largest": rows[-1],
        "largest_mib": rows[-1]["weights_bytes"] / 2**20,
        "largest_ratio": rows[-1]["weights_bytes"] / rows[-1]["qkv_bytes"],
        "big_model": big
        | {"gib_per_layer": per_layer / 2**30, "gib_all_layers": big["layers"] * per_layer / 2**30},
        "heads": H,
        "head_dim": D,
    }


@figure("attention/memory", "memory", caption="One attention layer: bytes and FLOPs vs sequence length")
def _fig_memory(res: Result):
    import matplotlib.pyplot as plt

    rows = res["rows"]
    T = [r["T"] for r in rows]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8.4, 3.4))
    a1.plot(T, [r["weights_bytes"] / 2**20 for r in rows], marker="o", label="attention weights (B·H·T²)")
    a1.plot(T, [r["qkv_bytes"] / 2**20 for r in rows], marker="s", label="q, k, v (3·B·H·T·D)")
    a1.set_ylabel("MiB (measured tensor storage)")
    a1.legend()
    a2.plot(T, [r["gflop"] for r in rows], marker="o", label="4·H·T²·D")
    a2.set_ylabel("GFLOP per layer")
    a2.legend()
    for ax in (a1, a2):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
    fig.tight_layout()
    return fig
