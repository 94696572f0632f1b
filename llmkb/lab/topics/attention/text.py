"""Page prose of the attention topic, computed from measured values (the page quotes it with ``lab.text``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from llmkb.lab.kit import count_of, fmt, join_names
from llmkb.lab.topics.attention.names import KINDS, THRESHOLDS

__all__ = [
    "gradient_note",
    "division_note",
    "head_notes",
    "induction_note",
    "query_note",
    "query_scale_note",
    "scaled_range_note",
    "scaling_summary",
]

Row = Mapping[str, Any]


def _heads_of_kind(k: int, n: int, kind: str) -> str:
    """``"1 of the 16 heads is a local head"``, ``"all 16 heads are local heads"``, with the right article."""
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{count_of(k, n, 'head', verb=('is', 'are'))} {f'{article} {kind} head' if k == 1 else f'{kind} heads'}"


def _kind_note(rows: Sequence[Row], kind: str, key: str, what: str) -> str:
    """How many heads got ``kind`` and how strongly, or the strongest head on ``key`` when none did."""
    n = len(rows)
    found = [r for r in rows if r["kind"] == kind]
    counted = _heads_of_kind(len(found), n, kind)
    if len(found) == 1:
        r = found[0]
        return f"{counted}: {r['head']} puts {fmt(r[key], '.2f')} of each query's attention on {what}."
    if found:
        mean = float(np.mean([r[key] for r in found]))
        top = max(found, key=lambda r: r[key])
        return (
            f"{counted} ({join_names([r['head'] for r in found])}): "
            f"on average they put {fmt(mean, '.2f')} of each query's attention on {what}; the strongest, "
            f"{top['head']}, puts {fmt(top[key], '.2f')} there."
        )
    best = max(rows, key=lambda r: r[key])
    return (
        f"No head is {'an' if kind[0] in 'aeiou' else 'a'} {kind} head: the largest mean weight on {what} is "
        f"{fmt(best[key], '.2f')} ({best['head']}, labelled {best['kind']})."
    )


def induction_note(rows: Sequence[Row], uniform: float) -> str:
    """The induction verdict: which heads copy from the earlier occurrence, against a uniform head's score."""
    where = "of its attention to the letter that followed the earlier copy of the current letter"
    found = [r for r in rows if r["kind"] == "induction"]
    best = max(rows, key=lambda r: r["induction"])
    u = fmt(uniform, ".3f")
    if found:
        top = max(found, key=lambda r: r["induction"])
        counted = _heads_of_kind(len(found), len(rows), "induction")
        return (
            f"{counted[0].upper()}{counted[1:]} ({join_names([r['head'] for r in found])}): on a random letter "
            f"string repeated twice, {top['head']} sends {fmt(top['induction'], '.2f')} {where} (a uniform head "
            f"would send {u})."
        )
    if best["induction"] >= THRESHOLDS["induction"]:
        return (
            f"On a random letter string repeated twice, {best['head']} sends {fmt(best['induction'], '.2f')} "
            f"{where} (uniform: {u}), but on the sentence its {best['kind']} pattern is stronger, so that "
            "is its label."
        )
    verdict = (
        f"a weak copying tendency, below the {THRESHOLDS['induction']} threshold of an induction head"
        if best["induction"] >= 3 * uniform
        else "no head copies from the earlier occurrence"
    )
    return (
        f"On a random letter string repeated twice, the largest induction score is "
        f"{fmt(best['induction'], '.3f')} ({best['head']}), against {u} for a uniform head: {verdict}."
    )


def division_note(rows: Sequence[Row], n_layers: int) -> str:
    """Whether heads of one layer got different labels (a division of labour), layer by layer."""
    kinds = {li: sorted({str(r["kind"]) for r in rows if r["layer"] == li}) for li in range(n_layers)}
    mixed = [f"layer {li} ({join_names(k)})" for li, k in kinds.items() if len(k) > 1]
    if mixed:
        return f"in the shared model, heads of one layer got different labels in {join_names(mixed)}."
    return (
        "in the shared model, all heads of each layer got the same label, so these measurements show no "
        "division of labour within a layer here."
    )


def head_notes(
    rows: Sequence[Row], n_layers: int, induction_uniform: float, space_uniform: float, window: int = 4
) -> dict[str, str]:
    """Sentences for the page from the per-head rows (``head``, ``layer``, ``kind`` and the scores).

    Args:
        rows: one row per head with ``prev``, ``first``, ``self``, ``local``, ``space``, ``induction``,
            ``entropy``.
        n_layers: number of layers.
        induction_uniform: a uniform head's induction score.
        space_uniform: a uniform head's mean weight on the spaces.
        window: the width of the ``local`` score.

    Returns:
        ``summary``, ``prev``, ``first``, ``self``, ``boundary``, ``local``, ``induction``, ``layers``,
        ``division``.
    """
    per_layer = [float(np.mean([r["entropy"] for r in rows if r["layer"] == li])) for li in range(n_layers)]
    sharp, broad = int(np.argmin(per_layer)), int(np.argmax(per_layer))
    layers = (
        "Mean normalized entropy per layer: "
        + ", ".join(f"layer {i} {fmt(e, '.2f')}" for i, e in enumerate(per_layer))
        + f"; layer {sharp} is the sharpest, layer {broad} the most diffuse."
    )
    counts = {k: sum(r["kind"] == k for r in rows) for k in KINDS}
    summary = ", ".join(f"{k} {c}" for k, c in counts.items() if c)
    spaces = f"the spaces between words (a uniform head: {fmt(space_uniform, '.2f')})"
    return {
        "prev": _kind_note(rows, "previous-token", "prev", "the byte just before it"),
        "first": _kind_note(rows, "first-token", "first", "the first byte of the sentence"),
        "self": _kind_note(rows, "self", "self", "itself"),
        "boundary": _kind_note(rows, "word-boundary", "space", spaces),
        "local": _kind_note(rows, "local", "local", f"the last {window} bytes (itself included)"),
        "induction": induction_note(rows, induction_uniform),
        "layers": layers,
        "division": division_note(rows, n_layers),
        "summary": f"Labels over the {len(rows)} heads: {summary}.",
    }


