"""The grouped-query attention lab (llmkb/lab/topics/grouped_query_attention/) on tiny configs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from labkit import assert_figures_draw

from llmkb.lab.cache import Result
from llmkb.lab.kit import table_rows
from llmkb.lab.registry import RunContext, get_experiment
from llmkb.lab.topics.grouped_query_attention import analysis as A
from llmkb.lab.topics.grouped_query_attention import analysis_bench as AB
from llmkb.lab.topics.grouped_query_attention import names as N
from llmkb.lab.topics.grouped_query_attention import text as X
from llmkb.nn import GPT, GPTConfig, count_parameters


def test_head_counts_and_labels():
    assert A.kv_head_counts(8) == [8, 4, 2, 1] and A.kv_head_counts(1) == [1]
    with pytest.raises(ValueError, match="power of two"):
        A.kv_head_counts(6)
    assert [A.variant_label(8, g) for g in (8, 4, 1)] == ["MHA", "GQA-4", "MQA"]


def test_decode_cost_fit_recovers_a_line_and_never_goes_negative():
    m = np.array([1e6, 2e6, 4e6, 8e6])
    a, b = A.fit_decode_cost(m, 0.002 + 3e-10 * m)
    assert a == pytest.approx(0.002) and b == pytest.approx(3e-10)
    assert A.kv_share(a, b, 8e6) == pytest.approx(2.4e-3 / 4.4e-3)
    assert A.fit_decode_cost(m, 0.01 - 1e-10 * m)[1] == 0.0  # faster with a bigger cache is noise
    assert A.kv_share(0.0, 0.0, 1e6) == 0.0
    with pytest.raises(ValueError, match="two different"):
        A.fit_decode_cost([5.0, 5.0], [1.0, 2.0])


def test_recovery_is_the_share_of_the_lost_loss_won_back():
    assert A.recovery(3.0, 2.5, 2.0) == pytest.approx(0.5)
    assert A.recovery(3.0, 1.5, 2.0) == pytest.approx(1.5)
    assert math.isnan(A.recovery(2.0, 1.9, 2.0))


def test_bandwidth_rows_follow_the_formula_for_llama_2():
    rows = {
        (r["model"], r["attention"]): r for r in A.bandwidth_rows(N.REAL_MODELS, batch=16, bytes_per_s=1e12)
    }
    assert rows[("Llama 2 7B", "MHA (released)")]["KiB / token"] == 512  # 2 * 32 * 32 * 128 * 2 B
    assert rows[("Llama 2 70B", "GQA-8 (released)")]["KiB / token"] == 320  # 2 * 80 * 8 * 128 * 2 B
    assert rows[("Llama 2 70B", "MHA")]["KiB / token"] == 2560
    c = GPTConfig.from_dict(N.REAL_MODELS["Llama 2 70B"])
    w, m = 2 * count_parameters(c), 16 * 4096 * 320 * 1024
    assert rows[("Llama 2 70B", "GQA-8 (released)")]["tokens/s bound"] == round(16 * 1e12 / (w + m))
    phrase = X.real_phrase(list(rows.values()), "Llama 2 70B")
    assert phrase["cache_ratio"] == 8.0 and phrase["speed_ratio"] > 1 and phrase["mqa_gain"] > 1


def test_real_models_have_their_published_parameter_counts():
    """Hugging Face's counts of the released checkpoints (``tests/test_lab_kv_cache.py`` builds the 7B on the
    meta device; building the 70B takes seconds, so its published count is used)."""
    counts = {name: count_parameters(GPTConfig.from_dict(f)) for name, f in N.REAL_MODELS.items()}
    assert counts == {"Llama 2 7B": 6_738_415_616, "Llama 2 70B": 68_976_648_192}


def test_checked_cache_refuses_a_cache_that_breaks_the_formula(monkeypatch):
    model = GPT(GPTConfig.preset("tiny", n_heads=4, n_kv_heads=2))
    assert AB.checked_cache(model, 2, 8).nbytes == 2 * 2 * 2 * 16 * 8 * 2 * 4
    monkeypatch.setattr(AB, "kv_bytes", lambda *a, **k: 1)
    with pytest.raises(AssertionError, match="formula says 1"):
        AB.checked_cache(model, 2, 8)


def test_phrases_follow_the_numbers():
    pts = [
        {"width": "w", "kv_heads": h, "context": c, "regime": "memory-bound" if h * c >= 64 else "overhead-bound",
         "tokens_per_s": 100.0 / h, "kv_read": h * c}
        for h in (4, 2, 1) for c in (16, 32)
    ]  # fmt: skip
    assert X.regime_phrase(pts, "w") == (
        "memory-bound at 3 of the 6 points timed (MHA from 16 positions and GQA-2 from 32 positions)"
    )
    calm = [{**p, "regime": "overhead-bound"} for p in pts]
    assert X.regime_phrase(calm, "w") == "overhead-bound at all 6 points timed"
    s = X.speedup(pts, "w", 32, 4)
    assert (
        s["ratio"] == 4.0
        and s["cache_ratio"] == 4.0
        and s["phrase"] == "decodes at 4.00× the tokens/s of MHA"
    )
    rows = [{"attention": "MHA", "mean": 2.0, "sd": 0.01, "n": 3}, {"attention": "MQA", "mean": 2.1, "sd": 0.02, "n": 3},
            {"attention": "GQA-2", "mean": 2.005, "sd": 0.02, "n": 3}]  # fmt: skip
    assert X.frontier_phrase(rows) == (
        "MQA is 0.100 nats above MHA (beyond the seed spread); GQA-2 is 0.005 nats above MHA (within the seed spread)"
    )
    assert "one seed" in X.frontier_phrase([{**r, "n": 1} for r in rows])
    up = [{"target": "MQA", "method": "mean", "converted": 3.0, "uptrained": 2.2},
          {"target": "MQA", "method": "first", "converted": 3.5, "uptrained": 2.1}]  # fmt: skip
    assert X.uptrain_phrase(up) == "to MQA, mean-pooling starts lower and picking the first head ends lower"
    up[1]["uptrained"] = 2.3
    assert X.uptrain_phrase(up) == "to MQA, mean-pooling starts lower and still ends lower"


# ---------------------------------------------------------------------------------------------------
# the experiments, on configs smaller than their quick profiles
# ---------------------------------------------------------------------------------------------------


def _run(name: str, cfg: dict, root, needed: dict | None = None) -> dict:
    ctx = RunContext(name, "quick", root / name.replace("/", "-"), False, needed or {})
    return get_experiment(name).fn(cfg, ctx)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("gqa-lab")
    bench_cfg = {**get_experiment(N.BENCH).config("quick"), "widths": {"tiny": 16, "wide": 32}, "steps": 1}
    q_cfg = get_experiment(N.QUALITY).config("quick")
    q_cfg = {**q_cfg, "model": {**q_cfg["model"], "d_model": 16, "n_layers": 1}, "seeds": [0, 1], "n_windows": 4,
             "train": {**q_cfg["train"], "steps": 2, "seq_len": 16, "batch_size": 2, "warmup_steps": 1}}  # fmt: skip
    out = {N.BENCH: _run(N.BENCH, bench_cfg, root), N.QUALITY: _run(N.QUALITY, q_cfg, root)}
    quality = Result(
        N.QUALITY, "quick", "test", root / "grouped-query-attention-quality", out[N.QUALITY], ran=True
    )
    up_cfg = {"targets": [2, 1], "fraction": 1.0, "eval_every": 1, "lr": 3e-3}
    out[N.UPTRAIN] = _run(N.UPTRAIN, up_cfg, root, {N.QUALITY: quality})
    return out


def test_bench_times_every_head_count_context_and_width(results):
    res = results[N.BENCH]
    H, contexts = res["n_heads"], res["contexts"]
    assert len(res["points"]) == res["checked_caches"] == 2 * len(A.kv_head_counts(H)) * len(contexts)
    for p in res["points"]:
        cfg = GPTConfig(d_model=p["d_model"], n_layers=2, n_heads=H, n_kv_heads=p["kv_heads"])
        assert p["kv_read"] == 2 * 2 * p["kv_heads"] * cfg.head_dim * p["context"] * res["batch"] * 4
        assert p["allocated"] > p["kv_read"] and p["tokens_per_s"] == pytest.approx(
            res["batch"] / p["seconds"]
        )
        assert p["regime"] == ("memory-bound" if p["kv_share"] >= N.MEMORY_BOUND_SHARE else "overhead-bound")
    assert [r["attention"] for r in table_rows(res["table"])][:4] == ["MHA", "GQA-4", "GQA-2", "MQA"]
    assert res["speedups"]["tiny"]["cache_ratio"] == H
    assert len(table_rows(res["prefill_table"])) == 2 * len(A.kv_head_counts(H))


def test_quality_and_uptrain_runs(results):
    q, up = results[N.QUALITY], results[N.UPTRAIN]
    assert [r["attention"] for r in q["rows"]] == ["MHA", "GQA-2", "MQA"]
    assert all(len(r["losses"]) == 2 and r["n"] == 2 for r in q["rows"])
    assert [r["kv_bytes_per_token"] for r in q["rows"]] == [2 * 1 * h * 4 * 4 for h in (4, 2, 1)]
    assert q["mqa_cache_share"] == 0.25 and q["rows"][0]["parameters"] > q["rows"][-1]["parameters"]
    assert [(r["target"], r["method"]) for r in up["rows"]] == [
        ("GQA-2", "mean"), ("GQA-2", "first"), ("MQA", "mean"), ("MQA", "first")
    ]  # fmt: skip
    assert up["steps"] == 2 and up["eval_steps"] == [0, 1, 2]
    for r in up["rows"]:
        assert len(r["curve_mean"]) == 3 and r["converted"] == pytest.approx(r["curve_mean"][0])
        assert r["original"] == q["rows"][0]["mean"]
        assert r["scratch"] == next(x["mean"] for x in q["rows"] if x["attention"] == r["target"])
    assert up["verdict"].startswith("to GQA-2, ")


@pytest.mark.parametrize("name", [N.BENCH, N.QUALITY, N.UPTRAIN])
def test_figures_draw(results, name, tmp_path):
    assert_figures_draw(name, Result(name, "quick", "test", tmp_path, results[name], ran=True))


def test_experiments_are_registered_with_both_profiles():
    for name in (N.BENCH, N.QUALITY, N.UPTRAIN):
        exp = get_experiment(name)
        assert set(exp.profiles) == {"quick", "full"}, name
    assert get_experiment(N.UPTRAIN).needs == (N.QUALITY,) or list(get_experiment(N.UPTRAIN).needs) == [
        N.QUALITY
    ]
