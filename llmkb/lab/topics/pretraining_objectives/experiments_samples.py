"""Sample quality objective × task, scored exactly; each model off its own job; attention maps of masks and heads."""

from __future__ import annotations

from typing import Any

import torch

from llmkb.data.objectives import MASK_ID, bidirectional_mask, prefix_lm_mask
from llmkb.infer.mask_fill import decode, fill_masks, mlm_left_to_right
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.evals import eval_windows, per_position_loss, seed_stats
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.lab.topics.pretraining_objectives import text
from llmkb.lab.topics.pretraining_objectives.analysis import eval_pairs, exact_match, span_accuracy
from llmkb.lab.topics.pretraining_objectives.experiments_train import model_dir, training_ids
from llmkb.lab.topics.pretraining_objectives.names import OBJECTIVE_NAMES, TASKS, TOPIC, TRAIN
from llmkb.metrics.text import distinct_n_corpus
from llmkb.nn import GPT

#: The rows of the table: each objective used as trained, and the prefix LM given an empty prefix.
RUNS: tuple[tuple[str, str], ...] = (
    ("clm", "causal"),
    ("mlm", "fill"),
    ("prefix", "prefix"),
    ("prefix", "causal"),
)


def _name(objective: str, mode: str) -> str:
    return OBJECTIVE_NAMES[objective] + (
        " (empty prefix)" if objective == "prefix" and mode == "causal" else ""
    )


def _continue(
    model: GPT, mode: str, prompt: torch.Tensor, n: int, right: torch.Tensor | None = None
) -> torch.Tensor:
    """``n`` new tokens after ``prompt`` ``(B, P)``; an MLM also reads ``right`` after the masks, if given."""
    if mode != "fill":
        return decode(model, prompt, n, mode=mode)[:, prompt.shape[1] :]
    if right is None:
        return mlm_left_to_right(model, prompt, n, MASK_ID)[:, prompt.shape[1] :]
    masks = torch.full((prompt.shape[0], n), MASK_ID, dtype=torch.long)
    return fill_masks(model, torch.cat([prompt, masks, right], dim=1), MASK_ID)[0][
        :, prompt.shape[1] : prompt.shape[1] + n
    ]


def _enc(s: str) -> torch.Tensor:
    return torch.tensor(list(s.encode()), dtype=torch.long)


def _dec(ids: torch.Tensor) -> str:
    return bytes(int(i) for i in ids.tolist()).decode("utf-8", errors="replace")


def _answers(model: GPT, mode: str, prompts: list[str], answers: list[str]) -> list[str]:
    """Each prompt's answer, decoded in batches of equal prompt and answer length (an MLM gets one mask per byte)."""
    got = [""] * len(prompts)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (p, a) in enumerate(zip(prompts, answers, strict=True)):
        groups.setdefault((len(p), len(a)), []).append(i)
    for (_, n), idx in groups.items():
        batch = torch.stack([_enc(prompts[i]) for i in idx])  # (b, P)
        newline = torch.full((len(idx), 1), ord("\n"), dtype=torch.long)
        for i, row in zip(idx, _continue(model, mode, batch, n, newline), strict=True):
            got[i] = _dec(row)
    return got


def _scores(model: GPT, mode: str, ref: GPT, cfg: dict[str, Any], sets: dict[str, Any]) -> dict[str, Any]:
    """Free generation (reference NLL, distinct-2), cloze accuracy and each task's exact match."""
    P, n, s = cfg["prompt_len"], cfg["new_tokens"], cfg["span"]
    prompts = sets["free"][:, :P]
    gen = _continue(model, mode, prompts, n)
    nll = float(per_position_loss(ref, torch.cat([prompts, gen], dim=1))[P - 1 :].mean())
    left, mid, right = sets["cloze"][:, :P], sets["cloze"][:, P : P + s], sets["cloze"][:, P + s :]
    fill = _continue(model, mode, left, s, right)
    out = {"nll": nll, "distinct": distinct_n_corpus([g.tolist() for g in gen], 2), "cloze": span_accuracy(fill.tolist(), mid.tolist()),
           "sample": _dec(gen[0]), "fill": _dec(fill[0])}  # fmt: skip
    for task in TASKS:
        prompts_t, answers = sets[task]
        got = _answers(model, mode, prompts_t, answers)
        out[task] = exact_match(got, answers)
        out[f"{task}_example"] = got[0]
    return out