def query_note(res: Row, tokens: Sequence[str], n_heads: int, top: int = 3) -> str:
    """The walk-through of one query in words: which head, its scores, its top keys, the check.

    Args:
        res: a :func:`~llmkb.lab.topics.attention.analysis_probe.query_walkthrough` result.
        tokens: a label per position of the sentence.
        n_heads: heads in the model (all layers).
        top: how many keys to name.
    """
    t, w, s = int(res["t"]), np.asarray(res["weights"]), np.asarray(res["scores"])
    order = np.argsort(-w, kind="stable")[:top]
    keys = join_names([f"“{tokens[j]}” at {j} ({fmt(w[j], '.2f')})" for j in order])
    ent = float(np.asarray(res["entropies"])[res["layer"]][res["head"]])
    return (
        f"The query is the byte “{tokens[t]}” at position {t}, in head L{res['layer']}H{res['head']}, the sharpest of "
        f"the {n_heads} heads at this query (normalized entropy {fmt(ent, '.2f')}). Its {t + 1} scores "
        f"q·k/√{res['head_dim']} run from {fmt(s.min(), '.2f')} to {fmt(s.max(), '.2f')}; the softmax turns them "
        f"into weights whose top {len(order)} keys, {keys}, carry {fmt(w[order].sum(), '.2f')} of the total. The output is the "
        f"weighted sum of the {t + 1} value vectors; recomputed here from the head's own q, k, v it matches "
        f"the model's weights {_within(res['weights_diff'])} and its head output {_within(res['output_diff'])}."
    )


def query_scale_note(res: Row) -> str:
    """What the ``1/sqrt(d)`` does to this one query: the spread of its dot products and the top weight with
    and without the division (a result of
    :func:`~llmkb.lab.topics.attention.analysis_probe.query_walkthrough`)."""
    d = int(res["head_dim"])
    top = float(np.max(res["weights"]))
    return (
        f"Before the division, this query's dot products q·k have standard deviation {fmt(res['dots_std'], '.2f')}; "
        f"the model divides them by √{d} = {fmt(d**0.5, '.2f')}, as it did in training. Left undivided, the same "
        f"dot products would give the top key {fmt(res['max_weight_unscaled'], '.2f')} of the weight instead of "
        f"{fmt(top, '.2f')}."
    )


def _within(gap: float) -> str:
    return "exactly" if gap == 0 else f"to within {fmt(gap, '.0e')}"


def _by_d(rows: Sequence[Row]) -> dict[int, Row]:
    return {int(r["d"]): r for r in rows}


def scaling_summary(rows: Sequence[Row], widths: Mapping[int, str], n_keys: int) -> str:
    """Top weight and effective keys at real head widths ``widths`` (``d`` → who uses it), raw vs scaled."""
    by = _by_d(rows)
    ds = [d for d in sorted(widths) if d in by]
    if not ds:
        raise ValueError(f"none of the widths {sorted(widths)} was measured (have {sorted(by)})")
    where = join_names([f"d = {d} ({widths[d]})" for d in ds])

    def listed(key: str, spec: str) -> str:
        return join_names([fmt(by[d][key], spec) for d in ds])

    return (
        f"At {where}, a random query without the 1/√d puts {listed('max_raw', '.2f')} of its weight on its "
        f"top key, spread over {listed('keys_raw', '.1f')} keys in effect out of {n_keys}. With the 1/√d "
        f"the top key takes {listed('max_scaled', '.3f')}, and {listed('keys_scaled', '.0f')} keys share "
        "the weight."
    )


def scaled_range_note(rows: Sequence[Row]) -> str:
    """How far the scaled and the unscaled normalized entropies move across the widths measured."""
    ds = [int(r["d"]) for r in rows]
    sc = [float(r["entropy_scaled"]) for r in rows]
    raw = [float(r["entropy_raw"]) for r in rows]
    if all(b < a for a, b in zip(raw, raw[1:], strict=False)):
        falls = "falls at every step"
    else:
        falls = "falls overall" if raw[-1] < raw[0] else "does not fall"
    return (
        f"From d = {ds[0]} to d = {ds[-1]} the scaled softmax's normalized entropy stays between "
        f"{fmt(min(sc), '.3f')} and {fmt(max(sc), '.3f')}, while the unscaled one {falls}, from "
        f"{fmt(raw[0], '.3f')} to {fmt(raw[-1], '.3f')}."
    )


def gradient_note(rows: Sequence[Row]) -> str:
    """Where the softmax Jacobian norm is larger: unscaled or scaled, width by width."""
    larger = [int(r["d"]) for r in rows if r["grad_raw"] > r["grad_scaled"]]
    last = rows[-1]
    pair = f"{fmt(last['grad_raw'], '.3f')} unscaled vs {fmt(last['grad_scaled'], '.3f')} scaled at d = {last['d']}"
    if len(larger) == len(rows):
        where = "at every width measured"
    elif not larger:
        where = "at no width measured"
    else:
        where = f"at d = {join_names([str(d) for d in larger])} and smaller at the other widths"
    return f"The Frobenius norm of the softmax Jacobian is larger unscaled {where} ({pair})."
