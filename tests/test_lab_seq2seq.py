"""The seq2seq lab (llmkb/lab/topics/seq2seq/) on tiny configs."""

from __future__ import annotations

import pytest
import torch

from llmkb.lab.cache import Result
from llmkb.lab.kit import table_rows
from llmkb.lab.registry import RunContext, get_experiment
from llmkb.lab.topics.seq2seq import analysis as A
from llmkb.lab.topics.seq2seq import names as N
from llmkb.lab.topics.seq2seq import text as X
from tests.labkit import assert_figures_draw


def test_build_model_families_and_scores():
    size = {"d_model": 16, "layers": 1, "d_emb": 8, "d_hidden": 8}
    models = {k: A.build_model(k, 20, size) for k in N.MODEL_NAMES}
    assert len(models["gpt"].gpt.blocks) == 2 and len(models["encdec"].encoder) == 1
    assert models["gru-att"].attention and not models["gru"].attention
    with pytest.raises(ValueError, match="unknown model family"):
        A.build_model("lstm", 20, size)
    preds, refs = [["a", "b"], ["c"]], [["a", "b"], ["d"]]
    assert A.score("accuracy", preds, refs) == 0.5 and A.score("token F1", preds, refs) == 0.5
    assert A.score("entity F1", [["B-PER"], ["O"]], [["B-PER"], ["B-NUM"]]) == pytest.approx(2 / 3)
    long = [["the", "red", "cat", "sat", "down"]]
    assert A.score("BLEU", long, long) == pytest.approx(100.0)
    with pytest.raises(ValueError, match="unknown metric"):
        A.score("rouge", preds, refs)
    assert A.by_bucket([1.0, 0.0, 1.0, 1.0], [2, 1, 2, 1]) == {1: 0.5, 2: 1.0}
    d = A.drop([[1.0, 0.5], [0.8, 0.6]])
    assert d["mean"] == pytest.approx(0.35) and d["n"] == 2


def test_prose_follows_the_numbers():
    assert X.pct(0.456, "exact match") == "46%" and X.pct(45.61, "BLEU") == "45.6"
    assert X.mean_sd_pct(0.5, 0.1, 3) == "50% ± 10%" and X.mean_sd_pct(0.5, 0.0, 1) == "50%"
    rows = [{"task": t, "metric": N.TASK_METRICS[t][0], "encdec": e, "gpt": g}
            for t, e, g in zip(N.TASK_METRICS, (1.0, 0.5, 0.9, 0.3, 0.8), (1.0, 0.4, 0.95, 0.3, 0.7), strict=True)]  # fmt: skip
    assert X.task_verdict(rows) == (
        "in this one run, the encoder-decoder scored higher on translation and entity tagging; the decoder-only "
        "model on summarization; they tied on classification and extractive QA"
    )
    brows = [
        {"name": "GRU", "em": [0.5, 0.0], "em_sd": [0.05, 0.0], "f1": [0.9, 0.5]},
        {"name": "att", "em": [1.0, 0.98], "em_sd": [0.0, 0.01], "f1": [1.0, 0.99]},
    ]
    assert X.bottleneck_verdict(brows, 3) == (
        "from the shortest sources to the longest, the GRU loses exact match (50% → 0%; token F1 90% → 50%); "
        "the att keeps its exact match (100% → 98%; token F1 100% → 99%) (mean over 3 seeds)"
    )
    assert X.bottleneck_verdict(brows, 1).endswith("(one run each)")
    assert X.bottleneck_verdict(brows, 2).endswith("(too few seeds to rank)")
    assert X.beam_phrase({"greedy": 0.5, "beam": 0.5, "size": 4}) == (
        "a beam of 4 gives the encoder-decoder the same exact match as greedy decoding (50% against 50%)"
    )
    assert X.task_verdict([{**r, "gpt": 0.0} for r in rows]) == (
        "in this one run, the encoder-decoder scored higher on classification, translation, summarization, "
        "extractive QA and entity tagging"
    )
    assert X.task_verdict([{**r, "encdec": 0.0, "gpt": 0.9} for r in rows]) == (
        "in this one run, the decoder-only model scored higher on classification, translation, summarization, "
        "extractive QA and entity tagging"
    )
    assert "more exact match" in X.beam_phrase({"greedy": 0.5, "beam": 0.6, "size": 4})


_TINY_TRAIN = {"steps": 2, "batch_size": 4, "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 1}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("seq2seq-lab")
    out = {}
    cfg = {
        "n_train": 24,
        "n_test": 4,
        "train": _TINY_TRAIN,
        "size": {"d_model": 8, "layers": 1},
        "beam": 2,
        "seed": 0,
    }
    out[N.TASKS_EXP] = get_experiment(N.TASKS_EXP).fn(
        cfg, RunContext(N.TASKS_EXP, "quick", root / "t", False, {})
    )
    cfg = {"n_train": 24, "n_test": 12, "max_clauses": 3, "seeds": [0, 1], "train": _TINY_TRAIN,
           "size": {"d_model": 8, "layers": 1, "d_emb": 4, "d_hidden": 8}}  # fmt: skip
    out[N.BOTTLENECK] = get_experiment(N.BOTTLENECK).fn(
        cfg, RunContext(N.BOTTLENECK, "quick", root / "b", False, {})
    )
    out["root"] = root
    return out


def test_tasks_scores_both_models_on_every_task(results):
    res = results[N.TASKS_EXP]
    assert [(r["task"], r["metric"]) for r in res["rows"]] == [
        (t, m) for t, ms in N.TASK_METRICS.items() for m in ms
    ]
    for r in res["rows"]:
        top = 100 if r["metric"] in ("BLEU", "chrF") else 1
        assert 0 <= r["encdec"] <= top and 0 <= r["gpt"] <= top
    assert len(table_rows(res["table"])) == len(res["rows"]) and len(res["samples"]) == 5
    assert res["beam"]["size"] == 2 and 0 <= res["beam"]["beam"] <= 1
    assert res["verdict"].startswith("in this one run") and "decoder-only:" in res["samples_text"]
    assert set(res["params"]) == {"encdec", "gpt"}


def test_bottleneck_curves_by_clause_count_and_maps(results):
    res = results[N.BOTTLENECK]
    assert res["clauses"] == [1, 2, 3] and res["lengths"] == sorted(res["lengths"])
    assert [r["model"] for r in res["rows"]] == ["gru", "gru-att", "encdec"] and res["seeds"] == 2
    for r in res["rows"]:
        assert len(r["em"]) == 3 and len(r["em_curves"]) == 2 and r["drop"]["n"] == 2
        assert all(0 <= v <= 1 for v in r["em"] + r["f1"])
    S, T = len(res["map_source"]), len(res["map_target"])
    for kind in ("gru-att", "encdec"):
        m = torch.tensor(res["maps"][kind])
        assert m.shape == (T, S) and torch.allclose(m.sum(-1), torch.ones(T), atol=1e-5)
    assert "and" in res["map_source"] and len(table_rows(res["table"])) == 3


def test_figures_draw(results, tmp_path):
    name = N.BOTTLENECK
    assert_figures_draw(name, Result(name, "quick", "test", tmp_path, results[name], ran=True))


def test_experiments_are_registered_with_both_profiles():
    for name in (N.TASKS_EXP, N.BOTTLENECK):
        assert set(get_experiment(name).profiles) == {"quick", "full"}, name
    assert get_experiment(N.BOTTLENECK).config("full")["seeds"] == [0, 1, 2]
