"""Page prose computed from numbers: verdicts, comparisons, ranges, the case of the QK circuit.

Pure functions of result values; the page quotes what the experiments return with ``{{ lab.text(...) }}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmkb.lab.kit import count_of, fmt, join_names
from llmkb.lab.topics.transformer_block.analysis import kept_fraction, make_task

__all__ = [
    "circuit_case",
    "compare_phrase",
    "describe_task",
    "number_range",
    "surgery_summary",
    "verdict",
    "verdict_pair",
]

Metrics = Mapping[str, float]


def describe_task(spec: Mapping[str, Any]) -> str:
    """A short English description of a task spec, e.g. ``"sort 10 symbols drawn from 16"``."""
    name = str(spec["name"])
    if name in ("copy", "reverse", "sort"):
        task = make_task(spec)
        return f"{name} {task.length} symbols drawn from {task.n_symbols}"  # type: ignore[attr-defined]
    return f"{name} ({', '.join(f'{k}={v}' for k, v in spec.items() if k != 'name')})"


def _judge(
    metrics: Metrics, baseline: Metrics, chance: Metrics, match: float, fail: float, margin: float
) -> tuple[str, float]:
    """The verdict's kind (``worse``, ``beats``, ``matches``, ``fails``, ``degraded``) and the share kept."""
    kept = kept_fraction(metrics["loss"], baseline["loss"], chance["loss"])
    accuracy_counts = baseline["accuracy"] > 2 * chance["accuracy"]  # else accuracy says nothing here
    if metrics["loss"] > (1.0 + margin) * chance["loss"]:
        return "worse", kept
    if kept >= match and (not accuracy_counts or metrics["accuracy"] >= match * baseline["accuracy"]):
        return ("beats" if kept > 2 - match else "matches"), kept
    if kept <= fail or (accuracy_counts and metrics["accuracy"] <= 2 * chance["accuracy"]):
        return "fails", kept
    return "degraded", kept


def _pct(kept: float) -> str:
    return fmt(100 * max(kept, 0.0), ".0f") + "%"


def verdict(
    metrics: Metrics,
    baseline: Metrics,
    chance: Metrics,
    *,
    match: float = 0.95,
    fail: float = 0.1,
    margin: float = 0.05,
) -> str:
    """A one-phrase reading of a variant's numbers against the baseline and chance.

    With ``kept = (chance - loss) / (chance - baseline)`` the share of the baseline's gain over chance kept:

    * ``worse than chance``: its loss is more than ``margin`` (relative) above the uniform guess's;
    * ``matches the baseline`` (``beats`` when ``kept > 2 - match``): ``kept >= match`` and its accuracy is at
      least ``match`` times the baseline's;
    * ``fails``: ``kept <= fail``, or its accuracy is at most twice chance; the accuracy tests are skipped when
      the baseline's own accuracy is within twice chance;
    * ``degraded`` otherwise. Each phrase carries the measured share kept.

    Args:
        metrics: ``{"loss", "accuracy"}`` of the variant.
        baseline: the same for the baseline.
        chance: ``{"loss", "accuracy"}`` of a uniform guess.
        match: threshold for "matches".
        fail: threshold for "fails".
        margin: relative excess over the chance loss that counts as "worse than chance".
    """
    kind, kept = _judge(metrics, baseline, chance, match, fail, margin)
    gain = f"keeps {_pct(kept)} of the gain over chance" if kept > 0 else "keeps none of the gain over chance"
    if kind == "worse":
        return f"worse than chance (loss {fmt(metrics['loss'], '.2f')} > ln V = {fmt(chance['loss'], '.2f')})"
    if kind in ("beats", "matches"):
        return f"{kind} the baseline ({gain})"
    if kind == "fails":
        return f"fails: accuracy {fmt(metrics['accuracy'], '.0%')}, at chance level ({gain})"
    return f"degraded ({gain})"


