"""Page prose of the finetuning lab, computed from the numbers it describes."""

from __future__ import annotations

from typing import Any

from llmkb.lab import kit

__all__ = [
    "domain_phrase",
    "dpo_phrase",
    "forgetting_phrase",
    "hacking_phrase",
    "held_out_phrase",
    "masking_phrase",
    "reward_phrase",
]


def domain_phrase(rows: list[dict[str, Any]]) -> str:
    """Full finetuning vs the best LoRA on the new domain, and what each cost on the old one."""
    full, loras = rows[0], rows[1:]
    best = min(loras, key=lambda r: r["new_after"])
    return (
        f"full finetuning lowered the code loss by {kit.fmt(full['gain'], '.3f')} nats and changed the prose loss by "
        f"{kit.fmt(full['forgetting'], '+.3f')}; the best adapter, {best['name']} "
        f"({kit.fmt(best['share'], '.2%')} of the parameters trained), lowered it by {kit.fmt(best['gain'], '.3f')} "
        f"({kit.fmt(best['gain'] / full['gain'], '.0%')} of full finetuning's gain) and changed the prose loss by "
        f"{kit.fmt(best['forgetting'], '+.3f')}"
    )


def forgetting_phrase(rows: list[dict[str, Any]]) -> str:
    """Whether the adapters forgot less of the old domain than full finetuning (rows of ``domain``)."""
    full, loras = rows[0], rows[1:]
    less = [r["name"] for r in loras if r["forgetting"] < full["forgetting"]]
    if len(less) == len(loras):
        return (
            f"{kit.count_of(len(less), len(loras), 'adapter')} forgot less of the prose than full finetuning"
        )
    if not less:
        return "no adapter forgot less of the prose than full finetuning"
    return f"only {kit.join_names(less)} forgot less of the prose than full finetuning"


def masking_phrase(groups: dict[str, dict[str, float]]) -> str:
    """Masked vs unmasked SFT on the training tasks (one run each: the prose claims no more)."""
    m, u = groups["masked"]["train"], groups["unmasked"]["train"]
    if abs(m - u) < 0.02:
        verdict = "about the same exact match"
    else:
        verdict = f"{'higher' if m > u else 'lower'} exact match"
    return (
        f"in this single run, masking the prompt's loss gave {verdict} on the training tasks "
        f"({kit.fmt(m, '.0%')} vs {kit.fmt(u, '.0%')} without masking; {kit.fmt(groups['before']['train'], '.0%')} before tuning)"
    )


def held_out_phrase(groups: dict[str, dict[str, float]]) -> str:
    """How much of the training tasks' exact match carries over to compositions never seen."""
    tr, ho = groups["masked"]["train"], groups["masked"]["held_out"]
    if ho == 0:
        return f"the held-out compositions score 0% (training tasks {kit.fmt(tr, '.0%')}): the prefix did not generalise"
    how = "hardly" if ho < 0.3 * tr else "partly" if ho < 0.8 * tr else "largely"
    return (
        f"the held-out compositions score {kit.fmt(ho, '.0%')} against {kit.fmt(tr, '.0%')} on the training tasks: "
        f"the prefix generalised {how}"
    )


def reward_phrase(accuracy: float, noise: float, n: int) -> str:
    """The reward model's held-out accuracy, against chance and against the label-noise ceiling."""
    return (
        f"the reward model ranks {kit.fmt(accuracy, '.0%')} of {kit.plural(n, 'held-out pair')} the way the judge "
        f"does (chance: 50%), after training on labels {kit.fmt(noise, '.0%')} of which were flipped"
    )


def dpo_phrase(sft: dict[str, float], dpo: dict[str, float]) -> str:
    """DPO's true score against the SFT model it started from."""
    d = dpo["sampled"] - sft["sampled"]
    way = "raised" if d > 0.005 else "lowered" if d < -0.005 else "left"
    tail = (
        "unchanged"
        if way == "left"
        else f"from {kit.fmt(sft['sampled'], '.3f')} to {kit.fmt(dpo['sampled'], '.3f')}"
    )
    return f"DPO {way} the judge's mean score of sampled responses {tail}"


def hacking_phrase(runs: list[dict[str, Any]]) -> str:
    """Where the reward model's score and the judge's score part, as the KL coefficient shrinks."""
    runs = sorted(runs, key=lambda r: -r["beta"])  # strongest penalty first
    parts = [
        f"β = {kit.fmt(r['beta'], 'g')}: reward {kit.fmt(r['reward_gain'], '+.3f')}, true score "
        f"{kit.fmt(r['true_gain'], '+.3f')}"
        for r in runs
    ]
    weakest = runs[-1]
    if weakest["reward_gain"] <= 0:
        return f"{'; '.join(parts)} (start to end of each run, one run per β) — no run raised the reward model's score, so there is no over-optimization to see"
    if weakest["true_gain"] >= weakest["reward_gain"] - 0.05:
        return f"{'; '.join(parts)} (start to end of each run, one run per β) — the judge's score followed the reward model's: no reward hacking at this budget"
    t = weakest["true_gain"]
    judge = "fell" if t < -0.005 else "rose far less" if t > 0.005 else "stayed put"
    verdict = (
        f"with the weakest penalty (β = {kit.fmt(weakest['beta'], 'g')}) the reward model's score rose while the "
        f"judge's {judge}: the policy found what the reward model over-rates"
    )
    rewards, trues = [r["reward_gain"] for r in runs], [r["true_gain"] for r in runs]
    if len(runs) > 2 and rewards == sorted(rewards) and trues == sorted(trues, reverse=True):
        verdict += (
            "; across these runs, the smaller β, the larger the reward model's gain and the lower the judge's"
        )
    return f"{'; '.join(parts)} (start to end of each run, one run per β) — {verdict}"
