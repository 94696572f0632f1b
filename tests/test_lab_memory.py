"""The memory lab (llmkb/lab/topics/memory/) on tiny configs."""

from __future__ import annotations

import pytest

from llmkb.data.conversations import generate
from llmkb.lab.cache import Result
from llmkb.lab.kit import table_rows
from llmkb.lab.registry import RunContext, get_experiment
from llmkb.lab.topics.memory import analysis as A
from llmkb.lab.topics.memory import names as N
from llmkb.lab.topics.memory import text as X
from llmkb.memory import POLICIES
from tests.labkit import assert_figures_draw


def test_scoring_and_aggregation():
    conv = generate(5, n_turns=100)
    words = lambda s: len(s.split())  # noqa: E731
    recs = A.score_policy(conv, "facts", [40, 4000], words, 0.5)
    assert [len(recs[b]) for b in (40, 4000)] == [8, 8]
    assert all(r["correct"] and not r["stale"] and r["tokens"] <= 4000 for r in recs[4000])
    none = A.score_policy(conv, "none", [40], words, 0.5)[40]
    assert not any(r["correct"] for r in none) and all(r["answer"] is None for r in none)
    s = A.summarise(
        [
            [{"correct": True, "stale": False, "tokens": 10}] * 2,
            [{"correct": False, "stale": True, "tokens": 30}],
        ]
    )
    assert s["acc"] == 0.5 and s["stale"] == 0.5 and s["tokens"] == 20 and s["n"] == 2
    assert s["acc_sd"] == pytest.approx(2**0.5 / 2)
    groups = A.by_changes(
        [{"changes": 0, "correct": True}, {"changes": 2, "correct": False}], N.CHANGE_GROUPS
    )
    assert groups == {"never changed": 1.0, "changed once": None, "changed 2–3 times": 0.0}
    count, vocab = A.bpe_counter(300, 1, 100)
    assert vocab == 300 and count("user: I live in oslo.") < len("user: I live in oslo.")
    assert A.conversation_tokens(conv, count) == sum(count(f"{m.role}: {m.text}") for m in conv.messages)


def _row(policy, acc, sd, stale=(0.0, 0.0)):
    return {
        "policy": policy,
        "budgets": [64, 256],
        "acc": list(acc),
        "acc_sd": list(sd),
        "stale": list(stale),
    }


