"""The KV-cache lab (llmkb/lab/topics/kv_cache.py) on tiny configs, and `llmkb bench kv-cache`."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from llmkb.bench import kv_cache as bench
from llmkb.cli import main
from llmkb.infer.kvtrace import decode_cost
from llmkb.lab.cache import Result
from llmkb.lab.registry import RunContext, figures_of, get_experiment
from llmkb.lab.topics import kv_cache as topic
from llmkb.nn import GPTConfig, KVCache


def _ctx(tmp_path, name: str, needed: dict | None = None) -> RunContext:
    return RunContext(name, "quick", tmp_path / "out", False, needed or {})


def _figures_draw(name: str, data: dict, tmp_path) -> None:
    import matplotlib.pyplot as plt

    res = Result(name, "quick", "test", tmp_path, data, ran=True)
    figs = figures_of(name)
    assert figs
    for f in figs:
        plt.close(f.fn(res))


# ------------------------------------------------------------------ bench


def test_time_generate_steps_covers_every_length():
    model = bench.bench_model(16)
    idx = torch.tensor([[1, 2, 3]])
    for mode in bench.MODES:
        stamps = bench.time_generate_steps(model, idx, 5, mode)
        assert stamps.shape == (5,) and (np.diff(stamps) >= 0).all() and stamps[0] > 0
    with pytest.raises(ValueError, match="mode"):
        bench.time_generate(model, idx, 2, "paged")


def test_measure_speedup_rows_and_theory():
    model = bench.bench_model(12)
    seen = []
    rows = bench.measure_speedup(
        model, 4, [2, 6], {2: 2, 6: 1}, ("no-cache", "static", "concat"), on_measure=lambda *a: seen.append(a)
    )
    assert [r["new_tokens"] for r in rows] == [2, 6] and [r["repeats"] for r in rows] == [2, 1]
    assert len(seen) == 3 * (2 + 1)
    for r in rows:
        assert set(r["speedup"]) == {"static", "concat"} and all(v > 0 for v in r["speedup"].values())
        n = r["new_tokens"]
        want = decode_cost(model.config, 4, n, use_cache=False)["token_forwards"] / (4 + n - 1)
        assert r["forward_ratio"] == pytest.approx(want)
    assert "x static" in bench.format_table(rows)
    with pytest.raises(ValueError, match="no-cache"):
        bench.measure_speedup(model, 4, [2], 1, ("static",))


def test_bench_cli_prints_ratios(capsys):
    assert main(["bench", "kv-cache", "--new-tokens", "3", "--prompt-len", "2", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "x static" in out and "site-shaped model" in out


@pytest.mark.parametrize(
    ("argv", "msg"),
    [
        (["--new-tokens", "0"], "--new-tokens"),
        (["--prompt-len", "0"], "--prompt-len"),
        (["--repeats", "0"], "--repeats"),
        (["--new-tokens", "9000"], "<= 8192"),
    ],
)
def test_bench_cli_rejects_bad_input(argv, msg, capsys):
    assert main(["bench", "kv-cache", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llmkb: error:") and msg in err


# ------------------------------------------------------------------ experiments


def test_experiments_are_registered_with_both_profiles():
    for name in (topic.SPEEDUP, topic.HITMISS, topic.MEMORY):
        exp = get_experiment(name)
        assert exp.topic == "kv-cache" and set(exp.profiles) == {"quick", "full"}
    assert get_experiment(topic.HITMISS).needs == ("shared-model/train",)
    full = get_experiment(topic.SPEEDUP).config("full")
    assert max(full["lengths"]) == 1024 and 512 in full["lengths"] and max(full["rounds"]) >= 1024


def test_fit_call_cost_recovers_known_coefficients():
    coef = np.array([2e-3, 5e-5, 1e-7])
    lat = {
        "no-cache": topic._call_features(4, 30, False) @ coef,
        "static": topic._call_features(4, 30, True) @ coef,
    }
    np.testing.assert_allclose(topic.fit_call_cost(4, lat), coef, rtol=1e-6)


def test_speedup_experiment_small(tmp_path):
    cfg = {"prompt_len": 3, "lengths": [2, 4], "rounds": [4, 2], "modes": ["no-cache", "static"]}
    data = topic.speedup(cfg, _ctx(tmp_path, topic.SPEEDUP))
    assert [row["samples"] for row in topic.table_rows(data["table"])] == [2, 1]
    assert data["headline"]["new_tokens"] == 4 and "short of 512" in data["headline"]["goal"]
    assert data["speedup"]["static"].shape == (2,) and (data["speedup"]["static"] > 0).all()
    assert data["latency_ms"]["no-cache"].shape == (4,)
    assert data["model"]["max_seq_len"] >= 3 + 4
    with pytest.raises(ValueError, match="covered"):
        topic.speedup({**cfg, "rounds": [3]}, _ctx(tmp_path, topic.SPEEDUP))
    _figures_draw(topic.SPEEDUP, data, tmp_path)


@pytest.fixture
def fake_site_result(tmp_path):
    """A `shared-model/train` result holding an untrained model of the shared shape (no training in tests)."""
    from llmkb.nn import GPT

    torch.manual_seed(0)
    GPT(GPTConfig.preset("shared")).save(tmp_path / "site" / "model")
    return Result("shared-model/train", "quick", "fake", tmp_path / "site", {}, ran=False)


def test_hitmiss_experiment_on_a_site_shaped_model(tmp_path, fake_site_result):
    cfg = {**get_experiment(topic.HITMISS).config("quick"), "new_tokens": 6, "block_sizes": [1, 8]}
    data = topic.hitmiss(cfg, _ctx(tmp_path, topic.HITMISS, {"shared-model/train": fake_site_result}))
    assert data["recorded_equals_simulated"] and data["same_tokens_as_generate"]
    assert data["prefix_check"]["reused"] > 0 and data["prefix_check"]["max_abs_diff"] < 1e-4
    rates = data["hit_rate"]
    assert rates["no-cache"] == 0.0 and rates["window"] < rates["cache"] and 0 < rates["prefix"] < 1
    assert [m["name"] for m in data["widget"]["modes"]] == list(topic.TRACE_ORDER)
    by_size = {r["block size"]: r["hit rate"] for r in topic.table_rows(data["workload"])}
    assert by_size[1] >= by_size[8] > 0
    _figures_draw(topic.HITMISS, data, tmp_path)


def test_kv_bytes_formula_matches_the_cache_storage():
    for heads in (4, 2, 1):
        cfg = dataclasses.replace(GPTConfig.preset("shared"), n_kv_heads=heads)
        for dtype, size in ((torch.float32, 4), (torch.bfloat16, 2)):
            cache = KVCache(cfg, 2, 37, dtype=dtype)
            storage = sum(t.untyped_storage().nbytes() for t in (*cache.k, *cache.v))
            closed = 2 * cfg.n_layers * heads * cfg.head_dim * 37 * 2 * size
            assert cache.nbytes == storage == topic.kv_bytes(cfg, 37, dtype, batch_size=2) == closed


def test_memory_experiment_small(tmp_path):
    cfg = {"lengths": [8, 1024], "rss_lengths": [4096], "kv_heads": [4, 1]}
    data = topic.memory(cfg, _ctx(tmp_path, topic.MEMORY))
    assert data["all_equal"] and data["per_token_bytes"] == 2 * 4 * 4 * 32 * 4
    fp32, bf16 = data["rss"]["fp32"], data["rss"]["bf16"]
    assert (
        fp32["nbytes"][0]
        == 2 * bf16["nbytes"][0]
        == topic.kv_bytes(GPTConfig.preset("shared"), 4096, torch.float32)
    )
    for r in (fp32, bf16):  # the fresh process pays (about) exactly the cache's bytes in resident memory
        assert 0.9 * r["nbytes"][0] <= r["rss_delta"][0] <= 1.5 * r["nbytes"][0]
        assert r["peak_delta"][0] >= r["rss_delta"][0]
    llama = next(r for r in topic.table_rows(data["scale"]) if r["model"] == "Llama-2-7B")
    assert llama["KiB / token (bf16)"] == 512  # 2 * 32 layers * 32 heads * 128 * 2 bytes
    _figures_draw(topic.MEMORY, data, tmp_path)


def test_overhead_for_ratio_gives_exactly_the_target_ratio():
    coef = np.array([3.9e-3, 3.6e-5, 6.1e-8])  # c0 (ignored), c1 per token, c2 per attention pair
    prompt_len, n = 16, 512
    c0 = topic.overhead_for_ratio(coef, prompt_len, n, 8.0)
    assert 0 < c0 < coef[0]  # the measured fixed cost is too large for 8x
    with_c0 = np.array([c0, coef[1], coef[2]])
    ratio = topic._predicted_seconds(with_c0, prompt_len, n, False) / topic._predicted_seconds(
        with_c0, prompt_len, n, True
    )
    assert ratio == pytest.approx(8.0, rel=1e-9)
    # a target above the zero-overhead ratio cannot be reached at any c0 >= 0
    assert topic.overhead_for_ratio(coef, prompt_len, n, 1e6) < 0
