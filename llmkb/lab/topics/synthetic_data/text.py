"""Page prose of the synthetic-data lab, computed from its numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmkb.data.clean import CleanReport
from llmkb.lab import kit
from llmkb.lab.topics.synthetic_data.analysis import VOCAB_WORDS


def setting_name(temperature: float, top_p: float | None) -> str:
    """``T 0.7`` or ``T 1, top-p 0.9``: one sampling setting as a row label."""
    name = f"T {kit.fmt(temperature, 'g')}"
    return name if top_p is None else f"{name}, top-p {kit.fmt(top_p, 'g')}"


def mean_sd(s: Mapping[str, float], spec: str = ".3f") -> str:
    """``2.412 ± 0.013`` over several seeds, the value alone for one."""
    v = kit.fmt(s["mean"], spec)
    return v if s.get("n", 1) < 2 else f"{v} ± {kit.fmt(s['sd'], spec)}"


def pct(x: float) -> str:
    """A share as a percentage with no decimals: ``42 %``."""
    return f"{kit.fmt(100 * x, '.0f')} %"


def stats_row(source: str, s: Mapping[str, float], label: str = "source") -> dict[str, Any]:
    """One row of the statistics table (``label`` names the first column)."""
    return {label: source, "documents": int(s["docs"]), "mean characters": round(s["chars"]),
            "mean words": round(s["words"]), f"distinct words in {VOCAB_WORDS}": int(s["vocab"]),
            "byte entropy (bits)": round(s["h1"], 2), "next-byte entropy (bits)": round(s["h2"], 2)}  # fmt: skip


def clean_row(source: str, rep: CleanReport, rules: Sequence[str]) -> dict[str, Any]:
    """Documents, share kept and documents removed by each rule, for one source."""
    return {"source": source, "documents": rep.seen, "kept": pct(rep.kept / rep.seen),
            **{r.replace("_", " "): rep.removed[r] for r in rules}}  # fmt: skip


def clean_phrase(kept: Mapping[str, float]) -> str:
    """Which source the rules keep most of and which least."""
    order = sorted(kept, key=lambda k: kept[k])
    lo, hi = order[0], order[-1]
    return (f"The Gopher rules keep {pct(kept[hi])} of the {hi} documents and {pct(kept[lo])} of the {lo} "
            f"documents.")  # fmt: skip


def dedup_rows(m: Mapping[str, float]) -> list[dict[str, Any]]:
    """The dedup measurements as (measure, value) rows."""
    return [
        {"measure": "planted pairs at or above the threshold (truth)", "value": int(m["truth"])},
        {"measure": "pairs found (candidates verified by the signature)", "value": int(m["found"])},
        {"measure": "precision against the true Jaccard", "value": kit.fmt(m["precision"], ".3f")},
        {"measure": "recall of the planted pairs above the threshold", "value": kit.fmt(m["recall"], ".3f")},
        {"measure": "recall of all planted pairs", "value": kit.fmt(m["recall_all_planted"], ".3f")},
        {"measure": "planted exact copies found by the normalised hash", "value": f"{int(m['exact_planted_found'])} of {int(m['exact_planted'])}"},
        {"measure": "exact duplicates in the whole corpus (planted or not)", "value": int(m["exact_found"])},
        {"measure": "candidate pairs shared with datasketch (of ours)", "value": kit.fmt(m["vs_datasketch_precision"], ".3f")},
        {"measure": "candidate pairs shared with datasketch (of theirs)", "value": kit.fmt(m["vs_datasketch_recall"], ".3f")},
    ]  # fmt: skip


def dedup_phrase(m: Mapping[str, float], threshold: float) -> str:
    """Precision and recall in one sentence."""
    return (f"Of the {int(m['found'])} pairs found, {pct(m['precision'])} truly have a Jaccard similarity of at "
            f"least {kit.fmt(threshold, 'g')}, and {pct(m['recall'])} of the {int(m['truth'])} planted pairs "
            f"above that similarity were found.")  # fmt: skip


def cost_rows(cost: Sequence[Mapping[str, float]]) -> list[dict[str, Any]]:
    """Time and memory per corpus size."""
    return [{"documents": int(c["docs"]), "signatures (s)": kit.fmt(c["signature_s"], ".3f"),
             "LSH (s)": kit.fmt(c["lsh_s"], ".3f"), "µs per document": kit.fmt(1e6 * (c["signature_s"] + c["lsh_s"]) / c["docs"], ".0f"),
             "signatures (MiB)": kit.fmt(c["signature_bytes"] / 2**20, ".2f"),
             "LSH index peak (MiB)": kit.fmt(c["index_bytes"] / 2**20, ".2f")} for c in cost]  # fmt: skip


def mixture_row(r: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the mixtures table."""
    return {"synthetic share": pct(r["fraction"]), "held-out real loss": mean_sd(r["real"]),
            "held-out synthetic loss": mean_sd(r["synthetic"]), "task answer loss": mean_sd(r["task"])}  # fmt: skip


