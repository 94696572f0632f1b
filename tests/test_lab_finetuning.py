"""The finetuning lab (llmkb/lab/topics/finetuning/) on tiny configs: analysis, prose, the experiment chain, figures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from labkit import assert_figures_draw

from llmkb.lab.cache import Result
from llmkb.lab.kit import table_rows
from llmkb.lab.registry import RunContext, get_experiment
from llmkb.lab.topics.finetuning import analysis as A
from llmkb.lab.topics.finetuning import names as N
from llmkb.lab.topics.finetuning import text as X
from llmkb.lab.topics.finetuning.experiments_reward import load_pairs, load_reward_model
from llmkb.lab.topics.finetuning.experiments_sft import load_sft
from llmkb.nn import GPT, GPTConfig


def test_analysis():
    s = A.method_summary("LoRA r=1", 10, 1000, {"step": [0, 5], "new": [2.0, 1.5], "old": [1.2, 1.3]})
    assert s["share"] == 0.01 and s["gain"] == 0.5 and s["forgetting"] == pytest.approx(0.1)
    assert A.group_mean({"a": 1.0, "b": 0.0, "c": 0.5}, ["a", "b"]) == 0.5
    assert A.smooth_last([0, 0, 3, 6, 9], k=3) == 6.0
    d = A.divergence([0, 0, 0, 1, 1, 1], [0.5, 0.5, 0.5, 0.4, 0.4, 0.4], k=3)
    assert d == pytest.approx({"reward_gain": 1.0, "true_gain": -0.1, "gap": 1.1})
    assert set(N.HELD_OUT_TASKS).isdisjoint(N.TRAIN_TASKS)
    words = {w for t in N.TRAIN_TASKS for w in t.split()}
    assert all(set(t.split()) <= words for t in N.HELD_OUT_TASKS)  # only known operations, new combinations


def _row(name, new, old, share=0.5):
    return A.method_summary(name, int(share * 100), 100, {"new": new, "old": old})


def test_prose_follows_the_numbers():
    rows = [_row("full finetuning", [2.0, 1.0], [1.0, 1.5], 1.0), _row("LoRA r=1", [2.0, 1.8], [1.0, 1.0]),
            _row("LoRA r=4", [2.0, 1.3], [1.0, 1.1])]  # fmt: skip
    p = X.domain_phrase(rows)
    assert p.startswith(
        "full finetuning lowered the code loss by 1.000 nats and changed the prose loss by +0.500"
    )
    assert p.endswith(
        "the best adapter, LoRA r=4 (50.00% of the parameters trained), lowered it by 0.700 (70% of full "
        "finetuning's gain) and changed the prose loss by +0.100"
    )
    assert X.forgetting_phrase(rows) == "both adapters forgot less of the prose than full finetuning"
    rows[2]["forgetting"] = 0.6
    assert X.forgetting_phrase(rows) == "only LoRA r=1 forgot less of the prose than full finetuning"
    assert (
        X.forgetting_phrase(rows[:1] + rows[2:]) == "no adapter forgot less of the prose than full finetuning"
    )
    g = {"before": {"train": 0.0, "held_out": 0.0}, "masked": {"train": 0.8, "held_out": 0.2},
         "unmasked": {"train": 0.5, "held_out": 0.0}}  # fmt: skip
    assert (
        "gave higher exact match on the training tasks (80% vs 50% without masking; 0% before tuning)"
        in X.masking_phrase(g)
    )
    assert "about the same" in X.masking_phrase({**g, "unmasked": {"train": 0.79, "held_out": 0}})
    assert X.held_out_phrase(g).endswith("the prefix generalised hardly")
    assert X.held_out_phrase({**g, "masked": {"train": 0.8, "held_out": 0.4}}).endswith("generalised partly")
    assert X.held_out_phrase({**g, "masked": {"train": 0.8, "held_out": 0.7}}).endswith("generalised largely")
    assert "did not generalise" in X.held_out_phrase({**g, "masked": {"train": 0.8, "held_out": 0.0}})
    assert X.reward_phrase(0.75, 0.1, 1).startswith("the reward model ranks 75% of 1 held-out pair the way")
    assert (
        X.dpo_phrase({"sampled": 0.5}, {"sampled": 0.6})
        == "DPO raised the judge's mean score of sampled responses from 0.500 to 0.600"
    )
    assert X.dpo_phrase({"sampled": 0.5}, {"sampled": 0.501}).endswith(
        "left the judge's mean score of sampled responses unchanged"
    )
    runs = [
        {"beta": 0.1, "reward_gain": 0.2, "true_gain": 0.2},
        {"beta": 0.0, "reward_gain": 0.5, "true_gain": -0.1},
    ]
    h = X.hacking_phrase(runs)
    assert h.startswith("β = 0.1: reward +0.200, true score +0.200; β = 0: reward +0.500, true score -0.100")
    assert h.endswith(
        "with the weakest penalty (β = 0) the reward model's score rose while the judge's fell: "
        "the policy found what the reward model over-rates"
    )
    three = [{"beta": 1.0, "reward_gain": 0.1, "true_gain": 0.3}, *runs]
    assert X.hacking_phrase(three[::-1]).startswith("β = 1: reward +0.100")  # sorted, strongest penalty first
    assert X.hacking_phrase(three).endswith(
        "across these runs, the smaller β, the larger the reward model's gain and the lower the judge's"
    )
    three[1]["true_gain"] = 0.5  # not monotone: no trend claimed
    assert X.hacking_phrase(three).endswith("over-rates")
    assert "stayed put" in X.hacking_phrase([{**runs[1], "true_gain": 0.001}])
    assert "no reward hacking" in X.hacking_phrase(runs[:1])
    assert "no run raised" in X.hacking_phrase([{**runs[1], "reward_gain": -0.1}])


# ---------------------------------------------------------------------------------------------------
# the experiment chain on configs smaller than the quick profiles (a random tiny model stands in for the shared one)
# ---------------------------------------------------------------------------------------------------


def _run(name: str, cfg: dict, root: Path, needed: dict) -> Result:
    out = root / name.replace("/", "-")
    data = get_experiment(name).fn(cfg, RunContext(name, "quick", out, False, needed))
    return Result(name, "quick", "test", out, data, ran=True)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Result]:
    root = tmp_path_factory.mktemp("finetuning-lab")
    torch.manual_seed(0)
    GPT(GPTConfig.preset("shared", n_layers=1, d_model=32, n_heads=2)).save(root / "shared" / "model")
    shared = Result("shared-model/train", "quick", "test", root / "shared", {}, ran=True)
    q = {n: get_experiment(n).config("quick") for n in (N.DOMAIN, N.SFT, N.REWARD, N.PPO, N.DPO)}
    out = {"shared-model/train": shared}
    out[N.DOMAIN] = _run(N.DOMAIN, {**q[N.DOMAIN], "seq_len": 16}, root, out)
    out[N.SFT] = _run(N.SFT, {**q[N.SFT], "n_train": 20, "n_test": 1, "max_new": 3}, root, out)
    out[N.REWARD] = _run(
        N.REWARD, {**q[N.REWARD], "n_prompts": 8, "candidates": 2, "n_eval": 5, "max_new": 3}, root, out
    )
    out[N.DPO] = _run(N.DPO, q[N.DPO], root, out)
    out[N.PPO] = _run(N.PPO, {**q[N.PPO], "batch_size": 2, "max_new": 3, "minibatches": 1}, root, out)
    return out


def test_domain_compares_full_and_lora(results):
    res = results[N.DOMAIN]
    rows = res["rows"]
    assert [r["name"] for r in rows] == ["full finetuning", "LoRA r=1", "LoRA r=4"]
    total = res["total_params"]
    assert rows[0]["trainable"] == total and rows[0]["share"] == 1.0
    d, layers = 32, 1  # four attention projections d -> d per layer: r (d + d) each
    assert [r["trainable"] for r in rows[1:]] == [r * 2 * d * 4 * layers for r in (1, 4)]
    assert all(r["adam_bytes"] == 8 * r["trainable"] for r in rows)
    for c in res["curves"].values():
        assert (
            c["step"] == [0, 2]
            and c["new"][0] == rows[0]["new_before"]
            and c["old"][0] == rows[0]["old_before"]
        )
    assert len(table_rows(res["table"])) == 3 and res["headline"].startswith("full finetuning lowered")


def test_sft_scores_every_task_and_keeps_the_masked_model(results):
    res = results[N.SFT]
    tasks = {*N.TRAIN_TASKS, *N.HELD_OUT_TASKS}
    for stage in ("before", "masked", "unmasked"):
        assert set(res["scores"][stage]) == tasks and all(0 <= v <= 1 for v in res["scores"][stage].values())
    assert len(res["losses"]["masked"]) == 3 and res["losses"]["masked"] != res["losses"]["unmasked"]
    assert load_sft(results[N.SFT]).config.vocab_size == 259
    assert len(table_rows(res["table"])) == len(tasks)


def test_reward_pairs_and_model(results):
    res = results[N.REWARD]
    train, held = load_pairs(res), load_pairs(res, "held_out")
    assert len(train) == res["n_train_pairs"] > 0 and len(held) == res["n_held_pairs"]
    assert all(0 <= v <= 1 for v in res["accuracy"].values())
    rm = load_reward_model(res)
    assert rm.head.weight.abs().sum() > 0  # the head was trained and saved
    assert 0 <= res["sft"]["sampled"] <= 1 and 0 <= res["sft"]["exact"] <= 1


def test_ppo_and_dpo_record_their_curves(results):
    res = results[N.PPO]
    assert [r["beta"] for r in res["runs"]] == [0.1, 0.0]
    for r in res["runs"]:
        assert all(len(v) == 2 for v in r["history"].values())
        assert all(0 <= v <= 1 for v in r["history"]["true"]) and r["history"]["length"][0] >= 1
    assert res["runs"][1]["history"]["kl"][0] == pytest.approx(
        0.0, abs=1e-5
    )  # the first rollout is the SFT model
    assert len(table_rows(res["table"])) == 3
    dpo = results[N.DPO]
    assert len(dpo["losses"]) == 2 and 0 <= dpo["score"]["sampled"] <= 1


@pytest.mark.parametrize("name", [N.DOMAIN, N.SFT, N.PPO])
def test_figures_draw(results, name):
    assert_figures_draw(name, results[name])


def test_experiments_are_registered_with_both_profiles():
    for name in (N.DOMAIN, N.SFT, N.REWARD, N.PPO, N.DPO):
        assert set(get_experiment(name).profiles) == {"quick", "full"}, name
    assert list(get_experiment(N.REWARD).needs) == [N.SFT]
    assert list(get_experiment(N.PPO).needs) == [N.SFT, N.REWARD]
    assert get_experiment(N.DOMAIN).needs == ["shared-model/train"] or list(
        get_experiment(N.DOMAIN).needs
    ) == ["shared-model/train"]
