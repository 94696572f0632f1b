"""The reasoning lab (llmkb/lab/topics/reasoning/) on tiny configs, and its prose functions."""

from __future__ import annotations

import pytest

from llmkb.data.instruct import END_ID
from llmkb.data.reasoning_tasks import add_problem
from llmkb.infer.self_consistency import Votes
from llmkb.lab.cache import Result
from llmkb.lab.kit import table_rows
from llmkb.lab.registry import RunContext, get_experiment
from llmkb.lab.topics.reasoning import analysis as A
from llmkb.lab.topics.reasoning import names as N
from llmkb.lab.topics.reasoning import text as X
from tests.labkit import assert_figures_draw


def test_vote_curve_uses_disjoint_blocks_and_counts_tokens():
    votes = Votes([["1", "2", "2", "2"], ["5", None, "5", "7"]], [[3, 3, 3, 3], [1, 2, 3, 4]])
    rows = A.vote_curve(votes, ["2", "5"], [1, 2, 4])
    # n = 1: question 1 right in 3 of 4 chains, question 2 in 2 of 4 -> 5/8
    # n = 2: blocks (1,2)->"1" wrong, (2,2) right; (5,None)->"5" right, (5,7)->"5" right -> 3/4
    assert [r["accuracy"] for r in rows] == [5 / 8, 3 / 4, 1.0]
    assert [r["tokens"] for r in rows] == [2.75, 5.5, 11.0]
    with pytest.raises(ValueError, match="cannot vote over 8 chains out of 4"):
        A.vote_curve(votes, ["2", "5"], [8])


def test_small_helpers():
    assert A.max_new([1, 3]) == 9 * 3 + 3 + 4
    assert len(add_problem(999, 999, 3).target("scratchpad")) + 1 <= A.max_new([3])
    assert A.parse_ids([*b"1+2+0=03,#3", END_ID]) == "3"
    assert A.parse_ids([*b"1+2+0=03,#3"]) is None  # unfinished: no <end>
    probs = [add_problem(1, 2, 1), add_problem(10, 20, 2), add_problem(3, 4, 1)]
    assert A.by_size([1.0, 0.0, 0.0], probs) == {1: 0.5, 2: 0.0}


def test_run_jobs_runs_each_job_on_one_thread_and_falls_back_when_it_cannot_spawn(monkeypatch):
    import sys

    import torch

    threads = torch.get_num_threads()
    one = lambda job: (job, torch.get_num_threads())  # noqa: E731  (a lambda cannot be sent to a process)
    assert A.run_jobs(one, [1, 2], workers=1) == [(1, 1), (2, 1)]
    monkeypatch.setattr(sys.modules["__main__"], "__file__", "<stdin>", raising=False)
    assert A.run_jobs(one, [1, 2], workers=2) == [(1, 1), (2, 1)]  # no process spawned: runs here
    assert torch.get_num_threads() == threads


def _stats(mean: float, sd: float, n: int = 3) -> dict[str, float]:
    return {"mean": mean, "sd": sd, "n": n}


def test_prose_follows_the_numbers():
    assert X.ahead(_stats(0.6, 0.1), _stats(0.1, 0.05)) == 1
    assert X.ahead(_stats(0.6, 0.1), _stats(0.55, 0.05)) == 0  # inside the spread
    assert X.ahead(_stats(0.1, 0.0), _stats(0.6, 0.1)) == -1
    assert X.ahead(_stats(0.6, 0.1, 2), _stats(0.1, 0.05, 2)) == 0  # too few seeds to rank
    stats = {
        "direct": [_stats(0.7, 0.1), _stats(0.03, 0.03), _stats(0.0, 0.0), _stats(0.0, 0.0)],
        "scratchpad": [_stats(0.75, 0.1), _stats(0.57, 0.08), _stats(0.34, 0.1), _stats(0.02, 0.01)],
    }
    assert X.format_verdict(stats, [1, 2, 3, 4], [1, 2, 3]) == (
        "the scratchpad model is more accurate at 2 and 3 digits; the two are within the seed spread of each "
        "other at 1 digit; on 4 digits, longer than any training problem, neither format gets above 2% "
        "(mean ± sd over 3 seeds)"
    )
    one = {f: [_stats(s["mean"], 0.0, 1) for s in v] for f, v in stats.items()}
    assert X.format_verdict(one, [1, 2, 3, 4], [1, 2, 3]) == "with 1 seed the formats are not ranked"
    assert X.unseen_phrase(stats, [1, 2, 3, 4], [1, 2, 3, 4]) == ""
    assert X.sizes_phrase([1]) == "1 digit" and X.sizes_phrase([1, 2, 3]) == "1, 2 or 3 digits"
    assert X.mean_sd_pct(0.5, 0.1, 3) == "50% ± 10%" and X.mean_sd_pct(0.5, 0.1, 1) == "50%"
    curves = {
        "direct": [{"n": 1, "accuracy": 0.2, "tokens": 6.0}, {"n": 16, "accuracy": 0.2, "tokens": 96.0}],
        "scratchpad": [
            {"n": 1, "accuracy": 0.3, "tokens": 33.0},
            {"n": 16, "accuracy": 0.42, "tokens": 528.0},
        ],
    }
    assert X.vote_verdict(curves, {"direct": 0.25, "scratchpad": 0.4}) == (
        "the direct model's accuracy stays at 20% from 1 chain to 16 (6 → 96 tokens per question; its greedy "
        "answer: 25%); the scratchpad model's accuracy rises from 30% with 1 chain to 42% with 16 "
        "(33 → 528 tokens per question; its greedy answer: 40%)"
    )
    assert X.cheaper_phrase(curves) == (
        "16 direct answers cost 96 tokens, more than one scratchpad chain (33), and their vote is less accurate "
        "(20% against 30%)"
    )
    hist = {"reward": [0.2, 0.4, 0.6, 0.8], "length": [20.0, 20.0, 22.0, 24.0]}
    evals = {"step": [0, 2, 4], "accuracy": [0.5, 0.8, 0.7]}
    assert X.grpo_verdict({"mean": 0.5}, {"mean": 0.7}, hist, evals, 2) == (
        "held-out greedy accuracy rises from 50% to 70% (highest at step 2: 80%); the mean reward of the sampled "
        "responses goes from 0.30 to 0.70 (first and last 2 steps) and their length from 20.0 to 23.0 tokens"
    )
    assert X.grpo_verdict(
        {"mean": 0.5}, {"mean": 0.5}, hist, {"step": [0, 4], "accuracy": [0.5, 0.5]}, 1
    ).startswith("held-out greedy accuracy stays at 50%; ")