def _separated(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """True when the two seed ranges do not overlap (and there are at least 3 seeds each)."""
    return a.get("n", 1) >= 3 and b.get("n", 1) >= 3 and (a["max"] < b["min"] or b["max"] < a["min"])


def mixture_phrase(rows: Sequence[Mapping[str, Any]]) -> str:
    """Which mixture is best on real text and on the tasks, and whether the seeds separate it from the next."""
    parts = []
    for key, what in (("real", "held-out real text"), ("task", "the task answers")):
        order = sorted(rows, key=lambda r: r[key]["mean"])
        best, second = order[0], order[1]
        sep = _separated(best[key], second[key])
        n = best[key].get("n", 1)
        if n < 3:
            how = f"from {kit.plural(n, 'run')} per mix, too few to rank the mixes"
        elif sep:
            how = f"and no seed of the {pct(second['fraction'])} mix does as well"
        else:
            how = f"but within the spread of {kit.plural(n, 'seed')} of the {pct(second['fraction'])} mix"
        parts.append(f"on {what} the {pct(best['fraction'])} synthetic mix has the lowest loss "
                     f"({mean_sd(best[key])} nats), {how}")  # fmt: skip
    s = "; ".join(parts)
    return s[0].upper() + s[1:] + "."


def collapse_row(r: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the collapse table."""
    return {"generation": r["generation"], "held-out real loss": mean_sd(r["real"]),
            "tail share of its training text": mean_sd(r["tail"], ".4f"),
            "distinct bytes in it": mean_sd(r["distinct"], ".0f")}  # fmt: skip


def collapse_phrase(rows: Sequence[Mapping[str, Any]]) -> str:
    """How the real loss and the tail share moved from generation 0 to the last (and any dip in between)."""
    first, last = rows[0], rows[-1]
    d = last["real"]["mean"] - first["real"]["mean"]

    def share(r: Mapping[str, Any]) -> str:
        return f"{kit.fmt(100 * r['tail']['mean'], '.2f')} %"

    tail = (f"the rare bytes' share of the training text went from {share(first)} in generation 0 to "
            f"{share(last)} in generation {last['generation']}")  # fmt: skip
    middle = rows[1:-1]
    if middle:
        low = min(middle, key=lambda r: r["tail"]["mean"])
        if low["tail"]["mean"] < min(first["tail"]["mean"], last["tail"]["mean"]):
            tail += f", after falling to {share(low)} in generation {low['generation']}"
    sep = " (the seeds' ranges do not overlap)" if _separated(first["real"], last["real"]) else ""
    return (f"After {kit.plural(last['generation'], 'generation')} of training on its own samples, the held-out "
            f"real loss is {kit.gap_phrase(d)} generation 0's{sep}, and {tail}.")  # fmt: skip