def verdict_pair(
    first: tuple[str, Metrics],
    second: tuple[str, Metrics],
    baseline: Metrics,
    chance: Metrics,
    **thresholds: float,
) -> str:
    """The :func:`verdict` of two operations in one phrase, each part said once.

    Two verdicts of the same kind share it (``"both worse than chance (losses 6.42 and 4.16 > ln V =
    2.08)"``, ``"both match the baseline (each keeps 100% of the gain over chance)"``); two different
    ones are named (``"swap_qk matches the baseline and shuffle_heads is degraded, keeping 100% and 28% of the
    gain over chance"``).

    Args:
        first: ``(name, {"loss", "accuracy"})`` of one operation.
        second: the same for the other.
        baseline: ``{"loss", "accuracy"}`` of the baseline.
        chance: the same for a uniform guess.
        thresholds: ``match``, ``fail``, ``margin`` as for :func:`verdict`.
    """
    limits = {"match": 0.95, "fail": 0.1, "margin": 0.05, **thresholds}
    (na, ma), (nb, mb) = first, second
    (ka, kept_a), (kb, kept_b) = (_judge(m, baseline, chance, **limits) for m in (ma, mb))
    ln_v = fmt(chance["loss"], ".2f")
    if max(kept_a, kept_b) <= 0:
        gains = "neither keeps any of the gain over chance"
    elif _pct(kept_a) == _pct(kept_b):
        gains = f"each keeps {_pct(kept_a)} of the gain over chance"
    else:
        gains = f"keeping {_pct(kept_a)} and {_pct(kept_b)} of the gain over chance"
    if ka != kb:
        one = {
            "worse": lambda m: f"is worse than chance (loss {fmt(m['loss'], '.2f')} > ln V = {ln_v})",
            "beats": lambda m: "beats the baseline",
            "matches": lambda m: "matches the baseline",
            "fails": lambda m: f"fails (accuracy {fmt(m['accuracy'], '.0%')}, at chance level)",
            "degraded": lambda m: "is degraded",
        }
        if "worse" in (ka, kb):
            return (
                f"{na} {verdict(ma, baseline, chance, **limits) if ka != 'worse' else one[ka](ma)} and "
                f"{nb} {verdict(mb, baseline, chance, **limits) if kb != 'worse' else one[kb](mb)}"
            )
        return f"{na} {one[ka](ma)} and {nb} {one[kb](mb)}, {gains}"
    if ka == "worse":
        return f"both worse than chance (losses {fmt(ma['loss'], '.2f')} and {fmt(mb['loss'], '.2f')} > ln V = {ln_v})"
    if ka == "fails":
        accuracy = f"{fmt(ma['accuracy'], '.0%')} and {fmt(mb['accuracy'], '.0%')}"
        return f"both fail: accuracy {accuracy}, at chance level ({gains})"
    head = {
        "beats": "both beat the baseline",
        "matches": "both match the baseline",
        "degraded": "both degraded",
    }
    return f"{head[ka]} ({gains})"


def compare_phrase(
    value: float, reference: float, *, tolerance: float = 0.1, lower_is_better: bool = True
) -> str:
    """``"lower"``/``"higher"`` with the relative difference ``(value - reference) / |reference|``, or
    ``"about the same"`` within ``tolerance``.

    Args:
        value: the measured value.
        reference: what it is compared with.
        tolerance: relative difference below which the two count as the same.
        lower_is_better: only used to add ``"(better)"`` / ``"(worse)"``.
    """
    rel = (value - reference) / max(abs(reference), 1e-12)
    if abs(rel) <= tolerance:
        return f"about the same (within {fmt(tolerance, '.0%')})"
    better = (rel < 0) == lower_is_better
    return f"{fmt(abs(rel), '.0%')} {'lower' if rel < 0 else 'higher'} ({'better' if better else 'worse'})"


def surgery_summary(details: Mapping[str, Mapping[str, str]]) -> str:
    """One sentence from the surgery verdicts: how many operations break a trained model, how many a model
    trained with them shrugs off. ``details``: operation -> ``{"after_verdict", "trained_verdict"}``."""
    broken = [op for op, d in details.items() if d["after_verdict"].startswith(("fails", "worse"))]
    kept = [op for op, d in details.items() if d["trained_verdict"].startswith(("matches", "beats"))]
    n = len(details)
    return (
        f"applied after training, {count_of(len(broken), n, 'operation', verb=('leaves', 'leave'))} the model "
        "no better than chance; switched on from the start of training, "
        f"{count_of(len(kept), n, 'operation', verb=('matches or beats', 'match or beat'))} the baseline"
        + (f" ({join_names(kept)})." if kept else ".")
    )


def number_range(values: Sequence[int]) -> str:
    """``"1 to 6"`` for a run of consecutive integers (three or more), else the values listed: ``"1 and 2"``."""
    vals = [int(v) for v in values]
    if len(vals) >= 3 and vals == list(range(vals[0], vals[0] + len(vals))):
        return f"{vals[0]} to {vals[-1]}"
    return join_names([str(v) for v in vals])


def circuit_case(bias: bool, positional: str) -> str:
    """Which form of the QK circuit a configuration has (see ``analysis_circuits``).

    Args:
        bias: the query/key projections have biases.
        positional: the ``GPTConfig.positional`` scheme (``rope`` rotates queries and keys).
    """
    if positional == "alibi":
        return "ALiBi: a fixed distance penalty is added to every score, on top of the circuit"
    if positional == "rope":
        if bias:
            return "RoPE with query/key biases: the b_K terms are rotated too and no longer cancel"
        return "RoPE and no biases: W_Q and W_K enter only through W_Qᵀ R(n−m) W_K, one form per distance"
    where = {"learned": "a learned table", "sinusoidal": "sinusoids", "none": "nothing"}.get(
        positional, positional
    )
    if bias:
        return (
            f"no rotation (positions come from {where} added to the input) and query/key biases: "
            "W_Qᵀ W_K plus the key-side vector W_Kᵀ b_Q; b_K cancels"
        )
    return f"no rotation (positions come from {where} added to the input) and no biases: only W_Qᵀ W_K"
