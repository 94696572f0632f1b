"""The pretraining-objectives lab (llmkb/lab/topics/pretraining_objectives/) on tiny configs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from llmkb.data.objectives import prefix_lm_mask
from llmkb.lab.cache import Result
from llmkb.lab.kit import table_rows
from llmkb.lab.registry import RunContext, figures_of, get_experiment
from llmkb.lab.topics.pretraining_objectives import analysis as A
from llmkb.lab.topics.pretraining_objectives import names as N
from llmkb.lab.topics.pretraining_objectives import text as X
from llmkb.lab.topics.pretraining_objectives.experiments_train import model_dir
from llmkb.nn import GPT, GPTConfig


def test_task_lines_have_the_right_answers():
    rng = random.Random(0)
    for task in N.TASKS:
        prompt, answer = A.task_line(task, rng)
        name, rest = prompt.split(" ")
        assert name == task and rest.endswith("=")
        question = rest[:-1]
        if task == "add":
            a, b = question.split("+")
            assert int(answer) == int(a) + int(b) and len(a) == len(b) == 1
        else:
            want = {"copy": question, "rev": question[::-1], "sort": "".join(sorted(question))}[task]
            assert answer == want and len(question) == N.TASK_LEN and set(question) <= set(N.ALPHABET)
    with pytest.raises(ValueError, match="unknown task"):
        A.task_line("mul", rng)
    lines = A.task_text(8, seed=0).splitlines()
    assert [line.split(" ")[0] for line in lines] == list(N.TASKS) * 2


def test_scored_inputs_never_occur_in_training():
    train_inputs = {line.split("=")[0] for line in A.task_text(4000, seed=0).splitlines()}
    held = [p for p in (f"copy {a}{b}{c}=" for a in N.ALPHABET for b in N.ALPHABET for c in N.ALPHABET)
            if A.is_held_out(p)]  # fmt: skip
    assert 0.05 < len(held) / len(N.ALPHABET) ** 3 < 0.15  # about one in HELD_OUT
    for task in ("copy", "rev", "sort"):
        pairs = A.eval_pairs(task, 30, seed=1)
        assert len(pairs) == 30 and all(A.is_held_out(p) for p, _ in pairs)
        assert not {p[:-1] for p, _ in pairs} & train_inputs
        assert sum(p.startswith(task) and A.is_held_out(p + "=") for p in train_inputs) == 0
    sums = A.eval_pairs("add", 30, seed=1)
    assert all(int(p[4]) + int(p[6]) == int(a) for p, a in sums)
    assert not A.is_held_out("add 1+2=")


def test_scores_and_efficiency():
    assert A.exact_match(["ab", "cd", "x"], ["ab", "cx", "x"]) == pytest.approx(2 / 3)
    assert A.span_accuracy([[1, 2], [3, 4]], [[1, 0], [3, 4]]) == 0.75
    with pytest.raises(ValueError):
        A.exact_match([], [])
    with pytest.raises(ValueError):
        A.span_accuracy([[1]], [[1, 2]])
    e = A.efficiency([5.0, 4.0, 3.0], [0, 100, 200], [0, 15, 30])
    assert e == {"drop": 2.0, "per_seen": 0.01, "per_predicted": pytest.approx(2 / 30)}


def test_phrases_follow_the_numbers():
    clm = {"drop": 2.0, "per_seen": 0.02, "per_predicted": 0.02}
    mlm = {"drop": 1.0, "per_seen": 0.01, "per_predicted": 0.0625}
    assert X.efficiency_phrase(clm, mlm) == (
        "per token seen, CLM's held-out loss fell 2.00× as fast as MLM's (faster); "
        "per token predicted, MLM's fell 3.12× as fast as CLM's"
    )
    assert "did not lower" in X.efficiency_phrase(clm, {**mlm, "drop": -0.1})
    assert X.efficiency_phrase(clm, {**mlm, "per_seen": 0.0199}).startswith(
        "per token seen, CLM's held-out loss fell about as fast as MLM's (1.01×)"
    )
    assert X.mean_sd({"mean": 0.5, "sd": 0.1, "n": 3}, ".0%") == "50% ± 10%"
    assert X.mean_sd({"mean": 0.5, "sd": 0.0, "n": 1}, ".2f") == "0.50"
    stats = {"mean": 0.0, "sd": 0.0, "n": 1}
    rows = [
        {"name": n, "metrics": {k: {**stats, "mean": v, "min": v, "max": v} for k, v in zip(("nll", "distinct", "cloze", *N.TASKS), vals, strict=True)}}
        for n, vals in (("CLM", (1.0, 0.5, 0.2, 1, 0, 0, 0)), ("MLM", (2.0, 0.4, 0.9, 1, 0, 0, 0)))
    ]  # fmt: skip
    v = X.task_verdicts(rows)
    assert v["nll"].startswith("On free text (reference NLL), CLM wins: its worst seed (1.000)")
    assert (
        v["cloze"].startswith("On the cloze, MLM wins")
        and v["copy"] == "On copy, CLM and MLM tie on average (100%)."
    )
    assert v["rev"] == "On reverse, no model gets an answer right."
    assert list(X.table_row(rows[0]))[:2] == ["model (decoding)", "free text: reference NLL ↓"]


def _row(name: str, values: list[float]) -> dict:
    from llmkb.lab.kit.evals import seed_stats

    return {"name": name, "metrics": {"copy": seed_stats(values), "nll": seed_stats([2 - v for v in values])}}


def test_verdicts_claim_a_winner_only_where_the_seeds_separate():
    apart = [_row("CLM", [0.9, 0.8, 1.0]), _row("MLM", [0.0, 0.1, 0.0]), _row("prefix LM", [0.5, 0.7, 0.6])]
    assert X.column_verdict(apart, "copy", "copy", ".0%", False) == (
        "On copy, CLM wins: its worst seed (80%) beats the best seed of every other model (70%, prefix LM)."
    )
    assert X.column_verdict(apart, "nll", "free text", ".2f", True) == (
        "On free text, CLM wins: its worst seed (1.20) beats the best seed of every other model (1.30, prefix LM)."
    )
    close = [_row("CLM", [0.9, 0.6, 1.0]), _row("MLM", [0.0, 0.1, 0.0]), _row("prefix LM", [0.5, 0.7, 0.6])]
    assert X.column_verdict(close, "copy", "copy", ".0%", False) == (
        "On copy, CLM leads on average (83%), but its seeds overlap with prefix LM's (60% on average), "
        "so the seeds do not rank them."
    )
    assert "overlap" in X.column_verdict(close, "nll", "free text", ".2f", True)


# ---------------------------------------------------------------------------------------------------
# the experiments, on configs smaller than their quick profiles (a random model stands in for the shared one)
# ---------------------------------------------------------------------------------------------------


class _Dir:
    def __init__(self, directory: Path) -> None:
        self.dir = directory


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("objectives-lab")
    cfg = get_experiment(N.TRAIN).config("quick")
    cfg = {**cfg, "model": {**cfg["model"], "d_model": 16, "n_layers": 1, "n_heads": 2}, "seeds": [0, 1],
           "task_lines": 40, "code_chars": 20_000,
           "train": {**cfg["train"], "steps": 2, "seq_len": 16, "batch_size": 2, "eval_every": 1}}  # fmt: skip
    out = {N.TRAIN: get_experiment(N.TRAIN).fn(cfg, RunContext(N.TRAIN, "quick", root / "train", False, {}))}
    torch.manual_seed(0)
    GPT(GPTConfig.preset("shared", n_layers=1)).save(root / "shared" / "model")
    needed = {N.TRAIN: Result(N.TRAIN, "quick", "test", root / "train", out[N.TRAIN], ran=True),
              "shared-model/train": _Dir(root / "shared")}  # fmt: skip
    s_cfg = {
        "n_free": 2,
        "prompt_len": 6,
        "new_tokens": 4,
        "span": 2,
        "n_task": 3,
        "map_len": 8,
        "map_prefix": 3,
    }
    out[N.SAMPLES] = get_experiment(N.SAMPLES).fn(
        s_cfg, RunContext(N.SAMPLES, "quick", root / "s", False, needed)
    )
    out["root"] = root
    return out


def test_train_counts_tokens_and_keeps_every_model(results):
    res = results[N.TRAIN]
    rows = {r["objective"]: r for r in res["rows"]}
    assert list(rows) == ["clm", "mlm", "prefix"] and res["seeds"] == 2
    for r in rows.values():
        assert r["steps"] == [0, 1, 2] and r["seen"] == [0, 32, 64] and r["n"] == 2 and len(r["finals"]) == 2
        for seed in (0, 1):
            assert (model_dir(results["root"] / "train", r["objective"], seed) / "config.json").is_file()
    assert rows["clm"]["predicted"] == rows["clm"]["seen"]
    assert 0 < rows["mlm"]["predicted"][-1] < 64 and 0 < rows["prefix"]["predicted"][-1] < 64
    assert res["mlm_share"] == rows["mlm"]["predicted"][-1] / 64
    assert res["seen_ratio"] == pytest.approx(rows["clm"]["per_seen"] / rows["mlm"]["per_seen"])
    assert [r["objective"] for r in table_rows(res["table"])] == ["CLM", "MLM", "prefix LM"]


def test_samples_score_every_model_on_every_task(results):
    res = results[N.SAMPLES]
    assert [r["name"] for r in res["rows"]] == ["CLM", "MLM", "prefix LM", "prefix LM (empty prefix)"]
    for r in res["rows"]:
        m = r["metrics"]
        assert all(0 <= m[k]["mean"] <= 1 for k in ("distinct", "cloze", *N.TASKS)) and m["nll"]["mean"] > 0
        assert m["nll"]["n"] == 2
        assert len(r["examples"]["sample"].encode()) >= 1 and len(r["examples"]["fill"].encode()) >= 1
    mlm = res["rows"][1]["examples"]
    assert len(mlm["copy_example"]) == N.TASK_LEN  # told the answer's length: one mask per byte
    assert set(res["verdicts"]) == {"nll", "cloze", *N.TASKS} and res["verdict_text"].startswith(
        "On free text"
    )
    assert len(table_rows(res["table"])) == 4 and "prefix LM (empty prefix)" in res["examples"]
    assert torch.equal(torch.tensor(res["masks"]["prefix"]).bool(), prefix_lm_mask(8, 3)[0, 0])
    for objective, m in res["maps"].items():
        w = torch.tensor(m)
        assert w.shape == (8, 8) and torch.allclose(w.sum(-1), torch.ones(8), atol=1e-5)
        assert torch.all(w[torch.tensor(res["masks"][objective]) == 0] == 0), objective
    assert len(res["map_text"]) == 8


@pytest.mark.parametrize("name", [N.TRAIN, N.SAMPLES])
def test_figures_draw(results, name, tmp_path):
    import matplotlib.pyplot as plt

    res = Result(name, "quick", "test", tmp_path, results[name], ran=True)
    figs = figures_of(name)
    assert figs
    for f in figs:
        fig = f.fn(res)
        assert fig.axes
        plt.close(fig)


def test_experiments_are_registered_with_both_profiles():
    for name in (N.TRAIN, N.SAMPLES):
        assert set(get_experiment(name).profiles) == {"quick", "full"}, name
    assert list(get_experiment(N.SAMPLES).needs) == [N.TRAIN, "shared-model/train"]
    assert get_experiment(N.TRAIN).config("full")["seeds"] == [0, 1, 2]