def test_prose_follows_the_numbers():
    rows = [_row("none", (0, 0), (0, 0)), _row("truncation", (0.1, 0.5), (0.05, 0.1)),
            _row("facts", (0.6, 1.0), (0.05, 0.0)), _row("archival", (0.5, 0.9), (0.02, 0.1), (0.2, 0.05))]  # fmt: skip
    assert X.reach_phrase(rows, 1.0) == (
        "mean accuracy reaches 100% for fact memory (Mem0) from 256 tokens; truncation and archival retrieval "
        "do not within 256"
    )
    assert X.reach_phrase(rows, 0.5).startswith(
        "mean accuracy reaches 50% for truncation from 256 tokens, fact"
    )
    assert (
        X.reach_phrase(rows[:2], 0.9)
        == "mean accuracy reaches 90% for no policy: truncation does not within 256"
    )
    assert X.lead_phrase(rows, 1, 3) == (
        "at 256 tokens fact memory (Mem0) answers 100% ± 0%, archival retrieval next with 90% ± 10%: "
        "level within the spread over 3 seeds"
    )
    assert X.lead_phrase(rows, 0, 5).endswith("a lead larger than the spread over 5 seeds")
    assert X.lead_phrase(rows, 0, 1).endswith("(one run)") and X.lead_phrase(rows, 0, 2).endswith("to rank)")
    assert X.stale_phrase(rows, 0) == (
        "at 64 tokens, the share of wrong answers that are an earlier value: truncation 0%, "
        "fact memory (Mem0) 0% and archival retrieval 40%"
    )
    assert (
        X.stale_phrase([_row("facts", (1, 1), (0, 0))], 1)
        == "at 256 tokens no policy but no memory gives a wrong answer"
    )
    dense = [{"store": "archival", "ks": [1, 20], "latest": [0.3, 0.5], "latest_sd": [0, 0.05], "stale": [0.3, 0.2],
              "stale_sd": [0, 0.05]}, {"store": "dense", "ks": [1, 20], "latest": [0.3, 0.9], "latest_sd": [0, 0.05],
              "stale": [0.3, 0.22], "stale_sd": [0, 0.05]}]  # fmt: skip
    assert X.dense_phrase(dense, 5) == (
        "with the top 20 sentences, MiniLM finds the latest statement more often than BM25 (90% against 50%) and "
        "gives a stale answer about as often as BM25 (22% against 20%), mean over 5 seeds"
    )
    assert "finds the latest statement about as often as" in X.dense_phrase(dense, 2)
    pair = [_row("archival", (0.5, 0.7), (0.05, 0.05)), _row("archival-minilm", (0.8, 0.75), (0.05, 0.05))]
    assert X.pair_phrase(pair, "archival-minilm", "archival", 0, 5) == (
        "at 64 tokens archival retrieval (MiniLM) answers 80% ± 5% against 50% ± 5%: more questions right than "
        "archival retrieval, beyond the spread over 5 seeds"
    )
    assert X.pair_phrase(pair, "archival-minilm", "archival", 1, 5).endswith(
        "level with archival retrieval within the seed spread"
    )
    assert X.pair_phrase(pair[:1], "archival-minilm", "archival", 1, 5).startswith(
        "this profile leaves archival"
    )
    assert [X.pct(x) for x in (0.0, 0.004, 0.5, 0.996, 1.0)] == ["0%", "0.4%", "50%", "99.6%", "100%"]
    assert X.acc_cell(0.5, 0.1, 3) == "50% ± 10%" and X.acc_cell(0.5, 0.1, 1) == "50%" and X.pct(None) == "—"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("memory-lab")
    tiny = {"seeds": [0, 1, 2], "conversations": 1, "n_turns": 100}
    cfg = {**tiny, "budgets": [64, 256, 2048], "small": 64, "focus": 256, "wide": 2048, "share": 0.5, "dense": False,
           "tokenizer": {"vocab_size": 300, "conversations": 1, "n_turns": 100}}  # fmt: skip
    out = {N.BUDGET: get_experiment(N.BUDGET).fn(cfg, RunContext(N.BUDGET, "quick", root / "b", False, {}))}
    cfg = {**tiny, "ks": [1, 4], "dense": False}
    out[N.RETRIEVAL] = get_experiment(N.RETRIEVAL).fn(
        cfg, RunContext(N.RETRIEVAL, "quick", root / "r", False, {})
    )
    return out


def test_budget_scores_every_policy_at_every_budget(results):
    res = results[N.BUDGET]
    assert [r["policy"] for r in res["rows"]] == list(POLICIES) and res["questions"] == 24
    for r in res["rows"]:
        assert len(r["acc"]) == 3 and all(0 <= a <= 1 for a in r["acc"])
        assert all(t <= b for t, b in zip(r["tokens"], r["budgets"], strict=True))
    assert res["whole"]["acc"] == 1.0 and res["whole"]["tokens"] > 2048
    assert len(table_rows(res["table"])) == 6 and table_rows(res["changes"])[0]["policy"] == "no memory"
    assert res["ops"]["ADD"] == 24 and res["ops"]["DELETE"] == 0 and sum(res["group_sizes"].values()) == 24
    assert res["dense_budget"].count("this profile leaves") == 1
    assert res["sample_text"] == "1 conversation of 100 turns for each of 3 seeds"
    assert res["lead_focus"].startswith("at 256 tokens") and "spread over 3 seeds" in res["lead_focus"]


def test_retrieval_matches_rank_bm25_and_grows_with_k(results):
    res = results[N.RETRIEVAL]
    assert res["max_diff"] < 1e-9 and [r["store"] for r in res["rows"]] == ["recall", "archival"]
    for r in res["rows"]:
        assert r["latest"][0] <= r["latest"][1] and all(0 <= v <= 1 for v in r["latest"] + r["stale"])
    assert [r["k"] for r in table_rows(res["latest"])] == [1, 4] and len(res["stale"]["columns"]) == 3
    assert res["dense_phrase"].startswith("this profile leaves MiniLM out")


def test_figures_draw(results, tmp_path):
    for name in (N.BUDGET, N.RETRIEVAL):
        assert_figures_draw(name, Result(name, "quick", "test", tmp_path, results[name], ran=True))


def test_experiments_are_registered_with_both_profiles():
    for name in (N.BUDGET, N.RETRIEVAL):
        exp = get_experiment(name)
        assert set(exp.profiles) == {"quick", "full"}, name
        assert len(exp.config("full")["seeds"]) >= 3