def _attention(model: GPT, window: torch.Tensor, mask: torch.Tensor | None) -> list[list[float]]:
    """Attention of the last layer, averaged over heads, on one window ``(1, T)``."""
    attn = model(window, attn_mask=mask, return_attn=True).attn
    assert attn is not None
    return attn[-1][0].mean(0).tolist()  # (T, T)


@TOPIC.experiment(
    "samples",
    profiles={
        "quick": {
            "n_free": 4,
            "prompt_len": 12,
            "new_tokens": 12,
            "span": 4,
            "n_task": 4,
            "map_len": 20,
            "map_prefix": 8,
        },
        "full": {
            "n_free": 16,
            "prompt_len": 12,
            "new_tokens": 20,
            "span": 4,
            "n_task": 40,
            "map_len": 20,
            "map_prefix": 8,
        },
    },
    needs=[TRAIN, SHARED_MODEL],
    title="Sample quality objective × task (reference NLL, distinct-2, cloze, copy/reverse/sort/add), behaviours, attention maps",
)
def samples(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Score every (objective, decoding) of :data:`RUNS` with every seed's model on the same held-out sets."""
    trained = ctx.need(TRAIN)
    ref, _ = load_shared_model(ctx.need(SHARED_MODEL))
    val = training_ids(0)[2]
    P, s = cfg["prompt_len"], cfg["span"]
    sets: dict[str, Any] = {
        "free": eval_windows(val, P + cfg["new_tokens"] - 1, cfg["n_free"], seed=2),
        "cloze": eval_windows(val, 2 * P + s - 1, cfg["n_free"], seed=3),
    }
    for task in TASKS:
        pairs = eval_pairs(task, cfg["n_task"], seed=1)  # inputs never seen in training (sums excepted)
        sets[task] = (["\n" + p for p, _ in pairs], [a for _, a in pairs])
    seeds = trained["config"]["seeds"]
    rows = []
    for objective, mode in RUNS:
        per_seed = []
        for seed in seeds:
            model = GPT.load(model_dir(trained.dir, objective, seed)).eval()
            per_seed.append(_scores(model, mode, ref, cfg, sets))
        metrics = {k: seed_stats([r[k] for r in per_seed]) for k in ("nll", "distinct", "cloze", *TASKS)}
        rows.append({"objective": objective, "mode": mode, "name": _name(objective, mode), "metrics": metrics,
                     "examples": {k: v for k, v in per_seed[0].items() if isinstance(v, str)}})  # fmt: skip
    window = eval_windows(val, cfg["map_len"] - 1, 1, seed=4)
    T, Pm = cfg["map_len"], cfg["map_prefix"]
    masks = {
        "clm": torch.ones(T, T, dtype=torch.bool).tril(),
        "mlm": bidirectional_mask(T),
        "prefix": prefix_lm_mask(T, Pm)[0, 0],
    }
    maps = {}
    for objective in OBJECTIVE_NAMES:
        model = GPT.load(model_dir(trained.dir, objective, seeds[0])).eval()
        maps[objective] = _attention(model, window, None if objective == "clm" else masks[objective])
    table = kit.table([text.table_row(r) for r in rows])
    verdicts = text.task_verdicts(rows)
    return {
        "config": cfg,
        "rows": rows,
        "table": table,
        "seeds_text": kit.plural(len(seeds), "seed"),
        "examples": text.examples_block(rows, _dec(sets["free"][0, :P]), _dec(sets["cloze"][0]), P, s, sets),
        "masks": {k: v.int().tolist() for k, v in masks.items()},
        "maps": maps,
        "map_text": kit.byte_labels(window[0].tolist()),
        "map_prefix": Pm,
        "verdicts": verdicts,
        "verdict_text": " ".join(verdicts.values()),
    }