_TRAIN = {"steps": 2, "batch_size": 4, "lr": 5e-3}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Result]:
    root = tmp_path_factory.mktemp("reasoning-lab")
    out: dict[str, Result] = {}
    cfg = {"train_sizes": [1], "test_sizes": [1, 2], "n_train": 20, "n_test": 2, "train": _TRAIN,
           "seeds": [0], "workers": 1, "check": False}  # fmt: skip
    out[N.DIRECT_VS_COT] = Result(
        N.DIRECT_VS_COT, "quick", "test", root / "f",
        get_experiment(N.DIRECT_VS_COT).fn(cfg, RunContext(N.DIRECT_VS_COT, "quick", root / "f")), ran=True,
    )  # fmt: skip
    needs = {N.DIRECT_VS_COT: out[N.DIRECT_VS_COT]}
    cfg = {
        "sizes": [1],
        "n_questions": 2,
        "chains": 2,
        "ns": [1, 2],
        "temperature": 1.0,
        "seed": 0,
        "check": False,
    }
    out[N.SELF_CONSISTENCY] = Result(
        N.SELF_CONSISTENCY, "quick", "test", root / "v",
        get_experiment(N.SELF_CONSISTENCY).fn(cfg, RunContext(N.SELF_CONSISTENCY, "quick", root / "v", False, needs)),
        ran=True,
    )  # fmt: skip
    cfg = {**get_experiment(N.GRPO).config("quick"), "steps": 2, "questions": 2, "group_size": 2, "n_eval": 1}
    out[N.GRPO] = Result(
        N.GRPO, "quick", "test", root / "g",
        get_experiment(N.GRPO).fn(cfg, RunContext(N.GRPO, "quick", root / "g", False, needs)), ran=True,
    )  # fmt: skip
    return out


def test_direct_vs_cot_measures_both_formats_by_size_and_saves_models(results):
    res = results[N.DIRECT_VS_COT]
    assert res["sizes"] == [1, 2] and set(res["stats"]) == {"direct", "scratchpad"}
    for fmt in ("direct", "scratchpad"):
        assert len(res["curves"][fmt]) == 1 and all(0 <= a <= 1 for a in res["curves"][fmt][0])
        assert A.load_model(res, fmt).config.vocab_size == 259
    rows = table_rows(res["table"])
    assert [r["in training"] for r in rows] == ["yes", "no"] and res["verdict"].startswith("with 1 seed")
    assert res["params"] > 0 and len(table_rows(res["examples"])) == 2


def test_self_consistency_and_grpo_read_the_shared_models(results):
    v = results[N.SELF_CONSISTENCY]
    assert [r["n"] for r in v["curves"]["scratchpad"]] == [1, 2]
    assert v["curves"]["direct"][1]["tokens"] > v["curves"]["direct"][0]["tokens"]
    g = results[N.GRPO]
    assert len(g["history"]["reward"]) == 2 and g["evals"]["step"] == [0, 1, 2]
    assert len(table_rows(g["table"])) == 2 and 0 <= g["flat_share"] <= 1


def test_full_profile_checks_are_on_and_figures_draw(results, tmp_path):
    for name in (N.DIRECT_VS_COT, N.SELF_CONSISTENCY, N.GRPO):
        exp = get_experiment(name)
        assert set(exp.profiles) == {"quick", "full"}, name
        if "check" in exp.config("full"):
            assert exp.config("full")["check"] is True
        assert_figures_draw(name, results[name])
    assert get_experiment(N.DIRECT_VS_COT).config("full")["seeds"] == [0, 1, 2]
